package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/interrupt"
	"github.com/google/pprof/profile"
)

func TestParseArgs(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	cfg, err := parseArgs([]string{"-fKu", "-m", "1000", "-M", "5000", "--state", "2", "5"}, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.offcpu
	if cfg.format != "folded" || !o.UserThreadsOnly || o.UserStacks || !o.KernelStacks ||
		o.MinBlock != time.Millisecond || o.MaxBlock != 5*time.Millisecond ||
		o.State == nil || *o.State != 2 || cfg.duration != 5*time.Second {
		t.Errorf("-fKu -m 1000 -M 5000 --state 2 5: got %+v, offcpu %+v", cfg, o)
	}
	cfg, err = parseArgs([]string{"-p", self + "," + self}, "/proc")
	if err != nil || len(cfg.offcpu.PIDs) != 2 || cfg.format != "text" || cfg.duration != 0 ||
		cfg.offcpu.MinBlock != time.Microsecond || cfg.offcpu.MaxBlock != 0 || cfg.offcpu.State != nil {
		t.Errorf("-p PID,PID: got %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"-p", self, "-t", self},
		{"-u", "-k"},
		{"-U", "-K"},
		{"-m", "10", "-M", "5"},
		{"--format", "json"},
		{"--state", "x"},
		{"--stack-storage-size", "0"},
		{"-p", "x"},
		{"0"},
		{"1", "2"},
		{"--bogus"},
		// Issue 9: durations past a time.Duration, -M 0.
		{"10995116277760"},
		{"9223372037"},
		{"-m", "0", "-M", "0"},
		{"-M", "0"},
		{"-p", manyIDs(1025)},
		{"-t", manyIDs(1025)},
	} {
		_, err := parseArgs(args, "/proc")
		if _, ok := err.(usageError); !ok {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}

// manyIDs lists IDs 1 to n; their number is checked before their existence.
func manyIDs(n int) string {
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
	errb.Reset()
	if code := run([]string{"-p", "4194000", "1"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "4194000") {
		t.Errorf("-p 4194000: exit %d, %q; want 1 and a message naming the PID", code, errb.String())
	}
	if n := strings.Count(strings.TrimSpace(errb.String()), "\n"); n != 0 {
		t.Errorf("error is %d lines: %q", n+1, errb.String())
	}
	out.Reset()
	if code := run([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--stack-storage-size") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
}

// startSleeper starts testdata/sleeper held until a byte arrives on the
// returned writer; it then sleeps n x ms through main -> sleep_a -> sleep_b
// and prints the wall time its sleeps took (see sleptFor).
func startSleeper(t *testing.T, n, ms int) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command("../../testdata/sleeper/sleeper", strconv.Itoa(n), strconv.Itoa(ms), "wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = new(bytes.Buffer)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleeper (run make -C testdata): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdin
}

// sleptFor returns the wall time, in µs, that an exited sleeper's sleeps
// took: on a busy machine a woken thread also waits for a CPU, and that wait
// is off-CPU time as well.
func sleptFor(t *testing.T, sl *exec.Cmd) float64 {
	t.Helper()
	out := sl.Stdout.(*bytes.Buffer).String()
	ns, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		t.Fatalf("sleeper printed %q, want nanoseconds", out)
	}
	return ns / 1000
}

// buildCommand builds this command into a temporary directory.
func buildCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "offcputime")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestSleeperMultiLine runs the command as a user would, in BCC's multi-line
// format, on a program that sleeps 20 x 50 ms, stops it with SIGINT, and
// checks the stack printed and its total.
func TestSleeperMultiLine(t *testing.T) {
	bpftest.Require(t)
	bin := buildCommand(t)
	sl, release := startSleeper(t, 20, 50)
	pid := strconv.Itoa(sl.Process.Pid)

	var out bytes.Buffer
	oc := exec.Command(bin, "-d", "-p", pid)
	oc.Stdout = &out
	stderr, err := oc.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.Start(); err != nil {
		t.Fatal(err)
	}
	defer oc.Process.Kill()
	// The header is printed once the program is attached.
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "Tracing off-CPU time (us) of PID "+pid+" by user + kernel stack... Hit Ctrl-C to end.") {
		t.Fatalf("header: %q", sc.Text())
	}
	release.Write([]byte{1})
	if err := sl.Wait(); err != nil {
		t.Fatal(err)
	}
	oc.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(stderr)
	if err := oc.Wait(); err != nil {
		t.Fatalf("offcputime after SIGINT: %v\n%s", err, rest)
	}

	// A stack: kernel frames leaf first, "--", user frames leaf first, then
	// "-  comm (tid)" and the microseconds.
	var found bool
	var total float64
	for _, block := range strings.Split(out.String(), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		if len(lines) < 3 || !strings.Contains(block, "do_nanosleep") {
			continue
		}
		found = true
		want := []string{"__schedule", "schedule", "do_nanosleep"}
		if !slicesHasPrefix(lines, want) {
			t.Errorf("kernel stack starts %q, want %q", lines[:3], want)
		}
		d := indexOf(lines, "--")
		if d < 0 || !slicesHasPrefix(lines[d+1:], []string{"sleep_b", "sleep_a", "main"}) {
			t.Errorf("no -- then sleep_b, sleep_a, main in\n%s", block)
		}
		if tail := lines[len(lines)-2]; tail != "-                sleeper ("+pid+")" && !strings.HasSuffix(tail, "sleeper ("+pid+")") {
			t.Errorf("comm line %q", tail)
		}
		us, err := strconv.ParseFloat(lines[len(lines)-1], 64)
		if err != nil {
			t.Errorf("blocked %q µs", lines[len(lines)-1])
		}
		// With --unwind auto, blocks walked by frame pointers before the
		// tables loaded are a stack of their own: add them up.
		total += us
	}
	if took := sleptFor(t, sl); found && (total < 850e3 || total < took*0.85 || total > took*1.15) {
		t.Errorf("blocked %.0f µs in nanosleep, want %.0f±15%% (asked for 1000000)", total, took)
	}
	if !found {
		t.Errorf("no nanosleep stack in output:\n%s", out.String())
	}
}

func slicesHasPrefix(s, prefix []string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range prefix {
		if s[i] != prefix[i] {
			return false
		}
	}
	return true
}

func indexOf(s []string, v string) int {
	for i := range s {
		if s[i] == v {
			return i
		}
	}
	return -1
}

// TestFoldedAndPprof runs the command in process for a fixed duration, in
// folded and pprof formats, and checks that both carry the sleeper's time.
func TestFoldedAndPprof(t *testing.T) {
	bpftest.Require(t)
	dir := t.TempDir()
	for _, format := range []string{"folded", "pprof", "svg"} {
		t.Run(format, func(t *testing.T) {
			sl, release := startSleeper(t, 10, 30)
			pid := strconv.Itoa(sl.Process.Pid)
			outPath := filepath.Join(dir, "out."+format)
			done := make(chan int)
			var out, errb bytes.Buffer
			links := bpftest.Links(os.Getpid())
			go func() {
				done <- run([]string{"--format", format, "-m", "10000", "-p", pid, "-o", outPath, "2"}, &out, &errb)
			}()
			bpftest.WaitAttached(t, os.Getpid(), links)
			release.Write([]byte{1})
			if err := sl.Wait(); err != nil {
				t.Fatal(err)
			}
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty with -o: %q", out.String())
			}
			data, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatal(err)
			}
			var total float64
			switch format {
			case "folded":
				for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
					i := strings.LastIndexByte(line, ' ')
					v, err := strconv.ParseFloat(line[i+1:], 64)
					if i < 0 || err != nil {
						t.Fatalf("malformed folded line %q", line)
					}
					if !strings.HasPrefix(line, "sleeper;") {
						t.Errorf("line of another process: %q", line)
					}
					if strings.Contains(line, ";main;sleep_a;sleep_b;") {
						total += v
					}
				}
			case "pprof":
				p, err := profile.ParseData(data)
				if err != nil {
					t.Fatal(err)
				}
				if p.SampleType[1].Type != "offcpu" || p.SampleType[1].Unit != "nanoseconds" {
					t.Errorf("sample types %v", p.SampleType)
				}
				for _, s := range p.Sample {
					total += float64(s.Value[1]) / 1000
				}
			case "svg":
				if !bytes.Contains(data, []byte("Off-CPU Time Flame Graph")) || !bytes.Contains(data, []byte("sleep_b")) {
					t.Fatalf("SVG lacks the title or sleep_b")
				}
				return
			}
			if took := sleptFor(t, sl); total < 300e3*0.85 || total < took*0.85 || total > took*1.15 {
				t.Errorf("%s: %.0f µs blocked under main;sleep_a;sleep_b, want %.0f±15%% (asked for 300000)", format, total, took)
			}
		})
	}
}

// TestStackStoreFullIsReported traces every thread with a two-entry stack
// store: the stacks that do not fit must be counted, shown as BCC's
// missed-stack frames and warned about in BCC offcputime's words.
func TestStackStoreFullIsReported(t *testing.T) {
	bpftest.Require(t)
	sl, release := startSleeper(t, 20, 5)
	done := make(chan int)
	var out, errb bytes.Buffer
	links := bpftest.Links(os.Getpid())
	go func() { done <- run([]string{"--stack-storage-size", "2", "-f", "1"}, &out, &errb) }()
	bpftest.WaitAttached(t, os.Getpid(), links)
	release.Write([]byte{1})
	sl.Wait()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "stack traces lost and could not be displayed. Consider increasing --stack-storage-size.") {
		t.Errorf("no loss warning on stderr: %q", errb.String())
	}
	if !strings.Contains(out.String(), "[Missed ") {
		t.Errorf("no missed-stack frame in output:\n%s", out.String())
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
	errb.Reset()
	code := run([]string{"-f", "1"}, full, &errb)
	msg := strings.TrimSpace(errb.String())
	if code != 1 || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
		t.Errorf("to /dev/full: exit %d, stderr %q; want 1 and one line", code, msg)
	}
}

// TestCancelDuringLoad: a signal during the load ends the run with an error
// and leaves nothing loaded or attached.
func TestCancelDuringLoad(t *testing.T) {
	bpftest.Require(t)
	cfg, err := parseArgs([]string{"-f", "1"}, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		fds, _ := os.ReadDir("/proc/self/fd")
		n := 0
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/self/fd/" + fd.Name()); strings.HasPrefix(l, "anon_inode:bpf") {
				n++
			}
		}
		return n
	}
	before := count()
	sigs := interrupt.Start("test", io.Discard)
	defer sigs.Stop()
	sigs.EndCollection() // as a signal during the load does
	var out, errb bytes.Buffer
	if _, err := record(sigs, cfg, &out, &errb); !errors.Is(err, context.Canceled) {
		t.Fatalf("record with a cancelled context: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := count(); n > before {
		t.Errorf("%d BPF descriptors left open (had %d)", n, before)
	}
}
