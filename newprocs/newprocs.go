// Package newprocs reads the process IDs that a collector's BPF program
// announces on its new_procs ring buffer (bpf/include/procs.h) the first time
// it sees each process, so that user space can capture the process while it
// still exists.
package newprocs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
)

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
