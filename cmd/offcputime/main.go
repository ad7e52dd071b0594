// Command offcputime sums the time threads spend blocked off CPU by stack, as
// BCC's offcputime does, and prints it as BCC does or writes a pprof profile.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/collect"
	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/idlist"
	"github.com/emberprof/ember/internal/interrupt"
	"github.com/emberprof/ember/internal/launch"
	"github.com/emberprof/ember/internal/prio"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/offcpu"
	"github.com/emberprof/ember/push"
	"github.com/emberprof/ember/symbolize"
	"github.com/emberprof/ember/unwind/loader"
)

const usageHead = `usage: offcputime [-h] [-p PID | -t TID | -u | -k] [-U | -K] [-d] [-f]
                  [--stack-storage-size SIZE] [-m MIN_BLOCK_TIME]
                  [-M MAX_BLOCK_TIME] [--state STATE] [--format FORMAT]
                  [-o FILE] [duration] [-- CMD [ARG...]]

Summarize off-CPU time by stack trace: a BPF program on the sched_switch
tracepoint times each block of every thread (or the chosen ones) and sums it
in the kernel by thread and stacks. Output is BCC offcputime's: multi-line
stacks by default, folded stacks with -f (input for flamegraph), values in
microseconds; --format pprof or svg writes a pprof profile or an off-CPU flame
graph instead.

positional arguments:
  duration                         duration of trace, in seconds (default: until Ctrl-C)
  -- CMD [ARG...]                  run CMD and trace it and every process it forks,
                                   until it exits; exit with its status

options:
`

const usageTail = `
examples:
    ./offcputime             # trace off-CPU stack time until Ctrl-C
    ./offcputime 5           # trace for 5 seconds only
    ./offcputime -f 5        # 5 seconds, and output in folded format
    ./offcputime -m 1000     # trace only events that last more than 1000 usec
    ./offcputime -M 10000    # trace only events that last less than 10000 usec
    ./offcputime -p 185      # only trace threads for PID 185
    ./offcputime -t 188      # only trace thread 188
    ./offcputime -u          # only trace user threads (no kernel)
    ./offcputime -k          # only trace kernel threads (no user)
    ./offcputime -U          # only show user space stacks (no kernel)
    ./offcputime -K          # only show kernel space stacks (no user)
    ./offcputime --state 2   # only trace threads in TASK_UNINTERRUPTIBLE
    ./offcputime -fKu 5 > off.folded && flamegraph < off.folded > off.svg
    ./offcputime --format pprof -o off.pb.gz 10 && go tool pprof -top off.pb.gz
    ./offcputime --format svg -o off.svg 10    # off-CPU flame graph
    ./offcputime -f -o test.folded -- make test  # trace a command and its children

Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF (Linux 5.8+).
Exit status: 0 on success, 1 on a runtime error, 2 on a usage error; with
-- CMD, CMD's (128+N if signal N killed it, 127 if it cannot be found).
CMD is held before its first instruction until tracing is attached; under
sudo it runs as the user who ran sudo. If tracing ends first (Ctrl-C sent to
offcputime alone, or the duration) CMD gets SIGTERM, as perf record's does.
`

// config is everything the command line says.
type config struct {
	offcpu   offcpu.Config
	duration time.Duration // 0: until a signal
	format   string
	delimit  bool
	output   string
	stats    bool
	args     []string
	command  []string       // after --: run and follow it (nil: none)
	outlet   collect.Outlet // --push, --http
}

// usageError is collect.UsageError, by the name the tests use.
type usageError = collect.UsageError

// flags holds the values of the command line options.
type flags struct {
	outlets                               *collect.Outlets
	pids, tids, state, format, output     *string
	userThreads, kernelThreads            *bool
	userOnly, kernelOnly, delimit, folded *bool
	stats                                 *bool
	unwind                                *string
	unwindRows                            *uint64
	minBlock, maxBlock, stackSize         *uint64
}

