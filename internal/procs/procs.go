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
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// SetFilter puts the wanted process and thread IDs into a program's tgids
// and tids maps; the program consults a map only when its filter_tgid or
// filter_tid constant is set.
func SetFilter(tgids, tids *ebpf.Map, pids, tidList []uint32) error {
	one := procWanted
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

// Self is the process a program leaves out (its self_tgid): this one, when
// the profile is of the whole system (no pids, tids or command to follow);
// a profile that names processes gets exactly those.
func Self(pids, tids []uint32, follow uint32) uint32 {
	if len(pids) > 0 || len(tids) > 0 || follow != 0 {
		return 0
	}
	return uint32(os.Getpid())
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

// FollowEntries sizes the tgids map of a program that follows a command:
// the processes of a build alive at once.
const FollowEntries = 1 << 16

// Values of the tgids map (PROC_* in procs.h).
const (
	procWanted     uint8 = 1
	procBeforeExec uint8 = 2
)

// Follow puts a command's first process into tgids, counted from its next
// exec on: until then it is ember's launcher, held before exec.
func Follow(tgids *ebpf.Map, root uint32) error {
	if err := tgids.Put(root, procBeforeExec); err != nil {
		return fmt.Errorf("follow process %d: %w", root, err)
	}
	return nil
}

// AttachLifetimes attaches on_fork when following a command, which adds a
// followed process's children to tgids as they are forked, and on_exit when
// following or when the unwinder holds tables for processes, which forgets
// processes as they exit; it attaches nothing when neither is wanted.
func AttachLifetimes(fork, exit *ebpf.Program, follow, unwind bool) ([]link.Link, error) {
	type prog struct {
		name string
		prog *ebpf.Program
	}
	var progs []prog
	if follow {
		progs = append(progs, prog{"sched_process_fork", fork})
	}
	if follow || unwind {
		progs = append(progs, prog{"sched_process_exit", exit})
	}
	var links []link.Link
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			return nil, fmt.Errorf("attach %s: %w", p.name, err)
		}
		links = append(links, l)
	}
	return links, nil
}

// FollowLost reads how many forks of followed processes found tgids full.
func FollowLost(m *ebpf.Map) (uint64, error) {
	var n uint64
	if err := m.Lookup(uint32(0), &n); err != nil {
		return 0, fmt.Errorf("read follow_lost: %w", err)
	}
	return n, nil
}
