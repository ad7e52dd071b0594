// Package unwindtest holds what the tests of the CFI walker share: C test
// programs built at run time, symbol lookups and the share of samples whose
// stack reaches main.
package unwindtest

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

	"github.com/emberprof/ember/sample"
	"github.com/emberprof/ember/unwind"
)

// readelfRows builds rows from readelf -wF (a stand-in until unwind.Build).
func ReadelfRows(f *os.File) ([]unwind.Row, error) {
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
	signal := map[string]bool{} // CIEs with the S augmentation, by offset
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		fs := strings.Fields(line)
		switch {
		case len(fs) > 4 && fs[3] == "CIE":
			inCIE, cur, cie = true, nil, nil
			if strings.Contains(fs[4], "S") {
				signal[fs[0]] = true
			}
		case len(fs) > 3 && fs[3] == "FDE":
			inCIE = false
			r := strings.TrimPrefix(fs[len(fs)-1], "pc=")
			lo, hi, _ := strings.Cut(r, "..")
			a, _ := strconv.ParseUint(lo, 16, 64)
			b, _ := strconv.ParseUint(hi, 16, 64)
			fdes = append(fdes, fde{lo: a, hi: b})
			cur = &fdes[len(fdes)-1]
			if signal[strings.TrimPrefix(fs[4], "cie=")] {
				// A sigreturn trampoline: one row for the whole FDE.
				cur.rows = []unwind.Row{{PC: uint32(a), Kind: unwind.KindSignal}}
				cur = nil
				continue
			}
			for _, c := range cie {
				c.PC = uint32(a)
				cur.rows = append(cur.rows, c)
			}
		case len(fs) > 0 && fs[0] == "LOC":
			cols = fs
			if cur != nil {
				cur.rows = nil
			}
		case len(fs) == len(cols) && len(fs) > 0 && fs[1] != "terminator":
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

// buildC compiles src with gcc and extra flags into a temporary binary.
func BuildC(t *testing.T, name, src string, flags ...string) string {
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
type Symtab struct {
	syms []elf.Symbol
}

func LoadSymtab(t *testing.T, path string) *Symtab {
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
	return &Symtab{fn}
}

func (s *Symtab) Name(vaddr uint64) string {
	for _, sym := range s.syms {
		if vaddr >= sym.Value && vaddr < sym.Value+sym.Size {
			return sym.Name
		}
	}
	return ""
}

// mappedBase returns where pid mapped path's first page (offset 0), the load
// bias of a PIE whose first segment is at vaddr 0.
func MappedBase(t *testing.T, pid int, path string) uint64 {
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
type Reach struct {
	Samples, ToMain uint64
	Frames          uint64
	Sample          []string
}

func (r Reach) String() string {
	if r.Samples == 0 {
		return "no samples"
	}
	return fmt.Sprintf("%d samples, %.1f%% reach main, mean depth %.1f",
		r.Samples, 100*float64(r.ToMain)/float64(r.Samples), float64(r.Frames)/float64(r.Samples))
}

func (r Reach) Fraction() float64 { return float64(r.ToMain) / float64(max(r.Samples, 1)) }

// reachMain counts the samples of pid whose user stack has a frame in main
// of the binary symbols describes, loaded at base.
func ReachMain(recs []sample.Record, pid int, syms *Symtab, base uint64) Reach {
	var r Reach
	for _, rec := range recs {
		if rec.TGID != uint32(pid) {
			continue
		}
		r.Samples += rec.Count
		r.Frames += rec.Count * uint64(len(rec.User.PCs))
		var names []string
		found := false
		for i, pc := range rec.User.PCs {
			v := pc - base
			if i > 0 {
				v-- // a return address: look up the call
			}
			n := syms.Name(v)
			names = append(names, n)
			if n == "main" {
				found = true
			}
		}
		if found {
			r.ToMain += rec.Count
		} else if len(r.Sample) < 5 {
			r.Sample = append(r.Sample, fmt.Sprintf("%x %v", rec.User.PCs, names))
		}
	}
	return r
}
