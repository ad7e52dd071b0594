package sampler

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"golang.org/x/sys/unix"
)

// TestReadsAddUp spins one thread for 5 s while reading every 200 ms: the
// sum of the reads must be the thread's CPU time, as one read at the end
// would give, within sampling noise, so that no sample is counted twice or
// lost between reads.
func TestReadsAddUp(t *testing.T) {
	bpftest.Require(t)
	tidc := make(chan int)
	stop := make(chan struct{})
	cpu := make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		tidc <- unix.Gettid()
		<-tidc
		x := 0
		for {
			select {
			case <-stop:
				var ts unix.Timespec
				unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
				cpu <- time.Duration(ts.Nano())
				return
			default:
			}
			for i := 0; i < 1e5; i++ {
				x += i
			}
		}
	}()
	tid := <-tidc
	s, err := Open(Config{Frequency: 199, CPU: -1, TIDs: []uint32{uint32(tid)}, KernelStacks: true, UserStacks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tidc <- 0 // start spinning; the thread's CPU time before is near 0
	var nanos uint64
	reads := 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); reads++ {
		time.Sleep(200 * time.Millisecond)
		recs, _, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			nanos += r.Nanos
		}
	}
	close(stop)
	spun := <-cpu
	s.Stop()
	recs, _, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		nanos += r.Nanos
	}
	got := time.Duration(nanos)
	t.Logf("%d reads: %v sampled, thread CPU time %v (ratio %.3f)", reads+1, got, spun, got.Seconds()/spun.Seconds())
	// Sampling noise: n samples vary by about sqrt(n); allow four times that
	// (at least 10%), as the spinner gets less CPU on a loaded machine.
	n := spun.Seconds() * 199
	tol := max(0.1, 4/math.Sqrt(n))
	if spun < 200*time.Millisecond || math.Abs(got.Seconds()/spun.Seconds()-1) > tol {
		t.Errorf("reads summed to %v, the thread ran %v (tolerance %.0f%%)", got, spun, 100*tol)
	}
}

// TestChurnStaysFlat samples every CPU at a high rate while thousands of
// short-lived processes come and go, reading every 250 ms: the kernel's
// stack store, the user-space stack cache and this process's RSS must stay
// flat, not grow with the number of processes seen.
func TestChurnStaysFlat(t *testing.T) {
	bpftest.Require(t)
	s, err := Open(Config{Frequency: 999, CPU: -1, KernelStacks: true, UserStacks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// EMBER_CHURN=N runs N processes instead of 3000, for a run of minutes.
	n, limit := 3000, 40*time.Second
	if v, err := strconv.Atoi(os.Getenv("EMBER_CHURN")); err == nil && v > 0 {
		n, limit = v, time.Duration(v)*20*time.Millisecond+40*time.Second
	}
	churn := exec.Command("sh", "-c", fmt.Sprintf("for i in $(seq %d); do /bin/true; done", n))
	if err := churn.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- churn.Wait() }()
	type point struct{ kernel, user, entries, rssKB int }
	var pts []point
	deadline := time.After(limit)
loop:
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			break loop
		case <-deadline:
			churn.Process.Kill()
			<-done
			break loop
		case <-time.After(250 * time.Millisecond):
		}
		recs, _, err := s.Read()
		if err != nil {
			t.Fatal(err)
		}
		u, k, err := s.CachedStacks()
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, point{k, u, len(recs), rssKB(t)})
	}
	if len(pts) < 8 {
		t.Fatalf("only %d reads: the churn ended too soon", len(pts))
	}
	half := len(pts) / 2
	peak := func(p []point) (q point) {
		for _, v := range p {
			q.kernel, q.user, q.entries, q.rssKB = max(q.kernel, v.kernel), max(q.user, v.user), max(q.entries, v.entries), max(q.rssKB, v.rssKB)
		}
		return q
	}
	first, second := peak(pts[:half]), peak(pts[half:])
	t.Logf("%d reads; peak per read, first half vs second half: kernel stacks %d vs %d, cached stacks %d vs %d, count entries %d vs %d, RSS %d vs %d kB",
		len(pts), first.kernel, second.kernel, first.user, second.user, first.entries, second.entries, first.rssKB, second.rssKB)
	// Flat: the second half holds no more than twice the first half (plus
	// slack for a burst), where growth with the processes seen would pile up.
	if second.kernel > 2*first.kernel+500 || second.user > 2*first.user+500 {
		t.Errorf("stack store grows: %d then %d in the kernel, %d then %d cached", first.kernel, second.kernel, first.user, second.user)
	}
	if second.rssKB > first.rssKB*3/2+20<<10 {
		t.Errorf("RSS grows: %d kB then %d kB", first.rssKB, second.rssKB)
	}
}

func rssKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
