package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// Filter picks the samples a tree is built from.
type Filter struct {
	// PID, if not 0, keeps the samples of that process (the "pid" label).
	PID int64
	// Comm, if not "", keeps the samples of threads with that name.
	Comm string
	// TID, if not 0, keeps the samples of that thread (the "tid" label).
	TID int64
}

func (f Filter) keep(s *profile.Sample) bool {
	if f.PID != 0 {
		if p := s.NumLabel[sample.LabelPID]; len(p) == 0 || p[0] != f.PID {
			return false
		}
	}
	if f.TID != 0 {
		if p := s.NumLabel[sample.LabelTID]; len(p) == 0 || p[0] != f.TID {
			return false
		}
	}
	if f.Comm != "" {
		if c := s.Label[sample.LabelComm]; len(c) == 0 || c[0] != f.Comm {
			return false
		}
	}
	return true
}

// tree is the frame tree the page draws: stacks merged from the process
// name (the comm label) down to the leaf, as ember's folded output has them.
type tree struct {
	names []string
	ids   map[string]int32
	// Per node; node 0 is the root ("all").
	name   []int32
	parent []int32
	total  []int64
	before []int64 // nil unless a base profile was added
	// cpu and off split each node's total into on-CPU and blocked time
	// (a wall profile's cpu and offcpu types); nil unless split was set.
	cpu, off []int64
	// cpuIdx and offIdx are the sample types cpu and off are read from.
	cpuIdx, offIdx int
	kids           map[uint64]int32
	locs           map[*profile.Location][]int32
	// hasComm says whether stacks start with a process name; profiles
	// ember did not write have none, and start at the program's root.
	hasComm bool
	sum     int64
	sumB    int64
}

func newTree() *tree {
	t := &tree{ids: map[string]int32{}, kids: map[uint64]int32{}, locs: map[*profile.Location][]int32{}}
	t.intern("all")
	t.name = append(t.name, 0)
	t.parent = append(t.parent, -1)
	t.total = append(t.total, 0)
	return t
}

func (t *tree) intern(s string) int32 {
	if id, ok := t.ids[s]; ok {
		return id
	}
	id := int32(len(t.names))
	t.names = append(t.names, s)
	t.ids[s] = id
	return id
}

func (t *tree) child(p, name int32) int32 {
	k := uint64(p)<<32 | uint64(uint32(name))
	if c, ok := t.kids[k]; ok {
		return c
	}
	c := int32(len(t.name))
	t.name = append(t.name, name)
	t.parent = append(t.parent, p)
	t.total = append(t.total, 0)
	if t.before != nil {
		t.before = append(t.before, 0)
	}
	if t.cpu != nil {
		t.cpu = append(t.cpu, 0)
		t.off = append(t.off, 0)
	}
	t.kids[k] = c
	return c
}

// frames returns the names of a location's frames, root first: the
// function, then each call inlined into it.
func (t *tree) frames(l *profile.Location) []int32 {
	if f, ok := t.locs[l]; ok {
		return f
	}
	var f []int32
	switch {
	case l.Mapping == nil && len(l.Line) == 1 && l.Line[0].Function != nil &&
		(l.Line[0].Function.Name == sample.MissedKernel || l.Line[0].Function.Name == sample.MissedUser):
		f = []int32{t.intern(l.Line[0].Function.Name)}
	case len(l.Line) == 0:
		f = []int32{t.intern(sample.Unknown)}
	default:
		for i := len(l.Line) - 1; i >= 0; i-- {
			name := sample.Unknown
			if fn := l.Line[i].Function; fn != nil && fn.Name != "" {
				name = fn.Name
			}
			f = append(f, t.intern(name))
		}
	}
	t.locs[l] = f
	return f
}

// split makes the tree keep each node's on-CPU and blocked time, read
// from sample types cpu and off, beside the value it is drawn by.
func (t *tree) split(cpu, off int) {
	t.cpuIdx, t.offIdx = cpu, off
	t.cpu = make([]int64, len(t.total))
	t.off = make([]int64, len(t.total))
}

// add adds the samples of p that f keeps, valued by sample type idx, as
// after (the graph's widths) or as before (the diff's base).
func (t *tree) add(p *profile.Profile, idx int, f Filter, asBefore bool) {
	if asBefore && t.before == nil {
		t.before = make([]int64, len(t.total))
	}
	for _, s := range p.Sample {
		if idx >= len(s.Value) || !f.keep(s) {
			continue
		}
		v := s.Value[idx]
		if v <= 0 {
			continue
		}
		// The on-CPU/blocked split, of the graph's samples only.
		var c, o int64
		splitting := t.cpu != nil && !asBefore
		if splitting {
			if t.cpuIdx < len(s.Value) {
				c = s.Value[t.cpuIdx]
			}
			if t.offIdx < len(s.Value) {
				o = s.Value[t.offIdx]
			}
			t.cpu[0] += c
			t.off[0] += o
		}
		vals := t.total
		if asBefore {
			vals = t.before
			t.sumB += v
		} else {
			t.sum += v
		}
		vals[0] += v
		cur := int32(0)
		if t.hasComm {
			name := sample.Unknown
			if c := s.Label[sample.LabelComm]; len(c) > 0 {
				name = c[0]
			}
			cur = t.child(cur, t.intern(name))
			t.addValue(cur, v, asBefore)
			if splitting {
				t.cpu[cur] += c
				t.off[cur] += o
			}
		}
		for i := len(s.Location) - 1; i >= 0; i-- {
			for _, n := range t.frames(s.Location[i]) {
				cur = t.child(cur, n)
				t.addValue(cur, v, asBefore)
				if splitting {
					t.cpu[cur] += c
					t.off[cur] += o
				}
			}
		}
	}
}

