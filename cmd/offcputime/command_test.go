package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/launch"
)

// TestMain lets this test binary be the launcher that offcputime -- CMD
// starts (a copy of itself), as the offcputime binary is.
func TestMain(m *testing.M) {
	launch.Exec()
	os.Exit(m.Run())
}

// TestCommandOffCPU: offcputime -- CMD follows a child that CMD forks,
// measures its blocked time with its call chain, and exits with CMD's
// status.
func TestCommandOffCPU(t *testing.T) {
	bpftest.Require(t)
	sleeper, err := filepath.Abs("../../testdata/sleeper/sleeper")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	// 10 sleeps of 20 ms in a forked child, then exit 4.
	args := []string{"-f", "--", "sh", "-c", sleeper + " 10 20 >/dev/null; exit 4"}
	if code := run(args, &out, &errb); code != 4 {
		t.Fatalf("offcputime %q: exit %d, want 4: %s", args, code, errb.String())
	}
	var us int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed folded line %q", line)
		}
		comm := strings.SplitN(line, ";", 2)[0]
		if comm != "sh" && comm != "sleeper" {
			t.Errorf("blocks of %q, not the command's: %q", comm, line)
		}
		if strings.Contains(line, ";main;sleep_a;sleep_b;") {
			n, err := strconv.Atoi(line[i+1:])
			if err != nil {
				t.Fatalf("malformed count in %q", line)
			}
			us += n
		}
	}
	// 200 ms asleep, and more on a busy machine (waiting for a CPU).
	if us < 190000 || us > 2000000 {
		t.Errorf("sleeper blocked %d µs through main;sleep_a;sleep_b, want about 200000\n%s", us, out.String())
	}
}
