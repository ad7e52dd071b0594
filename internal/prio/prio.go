// Package prio raises the profiler's CPU priority for the work someone waits
// on and that nothing measures: loading the BPF programs before sampling, and
// building the output after. A process with a thousand busy threads otherwise
// gets the profiler a thousandth of the CPU: well under a second of work
// stretched into minutes.
package prio

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Boost is a raised priority that can be put back and raised again.
type Boost struct {
	nice int
	old  map[int]int // every thread's nice value before the first Raise
	base int         // the value for threads started since (the caller's)
}

// Raise sets the nice value of every thread of this process to nice where it
// is higher (Linux keeps one per thread; threads started later inherit their
// creator's). Without the privilege to (CAP_SYS_NICE) it changes nothing.
func Raise(nice int) *Boost {
	b := &Boost{nice: nice, old: map[int]int{}, base: nice}
	if n, err := Nice(unix.Gettid()); err == nil {
		b.base = n
	}
	b.Raise()
	return b
}

// Raise raises the threads again after Lower, and any started since; a nil
// Boost changes nothing.
func (b *Boost) Raise() {
	if b == nil {
		return
	}
	for _, tid := range threads() {
		cur, err := Nice(tid)
		if err != nil {
			continue
		}
		if _, ok := b.old[tid]; !ok {
			b.old[tid] = cur
		}
		if cur > b.nice {
			unix.Setpriority(unix.PRIO_PROCESS, tid, b.nice)
		}
	}
}

// Lower puts back every thread's nice value from before the first Raise,
// and gives threads started since the caller's; a nil Boost changes nothing.
func (b *Boost) Lower() {
	if b == nil {
		return
	}
	for _, tid := range threads() {
		n, ok := b.old[tid]
		if !ok {
			n = b.base
		}
		// The thread may have exited; nothing to put back then.
		unix.Setpriority(unix.PRIO_PROCESS, tid, n)
	}
}

// Nice returns a thread's nice value.
func Nice(tid int) (int, error) {
	// The system call returns 20 - nice, so that no value is negative.
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}

// threads lists this process's thread IDs.
func threads() []int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return []int{unix.Gettid()}
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// Base is the nice value the caller had before Raise, for processes it
// starts that must not inherit the boost; for a nil Boost, the current one.
func (b *Boost) Base() int {
	if b == nil {
		n, _ := Nice(unix.Gettid())
		return n
	}
	return b.base
}
