package unwind

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"testing"
)

const libcPath = "/lib/x86_64-linux-gnu/libc.so.6"

// openELF opens a system binary, skipping only when it is not installed.
func openELF(t testing.TB, path string) *elf.File {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skipf("%s is not installed", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestBuildLibc(t *testing.T) {
	f := openELF(t, libcPath)
	tab, err := Build(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) < 1000 {
		t.Fatalf("%d rows for libc", len(tab.Rows))
	}
	for i := 1; i < len(tab.Rows); i++ {
		a, b := tab.Rows[i-1], tab.Rows[i]
		if a.PC >= b.PC {
			t.Fatalf("rows %d, %d out of order: %#x, %#x", i-1, i, a.PC, b.PC)
		}
		if sameRule(a, b) {
			t.Fatalf("row %d at %#x repeats its predecessor", i, b.PC)
		}
	}
	if last := tab.Rows[len(tab.Rows)-1]; last.Kind != KindInvalid {
		t.Errorf("last row %+v is not a terminator", last)
	}
	if tab.Stats.Signal != 1 || tab.Stats.PLT == 0 {
		t.Errorf("libc: %d signal rows, %d PLT rows; want 1 and some", tab.Stats.Signal, tab.Stats.PLT)
	}
	// The FDE of every function starts with CFA = rsp+8 (just after the call).
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 || s.Name != "malloc" && s.Name != "qsort" && s.Name != "memcpy" {
			continue
		}
		r, ok := tab.Lookup(s.Value)
		if !ok || r.Kind != KindRSP || r.CFAOffset != 8 {
			t.Errorf("%s at %#x: row %+v, ok %v; want CFA=rsp+8", s.Name, s.Value, r, ok)
		}
		checked++
	}
	if checked == 0 {
		t.Error("no malloc, qsort or memcpy in libc's dynamic symbols")
	}
	if _, ok := tab.Lookup(0); ok {
		t.Error("Lookup(0) found a row")
	}
}

func TestAppendBinary(t *testing.T) {
	tab := &Table{Rows: []Row{{PC: 0x11223344, CFAOffset: -2, Kind: KindRBP | RBPSaved, RBPOffset: -3}}}
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != RowSize || binary.LittleEndian.Uint32(b) != 0x11223344 || int16(binary.LittleEndian.Uint16(b[4:])) != -2 ||
		b[6] != KindRBP|RBPSaved || int8(b[7]) != -3 {
		t.Fatalf("encoded % x", b)
	}
}
