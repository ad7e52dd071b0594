/* knob: burns CPU through five functions with fixed shares of the time, for
 * tests of regression detection (profdiff). Each function runs a number of
 * rounds of the same arithmetic; the knobs scale them:
 *
 *   knob [-n ROUNDS] [-s FUNC=FACTOR] [-u FACTOR]
 *
 * -n scales the whole run (default 300000000 rounds, about 0.4 s here), -s
 * makes one function do FACTOR times its rounds (a slowdown of that
 * function), -u multiplies every function's rounds (a uniform slowdown).
 * Shares at factor 1: parse 20%, hash 20%, sort 25%, render 15%, flush 20%.
 * Built -O2 with frame pointers and noinline so each function keeps its
 * frame; see Makefile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long sink;

/* BURN is a macro, not an inline function, so that each function's time is
 * its own in a profile (an inlined function is a frame of its own); the
 * constants differ so that the compiler cannot fold the five into one. */
#define BURN(n, c)                                                    \
	do {                                                          \
		unsigned long x = sink;                               \
		for (unsigned long i = 0; i < (n); i++)               \
			x = x * 6364136223846793005UL + i + (c);      \
		sink = x;                                             \
	} while (0)

__attribute__((noinline)) void parse(unsigned long n) { BURN(n, 1); }
__attribute__((noinline)) void hash(unsigned long n) { BURN(n, 3); }
__attribute__((noinline)) void sort(unsigned long n) { BURN(n, 5); }
__attribute__((noinline)) void render(unsigned long n) { BURN(n, 7); }
__attribute__((noinline)) void flush(unsigned long n) { BURN(n, 9); }

static const struct {
	const char *name;
	void (*fn)(unsigned long);
	double share;
} funcs[] = {
	{"parse", parse, 0.20}, {"hash", hash, 0.20}, {"sort", sort, 0.25},
	{"render", render, 0.15}, {"flush", flush, 0.20},
};
#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

int main(int argc, char **argv)
{
	double rounds = 300000000, uniform = 1, factor[NFUNCS];
	for (size_t i = 0; i < NFUNCS; i++)
		factor[i] = 1;
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-n") && a + 1 < argc) {
			rounds = atof(argv[++a]);
		} else if (!strcmp(argv[a], "-u") && a + 1 < argc) {
			uniform = atof(argv[++a]);
		} else if (!strcmp(argv[a], "-s") && a + 1 < argc) {
			char *eq = strchr(argv[++a], '=');
			size_t i = 0;
			if (eq)
				for (; i < NFUNCS; i++)
					if (strlen(funcs[i].name) == (size_t)(eq - argv[a]) &&
					    !strncmp(funcs[i].name, argv[a], eq - argv[a]))
						break;
			if (!eq || i == NFUNCS) {
				fprintf(stderr, "knob: -s %s: give FUNC=FACTOR, FUNC one of parse hash sort render flush\n", argv[a]);
				return 2;
			}
			factor[i] = atof(eq + 1);
		} else {
			fprintf(stderr, "usage: knob [-n ROUNDS] [-s FUNC=FACTOR] [-u FACTOR]\n");
			return 2;
		}
	}
	/* Interleaved in slices, so that a slow start or end of the run (the
	 * profiler attaching, caches warming) weighs on every function alike. */
	for (int slice = 0; slice < 50; slice++)
		for (size_t i = 0; i < NFUNCS; i++)
			funcs[i].fn((unsigned long)(rounds / 50 * funcs[i].share * factor[i] * uniform));
	return 0;
}
