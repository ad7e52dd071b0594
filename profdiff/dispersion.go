package profdiff

import "math"

// dispersion is the quasi-binomial model of function shares across repeated
// runs: a share p of a run's N samples varies as phi·p(1-p)/N, phi pooled
// over every judged function and both sides. At 3 runs a side a function's
// own spread has 4 degrees of freedom, and its t critical value (with
// Bonferroni) is near 6; pooled over the functions, phi has many more, so
// a real change of one function is told from noise with few runs.
type dispersion struct {
	phi float64
	df  float64
}

// newDispersion estimates phi from the judged functions fs.
func newDispersion(fs []string, mb, mn []measure) *dispersion {
	sum, df := 0.0, 0.0
	for _, f := range fs {
		for _, ms := range [][]measure{mb, mn} {
			shares := make([]float64, len(ms))
			for i, m := range ms {
				shares[i] = share(m.self[f], m.total)
			}
			pbar := mean(shares)
			if pbar <= 0 || pbar >= 1 {
				continue
			}
			for i, m := range ms {
				if v := binomialVar(pbar, m.totalCount); v > 0 {
					sum += (shares[i] - pbar) * (shares[i] - pbar) / v
				}
			}
			df += float64(len(ms) - 1)
		}
	}
	d := &dispersion{phi: 1, df: df}
	if df > 0 {
		// Never below 1: binomial spread is what random sampling alone
		// gives, and a timer's regular samples of a steady program can
		// look steadier than the program is.
		d.phi = math.Max(1, sum/df)
	}
	return d
}

// meanShareVar is the variance of the mean share p of f over runs ms.
func (d *dispersion) meanShareVar(f string, ms []measure) (pbar, v float64) {
	shares := make([]float64, len(ms))
	for i, m := range ms {
		shares[i] = share(m.self[f], m.total)
	}
	pbar = mean(shares)
	n := float64(len(ms))
	for _, m := range ms {
		v += d.phi * binomialVar(pbar, m.totalCount) / (n * n)
	}
	return pbar, v
}

// estimates gives f's share and self cost changes. The self cost per run
// is share × total, so its variance adds the share's (scaled by the total)
// and the total's (scaled by the share), the total's from its pooled
// spread across runs; its degrees of freedom are Satterthwaite's.
func (d *dispersion) estimates(f string, p float64, total Estimate, mb, mn []measure) (shareEst, selfEst Estimate) {
	pb, vpb := d.meanShareVar(f, mb)
	pn, vpn := d.meanShareVar(f, mn)
	shareEst = Estimate{Base: pb, New: pn, Change: pn - pb, SE: math.Sqrt(vpb + vpn), DF: d.df}
	shareEst.BaseSD = math.Sqrt(vpb * float64(len(mb)))
	shareEst.NewSD = math.Sqrt(vpn * float64(len(mn)))
	shareEst.HalfWidth = tQuantile(p, d.df) * shareEst.SE
	setPercent(&shareEst)

	tb, tn := total.Base, total.New
	// The total's variance of the mean, per side, from its pooled SE.
	nb, nn := float64(len(mb)), float64(len(mn))
	vt := total.SE * total.SE / (1/nb + 1/nn)
	vtb, vtn := vt/nb, vt/nn
	a := tb*tb*vpb + tn*tn*vpn // from the shares
	b := pb*pb*vtb + pn*pn*vtn // from the totals
	selfEst = Estimate{
		Base: mean(values(mb, func(m measure) float64 { return m.self[f] })),
		New:  mean(values(mn, func(m measure) float64 { return m.self[f] })),
		SE:   math.Sqrt(a + b),
	}
	selfEst.Change = selfEst.New - selfEst.Base
	selfEst.BaseSD = math.Sqrt(variance(values(mb, func(m measure) float64 { return m.self[f] })))
	selfEst.NewSD = math.Sqrt(variance(values(mn, func(m measure) float64 { return m.self[f] })))
	df := d.df
	if b > 0 && total.DF > 0 {
		df = (a + b) * (a + b) / (a*a/d.df + b*b/total.DF)
	}
	selfEst.DF = df
	if selfEst.SE > 0 {
		selfEst.HalfWidth = tQuantile(p, df) * selfEst.SE
	}
	setPercent(&selfEst)
	return shareEst, selfEst
}

// setPercent fills the relative change and its ±.
func setPercent(e *Estimate) {
	if e.Base > 0 {
		pc, hw := 100*e.Change/e.Base, 100*e.HalfWidth/e.Base
		e.Percent, e.PercentHalfWidth = &pc, &hw
	}
}
