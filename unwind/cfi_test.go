package unwind

import (
	"encoding/binary"
	"testing"
)

// debugFrame assembles a .debug_frame section: one CIE (code alignment 1,
// data alignment -8, return address in r16) with cie as its initial
// instructions, and one FDE per entry of fdes covering [0x1000*(i+1), +0x100).
func debugFrame(cie []byte, fdes ...[]byte) []byte {
	pad := func(b []byte) []byte {
		for (len(b)+4)%8 != 0 {
			b = append(b, 0) // DW_CFA_nop
		}
		return b
	}
	body := pad(append([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 1, 0x78, 16}, cie...))
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	out = append(out, body...)
	for i, ins := range fdes {
		b := binary.LittleEndian.AppendUint32(nil, 0) // CIE at offset 0
		b = binary.LittleEndian.AppendUint64(b, uint64(0x1000*(i+1)))
		b = binary.LittleEndian.AppendUint64(b, 0x100)
		b = pad(append(b, ins...))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// The usual CIE: CFA = rsp+8, return address at CFA-8.
var stdCIE = []byte{0x0c, 7, 8, 0x90, 1}

func TestRowsFromCFI(t *testing.T) {
	for _, tc := range []struct {
		name string
		fde  []byte
		want []Row // rows at 0x1000 and after, terminator included
		st   Stats // the counters checked: the reasons and BadCFI
	}{
		{"push rbp; mov rsp,rbp", []byte{0x41, 0x0e, 16, 0x86, 2, 0x43, 0x0d, 6}, []Row{
			{0x1000, 8, KindRSP, 0}, {0x1001, 16, KindRSP | RBPSaved, -2}, {0x1004, 16, KindRBP | RBPSaved, -2}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
		{"remember, epilogue, restore", []byte{0x41, 0x0e, 16, 0x86, 2, 0x41, 0x0a, 0x0e, 8, 0xc6, 0x41, 0x0b, 0x42, 0x0e, 8, 0xc6}, []Row{
			{0x1000, 8, KindRSP, 0}, {0x1001, 16, KindRSP | RBPSaved, -2}, {0x1002, 8, KindRSP, 0}, {0x1003, 16, KindRSP | RBPSaved, -2}, {0x1005, 8, KindRSP, 0}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
		{"undefined rbp", []byte{0x41, 0x07, 6}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{RBPRule: 1}},
		{"rbp in a register", []byte{0x41, 0x09, 6, 9}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{RBPRule: 1}},
		{"rbp off the grid", []byte{0x41, 0x05, 6, 0x81, 0x01, 0x41, 0x05, 6, 0x03}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}, {0x1002, 8, KindRSP | RBPSaved, -3}, {0x1100, 0, KindInvalid, 0}}, Stats{Overflow: 1}},
		{"cfa on r10", []byte{0x41, 0x0c, 10, 0}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{CFAReg: 1}},
		{"cfa offset overflow", []byte{0x41, 0x0e, 0x80, 0x80, 0x02}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{Overflow: 1}},
		{"unknown cfa expression", []byte{0x41, 0x0f, 2, 0x77, 8}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{CFAExpr: 1}},
		{"ra in a register", []byte{0x41, 0x09, 16, 1}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{RARule: 1}},
		{"outermost frame", []byte{0x07, 16}, []Row{{0x1000, 0, KindStop, 0}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
		{"PLT, threshold 10", []byte{0x0f, 11, 0x77, 8, 0x80, 0, 0x3f, 0x1a, 0x3a, 0x2a, 0x33, 0x24, 0x22}, []Row{{0x1000, 10, KindPLT, 0}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
		{"realigned main", []byte{0x10, 6, 2, 0x76, 0, 0x0f, 3, 0x76, 0x70, 0x06}, []Row{{0x1000, -16, KindDerefRBP | RBPAtRBP, 0}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
		{"restore_state underflow", []byte{0x41, 0x0b}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{BadCFI: 1}},
		{"truncated operand", []byte{0x41, 0x0f, 0x40}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{BadCFI: 1}},
		{"DW_CFA_set_loc", []byte{0x41, 0x01}, []Row{{0x1000, 8, KindRSP, 0}, {0x1001, 0, KindInvalid, 0}}, Stats{BadCFI: 1}},
		{"advance past the end", []byte{0x03, 0x00, 0x02, 0x0e, 16}, []Row{{0x1000, 8, KindRSP, 0}, {0x1100, 0, KindInvalid, 0}}, Stats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := buildSection(debugFrame(stdCIE, tc.fde), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(tab.Rows) != len(tc.want) {
				t.Fatalf("rows %+v, want %+v", tab.Rows, tc.want)
			}
			for i := range tc.want {
				if tab.Rows[i] != tc.want[i] {
					t.Fatalf("row %d: %+v, want %+v (all: %+v)", i, tab.Rows[i], tc.want[i], tab.Rows)
				}
			}
			s := tab.Stats
			got := Stats{CFAReg: s.CFAReg, CFAExpr: s.CFAExpr, RBPRule: s.RBPRule, RARule: s.RARule, Overflow: s.Overflow, BadCFI: s.BadCFI}
			if got != tc.st {
				t.Errorf("stats %+v, want %+v", got, tc.st)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	// Three FDEs at 0x1000, 0x2000, 0x3000, each 0x100 long: the gaps are
	// large, so each gets a terminator.
	tab, err := buildSection(debugFrame(stdCIE, nil, nil, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{0x1000, 8, KindRSP, 0}, {0x1100, 0, 0, 0}, {0x2000, 8, KindRSP, 0}, {0x2100, 0, 0, 0}, {0x3000, 8, KindRSP, 0}, {0x3100, 0, 0, 0}}
	if len(tab.Rows) != len(want) {
		t.Fatalf("rows %+v, want %+v", tab.Rows, want)
	}
	for i := range want {
		if tab.Rows[i] != want[i] {
			t.Fatalf("rows %+v, want %+v", tab.Rows, want)
		}
	}
	if !mergeable(Row{Kind: KindRSP, CFAOffset: 8}, 0x1109, 0x1110) {
		t.Error("7 bytes of padding up to a 16-byte boundary not merged")
	}
	if mergeable(Row{Kind: KindRSP, CFAOffset: 16}, 0x1109, 0x1110) {
		t.Error("padding merged into a row that is not the entry rule")
	}
	if mergeable(Row{Kind: KindRSP, CFAOffset: 8}, 0x1109, 0x1120) {
		t.Error("a gap past the next 16-byte boundary merged")
	}
}

func TestBadSections(t *testing.T) {
	for name, data := range map[string][]byte{
		"unknown CIE":   {12, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"truncated CIE": {0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1},
		"64-bit DWARF":  {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
	} {
		if tab, err := buildSection(data, 0); err == nil && len(tab.Rows) != 0 {
			t.Errorf("%s: %d rows from garbage", name, len(tab.Rows))
		}
	}
	if _, err := buildSection(debugFrame([]byte{0x0b}, nil), 0); err != nil {
		t.Fatal(err)
	}
	tab, _ := buildSection(debugFrame([]byte{0x0b}, nil), 0)
	if tab.Stats.BadCFI != 1 || len(tab.Rows) != 1 || tab.Rows[0].Kind != KindInvalid {
		t.Errorf("a CIE whose instructions fail: %+v %+v", tab.Rows, tab.Stats)
	}
}
