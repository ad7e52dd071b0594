package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/untrusted/untrustedtest"
)

// start runs a subject that is killed with the test.
func start(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// profileWithin runs profile with args and fails t if it takes longer than
// limit.
func profileWithin(t *testing.T, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(limit):
		t.Fatalf("profile %q did not finish in %v", args, limit)
	}
	return 0, "", ""
}

// TestProfileHostileDebugLink profiles a running binary whose debug link is a
// FIFO or a symlink to /dev/zero: profile used to hang after sampling, with
// its BPF programs loaded. It must end, naming the spinning functions from
// the ELF symbol table.
func TestProfileHostileDebugLink(t *testing.T) {
	bpftest.Require(t)
	for _, kind := range []string{untrustedtest.FIFO, untrustedtest.Zero} {
		t.Run(kind, func(t *testing.T) {
			bin := untrustedtest.EvilBinary(t, "../../testdata/spin/spin.c", kind)
			cmd := start(t, bin, "30")
			code, out, errs := profileWithin(t, 30*time.Second, "-p", strconv.Itoa(cmd.Process.Pid), "-f", "2")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if !strings.Contains(out, "spin_a;spin_b;spin_c") {
				t.Errorf("no spin_a;spin_b;spin_c stack in\n%s", out)
			}
		})
	}
}

// TestProfileHostileComm profiles a process that names itself "a\nb;c 99",
// which printed raw adds a fake stack line to folded output.
func TestProfileHostileComm(t *testing.T) {
	bpftest.Require(t)
	const script = `import ctypes, time
ctypes.CDLL(None).prctl(15, b"a\nb;c 99", 0, 0, 0)
end = time.time() + 30
while time.time() < end:
    pass
`
	cmd := start(t, "python3", "-c", script)
	pid := strconv.Itoa(cmd.Process.Pid)
	// Wait until the name is set, so every sample carries it.
	for i := 0; ; i++ {
		b, _ := exec.Command("cat", "/proc/"+pid+"/comm").Output()
		if string(b) == "a\nb;c 99\n" {
			break
		}
		if i == 100 {
			t.Fatalf("the subject never renamed itself (comm %q)", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errs := profileWithin(t, 30*time.Second, "-p", pid, "-f", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("no samples")
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, `a\x0ab:c 99;`) {
			t.Errorf("line %q does not start with the escaped comm", l)
		}
	}
	code, out, errs = profileWithin(t, 30*time.Second, "-p", pid, "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "        ") {
			t.Errorf("text line %q is not indented as a frame, comm or count line", l)
		}
	}
	if !strings.Contains(out, `a\x0ab:c 99 (`+pid+")") {
		t.Errorf("text output lacks the escaped comm line:\n%s", out)
	}
}
