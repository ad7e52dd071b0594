package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/outfile"
	"github.com/emberprof/ember/sample"
	"github.com/google/pprof/profile"
)

// write prints the profile in the chosen format; text, folded and SVG values
// are microseconds of blocked time, as in BCC.
func write(cfg *config, p *profile.Profile, stdout io.Writer) error {
	fold := flamegraph.FoldOptions{
		SampleIndex: 1,
		Divisor:     1000,
		Delimit:     cfg.delimit && cfg.offcpu.KernelStacks && cfg.offcpu.UserStacks,
	}
	return outfile.Write(cfg.output, stdout, func(w io.Writer) error {
		switch cfg.format {
		case "text":
			return flamegraph.WriteText(w, p, flamegraph.TextOptions{FoldOptions: fold, IDLabel: sample.LabelTID})
		case "folded":
			stacks, err := flamegraph.Fold(p, fold)
			if err != nil {
				return err
			}
			return flamegraph.WriteFolded(w, stacks)
		case "svg":
			stacks, err := flamegraph.Fold(p, fold)
			if err != nil {
				return err
			}
			// Brendan Gregg's off-CPU flame graphs: the io palette, in µs.
			err = flamegraph.WriteSVG(w, stacks, flamegraph.SVGOptions{
				Title:     "Off-CPU Time Flame Graph",
				Subtitle:  strings.Join(p.Comments[:1], ""),
				CountName: "us",
				Colors:    "io",
			})
			if errors.Is(err, flamegraph.ErrNoStacks) {
				// Nothing blocked: keep flamegraph.pl's error SVG, which says
				// so, rather than no file.
				return nil
			}
			return err
		case "pprof":
			// profile.Write compresses already.
			return p.Write(w)
		}
		return fmt.Errorf("format %q not supported", cfg.format)
	})
}
