package profdiff

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// FuzzReadRun reads arbitrary bytes as a run and compares it with itself:
// no panic, a one-line error naming the input, finite non-negative costs,
// and a report that encodes as JSON (which has no NaN).
func FuzzReadRun(f *testing.F) {
	f.Add([]byte("main;a 3\nmain;b 2\n"), "samples")
	f.Add([]byte("x;y;x 1.5\n\xff;\x00 7\r\nbad line\n"), "us")
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), "ns")
	fn := &profile.Function{ID: 1, Name: "f"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{
		SampleType:        []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "offcpu", Unit: "nanoseconds"}},
		DefaultSampleType: "offcpu",
		Function:          []*profile.Function{fn},
		Location:          []*profile.Location{loc},
		Sample:            []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{3, 3e6}}},
	}
	var pb bytes.Buffer
	if err := p.Write(&pb); err != nil {
		f.Fatal(err)
	}
	f.Add(pb.Bytes(), "samples")
	f.Fuzz(func(t *testing.T, in []byte, unit string) {
		if !ValidUnit(unit) {
			unit = "samples"
		}
		read := func() (*Run, error) {
			return ReadRun(bytes.NewReader(in), "in", ReadOptions{Unit: unit, MaxLine: 1 << 12, MaxProfile: 1 << 16})
		}
		r, err := read()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line naming the input", err)
			}
			return
		}
		for _, s := range r.Stacks {
			if !(s.Value >= 0) || math.IsInf(s.Value, 0) && !math.IsInf(s.Value, 1) {
				t.Fatalf("stack %q costs %v", s.Frames, s.Value)
			}
		}
		r2, _ := read()
		rep, err := Compare([]*Run{r}, []*Run{r2}, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Regressed() {
			t.Fatalf("a run regressed against itself: %+v", rep.Total)
		}
		if _, err := json.Marshal(rep); err != nil && !hasInf(r) {
			t.Fatalf("json: %v", err)
		}
	})
}

func hasInf(r *Run) bool {
	for _, s := range r.Stacks {
		if math.IsInf(s.Value, 0) {
			return true
		}
	}
	return false
}