func defineFlags(fs *getopt.Set) *flags {
	return &flags{
		pids:          fs.String('p', "pid", "PID", "", "trace these PIDs only, comma separated"),
		tids:          fs.String('t', "tid", "TID", "", "trace these TIDs only, comma separated"),
		userThreads:   fs.Bool('u', "user-threads-only", "user threads only (no kernel threads)"),
		kernelThreads: fs.Bool('k', "kernel-threads-only", "kernel threads only (no user threads)"),
		userOnly:      fs.Bool('U', "user-stacks-only", "show stacks from user space only (no kernel space stacks)"),
		kernelOnly:    fs.Bool('K', "kernel-stacks-only", "show stacks from kernel space only (no user space stacks)"),
		delimit:       fs.Bool('d', "delimited", "insert delimiter between kernel/user stacks"),
		folded:        fs.Bool('f', "folded", "output folded format"),
		stackSize:     fs.Uint(0, "stack-storage-size", "SIZE", 16384, "the number of unique stack traces that can be stored and displayed (default 16384)"),
		minBlock:      fs.Uint('m', "min-block-time", "MIN_BLOCK_TIME", 1, "the amount of time in microseconds over which we store traces (default 1)"),
		maxBlock:      fs.Uint('M', "max-block-time", "MAX_BLOCK_TIME", math.MaxUint64, "the amount of time in microseconds under which we store traces (default U64_MAX)"),
		state:         fs.String(0, "state", "STATE", "", "filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE) see include/linux/sched.h"),
		format:        fs.String(0, "format", "FORMAT", "", "text (BCC multi-line), folded, pprof or svg (default text; folded with -f)"),
		output:        fs.String('o', "output", "FILE", "", "write to FILE, atomically, instead of standard output"),
		stats:         fs.Bool(0, "stats", "print the BPF program's run count and cost per context switch on stderr"),
		unwind:        fs.String(0, "unwind", "MODE", "auto", loader.ModeHelp),
		unwindRows:    fs.Uint(0, "unwind-rows", "N", loader.DefaultRows, loader.RowsHelp),
		outlets:       collect.DefineOutlets(fs),
	}
}

