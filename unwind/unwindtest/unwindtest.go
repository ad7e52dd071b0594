// Package unwindtest holds what the tests of the CFI walker share: C test
// programs built at run time, symbol lookups and the share of samples whose
// stack reaches main.
package unwindtest

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/sample"
)

// BuildC compiles src with gcc and extra flags into a temporary binary.
func BuildC(t *testing.T, name, src string, flags ...string) string {
	return build(t, "gcc", name, ".c", src, flags...)
}

// BuildCXX compiles src with g++ and extra flags into a temporary binary.
func BuildCXX(t *testing.T, name, src string, flags ...string) string {
	return build(t, "g++", name, ".cc", src, flags...)
}

// BuildRust compiles src with rustc and extra flags into a temporary binary.
func BuildRust(t *testing.T, name, src string, flags ...string) string {
	return build(t, "rustc", name, ".rs", src, flags...)
}

func build(t *testing.T, compiler, name, ext, src string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath(compiler); err != nil {
		t.Fatalf("%s is needed to build the test program %s (.ci/run installs it): %v", compiler, name, err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, name+ext)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"-g", "-o", bin, file}, flags...)
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", compiler, args, err, out)
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
