// Package collect runs a BPF collector for a command: it loads and attaches
// it, captures the processes it announces for symbolization, stops at the
// end of the duration or at a signal, reads the counts, and hands them to the
// symbolizer and the chosen writer. Features every collecting command shares
// (a child to profile, a live view, pushing) belong here, not in the commands.
package collect

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/bpfenv"
	"github.com/emberprof/ember/internal/interrupt"
	"github.com/emberprof/ember/internal/launch"
	"github.com/emberprof/ember/internal/outfile"
	"github.com/emberprof/ember/internal/prio"
	"github.com/emberprof/ember/internal/procs"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/symbolize"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/google/pprof/profile"
)

// Collector is a loaded, attached BPF collector; sampler.Sampler and
// offcpu.Tracer are the two.
type Collector interface {
	// NewProcesses calls fn on the caller's goroutine with each process the
	// collector sees for the first time, until ctx ends.
	NewProcesses(ctx context.Context, fn func(tgid uint32)) error
	// Stop detaches the programs, so that the next Read is final.
	Stop()
	// Read returns what was counted since the previous Read, and the
	// losses in that time.
	Read() ([]sample.Record, sample.Losses, error)
	// RunStats returns the collector's BPF program runs and their run time
	// while bpfenv.EnableStats is on.
	RunStats() (runs uint64, total time.Duration, err error)
	// Close detaches and unloads everything.
	Close() error
}

// Unwinder is a Collector that walks user stacks with DWARF unwind tables
// (unwind/loader); Run reports its walk failures.
type Unwinder interface {
	Unwind() (loader.Stats, loader.Info, error)
}

// LossWords are a command's warnings for lost data: each a format with one
// %d; Stacks also gets %s, the hint to raise --stack-storage-size.
type LossWords struct {
	Stacks, Counts string
}

// Job says what to collect and how to write it.
type Job struct {
	// Name is the command's name, the prefix of its messages.
	Name string
	// Args is the command line, stored as the profile's first comment.
	Args []string
	// Open loads and attaches the collector; it must give up when ctx ends.
	Open func(ctx context.Context) (Collector, error)
	// Duration bounds collection; 0 collects until a signal.
	Duration time.Duration
	// Stats enables the kernel's BPF run statistics for Result.Runs.
	Stats bool
	// Header, if set, is printed on stderr once the collector is attached.
	Header string
	// KernelStacks says whether kernel stacks were asked for, so that the
	// symbolizer warns when it cannot read kernel symbols.
	KernelStacks bool
	// Profile is how records become a profile; Run fills Start, Duration,
	// Comments and Cancel.
	Profile symbolize.ProfileOptions
	// Format and Output are the --format and -o values; Write says how
	// each format renders (Run fills the SVG subtitle).
	Format, Output string
	Write          flamegraph.WriteOptions
	// Losses words the warnings printed for lost stacks and counts.
	Losses LossWords
	// Boost, if not nil, is raised while loading and while writing the
	// output, and lowered while collecting, so that busy threads of the
	// profiled processes cannot starve the work that is waited on.
	Boost *prio.Boost
	// Warm, if not zero, reads the collector that often while it runs and
	// symbolizes what was read, so that little is left at the end.
	Warm time.Duration
	// Each, if set, gets the profile of what was collected in each
	// EachInterval (and in the last, shorter one when collection ends),
	// symbolized as the final profile is: pushing to a server, a live
	// view. It is called from the reading goroutine, never from sampling,
	// and should hand the profile off rather than wait on the network.
	Each         func(p *profile.Profile)
	EachInterval time.Duration
	// NoOutput skips writing the final profile: each interval was pushed.
	NoOutput bool
	// Forget, with Each, drops processes that exited after each interval,
	// so that memory stays bounded on a run of days; the final profile
	// then names only the frames of processes still known.
	Forget bool
	// Command, if set, is the command the collector follows (-- CMD),
	// held until the collector is attached: collection ends when it exits,
	// and if collection ends first (a signal, the duration) it gets
	// SIGTERM, as perf record's workload does.
	Command *launch.Child
}

// Follower is a collector that follows a command's processes as they are
// forked and can say how many it could not.
type Follower interface {
	FollowLost() (uint64, error)
}

// Result is what a run collected, with the figures --stats prints.
type Result struct {
	Records []sample.Record
	Losses  sample.Losses
	// Attach is the time from the start of Run to the collector attached;
	// Collecting from then to the end of collection; Output from then to
	// the profile written.
	Attach, Collecting, Output time.Duration
	// CollectingCPU is this process's CPU time while collecting; TotalCPU
	// its CPU time in all.
	CollectingCPU, TotalCPU time.Duration
	// Runs and BPFTime are the BPF program's runs and run time (Job.Stats).
	Runs    uint64
	BPFTime time.Duration
	// Captures counts the processes announced for symbolization.
	Captures Captures
	// From the end of collection: to the last warm pass done, the records
	// read, the profile built.
	WarmWait, Read, Symbolized time.Duration
	// Symbolizer counts the symbolizer's work.
	Symbolizer symbolize.Counts
	// Unwind and UnwindInfo are the DWARF walker's counters and tables,
	// when the collector is an Unwinder.
	Unwind     loader.Stats
	UnwindInfo loader.Info
	// ExitStatus is Job.Command's, as a shell reports it.
	ExitStatus int
}

