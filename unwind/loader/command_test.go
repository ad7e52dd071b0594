package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandFiles: a dynamically linked program's files are itself, its
// dynamic loader and libc; a script gives nothing to build ahead.
func TestCommandFiles(t *testing.T) {
	knob, err := filepath.Abs("../../testdata/knob/knob")
	if err != nil {
		t.Fatal(err)
	}
	got := CommandFiles(knob)
	joined := strings.Join(got, " ")
	if len(got) < 3 || got[0] != knob || !strings.Contains(joined, "ld-linux") || !strings.Contains(joined, "libc.so.6") {
		t.Errorf("CommandFiles(knob) = %q, want knob, its ld-linux and libc.so.6", got)
	}
	for _, p := range got[1:] {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	script := filepath.Join(t.TempDir(), "run.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if got := CommandFiles(script); got != nil {
		t.Errorf("CommandFiles(script) = %q, want none", got)
	}
}
