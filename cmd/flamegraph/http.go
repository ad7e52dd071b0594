package main

import (
	"context"
	"fmt"
	"io"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/web"
	"github.com/google/pprof/profile"
)

// serveHTTP reads every input into a profile (folded text becomes one with
// a "samples" type) and serves them on a page until ctx ends. Bad input is
// an error before anything is served.
func serveHTTP(ctx context.Context, c *config, stdin io.Reader, stderr io.Writer) int {
	s := web.New()
	for _, in := range c.inputs {
		p, ignored, err := readProfile(in, c, stdin)
		if ignored > 0 {
			fmt.Fprintf(stderr, "flamegraph: %s: ignored %d lines with invalid format\n", in, ignored)
		}
		if err != nil {
			fmt.Fprintf(stderr, "flamegraph: %s\n", oneLine(err.Error()))
			return 1
		}
		name := in
		if in == "-" {
			name = "standard input"
		}
		s.Add(name, p)
	}
	srv, err := web.Start(c.http, s)
	if err != nil {
		fmt.Fprintf(stderr, "flamegraph: %v\n", err)
		return 1
	}
	defer srv.Close()
	web.Announce(stderr, "flamegraph", srv, "Ctrl-C to stop")
	<-ctx.Done()
	return 0
}

// readProfile reads one input, pprof or folded, as a profile.
func readProfile(name string, c *config, stdin io.Reader) (*profile.Profile, int, error) {
	r, display, done, err := openInput(name, stdin)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var folded web.FoldedProfile
	var prof *profile.Profile
	n, err := flamegraph.ReadInput(r, display, flamegraph.InputOptions{
		MaxLine:    c.maxLine,
		MaxProfile: c.maxProfile,
		Folded: func(fl *flamegraph.FoldedLine) error {
			folded.Add(fl.Stack, fl.Count)
			return nil
		},
		Profile: func(p *profile.Profile) error { prof = p; return nil },
	})
	if err != nil {
		return nil, n, err
	}
	if prof == nil {
		prof = folded.Profile()
	}
	return prof, n, nil
}
