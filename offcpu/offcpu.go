// Package offcpu measures where and for how long threads block, with a BPF
// program on the sched_switch BTF tracepoint that sums blocked time in the
// kernel, keyed by thread and stacks.
package offcpu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/emberprof/ember/internal/bpfenv"
	"github.com/emberprof/ember/internal/procs"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/internal/stackmap"
	"github.com/emberprof/ember/unwind/loader"
)

// Config says which blocks to measure.
type Config struct {
	// PIDs and TIDs, when set, keep only these processes or threads.
	PIDs []uint32
	TIDs []uint32
	// Follow, when set, keeps only this process, from its next exec on, and
	// the processes it forks, as they are forked (profile -- CMD).
	Follow uint32
	// UserThreadsOnly and KernelThreadsOnly keep one kind of thread (-u, -k).
	UserThreadsOnly   bool
	KernelThreadsOnly bool
	// State, when non-nil, keeps threads that left the CPU in this state, as
	// BCC's --state: 0 means preempted while running, anything else is a mask
	// of task states (2 is TASK_UNINTERRUPTIBLE).
	State *uint32
	// MinBlock and MaxBlock bound the blocks counted, inclusive; MaxBlock 0
	// means no bound.
	MinBlock, MaxBlock time.Duration
	// KernelStacks and UserStacks say which stacks to take.
	KernelStacks bool
	UserStacks   bool
	// StackStorageSize bounds the number of distinct stacks stored.
	StackStorageSize uint32
	// Unwind says how user stacks are walked; the zero value is frame
	// pointers only. UnwindRows is the row budget of the CFI tables (0:
	// loader.DefaultRows) and UnwindWarn gets the one-line notices of a
	// full budget.
	Unwind     loader.Mode
	UnwindRows uint32
	UnwindWarn io.Writer
	// UnwindFiles are binaries whose tables are built before attaching:
	// a command's about to start (loader.CommandFiles).
	UnwindFiles []string

	// checkUserWalk compares each user walk with the kernel's (tests).
	checkUserWalk bool
}

// kernelSkip drops the program's own frame from kernel stacks. The tracing
// frames between it and __schedule (bpf_trace_run4, __traceiter_sched_switch)
// vary with the kernel and the program, so they are left for the symbolizer
// to trim: see KernelLeaf.
const kernelSkip = 1

// KernelLeaf is the function every off-CPU kernel stack leaves the CPU
// through; symbolize.ProfileOptions.KernelLeaf trims what comes before it.
const KernelLeaf = "__schedule"

// Tracer is a loaded and attached off-CPU program.
type Tracer struct {
	cfg    Config
	objs   offcpuObjects
	links  []link.Link
	procs  *procs.Reader
	counts *stackmap.Counts
	unw    *loader.Loader
}

// Open loads the BPF program and starts measuring.
func Open(cfg Config) (*Tracer, error) {
	return OpenContext(context.Background(), cfg)
}

// OpenContext is Open, given up when ctx ends: loading a large map can take
// the kernel long, and a signal must not wait for it. Whatever is loaded
// after ctx ends is closed, in the background, when its load returns.
func OpenContext(ctx context.Context, cfg Config) (*Tracer, error) {
	return bpfenv.Cancellable(ctx, func() (*Tracer, error) { return open(ctx, cfg) }, (*Tracer).Close)
}

