// Package bpftest lets tests that load BPF skip where BPF is unavailable, and
// fail instead when EMBER_REQUIRE_BPF=1 (as in CI), so they never skip silently
// where they are meant to run.
package bpftest

import (
	"os"
	"testing"

	"github.com/emberprof/ember/bpfenv"
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