func parseArgs(args []string, procRoot string) (*config, error) {
	var fs getopt.Set
	f := defineFlags(&fs)
	rest, command, err := fs.ParseCommand(args)
	if errors.Is(err, getopt.ErrHelp) {
		return nil, err
	}
	if err != nil {
		return nil, usageError{Err: err}
	}
	c := &config{format: *f.format, delimit: *f.delimit, output: *f.output, stats: *f.stats, args: args}
	exclusive := 0
	for _, set := range []bool{*f.pids != "", *f.tids != "", *f.userThreads, *f.kernelThreads} {
		if set {
			exclusive++
		}
	}
	c.command = command
	switch {
	case command != nil && len(command) == 0:
		return nil, usageError{Err: errors.New("-- must be followed by a command to run, e.g. -- make test")}
	case command != nil && (*f.pids != "" || *f.tids != ""):
		return nil, usageError{Err: errors.New("-p and -t cannot be used with -- CMD: the command's own processes are followed")}
	case exclusive > 1:
		return nil, usageError{Err: errors.New("-p, -t, -u and -k exclude each other: pick one thread filter")}
	case *f.userOnly && *f.kernelOnly:
		return nil, usageError{Err: errors.New("-U and -K cannot be used together: omit both to show user and kernel stacks")}
	case len(rest) > 1:
		return nil, usageError{Err: fmt.Errorf("unexpected arguments %q: only one duration in seconds is accepted", rest[1:])}
	case *f.stackSize == 0 || *f.stackSize > 1<<24:
		return nil, usageError{Err: fmt.Errorf("--stack-storage-size %d out of range: use 1 to 16777216", *f.stackSize)}
	case *f.minBlock > math.MaxInt64/1000:
		return nil, usageError{Err: fmt.Errorf("-m %d is too large: give microseconds below %d", *f.minBlock, uint64(math.MaxInt64/1000))}
	case *f.maxBlock == 0:
		return nil, usageError{Err: errors.New("-M 0: the maximum block time must be at least 1 µs")}
	case *f.maxBlock < *f.minBlock:
		return nil, usageError{Err: fmt.Errorf("-M %d is below -m %d: the maximum block time must be at least the minimum", *f.maxBlock, *f.minBlock)}
	}
	switch c.format {
	case "":
		c.format = "text"
		if *f.folded {
			c.format = "folded"
		}
	case "text", "folded", "pprof", "svg":
	default:
		return nil, usageError{Err: fmt.Errorf("--format %q: use text, folded, pprof or svg", c.format)}
	}
	if len(rest) == 1 {
		d, err := idlist.Seconds(rest[0])
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("duration %q: give whole seconds from 1 to %d, e.g. 5", rest[0], idlist.MaxSeconds)}
		}
		c.duration = d
	}
	c.offcpu = offcpu.Config{
		UserThreadsOnly:   *f.userThreads,
		KernelThreadsOnly: *f.kernelThreads,
		MinBlock:          time.Duration(*f.minBlock) * time.Microsecond,
		KernelStacks:      !*f.userOnly,
		UserStacks:        !*f.kernelOnly,
		StackStorageSize:  uint32(*f.stackSize),
	}
	if *f.maxBlock <= math.MaxInt64/1000 {
		c.offcpu.MaxBlock = time.Duration(*f.maxBlock) * time.Microsecond
	}
	if *f.state != "" {
		s, err := strconv.ParseUint(*f.state, 0, 32)
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("--state %q: give a task state mask, e.g. 2 for TASK_UNINTERRUPTIBLE or 0 for preempted", *f.state)}
		}
		st := uint32(s)
		c.offcpu.State = &st
	}
	if c.offcpu.PIDs, err = collect.ParseIDs(*f.pids, "-p", "process", procRoot); err != nil {
		return nil, err
	}
	if c.offcpu.TIDs, err = collect.ParseIDs(*f.tids, "-t", "thread", procRoot); err != nil {
		return nil, err
	}
	if c.offcpu.Unwind, err = loader.ParseMode(*f.unwind); err != nil {
		return nil, usageError{Err: err}
	}
	if c.offcpu.UnwindRows, err = loader.CheckRows(*f.unwindRows); err != nil {
		return nil, usageError{Err: err}
	}
	outputAsked := *f.output != "" || *f.format != "" || *f.folded
	if c.outlet, err = f.outlets.Parse("offcpu", push.DefaultService("offcputime", command, c.offcpu.PIDs, procRoot), outputAsked); err != nil {
		return nil, err
	}
	return c, nil
}

func main() { collect.Main("offcputime", run) }

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, "/proc")
	output := ""
	if cfg != nil {
		output = cfg.output
	}
	if code, ok := collect.Parsed("offcputime", err, usage, output, stdout, stderr); !ok {
		return code
	}
	sigs := interrupt.Start("offcputime", stderr)
	defer sigs.Stop()
	res, err := record(sigs, cfg, stdout, stderr)
	if err != nil {
		return collect.ExitStatus("offcputime", err, mapFlags, stderr)
	}
	return res.ExitStatus
}

// mapFlags names the option that sizes each BPF map.
var mapFlags = map[string]string{"stacks": "--stack-storage-size"}

func usage() string {
	var fs getopt.Set
	defineFlags(&fs)
	return usageHead + "  -h, --help                       show this help message and exit\n" + fs.Usage() + usageTail
}

