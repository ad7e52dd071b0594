// Package procs is the user-space side of bpf/include/procs.h, which every
// collector's BPF program includes: it fills the -p/-t filter maps, and reads
// the process IDs the program announces on its new_procs ring buffer the first
// time it sees each process, so that user space can capture the process while
// it still exists.
package procs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

// SetFilter puts the wanted process and thread IDs into a program's tgids
// and tids maps; the program consults a map only when its filter_tgid or
// filter_tid constant is set.
func SetFilter(tgids, tids *ebpf.Map, pids, tidList []uint32) error {
	one := uint8(1)
	for _, p := range pids {
		if err := tgids.Put(p, one); err != nil {
			return fmt.Errorf("add pid %d to filter: %w", p, err)
		}
	}
	for _, t := range tidList {
		if err := tids.Put(t, one); err != nil {
			return fmt.Errorf("add tid %d to filter: %w", t, err)
		}
	}
	return nil
}

// Reader reads one program's announcements.
type Reader struct {
	ring *ringbuf.Reader
}

// NewReader opens the ring buffer map m.
func NewReader(m *ebpf.Map) (*Reader, error) {
	ring, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open new-process ring: %w", err)
	}
	return &Reader{ring: ring}, nil
}

// Run calls fn with each announced process ID until ctx ends; fn runs on the
// caller's goroutine. It can be called once: ending ctx closes the ring.
func (r *Reader) Run(ctx context.Context, fn func(tgid uint32)) error {
	// Closing is the only way to interrupt a blocked read: SetDeadline waits
	// for the reader's lock, which the blocked read holds.
	stop := context.AfterFunc(ctx, func() { r.ring.Close() })
	defer stop()
	var rec ringbuf.Record
	for {
		if err := r.ring.ReadInto(&rec); err != nil {
			if errors.Is(err, ringbuf.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read new processes: %w", err)
		}
		if len(rec.RawSample) >= 4 {
			fn(binary.NativeEndian.Uint32(rec.RawSample))
		}
	}
}

// Close releases the ring; a Run in progress returns.
func (r *Reader) Close() error { return r.ring.Close() }
