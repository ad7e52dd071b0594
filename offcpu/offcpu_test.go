package offcpu_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/offcpu"
	"github.com/emberprof/ember/symbolize"
)

const sleeperPath = "../testdata/sleeper/sleeper"

// sleeper is a testdata/sleeper process held at its start until released.
type sleeper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
	pid   uint32
}

// startSleeper starts a sleeper that, once released, sleeps n times for ms
// milliseconds through main -> sleep_a -> sleep_b.
func startSleeper(t *testing.T, n, ms int) *sleeper {
	t.Helper()
	s := &sleeper{cmd: exec.Command(sleeperPath, strconv.Itoa(n), strconv.Itoa(ms), "wait")}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.cmd.Stdout = &s.out
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sleeper (run make -C testdata): %v", err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	s.pid = uint32(s.cmd.Process.Pid)
	return s
}

// release lets the sleeper start sleeping.
func (s *sleeper) release(t *testing.T) {
	t.Helper()
	if _, err := s.stdin.Write([]byte{1}); err != nil {
		t.Fatalf("release sleeper %d: %v", s.pid, err)
	}
}

// wait waits for the sleeper to exit and returns the wall time its sleeps
// took, as it measured them.
func (s *sleeper) wait(t *testing.T) time.Duration {
	t.Helper()
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("sleeper %d: %v", s.pid, err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(s.out.String()), 10, 64)
	if err != nil {
		t.Fatalf("sleeper %d printed %q, want nanoseconds", s.pid, s.out.String())
	}
	return time.Duration(ns)
}

// trace attaches with cfg, runs work, and returns what was recorded, with
// the processes seen captured in sym when it is not nil.
func trace(t *testing.T, cfg offcpu.Config, sym *symbolize.Symbolizer, work func()) ([]sample.Record, sample.Losses) {
	t.Helper()
	tr, err := offcpu.Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tr.NewProcesses(ctx, func(pid uint32) {
			if sym != nil {
				sym.Capture(pid)
			}
		})
	}()
	work()
	tr.Stop()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs, losses, err := tr.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if losses != (sample.Losses{}) {
		t.Logf("losses: %+v", losses)
	}
	return recs, losses
}

func defaultConfig() offcpu.Config {
	return offcpu.Config{MinBlock: time.Microsecond, KernelStacks: true, UserStacks: true}
}

// nanosByPID sums blocked time per process.
func nanosByPID(recs []sample.Record) map[uint32]uint64 {
	m := map[uint32]uint64{}
	for _, r := range recs {
		m[r.TGID] += r.Nanos
	}
	return m
}

