package main

import (
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
	o := flamegraph.WriteOptions{
		Fold: flamegraph.FoldOptions{
			SampleIndex: 1,
			Divisor:     1000,
			Delimit:     cfg.delimit && cfg.offcpu.KernelStacks && cfg.offcpu.UserStacks,
		},
		IDLabel: sample.LabelTID,
		// Brendan Gregg's off-CPU flame graphs: the io palette, in µs.
		SVG: flamegraph.SVGOptions{
			Title:     "Off-CPU Time Flame Graph",
			Subtitle:  strings.Join(p.Comments[:1], ""),
			CountName: "us",
			Colors:    "io",
		},
	}
	return outfile.Write(cfg.output, stdout, func(w io.Writer) error {
		return flamegraph.Write(w, p, cfg.format, o)
	})
}
