package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
)

// TestStackStoreFullIsReported fills a two-entry stack store: the stacks that
// do not fit must be counted, shown as BCC's missed-stack frames and warned
// about, never dropped silently.
func TestStackStoreFullIsReported(t *testing.T) {
	bpftest.Require(t)
	cmd := exec.Command("../../testdata/spin/spin", "4")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var out, errb bytes.Buffer
	if code := run([]string{"--stack-storage-size", "2", "-F", "499", "-f", "2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "stack traces could not be displayed. Consider increasing --stack-storage-size.") {
		t.Errorf("no loss warning on stderr: %q", errb.String())
	}
	if !strings.Contains(out.String(), "[Missed ") {
		t.Errorf("no missed-stack frame in output:\n%s", out.String())
	}
}

// TestSignalStillPrints stops an open-ended profile with SIGINT and expects
// the samples collected so far, and a clean exit.
func TestSignalStillPrints(t *testing.T) {
	bpftest.Require(t)
	bin := filepath.Join(t.TempDir(), "profile")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	spin := exec.Command("../../testdata/spin/spin", "4")
	spin.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }()

	outFile := filepath.Join(t.TempDir(), "out.folded")
	prof := exec.Command(bin, "-p", strconv.Itoa(spin.Process.Pid), "-F", "99", "-f", "-o", outFile)
	var errb bytes.Buffer
	prof.Stderr = &errb
	if err := prof.Start(); err != nil {
		t.Fatal(err)
	}
	bpftest.WaitAttached(t, prof.Process.Pid, 0)
	time.Sleep(500 * time.Millisecond) // some samples of spin
	prof.Process.Signal(syscall.SIGINT)
	if err := prof.Wait(); err != nil {
		t.Fatalf("profile after SIGINT: %v\n%s", err, errb.String())
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "spin_c") {
		t.Errorf("output after SIGINT lacks spin_c:\n%s", got)
	}
}
