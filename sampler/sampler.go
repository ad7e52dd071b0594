// Package sampler samples the stacks of running tasks with a BPF program on a
// software cpu-clock perf event per CPU, and counts them in the kernel.
package sampler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/emberprof/ember/internal/bpfenv"
	"github.com/emberprof/ember/internal/procs"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/internal/stackmap"
	"github.com/emberprof/ember/unwind/loader"
	"golang.org/x/sys/unix"
)

// Config says what to sample and how often.
type Config struct {
	// Frequency is samples per second on each CPU; used when Period is 0.
	Frequency uint64
	// Period samples once every Period nanoseconds of CPU time (BCC's -c).
	Period uint64
	// PIDs and TIDs, when set, keep only these processes or threads.
	PIDs []uint32
	TIDs []uint32
	// Follow, when set, keeps only this process, from its next exec on, and
	// the processes it forks, as they are forked (profile -- CMD).
	Follow uint32
	// CPU is the only CPU to sample, or -1 for all.
	CPU int
	// IncludeIdle keeps samples of the idle task (pid 0).
	IncludeIdle bool
	// KernelStacks and UserStacks say which stacks to take.
	KernelStacks bool
	UserStacks   bool
	// StackStorageSize bounds the number of distinct stacks stored.
	StackStorageSize uint32
	// HashStorageSize bounds the number of distinct (task, stacks) keys.
	HashStorageSize uint32
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
	// unwindWorkers and unwindLazy set the loader's workers and keep it
	// from loading PIDs before the walker asks (benchmarks).
	unwindWorkers int
	unwindLazy    bool
	// unwindSnapshot records each walk with its registers and stack in
	// unwind_snaps (tests).
	unwindSnapshot bool
}

// Sampler is a loaded and attached sampling program.
type Sampler struct {
	cfg    Config
	objs   samplerObjects
	links  []link.Link
	events []int
	procs  *procs.Reader
	counts *stackmap.Counts
	unw    *loader.Loader
}

// Open loads the BPF program and starts sampling on every requested CPU.
func Open(cfg Config) (*Sampler, error) {
	return OpenContext(context.Background(), cfg)
}

// OpenContext is Open, given up when ctx ends: loading a large map can take
// the kernel long, and a signal must not wait for it. Whatever is loaded
// after ctx ends is closed, in the background, when its load returns.
func OpenContext(ctx context.Context, cfg Config) (*Sampler, error) {
	return bpfenv.Cancellable(ctx, func() (*Sampler, error) { return open(ctx, cfg) }, (*Sampler).Close)
}

