package unwind

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// oracleBudget is how many pcs one binary may check with EstablishFrame,
// which reruns the CIE and the FDE prefix on every call; above it, pcs
// are sampled (every row boundary of every FDE, plus a stride).
const oracleBudget = 400_000

// oracleCount tallies an oracle run.
type oracleCount struct {
	pcs, rows, invalid, ambiguousRBP, delveErr int
	mismatches                                 []string
}

// expectRow derives the row delve's FrameContext implies, written apart
// from toRow so the two can disagree; ok is false when no row can
// represent it. ambiguous is set when delve reports an undefined rbp,
// which its DW_CFA_restore also produces (it never records the CIE's
// rules), so the expectation is "unchanged or invalid".
func expectRow(fc *frame.FrameContext) (r Row, ok, ambiguous bool) {
	ra, haveRA := fc.Regs[fc.RetAddrReg]
	if haveRA && ra.Rule == frame.RuleUndefined {
		return Row{Kind: KindStop}, true, false
	}
	switch fc.CFA.Rule {
	case frame.RuleCFA:
		if fc.CFA.Reg != 6 && fc.CFA.Reg != 7 || fc.CFA.Offset < -32768 || fc.CFA.Offset > 32767 {
			return Row{}, false, false
		}
		r.Kind = KindRSP
		if fc.CFA.Reg == 6 {
			r.Kind = KindRBP
		}
		r.CFAOffset = int16(fc.CFA.Offset)
	case frame.RuleExpression:
		e := fc.CFA.Expression
		plt := false
		for n := byte(0); n < 16; n++ {
			if string(e) == string([]byte{0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x30 + n, 0x2a, 0x33, 0x24, 0x22}) {
				r.Kind, r.CFAOffset, plt = KindPLT, int16(n), true
			}
		}
		if !plt {
			// DW_OP_breg6 k; DW_OP_deref with a one-byte SLEB128 k.
			if len(e) != 3 || e[0] != 0x76 || e[1]&0x80 != 0 || e[2] != 0x06 {
				return Row{}, false, false
			}
			r.Kind, r.CFAOffset = KindDerefRBP, int16(int8(e[1]<<1)>>1)
		}
	default:
		return Row{}, false, false
	}
	if !haveRA || ra.Rule != frame.RuleOffset || ra.Offset != -8 {
		return Row{}, false, false
	}
	rbp, have := fc.Regs[6]
	switch {
	case !have || rbp.Rule == frame.RuleSameVal:
	case rbp.Rule == frame.RuleUndefined:
		return r, true, true
	case rbp.Rule == frame.RuleOffset && rbp.Offset%8 == 0 && rbp.Offset/8 >= -128 && rbp.Offset/8 <= 127:
		r.Kind |= RBPSaved
		r.RBPOffset = int8(rbp.Offset / 8)
	case rbp.Rule == frame.RuleExpression && len(rbp.Expression) == 2 && rbp.Expression[0] == 0x76 && rbp.Expression[1]&0x80 == 0:
		off := int8(rbp.Expression[1]<<1) >> 1
		if off%8 != 0 {
			return Row{}, false, false
		}
		r.Kind |= RBPAtRBP
		r.RBPOffset = off / 8
	default:
		return Row{}, false, false
	}
	return r, true, false
}

// establish runs delve's interpreter, which panics on some input.
func establish(fde *frame.FrameDescriptionEntry, pc uint64) (fc *frame.FrameContext, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fde.EstablishFrame(pc)
}

