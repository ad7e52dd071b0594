package web

import (
	"bytes"
	"math"

	"github.com/google/pprof/profile"
)

// FoldedProfile builds a pprof profile from folded stacks, so that folded
// input is served as profiles are: one sample type, "samples", each frame a
// function. The zero value is ready to use.
type FoldedProfile struct {
	p     *profile.Profile
	funcs map[string]*profile.Location
	locs  []*profile.Location
}

// Add adds one folded stack (frames root first, separated by ';') with its
// count; counts are rounded to whole numbers, and negative, non-finite or
// zero ones are ignored.
func (f *FoldedProfile) Add(stack []byte, count float64) {
	if f.p == nil {
		f.p = &profile.Profile{
			SampleType:        []*profile.ValueType{{Type: "samples", Unit: "count"}},
			DefaultSampleType: "samples",
		}
		f.funcs = map[string]*profile.Location{}
	}
	v := math.Round(count)
	if !(v > 0) || v > math.MaxInt64/2 {
		return
	}
	for len(stack) > 0 && stack[len(stack)-1] == ';' {
		stack = stack[:len(stack)-1]
	}
	f.locs = f.locs[:0]
	for len(stack) > 0 {
		frame := stack
		i := bytes.IndexByte(stack, ';')
		if i >= 0 {
			frame, stack = stack[:i], stack[i+1:]
		} else {
			stack = nil
		}
		f.locs = append(f.locs, f.location(frame))
	}
	s := &profile.Sample{Value: []int64{int64(v)}, Location: make([]*profile.Location, len(f.locs))}
	// pprof stacks are leaf first.
	for i, l := range f.locs {
		s.Location[len(f.locs)-1-i] = l
	}
	f.p.Sample = append(f.p.Sample, s)
}

func (f *FoldedProfile) location(name []byte) *profile.Location {
	if l, ok := f.funcs[string(name)]; ok {
		return l
	}
	id := uint64(len(f.p.Function) + 1)
	fn := &profile.Function{ID: id, Name: string(name)}
	l := &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
	f.p.Function = append(f.p.Function, fn)
	f.p.Location = append(f.p.Location, l)
	f.funcs[fn.Name] = l
	return l
}

// Profile returns the profile built so far (an empty one if nothing was
// added).
func (f *FoldedProfile) Profile() *profile.Profile {
	if f.p == nil {
		f.Add(nil, 0)
	}
	return f.p
}
