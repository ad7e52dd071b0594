package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/emberprof/ember/unwind/loader"
)

// TestUnwindFlags checks --unwind and --unwind-rows: auto by default, each
// mode by name, bad values as usage errors, and both in --help.
func TestUnwindFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		mode loader.Mode
		rows uint32
	}{
		{nil, loader.ModeAuto, loader.DefaultRows},
		{[]string{"--unwind", "fp"}, loader.ModeFP, loader.DefaultRows},
		{[]string{"--unwind=dwarf", "--unwind-rows", "65536"}, loader.ModeDWARF, 65536},
	} {
		c, err := parseArgs(tt.args, "/proc")
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if c.sampler.Unwind != tt.mode || c.sampler.UnwindRows != tt.rows {
			t.Errorf("%q: mode %v rows %d, want %v %d", tt.args, c.sampler.Unwind, c.sampler.UnwindRows, tt.mode, tt.rows)
		}
	}
	for _, args := range [][]string{
		{"--unwind", "frame"}, {"--unwind", ""}, {"--unwind-rows", "5"}, {"--unwind-rows", "0"},
		{"--unwind-rows", "99999999999"},
	} {
		_, err := parseArgs(args, "/proc")
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), strings.TrimPrefix(args[0], "--")) {
			t.Errorf("%q: err = %v, want a usage error naming the option", args, err)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--unwind", "x"}, &out, &errb); code != 2 || strings.Count(strings.TrimSpace(errb.String()), "\n") > 1 {
		t.Errorf("--unwind x: exit %d, %q", code, errb.String())
	}
	out.Reset()
	run([]string{"--help"}, &out, &errb)
	for _, want := range []string{"--unwind MODE", "--unwind-rows N", "auto", "dwarf"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
