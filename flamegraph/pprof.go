package flamegraph

import (
	"fmt"
	"strings"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// ProfileStacks folds a pprof profile into stacks for a flame graph. It takes
// the sample type named sampleType or, if that is "", the "samples" type if
// there is one and the profile's default (or last) type otherwise; countName
// is what its values count ("samples", "nanoseconds", ...). Profiles that ember
// did not write have no "comm" label: their stacks start at the program's
// root frame rather than at an "[unknown]" process name.
func ProfileStacks(p *profile.Profile, sampleType string) (stacks []Stack, countName string, err error) {
	if len(p.SampleType) == 0 {
		return nil, "", fmt.Errorf("profile has no sample types")
	}
	idx := -1
	if sampleType != "" {
		for i, st := range p.SampleType {
			if st.Type == sampleType {
				idx = i
			}
		}
		if idx < 0 {
			return nil, "", fmt.Errorf("profile has no sample type %q (it has %s)", sampleType, typeNames(p))
		}
	} else {
		idx = len(p.SampleType) - 1
		for i, st := range p.SampleType {
			if st.Type == p.DefaultSampleType {
				idx = i
			}
		}
		for i, st := range p.SampleType {
			if st.Type == "samples" {
				idx = i
				break
			}
		}
	}
	st := p.SampleType[idx]
	countName = st.Unit
	if countName == "" || countName == "count" {
		countName = st.Type
	}
	stacks, err = Fold(p, FoldOptions{SampleIndex: idx})
	if err != nil {
		return nil, "", err
	}
	if !hasComm(p) {
		for i := range stacks {
			if f := stacks[i].Frames; len(f) > 0 && f[0] == sample.Unknown {
				stacks[i].Frames = f[1:]
			}
		}
	}
	return stacks, countName, nil
}

func hasComm(p *profile.Profile) bool {
	for _, s := range p.Sample {
		if len(s.Label[sample.LabelComm]) > 0 {
			return true
		}
	}
	return false
}

func typeNames(p *profile.Profile) string {
	var names []string
	for _, st := range p.SampleType {
		names = append(names, st.Type)
	}
	return strings.Join(names, ", ")
}
