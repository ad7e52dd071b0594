package sampler

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/emberprof/ember/unwind/unwindtest"
)

// debianPython is Debian's python3, built without frame pointers; the
// python3 on PATH may be another build.
const debianPython = "/usr/bin/python3.11"

// pyLoop waits for a byte on stdin, then runs a JSON and regex loop.
const pyLoop = `
import json, re, sys, time
pat = re.compile(r'"(\w+)":\s*(\d+)')
doc = {"k%d" % i: {"v": i, "s": "x" * (i % 17), "l": list(range(i % 7))} for i in range(200)}
sys.stdin.buffer.read(1)
end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    s = json.dumps(doc)
    d = json.loads(s)
    n += len(pat.findall(s)) + len(d)
print(n)
`

// depth sums what a profiler saw of one process's user stacks.
type depth struct {
	samples, frames, toMain uint64
}

func (d depth) mean() float64  { return float64(d.frames) / float64(max(d.samples, 1)) }
func (d depth) reach() float64 { return float64(d.toMain) / float64(max(d.samples, 1)) }
func (d depth) String() string {
	return fmt.Sprintf("%d samples, mean user depth %.1f, %.1f%% reach main", d.samples, d.mean(), 100*d.reach())
}

// mainRange is where main's code is in memory: Debian's python3 main is
// "jmp Py_BytesMain", a tail call, so Py_BytesMain's frame is main's.
func mainRange(t *testing.T, pid int) (lo, hi uint64) {
	t.Helper()
	f, err := elf.Open(debianPython)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == "Py_BytesMain" && s.Size > 0 {
			lo, hi = s.Value, s.Value+s.Size
		}
	}
	if hi == 0 {
		t.Fatalf("%s has no Py_BytesMain symbol", debianPython)
	}
	var first uint64 = 1<<64 - 1
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			first = min(first, p.Vaddr&^0xfff)
		}
	}
	// The load bias: where the first page is mapped, less its address.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) >= 6 && fs[5] == debianPython && fs[2] == "00000000" {
			start, _, _ := strings.Cut(fs[0], "-")
			base, _ := strconv.ParseUint(start, 16, 64)
			return lo + base - first, hi + base - first
		}
	}
	t.Fatalf("%s not mapped in process %d", debianPython, pid)
	return 0, 0
}

// inMain says whether a frame's pc, or the call before a return address, is
// in [lo, hi).
func inMain(pc, lo, hi uint64) bool {
	return (pc >= lo && pc < hi) || (pc-1 >= lo && pc-1 < hi)
}

// TestPythonAgainstPerf profiles Debian's python3 with ember (--unwind
// auto) and with perf's DWARF unwinding, the same process one after the
// other, and wants ember's user stacks at least 90% as deep as perf's and
// 90% of them reaching main.
func TestPythonAgainstPerf(t *testing.T) {
	bpftest.Require(t)
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not installed", debianPython)
	}
	script := filepath.Join(t.TempDir(), "loop.py")
	if err := os.WriteFile(script, []byte(pyLoop), 0o644); err != nil {
		t.Fatal(err)
	}
	child := unwindtest.StartChild(t, debianPython, script, "60")
	pid := child.Pid
	child.WaitReady()
	lo, hi := mainRange(t, pid)

	s, err := Open(Config{Frequency: 499, CPU: -1, UserStacks: true, PIDs: []uint32{uint32(pid)}, Unwind: loader.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.LoadProcess(uint32(pid)); err != nil {
		t.Fatal(err)
	}
	child.Release()
	time.Sleep(3 * time.Second)
	s.Stop()
	recs, _, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	st, info, _ := s.Unwind()
	s.Close()
	var ember depth
	for _, r := range recs {
		if r.TGID != uint32(pid) {
			continue
		}
		ember.samples += r.Count
		ember.frames += r.Count * uint64(len(r.User.PCs))
		for _, pc := range r.User.PCs {
			if inMain(pc, lo, hi) {
				ember.toMain += r.Count
				break
			}
		}
	}
	t.Logf("ember: %v; counters: %v; loader: %+v", ember, st, info)
	if ember.samples < 50 {
		t.Fatalf("ember: %v: too few samples to judge", ember)
	}
	if ember.reach() < 0.9 {
		t.Errorf("ember: %v, want >= 90%% to reach main", ember)
	}

	perf, err := exec.LookPath("perf")
	if err != nil {
		if os.Getenv("EMBER_REQUIRE_BPF") != "" {
			t.Fatalf("perf is not installed (EMBER_REQUIRE_BPF is set): install linux-perf")
		}
		t.Skip("perf is not installed: ember's half ran alone")
	}
	data := filepath.Join(t.TempDir(), "perf.data")
	rec := exec.Command(perf, "record", "-q", "-e", "cpu-clock", "-F", "499", "--call-graph", "dwarf,65528",
		"-p", strconv.Itoa(pid), "-o", data, "--", "sleep", "3")
	if b, err := rec.CombinedOutput(); err != nil {
		t.Fatalf("perf record: %v\n%s", err, b)
	}
	script2, err := exec.Command(perf, "script", "-i", data, "-F", "tid,ip,sym,dso").Output()
	if err != nil {
		t.Fatalf("perf script: %v", err)
	}
	ref := perfDepth(script2)
	t.Logf("perf: %v", ref)
	if ref.reach() < 0.9 {
		first, _, _ := bytes.Cut(script2, []byte("\n\n"))
		t.Logf("perf's first sample:\n%s", first)
	}
	if ref.samples < 50 {
		t.Fatalf("perf: %v: too few samples to judge", ref)
	}
	if ember.mean() < 0.9*ref.mean() {
		t.Errorf("ember's mean user depth %.1f is below 90%% of perf's %.1f", ember.mean(), ref.mean())
	}
}

// perfDepth reads perf script output (a header line per sample, then one
// frame per line, samples apart by blank lines) and counts user frames;
// main is Py_BytesMain, as in mainRange.
func perfDepth(b []byte) depth {
	var d depth
	var frames uint64
	var toMain, in bool
	flush := func() {
		if in {
			d.samples++
			d.frames += frames
			if toMain {
				d.toMain++
			}
		}
		frames, toMain, in = 0, false, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fs := strings.Fields(line)
		switch {
		case len(fs) == 0:
			flush()
		case line[0] == '\t': // a frame; headers start with the tid, right-aligned
			// perf prints file offsets here, so main is found by name;
			// inlined functions are not frames of the stack, and ember
			// adds them only when it symbolizes.
			_, err := strconv.ParseUint(fs[0], 16, 64)
			dso := fs[len(fs)-1]
			if err != nil || dso == "(inlined)" || strings.Contains(dso, "kernel.kallsyms") {
				continue
			}
			frames++
			toMain = toMain || (len(fs) > 1 && (fs[1] == "main" || strings.HasPrefix(fs[1], "Py_BytesMain")))
		default:
			flush()
			in = true
		}
	}
	flush()
	return d
}
