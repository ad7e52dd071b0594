package sampler

import (
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/emberprof/ember/unwind/unwindtest"
)

// chainC spins in c, called through b and a from main; built without frame
// pointers, a frame-pointer walk loses the callers.
const chainC = `
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
volatile unsigned long sink;
__attribute__((noinline)) void c(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i; }
__attribute__((noinline)) void b(unsigned long n) { c(n); sink++; }
__attribute__((noinline)) void a(unsigned long n) { b(n); sink++; }
int main(int argc, char **argv) {
	double secs = atof(argv[1]);
	struct timespec t0, t;
	char go;
	if (read(0, &go, 1) != 1) return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		a(2000000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	return 0;
}
`

// profileChild starts the command, which waits for a byte on its stdin,
// samples it alone (-p), loads its tables, lets it run, and returns the
// records, its pid and its load address. The walk is tested here, not how
// soon tables load on a busy machine: code mapped later (dlopen) is loaded
// when the walker asks.
func profileChild(t *testing.T, cfg Config, bin string, args ...string) (*Sampler, []sample.Record, int, uint64) {
	t.Helper()
	child := unwindtest.StartChild(t, bin, args...)
	cfg.PIDs = []uint32{uint32(child.Pid)}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	child.WaitReady()
	if err := s.LoadProcess(uint32(child.Pid)); err != nil {
		t.Fatal(err)
	}
	base := unwindtest.MappedBase(t, child.Pid, bin)
	child.Release()
	child.Wait()
	s.Stop()
	recs, _, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	return s, recs, child.Pid, base
}

func TestUnwindChain(t *testing.T) {
	bpftest.Require(t)
	bin := unwindtest.BuildC(t, "chain", chainC, "-O2", "-fomit-frame-pointer")
	syms := unwindtest.LoadSymtab(t, bin)
	for _, mode := range []loader.Mode{loader.ModeFP, loader.ModeAuto} {
		cfg := Config{Frequency: 499, CPU: -1, UserStacks: true, Unwind: mode, UnwindRows: 1 << 20}
		s, recs, pid, base := profileChild(t, cfg, bin, "3")
		r := unwindtest.ReachMain(recs, pid, syms, base)
		st, info, err := s.Unwind()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %v; counters: %v; loader: %+v", mode, r, st, info)
		if mode == loader.ModeFP {
			continue
		}
		if r.Samples < 100 || r.Fraction() < 0.95 {
			t.Errorf("%v: %v, want >= 95%% of >= 100 samples; some that did not: %q", mode, r, r.Sample)
		}
	}
}

// TestUnwindForgetsExited checks that a process's tables are let go as it
// exits, reported by the kernel, well before the loader's own sweep (every
// 10 s by default).
func TestUnwindForgetsExited(t *testing.T) {
	bpftest.Require(t)
	bin := unwindtest.BuildC(t, "chain", chainC, "-O2", "-fomit-frame-pointer")
	cfg := Config{Frequency: 499, CPU: -1, UserStacks: true, Unwind: loader.ModeAuto, UnwindRows: 1 << 20}
	s, _, pid, _ := profileChild(t, cfg, bin, "0.2")
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, info, err := s.Unwind()
		if err != nil {
			t.Fatal(err)
		}
		if info.Processes == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d exited 2 s ago and is still loaded: %+v", pid, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wideC runs one of several ways of calling into code without frame
// pointers: through libc's qsort to a comparator, in a signal handler,
// through lazily bound PLT stubs, and in a library it dlopens.
const wideC = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
volatile unsigned long sink;
static double secs;
static struct timespec t0;
static int done(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs;
}
__attribute__((noinline)) void spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i; }
static int cmp(const void *x, const void *y) {
	spin(200);
	int a = *(const int *)x, b = *(const int *)y;
	return (a > b) - (a < b);
}
__attribute__((noinline)) void do_qsort(void) {
	static int v[4096];
	while (!done()) {
		for (int i = 0; i < 4096; i++) v[i] = rand();
		qsort(v, 4096, sizeof v[0], cmp);
	}
	sink++;
}
static void handler(int sig) { (void)sig; while (!done()) spin(100000); sink++; }
__attribute__((noinline)) void do_signal(void) { signal(SIGUSR1, handler); raise(SIGUSR1); sink++; }
__attribute__((noinline)) void do_plt(void) {
	char buf[64];
	while (!done())
		for (int i = 0; i < 10000; i++) {
			memset(buf, 'x', 40 + (i & 7));
			buf[40 + (i & 7)] = 0;
			sink += strlen(buf + (i & 3));
		}
	sink++;
}
__attribute__((noinline)) void do_dlopen(const char *lib) {
	void *h = dlopen(lib, RTLD_NOW);
	if (!h) exit(3);
	void (*f)(int (*)(void)) = (void (*)(int (*)(void)))dlsym(h, "lib_run");
	if (!f) exit(4);
	f(done);
	sink++;
}
int main(int argc, char **argv) {
	if (argc < 3) return 2;
	secs = atof(argv[2]);
	char go;
	if (read(0, &go, 1) != 1) return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	switch (argv[1][0]) {
	case 'q': do_qsort(); break;
	case 's': do_signal(); break;
	case 'p': do_plt(); break;
	case 'd': do_dlopen(argv[3]); break;
	}
	sink++;
	return 0;
}
`

const libC = `
volatile unsigned long lsink;
__attribute__((noinline)) void lib_spin(unsigned long n) { for (unsigned long i = 0; i < n; i++) lsink += i; }
__attribute__((noinline)) void lib_inner(int (*done)(void)) { while (!done()) lib_spin(1000000); lsink++; }
void lib_run(int (*done)(void)) { lib_inner(done); lsink++; }
`

func TestUnwindWide(t *testing.T) {
	bpftest.Require(t)
	nofp := []string{"-O2", "-fomit-frame-pointer", "-fno-builtin"}
	bin := unwindtest.BuildC(t, "wide", wideC, append(nofp, "-Wl,-z,lazy", "-ldl")...)
	lib := unwindtest.BuildC(t, "libspin.so", libC, append(nofp, "-shared", "-fPIC")...)
	// A library whose code segment's address is not its file offset
	// (p_vaddr 0x40000, p_offset 0x2000): the load bias must use both.
	far := unwindtest.BuildC(t, "libfar.so", libC, append(nofp, "-shared", "-fPIC", "-Wl,-z,max-page-size=4096", "-Wl,--section-start=.text=0x40000")...)
	syms := unwindtest.LoadSymtab(t, bin)
	for _, tc := range []struct{ name, mode, lib string }{
		{"qsort", "q", ""}, {"signal", "s", ""}, {"plt", "p", ""}, {"dlopen", "d", lib}, {"dlopen-offset", "d", far},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Frequency: 499, CPU: -1, UserStacks: true, Unwind: loader.ModeAuto, UnwindRows: 1 << 20}
			s, recs, pid, base := profileChild(t, cfg, bin, tc.mode, "3", tc.lib)
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
