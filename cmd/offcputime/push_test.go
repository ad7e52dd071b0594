package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/push/pyroscopetest"
	"github.com/google/pprof/profile"
)

// TestPushOffCPU: offcputime --push sends blocked time as its own profile
// type (offcpu), which the server gives back with the sleeping chain and
// the total measured.
func TestPushOffCPU(t *testing.T) {
	bpftest.Require(t)
	srv := pyroscopetest.Start(t)
	sleeper, err := filepath.Abs("../../testdata/sleeper/sleeper")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "final.pb.gz")
	var stdout, stderr bytes.Buffer
	// 30 sleeps of 50 ms: three 1 s intervals.
	args := []string{"--push", srv.URL(), "--push-interval", "1s", "--format", "pprof", "-o", out, "--", sleeper, "30", "50"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("offcputime %q: exit %d: %s", args, code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, s := range p.Sample {
		want += s.Value[1]
	}
	query := `offcpu:offcpu:nanoseconds:offcpu:nanoseconds{service_name="sleeper"}`
	var got pyroscopetest.Flame
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got, err = srv.Render(query); err == nil && got.NumTicks >= want {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if got.NumTicks != want || !slices.Contains(got.Names, "sleep_b") {
		t.Errorf("server has %d ns blocked (want %d, as measured) and names %q (want sleep_b)\n%s", got.NumTicks, want, got.Names, stderr.String())
	}
}
