package dwarfdata

import (
	"fmt"
	"path"
	"slices"
	"sort"
)

// LineTable is a unit's line program, run.
type LineTable struct {
	Files []string  // by file number; absolute when the unit says where
	Seqs  []LineSeq // sorted by Lo
}

// LineSeq is one sequence of the line table: rows at increasing addresses,
// covering [Lo, Hi).
type LineSeq struct {
	Lo, Hi uint64
	Rows   []LineRow
	Discs  []RowDisc // of the few rows with a discriminator, by row
}

// LineRow is one row of a line table: the file and line of the code from
// Addr to the next row.
type LineRow struct {
	Addr uint64
	File int32
	Line int32
}

// RowDisc is the discriminator of row Row of a sequence: kept apart, as
// most rows have none and rows are most of a unit's memory.
type RowDisc struct {
	Row  int32
	Disc uint32
}

// File returns the name of file number i, "" when there is none.
func (t *LineTable) File(i int32) string {
	if i < 0 || int(i) >= len(t.Files) {
		return ""
	}
	return t.Files[i]
}

// Find returns the file, line and discriminator of the row covering addr;
// "", 0, 0 when none does.
func (t *LineTable) Find(addr uint64) (string, int, int) {
	i := sort.Search(len(t.Seqs), func(i int) bool { return t.Seqs[i].Lo > addr }) - 1
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		s := &t.Seqs[i]
		if addr >= s.Hi {
			continue
		}
		// Of several rows at one address, the last one wins, as in LLVM.
		j := sort.Search(len(s.Rows), func(j int) bool { return s.Rows[j].Addr > addr }) - 1
		if j < 0 {
			return "", 0, 0
		}
		disc := 0
		if k := sort.Search(len(s.Discs), func(k int) bool { return int(s.Discs[k].Row) >= j }); k < len(s.Discs) && int(s.Discs[k].Row) == j {
			disc = int(s.Discs[k].Disc)
		}
		return t.File(s.Rows[j].File), int(s.Rows[j].Line), disc
	}
	return "", 0, 0
}

// LineTable runs u's line program; the table is empty when u has none.
// File names are made absolute with the unit's DW_AT_comp_dir, as LLVM
// prints them.
func (d *Data) LineTable(u *Unit) (LineTable, error) {
	if u.stmtList < 0 {
		return LineTable{}, nil
	}
	t, err := d.readLineTable(u, uint64(u.stmtList))
	if err != nil {
		return t, err
	}
	sort.Slice(t.Seqs, func(i, j int) bool { return t.Seqs[i].Lo < t.Seqs[j].Lo })
	return t, nil
}

