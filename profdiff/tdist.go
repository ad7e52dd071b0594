package profdiff

import "math"

// tQuantile returns the p quantile of Student's t distribution with df
// degrees of freedom, for 0.5 <= p < 1; df may be fractional (Welch) and
// +Inf (the normal distribution).
func tQuantile(p, df float64) float64 {
	if p <= 0.5 {
		return 0
	}
	if math.IsInf(df, 1) || df > 1e7 {
		return math.Sqrt2 * math.Erfinv(2*p-1)
	}
	// The CDF rises with t: double an upper bound until it holds, then
	// bisect to full float precision.
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p && hi < 1e300 {
		lo, hi = hi, hi*2
	}
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if tCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is Student's t cumulative distribution function, for t >= 0:
// 1 - I_x(df/2, 1/2)/2 with x = df/(df+t²).
func tCDF(t, df float64) float64 {
	x := df / (df + t*t)
	return 1 - 0.5*regIncBeta(x, df/2, 0.5)
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), from
// its continued fraction, evaluated by the modified Lentz method; past the
// fraction's fast-converging region it uses I_x(a,b) = 1 - I_(1-x)(b,a).
func regIncBeta(x, a, b float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(1-x, b, a)
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(a*math.Log(x)+b*math.Log1p(-x)-(la+lb-lab)) / a
	return front * betaFraction(x, a, b)
}

// betaFraction evaluates 1/(1+ d1/(1+ d2/(1+ ...))), the continued fraction
// of I_x(a,b), where d(2m+1) = -(a+m)(a+b+m)x/((a+2m)(a+2m+1)) and
// d(2m) = m(b-m)x/((a+2m-1)(a+2m)).
func betaFraction(x, a, b float64) float64 {
	const tiny = 1e-300
	nonzero := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	// f = b0 + a1/(b1 + a2/(b2 + ...)) with b0 = 0, a1 = 1, every b = 1
	// and a(k+1) = d(k).
	f := tiny
	c, d := f, 0.0
	for k := 0; k < 10000; k++ {
		var num float64
		switch {
		case k == 0:
			num = 1
		case k%2 == 1:
			m := float64(k-1) / 2
			num = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))
		default:
			m := float64(k) / 2
			num = m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m))
		}
		d = 1 / nonzero(1+num*d)
		c = nonzero(1 + num/c)
		delta := c * d
		f *= delta
		if k > 0 && math.Abs(delta-1) < 1e-15 {
			break
		}
	}
	return f
}