// oracle checks tab against delve for pcs of every FDE in f's CFI.
func oracle(t *testing.T, f *elf.File, tab *Table) oracleCount {
	t.Helper()
	var fdes frame.FrameDescriptionEntries
	for _, sp := range mustSpans(t, f) {
		fdes = append(fdes, sp.fde)
	}
	total := uint64(0)
	for _, fde := range fdes {
		total += fde.End() - fde.Begin()
	}
	stride := uint64(1)
	if total > oracleBudget {
		stride = total/oracleBudget + 1
	}
	var c oracleCount
	for _, fde := range fdes {
		signal := strings.ContainsRune(fde.CIE.Augmentation, 'S')
		pcs := map[uint64]bool{fde.Begin(): true, fde.End() - 1: true}
		for pc := fde.Begin(); pc < fde.End(); pc += stride {
			pcs[pc] = true
		}
		// Every row boundary inside the FDE, and the byte before it.
		for pc := fde.Begin(); ; {
			r, _ := tab.Lookup(pc)
			_ = r
			i := nextRow(tab, pc)
			if i < 0 || uint64(tab.Rows[i].PC) >= fde.End() {
				break
			}
			pc = uint64(tab.Rows[i].PC)
			pcs[pc], pcs[pc-1] = true, true
		}
		for pc := range pcs {
			c.pcs++
			got, _ := tab.Lookup(pc)
			got.PC = 0
			if signal {
				if got.Kind != KindSignal {
					c.mismatches = append(c.mismatches, fmt.Sprintf("%#x: signal frame, got %+v", pc, got))
				}
				continue
			}
			fc, err := establish(fde, pc)
			if err != nil {
				c.delveErr++
				continue
			}
			want, ok, amb := expectRow(fc)
			switch {
			case !ok:
				c.invalid++
				if got.Kind != KindInvalid {
					c.mismatches = append(c.mismatches, fmt.Sprintf("%#x: delve's CFA %+v RA %+v rbp %+v is not representable, got %+v", pc, fc.CFA, fc.Regs[fc.RetAddrReg], fc.Regs[6], got))
				}
			case amb:
				c.ambiguousRBP++
				if got != want && got.Kind != KindInvalid {
					c.mismatches = append(c.mismatches, fmt.Sprintf("%#x: want %+v (rbp restored) or invalid, got %+v", pc, want, got))
				}
			default:
				c.rows++
				if got != want {
					c.mismatches = append(c.mismatches, fmt.Sprintf("%#x: want %+v, got %+v (delve CFA %+v rbp %+v)", pc, want, got, fc.CFA, fc.Regs[6]))
				}
			}
		}
	}
	return c
}