// readLineTable runs the line program at off for unit u.
func (d *Data) readLineTable(u *Unit, off uint64) (LineTable, error) {
	var t LineTable
	if off >= uint64(len(d.s.Line)) {
		return t, fmt.Errorf("line table at %#x past the end of .debug_line", off)
	}
	r := buf{b: d.s.Line, off: int(off), big: d.s.BigEndian}
	n, dwarf64 := r.unitLength()
	if r.bad || n > uint64(len(r.b)-r.off) {
		return t, fmt.Errorf("line table at %#x: length past the end", off)
	}
	r.b = r.b[:r.off+int(n)]
	version := r.u16()
	if version < 2 || version > 5 {
		return t, fmt.Errorf("line table at %#x: unsupported version %d", off, version)
	}
	addrSize := int(u.addrSize)
	if version >= 5 {
		addrSize = int(r.u8())
		r.u8() // segment selector size
	}
	hdrLen := r.offset(dwarf64)
	if r.bad || hdrLen > uint64(len(r.b)-r.off) {
		return t, fmt.Errorf("line table at %#x: truncated header", off)
	}
	progStart := r.off + int(hdrLen)
	minInst := uint64(r.u8())
	if version >= 4 {
		r.u8() // maximum operations per instruction: VLIW only
	}
	r.u8() // default_is_stmt: every row counts, as in LLVM
	lineBase := int64(int8(r.u8()))
	lineRange := uint64(r.u8())
	opcodeBase := r.u8()
	if lineRange == 0 {
		return t, fmt.Errorf("line table at %#x: line range 0", off)
	}
	if opcodeBase == 0 {
		return t, fmt.Errorf("line table at %#x: opcode base 0", off)
	}
	opLens := r.bytes(uint64(opcodeBase - 1))
	if r.bad {
		return t, fmt.Errorf("line table at %#x: truncated header", off)
	}
	abs := func(p string) bool { return len(p) > 0 && p[0] == '/' }
	var dirs []string
	if version < 5 {
		// Directory 0 is the compilation directory; others are
		// relative to it unless absolute.
		dirs = append(dirs, u.compDir)
		for {
			b := r.cstr()
			if r.bad || len(b) == 0 {
				break
			}
			dir := string(b)
			if !abs(dir) && u.compDir != "" {
				dir = path.Join(u.compDir, dir)
			}
			dirs = append(dirs, dir)
		}
		t.Files = append(t.Files, "") // file numbers start at 1
		for {
			name := r.cstr()
			if r.bad || len(name) == 0 {
				break
			}
			di := r.uleb()
			r.uleb() // modification time
			r.uleb() // length
			t.Files = append(t.Files, joinFile(dirs, di, string(name)))
		}
	} else {
		var err error
		if dirs, err = d.readEntryTable(&r, u, dwarf64, nil); err != nil {
			return t, fmt.Errorf("line table at %#x: %w", off, err)
		}
		if t.Files, err = d.readEntryTable(&r, u, dwarf64, dirs); err != nil {
			return t, fmt.Errorf("line table at %#x: %w", off, err)
		}
	}
	if r.bad || progStart > len(r.b) {
		return t, fmt.Errorf("line table at %#x: truncated header", off)
	}
	r.off = progStart

	// The state machine (DWARF 5, 6.2.2), keeping only what a row needs.
	// Rows of all sequences go into one slice, sized from the program's
	// length (a row takes a few bytes of it), and sequences are cut
	// from it at the end: growing a slice per sequence was most of the
	// time spent here.
	var (
		addr  uint64
		file  uint64 = 1
		line  int64  = 1
		all          = make([]LineRow, 0, (len(r.b)-progStart)/3+16)
		first        = 0 // of the current sequence in all
		spans [][2]int
		disc  uint64
		discs []RowDisc // by index in all
	)
	emit := func() {
		rd := disc
		disc = 0 // each row has its own
		if n := len(all); n > first && addr < all[n-1].Addr {
			// Rows must increase within a sequence; a malformed
			// table that goes back is cut here.
			return
		}
		if rd != 0 {
			discs = append(discs, RowDisc{Row: int32(min(len(all), 1<<31-1)), Disc: uint32(min(rd, 1<<32-1))})
		}
		all = append(all, LineRow{Addr: addr, File: int32(min(file, 1<<31-1)), Line: int32(line)})
	}
	for r.off < len(r.b) && !r.bad {
		op := r.u8()
		if op >= opcodeBase {
			adj := uint64(op - opcodeBase)
			addr += adj / lineRange * minInst
			line += lineBase + int64(adj%lineRange)
			emit()
			continue
		}
		switch op {
		case 0: // extended
			n := r.uleb()
			if n == 0 || n > uint64(len(r.b)-r.off) {
				r.fail()
				break
			}
			end := r.off + int(n)
			switch r.u8() {
			case 1: // DW_LNE_end_sequence
				if len(all) > first && all[first].Addr != 0 && all[first].Addr < addr {
					t.Seqs = append(t.Seqs, LineSeq{Lo: all[first].Addr, Hi: addr})
					spans = append(spans, [2]int{first, len(all)})
				} else {
					all = all[:first]
					for len(discs) > 0 && int(discs[len(discs)-1].Row) >= first {
						discs = discs[:len(discs)-1]
					}
				}
				first = len(all)
				addr, file, line, disc = 0, 1, 1, 0
			case 2: // DW_LNE_set_address
				if w := end - r.off; w > 0 && w <= 8 {
					addr = r.un(w)
				} else {
					addr = r.un(addrSize)
				}
			case 4: // DW_LNE_set_discriminator
				disc = r.uleb()
			case 3: // DW_LNE_define_file (DWARF 2–4)
				name := r.cstr()
				di := r.uleb()
				if !r.bad && version < 5 {
					t.Files = append(t.Files, joinFile(dirs, di, string(name)))
				}
			}
			r.off = end
		case 1: // DW_LNS_copy
			emit()
		case 2: // DW_LNS_advance_pc
			addr += r.uleb() * minInst
		case 3: // DW_LNS_advance_line
			line += r.sleb()
		case 4: // DW_LNS_set_file
			file = r.uleb()
		case 8: // DW_LNS_const_add_pc
			addr += uint64(255-opcodeBase) / lineRange * minInst
		case 9: // DW_LNS_fixed_advance_pc
			addr += uint64(r.u16())
		default:
			// Unknown (or uninteresting) standard opcode: skip
			// its operands, as many as the header says.
			for range opLens[op-1] {
				r.uleb()
			}
		}
	}
	if cap(all) > len(all)+len(all)/4+64 {
		// The guess from the program's size was well over: keep only
		// what is used, as rows are most of a parsed unit's memory.
		all = slices.Clone(all)
	}
	di := 0
	for i, sp := range spans {
		t.Seqs[i].Rows = all[sp[0]:sp[1]:sp[1]]
		// Discriminators of the sequence, renumbered from its first row.
		for di < len(discs) && int(discs[di].Row) < sp[0] {
			di++
		}
		start := di
		for di < len(discs) && int(discs[di].Row) < sp[1] {
			discs[di].Row -= int32(sp[0])
			di++
		}
		if di > start {
			t.Seqs[i].Discs = discs[start:di:di]
		}
	}
	for i, f := range t.Files {
		if f != "" && !abs(f) && f[0] != '<' && u.compDir != "" {
			t.Files[i] = path.Join(u.compDir, f)
		}
	}
	return t, nil
}

