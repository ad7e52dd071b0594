// Package sample holds the raw records that collectors hand to the symbolizer:
// unsymbolized stacks with their task identity and weight, and loss counters.
package sample

// StackState says whether a stack was captured, and if not, why.
type StackState uint8

const (
	// StackOK means the stack was captured (it may still be empty).
	StackOK StackState = iota
	// StackAbsent means there was no such stack to take, as for the user stack of
	// a kernel thread or the kernel stack of a sample taken in user mode
	// (BCC's -EFAULT); writers omit it silently.
	StackAbsent
	// StackMissed means the stack existed but was lost (map full, fault while
	// walking); writers print BCC's "[Missed User Stack]" marker.
	StackMissed
	// StackNotRequested means the collector was told not to take it (-U, -K).
	StackNotRequested
)

// Stack is a list of program counters, leaf first, and how it was captured.
type Stack struct {
	PCs   []uint64
	State StackState
}

// Record is one aggregated entry from a collector's count map.
type Record struct {
	TGID   uint32
	TID    uint32
	Comm   string
	Kernel Stack
	User   Stack
	// Count is the number of events (samples, or blocks for off-CPU).
	Count uint64
	// Nanos is the time the events stand for: count x period for CPU samples,
	// total blocked time for off-CPU.
	Nanos uint64
	// OffCPU marks blocked time, for profiles that hold both (--wall).
	OffCPU bool
}

// Losses counts what a collector could not record; writers report every
// non-zero field on stderr.
type Losses struct {
	// KernelStackErrors and UserStackErrors count failed stack walks.
	KernelStackErrors uint64
	UserStackErrors   uint64
	// StackMapFull counts stacks dropped because the stack store was full
	// (--stack-storage-size).
	StackMapFull uint64
	// CountMapFull counts events dropped because the count map was full
	// (--hash-storage-size).
	CountMapFull uint64
}

// Stacks returns how many stacks could not be displayed.
func (l Losses) Stacks() uint64 {
	return l.KernelStackErrors + l.UserStackErrors + l.StackMapFull
}

// Names shared by the pprof profiles ember writes and the writers that read them.
const (
	// KernelMapping is the file name of the mapping that holds kernel
	// addresses, as perf names it.
	KernelMapping = "[kernel.kallsyms]"
	// MissedKernel and MissedUser name the function of the one location that
	// stands for a lost stack, as BCC prints it.
	MissedKernel = "[Missed Kernel Stack]"
	MissedUser   = "[Missed User Stack]"
	// Unknown is printed for an address no symbol covers.
	Unknown = "[unknown]"
	// LabelComm, LabelPID and LabelTID are the sample labels for the thread's
	// name, its process ID (tgid) and its thread ID.
	LabelComm = "comm"
	LabelPID  = "pid"
	LabelTID  = "tid"
)

// CommString converts a task's comm, a NUL-padded C array, to a string.
func CommString(c []int8) string {
	b := make([]byte, 0, len(c))
	for _, v := range c {
		if v == 0 {
			break
		}
		b = append(b, byte(v))
	}
	return string(b)
}
