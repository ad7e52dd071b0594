package profdiff

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
)

// Options are the thresholds and filters of a comparison.
type Options struct {
	// Confidence is the family-wise confidence level, e.g. 0.99.
	Confidence float64 `json:"confidence"`
	// TotalThreshold is the relative rise of the total, in percent, that
	// counts as a regression.
	TotalThreshold float64 `json:"total_threshold_percent"`
	// TotalMin is the smallest absolute rise of the total per run, in the
	// unit, that counts.
	TotalMin float64 `json:"total_min"`
	// Threshold is the relative rise of a function's self cost (and of its
	// share), in percent, that counts as a regression.
	Threshold float64 `json:"threshold_percent"`
	// Min is the smallest absolute rise of a function's self cost per run,
	// in the unit, that counts.
	Min float64 `json:"min"`
	// MinShare is the self share, in percent, a function needs on either
	// side to be judged.
	MinShare float64 `json:"min_share_percent"`
	// Focus keeps only the stacks with a function matching one of these.
	Focus []*regexp.Regexp `json:"-"`
	// Ignore takes the functions matching one of these out of judging.
	Ignore []*regexp.Regexp `json:"-"`
}

// DefaultOptions are CI-sensible defaults.
func DefaultOptions() Options {
	return Options{Confidence: 0.99, TotalThreshold: 5, Threshold: 10, MinShare: 1}
}

// Verdicts of a row, and of a report.
const (
	Regression   = "regression"
	Improved     = "improved"
	OK           = "ok"
	TooFew       = "too few samples"
	NoiseUnknown = "noise unknown"
	NotJudged    = "not judged"
)

// Noise models, as Report.Model names them.
const (
	ModelRuns     = "repeated runs"
	ModelCounts   = "sampling error of one run per side"
	ModelUnknown  = "none"
	unknownReason = "one run per side and no sample counts: noise unknown; give directories of repeated runs"
)

// Estimate is one metric compared between the sides.
type Estimate struct {
	// Base and New are the means per run; BaseSD and NewSD their standard
	// deviations (across runs, or the sampling error of one run).
	Base   float64 `json:"base"`
	New    float64 `json:"new"`
	BaseSD float64 `json:"base_sd"`
	NewSD  float64 `json:"new_sd"`
	// Change is New - Base; SE its standard error and HalfWidth the ± of
	// its confidence interval at the report's (family-wise) confidence.
	Change    float64 `json:"change"`
	SE        float64 `json:"se"`
	HalfWidth float64 `json:"half_width"`
	// DF is the degrees of freedom of the t quantile (0: the normal).
	DF float64 `json:"df,omitempty"`
	// Percent is Change relative to Base, and PercentHalfWidth its ±; both
	// absent when Base is zero.
	Percent          *float64 `json:"percent,omitempty"`
	PercentHalfWidth *float64 `json:"percent_half_width,omitempty"`
}

// Lower is the lower confidence bound of the change.
func (e Estimate) Lower() float64 { return e.Change - e.HalfWidth }

// Upper is the upper confidence bound of the change.
func (e Estimate) Upper() float64 { return e.Change + e.HalfWidth }

// Total is the verdict on the whole program's cost per run.
type Total struct {
	Cost    Estimate `json:"cost"`
	Verdict string   `json:"verdict"`
}

// Function is one function compared between the sides.
type Function struct {
	Name string `json:"name"`
	// Self is the function's cost as the leaf frame, per run; Share that
	// cost as a fraction of the run's total.
	Self  Estimate `json:"self"`
	Share Estimate `json:"share"`
	// InclusiveBase and InclusiveNew are the mean cost per run of stacks
	// the function is anywhere in (shown, not judged).
	InclusiveBase float64 `json:"inclusive_base"`
	InclusiveNew  float64 `json:"inclusive_new"`
	Judged        bool    `json:"judged"`
	// Why says why a function was not judged.
	Why     string `json:"why,omitempty"`
	Verdict string `json:"verdict"`
}

// Side describes one side's runs.
type Side struct {
	Name string   `json:"name"`
	Runs []string `json:"runs"`
	// Ignored and Negative count the bad folded lines and negative pprof
	// stacks skipped in all runs.
	Ignored  int `json:"ignored_lines,omitempty"`
	Negative int `json:"negative_stacks,omitempty"`
}

