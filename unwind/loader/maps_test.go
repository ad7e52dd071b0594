package loader

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/process"
)

// TestBlocks checks that the LPM blocks of a range cover it exactly, each
// aligned to its own size.
func TestBlocks(t *testing.T) {
	for _, r := range [][2]uint64{
		{0x1000, 0x2000}, {0x555555554000, 0x555555559000}, {0x7f0000001000, 0x7f0000200000},
		{0x400000, 0x401000}, {0x1000, 0x7ffffffff000},
	} {
		next := r[0]
		ks := blocks(7, r[0], r[1])
		for _, k := range ks {
			prefix := binary.NativeEndian.Uint32(k[0:])
			pid := binary.BigEndian.Uint32(k[4:])
			addr := binary.BigEndian.Uint64(k[8:])
			size := uint64(1) << (96 - prefix)
			if pid != 7 || addr != next || addr%size != 0 {
				t.Fatalf("range %#x-%#x: block %#x/%d (pid %d) after %#x", r[0], r[1], addr, prefix, pid, next)
			}
			next += size
		}
		if next != r[1] {
			t.Errorf("range %#x-%#x: blocks end at %#x", r[0], r[1], next)
		}
		if len(ks) > 2*64 {
			t.Errorf("range %#x-%#x: %d blocks", r[0], r[1], len(ks))
		}
	}
}

func TestParseMaps(t *testing.T) {
	in := `55d4c8a00000-55d4c8a28000 r--p 00000000 08:01 1234 /usr/bin/python3.11
55d4c8a28000-55d4c8c00000 r-xp 00028000 08:01 1234 /usr/bin/python3.11
7f0000000000-7f0000001000 rwxp 00000000 00:00 0 
7f0000010000-7f0000020000 r-xp 00001000 08:01 99 /tmp/with space (deleted)
7ffd000-7ffe000 r-xp 00000000 00:00 0 [vdso]
`
	maps, err := process.ParseMaps(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	got := fileMappings(maps)
	want := []mapping{
		{0x7ffd000, 0x7ffe000, 0, "[vdso]"}, // sorted by address
		{0x55d4c8a28000, 0x55d4c8c00000, 0x28000, "/usr/bin/python3.11"},
		{0x7f0000010000, 0x7f0000020000, 0x1000, "/tmp/with space"}, // the process layer strips " (deleted)"
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestBias(t *testing.T) {
	// A PIE whose text segment is at file offset 0x1040, vaddr 0x2040.
	segs := []segment{{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_X, Off: 0x1040, Vaddr: 0x2040, Filesz: 0x5000}}
	m := mapping{start: 0x555555555000, end: 0x55555555b000, offset: 0x1000}
	b, err := bias(m, segs)
	if err != nil {
		t.Fatal(err)
	}
	// File offset 0x1040 is at start+0x40 in memory and at vaddr 0x2040.
	if got := m.start + 0x40 - b; got != 0x2040 {
		t.Errorf("vaddr of the segment's start = %#x, want 0x2040", got)
	}
	if _, err := bias(mapping{start: 0x1000, end: 0x2000, offset: 0x100000}, segs); err == nil {
		t.Error("a mapping outside every segment got a bias")
	}
}

// TestWarning checks that the summary speaks only past WarnShare and names
// every failure reason that occurred.
func TestWarning(t *testing.T) {
	var s Stats
	s[SlotWalks], s[SlotEndStop], s[SlotErrRead] = 1000, 960, 40
	if w := Warning(s); w != "" {
		t.Errorf("4%% failed: %q, want no warning", w)
	}
	s[SlotErrInvalid] = 20
	w := Warning(s)
	if !strings.Contains(w, "60 of 1000") || !strings.Contains(w, "read fault 40") || !strings.Contains(w, "invalid row 20") || strings.Contains(w, "\n") {
		t.Errorf("6%% failed: %q", w)
	}
	if w := Warning(Stats{}); w != "" {
		t.Errorf("no walks: %q", w)
	}
	f := Fields(ModeAuto, s, Info{Files: 3, Rows: 100, MaxRows: 200})
	for _, want := range []string{"mode=auto", "walks=1000", "invalid=20", "read_fault=40", "binaries=3", "max_rows=200"} {
		if !strings.Contains(f, want) {
			t.Errorf("Fields = %q, lacks %q", f, want)
		}
	}
}
