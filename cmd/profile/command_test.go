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

// TestMain lets this test binary be the launcher that profile -- CMD
// starts (a copy of itself), as the profile binary is.
func TestMain(m *testing.M) {
	launch.Exec()
	os.Exit(m.Run())
}

// spinPath is the test program with a known call chain.
func spinPath(t *testing.T) string { return testProgram(t, "spin") }

// testProgram returns the absolute path of testdata/NAME/NAME.
func testProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../testdata", name, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// folded parses folded output into comm -> samples, and comm -> the
// samples whose stack has the given chain.
func folded(t *testing.T, out, chain string) (byComm, chained map[string]int) {
	byComm, chained = map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		n, err := strconv.Atoi(line[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("malformed folded line %q", line)
		}
		comm := strings.SplitN(line[:i], ";", 2)[0]
		byComm[comm] += n
		if strings.Contains(";"+line[:i]+";", chain) {
			chained[comm] += n
		}
	}
	return byComm, chained
}

// sum adds up the samples of every command.
func sum(byComm map[string]int) int {
	n := 0
	for _, v := range byComm {
		n += v
	}
	return n
}

// TestCommandExitStatus: profile -- CMD exits with CMD's status, 128+signal
// when a signal killed it, and 127 when it cannot be found.
func TestCommandExitStatus(t *testing.T) {
	bpftest.Require(t)
	for _, tt := range []struct {
		cmd  []string
		want int
	}{
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"true"}, 0},
		{[]string{"no-such-command-ember"}, 127},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"-f", "--"}, tt.cmd...)
		if code := run(args, &out, &errb); code != tt.want {
			t.Errorf("profile %q: exit %d, want %d: %s", args, code, tt.want, errb.String())
		}
	}
}

// TestCommandKilled: a command killed by SIGKILL gives 137, and the profile
// of what it ran is still written.
func TestCommandKilled(t *testing.T) {
	bpftest.Require(t)
	outFile := filepath.Join(t.TempDir(), "out.folded")
	var out, errb bytes.Buffer
	args := []string{"-F", "499", "-f", "-o", outFile, "--", "sh", "-c", spinPath(t) + ` 0.3; kill -9 $$`}
	if code := run(args, &out, &errb); code != 137 {
		t.Fatalf("profile %q: exit %d, want 137: %s", args, code, errb.String())
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, chained := folded(t, string(got), ";main;spin_a;spin_b;spin_c;"); sum(chained) == 0 {
		t.Errorf("no spin_c samples in the output of a killed command:\n%s\nstderr: %s", got, errb.String())
	}
}

// TestCommandChildren: a process that CMD forks 1 ms after it starts is
// profiled from its start (fork tracked in BPF), and no other process is.
func TestCommandChildren(t *testing.T) {
	bpftest.Require(t)
	knob := testProgram(t, "knob")
	var out, errb bytes.Buffer
	// "; true" keeps sh from exec'ing knob: knob is a forked child. knob
	// does a fixed amount of work (about 0.36 s of CPU), so its samples do
	// not depend on how busy the machine is.
	args := []string{"-F", "999", "-f", "--", "sh", "-c", "sleep 0.001; " + knob + "; true"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, errb.String())
	}
	// Its stacks reach its main: knob names main itself, while libc's
	// frames can be [unknown] when knob exits before it is captured.
	byComm, throughMain := folded(t, out.String(), ";main;")
	chained := sum(throughMain)
	for comm := range byComm {
		if comm != "sh" && comm != "sleep" && comm != "knob" {
			t.Errorf("samples of %q, not the command's", comm)
		}
	}
	// About 360 samples at 999 Hz; a child not followed has none, one
	// found late loses its first ones.
	if byComm["knob"] < 250 || chained*10 < byComm["knob"]*8 {
		t.Errorf("knob: %d samples (want about 360), %d through main\n%s", byComm["knob"], chained, out.String())
	}
}

// TestCommandHeldUntilAttached: the command's first process sees the BPF
// links already in place: it is held before exec until they are attached.
func TestCommandHeldUntilAttached(t *testing.T) {
	bpftest.Require(t)
	seen := filepath.Join(t.TempDir(), "fds")
	var out, errb bytes.Buffer
	args := []string{"-f", "--", "sh", "-c", `ls -l /proc/$PPID/fd > "$1"`, "sh", seen}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, errb.String())
	}
	got, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(got), "bpf_link"); n < 2 {
		t.Errorf("the command started with %d BPF links attached, want the sampler's (at least 2):\n%s", n, got)
	}
}

// TestCommandAsSudoUser: under sudo, the command runs as the user who ran
// sudo, not as root.
func TestCommandAsSudoUser(t *testing.T) {
	bpftest.Require(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch users")
	}
	// t.TempDir's parent is root's alone; the user needs a way in.
	dir, err := os.MkdirTemp("", "ember-sudo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ids := filepath.Join(dir, "ids")
	t.Setenv("SUDO_UID", "65534")
	t.Setenv("SUDO_GID", "65534")
	var out, errb bytes.Buffer
	args := []string{"-f", "--", "sh", "-c", `echo $(id -u) $(id -g) > "$1"`, "sh", ids}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, errb.String())
	}
	got, err := os.ReadFile(ids)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != "65534 65534" {
		t.Errorf("command ran as uid gid %q, want 65534 65534", got)
	}
}

// TestCommandExec: a process that execs another program keeps its samples
// from before the exec, symbolized in the program it ran then: spin's own
// chain under spin's name, knob's functions under knob's.
func TestCommandExec(t *testing.T) {
	bpftest.Require(t)
	knob := testProgram(t, "knob")
	var out, errb bytes.Buffer
	if code := run([]string{"-F", "999", "-f", "--", spinPath(t), "0.5", knob}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	byComm, chained := folded(t, out.String(), ";main;spin_a;spin_b;spin_c;")
	spun := sum(chained)
	t.Logf("samples by command %v; spin's chain %d", byComm, spun)
	if byComm["spin"] < 250 || spun < byComm["spin"]*9/10 {
		t.Errorf("before the exec: %d of %d samples show main;spin_a;spin_b;spin_c\n%s", spun, byComm["spin"], out.String())
	}
	_, throughMain := folded(t, out.String(), ";main;")
	knobMain := throughMain["knob"]
	if byComm["knob"] < 150 || knobMain < byComm["knob"]*8/10 {
		t.Errorf("after the exec: %d of %d samples reach knob's main\n%s", knobMain, byComm["knob"], out.String())
	}
}
