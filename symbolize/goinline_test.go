package symbolize

import (
	"debug/elf"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestGoInlineMatchesDWARF compares the frames the pclntab's inlining tree
// gives with the DWARF ones, over the text of the Go fixture, which has both.
func TestGoInlineMatchesDWARF(t *testing.T) {
	const path = "testdata/elf/go"
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	g := newGoInline(ef)
	if g == nil || g.gofunc == nil {
		t.Fatalf("no pclntab inlining tree in %s", path)
	}
	b, err := OpenBinary(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	text := ef.Section(".text")
	var total, same, inlined int
	var diffs []string
	for addr := text.Addr; addr < text.Addr+text.Size; addr += 13 {
		want, err := b.Frames(addr)
		if err != nil || len(want) == 0 {
			continue
		}
		got := g.frames(addr)
		total++
		if len(want) > 1 {
			inlined++
		}
		if frameKey := func(fs []Frame) string {
			var s []string
			for _, f := range fs {
				// The outermost frame is named after the ELF symbol when
				// there is one: assembly functions' carry their ABI.
				s = append(s, fmt.Sprintf("%s %s:%d", strings.TrimSuffix(f.Name, ".abi0"), f.File, f.Line))
			}
			return strings.Join(s, " | ")
		}; frameKey(got) == frameKey(want) {
			same++
		} else if len(diffs) < 10 {
			diffs = append(diffs, fmt.Sprintf("%#x:\n  pclntab %s\n  dwarf   %s", addr, frameKey(got), frameKey(want)))
		}
	}
	t.Logf("%d/%d addresses give the same frames (%d of them inside inlined calls)\n%s", same, total, inlined, strings.Join(diffs, "\n"))
	if total < 1000 || inlined < 100 {
		t.Fatalf("only %d addresses, %d inlined: the fixture lost its inlining", total, inlined)
	}
	if same*100 < total*99 {
		t.Errorf("only %d of %d addresses agree with DWARF", same, total)
	}
}

// TestGoInlineCorrupt flips bytes all over a real pclntab, and every table
// must still give frames or none, never a panic or a hang.
func TestGoInlineCorrupt(t *testing.T) {
	ef, err := elf.Open("testdata/elf/go")
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sec := ef.Section(".gopclntab")
	orig, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	good := newGoInline(ef)
	text := ef.Section(".text")
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, len(orig))
	for round := 0; round < 300; round++ {
		copy(data, orig)
		// The header in some rounds, the tables in all.
		for range 1 + rng.IntN(20) {
			i := rng.IntN(len(data))
			if round%3 == 0 {
				i = rng.IntN(72)
			}
			data[i] = byte(rng.Uint32())
		}
		g := parseGoInline(data, text.Addr)
		if g == nil {
			continue
		}
		g.gofunc = data[len(data)-len(good.gofunc):]
		for range 50 {
			g.frames(text.Addr + rng.Uint64N(text.Size))
		}
	}
}

// FuzzGoInline feeds arbitrary tables to the pclntab reader; the seeds are
// the header and the first kilobytes of the fixture's pclntab.
func FuzzGoInline(f *testing.F) {
	ef, err := elf.Open("testdata/elf/go")
	if err != nil {
		f.Fatal(err)
	}
	data, err := ef.Section(".gopclntab").Data()
	ef.Close()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data[:4096], uint32(100), uint64(0x1000))
	f.Fuzz(func(t *testing.T, data []byte, gofunc uint32, addr uint64) {
		g := parseGoInline(data, 0x1000)
		if g == nil {
			return
		}
		if uint64(gofunc) < uint64(len(data)) {
			g.gofunc = data[gofunc:]
		}
		g.frames(addr)
		g.frames(0x1000 + addr%4096)
	})
}
