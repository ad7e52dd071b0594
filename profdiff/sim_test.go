package profdiff

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// program is a synthetic profile: each stack's share of the samples.
var program = []struct {
	frames []string
	share  float64
}{
	{[]string{"main", "work", "hot"}, 0.20},
	{[]string{"main", "work", "a"}, 0.15},
	{[]string{"main", "work", "b"}, 0.15},
	{[]string{"main", "parse", "c"}, 0.25},
	{[]string{"main", "parse", "d"}, 0.10},
	{[]string{"main", "io", "e"}, 0.10},
	{[]string{"main", "f"}, 0.05},
}

// sim makes runs of the program: samples per run, sampled at hz, with
// run-to-run jitter (a relative standard deviation) on the whole run and
// on each function; slow scales the rate of a leaf function.
type sim struct {
	samples float64
	hz      float64
	jitter  float64
	slow    map[string]float64
}

func (s sim) runs(rng *rand.Rand, n int) []*Run {
	var out []*Run
	for range n {
		run := &Run{Name: "sim", Unit: "seconds", Kind: "cpu", HasCounts: true}
		whole := 1 + s.jitter*rng.NormFloat64()
		for _, st := range program {
			rate := s.samples * st.share * whole * (1 + s.jitter*rng.NormFloat64())
			if f, ok := s.slow[st.frames[len(st.frames)-1]]; ok {
				rate *= f
			}
			c := poisson(rng, rate)
			run.Stacks = append(run.Stacks, Stack{Frames: st.frames, Value: c / s.hz, Count: c})
		}
		out = append(out, run)
	}
	return out
}