// nextRow returns the index of the first row after pc, or -1.
func nextRow(tab *Table, pc uint64) int {
	lo, hi := 0, len(tab.Rows)
	for lo < hi {
		m := (lo + hi) / 2
		if uint64(tab.Rows[m].PC) > pc {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == len(tab.Rows) {
		return -1
	}
	return lo
}

func mustSpans(t *testing.T, f *elf.File) []span {
	t.Helper()
	spans, err := fileSpans(f)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

func checkOracle(t *testing.T, name string, f *elf.File) (*Table, oracleCount) {
	t.Helper()
	tab, err := Build(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := oracle(t, f, tab)
	t.Logf("%s: %d rows (%d B), %d unrepresentable %+v; oracle: %d pcs, %d equal rows, %d unrepresentable, %d rbp-restore ambiguous, %d delve errors",
		name, len(tab.Rows), tab.Size(), tab.Stats.Invalid(), tab.Stats, c.pcs, c.rows, c.invalid, c.ambiguousRBP, c.delveErr)
	for i, m := range c.mismatches {
		if i == 20 {
			t.Errorf("%s: ... %d mismatches in all", name, len(c.mismatches))
			break
		}
		t.Errorf("%s: %s", name, m)
	}
	if c.rows == 0 {
		t.Errorf("%s: the oracle compared no rows", name)
	}
	return tab, c
}

func TestOracleSystem(t *testing.T) {
	libstdcxx, _ := filepath.Glob("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
	bins := []string{libcPath, "/lib64/ld-linux-x86-64.so.2", "/usr/bin/python3.11"}
	bins = append(bins, libstdcxx...)
	if len(libstdcxx) == 0 {
		bins = append(bins, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
	}
	for _, p := range bins {
		t.Run(filepath.Base(p), func(t *testing.T) {
			t.Parallel()
			checkOracle(t, p, openELF(t, p))
		})
	}
}

// testPrograms are C programs the oracle and the special-row tests build.
var testPrograms = map[string]string{
	"realign.c": `#include <stdio.h>
#include <string.h>
#include <alloca.h>
typedef float v8 __attribute__((vector_size(32)));
__attribute__((noinline)) int work(char *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }
int main(int argc, char **argv) {
	v8 x __attribute__((aligned(32))) = {1, 2, 3, 4, 5, 6, 7, 8};
	char *p = alloca(argc * 100);
	memset(p, argc, argc * 100);
	printf("%d %f\n", work(p, argc * 100), (double)x[argc & 7]);
	return 0;
}
`,
	"signal.c": `#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static volatile long n;
__attribute__((noinline)) static void spin(long k) { for (long i = 0; i < k; i++) n += i ^ (n >> 3); }
static void handler(int sig) { spin(1000000 + sig); }
__attribute__((noinline)) long deep(int d, long *buf) {
	long local[8];
	for (int i = 0; i < 8; i++) local[i] = buf[i] * d;
	if (d > 0) return deep(d - 1, local) + local[d & 7];
	raise(SIGUSR1);
	return local[0];
}
int main(int argc, char **argv) {
	struct sigaction sa = {0};
	sa.sa_handler = handler;
	sigaction(SIGUSR1, &sa, 0);
	long buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	printf("%ld %s\n", deep(argc + 5, buf), getenv("HOME") ? "home" : "");
	return 0;
}
`,
}

// buildC compiles a test program with gcc and returns the opened binary.
func buildC(t *testing.T, src string, flags ...string) *elf.File {
	t.Helper()
	f, err := elf.Open(buildCPath(t, src, flags...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// buildCPath compiles a test program with gcc and returns its path.
func buildCPath(t *testing.T, src string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to build the test programs: %v (apt-get install gcc)", err)
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(c, []byte(testPrograms[src]), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	args := append([]string{"-O2", "-fomit-frame-pointer", "-o", out, c}, flags...)
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, b)
	}
	return out
}

func TestOracleTestPrograms(t *testing.T) {
	cases := []struct {
		name, src string
		flags     []string
		check     func(t *testing.T, tab *Table)
	}{
		{"realign", "realign.c", []string{"-mavx"}, func(t *testing.T, tab *Table) {
			if tab.Stats.DerefRBP == 0 {
				t.Error("no KindDerefRBP row for the realigned main")
			}
			for _, r := range tab.Rows {
				if r.Kind&KindMask == KindDerefRBP && r.Kind&RBPMask != RBPAtRBP {
					t.Errorf("realigned main row %+v: the caller's rbp is not at rbp+8k", r)
				}
			}
		}},
		{"signal", "signal.c", nil, nil},
		{"lazy", "signal.c", []string{"-Wl,-z,lazy"}, func(t *testing.T, tab *Table) {
			if tab.Stats.PLT == 0 {
				t.Error("no KindPLT row in a -z lazy binary")
			}
		}},
		{"debug_frame", "signal.c", []string{"-g", "-fno-asynchronous-unwind-tables"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := buildC(t, tc.src, tc.flags...)
			tab, _ := checkOracle(t, tc.name, f)
			if tab.Stats.Stop == 0 {
				t.Error("no KindStop row for _start")
			}
			if tc.check != nil {
				tc.check(t, tab)
			}
		})
	}
}

// TestSyntheticPLT checks the rows made from PLT code against the FDEs ld
// writes for the same sections.
func TestSyntheticPLT(t *testing.T) {
	for _, v := range []struct {
		name  string
		flags []string
	}{
		{"lazy", []string{"-Wl,-z,lazy"}},
		{"ibt", []string{"-fcf-protection", "-Wl,-z,lazy", "-Wl,-z,ibtplt"}},
		{"bindnow", []string{"-Wl,-z,now"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			withFDE := buildC(t, "signal.c", v.flags...)
			without := buildC(t, "signal.c", append(v.flags, "-Wl,--no-ld-generated-unwind-info")...)
			want, err := Build(withFDE)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Build(without)
			if err != nil {
				t.Fatal(err)
			}
			if got.Stats.SyntheticPLT == 0 {
				t.Fatalf("no synthetic PLT rows: %+v", got.Stats)
			}
			compared := 0
			for _, s := range withFDE.Sections {
				if !strings.HasPrefix(s.Name, ".plt") {
					continue
				}
				s2 := without.Section(s.Name)
				if s2 == nil || s2.Size != s.Size {
					t.Fatalf("%s differs between the two links", s.Name)
				}
				for off := uint64(0); off < s.Size; off++ {
					w, wok := want.Lookup(s.Addr + off)
					g, gok := got.Lookup(s2.Addr + off)
					w.PC, g.PC = 0, 0
					if w != g || wok != gok {
						t.Fatalf("%s+%#x: ld's FDE gives %+v, the code %+v", s.Name, off, w, g)
					}
					compared++
				}
			}
			t.Logf("%d PLT addresses agree; %d synthetic sections", compared, got.Stats.SyntheticPLT)
		})
	}
}
