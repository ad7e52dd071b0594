package profdiff

import (
	"math"
	"testing"
)

// The quantiles against a printed t table (and the normal's for df = +Inf).
func TestTQuantile(t *testing.T) {
	for _, tt := range []struct{ p, df, want float64 }{
		{0.975, 4, 2.776},
		{0.99, 10, 2.764},
		{0.95, 1, 6.314},
		{0.995, 2, 9.925},
		{0.975, 30, 2.042},
		{0.9995, 5, 6.869},
		{0.9, 120, 1.289},
		{0.975, math.Inf(1), 1.960},
		{0.995, math.Inf(1), 2.576},
	} {
		got := tQuantile(tt.p, tt.df)
		if math.Abs(got-tt.want) > 0.0015 {
			t.Errorf("t(%v, %v) = %.4f, want %.3f", tt.p, tt.df, got, tt.want)
		}
		if back := tCDF(got, tt.df); !math.IsInf(tt.df, 1) && math.Abs(back-tt.p) > 1e-9 {
			t.Errorf("CDF(t(%v, %v)) = %v", tt.p, tt.df, back)
		}
	}
	// Fractional degrees of freedom lie between their neighbours.
	if a, b, c := tQuantile(0.99, 4), tQuantile(0.99, 4.5), tQuantile(0.99, 5); !(a > b && b > c) {
		t.Errorf("t(0.99; 4, 4.5, 5) = %v, %v, %v: not decreasing", a, b, c)
	}
}

// I_x(a, b) against closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a and
// I_x(1/2, 1/2) = 2/pi asin(sqrt x).
func TestRegIncBeta(t *testing.T) {
	for _, x := range []float64{0.01, 0.2, 0.5, 0.77, 0.99} {
		for _, c := range []struct{ a, b, want float64 }{
			{1, 1, x},
			{3.5, 1, math.Pow(x, 3.5)},
			{0.5, 0.5, 2 / math.Pi * math.Asin(math.Sqrt(x))},
		} {
			if got := regIncBeta(x, c.a, c.b); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("I_%v(%v, %v) = %v, want %v", x, c.a, c.b, got, c.want)
			}
		}
	}
}
