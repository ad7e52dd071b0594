// Command profile samples stack traces at a timed interval on every CPU (or
// the chosen processes) and prints them as BCC's profile tool does, or writes
// a pprof profile or an SVG flame graph.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/emberprof/ember/sampler"
	"github.com/emberprof/ember/symbolize"
	"github.com/emberprof/ember/unwind/loader"
)

const usageHead = `usage: profile [-h] [-p PID | -L TID] [-U | -K] [-F FREQUENCY | -c COUNT]
               [-d] [-a] [-I] [-f] [--stack-storage-size SIZE]
               [--hash-storage-size SIZE] [-C CPU] [--format FORMAT] [-o FILE]
               [duration] [-- CMD [ARG...]]

Profile CPU stack traces at a timed interval: a BPF program on a cpu-clock
perf event per CPU takes the kernel and user stacks of whatever runs and counts
them in the kernel. Output is BCC profile's: multi-line stacks by default,
folded stacks with -f (input for flamegraph), or pprof and SVG with --format.

positional arguments:
  duration                         duration of trace, in seconds (default: until Ctrl-C)
  -- CMD [ARG...]                  run CMD and profile it and every process it forks,
                                   until it exits; exit with its status

options:
`

const usageTail = `
examples:
    ./profile             # profile stack traces at 49 Hertz until Ctrl-C
    ./profile -F 99       # profile stack traces at 99 Hertz
    ./profile -c 1000000  # profile stack traces every 1 in a million events
    ./profile 5           # profile at 49 Hertz for 5 seconds only
    ./profile -f 5        # output in folded format for flame graphs
    ./profile -af 30 > out.folded   # 30 s, kernel frames annotated _[k], folded
    ./profile -p 185      # only profile process with PID 185
    ./profile -L 185      # only profile thread with TID 185
    ./profile -U          # only show user space stacks (no kernel)
    ./profile -K          # only show kernel space stacks (no user)
    ./profile -C 0        # only profile CPU 0
    ./profile --format pprof -o cpu.pb.gz 10 && go tool pprof -top cpu.pb.gz
    ./profile --format svg -o cpu.svg 30   # flame graph, open in a browser
    ./profile -F 499 --format pprof -o run1.pb.gz -- make bench  # a command and its children

Needs root (or CAP_BPF and CAP_PERFMON) and a kernel with BTF (Linux 5.8+).
Exit status: 0 on success, 1 on a runtime error, 2 on a usage error; with
-- CMD, CMD's (128+N if signal N killed it, 127 if it cannot be found).
CMD is held before its first instruction until sampling is attached; under
sudo it runs as the user who ran sudo. If collection ends first (Ctrl-C sent
to profile alone, or the duration) CMD gets SIGTERM, as perf record's does.
`

// config is everything the command line says.
type config struct {
	sampler  sampler.Config
	duration time.Duration // 0: until a signal
	folded   bool
	annotate bool
	delimit  bool
	format   string
	output   string
	stats    bool
	args     []string
	command  []string       // after --: run and follow it (nil: none)
	wall     bool           // --wall: off-CPU time beside the CPU samples
	outlet   collect.Outlet // --push, --http
}

// usageError is collect.UsageError, by the name the tests use.
type usageError = collect.UsageError

// flags holds the values of the command line options.
type flags struct {
	wall                             *bool
	outlets                          *collect.Outlets
	pids, tids, format, output       *string
	userOnly, kernelOnly, delimit    *bool
	annotate, idle, folded, stats    *bool
	freq, count, stackSize, hashSize *uint64
	cpu                              *int64
	unwind                           *string
	unwindRows                       *uint64
}

