// Command profdiff compares two sides of profiles, a base and a new one, and
// exits 1 when the new side regressed beyond the thresholds and beyond the
// noise: for CI, on repeated runs of a benchmark under profile or offcputime.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/outfile"
	"github.com/emberprof/ember/internal/untrusted"
	"github.com/emberprof/ember/profdiff"
)

const usageHead = `usage: profdiff [options] BASE NEW

Compares two sides of profiles and fails on a regression. BASE and NEW are
each a profile (pprof, as profile/offcputime --format pprof write, or folded
text, gzipped or not) or a directory of repeated runs (each regular file in
it is one run). With two or more runs on a side, the noise is the spread
across runs (Welch's t test); with one run a side, the sampling error of its
sample counts. The total is judged on its cost per run; a function on its
self cost and its share of the total, which must both rise.

options:
`

const usageTail = `
examples:
    profdiff base.pb.gz new.pb.gz
    profdiff -F 49 --threshold 15 runs/main runs/pr      # folded, 49 Hz
    profdiff --format markdown base/ new/ >> "$GITHUB_STEP_SUMMARY"
    profdiff --unit us --svg diff.svg offcpu-base/ offcpu-new/

Exit status: 0 when nothing regressed (also when the noise is unknown or
too large to decide: the report says so), 1 on a regression, 2 on a usage
or input error.
`

func usage() string {
	var fs getopt.Set
	defineFlags(&fs)
	return usageHead + "  -h, --help                       show this help message and exit\n" + fs.Usage() + usageTail
}

type flags struct {
	format, output, svg, unit             *string
	confidence, threshold, totalThreshold *string
	min, totalMin, minShare, freq         *string
	maxLine, maxProfile                   *string
	focus, ignore                         *[]string
}

func defineFlags(fs *getopt.Set) *flags {
	return &flags{
		format:         fs.String(0, "format", "FORMAT", "table", "table, markdown or json (default table)"),
		output:         fs.String('o', "output", "FILE", "", "write the report to FILE, atomically, instead of standard output"),
		svg:            fs.String(0, "svg", "FILE", "", "also write the differential flame graph, per run, to FILE"),
		unit:           fs.String(0, "unit", "UNIT", "samples", "folded input's counts: samples, us (offcputime), ns or s (default samples)"),
		freq:           fs.String('F', "frequency", "HZ", "", "folded sample counts were taken at HZ: they become seconds (count/HZ)"),
		confidence:     fs.String(0, "confidence", "LEVEL", "0.99", "family-wise confidence, over the total and every function judged (default 0.99)"),
		totalThreshold: fs.String(0, "total-threshold", "PCT", "5", "the total's rise, in percent, that is a regression (default 5)"),
		totalMin:       fs.String(0, "total-min", "DUR", "0", "and the smallest rise of the total per run, e.g. 50ms (default 0)"),
		threshold:      fs.String(0, "threshold", "PCT", "10", "a function's rise of self cost and share, in percent (default 10)"),
		min:            fs.String(0, "min", "DUR", "0", "and the smallest rise of its self cost per run, e.g. 5ms (default 0)"),
		minShare:       fs.String(0, "min-share", "PCT", "1", "judge functions with at least this self share, in percent, on a side (default 1)"),
		focus:          fs.List(0, "focus", "REGEX", "keep only stacks with a function matching REGEX (repeatable)"),
		ignore:         fs.List(0, "ignore", "REGEX", "do not judge functions matching REGEX (repeatable)"),
		maxLine:        fs.String(0, "max-line", "SIZE", "64M", "the longest folded line accepted (default 64M)"),
		maxProfile:     fs.String(0, "max-profile", "SIZE", "256M", "the largest pprof profile accepted, decompressed (default 256M)"),
	}
}

// config is the command line.
type config struct {
	opts        profdiff.Options
	read        profdiff.ReadOptions
	format      string
	output, svg string
	// minDur and totalMinDur say the thresholds were durations, which need
	// a report in seconds.
	minDur, totalMinDur bool
	base, new           string
}

