package flamegraph

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// TextOptions says how a profile is printed in BCC's multi-line form.
type TextOptions struct {
	FoldOptions
	// IDLabel names the numeric label printed after the comm: BCC's profile
	// prints the process ID ("pid"), offcputime the thread ID ("tid").
	IDLabel string
}

// WriteText prints a profile as BCC's profile and offcputime do without -f: each
// stack leaf first (kernel, then "--", then user), a "- comm (id)" line and the
// value, in ascending order of value.
func WriteText(w io.Writer, p *profile.Profile, o TextOptions) error {
	if o.SampleIndex < 0 || o.SampleIndex >= len(p.SampleType) {
		return fmt.Errorf("text: sample index %d out of range (profile has %d sample types)", o.SampleIndex, len(p.SampleType))
	}
	div := o.Divisor
	if div <= 0 {
		div = 1
	}
	type entry struct {
		lines []string
		value int64
	}
	byKey := make(map[string]*entry)
	for _, s := range p.Sample {
		lines := textSample(s, o)
		k := strings.Join(lines, "\n")
		e := byKey[k]
		if e == nil {
			e = &entry{lines: lines}
			byKey[k] = e
		}
		e.value += s.Value[o.SampleIndex]
	}
	entries := make([]*entry, 0, len(byKey))
	for _, e := range byKey {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].value != entries[j].value {
			return entries[i].value < entries[j].value
		}
		return lessFrames(entries[i].lines, entries[j].lines)
	})
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, e := range entries {
		for _, l := range e.lines {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
		fmt.Fprintf(bw, "        %d\n\n", e.value/div)
	}
	return bw.Flush()
}

func textSample(s *profile.Sample, o TextOptions) []string {
	kernel, user := splitKernel(s.Location)
	var frames []string
	suffix := ""
	if o.Annotate {
		suffix = "_[k]"
	}
	for _, l := range kernel {
		frames = appendLeafFirst(frames, l, suffix)
	}
	if o.Delimit && valid(kernel) && valid(user) {
		frames = append(frames, "--")
	}
	for _, l := range user {
		frames = appendLeafFirst(frames, l, "")
	}
	lines := make([]string, 0, len(frames)+1)
	for _, f := range frames {
		lines = append(lines, "    "+f)
	}
	var id int64
	if v := s.NumLabel[o.IDLabel]; len(v) > 0 {
		id = v[0]
	}
	lines = append(lines, fmt.Sprintf("    %-16s %s (%d)", "-", comm(s), id))
	return lines
}

// appendLeafFirst appends a location's frames innermost first.
func appendLeafFirst(out []string, l *profile.Location, suffix string) []string {
	start := len(out)
	out = appendNames(out, l, suffix)
	for i, j := start, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
