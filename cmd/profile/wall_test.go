package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
)

// TestWall: --wall writes one profile with CPU, off-CPU and wall time in
// nanoseconds: a spinning child's time is on-CPU, a sleeping child's is
// blocked, and each sample's wall time is the sum of the two.
func TestWall(t *testing.T) {
	bpftest.Require(t)
	sleeper, err := filepath.Abs("../../testdata/sleeper/sleeper")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "wall.pb.gz")
	var stdout, stderr bytes.Buffer
	// spin 0.3 s, then 5 sleeps of 40 ms.
	args := []string{"--wall", "-F", "99", "--format", "pprof", "-o", out, "--", "sh", "-c", spinPath(t) + " 0.3; " + sleeper + " 5 40 >/dev/null"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, stderr.String())
	}
	p := readProfile(t, out)
	var types []string
	for _, st := range p.SampleType {
		types = append(types, st.Type+"/"+st.Unit)
	}
	if len(types) != 3 || types[0] != "cpu/nanoseconds" || types[1] != "offcpu/nanoseconds" || types[2] != "wall/nanoseconds" || p.DefaultSampleType != "wall" {
		t.Fatalf("sample types %q (default %q), want cpu, offcpu and wall in nanoseconds", types, p.DefaultSampleType)
	}
	// Time by the leaf user function: spin_c's and sleep_b's.
	var spinCPU, spinOff, sleepCPU, sleepOff int64
	for _, s := range p.Sample {
		if s.Value[0]+s.Value[1] != s.Value[2] || (s.Value[0] != 0 && s.Value[1] != 0) {
			t.Fatalf("sample values %v: want either CPU or blocked time, and wall their sum", s.Value)
		}
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				switch l.Function.Name {
				case "spin_c":
					spinCPU += s.Value[0]
					spinOff += s.Value[1]
				case "sleep_b":
					sleepCPU += s.Value[0]
					sleepOff += s.Value[1]
				}
			}
		}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	t.Logf("spin_c: %.1f ms on CPU, %.1f ms blocked; sleep_b: %.1f ms on CPU, %.1f ms blocked", ms(spinCPU), ms(spinOff), ms(sleepCPU), ms(sleepOff))
	// 0.3 s of spinning at 99 Hz is about 30 samples; 200 ms asleep.
	if spinCPU < 150e6 || spinOff > spinCPU/4 {
		t.Errorf("spin_c: %.1f ms on CPU and %.1f ms blocked, want about 300 ms on CPU", ms(spinCPU), ms(spinOff))
	}
	if sleepOff < 190e6 || sleepCPU > sleepOff/4 {
		t.Errorf("sleep_b: %.1f ms blocked and %.1f ms on CPU, want about 200 ms blocked", ms(sleepOff), ms(sleepCPU))
	}
}