func parseArgs(args []string) (*config, error) {
	var fs getopt.Set
	f := defineFlags(&fs)
	rest, err := fs.Parse(args)
	if err != nil {
		return nil, err
	}
	if len(rest) != 2 {
		return nil, fmt.Errorf("give two inputs, BASE and NEW (files or directories of runs); got %d", len(rest))
	}
	c := &config{opts: profdiff.DefaultOptions(), format: *f.format, output: *f.output, svg: *f.svg, base: rest[0], new: rest[1]}
	num := func(name, v string, lo, hi float64, p *float64) error {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x >= lo && x <= hi) {
			return fmt.Errorf("--%s %q: give a number from %g to %g", name, v, lo, hi)
		}
		*p = x
		return nil
	}
	amount := func(name, v string, p *float64, dur *bool) error {
		if d, err := time.ParseDuration(v); err == nil && strings.ContainsAny(v, "hmsuµn") {
			if d < 0 {
				return fmt.Errorf("--%s %q: give a duration of 0 or more, e.g. 50ms", name, v)
			}
			*p, *dur = d.Seconds(), true
			return nil
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !(x >= 0) || x > 1e300 {
			return fmt.Errorf("--%s %q: give a duration (50ms) or a number of samples", name, v)
		}
		*p = x
		return nil
	}
	o := &c.opts
	for _, e := range []error{
		num("confidence", *f.confidence, 0, 1, &o.Confidence),
		num("threshold", *f.threshold, 0, 1e6, &o.Threshold),
		num("total-threshold", *f.totalThreshold, 0, 1e6, &o.TotalThreshold),
		num("min-share", *f.minShare, 0, 100, &o.MinShare),
		amount("min", *f.min, &o.Min, &c.minDur),
		amount("total-min", *f.totalMin, &o.TotalMin, &c.totalMinDur),
	} {
		if e != nil {
			return nil, e
		}
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		return nil, fmt.Errorf("--confidence %s: give a level between 0 and 1, e.g. 0.99", *f.confidence)
	}
	if !profdiff.ValidUnit(*f.unit) {
		return nil, fmt.Errorf("--unit %q: use samples, us, ns or s", *f.unit)
	}
	c.read.Unit = *f.unit
	if *f.freq != "" {
		hz, err := strconv.ParseFloat(*f.freq, 64)
		if err != nil || !(hz > 0 && hz <= 1e9) {
			return nil, fmt.Errorf("-F %q: give the sampling frequency in Hz, e.g. 49", *f.freq)
		}
		if c.read.Unit != "samples" {
			return nil, fmt.Errorf("-F applies to --unit samples, not %s", c.read.Unit)
		}
		c.read.Frequency = hz
	}
	var ok bool
	if c.read.MaxLine, ok = flamegraph.ParseSize(*f.maxLine); !ok {
		return nil, fmt.Errorf("--max-line %q: not a size in bytes (like 4096, 64K, 64M or 1G)", *f.maxLine)
	}
	if c.read.MaxProfile, ok = flamegraph.ParseSize(*f.maxProfile); !ok {
		return nil, fmt.Errorf("--max-profile %q: not a size in bytes (like 4096, 64K, 64M or 1G)", *f.maxProfile)
	}
	for _, l := range []struct {
		name string
		in   []string
		out  *[]*regexp.Regexp
	}{{"focus", *f.focus, &o.Focus}, {"ignore", *f.ignore, &o.Ignore}} {
		for _, s := range l.in {
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: not a regular expression (%v)", l.name, s, err)
			}
			*l.out = append(*l.out, re)
		}
	}
	switch c.format {
	case "table", "markdown", "json":
	default:
		return nil, fmt.Errorf("--format %q: use table, markdown or json", c.format)
	}
	for _, p := range []string{c.output, c.svg} {
		if err := outfile.Check(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func main() {
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	if err := outfile.CloseStdout(os.Stdout); err != nil && code != 2 {
		fmt.Fprintf(os.Stderr, "profdiff: %v\n", err)
		code = 2
	}
	os.Exit(code)
}

// run is the command; its status is 0 (no regression), 1 (a regression) or
// 2 (a usage or input error, or a failed write).
func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseArgs(args)
	if errors.Is(err, getopt.ErrHelp) {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "profdiff: %v\n(see profdiff --help)\n", oneLine(err.Error()))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "profdiff: %s\n", oneLine(err.Error()))
		return 2
	}
	base, err := readSide(c.base, c.read)
	if err != nil {
		return fail(err)
	}
	news, err := readSide(c.new, c.read)
	if err != nil {
		return fail(err)
	}
	if base[0].Unit != "seconds" && (c.minDur || c.totalMinDur) {
		return fail(fmt.Errorf("--min and --total-min are durations, but %s counts samples: give -F HZ, or numbers of samples", c.base))
	}
	rep, err := profdiff.Compare(base, news, c.opts)
	if err != nil {
		return fail(err)
	}
	rep.Base.Name, rep.New.Name = c.base, c.new
	if err := outfile.Write(c.output, stdout, func(w io.Writer) error { return rep.Write(w, c.format) }); err != nil {
		return fail(err)
	}
	if c.svg != "" {
		before, after, countName := profdiff.DiffStacks(base, news, c.opts)
		err := outfile.Write(c.svg, nil, func(w io.Writer) error {
			err := flamegraph.WriteDiffSVG(w, before, after, flamegraph.SVGOptions{
				Title:     "Differential Flame Graph: " + c.new + " vs " + c.base,
				Subtitle:  "widths: new, per run; red grew, blue shrank",
				CountName: countName,
			})
			if errors.Is(err, flamegraph.ErrNoStacks) {
				return nil
			}
			return err
		})
		if err != nil {
			return fail(err)
		}
	}
	if rep.Regressed() {
		return 1
	}
	return 0
}

// maxRuns bounds the files read from a directory.
const maxRuns = 10000

// readSide reads a profile, or every regular file of a directory as one run
// each, in name order.
func readSide(path string, o profdiff.ReadOptions) ([]*profdiff.Run, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; give a profile or a directory of profiles", path, unwrapPath(err))
	}
	if !fi.IsDir() {
		r, err := readRun(path, o)
		if err != nil {
			return nil, err
		}
		return []*profdiff.Run{r}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	var runs []*profdiff.Run
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if len(runs) == maxRuns {
			return nil, fmt.Errorf("%s: more than %d files; give a directory of runs only", path, maxRuns)
		}
		r, err := readRun(filepath.Join(path, e.Name()), o)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s: empty directory (no regular files); put one profile per run in it", path)
	}
	if err := profdiff.CheckUnits(runs); err != nil {
		return nil, err
	}
	return runs, nil
}

func readRun(path string, o profdiff.ReadOptions) (*profdiff.Run, error) {
	// ember runs as root in CI: a FIFO or device planted where a profile
	// is expected must not block or feed it forever.
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; give a profile (a regular file) or a directory of them", path, unwrapPath(err))
	}
	defer f.Close()
	return profdiff.ReadRun(f, path, o)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
