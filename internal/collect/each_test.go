package collect

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/interrupt"
	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// ticker is a Collector that counts 3 samples of one stack at every Read.
type ticker struct{ reads int }

func (c *ticker) NewProcesses(ctx context.Context, fn func(uint32)) error {
	<-ctx.Done()
	return nil
}
func (c *ticker) Stop() {}
func (c *ticker) Read() ([]sample.Record, sample.Losses, error) {
	c.reads++
	r := sample.Record{TGID: 1 << 30, TID: 1 << 30, Comm: "tick", Count: 3,
		User: sample.Stack{State: sample.StackOK, PCs: []uint64{0x401000, 0x402000}}}
	return []sample.Record{r}, sample.Losses{}, nil
}
func (c *ticker) RunStats() (uint64, time.Duration, error) { return 0, 0, nil }
func (c *ticker) Close() error                             { return nil }

// TestEachInterval: Job.Each gets one profile per interval, and together
// they hold every sample of the final profile, none twice.
func TestEachInterval(t *testing.T) {
	sigs := interrupt.Start("test", io.Discard)
	defer sigs.Stop()
	c := &ticker{}
	var mu sync.Mutex
	var got []*profile.Profile
	job := Job{
		Name:         "test",
		Open:         func(context.Context) (Collector, error) { return c, nil },
		Duration:     450 * time.Millisecond,
		Format:       "folded",
		Output:       "",
		Each:         func(p *profile.Profile) { mu.Lock(); got = append(got, p); mu.Unlock() },
		EachInterval: 100 * time.Millisecond,
	}
	res, err := Run(sigs, job, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	final := 0
	for _, r := range res.Records {
		final += int(r.Count)
	}
	each := 0
	for _, p := range got {
		for _, s := range p.Sample {
			each += int(s.Value[0])
		}
	}
	if len(got) < 4 || each != final || final == 0 {
		t.Errorf("%d interval profiles with %d samples in all, final profile %d samples: want at least 4 intervals holding every sample once", len(got), each, final)
	}
}

// TestMergeKeepsOffCPUApart: the same thread and stacks on and off the CPU
// (--wall) stay two records.
func TestMergeKeepsOffCPUApart(t *testing.T) {
	r := sample.Record{TGID: 1, TID: 1, Comm: "x", Count: 1, Nanos: 10}
	off := r
	off.OffCPU = true
	got := Merge([]sample.Record{r, off, r})
	if len(got) != 2 || got[0].Nanos != 20 || got[1].Nanos != 10 || !got[1].OffCPU {
		t.Errorf("Merge = %+v, want the on-CPU pair summed and the off-CPU record apart", got)
	}
}