func open(ctx context.Context, cfg Config) (*Tracer, error) {
	if err := bpfenv.Check(); err != nil {
		return nil, err
	}
	if cfg.UserThreadsOnly && cfg.KernelThreadsOnly {
		return nil, errors.New("offcpu: user threads only and kernel threads only exclude each other")
	}
	if cfg.MaxBlock != 0 && cfg.MaxBlock < cfg.MinBlock {
		return nil, fmt.Errorf("offcpu: maximum block time %v is below the minimum %v", cfg.MaxBlock, cfg.MinBlock)
	}
	spec, err := loadOffcpu()
	if err != nil {
		return nil, err
	}
	maxNs := ^uint64(0)
	if cfg.MaxBlock > 0 {
		maxNs = uint64(cfg.MaxBlock)
	}
	var state uint32
	if cfg.State != nil {
		state = *cfg.State
	}
	vars := map[string]any{
		"filter_tgid":         cfg.Follow != 0 || len(cfg.PIDs) > 0,
		"filter_tid":          len(cfg.TIDs) > 0,
		"self_tgid":           procs.Self(cfg.PIDs, cfg.TIDs, cfg.Follow),
		"user_threads_only":   cfg.UserThreadsOnly,
		"kernel_threads_only": cfg.KernelThreadsOnly,
		"filter_state":        cfg.State != nil,
		"state":               state,
		"min_ns":              uint64(cfg.MinBlock),
		"max_ns":              maxNs,
		"kernel_stacks":       cfg.KernelStacks,
		"user_stacks":         cfg.UserStacks,
		"kernel_skip":         uint32(kernelSkip),
		"check_user_walk":     cfg.checkUserWalk,
		"unwind_mode":         uint32(cfg.Unwind),
	}
	if err := bpfenv.SetVariables(spec, vars); err != nil {
		return nil, err
	}
	if cfg.StackStorageSize > 0 {
		spec.Maps["stacks"].MaxEntries = cfg.StackStorageSize
	}
	if cfg.Follow != 0 {
		spec.Maps["tgids"].MaxEntries = procs.FollowEntries
	}
	if !cfg.UserStacks {
		cfg.Unwind = loader.ModeFP // no user stacks: no tables to load
	}
	loader.SizeMaps(spec, cfg.Unwind, cfg.UnwindRows)
	t := &Tracer{cfg: cfg}
	if err := bpfenv.CheckMemory(spec, bpfenv.MeminfoPath, "stacks", "counts", "counts_odd"); err != nil {
		return nil, err
	}
	if err := bpfenv.Load(spec, &t.objs, "stacks", "counts", "counts_odd", "unwind_rows"); err != nil {
		return nil, bpfenv.Explain("load off-CPU program", err)
	}
	t.counts = stackmap.NewCounts(stackmap.Maps{
		Counts:     [2]*ebpf.Map{t.objs.Counts, t.objs.CountsOdd},
		Generation: t.objs.Generation,
		Stacks:     t.objs.Stacks,
		Losses:     t.objs.Losses,
		Pinned:     t.blockedStacks,
	})
	if err := ctx.Err(); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.start(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tracer) start(ctx context.Context) error {
	if err := procs.SetFilter(t.objs.Tgids, t.objs.Tids, t.cfg.PIDs, t.cfg.TIDs); err != nil {
		return err
	}
	if t.cfg.Follow != 0 {
		if err := procs.Follow(t.objs.Tgids, t.cfg.Follow); err != nil {
			return err
		}
	}
	links, err := procs.AttachLifetimes(t.objs.OnFork, t.objs.OnExit, t.cfg.Follow != 0, t.cfg.Unwind != loader.ModeFP)
	if err != nil {
		return bpfenv.Explain("follow processes' lifetimes", err)
	}
	t.links = append(t.links, links...)
	announced, err := procs.NewReader(t.objs.NewProcs)
	if err != nil {
		return err
	}
	t.procs = announced
	if t.cfg.Unwind != loader.ModeFP {
		t.unw, err = loader.Start(loader.Maps{
			Rows: t.objs.UnwindRows, Files: t.objs.UnwindFiles,
			Procs: t.objs.UnwindProcs, Requests: t.objs.UnwindRequests,
		}, loader.Options{Warn: t.cfg.UnwindWarn, First: t.cfg.PIDs, Files: t.cfg.UnwindFiles, LoadExecs: t.cfg.Follow != 0})
		if err != nil {
			return err
		}
	}
	if t.unw != nil {
		// The processes asked for (-p) get their tables before sampling
		// starts, so that their first stacks are whole, unless that takes
		// longer than FirstWait.
		select {
		case <-t.unw.FirstLoaded():
		case <-time.After(loader.FirstWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	progs := []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_exec", t.objs.OnExec},
		{"sched_switch", t.objs.OnSwitch},
	}
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			return bpfenv.Explain("attach "+p.name, err)
		}
		t.links = append(t.links, l)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// NewProcesses calls fn with the process ID of each process seen blocking for
// the first time (and again after it execs) until ctx ends; fn runs on the
// caller's goroutine. It can be called once: ending ctx closes the ring.
func (t *Tracer) NewProcesses(ctx context.Context, fn func(tgid uint32)) error {
	return t.procs.Run(ctx, fn)
}

// Stop detaches the programs, so that what Read returns is final.
func (t *Tracer) Stop() {
	for _, l := range t.links {
		l.Close()
	}
	t.links = nil
}

// Read returns the (thread, stacks) entries with their block count and
// blocked time counted since the previous Read, and the losses in that time;
// it may be called while tracing runs.
func (t *Tracer) Read() ([]sample.Record, sample.Losses, error) {
	recs, losses, err := t.counts.Read()
	for i := range recs {
		recs[i].OffCPU = true
	}
	return recs, losses, err
}

// blockedStacks calls fn with the stacks of each thread blocked now, whose
// block is counted when it wakes.
func (t *Tracer) blockedStacks(fn func(id uint64)) error {
	_, starts, err := stackmap.Entries[offcpuThread, offcpuStart](t.objs.Starts)
	if err != nil {
		return fmt.Errorf("read blocked threads: %w", err)
	}
	for _, v := range starts {
		if v.Ts == 0 {
			continue
		}
		if v.KernelState == offcpuStackStateSTACK_OK {
			fn(v.KernelStack)
		}
		if v.UserState == offcpuStackStateSTACK_OK {
			fn(v.UserStack)
		}
	}
	return nil
}

// CachedStacks returns how many stacks the reader holds in user space, and
// how many the kernel's stack store holds (counted by iterating it).
func (t *Tracer) CachedStacks() (user, kernel int, err error) {
	kernel, err = stackmap.Len(t.objs.Stacks)
	return t.counts.Cached(), kernel, err
}

// RunStats returns how often the sched_switch program ran and for how long
// in all, as counted while bpfenv.EnableStats was on.
func (t *Tracer) RunStats() (runs uint64, total time.Duration, err error) {
	st, err := t.objs.OnSwitch.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("read off-CPU program stats: %w", err)
	}
	return st.RunCount, st.Runtime, nil
}

// Unwind returns the unwinder's counters and what its loader holds; both
// are zero in frame-pointer mode.
func (t *Tracer) Unwind() (loader.Stats, loader.Info, error) {
	if t.unw == nil {
		return loader.Stats{}, loader.Info{}, nil
	}
	st, err := loader.ReadStats(t.objs.UnwindStats)
	return st, t.unw.Info(), err
}

// LoadProcess loads pid's unwind tables now rather than when the walker
// first asks; it does nothing in frame-pointer mode.
func (t *Tracer) LoadProcess(pid uint32) error {
	if t.unw == nil {
		return nil
	}
	return t.unw.Load(pid)
}

// walkChecks returns the counts of user walks compared with the kernel's,
// with checkUserWalk set.
func (t *Tracer) walkChecks() (stackmap.WalkChecks, error) {
	return stackmap.ReadWalkChecks(t.objs.WalkChecks)
}

// Close detaches and unloads everything.
func (t *Tracer) Close() error {
	t.Stop()
	if t.unw != nil {
		t.unw.Close()
	}
	if t.procs != nil {
		t.procs.Close()
	}
	return t.objs.Close()
}

// FollowLost is how many processes forked by the followed command could not
// be followed (Config.Follow), for want of room in the filter.
func (t *Tracer) FollowLost() (uint64, error) { return procs.FollowLost(t.objs.FollowLost) }