func open(ctx context.Context, cfg Config) (*Sampler, error) {
	if err := bpfenv.Check(); err != nil {
		return nil, err
	}
	if cfg.Frequency == 0 && cfg.Period == 0 {
		return nil, errors.New("sampler: neither frequency nor period set")
	}
	spec, err := loadSampler()
	if err != nil {
		return nil, err
	}
	vars := map[string]any{
		"filter_tgid":     cfg.Follow != 0 || len(cfg.PIDs) > 0,
		"filter_tid":      len(cfg.TIDs) > 0,
		"self_tgid":       procs.Self(cfg.PIDs, cfg.TIDs, cfg.Follow),
		"include_idle":    cfg.IncludeIdle,
		"kernel_stacks":   cfg.KernelStacks,
		"user_stacks":     cfg.UserStacks,
		"check_user_walk": cfg.checkUserWalk,
		"unwind_mode":     uint32(cfg.Unwind),
		"unwind_snapshot": cfg.unwindSnapshot,
	}
	if err := bpfenv.SetVariables(spec, vars); err != nil {
		return nil, err
	}
	if cfg.StackStorageSize > 0 {
		spec.Maps["stacks"].MaxEntries = cfg.StackStorageSize
	}
	if cfg.HashStorageSize > 0 {
		spec.Maps["counts"].MaxEntries = cfg.HashStorageSize
		spec.Maps["counts_odd"].MaxEntries = cfg.HashStorageSize
	}
	if cfg.Follow != 0 {
		spec.Maps["tgids"].MaxEntries = procs.FollowEntries
	}
	if !cfg.UserStacks {
		cfg.Unwind = loader.ModeFP // no user stacks: no tables to load
	}
	loader.SizeMaps(spec, cfg.Unwind, cfg.UnwindRows)
	if cfg.unwindSnapshot {
		spec.Maps["unwind_snaps"].MaxEntries = 64 << 20
	}
	s := &Sampler{cfg: cfg}
	if err := bpfenv.CheckMemory(spec, bpfenv.MeminfoPath, "stacks", "counts", "counts_odd"); err != nil {
		return nil, err
	}
	if err := bpfenv.Load(spec, &s.objs, "stacks", "counts", "counts_odd", "unwind_rows"); err != nil {
		return nil, bpfenv.Explain("load sampler", err)
	}
	s.counts = stackmap.NewCounts(stackmap.Maps{
		Counts:     [2]*ebpf.Map{s.objs.Counts, s.objs.CountsOdd},
		Generation: s.objs.Generation,
		Stacks:     s.objs.Stacks,
		Losses:     s.objs.Losses,
	})
	if err := ctx.Err(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sampler) start(ctx context.Context) error {
	if err := procs.SetFilter(s.objs.Tgids, s.objs.Tids, s.cfg.PIDs, s.cfg.TIDs); err != nil {
		return err
	}
	if s.cfg.Follow != 0 {
		if err := procs.Follow(s.objs.Tgids, s.cfg.Follow); err != nil {
			return err
		}
	}
	links, err := procs.AttachLifetimes(s.objs.OnFork, s.objs.OnExit, s.cfg.Follow != 0, s.cfg.Unwind != loader.ModeFP)
	if err != nil {
		return bpfenv.Explain("follow processes' lifetimes", err)
	}
	s.links = append(s.links, links...)
	announced, err := procs.NewReader(s.objs.NewProcs)
	if err != nil {
		return err
	}
	s.procs = announced
	if s.cfg.Unwind != loader.ModeFP {
		s.unw, err = loader.Start(loader.Maps{
			Rows: s.objs.UnwindRows, Files: s.objs.UnwindFiles,
			Procs: s.objs.UnwindProcs, Requests: s.objs.UnwindRequests,
		}, s.loaderOptions())
		if err != nil {
			return err
		}
	}
	if s.unw != nil {
		// The processes asked for (-p) get their tables before sampling
		// starts, so that their first stacks are whole, unless that takes
		// longer than FirstWait.
		select {
		case <-s.unw.FirstLoaded():
		case <-time.After(loader.FirstWait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: s.objs.OnExec, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		return bpfenv.Explain("attach sched_process_exec", err)
	}
	s.links = append(s.links, l)
	if err := ctx.Err(); err != nil {
		return err
	}

	cpus, err := s.cpus()
	if err != nil {
		return err
	}
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: s.cfg.Period,
	}
	if s.cfg.Period == 0 {
		attr.Sample = s.cfg.Frequency
		attr.Bits = unix.PerfBitFreq
	}
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			return bpfenv.Explain(fmt.Sprintf("open cpu-clock perf event on CPU %d", cpu), err)
		}
		s.events = append(s.events, fd)
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: s.objs.Sample, Attach: ebpf.AttachPerfEvent})
		if err != nil {
			return bpfenv.Explain(fmt.Sprintf("attach sampler to CPU %d", cpu), err)
		}
		s.links = append(s.links, l)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sampler) loaderOptions() loader.Options {
	o := loader.Options{Warn: s.cfg.UnwindWarn, First: s.cfg.PIDs, Files: s.cfg.UnwindFiles, LoadExecs: s.cfg.Follow != 0, Workers: s.cfg.unwindWorkers}
	if s.cfg.unwindLazy {
		o.First = nil
	}
	return o
}