// poisson draws a Poisson count: by multiplying uniforms for small means,
// from the normal approximation for large ones.
func poisson(rng *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

var steady = sim{samples: 20000, hz: 100, jitter: 0.01}

func (s sim) with(fn string, f float64) sim {
	s.slow = map[string]float64{}
	for _, st := range program {
		if fn == "" {
			s.slow[st.frames[len(st.frames)-1]] = f
		}
	}
	if fn != "" {
		s.slow[fn] = f
	}
	return s
}

func compareSim(t *testing.T, seed uint64, base, new sim, nb, nn int) *Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	rep, err := Compare(base.runs(rng, nb), new.runs(rng, nn), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func names(fs []*Function) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

// (1) The same program on both sides: at 99% family-wise confidence, at
// most 2% of comparisons may find a regression.
func TestSameDistribution(t *testing.T) {
	const trials = 200
	flagged := 0
	for i := range uint64(trials) {
		rep := compareSim(t, i, steady, steady, 3, 3)
		if rep.Model != ModelRuns || rep.Judgements != 1+len(program) {
			t.Fatalf("model %q, %d judgements", rep.Model, rep.Judgements)
		}
		if rep.Regressed() {
			flagged++
		}
	}
	t.Logf("%d of %d same-distribution comparisons flagged", flagged, trials)
	if flagged > trials*2/100 {
		t.Errorf("%d of %d same-distribution comparisons flagged, want at most 2%%", flagged, trials)
	}
}

// (2) One function of 20% slowed by 30%: it, and only it, is named.
func TestOneFunctionSlower(t *testing.T) {
	for seed := range uint64(10) {
		rep := compareSim(t, seed, steady, steady.with("hot", 1.3), 5, 5)
		if got := names(rep.Regressions()); !slices.Equal(got, []string{"hot"}) || !rep.Regressed() {
			t.Errorf("seed %d: regressions %q (verdict %s), want [hot]", seed, got, rep.Verdict)
		}
		// Callers' inclusive costs rose too, but are not judged.
		for _, f := range rep.Functions {
			if f.Name == "work" && !(f.InclusiveNew > f.InclusiveBase*1.1) {
				t.Errorf("seed %d: work's inclusive cost %v -> %v did not rise", seed, f.InclusiveBase, f.InclusiveNew)
			}
		}
	}
}

// (3) The whole program 25% slower: the total is flagged, no function.
func TestUniformSlowdown(t *testing.T) {
	for seed := range uint64(10) {
		rep := compareSim(t, seed, steady, steady.with("", 1.25), 5, 5)
		if rep.Total.Verdict != Regression || !rep.Regressed() {
			t.Errorf("seed %d: total %s %+v, want a regression", seed, rep.Total.Verdict, rep.Total.Cost)
		}
		if got := names(rep.Regressions()); len(got) != 0 {
			t.Errorf("seed %d: functions %q named for a uniform slowdown", seed, got)
		}
	}
}

// (4) One function made twice as fast: the others' shares rise, their
// costs do not; nothing regressed, and the function improved.
func TestOptimisation(t *testing.T) {
	for seed := range uint64(10) {
		rep := compareSim(t, seed, steady, steady.with("c", 0.5), 5, 5)
		if rep.Regressed() {
			t.Errorf("seed %d: regressions %q, total %s", seed, names(rep.Regressions()), rep.Total.Verdict)
		}
		for _, f := range rep.Functions {
			if f.Name == "c" && f.Verdict != Improved {
				t.Errorf("seed %d: c is %q, want improved", seed, f.Verdict)
			}
		}
		if rep.Total.Verdict != Improved {
			t.Errorf("seed %d: total is %q, want improved", seed, rep.Total.Verdict)
		}
	}
}

// (5) One run a side, with sample counts: the sampling error decides.
func TestSingleRunCounts(t *testing.T) {
	exact := sim{samples: 20000, hz: 100}
	for seed := range uint64(10) {
		rep := compareSim(t, seed, exact, exact.with("hot", 1.5), 1, 1)
		if rep.Model != ModelCounts {
			t.Fatalf("model %q", rep.Model)
		}
		if got := names(rep.Regressions()); !slices.Equal(got, []string{"hot"}) {
			t.Errorf("seed %d: 50%% slower hot: regressions %q, want [hot]", seed, got)
		}
		rep = compareSim(t, seed, exact, exact.with("hot", 1.02), 1, 1)
		if rep.Regressed() {
			t.Errorf("seed %d: 2%% slower hot flagged: %q, total %s", seed, names(rep.Regressions()), rep.Total.Verdict)
		}
	}
}

// (6) Too few samples: the noise is wider than the threshold, and the
// verdict says so instead of "ok".
func TestTooFewSamples(t *testing.T) {
	few := sim{samples: 200, hz: 100}
	rep := compareSim(t, 1, few, few, 1, 1)
	if rep.Verdict != TooFew || rep.Regressed() {
		t.Errorf("200 samples a run: verdict %q, want %q", rep.Verdict, TooFew)
	}
	for _, f := range rep.Functions {
		if f.Judged && f.Verdict != TooFew {
			t.Errorf("%s: %q with ±%.0f%%, want %q", f.Name, f.Verdict, *f.Self.PercentHalfWidth, TooFew)
		}
	}
	// Noisy runs: the same with repeated runs.
	noisy := sim{samples: 20000, hz: 100, jitter: 0.3}
	rep = compareSim(t, 1, noisy, noisy, 2, 2)
	if rep.Verdict != TooFew {
		t.Errorf("30%% jitter: verdict %q, want %q", rep.Verdict, TooFew)
	}
}

// One run against several: the several runs' variance serves both sides.
func TestOneAgainstMany(t *testing.T) {
	rep := compareSim(t, 3, steady, steady.with("hot", 1.3), 1, 5)
	if rep.Model != ModelRuns || rep.Total.Cost.DF != 4 {
		t.Fatalf("model %q, df %v; want repeated runs with 4 degrees of freedom", rep.Model, rep.Total.Cost.DF)
	}
	if rep.Total.Cost.BaseSD != rep.Total.Cost.NewSD {
		t.Errorf("base sd %v, new sd %v: want the new side's for both", rep.Total.Cost.BaseSD, rep.Total.Cost.NewSD)
	}
	if got := names(rep.Regressions()); !slices.Equal(got, []string{"hot"}) {
		t.Errorf("regressions %q, want [hot]", got)
	}
}

// One run a side without counts (offcpu time): noise unknown, no verdict.
func TestNoiseUnknown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	b, n := steady.runs(rng, 1), steady.with("hot", 3).runs(rng, 1)
	for _, r := range []*Run{b[0], n[0]} {
		r.HasCounts = false
	}
	rep, err := Compare(b, n, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != NoiseUnknown || rep.Regressed() || rep.Note == "" {
		t.Errorf("verdict %q, note %q: want %q", rep.Verdict, rep.Note, NoiseUnknown)
	}
}