// Captures counts the outcomes of capturing announced processes.
type Captures struct {
	// OK were captured; Gone had exited before they could be; Denied could
	// not be read for lack of privilege (the symbolizer warns of those);
	// Failed failed otherwise, FirstError saying how.
	OK, Gone, Denied, Failed int
	FirstError               error
}

func (c *Captures) note(pid uint32, err error) {
	switch {
	case err == nil:
		c.OK++
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH):
		c.Gone++
	case errors.Is(err, fs.ErrPermission):
		c.Denied++
	default:
		c.Failed++
		if c.FirstError == nil {
			c.FirstError = fmt.Errorf("process %d: %w", pid, err)
		}
	}
}

// Run collects, symbolizes and writes the job's profile, printing the
// command's warnings on stderr. The first signal ends collection; one during
// symbolization cuts it short (see interrupt.Watch).
func Run(sigs *interrupt.Watch, job Job, stdout, stderr io.Writer) (*Result, error) {
	ctx := sigs.Collecting()
	t0 := time.Now()
	if job.Stats {
		st, err := bpfenv.EnableStats()
		if err != nil {
			return nil, err
		}
		defer st.Close()
	}
	sym := symbolize.New(symbolize.Config{})
	defer sym.Close()
	c, err := job.Open(ctx)
	if err != nil {
		if job.Command != nil {
			job.Command.Abandon()
		}
		return nil, err
	}
	defer c.Close()
	attached := time.Now()
	// exited is closed when the command has exited with status.
	var exited chan struct{}
	var status int
	if job.Command != nil {
		if err := job.Command.Release(); err != nil {
			job.Command.Abandon()
			return nil, err
		}
		exited = make(chan struct{})
		go func() {
			status = job.Command.Wait()
			close(exited)
		}()
	}
	job.Boost.Lower()
	cpuAttached := selfCPU()
	if job.Header != "" {
		fmt.Fprintln(stderr, job.Header)
	}

	runCtx := ctx
	if job.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, job.Duration)
		defer cancel()
	}
	if exited != nil {
		var end context.CancelFunc
		runCtx, end = context.WithCancel(runCtx)
		defer end()
		go func() {
			select {
			case <-exited:
				end()
			case <-runCtx.Done():
			}
		}()
	}
	var (
		mu       sync.Mutex
		captures Captures
	)
	captured := make(chan error, 1)
	go func() {
		captured <- c.NewProcesses(runCtx, func(pid uint32) {
			err := sym.Capture(pid)
			mu.Lock()
			captures.note(pid, err)
			mu.Unlock()
		})
	}()
	var warmed []sample.Record
	var warmLosses sample.Losses
	warmDone := make(chan error, 1)
	each := newIntervals(job, sym, attached)
	go func() { warmDone <- warm(runCtx, c, sym, job.Warm, each, &warmed, &warmLosses) }()
	<-runCtx.Done()
	sigs.EndCollection() // from now on a signal cuts symbolization short
	end := time.Now()
	if exited != nil {
		select {
		case <-exited:
		default:
			// Collection ended first: a signal or the duration.
			job.Command.Signal(syscall.SIGTERM)
		}
	}
	job.Boost.Raise()
	res := &Result{Attach: attached.Sub(t0), Collecting: end.Sub(attached), CollectingCPU: selfCPU() - cpuAttached}
	if job.Stats {
		if res.Runs, res.BPFTime, err = c.RunStats(); err != nil {
			fmt.Fprintf(stderr, "%s: --stats: %v\n", job.Name, err)
		}
	}
	c.Stop()
	select {
	case err := <-captured:
		if err != nil {
			return nil, err
		}
	case <-sigs.Cancel():
	}
	if err := <-warmDone; err != nil {
		return nil, err
	}
	res.WarmWait = time.Since(end)
	recs, losses, err := c.Read()
	if err != nil {
		return nil, err
	}
	res.Records, res.Losses = Merge(append(warmed, recs...)), AddLosses(warmLosses, losses)
	if err := each.last(recs, end); err != nil {
		return nil, err
	}
	res.Read = time.Since(end)
	var lost uint64
	if f, ok := c.(Follower); ok && job.Command != nil {
		if lost, err = f.FollowLost(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", job.Name, err)
		}
	}
	if u, ok := c.(Unwinder); ok {
		if res.Unwind, res.UnwindInfo, err = u.Unwind(); err != nil {
			fmt.Fprintf(stderr, "%s: unwind counters: %v\n", job.Name, err)
		}
	}
	// Unload the BPF programs before symbolizing, which reads files of
	// other users and may be slow.
	c.Close()
	po := job.Profile
	po.Start, po.Duration, po.Cancel = attached, end.Sub(attached), sigs.Cancel()
	po.Comments = Comments(job.Name, job.Args, res.Losses)
	prof, err := sym.Profile(res.Records, po)
	if err != nil {
		return nil, err
	}
	res.Symbolized = time.Since(end)
	wo := job.Write
	wo.SVG.Subtitle = po.Comments[0]
	if !job.NoOutput {
		if err := outfile.Write(job.Output, stdout, func(w io.Writer) error {
			return flamegraph.Write(w, prof, job.Format, wo)
		}); err != nil {
			return nil, err
		}
	}
	select {
	case <-sigs.Cancel():
		fmt.Fprintf(stderr, "%s: interrupted while symbolizing: frames not yet looked up are [unknown]\n", job.Name)
	default:
	}
	ReportLosses(stderr, job.Losses, res.Losses)
	if lost > 0 {
		fmt.Fprintf(stderr, "WARNING: %d processes of the command could not be followed (more than %d alive at once); their samples are missing\n", lost, procs.FollowEntries)
	}
	if w := loader.Warning(res.Unwind); w != "" {
		fmt.Fprintln(stderr, w)
	}
	mu.Lock()
	res.Captures = captures
	mu.Unlock()
	if n := res.Captures.Failed; n > 0 {
		fmt.Fprintf(stderr, "WARNING: %d processes could not be captured for symbolization, their frames may be [unknown] (%v)\n", n, res.Captures.FirstError)
	}
	for _, w := range sym.Warnings(job.KernelStacks) {
		fmt.Fprintln(stderr, w)
	}
	res.Symbolizer = sym.Counts()
	res.Output, res.TotalCPU = time.Since(end), selfCPU()
	if exited != nil {
		<-exited
		res.ExitStatus = status
	}
	return res, nil
}