// Report is the outcome of a comparison.
type Report struct {
	Base Side   `json:"base"`
	New  Side   `json:"new"`
	Unit string `json:"unit"`
	Kind string `json:"kind,omitempty"`
	// Model is how noise was estimated; Note says why when it could not be.
	Model string `json:"model"`
	Note  string `json:"note,omitempty"`
	// Judgements is the number of rows judged: the Bonferroni divisor.
	Judgements int `json:"judgements"`
	// Dispersion is the spread of function shares across runs relative to
	// sampling alone (quasi-binomial; at least 1), when it was estimated.
	Dispersion float64     `json:"dispersion,omitempty"`
	Options    Options     `json:"options"`
	Focus      []string    `json:"focus,omitempty"`
	Ignore     []string    `json:"ignore,omitempty"`
	Total      Total       `json:"total"`
	Functions  []*Function `json:"functions"`
	// Verdict is Regression, Improved, OK, TooFew or NoiseUnknown; only
	// Regression fails.
	Verdict string `json:"verdict"`
}

// Regressed reports whether the report fails: a regression was found.
func (r *Report) Regressed() bool { return r.Verdict == Regression }

// measure is one run's costs: the total, and per function its self and
// inclusive cost; the counts are the same in samples.
type measure struct {
	total, totalCount float64
	self, selfCount   map[string]float64
	incl              map[string]float64
}

func measureRun(r *Run, focus []*regexp.Regexp) measure {
	m := measure{self: map[string]float64{}, selfCount: map[string]float64{}, incl: map[string]float64{}}
	seen := map[string]bool{}
	for _, s := range r.Stacks {
		if len(focus) > 0 && !containsMatch(s.Frames, focus) {
			continue
		}
		m.total += s.Value
		m.totalCount += s.Count
		if len(s.Frames) == 0 {
			continue
		}
		leaf := s.Frames[len(s.Frames)-1]
		m.self[leaf] += s.Value
		m.selfCount[leaf] += s.Count
		// A recursive function counts once per stack.
		clear(seen)
		for _, f := range s.Frames {
			if !seen[f] {
				seen[f] = true
				m.incl[f] += s.Value
			}
		}
	}
	return m
}

func matchAny(res []*regexp.Regexp, s string) bool {
	return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
}