func defineFlags(fs *getopt.Set) *flags {
	return &flags{
		pids:       fs.String('p', "pid", "PID", "", "profile process with one or more comma separated PIDs only"),
		tids:       fs.String('L', "tid", "TID", "", "profile thread with one or more comma separated TIDs only"),
		userOnly:   fs.Bool('U', "user-stacks-only", "show stacks from user space only (no kernel space stacks)"),
		kernelOnly: fs.Bool('K', "kernel-stacks-only", "show stacks from kernel space only (no user space stacks)"),
		freq:       fs.Uint('F', "frequency", "FREQUENCY", 0, "sample frequency, Hertz (default 49)"),
		count:      fs.Uint('c', "count", "COUNT", 0, "sample period, nanoseconds of CPU time"),
		delimit:    fs.Bool('d', "delimited", "insert delimiter between kernel/user stacks"),
		annotate:   fs.Bool('a', "annotations", "add _[k] annotations to kernel frames"),
		idle:       fs.Bool('I', "include-idle", "include CPU idle stacks"),
		folded:     fs.Bool('f', "folded", "output folded format, one line per stack (for flame graphs)"),
		stackSize:  fs.Uint(0, "stack-storage-size", "SIZE", 16384, "the number of unique stack traces that can be stored and displayed (default 16384)"),
		hashSize:   fs.Uint(0, "hash-storage-size", "SIZE", 40960, "the number of hash keys that can be stored and displayed (default 40960)"),
		cpu:        fs.Int('C', "cpu", "CPU", -1, "cpu number to run profile on"),
		format:     fs.String(0, "format", "FORMAT", "", "text (BCC multi-line), folded, pprof or svg (default text; folded with -f)"),
		output:     fs.String('o', "output", "FILE", "", "write to FILE, atomically, instead of standard output"),
		stats:      fs.Bool(0, "stats", "print timings and the profiler's own CPU time on stderr"),
		unwind:     fs.String(0, "unwind", "MODE", "auto", loader.ModeHelp),
		unwindRows: fs.Uint(0, "unwind-rows", "N", loader.DefaultRows, loader.RowsHelp),
		wall:       fs.Bool(0, "wall", "wall-clock time: trace off-CPU time beside the CPU samples, both in one profile (values in ns; µs in folded and SVG output)"),
		outlets:    collect.DefineOutlets(fs),
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
	c := &config{folded: *f.folded, annotate: *f.annotate, delimit: *f.delimit, format: *f.format, output: *f.output, stats: *f.stats, args: args}
	c.command = command
	switch {
	case command != nil && len(command) == 0:
		return nil, usageError{Err: errors.New("-- must be followed by a command to run, e.g. -- make test")}
	case command != nil && (*f.pids != "" || *f.tids != ""):
		return nil, usageError{Err: errors.New("-p and -L cannot be used with -- CMD: the command's own processes are followed")}
	case *f.pids != "" && *f.tids != "":
		return nil, usageError{Err: errors.New("-p and -L cannot be used together: give processes with -p or threads with -L")}
	case *f.freq != 0 && *f.count != 0:
		return nil, usageError{Err: errors.New("-F and -c cannot be used together: sample by frequency or by count")}
	case *f.userOnly && *f.kernelOnly:
		return nil, usageError{Err: errors.New("-U and -K cannot be used together: omit both to show user and kernel stacks")}
	case len(rest) > 1:
		return nil, usageError{Err: fmt.Errorf("unexpected arguments %q: only one duration in seconds is accepted", rest[1:])}
	case *f.stackSize == 0 || *f.stackSize > 1<<24:
		return nil, usageError{Err: fmt.Errorf("--stack-storage-size %d out of range: use 1 to 16777216", *f.stackSize)}
	case *f.hashSize == 0 || *f.hashSize > 1<<24:
		return nil, usageError{Err: fmt.Errorf("--hash-storage-size %d out of range: use 1 to 16777216", *f.hashSize)}
	case fs.Given("frequency") && *f.freq == 0:
		return nil, usageError{Err: errors.New("-F 0: the sample frequency must be at least 1 Hz (default 49)")}
	case fs.Given("count") && *f.count == 0:
		return nil, usageError{Err: errors.New("-c 0: the sample period must be at least 1 ns of CPU time")}
	case *f.cpu < -1:
		return nil, usageError{Err: fmt.Errorf("-C %d: CPU numbers start at 0", *f.cpu)}
	}
	if *f.freq == 0 && *f.count == 0 {
		*f.freq = 49
	}
	if *f.freq > 100000 {
		return nil, usageError{Err: fmt.Errorf("-F %d is too high: use at most 100000 Hz", *f.freq)}
	}
	switch c.format {
	case "":
		c.format = "text"
		if c.folded {
			c.format = "folded"
		}
	case "text", "folded", "pprof", "svg":
	default:
		return nil, usageError{Err: fmt.Errorf("--format %q: use text, folded, pprof or svg", c.format)}
	}
	if len(rest) == 1 {
		d, err := idlist.Seconds(rest[0])
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("duration %q: give whole seconds from 1 to %d, e.g. 30", rest[0], idlist.MaxSeconds)}
		}
		c.duration = d
	}
	c.sampler = sampler.Config{
		Frequency:        *f.freq,
		Period:           *f.count,
		CPU:              int(*f.cpu),
		IncludeIdle:      *f.idle,
		KernelStacks:     !*f.userOnly,
		UserStacks:       !*f.kernelOnly,
		StackStorageSize: uint32(*f.stackSize),
		HashStorageSize:  uint32(*f.hashSize),
	}
	if c.sampler.PIDs, err = collect.ParseIDs(*f.pids, "-p", "process", procRoot); err != nil {
		return nil, err
	}
	if c.sampler.TIDs, err = collect.ParseIDs(*f.tids, "-L", "thread", procRoot); err != nil {
		return nil, err
	}
	if c.sampler.Unwind, err = loader.ParseMode(*f.unwind); err != nil {
		return nil, usageError{Err: err}
	}
	if c.sampler.UnwindRows, err = loader.CheckRows(*f.unwindRows); err != nil {
		return nil, usageError{Err: err}
	}
	c.wall = *f.wall
	name := "process_cpu"
	if c.wall {
		name = "wall"
	}
	outputAsked := *f.output != "" || *f.format != "" || *f.folded
	if c.outlet, err = f.outlets.Parse(name, push.DefaultService("profile", command, c.sampler.PIDs, procRoot), outputAsked); err != nil {
		return nil, err
	}
	return c, nil
}

