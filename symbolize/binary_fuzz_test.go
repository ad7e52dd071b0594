package symbolize

import (
	"bytes"
	"debug/elf"
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/symbolize/internal/dwarfdata"
)

// tinySeeds returns the tiny fixtures (testdata/elf/tiny: a few KiB each,
// gcc and clang DWARF 4 and 5, compressed sections, MiniDebugInfo), the
// fuzzing seeds, in name order: the fuzzer runs small inputs thousands of
// times a second, where the full fixtures, tens of KiB and one with a 64 MiB
// xz dictionary, ran a few times a second.
func tinySeeds(f *testing.F) [][]byte {
	paths, err := filepath.Glob("testdata/elf/tiny/*")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no tiny fixtures (run testdata/build.sh): %v", err)
	}
	sort.Strings(paths)
	var seeds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// boundMinimizing limits the fuzzer's minimizing of each new input to a few
// hundred runs, unless -fuzzminimizetime was given. Go's minimizer tries
// cutting out every span of bytes, quadratic in the input's size, and in an
// ELF image or a DWARF section nearly every cut breaks an offset and fails:
// with the default of 60 s a worker spent most of a short run minimizing
// each input it found interesting, and the run showed ~0 execs/s.
func boundMinimizing() {
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		flag.Set("test.fuzzminimizetime", "200x")
	}
}

// watchdog makes a hang show as a stack trace, not as a silent stall.
func watchdog() *time.Timer {
	return time.AfterFunc(10*time.Second, func() {
		debug.SetTraceback("all")
		panic("input took over 10 s")
	})
}

// FuzzNewBinary feeds corrupt ELF images through parsing and lookups, DWARF
// included: each must give an error or an answer, never a panic or a hang.
// Panics inside the DWARF reader, which lookups recover as errors, are let
// through here so that the fuzzer reports them.
func FuzzNewBinary(f *testing.F) {
	for _, b := range tinySeeds(f) {
		f.Add(b)
		// Cut short, as a file being written or a corrupt download is.
		f.Add(b[:len(b)*2/3])
	}
	boundMinimizing()
	recoverPanics = false
	defer func() { recoverPanics = true }()
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog().Stop()
		b, err := NewBinary(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "open fuzz: ") && !strings.HasPrefix(err.Error(), "read symbols of fuzz: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		defer b.Close()
		b.BuildID()
		b.AddrForOffset(0x1000)
		addrs := []uint64{0, 0x1000, 0x1141, 0x400110, 0x401000}
		for i, s := range b.syms.syms {
			if i >= 64 {
				break
			}
			addrs = append(addrs, s.addr, s.addr+3)
		}
		for _, a := range addrs {
			b.Frames(a)
		}
		if b.dwarf != nil {
			for i, r := range b.dwarf.index {
				if i >= 64 {
					break
				}
				b.Frames(r.lo)
				b.Frames(r.lo + (r.hi-r.lo)/2)
			}
		}
	})
}

// dwarfSectionNames are the sections FuzzDWARF's inputs can hold, by number.
var dwarfSectionNames = []string{"info", "abbrev", "line", "ranges", "str", "addr", "line_str", "str_offsets", "rnglists"}

// packSections writes DWARF sections as FuzzDWARF reads them: a byte whose
// low bit says big-endian, then per section its number, a 2-byte
// little-endian length and its bytes.
func packSections(s *dwarfdata.Sections) []byte {
	out := []byte{0}
	if s.BigEndian {
		out[0] = 1
	}
	for i, name := range dwarfSectionNames {
		b := *s.Section(name)
		if b == nil {
			continue
		}
		b = b[:min(len(b), 0xffff)]
		out = append(out, byte(i), byte(len(b)), byte(len(b)>>8))
		out = append(out, b...)
	}
	return out
}

func unpackSections(data []byte) *dwarfdata.Sections {
	s := &dwarfdata.Sections{}
	if len(data) == 0 {
		return s
	}
	s.BigEndian = data[0]&1 != 0
	data = data[1:]
	for len(data) >= 3 {
		id, n := int(data[0]), int(data[1])|int(data[2])<<8
		data = data[3:]
		n = min(n, len(data))
		if id < len(dwarfSectionNames) {
			*s.Section(dwarfSectionNames[id]) = data[:n:n]
		}
		data = data[n:]
	}
	return s
}

// FuzzDWARF feeds corrupt DWARF sections straight to the DWARF reader, past
// ELF parsing and decompression, which FuzzNewBinary spends most of its time
// in: units, abbreviations, ranges, line programs and names must give
// errors or answers, never a panic or a hang.
func FuzzDWARF(f *testing.F) {
	for _, b := range tinySeeds(f) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			f.Fatal(err)
		}
		if s, _, err := loadSections(ef, nil, int64(len(b))); err == nil {
			f.Add(packSections(&s))
		}
	}
	boundMinimizing()
	recoverPanics = false
	defer func() { recoverPanics = true }()
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog().Stop()
		d := &dwarfInfo{names: &nameCache{}, funcs: make(map[uint64]funcName)}
		d.once.Do(func() { d.useSections(unpackSections(data)) })
		if d.err != nil {
			return
		}
		d.preload(1)
		for i, r := range d.index {
			if i >= 32 {
				break
			}
			d.frames(r.lo, false)
			d.frames(r.lo+(r.hi-r.lo)/2, false)
			d.frames(r.hi-1, true)
		}
		for i, u := range d.units {
			if i >= 8 {
				break
			}
			for j, fr := range u.funcs {
				if j >= 16 {
					break
				}
				d.frames(fr.lo, false)
			}
			for j, s := range u.lines.Seqs {
				if j >= 4 {
					break
				}
				for k, r := range s.Rows {
					if k >= 16 {
						break
					}
					d.frames(r.Addr, false)
				}
			}
		}
	})
}

// FuzzPerfMap checks the perf-map reader on arbitrary text.
func FuzzPerfMap(f *testing.F) {
	f.Add("7f0000001000 40 LazyCompile:~fib /app/fib.js:3\n0x10 0x20 x\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParsePerfMap(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, e := range m.entries {
			if name, ok := m.Lookup(e.start); !ok || name == "" {
				t.Fatalf("Lookup(%#x) found nothing for an entry", e.start)
			}
		}
	})
}
