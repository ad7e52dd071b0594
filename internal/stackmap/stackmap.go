// Package stackmap reads what ember's BPF programs share through
// bpf/include/stacks.h: the stack store keyed by a hash of each stack's frames,
// the per-CPU loss counters, and the outcome codes kept in count keys.
package stackmap

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/emberprof/ember/internal/sample"
)

// MaxDepth is the deepest stack the BPF side records (PERF_MAX_STACK_DEPTH).
const MaxDepth = 127

// Outcome codes from stacks.h.
const (
	codeOK      = 0
	codeAbsent  = 1
	codeMissed  = 2
	codeFull    = 3
	codeSkipped = 4
)

// Loss slots from stacks.h.
const (
	lossKernelStack = iota
	lossUserStack
	lossStackFull
	lossCountFull
	lossSlots
)

// State turns an outcome code from a count key into a stack state.
func State(code uint32) sample.StackState {
	switch code {
	case codeOK:
		return sample.StackOK
	case codeAbsent:
		return sample.StackAbsent
	case codeSkipped:
		return sample.StackNotRequested
	default:
		return sample.StackMissed
	}
}

// ReadLosses sums the per-CPU loss counters.
func ReadLosses(m *ebpf.Map) (sample.Losses, error) {
	var l sample.Losses
	for slot := uint32(0); slot < lossSlots; slot++ {
		var perCPU []uint64
		if err := m.Lookup(slot, &perCPU); err != nil {
			return l, fmt.Errorf("read loss counter %d: %w", slot, err)
		}
		var sum uint64
		for _, v := range perCPU {
			sum += v
		}
		switch slot {
		case lossKernelStack:
			l.KernelStackErrors = sum
		case lossUserStack:
			l.UserStackErrors = sum
		case lossStackFull:
			l.StackMapFull = sum
		case lossCountFull:
			l.CountMapFull = sum
		}
	}
	return l, nil
}

// WalkChecks are the counters a program loaded with check_user_walk keeps of
// its user stack walks compared with the kernel's bpf_get_stack.
type WalkChecks struct {
	// Compared walks; Mismatched gave another frame at some depth; Shorter
	// only ended sooner or later, which a page changing its mapping on
	// another CPU between the two walks can cause.
	Compared, Mismatched, Shorter uint64
}

// ReadWalkChecks sums the per-CPU walk_checks counters.
func ReadWalkChecks(m *ebpf.Map) (WalkChecks, error) {
	var c WalkChecks
	for slot, dst := range []*uint64{&c.Compared, &c.Mismatched, &c.Shorter} {
		var perCPU []uint64
		if err := m.Lookup(uint32(slot), &perCPU); err != nil {
			return c, fmt.Errorf("read walk check counter %d: %w", slot, err)
		}
		for _, v := range perCPU {
			*dst += v
		}
	}
	return c, nil
}

// String summarises the counters for a test log.
func (c WalkChecks) String() string {
	return fmt.Sprintf("%d user walks compared with bpf_get_stack's: %d gave another frame, %d only ended sooner or later",
		c.Compared, c.Mismatched, c.Shorter)
}

// Verdict says what is wrong with the counters, nil when nothing: fewer
// than minCompared walks compared, any mismatched frame, or more than 1% of walks
// ending at another depth. Ending elsewhere needs a page of the stack to
// change its mapping between the two walks, microseconds apart: never seen,
// but nothing rules it out on a busy machine. (vfork children, whose stack
// their parent may be writing, are not compared; see check_walk.)
func (c WalkChecks) Verdict(minCompared uint64) error {
	switch {
	case c.Compared < minCompared:
		return fmt.Errorf("only %d walks compared, want %d", c.Compared, minCompared)
	case c.Mismatched != 0:
		return fmt.Errorf("%d of %d user walks gave another frame than bpf_get_stack", c.Mismatched, c.Compared)
	case c.Shorter*100 > c.Compared:
		return fmt.Errorf("%d of %d user walks ended at another depth than bpf_get_stack's", c.Shorter, c.Compared)
	}
	return nil
}

// batchSize is how many entries one batch lookup asks for.
const batchSize = 4096

// Entries returns every key and value of a hash map, a batch of entries per
// system call rather than two calls per entry as iteration takes; a map of
// thousands of entries (one per thread and stack) reads in milliseconds.
// Kernels without batch lookups (before 5.6) fall back to iteration. While
// programs still update the map the result is a snapshot of some of it.
func Entries[K, V any](m *ebpf.Map) ([]K, []V, error) {
	keys, vals, err := batchEntries[K, V](m)
	if errors.Is(err, ebpf.ErrNotSupported) {
		return iterEntries[K, V](m)
	}
	return keys, vals, err
}

func batchEntries[K, V any](m *ebpf.Map) ([]K, []V, error) {
	var (
		cursor     ebpf.MapBatchCursor
		keys       []K
		vals       []V
		bufK, bufV = make([]K, batchSize), make([]V, batchSize)
	)
	for {
		n, err := m.BatchLookup(&cursor, bufK, bufV, nil)
		keys, vals = append(keys, bufK[:n]...), append(vals, bufV[:n]...)
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return keys, vals, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", m, err)
		}
		if n == 0 {
			// Never seen; guards against a cursor that does not advance.
			return keys, vals, nil
		}
	}
}

func iterEntries[K, V any](m *ebpf.Map) ([]K, []V, error) {
	var (
		keys []K
		vals []V
		k    K
		v    V
	)
	it := m.Iterate()
	for it.Next(&k, &v) {
		keys, vals = append(keys, k), append(vals, v)
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", m, err)
	}
	return keys, vals, nil
}
