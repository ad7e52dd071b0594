package flamegraph

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestWriteFormats checks that Write gives each format what its own writer
// gives, the empty-profile SVG instead of an error, and a clear error for an
// unknown format.
func TestWriteFormats(t *testing.T) {
	p := bccProfile()
	o := WriteOptions{IDLabel: "pid", SVG: SVGOptions{Title: "T"}}
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, p, format, o); err != nil || buf.Len() == 0 {
			t.Errorf("%s: %d bytes, %v", format, buf.Len(), err)
		}
		if format == "folded" {
			stacks, _ := Fold(p, o.Fold)
			var want bytes.Buffer
			WriteFolded(&want, stacks)
			if buf.String() != want.String() {
				t.Errorf("folded differs from WriteFolded")
			}
		}
		if format == "pprof" {
			if _, err := profile.Parse(&buf); err != nil {
				t.Errorf("pprof output does not parse: %v", err)
			}
		}
	}
	empty := &profile.Profile{SampleType: p.SampleType}
	var buf bytes.Buffer
	if err := Write(&buf, empty, "svg", o); err != nil || !strings.Contains(buf.String(), "ERROR: No valid input provided") {
		t.Errorf("empty svg: %v\n%.300s", err, buf.String())
	}
	if err := Write(&buf, p, "json", o); err == nil || !strings.Contains(err.Error(), "json") {
		t.Errorf("unknown format: %v", err)
	}
}
