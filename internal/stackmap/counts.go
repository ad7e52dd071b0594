package stackmap

import (
	"errors"
	"fmt"
	"time"

	"github.com/cilium/ebpf"
	"github.com/emberprof/ember/internal/sample"
)

// Key is the Go twin of struct key in bpf/include/counts.h; CheckLayout
// tests that the two agree.
type Key struct {
	Tgid        uint32
	Tid         uint32
	KernelStack uint64
	UserStack   uint64
	Comm        [16]int8
	KernelState uint32
	UserState   uint32
}

// Value is the Go twin of struct value in counts.h.
type Value struct {
	Count uint64
	Nanos uint64
}

// Maps are the maps of a loaded collector that Counts reads.
type Maps struct {
	// Counts are the even and odd generation's count maps (counts and
	// counts_odd); Generation the global that picks one.
	Counts     [2]*ebpf.Map
	Generation *ebpf.Variable
	// Stacks is the stack store; Losses the per-CPU loss counters.
	Stacks, Losses *ebpf.Map
	// Pinned, when set, calls fn with each stack ID that something in the
	// kernel other than a count key holds and may count later: offcpu's
	// blocked threads hold the stacks they blocked with.
	Pinned func(fn func(id uint64)) error
}

// runBound is how long a program run can take from reading the generation
// to its last count-map update. BPF programs run to completion without
// sleeping or being preempted (perf_event programs in interrupt context,
// tracepoint programs with preemption off under the scheduler's lock), and
// ember's take at most tens of microseconds (a 127-frame walk), so after
// this wait no run that read the old generation is still going. Only a
// hypervisor descheduling the vCPU mid-run can exceed it; such a late update
// is not lost but lands in the old map, which the read after next drains.
const runBound = 10 * time.Millisecond

// Counts reads a collector's counts while it runs: each Read returns what
// was counted since the previous one. It keeps the stack store bounded:
// every stack a Read resolves is copied to user space and deleted from the
// kernel, and the copies are kept only while referenced.
type Counts struct {
	m   Maps
	gen uint32
	// cur and prev are the stacks copied or used by this Read and the
	// previous one.
	cur, prev map[uint64][]uint64
	losses    sample.Losses
	keys      []Key
	vals      []Value
}

// NewCounts returns a Counts over m, whose generation must still be 0.
func NewCounts(m Maps) *Counts {
	return &Counts{m: m, cur: map[uint64][]uint64{}, prev: map[uint64][]uint64{}}
}