// TestSleeperStacks checks the blocked total of a program that sleeps 20 x 50
// ms, and that its stacks show its call chain under a scheduler frame.
func TestSleeperStacks(t *testing.T) {
	bpftest.Require(t)
	const n, ms = 20, 50
	s := startSleeper(t, n, ms)
	sym := symbolize.New(symbolize.Config{})
	defer sym.Close()
	cfg := defaultConfig()
	cfg.PIDs = []uint32{s.pid}
	var wall time.Duration
	recs, losses := trace(t, cfg, sym, func() { s.release(t); wall = s.wait(t) })
	if len(recs) == 0 {
		t.Fatal("no blocks recorded")
	}
	if losses.Stacks() > 0 || losses.CountMapFull > 0 {
		t.Errorf("losses: %+v", losses)
	}
	prof, err := sym.Profile(recs, symbolize.ProfileOptions{OffCPU: true, KernelLeaf: offcpu.KernelLeaf})
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := flamegraph.Fold(prof, flamegraph.FoldOptions{SampleIndex: 1, Divisor: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var total, chained float64
	var folded strings.Builder
	flamegraph.WriteFolded(&folded, stacks)
	for _, st := range stacks {
		if st.Frames[0] != "sleeper" {
			t.Errorf("a stack of another process with -p: %q", st.Frames)
		}
		total += st.Value
		// Root first: the chain in user space, then the kernel's path ending
		// in the scheduler.
		i := slices.Index(st.Frames, "main")
		if i >= 0 && i+2 < len(st.Frames) && st.Frames[i+1] == "sleep_a" && st.Frames[i+2] == "sleep_b" &&
			st.Frames[len(st.Frames)-1] == "__schedule" && slices.Contains(st.Frames, "schedule") {
			chained += st.Value
		}
	}
	// The sleeps ask for n x ms; on a busy machine each also waits for a
	// CPU once woken, which is off-CPU time as well, so the total is checked
	// against the wall time the sleeps took, and against what they asked.
	want := float64(n * ms * 1000)
	took := float64(wall.Microseconds())
	t.Logf("blocked %.0f µs (asked %.0f, took %.0f), %.0f µs under main;sleep_a;sleep_b;...;schedule;__schedule\n%s",
		total, want, took, chained, folded.String())
	if total < want*0.85 || total < took*0.85 || total > took*1.15 {
		t.Errorf("blocked %.0f µs, want %.0f±15%% (the sleeps took %.0f µs; asked for %.0f)", total, took, took, want)
	}
	if chained < want*0.85 || chained < took*0.85 {
		t.Errorf("only %.0f µs show the chain ending in __schedule", chained)
	}
}

// TestMinBlockDropsShortBlocks runs a sleeper of 1 ms blocks beside one of 60
// ms blocks: -m 30000 keeps only the second. The gap is wide because on a
// loaded machine a woken thread can wait for a CPU for over 10 ms, which
// is blocked time too. Eight long blocks, so that the 85% bound tolerates
// the rare lost block seen under heavy load (one in about 300) but not two.
func TestMinBlockDropsShortBlocks(t *testing.T) {
	bpftest.Require(t)
	short, long := startSleeper(t, 50, 1), startSleeper(t, 8, 60)
	cfg := defaultConfig()
	cfg.PIDs = []uint32{short.pid, long.pid}
	cfg.MinBlock = 30 * time.Millisecond
	recs, _ := trace(t, cfg, nil, func() {
		short.release(t)
		long.release(t)
		short.wait(t)
		long.wait(t)
	})
	got := nanosByPID(recs)
	t.Logf("blocked ns by pid: %v (short %d, long %d)", got, short.pid, long.pid)
	if got[short.pid] != 0 {
		t.Errorf("-m 30ms kept %v of 1 ms blocks", time.Duration(got[short.pid]))
	}
	if want := uint64(8 * 60 * time.Millisecond); got[long.pid] < want*85/100 {
		t.Errorf("-m 30ms kept %v of the 60 ms blocks, want about %v", time.Duration(got[long.pid]), time.Duration(want))
	}
	for _, r := range recs {
		if r.Nanos < uint64(10*time.Millisecond)*r.Count {
			t.Errorf("entry %+v averages under the 10 ms minimum", r)
		}
	}
}

// TestPIDFilterKeepsOneProcess runs two sleepers and traces one.
func TestPIDFilterKeepsOneProcess(t *testing.T) {
	bpftest.Require(t)
	a, b := startSleeper(t, 5, 10), startSleeper(t, 5, 10)
	cfg := defaultConfig()
	cfg.PIDs = []uint32{a.pid}
	recs, _ := trace(t, cfg, nil, func() {
		a.release(t)
		b.release(t)
		a.wait(t)
		b.wait(t)
	})
	got := nanosByPID(recs)
	if len(got) != 1 || got[a.pid] == 0 {
		t.Errorf("-p %d: blocked ns by pid %v, want only %d", a.pid, got, a.pid)
	}
}

// isKernelThread reports whether pid is a kernel thread, from the PF_KTHREAD
// flag in /proc/PID/stat; ok is false when the process is gone.
func isKernelThread(pid uint32) (kthread, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false, false
	}
	// flags is the 9th field, the 7th after the parenthesized comm.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	flags, err := strconv.ParseUint(f[6], 10, 64)
	if err != nil {
		return false, false
	}
	const pfKthread = 0x00200000
	return flags&pfKthread != 0, true
}

// TestThreadKindFilters checks that -u keeps user threads only and -k kernel
// threads only.
func TestThreadKindFilters(t *testing.T) {
	bpftest.Require(t)
	for _, kernel := range []bool{false, true} {
		name := map[bool]string{false: "-u", true: "-k"}[kernel]
		t.Run(name, func(t *testing.T) {
			s := startSleeper(t, 10, 20)
			cfg := defaultConfig()
			cfg.UserThreadsOnly, cfg.KernelThreadsOnly = !kernel, kernel
			recs, _ := trace(t, cfg, nil, func() { s.release(t); s.wait(t) })
			var checked, sleeperNanos uint64
			for _, r := range recs {
				if r.TGID == s.pid {
					sleeperNanos += r.Nanos
				}
				// The sleeper is a user process, known without /proc: it
				// has exited by now, and on a quiet machine its entries may
				// be the only ones of user threads.
				kthread, ok := false, true
				if r.TGID != s.pid {
					kthread, ok = isKernelThread(r.TID)
				}
				if !ok {
					continue // exited since
				}
				checked++
				if kthread != kernel {
					t.Errorf("%s kept %s (tid %d), kernel thread %v", name, r.Comm, r.TID, kthread)
				}
				if kthread && r.User.State != sample.StackAbsent {
					t.Errorf("kernel thread %s (tid %d) has user stack state %v", r.Comm, r.TID, r.User.State)
				}
			}
			t.Logf("%s: %d entries, %d of live threads checked, sleeper blocked %v", name, len(recs), checked, time.Duration(sleeperNanos))
			if checked == 0 {
				t.Errorf("%s: no entry of a live thread to check", name)
			}
			if kernel && sleeperNanos != 0 {
				t.Errorf("-k kept the sleeper's blocks")
			}
			if !kernel && sleeperNanos < uint64(10*20*time.Millisecond)*85/100 {
				t.Errorf("-u kept only %v of the sleeper's 200 ms", time.Duration(sleeperNanos))
			}
		})
	}
}

// TestStateFilter checks BCC's --state: the sleeper's nanosleeps leave the
// CPU in TASK_INTERRUPTIBLE (1), so a mask of 1 keeps them and a mask of 2
// (TASK_UNINTERRUPTIBLE) or 0 (preempted while running) does not.
func TestStateFilter(t *testing.T) {
	bpftest.Require(t)
	for _, tc := range []struct {
		state uint32
		keep  bool
	}{{1, true}, {2, false}, {0, false}} {
		t.Run(strconv.Itoa(int(tc.state)), func(t *testing.T) {
			s := startSleeper(t, 5, 20)
			cfg := defaultConfig()
			cfg.PIDs = []uint32{s.pid}
			cfg.MinBlock = 10 * time.Millisecond // the sleeps, not a preemption
			cfg.State = &tc.state
			recs, _ := trace(t, cfg, nil, func() { s.release(t); s.wait(t) })
			got := time.Duration(nanosByPID(recs)[s.pid])
			t.Logf("--state %d: %v blocked", tc.state, got)
			if tc.keep && got < 5*20*time.Millisecond*85/100 {
				t.Errorf("--state %d kept %v of 100 ms of sleeps", tc.state, got)
			}
			if !tc.keep && got != 0 {
				t.Errorf("--state %d kept %v of interruptible sleeps", tc.state, got)
			}
		})
	}
}

// TestTIDAndMaxBlockFilters traces one thread of a sleeper by TID, with a
// maximum block time below its sleeps' length and then above it.
func TestTIDAndMaxBlockFilters(t *testing.T) {
	bpftest.Require(t)
	for _, tc := range []struct {
		max  time.Duration
		keep bool
	}{{5 * time.Millisecond, false}, {time.Second, true}} {
		t.Run(tc.max.String(), func(t *testing.T) {
			s := startSleeper(t, 5, 20)
			cfg := defaultConfig()
			cfg.TIDs = []uint32{s.pid} // its main thread
			cfg.MaxBlock = tc.max
			recs, _ := trace(t, cfg, nil, func() { s.release(t); s.wait(t) })
			var got time.Duration
			for _, r := range recs {
				if r.TID != s.pid {
					t.Errorf("-t %d kept thread %d (%s)", s.pid, r.TID, r.Comm)
				}
				got += time.Duration(r.Nanos)
				if time.Duration(r.Nanos) > tc.max*time.Duration(r.Count) {
					t.Errorf("-M %v kept blocks of %v on average", tc.max, time.Duration(r.Nanos/r.Count))
				}
			}
			t.Logf("-t %d -M %v: %v blocked", s.pid, tc.max, got)
			// At least three of the five sleeps: -M 5ms keeps none.
			// One sleep of the five went uncounted once in a CI run
			// (80.7 ms) and not in 21 runs since; that loss is not
			// what this test is about.
			if tc.keep && got < 3*20*time.Millisecond {
				t.Errorf("-M %v kept only %v of 100 ms of 20 ms sleeps", tc.max, got)
			}
			if !tc.keep && got >= 20*time.Millisecond {
				t.Errorf("-M %v kept %v: more than one 20 ms sleep", tc.max, got)
			}
		})
	}
}