// Compare judges the new runs against the base runs. Both sides need at
// least one run, of one unit (see CheckUnits).
func Compare(base, new []*Run, o Options) (*Report, error) {
	if len(base) == 0 || len(new) == 0 {
		return nil, fmt.Errorf("each side needs at least one run")
	}
	if err := CheckUnits(append(slices.Clone(base), new...)); err != nil {
		return nil, err
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		return nil, fmt.Errorf("confidence %v: give a level between 0 and 1, e.g. 0.99", o.Confidence)
	}
	rep := &Report{Unit: base[0].Unit, Options: o, Base: side(base), New: side(new)}
	for _, r := range append(slices.Clone(base), new...) {
		if r.Kind != "" {
			rep.Kind = r.Kind
		}
	}
	for _, re := range o.Focus {
		rep.Focus = append(rep.Focus, re.String())
	}
	for _, re := range o.Ignore {
		rep.Ignore = append(rep.Ignore, re.String())
	}
	mb := measureAll(base, o.Focus)
	mn := measureAll(new, o.Focus)
	counts := allCounts(base) && allCounts(new)
	switch {
	case len(base) > 1 || len(new) > 1:
		rep.Model = ModelRuns
	case counts:
		rep.Model = ModelCounts
	default:
		rep.Model = ModelUnknown
		rep.Note = unknownReason
	}

	// The functions, and which are judged: the family's size sets the
	// critical value of every row.
	names := map[string]bool{}
	for _, ms := range [][]measure{mb, mn} {
		for _, m := range ms {
			for f := range m.incl {
				names[f] = true
			}
		}
	}
	judged := 0
	for f := range names {
		fn := &Function{Name: f, InclusiveBase: mean(values(mb, func(m measure) float64 { return m.incl[f] })),
			InclusiveNew: mean(values(mn, func(m measure) float64 { return m.incl[f] }))}
		sb := mean(values(mb, func(m measure) float64 { return share(m.self[f], m.total) }))
		sn := mean(values(mn, func(m measure) float64 { return share(m.self[f], m.total) }))
		switch {
		case matchAny(o.Ignore, f):
			fn.Why = "ignored (--ignore)"
		case math.Max(sb, sn)*100 < o.MinShare:
			fn.Why = fmt.Sprintf("self share below %g%% (--min-share)", o.MinShare)
		default:
			fn.Judged = true
			judged++
		}
		rep.Functions = append(rep.Functions, fn)
	}
	rep.Judgements = 1 + judged
	// One-sided at alpha/m each: Bonferroni keeps the chance of any false
	// regression in the family below alpha.
	p := 1 - (1-o.Confidence)/float64(rep.Judgements)

	rep.Total.Cost = compare(rep.Model, p,
		values(mb, func(m measure) float64 { return m.total }),
		values(mn, func(m measure) float64 { return m.total }),
		func(m measure) float64 { return poissonVar(m.total, m.totalCount) }, mb, mn)
	rep.Total.Verdict = verdict(rep.Model, []judgement{{rep.Total.Cost, math.Max(o.TotalThreshold/100*rep.Total.Cost.Base, o.TotalMin)}})

	var disp *dispersion
	if rep.Model == ModelRuns && counts && len(mb) > 1 && len(mn) > 1 {
		var fs []string
		for _, fn := range rep.Functions {
			if fn.Judged {
				fs = append(fs, fn.Name)
			}
		}
		if disp = newDispersion(fs, mb, mn); disp.df > 0 {
			rep.Dispersion = disp.phi
		} else {
			disp = nil
		}
	}
	for _, fn := range rep.Functions {
		f := fn.Name
		fn.Self = compare(rep.Model, p,
			values(mb, func(m measure) float64 { return m.self[f] }),
			values(mn, func(m measure) float64 { return m.self[f] }),
			func(m measure) float64 { return poissonVar(m.self[f], m.selfCount[f]) }, mb, mn)
		fn.Share = compare(rep.Model, p,
			values(mb, func(m measure) float64 { return share(m.self[f], m.total) }),
			values(mn, func(m measure) float64 { return share(m.self[f], m.total) }),
			func(m measure) float64 { return binomialVar(share(m.self[f], m.total), m.totalCount) }, mb, mn)
		if disp != nil {
			// The pooled model is sharper for a function that varies like
			// the others; one that varies more (a kernel function hit by
			// bursts of interrupts in one run) keeps its own, wider spread.
			share, self := disp.estimates(f, p, rep.Total.Cost, mb, mn)
			if share.HalfWidth > fn.Share.HalfWidth {
				fn.Share = share
			}
			if self.HalfWidth > fn.Self.HalfWidth {
				fn.Self = self
			}
		}
		if !fn.Judged {
			fn.Verdict = NotJudged
			continue
		}
		// Both the absolute cost and the share must move: a uniform
		// slowdown moves no share, an optimisation elsewhere no other
		// function's absolute cost.
		fn.Verdict = verdict(rep.Model, []judgement{
			{fn.Self, math.Max(o.Threshold/100*fn.Self.Base, o.Min)},
			{fn.Share, o.Threshold / 100 * fn.Share.Base},
		})
	}
	sortFunctions(rep.Functions)
	rep.Verdict = overall(rep)
	return rep, nil
}

func side(runs []*Run) Side {
	s := Side{}
	for _, r := range runs {
		s.Runs = append(s.Runs, r.Name)
		s.Ignored += r.Ignored
		s.Negative += r.Negative
	}
	return s
}

func measureAll(runs []*Run, focus []*regexp.Regexp) []measure {
	ms := make([]measure, len(runs))
	for i, r := range runs {
		ms[i] = measureRun(r, focus)
	}
	return ms
}

func allCounts(runs []*Run) bool {
	for _, r := range runs {
		if !r.HasCounts {
			return false
		}
	}
	return true
}

func values(ms []measure, f func(measure) float64) []float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	return v
}

func share(part, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return part / total
}

// poissonVar is the variance of a cost made of count samples: the count is
// Poisson (variance count), each sample worth cost/count.
func poissonVar(cost, count float64) float64 {
	if count <= 0 {
		return 0
	}
	return cost * cost / count
}

