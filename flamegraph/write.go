package flamegraph

import (
	"errors"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// Formats are the names of the outputs Write knows, as --format takes them.
var Formats = []string{"text", "folded", "svg", "pprof"}

// WriteOptions says how Write renders a profile in each format.
type WriteOptions struct {
	// Fold picks the value and frame annotations of text, folded and SVG.
	Fold FoldOptions
	// IDLabel is the label text output shows after the comm (pid or tid).
	IDLabel string
	// SVG sets the flame graph's title, units and palette.
	SVG SVGOptions
}

// Write writes p to w in format, one of Formats: BCC's multi-line text,
// folded stacks, an SVG flame graph or a gzipped pprof profile. A profile
// with no stacks still gives flamegraph.pl's "no stack counts" SVG, not an
// error, so that a run that saw nothing says so in the file asked for.
func Write(w io.Writer, p *profile.Profile, format string, o WriteOptions) error {
	switch format {
	case "text":
		return WriteText(w, p, TextOptions{FoldOptions: o.Fold, IDLabel: o.IDLabel})
	case "folded", "svg":
		stacks, err := Fold(p, o.Fold)
		if err != nil {
			return err
		}
		if format == "folded" {
			return WriteFolded(w, stacks)
		}
		if err := WriteSVG(w, stacks, o.SVG); !errors.Is(err, ErrNoStacks) {
			return err
		}
		return nil
	case "pprof":
		// profile.Write compresses already.
		return p.Write(w)
	}
	return fmt.Errorf("format %q: use one of %v", format, Formats)
}