// Read flips the generation, waits for runs under the old one to end, and
// drains its count map into records (Nanos as counted), with the losses
// since the previous Read.
//
// Why no stack is lost to eviction: Read deletes from the kernel only the
// stacks it has just copied, and keeps the copies until the next Read. A
// program that finds a stack missing stores it again (stacks.h), so a key
// counted later whose stack is gone from the kernel found it there before
// this Read deleted it: it was counted under the new generation, which the
// next Read drains while the copy is still kept. A stack held longer
// (Maps.Pinned, an off-CPU thread still blocked) is listed at each Read
// and its copy kept for as long. A holder created between the listing and
// the deletion is listed by the next Read, which still has the copy.
func (c *Counts) Read() ([]sample.Record, sample.Losses, error) {
	c.gen++
	if err := c.m.Generation.Set(c.gen); err != nil {
		c.gen--
		return nil, sample.Losses{}, fmt.Errorf("flip count generation: %w", err)
	}
	time.Sleep(runBound)
	if err := c.drain(c.m.Counts[(c.gen-1)&1]); err != nil {
		return nil, sample.Losses{}, err
	}
	c.prev, c.cur = c.cur, make(map[uint64][]uint64, len(c.cur))
	var copied []uint64
	resolve := func(id uint64, code uint32) (sample.Stack, error) {
		st := State(code)
		if st != sample.StackOK {
			return sample.Stack{State: st}, nil
		}
		pcs, ok, err := c.stack(id, &copied)
		if err != nil || !ok {
			return sample.Stack{State: sample.StackMissed}, err
		}
		return sample.Stack{PCs: pcs, State: sample.StackOK}, nil
	}
	recs := make([]sample.Record, 0, len(c.keys))
	for i, k := range c.keys {
		ks, err := resolve(k.KernelStack, k.KernelState)
		if err != nil {
			return nil, sample.Losses{}, err
		}
		us, err := resolve(k.UserStack, k.UserState)
		if err != nil {
			return nil, sample.Losses{}, err
		}
		recs = append(recs, sample.Record{
			TGID: k.Tgid, TID: k.Tid, Comm: sample.CommString(k.Comm[:]),
			Kernel: ks, User: us, Count: c.vals[i].Count, Nanos: c.vals[i].Nanos,
		})
	}
	if c.m.Pinned != nil {
		if err := c.m.Pinned(func(id uint64) {
			// Only carry copies over: a pinned stack still in the kernel
			// stays there.
			if p, ok := c.prev[id]; ok {
				c.cur[id] = p
			}
		}); err != nil {
			return nil, sample.Losses{}, err
		}
	}
	if err := c.evict(copied); err != nil {
		return nil, sample.Losses{}, err
	}
	total, err := ReadLosses(c.m.Losses)
	if err != nil {
		return nil, sample.Losses{}, err
	}
	l := sample.Losses{
		KernelStackErrors: total.KernelStackErrors - c.losses.KernelStackErrors,
		UserStackErrors:   total.UserStackErrors - c.losses.UserStackErrors,
		StackMapFull:      total.StackMapFull - c.losses.StackMapFull,
		CountMapFull:      total.CountMapFull - c.losses.CountMapFull,
	}
	c.losses = total
	return recs, l, nil
}

// drain reads and empties m into c.keys and c.vals, a batch at a time.
func (c *Counts) drain(m *ebpf.Map) error {
	c.keys, c.vals = c.keys[:0], c.vals[:0]
	const batch = 1024
	keys, vals := make([]Key, batch), make([]Value, batch)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.BatchLookupAndDelete(&cursor, keys, vals, nil)
		c.keys, c.vals = append(c.keys, keys[:n]...), append(c.vals, vals[:n]...)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read counts: %w", err)
		}
	}
}

// stack returns the frames stored under id: this Read's copy, the kernel's
// (copied, its ID added to copied), or the previous Read's copy.
func (c *Counts) stack(id uint64, copied *[]uint64) ([]uint64, bool, error) {
	if pcs, ok := c.cur[id]; ok {
		return pcs, true, nil
	}
	var raw [MaxDepth]uint64
	err := c.m.Stacks.Lookup(id, &raw)
	switch {
	case err == nil:
		n := 0
		for n < MaxDepth && raw[n] != 0 {
			n++
		}
		pcs := append([]uint64(nil), raw[:n]...)
		c.cur[id] = pcs
		*copied = append(*copied, id)
		return pcs, true, nil
	case errors.Is(err, ebpf.ErrKeyNotExist):
		pcs, ok := c.prev[id]
		if ok {
			c.cur[id] = pcs
		}
		return pcs, ok, nil
	}
	return nil, false, fmt.Errorf("read stack %#x: %w", id, err)
}

// evict deletes the stacks just copied from the kernel's store.
func (c *Counts) evict(ids []uint64) error {
	for len(ids) > 0 {
		n := min(len(ids), 4096)
		if _, err := c.m.Stacks.BatchDelete(ids[:n], nil); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("evict stacks: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// Cached returns how many stacks the user-space cache holds.
func (c *Counts) Cached() int { return len(c.cur) }

// Len counts the entries of m, a map with 64-bit keys such as the stack
// store, by walking its keys.
func Len(m *ebpf.Map) (int, error) {
	var (
		key  uint64
		prev any // nil: start from the first key
		n    int
	)
	for {
		err := m.NextKey(prev, &key)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("count %v: %w", m, err)
		}
		n++
		k := key
		prev = &k
	}
}
