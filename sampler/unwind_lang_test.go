package sampler

import (
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/emberprof/ember/unwind/unwindtest"
)

// chainCXX spends its time in a template instantiated for a comparator
// lambda that std::sort calls, and in throwing and catching exceptions (so
// in libstdc++ and libgcc's unwinder, also without frame pointers).
const chainCXX = `
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>
#include <vector>
volatile unsigned long sink;
template <typename T> __attribute__((noinline)) T mix(T x) {
	for (int i = 0; i < 50; i++) x = x * 31 + 7;
	return x;
}
__attribute__((noinline)) void thrower(int i) {
	if (i % 2 == 0) throw std::runtime_error("even");
	sink += mix<unsigned long>(i);
}
template <typename T> __attribute__((noinline)) void sorter(std::vector<T> &v) {
	std::sort(v.begin(), v.end(), [](T a, T b) { return mix(a) < mix(b); });
}
__attribute__((noinline)) void work(double secs) {
	auto t0 = std::chrono::steady_clock::now();
	std::vector<long> v(2048);
	while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < secs) {
		for (auto &x : v) x = rand();
		sorter(v);
		for (int i = 0; i < 200; i++) {
			try { thrower(i); } catch (const std::exception &e) { sink += e.what()[0]; }
		}
	}
}
int main(int argc, char **argv) {
	char go;
	if (argc < 2 || read(0, &go, 1) != 1) return 2;
	work(atof(argv[1]));
	return 0;
}
`

// chainRust spins three calls deep in Rust code built without frame
// pointers; its main is the C main that rustc emits around the Rust one.
const chainRust = `
use std::io::Read;
use std::time::Instant;
fn opaque(x: u64) -> u64 { unsafe { std::ptr::read_volatile(&x) } }
#[inline(never)] fn c(n: u64) -> u64 { let mut s = 0u64; for i in 0..n { s = s.wrapping_add(opaque(i)); } s }
#[inline(never)] fn b(n: u64) -> u64 { opaque(c(n)) + 1 }
#[inline(never)] fn a(n: u64) -> u64 { opaque(b(n)) + 1 }
fn main() {
	let secs: f64 = std::env::args().nth(1).unwrap().parse().unwrap();
	let mut go = [0u8; 1];
	std::io::stdin().read_exact(&mut go).unwrap();
	let t0 = Instant::now();
	let mut s = 0u64;
	while t0.elapsed().as_secs_f64() < secs { s = s.wrapping_add(a(2_000_000)); }
	opaque(s);
}
`

// TestUnwindLanguages: C++ (templates, a lambda called from std::sort,
// exceptions thrown and caught) and Rust built without frame pointers reach
// main through the DWARF walker.
func TestUnwindLanguages(t *testing.T) {
	bpftest.Require(t)
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) string
	}{
		{"c++", func(t *testing.T) string {
			return unwindtest.BuildCXX(t, "chaincxx", chainCXX, "-O2", "-fomit-frame-pointer")
		}},
		{"rust", func(t *testing.T) string {
			return unwindtest.BuildRust(t, "chainrs", chainRust, "-C", "opt-level=2", "-C", "force-frame-pointers=no")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.build(t)
			syms := unwindtest.LoadSymtab(t, bin)
			cfg := Config{Frequency: 499, CPU: -1, UserStacks: true, Unwind: loader.ModeAuto, UnwindRows: 1 << 20}
			s, recs, pid, base := profileChild(t, cfg, bin, "3")
			r := unwindtest.ReachMain(recs, pid, syms, base)
			st, info, err := s.Unwind()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v; counters: %v; loader: %+v", r, st, info)
			if r.Samples < 100 || r.Fraction() < 0.95 {
				t.Errorf("%v, want >= 95%% of >= 100 samples; some that did not: %q", r, r.Sample)
			}
		})
	}
}
