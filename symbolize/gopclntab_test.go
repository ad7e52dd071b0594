package symbolize

import "testing"

// TestGoPclntab checks a Go binary built -ldflags='-s -w' against the same
// build with DWARF: stripping removes no loaded section, so addresses agree,
// and the pclntab, with its inlining tree found through the module data (no
// symbol table is left), must give DWARF's frames: the inlined calls and the
// function, each with its file and line.
func TestGoPclntab(t *testing.T) {
	full, err := OpenBinary(fixture(t, "go"))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	stripped, err := OpenBinary(fixture(t, "go-stripped"))
	if err != nil {
		t.Fatal(err)
	}
	defer stripped.Close()
	addrs := textAddrs(t, fixture(t, "go"), 2000)
	same, n, inlined := 0, 0, 0
	for _, addr := range addrs {
		want, _ := full.Frames(addr)
		if len(want) == 0 || want[0].Line == 0 {
			continue
		}
		n++
		got, err := stripped.Frames(addr)
		if err != nil {
			t.Fatalf("Frames(%#x): %v", addr, err)
		}
		if len(want) > 1 {
			inlined++
		}
		if sameFrames(got, want) {
			same++
		} else if n-same <= 5 {
			t.Logf("%#x: pclntab %+v, DWARF %+v", addr, got, want)
		}
	}
	t.Logf("%d/%d addresses agree, %d of them in inlined calls", same, n, inlined)
	if n < 1000 || same < n*99/100 || inlined < 100 {
		t.Errorf("%d/%d addresses agree, want 99%% of at least 1000", same, n)
	}
	// A named check: main.work, with no symbol table to fall back on.
	addr := symAddr(t, fixture(t, "go"), "main.work")
	got, err := stripped.Frames(addr)
	if err != nil || len(got) != 1 || got[0].Name != "main.work" || got[0].File != "fixture/main.go" || got[0].Line == 0 {
		t.Errorf("Frames(main.work) = %+v, %v; want main.work in fixture/main.go", got, err)
	}
}

// sameFrames compares pclntab frames with DWARF's; the outermost DWARF frame
// is named after the ELF symbol, which for assembly carries its ABI.
func sameFrames(got, want []Frame) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if (g.Name != w.Name && g.Name+".abi0" != w.Name) || g.File != w.File || g.Line != w.Line {
			return false
		}
	}
	return true
}
