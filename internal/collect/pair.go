package collect

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/unwind/loader"
)

// Pair is one Collector made of two that run together, CPU samples and
// off-CPU time for --wall: their records are read together, so each read
// covers the same span of both.
func Pair(on, off Collector) Collector { return &pair{on: on, off: off} }

type pair struct {
	on, off Collector
	mu      sync.Mutex // fn is called from both collectors' goroutines
}

func (p *pair) NewProcesses(ctx context.Context, fn func(tgid uint32)) error {
	safe := func(tgid uint32) {
		p.mu.Lock()
		defer p.mu.Unlock()
		fn(tgid)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.off.NewProcesses(ctx, safe) }()
	err := p.on.NewProcesses(ctx, safe)
	return errors.Join(err, <-errc)
}

func (p *pair) Stop() {
	p.on.Stop()
	p.off.Stop()
}

func (p *pair) Read() ([]sample.Record, sample.Losses, error) {
	a, la, err := p.on.Read()
	if err != nil {
		return nil, sample.Losses{}, err
	}
	b, lb, err := p.off.Read()
	if err != nil {
		return nil, sample.Losses{}, err
	}
	return append(a, b...), AddLosses(la, lb), nil
}

func (p *pair) RunStats() (uint64, time.Duration, error) {
	ra, ta, err := p.on.RunStats()
	if err != nil {
		return 0, 0, err
	}
	rb, tb, err := p.off.RunStats()
	return ra + rb, ta + tb, err
}

func (p *pair) Close() error { return errors.Join(p.on.Close(), p.off.Close()) }

// Unwind sums both collectors' walker counters, when both have them.
func (p *pair) Unwind() (loader.Stats, loader.Info, error) {
	ua, ok1 := p.on.(Unwinder)
	ub, ok2 := p.off.(Unwinder)
	if !ok1 || !ok2 {
		return loader.Stats{}, loader.Info{}, errors.New("no unwinder")
	}
	sa, ia, err := ua.Unwind()
	if err != nil {
		return sa, ia, err
	}
	sb, _, err := ub.Unwind()
	for i := range sa {
		sa[i] += sb[i]
	}
	return sa, ia, err
}

// FollowLost sums what both collectors could not follow.
func (p *pair) FollowLost() (uint64, error) {
	fa, ok1 := p.on.(Follower)
	fb, ok2 := p.off.(Follower)
	if !ok1 || !ok2 {
		return 0, nil
	}
	a, err := fa.FollowLost()
	if err != nil {
		return 0, err
	}
	b, err := fb.FollowLost()
	return a + b, err
}
