package main

import (
	"io"
	"strings"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/outfile"
	"github.com/emberprof/ember/sample"
	"github.com/google/pprof/profile"
)

// write prints the profile in the chosen format; values are samples.
func write(cfg *config, p *profile.Profile, stdout io.Writer) error {
	o := flamegraph.WriteOptions{
		Fold: flamegraph.FoldOptions{
			SampleIndex: 0,
			Annotate:    cfg.annotate,
			Delimit:     cfg.delimit && cfg.sampler.KernelStacks && cfg.sampler.UserStacks,
		},
		IDLabel: sample.LabelPID,
		SVG:     flamegraph.SVGOptions{Title: "CPU Flame Graph", Subtitle: strings.Join(p.Comments[:1], ""), CountName: "samples"},
	}
	return outfile.Write(cfg.output, stdout, func(w io.Writer) error {
		return flamegraph.Write(w, p, cfg.format, o)
	})
}
