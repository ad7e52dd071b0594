package symbolize

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture returns the path of a fixture binary built by testdata/build.sh.
func fixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("testdata", "elf", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s missing: run sh symbolize/testdata/build.sh", p)
	}
	return p
}

// symAddr returns the value of a symbol in an ELF file, read with debug/elf
// so the test does not depend on the code under test.
func symAddr(t testing.TB, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no symbol %s", path, name)
	return 0
}

func TestOpenBinaryErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "text")
	os.WriteFile(notELF, []byte("hello, world\n"), 0o644)
	for _, tc := range []struct {
		path, want string
	}{
		{notELF, "open " + notELF + ": not an ELF file"},
		{filepath.Join(dir, "missing"), "open " + filepath.Join(dir, "missing") + ": "},
	} {
		_, err := OpenBinary(tc.path)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("OpenBinary(%s) = %v, want error starting %q", tc.path, err, tc.want)
		}
	}
}

func TestSymbols(t *testing.T) {
	for _, tc := range []struct {
		file, sym, want string
	}{
		{"c", "fib", "fib"},
		{"c", "main", "main"},
		{"cpp", "_Z10total_areaRKSt6vectorIPN6shapes5ShapeESaIS2_EE", "total_area(std::vector<shapes::Shape*, std::allocator<shapes::Shape*>> const&)"},
		{"cpp", "_Z5wordsi", "words(int)"},
	} {
		path := fixture(t, tc.file)
		addr := symAddr(t, path, tc.sym)
		// Read the symbol tables only, as if there were no debug info.
		b, err := OpenBinary(path)
		if err != nil {
			t.Fatal(err)
		}
		s := b.syms.lookup(addr + 1)
		if s == nil || s.name != tc.sym || demangleName(s.name) != tc.want {
			t.Errorf("%s: symbol at %#x = %+v, want %s (%s)", tc.file, addr+1, s, tc.sym, tc.want)
		}
		frames, err := b.Frames(addr)
		if err != nil || len(frames) == 0 || frames[len(frames)-1].Name != tc.want || frames[len(frames)-1].SystemName != tc.sym {
			t.Errorf("%s: Frames(%#x) = %+v, %v; want outermost %s", tc.file, addr, frames, err, tc.want)
		}
		b.Close()
	}
}

func TestSymtabLookup(t *testing.T) {
	tab := symtab{syms: []symbol{
		{addr: 0x100, end: 0x200, name: "outer"},
		{addr: 0x120, end: 0x130, name: "inner"},
		{addr: 0x300, end: 0x380, name: "unsized"},
	}}
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{0xff, ""}, {0x100, "outer"}, {0x125, "inner"}, {0x130, "outer"},
		{0x1ff, "outer"}, {0x200, ""}, {0x37f, "unsized"}, {0x380, ""},
	} {
		got := ""
		if s := tab.lookup(tc.addr); s != nil {
			got = s.name
		}
		if got != tc.want {
			t.Errorf("lookup(%#x) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestBuildIDAndAddrForOffset(t *testing.T) {
	path := fixture(t, "c")
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	b, err := OpenBinary(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if id := b.BuildID(); len(id) != 40 {
		t.Errorf("BuildID() = %q, want 40 hex digits (sha1)", id)
	}
	// Every loadable byte maps back to its vaddr; the PIE's segments have
	// non-zero, distinct offsets and addresses.
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		for _, off := range []uint64{p.Off, p.Off + p.Filesz/2, p.Off + p.Filesz - 1} {
			got, ok := b.AddrForOffset(off)
			if want := off - p.Off + p.Vaddr; !ok || got != want {
				t.Errorf("AddrForOffset(%#x) = %#x, %v; want %#x", off, got, ok, want)
			}
		}
	}
	if _, ok := b.AddrForOffset(1 << 40); ok {
		t.Errorf("AddrForOffset(1<<40) succeeded, want false")
	}
}