// record traces blocks as cfg says and writes the profile: text, folded and
// SVG values are microseconds of blocked time, as in BCC.
func record(sigs *interrupt.Watch, cfg *config, stdout, stderr io.Writer) (*collect.Result, error) {
	job := collect.Job{
		Name: "offcputime",
		Args: cfg.args,
		Open: func(ctx context.Context) (collect.Collector, error) {
			t, err := offcpu.OpenContext(ctx, cfg.offcpu)
			if err != nil {
				return nil, err
			}
			return t, nil
		},
		Duration:     cfg.duration,
		Stats:        cfg.stats,
		KernelStacks: cfg.offcpu.KernelStacks,
		Profile:      symbolize.ProfileOptions{OffCPU: true, KernelLeaf: offcpu.KernelLeaf},
		Format:       cfg.format,
		Output:       cfg.output,
		Write: flamegraph.WriteOptions{
			Fold: flamegraph.FoldOptions{
				SampleIndex: 1,
				Divisor:     1000,
				Delimit:     cfg.delimit && cfg.offcpu.KernelStacks && cfg.offcpu.UserStacks,
			},
			IDLabel: sample.LabelTID,
			// Brendan Gregg's off-CPU flame graphs: the io palette, in µs.
			SVG: flamegraph.SVGOptions{Title: "Off-CPU Time Flame Graph", CountName: "us", Colors: "io"},
		},
		// Symbolize what was counted once a second while tracing, as
		// profile does, so that little is left when it ends.
		Warm: time.Second,
		Losses: collect.LossWords{
			Stacks: "WARNING: %d stack traces lost and could not be displayed.%s",
			Counts: "WARNING: %d blocks could not be counted: the hash table was full or the kernel out of memory.",
		},
	}
	cfg.offcpu.UnwindWarn = stderr
	if cfg.format == "text" {
		job.Header = header(cfg)
	}
	flow, err := cfg.outlet.Start(&job, "offcputime", stderr)
	if err != nil {
		return nil, err
	}
	defer flow.Close()
	if cfg.command != nil {
		child, err := launch.Start(cfg.command, (*prio.Boost)(nil).Base())
		if err != nil {
			return nil, err
		}
		cfg.offcpu.Follow = child.Pid
		// Its tables are built while it waits to exec.
		cfg.offcpu.UnwindFiles = loader.CommandFiles(child.Path)
		job.Command = child
	}
	res, err := collect.Run(sigs, job, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if cfg.stats {
		var perRun float64
		if res.Runs > 0 {
			perRun = float64(res.BPFTime.Nanoseconds()) / float64(res.Runs)
		}
		fmt.Fprintf(stderr, "stats: entries=%d bpf_runs=%d bpf_ns_per_run=%.0f\n", len(res.Records), res.Runs, perRun)
		if cfg.offcpu.Unwind != loader.ModeFP {
			fmt.Fprintln(stderr, loader.Fields(cfg.offcpu.Unwind, res.Unwind, res.UnwindInfo))
		}
	}
	flow.Serve(sigs.Cancel())
	return res, nil
}

// header is BCC offcputime's first line.
func header(cfg *config) string {
	var b strings.Builder
	b.WriteString("Tracing off-CPU time (us) of ")
	o := cfg.offcpu
	switch {
	case len(o.PIDs) > 0:
		fmt.Fprintf(&b, "PID %s", idlist.Format(o.PIDs))
	case len(o.TIDs) > 0:
		fmt.Fprintf(&b, "TID %s", idlist.Format(o.TIDs))
	case o.UserThreadsOnly:
		b.WriteString("user threads")
	case o.KernelThreadsOnly:
		b.WriteString("kernel threads")
	default:
		b.WriteString("all threads")
	}
	switch {
	case !o.KernelStacks:
		b.WriteString(" by user stack")
	case !o.UserStacks:
		b.WriteString(" by kernel stack")
	default:
		b.WriteString(" by user + kernel stack")
	}
	if cfg.duration > 0 {
		fmt.Fprintf(&b, " for %d secs.", int64(cfg.duration/time.Second))
	} else {
		b.WriteString("... Hit Ctrl-C to end.")
	}
	return b.String()
}
