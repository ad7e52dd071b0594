package dwarfdata

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"io"
	pathpkg "path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// oracleFixtures are symbolize's test binaries: gcc and clang, DWARF 4 and
// 5, C, C++, Rust and Go, compressed sections.
func oracleFixtures(t testing.TB) []string {
	// tiny/minidebug is left out: it has no DWARF, only symbols.
	paths, _ := filepath.Glob("../../testdata/elf/tiny/*-*")
	for _, n := range []string{"c", "c-zstd", "cpp", "cpp-clang", "rust", "go"} {
		paths = append(paths, filepath.Join("../../testdata/elf", n))
	}
	if len(paths) < 7 {
		t.Fatal("fixtures missing: run sh symbolize/testdata/build.sh")
	}
	return paths
}

// elfSections reads the DWARF sections with debug/elf, which inflates the
// compressed ones.
func elfSections(t testing.TB, ef *elf.File) *Sections {
	s := &Sections{}
	for _, sec := range ef.Sections {
		name, ok := strings.CutPrefix(sec.Name, ".debug_")
		if !ok || sec.Type == elf.SHT_NOBITS || s.Section(name) == nil {
			continue
		}
		b, err := sec.Data()
		if err != nil {
			t.Fatalf("%s: %v", sec.Name, err)
		}
		*s.Section(name) = b
	}
	return s
}

