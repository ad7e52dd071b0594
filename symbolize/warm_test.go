package symbolize

import (
	"os"
	"runtime"
	"testing"

	"github.com/emberprof/ember/internal/sample"
)

//go:noinline
func warmLeaf(pcs []uintptr) int { return runtime.Callers(1, pcs) }

//go:noinline
func warmMid(pcs []uintptr) int { return warmLeaf(pcs) }

// threadRecords returns the records of a process of 1,000 threads that all
// ran the same few stacks of this test binary, as a 1,000-thread profile has.
func threadRecords(t testing.TB) ([]sample.Record, int) {
	pid := uint32(os.Getpid())
	var stacks [][]uint64
	distinct := map[uint64]bool{}
	for _, f := range []func([]uintptr) int{warmLeaf, warmMid} {
		pcs := make([]uintptr, 8)
		n := f(pcs)
		st := make([]uint64, n)
		for i := range st {
			st[i] = uint64(pcs[i])
			distinct[st[i]] = true
		}
		stacks = append(stacks, st)
	}
	var recs []sample.Record
	for tid := uint32(1); tid <= 1000; tid++ {
		for _, st := range stacks {
			recs = append(recs, sample.Record{TGID: pid, TID: pid + tid, Comm: "t", Count: 1, Nanos: 1,
				Kernel: sample.Stack{State: sample.StackAbsent}, User: sample.Stack{PCs: st, State: sample.StackOK}})
		}
	}
	return recs, len(distinct)
}

// A 1,000-thread process costs one capture and one lookup per distinct
// address, not per thread; Warm's lookups are not done again by Profile.
func TestThreadsWorkNotRepeated(t *testing.T) {
	recs, distinct := threadRecords(t)
	cold := New(Config{})
	defer cold.Close()
	pc, err := cold.Profile(recs, ProfileOptions{Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := cold.Counts()
	if c.Captures != 1 || c.Lookups == 0 || c.Lookups > distinct || c.Binaries != 1 {
		t.Fatalf("counts %+v for 1,000 threads of one process, %d distinct addresses in one binary", c, distinct)
	}

	warm := New(Config{})
	defer warm.Close()
	warm.Warm(recs[:len(recs)/2])
	warm.Warm(recs)
	after := warm.Counts()
	pw, err := warm.Profile(recs, ProfileOptions{Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	if end := warm.Counts(); end.Lookups != after.Lookups || end.Captures != 1 || after.Lookups != c.Lookups {
		t.Fatalf("counts after Warm %+v, after Profile %+v; cold %+v", after, end, c)
	}
	// Same names either way.
	for i := range pc.Sample {
		a, b := pc.Sample[i].Location, pw.Sample[i].Location
		if len(a) != len(b) {
			t.Fatalf("sample %d: %d locations cold, %d warmed", i, len(a), len(b))
		}
		for j := range a {
			if len(a[j].Line) != len(b[j].Line) || (len(a[j].Line) > 0 && a[j].Line[0].Function.Name != b[j].Line[0].Function.Name) {
				t.Fatalf("sample %d location %d: %+v cold, %+v warmed", i, j, a[j].Line, b[j].Line)
			}
		}
	}
}

// BenchmarkEndOfRun is the work left after sampling for a 1,000-thread
// process: "cold" is the old path, every lookup at the end; "warmed" is what
// is left when Warm ran during sampling. Compare their ns/op.
func BenchmarkEndOfRun(b *testing.B) {
	recs, _ := threadRecords(b)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			s := New(Config{Cache: NewCache(CacheConfig{})})
			s.Profile(recs, ProfileOptions{Period: 1})
			s.Close()
		}
	})
	b.Run("warmed", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := New(Config{Cache: NewCache(CacheConfig{})})
			s.Warm(recs)
			b.StartTimer()
			s.Profile(recs, ProfileOptions{Period: 1})
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
	})
}
