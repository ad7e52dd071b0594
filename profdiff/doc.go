// Package profdiff compares two sides of CPU or off-CPU profiles, a base and
// a new one, and says whether the new side regressed beyond thresholds and
// beyond the noise. It is the logic of cmd/profdiff, in pure functions.
//
// Each run (one profile) gives a total cost and, per function (a frame
// name), its self cost (as the leaf frame), its inclusive cost (anywhere in
// a stack, once per stack) and its share (self cost / the run's total).
// Costs are seconds per run, or samples when folded counts have no period.
//
// The noise model:
//
//   - Repeated runs (two or more on a side): each metric's mean and sample
//     variance across runs per side; the change of means has Student's
//     pooled-variance standard error and nb+nn-2 degrees of freedom (the
//     same benchmark on the same machine spreads alike on both sides;
//     Welch's degrees of freedom fall to n-1 when one side happens to be
//     noisier, which at 3 runs a side triples the critical value). A side
//     of one run borrows the other side's variance (and its n-1 degrees of
//     freedom). For functions, when runs carry sample counts, a second
//     estimate: a share p of N samples varies as phi·p(1-p)/N, with the
//     overdispersion phi (at least 1) pooled over every judged function
//     and both sides (quasi-binomial), its self cost adding the total's
//     spread (Satterthwaite degrees of freedom). Each function keeps the
//     wider of its own spread and this model: the model guards against 3
//     runs that happen to agree, its own spread against a function burstier
//     than the rest (a kernel function hit by interrupts in one run).
//   - One run a side with sample counts: counts are Poisson, so a cost c of
//     k samples has variance c²/k; a share p of N samples is binomial,
//     p(1-p)/N; the critical value is the normal's.
//   - One run a side without counts (off-CPU time): the noise is unknown,
//     nothing is judged and nothing fails.
//
// Every row judged gets a one-sided critical value at (1-confidence)/m,
// where m is 1 (the total) plus the functions judged (Bonferroni), so the
// chance of any false regression stays below 1-confidence; ± is that
// critical value times the standard error.
//
// The total is judged on its cost per run: a uniform slowdown fails it. A
// function is judged on its self cost and its self share, both of which must
// rise beyond the threshold and beyond the noise (an intersection-union test,
// at the same level): a uniform slowdown raises every cost but no share, and
// an optimisation of one function raises every other share but no other
// cost, so neither names a function. Inclusive costs are shown, not judged.
//
// A row is a regression when its change exceeds the threshold (relative,
// and the absolute minimum) and its lower confidence bound is above zero;
// improved when it fell so; too few samples when its ± is wider than the
// threshold, so that a change of the threshold's size could not be told
// from noise; ok otherwise. Only a regression fails.
package profdiff
