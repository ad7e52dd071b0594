package flamegraph

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// Stack is one folded line: frame names from the root down, and its weight.
type Stack struct {
	Frames []string
	Value  float64
}

// FoldOptions says how a profile becomes BCC-style folded stacks.
type FoldOptions struct {
	// SampleIndex picks the pprof sample value to use.
	SampleIndex int
	// Divisor scales values down (1000 turns nanoseconds into BCC's
	// microseconds); 0 means 1.
	Divisor int64
	// Annotate appends "_[k]" to kernel frames (BCC's -a).
	Annotate bool
	// Delimit puts a "-" frame between user and kernel frames when a sample has
	// both (BCC's -d).
	Delimit bool
}

// Fold turns a profile into folded stacks as BCC prints them: comm, user frames
// root first, an optional "-", then kernel frames; inlined calls each become a
// frame. Identical lines are merged.
func Fold(p *profile.Profile, o FoldOptions) ([]Stack, error) {
	if o.SampleIndex < 0 || o.SampleIndex >= len(p.SampleType) {
		return nil, fmt.Errorf("fold: sample index %d out of range (profile has %d sample types)", o.SampleIndex, len(p.SampleType))
	}
	div := o.Divisor
	if div <= 0 {
		div = 1
	}
	sums := make(map[string]int64)
	frames := make(map[string][]string)
	var key strings.Builder
	for _, s := range p.Sample {
		f := foldSample(s, o)
		key.Reset()
		for _, n := range f {
			key.WriteString(n)
			key.WriteByte(';')
		}
		k := key.String()
		if _, ok := frames[k]; !ok {
			frames[k] = f
		}
		sums[k] += s.Value[o.SampleIndex]
	}
	out := make([]Stack, 0, len(sums))
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	for _, k := range keys {
		out = append(out, Stack{Frames: frames[k], Value: float64(sums[k] / div)})
	}
	// BCC prints in ascending count; ties fall back to the text for a stable
	// output.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value < out[j].Value
		}
		return lessFrames(out[i].Frames, out[j].Frames)
	})
	return out, nil
}

func lessFrames(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// splitKernel returns the kernel part (leaf first) and the user part of a
// sample's locations; kernel locations come first in every sample ember writes.
func splitKernel(locs []*profile.Location) (kernel, user []*profile.Location) {
	n := 0
	for n < len(locs) && isKernel(locs[n]) {
		n++
	}
	return locs[:n], locs[n:]
}

func isKernel(l *profile.Location) bool {
	if l.Mapping != nil {
		return l.Mapping.File == sample.KernelMapping
	}
	return marker(l) == sample.MissedKernel
}

// marker returns the name of a missed-stack marker location, or "".
func marker(l *profile.Location) string {
	if l.Mapping != nil || len(l.Line) != 1 || l.Line[0].Function == nil {
		return ""
	}
	switch n := l.Line[0].Function.Name; n {
	case sample.MissedKernel, sample.MissedUser:
		return n
	}
	return ""
}

// valid reports whether a stack part holds real frames, not a missed marker.
func valid(part []*profile.Location) bool {
	return len(part) > 0 && marker(part[0]) == ""
}

func foldSample(s *profile.Sample, o FoldOptions) []string {
	kernel, user := splitKernel(s.Location)
	out := make([]string, 0, 1+len(s.Location)+1)
	out = append(out, comm(s))
	for i := len(user) - 1; i >= 0; i-- {
		out = appendNames(out, user[i], "")
	}
	if o.Delimit && valid(kernel) && valid(user) {
		out = append(out, "-")
	}
	suffix := ""
	if o.Annotate {
		suffix = "_[k]"
	}
	for i := len(kernel) - 1; i >= 0; i-- {
		out = appendNames(out, kernel[i], suffix)
	}
	return out
}

// appendNames appends a location's frames root first: the real function, then
// each inlined call down to the innermost.
func appendNames(out []string, l *profile.Location, suffix string) []string {
	if m := marker(l); m != "" {
		return append(out, m)
	}
	if len(l.Line) == 0 {
		return append(out, sample.Unknown+suffix)
	}
	for i := len(l.Line) - 1; i >= 0; i-- {
		name := sample.Unknown
		if f := l.Line[i].Function; f != nil && f.Name != "" {
			name = cleanName(f.Name)
		}
		out = append(out, name+suffix)
	}
	return out
}

func comm(s *profile.Sample) string {
	if c := s.Label[sample.LabelComm]; len(c) > 0 {
		return cleanName(c[0])
	}
	return sample.Unknown
}

// cleanName makes a process or function name safe to print as one frame in
// every text format: any process can name itself (prctl PR_SET_NAME) and any
// binary its symbols "a\nb;c 99", which printed as is would split a frame
// (";") or forge a whole stack line ("\n"). Control characters become \xNN
// and ";" becomes ":", as stackcollapse-perf.pl tidies names; spaces stay,
// since a folded line's count is after its last space.
func cleanName(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] != 0x7f && s[i] != ';' {
		i++
	}
	if i == len(s) {
		return s // the common case: nothing to clean, no allocation
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == ';':
			b = append(b, ':')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// WriteFolded writes stacks one per line, "frame;frame;... value", in the order
// given.
func WriteFolded(w io.Writer, stacks []Stack) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, s := range stacks {
		for i, f := range s.Frames {
			if i > 0 {
				bw.WriteByte(';')
			}
			bw.WriteString(f)
		}
		bw.WriteByte(' ')
		bw.WriteString(strconv.FormatFloat(s.Value, 'f', -1, 64))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
