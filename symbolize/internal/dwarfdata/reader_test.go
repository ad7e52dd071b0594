package dwarfdata

import (
	"reflect"
	"testing"
)

func TestBufLEB128(t *testing.T) {
	for _, tc := range []struct {
		in []byte
		u  uint64
		s  int64
	}{
		{[]byte{0x02}, 2, 2},
		{[]byte{0x7f}, 127, -1},
		{[]byte{0x80, 0x01}, 128, 128},
		{[]byte{0xe5, 0x8e, 0x26}, 624485, 624485},
		{[]byte{0xc0, 0xbb, 0x78}, 1973696, -123456},
	} {
		r := buf{b: tc.in}
		if got := r.uleb(); got != tc.u || r.bad || r.off != len(tc.in) {
			t.Errorf("uleb(% x) = %d (bad %v, off %d), want %d", tc.in, got, r.bad, r.off, tc.u)
		}
		r = buf{b: tc.in}
		if got := r.sleb(); got != tc.s || r.bad {
			t.Errorf("sleb(% x) = %d, want %d", tc.in, got, tc.s)
		}
	}
	// Past the end: bad, zero, and no panic from then on.
	r := buf{b: []byte{0x80}}
	if r.uleb() != 0 || !r.bad {
		t.Error("truncated uleb: not bad")
	}
	if r.u32() != 0 || r.cstr() != nil || r.bytes(1) != nil {
		t.Error("reads after the end return data")
	}
}

// TestRangeListV4 reads a .debug_ranges list with a base address selection
// entry, a range at address 0 (discarded code) and an empty one.
func TestRangeListV4(t *testing.T) {
	le := func(v uint64) []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		return b
	}
	var sec []byte
	for _, v := range []uint64{
		0x10, 0x20, // base (the unit's low_pc 0x1000) + offsets
		^uint64(0), 0x5000, // new base
		0x0, 0x8,
		0x9, 0x9, // empty
		0, 0, // end
	} {
		sec = append(sec, le(v)...)
	}
	d := &Data{s: Sections{Ranges: sec}}
	u := &Unit{base: 0x1000, unitFormat: unitFormat{version: 4, addrSize: 8}}
	got := d.rangeList(u, value{form: formSecOffset, v: 0}, nil)
	want := [][2]uint64{{0x1010, 0x1020}, {0x5000, 0x5008}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ranges = %#x, want %#x", got, want)
	}
	// An offset past the section reads nothing.
	if got := d.rangeList(u, value{form: formSecOffset, v: uint64(len(sec))}, nil); got != nil {
		t.Errorf("past the end: %#x", got)
	}
}

// TestLineTableV4 runs a hand-assembled DWARF 4 line program: special
// opcodes, a discriminator, a row going back (dropped), a file defined in
// the program and two sequences, one of them at address 0 (discarded).
func TestLineTableV4(t *testing.T) {
	hdr := []byte{
		1,                                  // minimum_instruction_length
		1,                                  // maximum_operations_per_instruction
		1,                                  // default_is_stmt
		0xfb,                               // line_base -5
		14,                                 // line_range
		13,                                 // opcode_base
		0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, // standard_opcode_lengths
	}
	hdr = append(hdr, "inc\x00\x00"...)         // include_directories: "inc"
	hdr = append(hdr, "a.c\x00\x00\x00\x00"...) // file 1: a.c in the compilation directory
	hdr = append(hdr, "b.h\x00\x01\x00\x00"...) // file 2: b.h in inc
	hdr = append(hdr, 0)
	special := func(addrAdv, lineAdv int) byte { return byte((lineAdv + 5) + 14*addrAdv + 13) }
	prog := []byte{
		0, 9, 2, 0x00, 0x10, 0x40, 0, 0, 0, 0, 0, // set_address 0x401000
		3, 9, // advance_line 9
		special(0, 0), // 0x401000 line 10
		0, 2, 4, 3,    // set_discriminator 3
		special(4, 1), // 0x401004 line 11 (discriminator 3)
		4, 2,          // set_file 2
		special(2, 0),                            // 0x401006 b.h:11
		0, 9, 2, 0x00, 0x0f, 0x40, 0, 0, 0, 0, 0, // set_address 0x400f00: back
		1,                                        // copy: dropped
		0, 9, 2, 0x08, 0x10, 0x40, 0, 0, 0, 0, 0, // set_address 0x401008
		0, 8, 3, 'c', '.', 'h', 0, 1, 0, 0, // define_file 3: inc/c.h
		4, 3, // set_file 3
		special(0, 1), // 0x401008 c.h:12
		2, 8,          // advance_pc 8
		0, 1, 1, // end_sequence at 0x401010
		special(0, 0), // a sequence at address 0
		2, 4,
		0, 1, 1,
	}
	body := []byte{4, 0} // version 4
	hl := len(hdr)
	body = append(body, byte(hl), byte(hl>>8), byte(hl>>16), byte(hl>>24))
	body = append(body, hdr...)
	body = append(body, prog...)
	n := len(body)
	sec := append([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}, body...)

	d := &Data{s: Sections{Line: sec}}
	u := &Unit{compDir: "/src", unitFormat: unitFormat{version: 4, addrSize: 8}}
	tab, err := d.readLineTable(u, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "/src/a.c", "/src/inc/b.h", "/src/inc/c.h"}; !reflect.DeepEqual(tab.Files, want) {
		t.Errorf("files = %q, want %q", tab.Files, want)
	}
	if len(tab.Seqs) != 1 {
		t.Fatalf("%d sequences, want 1 (the one at 0 is discarded code)", len(tab.Seqs))
	}
	sq := tab.Seqs[0]
	wantRows := []LineRow{{0x401000, 1, 10}, {0x401004, 1, 11}, {0x401006, 2, 11}, {0x401008, 3, 12}}
	if sq.Lo != 0x401000 || sq.Hi != 0x401010 || !reflect.DeepEqual(sq.Rows, wantRows) {
		t.Errorf("sequence [%#x, %#x) rows %#v, want [0x401000, 0x401010) %#v", sq.Lo, sq.Hi, sq.Rows, wantRows)
	}
	if want := []RowDisc{{1, 3}}; !reflect.DeepEqual(sq.Discs, want) {
		t.Errorf("discriminators %v, want %v", sq.Discs, want)
	}
	for _, tc := range []struct {
		addr       uint64
		file       string
		line, disc int
	}{
		{0x401000, "/src/a.c", 10, 0},
		{0x401005, "/src/a.c", 11, 3},
		{0x40100f, "/src/inc/c.h", 12, 0},
		{0x401010, "", 0, 0},
	} {
		f, l, disc := tab.Find(tc.addr)
		if f != tc.file || l != tc.line || disc != tc.disc {
			t.Errorf("Find(%#x) = %s:%d (discriminator %d), want %s:%d (%d)", tc.addr, f, l, disc, tc.file, tc.line, tc.disc)
		}
	}

	// Every truncation is an error or a shorter table, never a panic.
	for i := range sec {
		d := &Data{s: Sections{Line: sec[:i]}}
		d.readLineTable(u, 0)
	}
}
