package sampler

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/bpfenv/bpftest"
	"github.com/emberprof/ember/sample"
	"github.com/emberprof/ember/unwind"
	"github.com/emberprof/ember/unwind/loader"
)

// readelfRows builds rows from readelf -wF (a stand-in until unwind.Build).
func readelfRows(f *os.File) ([]unwind.Row, error) {
	return readelfRowsPath(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()))
}

func readelfRowsPath(path string) ([]unwind.Row, error) {
	// readelf exits 1 over warnings (libc's separate debug info): keep
	// whatever table it printed.
	out, err := exec.Command("readelf", "-wF", path).Output()
	if len(out) == 0 {
		return nil, fmt.Errorf("readelf %s: %v", path, err)
	}
	type fde struct {
		lo, hi uint64
		rows   []unwind.Row
	}
	var fdes []fde
	var cie []unwind.Row
	var cols []string
	var cur *fde
	inCIE := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		fs := strings.Fields(line)
		switch {
		case len(fs) > 3 && fs[3] == "CIE":
			inCIE, cur, cie = true, nil, nil
		case len(fs) > 3 && fs[3] == "FDE":
			inCIE = false
			r := strings.TrimPrefix(fs[len(fs)-1], "pc=")
			lo, hi, _ := strings.Cut(r, "..")
			a, _ := strconv.ParseUint(lo, 16, 64)
			b, _ := strconv.ParseUint(hi, 16, 64)
			fdes = append(fdes, fde{lo: a, hi: b})
			cur = &fdes[len(fdes)-1]
			for _, c := range cie {
				c.PC = uint32(a)
				cur.rows = append(cur.rows, c)
			}
		case len(fs) > 0 && fs[0] == "LOC":
			cols = fs
			if cur != nil {
				cur.rows = nil
			}
		case len(fs) == len(cols) && len(fs) > 0:
			pc, err := strconv.ParseUint(fs[0], 16, 64)
			if err != nil {
				continue
			}
			var r unwind.Row
			r.PC = uint32(pc)
			cfa := fs[1]
			switch {
			case strings.HasPrefix(cfa, "rsp+"):
				n, _ := strconv.Atoi(cfa[4:])
				r.Kind, r.CFAOffset = unwind.KindRSP, int16(n)
			case strings.HasPrefix(cfa, "rbp+"):
				n, _ := strconv.Atoi(cfa[4:])
				r.Kind, r.CFAOffset = unwind.KindRBP, int16(n)
			case cfa == "exp":
				r.Kind, r.CFAOffset = unwind.KindPLT, 11
			}
			for i, c := range cols {
				switch {
				case c == "ra" && fs[i] == "u":
					r.Kind = unwind.KindStop
				case c == "ra" && fs[i] != "c-8":
					r.Kind = unwind.KindInvalid
				case c == "rbp" && strings.HasPrefix(fs[i], "c-"):
					n, _ := strconv.Atoi(fs[i][2:])
					r.Kind |= unwind.RBPSaved
					r.RBPOffset = int8(-n / 8)
				}
			}
			if inCIE {
				cie = append(cie, r)
			} else if cur != nil {
				cur.rows = append(cur.rows, r)
			}
		}
	}
	sort.Slice(fdes, func(i, j int) bool { return fdes[i].lo < fdes[j].lo })
	var rows []unwind.Row
	for i, f := range fdes {
		rows = append(rows, f.rows...)
		if i+1 == len(fdes) || fdes[i+1].lo != f.hi {
			rows = append(rows, unwind.Row{PC: uint32(f.hi)})
		}
	}
	return rows, nil
}

// chainC spins in c, called through b and a from main; built without frame
// pointers, a frame-pointer walk loses the callers.
const chainC = `
#include <stdlib.h>
#include <time.h>
volatile unsigned long sink;
__attribute__((noinline)) void c(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i; }
__attribute__((noinline)) void b(unsigned long n) { c(n); sink++; }
__attribute__((noinline)) void a(unsigned long n) { b(n); sink++; }
int main(int argc, char **argv) {
	double secs = atof(argv[1]);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		a(2000000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	return 0;
}
`

