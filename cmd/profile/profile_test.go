package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv"
	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/interrupt"
)

func TestParseArgs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		args    []string
		usage   bool // a usage error (exit 2)
		runtime bool // a runtime error (exit 1)
		check   func(*config) error
	}{
		{args: []string{"-af", "30"}, check: func(c *config) error {
			if !c.annotate || c.format != "folded" || c.duration != 30*time.Second || c.sampler.Frequency != 49 {
				return fmt.Errorf("got %+v", c)
			}
			return nil
		}},
		{args: []string{"-F", "99", "-p", self, "-U"}, check: func(c *config) error {
			if c.sampler.Frequency != 99 || len(c.sampler.PIDs) != 1 || c.sampler.KernelStacks || !c.sampler.UserStacks {
				return fmt.Errorf("got %+v", c.sampler)
			}
			return nil
		}},
		{args: []string{"-c", "1000000", "--format", "pprof", "-o", "x.pb.gz"}, check: func(c *config) error {
			if c.sampler.Period != 1000000 || c.sampler.Frequency != 0 || c.format != "pprof" || c.output != "x.pb.gz" {
				return fmt.Errorf("got %+v", c)
			}
			return nil
		}},
		{args: []string{"-p", "1", "-L", "1"}, usage: true},
		{args: []string{"-F", "99", "-c", "10"}, usage: true},
		{args: []string{"-U", "-K"}, usage: true},
		{args: []string{"5", "6"}, usage: true},
		{args: []string{"five"}, usage: true},
		{args: []string{"0"}, usage: true},
		{args: []string{"--format", "png"}, usage: true},
		{args: []string{"-p", "abc"}, usage: true},
		{args: []string{"--stack-storage-size", "0"}, usage: true},
		{args: []string{"--"}, usage: true},
		{args: []string{"-p", "1", "--", "true"}, usage: true},
		{args: []string{"-C", "-2"}, usage: true},
		{args: []string{"-Z"}, usage: true},
		{args: []string{"-p", "5000000"}, usage: true},
		{args: []string{"-p", "4194000"}, runtime: true},
		// Issue 9: durations past a time.Duration, -F 0 and -c 0.
		{args: []string{"10995116277760"}, usage: true},
		{args: []string{"9223372037"}, usage: true},
		{args: []string{"-F", "0"}, usage: true},
		{args: []string{"-c", "0"}, usage: true},
		{args: []string{"-F0", "-f"}, usage: true},
		{args: []string{"--frequency=0"}, usage: true},
		{args: []string{"-p", manyPIDs(1025)}, usage: true},
		{args: []string{"-L", manyPIDs(1025)}, usage: true},
		{args: []string{"9223372036"}, check: func(c *config) error {
			if c.duration != 9223372036*time.Second {
				return fmt.Errorf("duration %v", c.duration)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		c, err := parseArgs(tt.args, "/proc")
		var ue usageError
		switch {
		case tt.usage:
			if !errors.As(err, &ue) {
				t.Errorf("%q: err = %v, want a usage error", tt.args, err)
			}
		case tt.runtime:
			if err == nil || errors.As(err, &ue) {
				t.Errorf("%q: err = %v, want a runtime error", tt.args, err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.args, err)
		default:
			if e := tt.check(c); e != nil {
				t.Errorf("%q: %v", tt.args, e)
			}
		}
	}
	if _, err := parseArgs([]string{"--help"}, "/proc"); !errors.Is(err, getopt.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

// manyPIDs lists IDs 1 to n; their number is checked before their existence.
func manyPIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(ids, ",")
}

func TestRunExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-U", "-K"}, &out, &errb); code != 2 {
		t.Errorf("-U -K: exit %d, want 2", code)
	}
	if lines := strings.Count(strings.TrimSpace(errb.String()), "\n"); lines > 1 || !strings.Contains(errb.String(), "-U and -K") {
		t.Errorf("-U -K: message %q", errb.String())
	}
	errb.Reset()
	if code := run([]string{"-p", "4194000", "1"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "4194000") {
		t.Errorf("missing pid: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--stack-storage-size") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
}

// TestProfileSpin samples a program that spins in main -> spin_a -> spin_b ->
// spin_c and checks the stacks and the sample count.
func TestProfileSpin(t *testing.T) {
	bpftest.Require(t)
	const (
		hz    = 99
		secs  = 4
		delay = 500 * time.Millisecond
		spun  = "2.5"
	)
	// The profile filters on a PID, so the process has to exist first; it
	// waits (sleeping, off CPU) until the profile is surely attached, spins,
	// and exits well before the profile ends, so that all of its CPU time,
	// which the kernel measures exactly, falls inside the sampled window.
	cmd := exec.Command("sh", "-c", fmt.Sprintf("sleep %.1f; exec ../../testdata/spin/spin %s", delay.Seconds(), spun))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start spin (run make -C testdata): %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	var out, errb bytes.Buffer
	args := []string{"-p", strconv.Itoa(cmd.Process.Pid), "-F", strconv.Itoa(hz), "-f", strconv.Itoa(secs)}
	code := run(args, &out, &errb)
	if code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, errb.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("spin: %v", err)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var total, chained int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("malformed folded line %q", line)
		}
		n, err := strconv.Atoi(line[i+1:])
		if err != nil {
			t.Fatalf("malformed count in %q", line)
		}
		frames := strings.Split(line[:i], ";")
		if frames[0] == "sh" {
			continue // the same process before it execs spin
		}
		if frames[0] != "spin" {
			t.Errorf("sample of another process with -p: %q", line)
			continue
		}
		total += n
		if strings.Contains(";"+line[:i]+";", ";main;spin_a;spin_b;spin_c;") {
			chained += n
		}
	}
	// Each CPU is sampled hz times a second, so the process should get hz
	// samples per second of CPU time it had; on a busy machine it has less.
	want := int(hz * cpu.Seconds())
	t.Logf("%d samples in %v of CPU time (want %d±25%%), %d with main;spin_a;spin_b;spin_c",
		total, cpu, want, chained)
	if total < want*3/4 || total > want*5/4 {
		t.Errorf("got %d samples, want %d±25%%\n%s", total, want, out.String())
	}
	if chained*10 < total*9 {
		t.Errorf("only %d of %d samples show main;spin_a;spin_b;spin_c\n%s", chained, total, out.String())
	}
}

// TestWriteErrors: output that cannot be written (/dev/full as stdout) is
// exit 1 with one line; a -o that could never be written (a directory) is
// refused, exit 2, before collecting.
func TestWriteErrors(t *testing.T) {
	var out, errb bytes.Buffer
	start := time.Now()
	if code := run([]string{"-f", "-o", t.TempDir(), "5"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "is a directory") {
		t.Errorf("-o DIR: exit %d, %q; want 2", code, errb.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("-o DIR refused after %v: it collected first", d)
	}
	bpftest.Require(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	// Something to sample: profile leaves itself out, and an idle machine
	// may give nothing to write.
	spin := exec.Command(spinPath(t), "2")
	spin.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }()
	errb.Reset()
	code := run([]string{"-f", "1"}, full, &errb)
	msg := strings.TrimSpace(errb.String())
	if code != 1 || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
		t.Errorf("to /dev/full: exit %d, stderr %q; want 1 and one line", code, msg)
	}
}

// bpfFDs counts this process's open BPF objects and perf events.
func bpfFDs(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		l, _ := os.Readlink("/proc/self/fd/" + fd.Name())
		if strings.HasPrefix(l, "anon_inode:bpf") || strings.Contains(l, "perf_event") {
			n++
		}
	}
	return n
}

// TestCancelDuringLoad: a signal during the load ends the run with a message
// and leaves nothing loaded or attached.
func TestCancelDuringLoad(t *testing.T) {
	bpftest.Require(t)
	cfg, err := parseArgs([]string{"-f", "1"}, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	before := bpfFDs(t)
	sigs := interrupt.Start("test", io.Discard)
	defer sigs.Stop()
	sigs.EndCollection() // as a signal during the load does
	var out, errb bytes.Buffer
	if _, err := record(sigs, cfg, nil, &out, &errb); !errors.Is(err, context.Canceled) {
		t.Fatalf("record with a cancelled context: %v", err)
	}
	// The abandoned load is closed when it returns.
	deadline := time.Now().Add(10 * time.Second)
	for bpfFDs(t) > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := bpfFDs(t); n > before {
		t.Errorf("%d BPF or perf descriptors left open (had %d)", n, before)
	}
}

// TestStorageSizeOverMemory: a --stack-storage-size whose map cannot fit in
// memory is refused, naming the flag, the bytes and the limit, rather than
// taking the kernel a minute to preallocate.
func TestStorageSizeOverMemory(t *testing.T) {
	bpftest.Require(t)
	avail, err := bpfenv.MemAvailable(bpfenv.MeminfoPath)
	if err != nil {
		t.Skip(err)
	}
	if avail/2 > 17<<30 {
		t.Skipf("%s available: 2^24 stacks (17 GiB) would be accepted", bpfenv.FormatBytes(avail))
	}
	// (--hash-storage-size, whose entries are small, cannot reach the limit
	// alone on such a machine: bpfenv's tests check that map.)
	for _, flag := range []string{"--stack-storage-size"} {
		var out, errb bytes.Buffer
		start := time.Now()
		args := []string{"-f", flag, "16777216", "1"}
		code := run(args, &out, &errb)
		msg := errb.String()
		if code != 2 || !strings.Contains(msg, flag) || !strings.Contains(msg, "GiB of kernel memory") || !strings.Contains(msg, "limit") {
			t.Errorf("%q: exit %d, %q; want 2 and a message naming the flag and the limit", args, code, msg)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%q refused after %v", args, d)
		}
	}
}

// TestOutputDevice: profile -o DEVICE as root writes into the device and
// leaves it a device (it used to replace the node with a regular file).
func TestOutputDevice(t *testing.T) {
	bpftest.Require(t)
	null := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("mknod: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-f", "-o", null, "1"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("after -o: %v, %v; want the character device still", fi.Mode(), err)
	}
}

// TestThreadAsPID: -p given a thread that is not its process's main thread
// is an error naming the process, not an empty profile.
func TestThreadAsPID(t *testing.T) {
	tasks, _ := os.ReadDir("/proc/self/task")
	self := strconv.Itoa(os.Getpid())
	for _, task := range tasks {
		if task.Name() == self {
			continue
		}
		var out, errb bytes.Buffer
		code := run([]string{"-p", task.Name(), "1"}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "thread of process "+self) {
			t.Errorf("-p %s: exit %d, %q", task.Name(), code, errb.String())
		}
		return
	}
	t.Skip("no second thread")
}