// addValue adds v to node n; child may have grown the slices.
func (t *tree) addValue(n int32, v int64, asBefore bool) {
	if asBefore {
		t.before[n] += v
	} else {
		t.total[n] += v
	}
}

// order returns the nodes in preorder, each node's children sorted by name
// as flamegraph.pl draws them, and the size of each node's subtree.
func (t *tree) order() (pre []int32, size []int32) {
	n := len(t.name)
	// Children grouped by parent: a counting sort, then each group by name.
	start := make([]int32, n+1)
	for i := 1; i < n; i++ {
		start[t.parent[i]+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	kids := make([]int32, max(n-1, 0))
	fill := slices.Clone(start[:n])
	for i := 1; i < n; i++ {
		p := t.parent[i]
		kids[fill[p]] = int32(i)
		fill[p]++
	}
	for p := range n {
		k := kids[start[p]:start[p+1]]
		if len(k) > 1 {
			slices.SortFunc(k, func(a, b int32) int {
				x, y := t.names[t.name[a]], t.names[t.name[b]]
				switch {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				return 0
			})
		}
	}
	pre = make([]int32, 0, n)
	size = make([]int32, n)
	// Iterative preorder: a deep stack must not exhaust the goroutine's.
	stack := []int32{0}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pre = append(pre, v)
		k := kids[start[v]:start[v+1]]
		for i := len(k) - 1; i >= 0; i-- {
			stack = append(stack, k[i])
		}
	}
	// Subtree sizes, leaves first (reverse preorder visits children
	// before their parent).
	for i := len(pre) - 1; i >= 0; i-- {
		v := pre[i]
		size[v]++
		if p := t.parent[v]; p >= 0 {
			size[p] += size[v]
		}
	}
	return pre, size
}

// appendAny appends v as JSON (the view's metadata).
func appendAny(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		j = []byte("null")
	}
	return append(b, j...)
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// appendString appends s as a JSON string; encoding/json also escapes <, >
// and &, so that no name can close a script or start markup even if a page
// ever put the JSON into HTML.
func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// Display makes a frame or process name printable text: control characters
// and bytes that are not UTF-8 become \xNN, so that two names differing only
// in invalid bytes still read differently (JSON would make both U+FFFD).
func Display(s string) string {
	clean := true
	for i, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError && !validAt(s, i) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r < 0x20 || r == 0x7f || r == utf8.RuneError && n == 1 {
			b = fmt.Appendf(b, `\x%02x`, s[i])
			i++
			continue
		}
		b = append(b, s[i:i+n]...)
		i += n
	}
	return string(b)
}

// validAt reports whether the U+FFFD at s[i] is really encoded there.
func validAt(s string, i int) bool {
	_, n := utf8.DecodeRuneInString(s[i:])
	return n == 3
}

// sampleIndex finds the sample type named typ in p; "" means the default
// type (ProfileStacks' choice: samples if present, then the default).
func sampleIndex(p *profile.Profile, typ string) (int, error) {
	if len(p.SampleType) == 0 {
		return 0, fmt.Errorf("profile has no sample types")
	}
	if typ == "" {
		for i, st := range p.SampleType {
			if st.Type == p.DefaultSampleType {
				return i, nil
			}
		}
		return len(p.SampleType) - 1, nil
	}
	for i, st := range p.SampleType {
		if st.Type == typ {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no sample type %q", typ)
}

// wallSplit returns the sample types that split type idx into on-CPU and
// blocked time: a wall profile ("profile --wall") shown by its wall type,
// with cpu and offcpu types in the same unit.
func wallSplit(p *profile.Profile, idx int) (cpu, off int, ok bool) {
	st := p.SampleType[idx]
	if st.Type != "wall" {
		return 0, 0, false
	}
	cpu, off = -1, -1
	for i, x := range p.SampleType {
		switch {
		case x.Type == "cpu" && x.Unit == st.Unit:
			cpu = i
		case x.Type == "offcpu" && x.Unit == st.Unit:
			off = i
		}
	}
	return cpu, off, cpu >= 0 && off >= 0
}

// hasComm reports whether any sample carries a process name.
func hasComm(ps ...*profile.Profile) bool {
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, s := range p.Sample {
			if len(s.Label[sample.LabelComm]) > 0 {
				return true
			}
		}
	}
	return false
}