// warm reads c every interval (or, with none, as often as each needs) until
// ctx ends, symbolizes what it read when the machine has a CPU to spare
// (idleMeter) and adds it to recs and losses, and hands each interval's
// records to each; reads return what was counted since the previous one, so
// nothing is read twice.
func warm(ctx context.Context, c Collector, sym *symbolize.Symbolizer, interval time.Duration, each *intervals, recs *[]sample.Record, losses *sample.Losses) error {
	if interval <= 0 || (each != nil && each.every < interval) {
		if each == nil {
			return nil
		}
		interval = each.every
	}
	if each != nil {
		each.tick = interval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	idle := &idleMeter{path: "/proc/stat"}
	behind := false      // records read while busy are not warmed yet
	kernelAsked := false // PreloadKernel was called
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Judge by the time just before reading: a program started
		// since the last read has had little time to show in it.
		idle.spare()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(idleWindow):
		}
		r, l, err := c.Read()
		if err != nil {
			return err
		}
		spare := idle.spare()
		if spare && !kernelAsked {
			// Reading /proc/kallsyms takes 70-200 ms of CPU; on a busy
			// machine it waits for the end, not to slow the programs.
			sym.PreloadKernel()
			kernelAsked = true
		}
		switch {
		case !spare:
			behind = true
		case behind:
			// Stacks already warmed are skipped.
			sym.Warm(*recs)
			sym.Warm(r)
			behind = false
		default:
			sym.Warm(r)
		}
		*losses = AddLosses(*losses, l)
		if each != nil {
			if err := each.add(r, time.Now()); err != nil {
				return err
			}
			if each.forget {
				// The final profile cannot name what was forgotten:
				// keep only what is merged, bounded by distinct stacks.
				*recs = Merge(append(*recs, r...))
				continue
			}
		}
		*recs = append(*recs, r...)
	}
}

// intervals cuts collection into profiles of EachInterval for Job.Each.
type intervals struct {
	fn      func(*profile.Profile)
	every   time.Duration
	tick    time.Duration // how often warm reads
	forget  bool
	sym     *symbolize.Symbolizer
	opts    symbolize.ProfileOptions
	start   time.Time
	pending []sample.Record
}

// newIntervals returns nil when job has no Each.
func newIntervals(job Job, sym *symbolize.Symbolizer, start time.Time) *intervals {
	if job.Each == nil {
		return nil
	}
	every := job.EachInterval
	if every <= 0 {
		every = 15 * time.Second
	}
	return &intervals{fn: job.Each, every: every, forget: job.Forget, sym: sym, opts: job.Profile, start: start}
}