// keepRanges is what the reader keeps of debug/dwarf's ranges: non-empty
// ones not at address 0 (code the linker discarded).
func keepRanges(rs [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range rs {
		if r[0] != 0 && r[0] < r[1] {
			out = append(out, r)
		}
	}
	return out
}

// TestOracleEntries walks every entry of every unit of the fixtures with
// Reader and with debug/dwarf in step: offsets, tags, children, and the
// attributes Attrs decodes must agree.
func TestOracleEntries(t *testing.T) {
	for _, path := range oracleFixtures(t) {
		ef, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ef.DWARF()
		if err != nil {
			t.Fatalf("%s: debug/dwarf: %v", path, err)
		}
		d, err := New(elfSections(t, ef))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(d.Units()) == 0 {
			t.Fatalf("%s: no units", path)
		}
		entries, named := 0, 0
		wr := want.Reader()
		for _, u := range d.Units() {
			wr.Seek(dwarf.Offset(u.data))
			cu, err := wr.Next()
			if err != nil || cu == nil || (cu.Tag != dwarf.TagCompileUnit && cu.Tag != dwarf.TagPartialUnit) {
				t.Fatalf("%s: unit at %#x: debug/dwarf reads %v, %v", path, u.Offset, cu, err)
			}
			if p, _ := cu.Val(dwarf.AttrProducer).(string); p != u.Producer {
				t.Errorf("%s: unit at %#x: producer %q, want %q", path, u.Offset, u.Producer, p)
			}
			wrs, err := want.Ranges(cu)
			if err != nil {
				t.Fatal(err)
			}
			if w := keepRanges(wrs); !reflect.DeepEqual(u.Ranges, w) {
				t.Errorf("%s: unit at %#x: ranges %#x, want %#x", path, u.Offset, u.Ranges, w)
			}
			if !cu.Children {
				continue
			}
			r := d.Entries(u)
			for {
				e, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				we, err := wr.Next()
				if err != nil || we == nil {
					t.Fatalf("%s: entry at %#x: debug/dwarf reads %v, %v", path, e.Offset, we, err)
				}
				entries++
				if e.Null {
					if we.Tag != 0 {
						t.Fatalf("%s: null entry at %#x, debug/dwarf reads %v", path, e.Offset, we.Tag)
					}
					continue
				}
				if e.Offset != uint64(we.Offset) || uint32(e.Tag) != uint32(we.Tag) || e.Children != we.Children {
					t.Fatalf("%s: entry %#x %v children %v, want %#x %v %v", path, e.Offset, e.Tag, e.Children, we.Offset, we.Tag, we.Children)
				}
				if e.Tag != TagSubprogram && e.Tag != TagInlinedSubroutine {
					continue
				}
				a, err := r.Attrs(WantCode | WantNames)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				named++
				wrs, err := want.Ranges(we)
				if err != nil {
					t.Fatal(err)
				}
				if got, w := a.Ranges(nil), keepRanges(wrs); !reflect.DeepEqual(got, w) {
					t.Errorf("%s: entry %#x: ranges %#x, want %#x", path, e.Offset, got, w)
				}
				checkRef(t, path, e, "abstract origin", a.AbstractOrigin, we.Val(dwarf.AttrAbstractOrigin))
				checkRef(t, path, e, "specification", a.Specification, we.Val(dwarf.AttrSpecification))
				wn, _ := we.Val(dwarf.AttrName).(string)
				wl, _ := we.Val(dwarf.AttrLinkageName).(string)
				if string(a.Name()) != wn || string(a.LinkageName()) != wl {
					t.Errorf("%s: entry %#x: names %q %q, want %q %q", path, e.Offset, a.Name(), a.LinkageName(), wn, wl)
				}
				wf, _ := we.Val(dwarf.AttrCallFile).(int64)
				wl2, _ := we.Val(dwarf.AttrCallLine).(int64)
				if a.CallFile != uint64(wf) || a.CallLine != uint64(wl2) {
					t.Errorf("%s: entry %#x: call %d:%d, want %d:%d", path, e.Offset, a.CallFile, a.CallLine, wf, wl2)
				}
			}
		}
		t.Logf("%s: %d units, %d entries, %d functions and inlined calls agree", path, len(d.Units()), entries, named)
		ef.Close()
	}
}

func checkRef(t *testing.T, path string, e Entry, what string, got func() (uint64, bool), want any) {
	t.Helper()
	off, ok := got()
	w, wok := want.(dwarf.Offset)
	if ok != wok || ok && off != uint64(w) {
		t.Errorf("%s: entry %#x: %s %#x (%v), want %v", path, e.Offset, what, off, ok, want)
	}
}

// TestOracleLines runs every unit's line program with LineTable and with
// debug/dwarf's LineReader: the rows must agree, less what the reader
// drops on purpose (sequences at address 0, rows going back).
func TestOracleLines(t *testing.T) {
	for _, path := range oracleFixtures(t) {
		ef, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ef.DWARF()
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(elfSections(t, ef))
		if err != nil {
			t.Fatal(err)
		}
		rows := 0
		wr := want.Reader()
		for _, u := range d.Units() {
			got, err := d.LineTable(u)
			if err != nil {
				t.Fatalf("%s: unit at %#x: %v", path, u.Offset, err)
			}
			wr.Seek(dwarf.Offset(u.data))
			cu, err := wr.Next()
			if err != nil {
				t.Fatal(err)
			}
			compDir, _ := cu.Val(dwarf.AttrCompDir).(string)
			lr, err := want.LineReader(cu)
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				addr       uint64
				file       string
				line, disc int
			}
			var wantSeqs, gotSeqs [][]row
			var seq []row
			for lr != nil {
				var le dwarf.LineEntry
				if err := lr.Next(&le); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				if le.EndSequence {
					if len(seq) > 0 && seq[0].addr != 0 && seq[0].addr < le.Address {
						wantSeqs = append(wantSeqs, seq)
					}
					seq = nil
					continue
				}
				if len(seq) > 0 && le.Address < seq[len(seq)-1].addr {
					continue
				}
				name := ""
				if le.File != nil {
					name = le.File.Name
				}
				// debug/dwarf leaves DWARF 5 names relative to
				// the compilation directory; the reader joins
				// them, as LLVM prints them.
				if name != "" && name[0] != '/' && name[0] != '<' && compDir != "" {
					name = pathpkg.Join(compDir, name)
				}
				seq = append(seq, row{le.Address, name, le.Line, le.Discriminator})
			}
			sort.SliceStable(wantSeqs, func(i, j int) bool { return wantSeqs[i][0].addr < wantSeqs[j][0].addr })
			for _, s := range got.Seqs {
				var rs []row
				for i, r := range s.Rows {
					disc := 0
					for _, dc := range s.Discs {
						if int(dc.Row) == i {
							disc = int(dc.Disc)
						}
					}
					rs = append(rs, row{r.Addr, got.File(r.File), int(r.Line), disc})
				}
				gotSeqs = append(gotSeqs, rs)
				rows += len(rs)
			}
			if !reflect.DeepEqual(gotSeqs, wantSeqs) {
				t.Errorf("%s: unit at %#x: line table differs from debug/dwarf's\n got %v\nwant %v", path, u.Offset, gotSeqs, wantSeqs)
			}
		}
		t.Logf("%s: %d line rows agree", path, rows)
		ef.Close()
	}
}