// buildC compiles src with gcc and extra flags into a temporary binary.
func buildC(t *testing.T, name, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"-g", "-o", bin, c}, flags...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	return bin
}

// symtab maps a binary's addresses to its function names.
type symtab struct {
	syms []elf.Symbol
}

func loadSymtab(t *testing.T, path string) *symtab {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var fn []elf.Symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			fn = append(fn, s)
		}
	}
	return &symtab{fn}
}

func (s *symtab) name(vaddr uint64) string {
	for _, sym := range s.syms {
		if vaddr >= sym.Value && vaddr < sym.Value+sym.Size {
			return sym.Name
		}
	}
	return ""
}

// mappedBase returns where pid mapped path's first page (offset 0), the load
// bias of a PIE whose first segment is at vaddr 0.
func mappedBase(t *testing.T, pid int, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[5] == path && f[2] == "00000000" {
			lo, _, _ := strings.Cut(f[0], "-")
			v, _ := strconv.ParseUint(lo, 16, 64)
			return v
		}
	}
	t.Fatalf("%s not mapped in process %d", path, pid)
	return 0
}

// reach summarizes the user stacks of one process: how many samples, how
// many had a frame in main, and their mean depth.
type reach struct {
	samples, toMain uint64
	frames          uint64
	sample          []string
}

func (r reach) String() string {
	if r.samples == 0 {
		return "no samples"
	}
	return fmt.Sprintf("%d samples, %.1f%% reach main, mean depth %.1f",
		r.samples, 100*float64(r.toMain)/float64(r.samples), float64(r.frames)/float64(r.samples))
}

func (r reach) fraction() float64 { return float64(r.toMain) / float64(max(r.samples, 1)) }

// reachMain counts the samples of pid whose user stack has a frame in main
// of the binary symbols describes, loaded at base.
func reachMain(recs []sample.Record, pid int, syms *symtab, base uint64) reach {
	var r reach
	for _, rec := range recs {
		if rec.TGID != uint32(pid) {
			continue
		}
		r.samples += rec.Count
		r.frames += rec.Count * uint64(len(rec.User.PCs))
		var names []string
		found := false
		for i, pc := range rec.User.PCs {
			v := pc - base
			if i > 0 {
				v-- // a return address: look up the call
			}
			n := syms.name(v)
			names = append(names, n)
			if n == "main" {
				found = true
			}
		}
		if found {
			r.toMain += rec.Count
		} else if len(r.sample) < 5 {
			r.sample = append(r.sample, fmt.Sprintf("%x %v", rec.User.PCs, names))
		}
	}
	return r
}

// profileChild samples every CPU while the command runs and returns the
// records and the child's pid.
func profileChild(t *testing.T, cfg Config, bin string, args ...string) (*Sampler, []sample.Record, int, uint64) {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	base := mappedBase(t, cmd.Process.Pid, bin)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out.Bytes())
	}
	s.Stop()
	recs, _, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	return s, recs, cmd.Process.Pid, base
}

func TestUnwindChain(t *testing.T) {
	bpftest.Require(t)
	bin := buildC(t, "chain", chainC, "-O2", "-fomit-frame-pointer")
	syms := loadSymtab(t, bin)
	for _, mode := range []loader.Mode{loader.ModeFP, loader.ModeAuto} {
		cfg := Config{Frequency: 499, CPU: -1, UserStacks: true, Unwind: mode, UnwindRows: 1 << 20, UnwindBuild: readelfRows}
		s, recs, pid, base := profileChild(t, cfg, bin, "2")
		r := reachMain(recs, pid, syms, base)
		st, info, err := s.Unwind()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %v; counters: %v; loader: %+v", mode, r, st, info)
		if mode == loader.ModeFP {
			continue
		}
		if r.samples < 200 || r.fraction() < 0.95 {
			t.Errorf("%v: %v, want >= 95%% of >= 200 samples; some that did not: %q", mode, r, r.sample)
		}
	}
}
