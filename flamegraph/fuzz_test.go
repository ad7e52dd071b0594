package flamegraph

import (
	"bytes"
	"errors"
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
		tr := NewTree(TreeOptions{Reverse: reverse, Flamechart: flamechart})
		tr.ReadFolded(bytes.NewReader(in))
		var svg bytes.Buffer
		if err := tr.WriteSVG(&svg, SVGOptions{MinWidth: "0"}); err != nil && !errors.Is(err, ErrNoStacks) {
			t.Fatal(err)
		}
		checkXML(t, svg.Bytes())
	})
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
		var svg bytes.Buffer
		if err := WriteSVG(&svg, stacks, SVGOptions{}); err != nil && !errors.Is(err, ErrNoStacks) {
			t.Fatal(err)
		}
		checkXML(t, svg.Bytes())
	})
}