// joinFile is a DWARF 2–4 file name with its directory.
func joinFile(dirs []string, di uint64, name string) string {
	if len(name) > 0 && name[0] == '/' || di >= uint64(len(dirs)) || dirs[di] == "" {
		return name
	}
	return path.Join(dirs[di], name)
}

// readEntryTable reads a DWARF 5 directory or file name table. Given the
// directories, it is the file table, and names are joined with theirs.
func (d *Data) readEntryTable(r *buf, u *Unit, dwarf64 bool, dirs []string) ([]string, error) {
	type lnct struct{ content, form uint64 }
	nf := int(r.u8())
	formats := make([]lnct, nf)
	for i := range formats {
		formats[i] = lnct{r.uleb(), r.uleb()}
		if formats[i].form > 0xffff || !knownForm(uint32(formats[i].form)) {
			return nil, fmt.Errorf("unknown form %#x in entry format", formats[i].form)
		}
	}
	count := r.uleb()
	if r.bad {
		return nil, fmt.Errorf("truncated entry format")
	}
	// Every entry takes at least a byte, or the formats are empty and
	// the count is nonsense.
	if count > uint64(len(r.b)-r.off) || nf == 0 && count > 0 {
		return nil, fmt.Errorf("%d entries cannot fit", count)
	}
	hu := *u
	hu.dwarf64 = dwarf64
	out := make([]string, 0, count)
	for range count {
		var name string
		var di uint64
		for _, f := range formats {
			v := d.readValue(r, &hu, &attrSpec{form: uint32(f.form)})
			switch f.content {
			case 1: // DW_LNCT_path
				name = string(d.strVal(&hu, v))
			case 2: // DW_LNCT_directory_index
				di = v.v
			}
		}
		if r.bad {
			return nil, fmt.Errorf("truncated entry table")
		}
		if dirs != nil && name != "" && name[0] != '/' && di < uint64(len(dirs)) && dirs[di] != "" {
			name = path.Join(dirs[di], name)
		}
		out = append(out, name)
	}
	return out, nil
}