func (s *Sampler) cpus() ([]int, error) {
	online, err := OnlineCPUs()
	if err != nil {
		return nil, err
	}
	if s.cfg.CPU < 0 {
		return online, nil
	}
	for _, c := range online {
		if c == s.cfg.CPU {
			return []int{c}, nil
		}
	}
	return nil, fmt.Errorf("CPU %d is not online (online: %s): pick one of those with -C", s.cfg.CPU, formatCPUs(online))
}

// NewProcesses calls fn with the process ID of each process sampled for the
// first time (and again after it execs) until ctx ends; fn runs on the
// caller's goroutine, so it may capture the process while it still exists.
// It can be called once: ending ctx closes the ring buffer.
func (s *Sampler) NewProcesses(ctx context.Context, fn func(tgid uint32)) error {
	return s.procs.Run(ctx, fn)
}

// Stop detaches the program, so that what Read returns is final.
func (s *Sampler) Stop() {
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
	for _, fd := range s.events {
		unix.Close(fd)
	}
	s.events = nil
}

// Read returns the (task, stacks) entries counted since the previous Read
// and the losses in that time; it may be called while sampling runs.
func (s *Sampler) Read() ([]sample.Record, sample.Losses, error) {
	period := s.cfg.Period
	if period == 0 {
		period = uint64(time.Second) / s.cfg.Frequency
	}
	recs, losses, err := s.counts.Read()
	for i := range recs {
		recs[i].Nanos = recs[i].Count * period
	}
	return recs, losses, err
}

// CachedStacks returns how many stacks the reader holds in user space, and
// how many the kernel's stack store holds (counted by iterating it).
func (s *Sampler) CachedStacks() (user, kernel int, err error) {
	kernel, err = stackmap.Len(s.objs.Stacks)
	return s.counts.Cached(), kernel, err
}

// RunStats returns how often the sampling program ran and for how long in
// all, as counted while bpfenv.EnableStats was on.
func (s *Sampler) RunStats() (runs uint64, total time.Duration, err error) {
	st, err := s.objs.Sample.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("read sampler stats: %w", err)
	}
	return st.RunCount, st.Runtime, nil
}

// Unwind returns the unwinder's counters and what its loader holds; both
// are zero in frame-pointer mode.
func (s *Sampler) Unwind() (loader.Stats, loader.Info, error) {
	if s.unw == nil {
		return loader.Stats{}, loader.Info{}, nil
	}
	st, err := loader.ReadStats(s.objs.UnwindStats)
	return st, s.unw.Info(), err
}

// LoadProcess loads pid's unwind tables now rather than when the walker
// first asks; it does nothing in frame-pointer mode.
func (s *Sampler) LoadProcess(pid uint32) error {
	if s.unw == nil {
		return nil
	}
	return s.unw.Load(pid)
}

// walkChecks returns the counts of user walks compared with the kernel's,
// with checkUserWalk set.
func (s *Sampler) walkChecks() (stackmap.WalkChecks, error) {
	return stackmap.ReadWalkChecks(s.objs.WalkChecks)
}

// Close detaches and unloads everything.
func (s *Sampler) Close() error {
	s.Stop()
	if s.unw != nil {
		s.unw.Close()
	}
	if s.procs != nil {
		s.procs.Close()
	}
	return s.objs.Close()
}

// OnlineCPUs lists the online CPUs from /sys/devices/system/cpu/online.
func OnlineCPUs() ([]int, error) {
	const path = "/sys/devices/system/cpu/online"
	b, err := os.ReadFile(path)
	if err != nil {
		// Without sysfs, assume every CPU Go can see is online.
		cpus := make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
		return cpus, nil
	}
	cpus, err := parseCPUList(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return cpus, nil
}

// parseCPUList parses the kernel's CPU list format, e.g. "0-3,5".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("empty CPU list")
	}
	return cpus, nil
}

func formatCPUs(c []int) string {
	s := make([]string, len(c))
	for i, v := range c {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// FollowLost is how many processes forked by the followed command could not
// be followed (Config.Follow), for want of room in the filter.
func (s *Sampler) FollowLost() (uint64, error) { return procs.FollowLost(s.objs.FollowLost) }
