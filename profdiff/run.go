package profdiff

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/emberprof/ember/flamegraph"
	"github.com/google/pprof/profile"
)

// Stack is one distinct stack of a run and what it cost.
type Stack struct {
	// Frames are the function names, root first.
	Frames []string
	// Value is the cost, in the run's Unit.
	Value float64
	// Count is the number of samples, when the run has counts.
	Count float64
}

// Run is one profile: one run of the program measured.
type Run struct {
	// Name names the run's file, for messages.
	Name string
	// Unit is "seconds", or "samples" for counts with no known period.
	Unit string
	// Kind is the pprof sample type ("cpu", "offcpu"), or "" for folded
	// text, which does not say.
	Kind string
	// HasCounts says whether Count holds sample counts, which a single
	// run's sampling error is estimated from.
	HasCounts bool
	// Stacks are the run's stacks; a stack may appear more than once.
	Stacks []Stack
	// Ignored counts the invalid folded lines skipped, as flamegraph does.
	Ignored int
	// Negative counts the pprof stacks skipped for negative values.
	Negative int
}

// ReadOptions says how folded text is valued, and bounds the reader.
type ReadOptions struct {
	// Unit is the unit of folded counts: "samples" (the default), "us",
	// "ns" or "s".
	Unit string
	// Frequency, with Unit "samples", turns counts into seconds
	// (count/Frequency); 0 leaves them samples.
	Frequency float64
	// MaxLine and MaxProfile bound the reader, as in flamegraph.InputOptions.
	MaxLine, MaxProfile int
}

// Units are the folded units ReadOptions.Unit takes.
var foldedScale = map[string]float64{"samples": 1, "us": 1e-6, "ns": 1e-9, "s": 1}

// ValidUnit reports whether unit is one ReadOptions.Unit takes.
func ValidUnit(unit string) bool { _, ok := foldedScale[unit]; return ok }

// ReadRun reads one profile, folded text or pprof, gzipped or not, through
// flamegraph.ReadInput's bounded reader; display names it in errors.
func ReadRun(r io.Reader, display string, o ReadOptions) (*Run, error) {
	if o.Unit == "" {
		o.Unit = "samples"
	}
	scale, ok := foldedScale[o.Unit]
	if !ok {
		return nil, fmt.Errorf("unknown unit %q: use samples, us, ns or s", o.Unit)
	}
	run := &Run{Name: display, Unit: "seconds"}
	counts := o.Unit == "samples"
	if counts {
		run.HasCounts = true
		if o.Frequency > 0 {
			scale = 1 / o.Frequency
		} else {
			run.Unit = "samples"
		}
	}
	index := map[string]int{}
	add := func(key string, frames func() []string, value, count float64) {
		i, ok := index[key]
		if !ok {
			i = len(run.Stacks)
			index[key] = i
			run.Stacks = append(run.Stacks, Stack{Frames: frames()})
		}
		run.Stacks[i].Value += value
		run.Stacks[i].Count += count
	}
	folded := false
	var perr error
	ignored, err := flamegraph.ReadInput(r, display, flamegraph.InputOptions{
		MaxLine:    o.MaxLine,
		MaxProfile: o.MaxProfile,
		Folded: func(l *flamegraph.FoldedLine) error {
			folded = true
			count := 0.0
			if counts {
				count = l.Count
			}
			add(string(l.Stack), func() []string { return splitFrames(l.Stack) }, l.Count*scale, count)
			return nil
		},
		Profile: func(p *profile.Profile) error {
			perr = readProfile(run, p, add)
			return perr
		},
	})
	run.Ignored = ignored
	if err != nil {
		return nil, err
	}
	if !folded && run.Kind == "" && len(run.Stacks) == 0 {
		return nil, fmt.Errorf("%s: no stacks in it; %s", display, flamegraph.InputHint)
	}
	return run, nil
}

func splitFrames(stack []byte) []string {
	parts := bytes.Split(stack, []byte(";"))
	frames := make([]string, len(parts))
	for i, p := range parts {
		frames[i] = string(p)
	}
	return frames
}

// timeScale turns pprof value units into seconds.
var timeScale = map[string]float64{"nanoseconds": 1e-9, "microseconds": 1e-6, "milliseconds": 1e-3, "seconds": 1}

// readProfile takes a pprof profile's stacks: costs from the default sample
// type (cpu or offcpu nanoseconds, as ember writes them), counts from the
// "samples" type when there is one.
func readProfile(run *Run, p *profile.Profile, add func(string, func() []string, float64, float64)) error {
	if len(p.SampleType) == 0 {
		return fmt.Errorf("profile has no sample types; %s", flamegraph.InputHint)
	}
	vi := len(p.SampleType) - 1
	for i, st := range p.SampleType {
		if st.Type == p.DefaultSampleType {
			vi = i
		}
	}
	ci := -1
	for i, st := range p.SampleType {
		if st.Type == "samples" || st.Unit == "count" {
			ci = i
			break
		}
	}
	vt := p.SampleType[vi]
	run.Kind = vt.Type
	scale, timed := timeScale[vt.Unit]
	if !timed {
		// Counts: seconds only if the period says how long a sample is.
		ci = vi
		scale = 1
		run.Unit = "samples"
		if p.PeriodType != nil && p.Period > 0 {
			if s, ok := timeScale[p.PeriodType.Unit]; ok {
				scale = float64(p.Period) * s
				run.Unit = "seconds"
			}
		}
	} else {
		run.Unit = "seconds"
	}
	run.HasCounts = ci >= 0
	values, _, err := flamegraph.ProfileStacks(p, vt.Type)
	if err != nil {
		return err
	}
	var countOf map[string]float64
	if ci >= 0 && ci != vi {
		cs, _, err := flamegraph.ProfileStacks(p, p.SampleType[ci].Type)
		if err != nil {
			return err
		}
		countOf = make(map[string]float64, len(cs))
		for _, s := range cs {
			countOf[strings.Join(s.Frames, ";")] += s.Value
		}
	}
	for _, s := range values {
		if s.Value < 0 {
			run.Negative++
			continue
		}
		key := strings.Join(s.Frames, ";")
		count := 0.0
		switch {
		case ci == vi:
			count = s.Value
		case ci >= 0:
			count = countOf[key]
		}
		add(key, func() []string { return s.Frames }, s.Value*scale, count)
	}
	return nil
}

// CheckUnits returns an error when runs do not measure the same thing:
// seconds beside samples, or cpu beside offcpu time.
func CheckUnits(runs []*Run) error {
	for _, r := range runs[1:] {
		first := runs[0]
		if r.Unit != first.Unit {
			return fmt.Errorf("mixed units: %s is in %s, %s in %s; give -F HZ to turn folded sample counts into seconds, or profiles of one kind", first.Name, first.Unit, r.Name, r.Unit)
		}
		if r.Kind != "" && first.Kind != "" && r.Kind != first.Kind {
			return fmt.Errorf("mixed units: %s is %s time, %s is %s time; compare profiles of one kind", first.Name, first.Kind, r.Name, r.Kind)
		}
	}
	return nil
}