// add takes one read's records, and hands on the interval's profile once it
// is EachInterval long.
func (iv *intervals) add(recs []sample.Record, now time.Time) error {
	if iv == nil {
		return nil
	}
	iv.pending = append(iv.pending, recs...)
	// Reads come every tick give or take the scheduler: one a hair early
	// still ends the interval, or it would last a tick longer.
	if now.Sub(iv.start) < iv.every-iv.tick/2 {
		return nil
	}
	return iv.flush(now)
}

// last hands on the records of the last, shorter interval.
func (iv *intervals) last(recs []sample.Record, now time.Time) error {
	if iv == nil {
		return nil
	}
	iv.pending = append(iv.pending, recs...)
	return iv.flush(now)
}

func (iv *intervals) flush(now time.Time) error {
	o := iv.opts
	o.Start, o.Duration = iv.start, now.Sub(iv.start)
	p, err := iv.sym.Profile(Merge(iv.pending), o)
	if err != nil {
		return err
	}
	iv.pending, iv.start = nil, now
	iv.fn(p)
	if iv.forget {
		iv.sym.Forget()
	}
	return nil
}

// AddLosses sums two sets of loss counters.
func AddLosses(a, b sample.Losses) sample.Losses {
	return sample.Losses{
		KernelStackErrors: a.KernelStackErrors + b.KernelStackErrors,
		UserStackErrors:   a.UserStackErrors + b.UserStackErrors,
		StackMapFull:      a.StackMapFull + b.StackMapFull,
		CountMapFull:      a.CountMapFull + b.CountMapFull,
	}
}

// Merge sums the records of the same task and stacks, as several reads of
// a collector give, into one each, in the order first seen: output shows
// each (task, stacks) once, as a single read of the whole run would.
func Merge(recs []sample.Record) []sample.Record {
	index := make(map[string]int, len(recs))
	out := recs[:0:0]
	var b []byte
	for _, r := range recs {
		b = b[:0]
		b = binary.NativeEndian.AppendUint32(b, r.TGID)
		b = binary.NativeEndian.AppendUint32(b, r.TID)
		b = append(b, r.Comm...)
		b = append(b, 0)
		if r.OffCPU {
			b = append(b, 1)
		}
		for _, st := range []sample.Stack{r.Kernel, r.User} {
			b = append(b, byte(st.State))
			b = binary.NativeEndian.AppendUint32(b, uint32(len(st.PCs)))
			for _, pc := range st.PCs {
				b = binary.NativeEndian.AppendUint64(b, pc)
			}
		}
		if i, ok := index[string(b)]; ok {
			out[i].Count += r.Count
			out[i].Nanos += r.Nanos
			continue
		}
		index[string(b)] = len(out)
		out = append(out, r)
	}
	return out
}

// Comments are the comments stored in a profile: the command line and the
// loss counters.
func Comments(name string, args []string, l sample.Losses) []string {
	return []string{
		name + " " + strings.Join(args, " "),
		fmt.Sprintf("losses: kernel_stack_errors=%d user_stack_errors=%d stack_map_full=%d count_map_full=%d",
			l.KernelStackErrors, l.UserStackErrors, l.StackMapFull, l.CountMapFull),
	}
}

// ReportLosses prints the command's warnings for whatever was lost.
func ReportLosses(w io.Writer, words LossWords, l sample.Losses) {
	if n := l.Stacks(); n > 0 {
		hint := ""
		if l.StackMapFull > 0 {
			hint = " Consider increasing --stack-storage-size."
		}
		fmt.Fprintf(w, words.Stacks+"\n", n, hint)
	}
	if l.CountMapFull > 0 {
		fmt.Fprintf(w, words.Counts+"\n", l.CountMapFull)
	}
}

// Records sums the counts of recs.
func Records(recs []sample.Record) (n uint64) {
	for _, r := range recs {
		n += r.Count
	}
	return n
}

// ExitStatus prints err, the outcome of a collecting command's run, as one
// line and returns the exit status: 0 for nil, 2 for a map size (named by
// its option in mapFlags) that cannot fit in memory, 1 otherwise.
func ExitStatus(name string, err error, mapFlags map[string]string, stderr io.Writer) int {
	var me *bpfenv.MemoryError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &me) && mapFlags[me.Map] != "":
		fmt.Fprintf(stderr, "%s: %s %d needs %s of kernel memory with the other maps, more than the %s limit (half of MemAvailable in /proc/meminfo): use at most %d\n",
			name, mapFlags[me.Map], me.Entries, bpfenv.FormatBytes(me.Bytes), bpfenv.FormatBytes(me.Limit), me.MaxEntries)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: interrupted while loading the BPF program: nothing was collected\n", name)
		return 1
	case errors.As(err, new(launch.NotFoundError)):
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 127 // as a shell says a command is not found
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// selfCPU returns this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
