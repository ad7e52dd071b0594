package flamegraph

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// FuzzReadFolded feeds arbitrary bytes through the reader, the tree and the
// renderer: no panic, and always a well-formed SVG.
func FuzzReadFolded(f *testing.F) {
	f.Add([]byte("a;b;c 1\na;b 2.5\n"), false, false)
	f.Add([]byte("a;b 1 2\n\xff;\x00 3\r\n<&> 4"), true, false)
	f.Add([]byte(";;; 1\n 2\n-;--;- 3\n"), false, true)
	f.Fuzz(func(t *testing.T, in []byte, reverse, flamechart bool) {
		var lines, ignored int
		ignored, err := ReadFolded(bytes.NewReader(in), func(l *FoldedLine) error {
			lines++
			if l.Count < 0 || l.Before < 0 {
				t.Fatalf("negative count in %q", l.Stack)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(in, []byte("\n")) + 1; lines+ignored > n {
			t.Fatalf("%d valid and %d ignored lines from %d lines", lines, ignored, n)
		}
		checkLineBound(t, in, lines, ignored)
		tr := NewTree(TreeOptions{Reverse: reverse, Flamechart: flamechart})
		tr.ReadFolded(bytes.NewReader(in))
		var svg bytes.Buffer
		if err := tr.WriteSVG(&svg, SVGOptions{MinWidth: "0"}); err != nil && !errors.Is(err, ErrNoStacks) {
			t.Fatal(err)
		}
		checkXML(t, svg.Bytes())

		// A depth bound cuts stacks but keeps every count.
		const depth = 3
		cut := NewTree(TreeOptions{Reverse: reverse, Flamechart: flamechart, MaxDepth: depth})
		cut.ReadFolded(bytes.NewReader(in))
		if cut.Total() != tr.Total() && !(math.IsNaN(cut.Total()) && math.IsNaN(tr.Total())) {
			t.Fatalf("total %v with a depth bound, %v without", cut.Total(), tr.Total())
		}
		for _, p := range cut.layout(0, false) {
			if p.depth > depth {
				t.Fatalf("a frame at depth %d with MaxDepth %d", p.depth, depth)
			}
		}
		if cut.Truncated() == 0 && cut.Len() != tr.Len() {
			t.Fatalf("no stack cut, yet %d frames with a depth bound, %d without", cut.Len(), tr.Len())
		}
	})
}

// fuzzMaxLine is the line bound the fuzz tests read with, small enough for
// inputs to cross it.
const fuzzMaxLine = 64

// checkLineBound reads in again with a line bound: the same lines if none is
// longer, else an error for the first that is, after the lines before it.
func checkLineBound(t *testing.T, in []byte, lines, ignored int) {
	t.Helper()
	first := 0 // the first line longer than the bound, from 1
	for i, l := range bytes.SplitAfter(in, []byte("\n")) {
		if len(bytes.TrimSuffix(l, []byte("\n"))) > fuzzMaxLine {
			first = i + 1
			break
		}
	}
	var blines int
	bignored, err := ReadFoldedMax(bytes.NewReader(in), fuzzMaxLine, func(*FoldedLine) error {
		blines++
		return nil
	})
	var le *LineTooLongError
	switch {
	case first == 0 && err != nil:
		t.Fatalf("no line over %d bytes, yet %v", fuzzMaxLine, err)
	case first == 0 && (blines != lines || bignored != ignored):
		t.Fatalf("with a line bound: %d valid, %d ignored; without: %d, %d", blines, bignored, lines, ignored)
	case first > 0 && (!errors.As(err, &le) || le.Line != first || blines+bignored != first-1):
		t.Fatalf("line %d is over %d bytes, yet err %v after %d lines", first, fuzzMaxLine, err, blines+bignored)
	}
}

// FuzzProfile feeds arbitrary bytes to the pprof input path: parse, fold,
// draw. Bad profiles must be errors, not panics.
func FuzzProfile(f *testing.F) {
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}},
		Function:   []*profile.Function{{ID: 1, Name: "main"}},
	}
	p.Location = []*profile.Location{{ID: 1, Line: []profile.Line{{Function: p.Function[0]}}}}
	p.Sample = []*profile.Sample{{Location: p.Location, Value: []int64{3}, Label: map[string][]string{"comm": {"x<y"}}}}
	var gz, raw bytes.Buffer
	p.Write(&gz)
	p.WriteUncompressed(&raw)
	f.Add(gz.Bytes())
	f.Add(raw.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := profile.ParseData(in)
		if err != nil {
			return
		}
		stacks, _, err := ProfileStacks(p, "")
		if err != nil {
			return
		}
		for _, depth := range []int{0, 2} {
			var svg bytes.Buffer
			o := SVGOptions{TreeOptions: TreeOptions{MaxDepth: depth}}
			if err := WriteSVG(&svg, stacks, o); err != nil && !errors.Is(err, ErrNoStacks) {
				t.Fatal(err)
			}
			checkXML(t, svg.Bytes())
		}
	})
}

// FuzzReadInput feeds arbitrary bytes, gzipped or not, to the input reader
// with small bounds: no panic, an error is one line naming the input, and
// only one of the two callbacks is used.
func FuzzReadInput(f *testing.F) {
	f.Add([]byte("a;b;c 1\na;b 2.5\n"), false)
	f.Add([]byte("\x00\x00\x00\x00\x03\x00\x00\x00"), true)
	f.Add([]byte("\x1f\x8b\x08\x00"), false)
	f.Add([]byte("\x0a\x02\x08\x01"), true)
	f.Fuzz(func(t *testing.T, in []byte, zip bool) {
		if zip {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(in)
			zw.Close()
			in = b.Bytes()
		}
		var lines, profiles int
		_, err := ReadInput(bytes.NewReader(in), "in", InputOptions{
			MaxLine:    1 << 10,
			MaxProfile: 1 << 12,
			Folded:     func(*FoldedLine) error { lines++; return nil },
			Profile:    func(*profile.Profile) error { profiles++; return nil },
		})
		if lines > 0 && profiles > 0 || profiles > 1 {
			t.Fatalf("%d folded lines and %d profiles from one input", lines, profiles)
		}
		if err != nil && (!strings.HasPrefix(err.Error(), "in: ") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("error %q is not one line naming the input", err)
		}
	})
}
