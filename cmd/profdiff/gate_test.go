package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/profdiff"
)

// The CI regression gate end to end: testdata/knob (five functions with
// fixed shares, and knobs that slow one or all of them) profiled under the
// real profile -- CMD, several runs a side, compared by profdiff.

// gateHz is the sampling rate of the gate's runs: about 2000 samples in a
// default knob run (0.4 s), so that a function's share is known to about a
// point (binomial) from 3 runs.
const gateHz = "4999"

// buildProfile builds cmd/profile into a temporary directory.
func buildProfile(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "profile")
	if out, err := exec.Command("go", "build", "-o", bin, "../profile").CombinedOutput(); err != nil {
		t.Fatalf("build profile: %v\n%s", err, out)
	}
	return bin
}

// knob returns the test program's path.
func knob(t *testing.T) string {
	p, err := filepath.Abs("../../testdata/knob/knob")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// record profiles one knob run with args into file, as pprof.
func record(t *testing.T, prof, file string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prof, append([]string{"-F", gateHz, "--format", "pprof", "-o", file, "--", knob(t)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", cmd.Args, err, out)
	}
}

// compare reads two directories of runs and compares them with the
// default options.
func compare(t *testing.T, base, new string) *profdiff.Report {
	t.Helper()
	var sides [2][]*profdiff.Run
	for i, dir := range []string{base, new} {
		runs, err := readSide(dir, profdiff.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sides[i] = runs
	}
	r, err := profdiff.Compare(sides[0], sides[1], profdiff.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func regressionNames(r *profdiff.Report) []string {
	var names []string
	for _, f := range r.Regressions() {
		names = append(names, f.Name)
	}
	return names
}

func summary(r *profdiff.Report) string {
	var b strings.Builder
	r.Write(&b, "table")
	return b.String()
}

// TestGateFindsRegressions: with 5 runs a side (the README's advice), a 30%
// slowdown of one function holding about 20% of the time is flagged, naming
// that function and no other; a uniform 25% slowdown is flagged on the
// total, naming no function. With 3 runs a side, one CI run measured the
// totals at ±23% and judged the 30% slowdown "too few samples".
func TestGateFindsRegressions(t *testing.T) {
	bpftest.Require(t)
	prof := buildProfile(t)
	dir := t.TempDir()
	sides := []struct {
		name string
		args []string
	}{{"base", nil}, {"slow", []string{"-s", "parse=1.3"}}, {"uniform", []string{"-u", "1.25"}}}
	// Interleaved, as the README's CI job runs them, so that a drift of
	// the machine's speed weighs on every side alike.
	for i := range 5 {
		for _, s := range sides {
			record(t, prof, filepath.Join(dir, s.name, fmt.Sprintf("run%d.pb.gz", i)), s.args...)
		}
	}
	slow := compare(t, filepath.Join(dir, "base"), filepath.Join(dir, "slow"))
	t.Logf("one function slowed:\n%s", summary(slow))
	if got := regressionNames(slow); !slow.Regressed() || len(got) != 1 || got[0] != "parse" {
		t.Errorf("parse 30%% slower: regressions %q (verdict %s), want exactly [parse]\n%s", got, slow.Verdict, summary(slow))
	}
	uniform := compare(t, filepath.Join(dir, "base"), filepath.Join(dir, "uniform"))
	t.Logf("uniform slowdown:\n%s", summary(uniform))
	if got := regressionNames(uniform); !uniform.Regressed() || uniform.Total.Verdict != profdiff.Regression || len(got) != 0 {
		t.Errorf("uniform 25%% slowdown: total %s, functions %q; want the total flagged and no function\n%s", uniform.Total.Verdict, got, summary(uniform))
	}
}

// TestGateNoFalseAlarms: the same build against itself, 20 pairs of 3 runs
// a side, flags nothing.
func TestGateNoFalseAlarms(t *testing.T) {
	bpftest.Require(t)
	prof := buildProfile(t)
	const pairs, runs = 20, 3
	flagged := 0
	for p := range pairs {
		dir := t.TempDir()
		for i := range runs {
			for _, side := range []string{"a", "b"} {
				// Shorter runs (about 0.2 s) keep the 120 runs quick.
				record(t, prof, filepath.Join(dir, side, fmt.Sprintf("run%d.pb.gz", i)), "-n", "150000000")
			}
		}
		r := compare(t, filepath.Join(dir, "a"), filepath.Join(dir, "b"))
		if r.Regressed() {
			flagged++
			t.Errorf("pair %d: same build flagged: total %s, functions %q\n%s", p, r.Total.Verdict, regressionNames(r), summary(r))
		}
	}
	t.Logf("false positives: %d of %d pairs of %d runs a side", flagged, pairs, runs)
}
