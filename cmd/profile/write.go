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

// write prints the profile in the chosen format.
func write(cfg *config, p *profile.Profile, stdout io.Writer) error {
	fold := flamegraph.FoldOptions{SampleIndex: 0, Annotate: cfg.annotate, Delimit: cfg.delimit && cfg.sampler.KernelStacks && cfg.sampler.UserStacks}
	return outfile.Write(cfg.output, stdout, func(w io.Writer) error {
		switch cfg.format {
		case "text":
			return flamegraph.WriteText(w, p, flamegraph.TextOptions{FoldOptions: fold, IDLabel: sample.LabelPID})
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
			err = flamegraph.WriteSVG(w, stacks, flamegraph.SVGOptions{Title: "CPU Flame Graph", Subtitle: strings.Join(p.Comments[:1], ""), CountName: "samples"})
			if errors.Is(err, flamegraph.ErrNoStacks) {
				// Nothing was sampled: keep flamegraph.pl's error SVG, which
				// says so, rather than no file.
				return nil
			}
			return err
		case "pprof":
			// profile.Write compresses already.
			return p.Write(w)
		}
		return fmt.Errorf("format %q not supported yet", cfg.format)
	})
}