func main() { collect.Main("profile", run) }

func run(args []string, stdout, stderr io.Writer) int {
	// Starting, attaching, the output and exiting are waited on and not
	// measured: they run at a high priority, so that busy threads of the
	// profiled process cannot starve them; sampling runs at the one we
	// were started with.
	boost := prio.Raise(workNice)
	defer boost.Lower()
	cfg, err := parseArgs(args, "/proc")
	output := ""
	if cfg != nil {
		output = cfg.output
	}
	if code, ok := collect.Parsed("profile", err, usage, output, stdout, stderr); !ok {
		return code
	}
	sigs := interrupt.Start("profile", stderr)
	defer sigs.Stop()
	res, err := record(sigs, cfg, boost, stdout, stderr)
	if err != nil {
		return collect.ExitStatus("profile", err, mapFlags, stderr)
	}
	return res.ExitStatus
}

// mapFlags names the option that sizes each BPF map.
var mapFlags = map[string]string{"stacks": "--stack-storage-size", "counts": "--hash-storage-size"}

func usage() string {
	var fs getopt.Set
	defineFlags(&fs)
	return usageHead + "  -h, --help                       show this help message and exit\n" + fs.Usage() + usageTail
}

// record samples as cfg says and writes the profile.
func record(sigs *interrupt.Watch, cfg *config, boost *prio.Boost, stdout, stderr io.Writer) (*collect.Result, error) {
	cfg.sampler.UnwindWarn = stderr
	period := int64(cfg.sampler.Period)
	if period == 0 {
		period = int64(time.Second) / int64(cfg.sampler.Frequency)
	}
	job := collect.Job{
		Name: "profile",
		Args: cfg.args,
		Open: func(ctx context.Context) (collect.Collector, error) {
			s, err := sampler.OpenContext(ctx, cfg.sampler)
			if err != nil || !cfg.wall {
				return s, err
			}
			t, err := offcpu.OpenContext(ctx, wallOffCPU(cfg.sampler))
			if err != nil {
				s.Close()
				return nil, err
			}
			return collect.Pair(s, t), nil
		},
		Duration:     cfg.duration,
		Stats:        cfg.stats,
		KernelStacks: cfg.sampler.KernelStacks,
		Profile:      symbolize.ProfileOptions{Period: period},
		Format:       cfg.format,
		Output:       cfg.output,
		Write: flamegraph.WriteOptions{
			Fold: flamegraph.FoldOptions{
				SampleIndex: 0,
				Annotate:    cfg.annotate,
				Delimit:     cfg.delimit && cfg.sampler.KernelStacks && cfg.sampler.UserStacks,
			},
			IDLabel: sample.LabelPID,
			SVG:     flamegraph.SVGOptions{Title: "CPU Flame Graph", CountName: "samples"},
		},
		Boost: boost,
		Warm:  warmInterval,
		Losses: collect.LossWords{
			Stacks: "WARNING: %d stack traces could not be displayed.%s",
			Counts: "WARNING: hash table full (%d samples dropped). Consider increasing --hash-storage-size.",
		},
	}
	if cfg.wall {
		// Both kinds of time in one profile, in nanoseconds; folded and
		// SVG values are µs of wall time, as offcputime's are of blocked.
		job.Profile = symbolize.ProfileOptions{Wall: true, Period: period, KernelLeaf: offcpu.KernelLeaf}
		job.Write.Fold.SampleIndex, job.Write.Fold.Divisor = 2, 1000
		job.Write.SVG = flamegraph.SVGOptions{Title: "Wall-Clock Time Flame Graph", CountName: "us"}
	}
	if cfg.format == "text" {
		job.Header = header(cfg)
	}
	flow, err := cfg.outlet.Start(&job, "profile", stderr)
	if err != nil {
		return nil, err
	}
	defer flow.Close()
	if cfg.command != nil {
		child, err := launch.Start(cfg.command, boost.Base())
		if err != nil {
			return nil, err
		}
		cfg.sampler.Follow = child.Pid
		// Its tables are built while it waits to exec.
		cfg.sampler.UnwindFiles = loader.CommandFiles(child.Path)
		job.Command = child
	}
	res, err := collect.Run(sigs, job, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if cfg.stats {
		printStats(stderr, res)
		if cfg.sampler.Unwind != loader.ModeFP {
			fmt.Fprintln(stderr, loader.Fields(cfg.sampler.Unwind, res.Unwind, res.UnwindInfo))
		}
	}
	flow.Serve(sigs.Cancel())
	return res, nil
}

func header(cfg *config) string {
	var b strings.Builder
	if cfg.sampler.Period != 0 {
		fmt.Fprintf(&b, "Sampling at every %d events", cfg.sampler.Period)
	} else {
		fmt.Fprintf(&b, "Sampling at %d Hertz", cfg.sampler.Frequency)
	}
	switch {
	case len(cfg.sampler.PIDs) > 0:
		fmt.Fprintf(&b, " of PID %s", idlist.Format(cfg.sampler.PIDs))
	case len(cfg.sampler.TIDs) > 0:
		fmt.Fprintf(&b, " of TID %s", idlist.Format(cfg.sampler.TIDs))
	default:
		b.WriteString(" of all threads")
	}
	if cfg.wall {
		b.WriteString(", and their off-CPU time,")
	}
	switch {
	case !cfg.sampler.KernelStacks:
		b.WriteString(" by user stack")
	case !cfg.sampler.UserStacks:
		b.WriteString(" by kernel stack")
	default:
		b.WriteString(" by user + kernel stack")
	}
	if cfg.sampler.CPU >= 0 {
		fmt.Fprintf(&b, " on CPU#%d", cfg.sampler.CPU)
	}
	if cfg.duration > 0 {
		fmt.Fprintf(&b, " for %d secs.", int64(cfg.duration/time.Second))
	} else {
		b.WriteString("... Hit Ctrl-C to end.")
	}
	return b.String()
}

func printStats(w io.Writer, r *collect.Result) {
	var perRun float64
	if r.Runs > 0 {
		perRun = float64(r.BPFTime.Nanoseconds()) / float64(r.Runs)
	}
	fmt.Fprintf(w, "stats: attach_ms=%.1f output_ms=%.1f samples=%d entries=%d sampling_s=%.1f sampling_cpu_ms=%.1f sampling_cpu_pct=%.4f total_cpu_ms=%.1f bpf_runs=%d bpf_ns_per_run=%.0f\n",
		ms(r.Attach), ms(r.Output), collect.Records(r.Records), len(r.Records), r.Collecting.Seconds(), ms(r.CollectingCPU),
		100*r.CollectingCPU.Seconds()/max(r.Collecting.Seconds(), 1e-9), ms(r.TotalCPU), r.Runs, perRun)
	fmt.Fprintf(w, "stats: output: warm_wait_ms=%.1f read_ms=%.1f symbolized_ms=%.1f written_ms=%.1f captures=%d lookups=%d binaries=%d\n",
		ms(r.WarmWait), ms(r.Read), ms(r.Symbolized), ms(r.Output), r.Symbolizer.Captures, r.Symbolizer.Lookups, r.Symbolizer.Binaries)
}

// workNice is the nice value of attaching and of the output phase: a
// thousand busy threads of nice 0 leave a nice 0 profiler a thousandth of
// the CPU, and the second of work after sampling took minutes; at -20 it
// weighs as much as 87 of them.
const workNice = -20

// warmInterval is how often the records counted so far are symbolized while
// sampling runs, so that little is left to do when it ends.
const warmInterval = time.Second

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// wallOffCPU is the off-CPU half of --wall: the same threads, stacks and
// unwinding as the samples, every block of 1 µs or more (offcputime's -m).
func wallOffCPU(c sampler.Config) offcpu.Config {
	return offcpu.Config{
		PIDs: c.PIDs, TIDs: c.TIDs, Follow: c.Follow,
		KernelStacks: c.KernelStacks, UserStacks: c.UserStacks,
		MinBlock:         time.Microsecond,
		StackStorageSize: c.StackStorageSize,
		Unwind:           c.Unwind, UnwindRows: c.UnwindRows, UnwindWarn: c.UnwindWarn, UnwindFiles: c.UnwindFiles,
	}
}