// binomialVar is the variance of a share p of n samples.
func binomialVar(p, n float64) float64 {
	if n <= 0 {
		return 0
	}
	return p * (1 - p) / n
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// variance is the sample variance (n-1 in the denominator).
func variance(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	m := mean(v)
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return s / float64(len(v)-1)
}

// compare estimates new - base for one metric: from the spread across runs
// (Welch's t), or for one run a side from the sampling error single gives
// for a run's measure.
func compare(model string, p float64, b, n []float64, single func(measure) float64, mb, mn []measure) Estimate {
	e := Estimate{Base: mean(b), New: mean(n)}
	e.Change = e.New - e.Base
	switch model {
	case ModelRuns:
		vb, vn := variance(b), variance(n)
		nb, nn := float64(len(b)), float64(len(n))
		df := 0.0
		switch {
		case len(b) == 1:
			vb, df = vn, nn-1
		case len(n) == 1:
			vn, df = vb, nb-1
		}
		e.BaseSD, e.NewSD = math.Sqrt(vb), math.Sqrt(vn)
		if df == 0 {
			// Student's pooled variance: the same benchmark on the same
			// machine spreads alike on both sides, and pooling keeps the
			// degrees of freedom of both (Welch's can fall to n-1 when one
			// side is noisier, which at 3 runs a side makes the critical
			// value three times as large).
			df = nb + nn - 2
			pooled := ((nb-1)*vb + (nn-1)*vn) / df
			vb, vn = pooled, pooled
		}
		e.SE = math.Sqrt(vb/nb + vn/nn)
		e.DF = df
		if e.SE > 0 {
			e.HalfWidth = tQuantile(p, df) * e.SE
		}
	case ModelCounts:
		vb, vn := single(mb[0]), single(mn[0])
		e.BaseSD, e.NewSD = math.Sqrt(vb), math.Sqrt(vn)
		e.SE = math.Sqrt(vb + vn)
		e.HalfWidth = tQuantile(p, math.Inf(1)) * e.SE
	default:
		e.SE, e.HalfWidth = math.NaN(), math.NaN()
	}
	if e.Base > 0 && !math.IsNaN(e.HalfWidth) {
		pc, hw := 100*e.Change/e.Base, 100*e.HalfWidth/e.Base
		e.Percent, e.PercentHalfWidth = &pc, &hw
	}
	if math.IsNaN(e.SE) {
		// JSON has no NaN: unknown noise is a zero SE under the report's
		// "none" model.
		e.SE, e.HalfWidth = 0, 0
	}
	return e
}

// judgement is one estimate and the change it must exceed.
type judgement struct {
	e         Estimate
	threshold float64
}

// verdict judges a row on all its estimates: a regression only when every
// one rose beyond its threshold and its lower bound is above zero; improved
// when every one fell so; too few samples when the noise of one is wider
// than its threshold, so that a change of the threshold's size could not be
// told from noise.
func verdict(model string, js []judgement) string {
	if model == ModelUnknown {
		return NoiseUnknown
	}
	up, down, wide := true, true, false
	for _, j := range js {
		e := j.e
		up = up && e.Change > j.threshold && e.Lower() > 0
		down = down && -e.Change > j.threshold && e.Upper() < 0
		wide = wide || e.HalfWidth > j.threshold
	}
	switch {
	case up:
		return Regression
	case down:
		return Improved
	case wide:
		return TooFew
	}
	return OK
}

var verdictRank = map[string]int{Regression: 0, TooFew: 1, Improved: 2, OK: 3, NoiseUnknown: 4, NotJudged: 5}

// sortFunctions puts regressions first, then the undecided, the improved
// and the rest; within each, the most significant rise of self cost first.
func sortFunctions(fs []*Function) {
	z := func(f *Function) float64 {
		if f.Self.SE > 0 {
			return f.Self.Change / f.Self.SE
		}
		return math.Copysign(math.MaxFloat64, f.Self.Change) * boolf(f.Self.Change != 0)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := verdictRank[a.Verdict], verdictRank[b.Verdict]; ra != rb {
			return ra < rb
		}
		if za, zb := z(a), z(b); za != zb {
			return za > zb
		}
		if a.Self.Change != b.Self.Change {
			return a.Self.Change > b.Self.Change
		}
		return a.Name < b.Name
	})
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func overall(r *Report) string {
	if r.Model == ModelUnknown {
		return NoiseUnknown
	}
	vs := []string{r.Total.Verdict}
	for _, f := range r.Functions {
		if f.Judged {
			vs = append(vs, f.Verdict)
		}
	}
	switch {
	case slices.Contains(vs, Regression):
		return Regression
	case slices.Contains(vs, TooFew):
		return TooFew
	case slices.Contains(vs, Improved):
		return Improved
	}
	return OK
}

// Regressions returns the functions judged regressed.
func (r *Report) Regressions() []*Function {
	var out []*Function
	for _, f := range r.Functions {
		if f.Verdict == Regression {
			out = append(out, f)
		}
	}
	return out
}

func containsMatch(frames []string, res []*regexp.Regexp) bool {
	return slices.ContainsFunc(frames, func(f string) bool { return matchAny(res, f) })
}
