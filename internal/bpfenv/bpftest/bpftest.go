// Package bpftest lets tests that load BPF skip where BPF is unavailable, and
// fail instead when EMBER_REQUIRE_BPF=1 (as in CI), so they never skip silently
// where they are meant to run.
package bpftest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv"
)

// Require skips or fails t when this machine cannot load BPF programs.
func Require(t testing.TB) {
	t.Helper()
	if err := bpfenv.Check(); err != nil {
		if os.Getenv("EMBER_REQUIRE_BPF") == "1" {
			t.Fatalf("BPF required (EMBER_REQUIRE_BPF=1) but unavailable: %v", err)
		}
		t.Skipf("BPF unavailable: %v", err)
	}
}

// Links counts the BPF links process pid holds open: a collector holds one
// per attached program (one per CPU for perf events), so a rise in the count
// says that it has attached.
func Links(pid int) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	n := 0
	for _, fd := range fds {
		if l, _ := os.Readlink(dir + "/" + fd.Name()); l == "anon_inode:bpf_link" {
			n++
		}
	}
	return n
}

// WaitAttached waits until pid holds more BPF links than before, so that a
// test starts its workload only once the collector sees it; a fixed sleep
// is too short on a loaded machine, where loading can take seconds.
func WaitAttached(t testing.TB, pid, before int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for Links(pid) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not attach its BPF programs within 60 s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
