package unwind

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// RowSize is the size of one row in the binary layout the BPF walker reads.
const RowSize = 8

// Limits against hostile files: real .eh_frame sections are a few MiB.
const (
	maxSection = 256 << 20
	maxRows    = 1 << 24
)

// gapMerge is the largest gap between two FDEs that the earlier FDE's last
// row may cover without a KindInvalid terminator: function alignment
// padding, which never runs.
const gapMerge = 16

// ErrNoCFI says a file has neither .eh_frame nor .debug_frame.
var ErrNoCFI = errors.New("no .eh_frame or .debug_frame")

// Table is the unwind table of one ELF file: rows sorted by PC.
type Table struct {
	Rows  []Row
	Stats Stats
}

// Stats counts what went into a table and every CFI row that could not be
// represented, by reason; those rows are KindInvalid in the table.
type Stats struct {
	FDEs int // FDEs turned into rows
	Rows int // rows in the table, KindInvalid ones included

	CFAReg   int // rows whose CFA is on a register other than rsp or rbp
	CFAExpr  int // rows whose CFA is an expression other than PLT or realignment
	RBPRule  int // rows whose caller's rbp is undefined, in a register, or off the 8-byte grid
	RARule   int // rows whose return address is not at CFA-8
	Overflow int // rows with a CFA offset beyond int16 or an rbp slot beyond int8
	BadCFI   int // FDEs with malformed or unsupported instructions: KindInvalid from there on
	Addr32   int // FDEs above 4 GiB, left out of the table
	Overlap  int // FDEs left out because an earlier FDE covers their start

	PLT          int // rows with KindPLT
	Signal       int // rows with KindSignal
	DerefRBP     int // rows with KindDerefRBP
	Stop         int // rows with KindStop
	SyntheticPLT int // PLT sections without an FDE that got rows from their code
}

// Invalid returns the number of CFI rows that could not be represented.
func (s Stats) Invalid() int {
	return s.CFAReg + s.CFAExpr + s.RBPRule + s.RARule + s.Overflow
}

// Lookup returns the row in force at pc (the last row with PC <= pc); ok
// is false when no usable rule covers pc.
func (t *Table) Lookup(pc uint64) (Row, bool) {
	if pc > 0xffffffff {
		return Row{}, false
	}
	i := sort.Search(len(t.Rows), func(i int) bool { return uint64(t.Rows[i].PC) > pc })
	if i == 0 {
		return Row{}, false
	}
	r := t.Rows[i-1]
	return r, r.Kind&KindMask != KindInvalid
}

// Size returns the bytes the rows take in the BPF map.
func (t *Table) Size() int { return len(t.Rows) * RowSize }

// AppendBinary appends the rows in the 8-byte little-endian layout of
// struct unwind_row.
func (t *Table) AppendBinary(b []byte) ([]byte, error) {
	b = slices.Grow(b, t.Size())
	for _, r := range t.Rows {
		b = binary.LittleEndian.AppendUint32(b, r.PC)
		b = binary.LittleEndian.AppendUint16(b, uint16(r.CFAOffset))
		b = append(b, r.Kind, byte(r.RBPOffset))
	}
	return b, nil
}

// MarshalBinary returns the rows in the layout AppendBinary writes.
func (t *Table) MarshalBinary() ([]byte, error) { return t.AppendBinary(nil) }

// span is an address range with CFI: an FDE, or synthetic rows.
type span struct {
	begin, end uint64
	fde        *frame.FrameDescriptionEntry
	rows       []Row // synthetic rows (PC set), when fde is nil
}

// Build makes the unwind table of an x86-64 ELF file from its .eh_frame
// and .debug_frame; debug files (split debug info) fill in code the file's
// own sections do not cover.
func Build(f *elf.File, debug ...*elf.File) (*Table, error) {
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("unwind tables need an x86-64 ELF file, not %v %v", f.Class, f.Machine)
	}
	var spans []span
	for _, ef := range append([]*elf.File{f}, debug...) {
		s, err := fileSpans(ef)
		if err != nil {
			return nil, err
		}
		spans = append(spans, s...)
	}
	if len(spans) == 0 {
		return nil, ErrNoCFI
	}
	// Parse keeps file order, and libc's .eh_frame is not sorted; stable so
	// that the file's own FDEs win over its debug file's.
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	t := &Table{}
	spans = append(spans, synthPLT(f, spans, &t.Stats)...)
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	if err := t.generate(spans); err != nil {
		return nil, err
	}
	return t, nil
}

// fileSpans parses the CFI sections of one file.
func fileSpans(f *elf.File) ([]span, error) {
	var spans []span
	for _, name := range []string{".eh_frame", ".debug_frame"} {
		s := f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		eh := uint64(0)
		if name == ".eh_frame" {
			if s.Addr == 0 {
				continue // not loaded: pc-relative pointers cannot be resolved
			}
			eh = s.Addr
		}
		data, err := sectionData(s)
		if err != nil {
			return nil, err
		}
		fdes, err := parse(data, eh)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, fde := range fdes {
			if fde.CIE == nil || fde.End() <= fde.Begin() {
				continue
			}
			spans = append(spans, span{begin: fde.Begin(), end: fde.End(), fde: fde})
		}
	}
	return spans, nil
}

func sectionData(s *elf.Section) ([]byte, error) {
	if s.Size > maxSection {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d this reads", s.Name, s.Size, maxSection)
	}
	data, err := io.ReadAll(io.LimitReader(s.Open(), maxSection+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Name, err)
	}
	if len(data) > maxSection {
		return nil, fmt.Errorf("%s decompresses to more than %d bytes", s.Name, maxSection)
	}
	return data, nil
}

// parse runs delve's parser, which panics on some malformed input.
func parse(data []byte, ehFrameAddr uint64) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if r := recover(); r != nil {
			fdes, err = nil, fmt.Errorf("malformed call frame information: %v", r)
		}
	}()
	return frame.Parse(data, binary.LittleEndian, 0, 8, ehFrameAddr)
}

// cieInfo is what every FDE of one CIE starts from.
type cieInfo struct {
	prog   cfiProgram
	err    error
	signal bool
}

// generate turns sorted spans into rows in one pass over each FDE's
// instructions.
func (t *Table) generate(spans []span) error {
	cies := map[*frame.CommonInformationEntry]*cieInfo{}
	rows := make([]Row, 0, len(spans)*8)
	st := &t.Stats
	push := func(pc uint64, r Row) {
		r.PC = uint32(pc)
		n := len(rows)
		if n > 0 && rows[n-1].PC == r.PC {
			rows = rows[:n-1]
			n--
		}
		if n > 0 && sameRule(rows[n-1], r) {
			return
		}
		rows = append(rows, r)
	}
	var end uint64 // end of the last span with rows; 0 before the first
	started := false
	for _, sp := range spans {
		if sp.end > 1<<32 {
			st.Addr32++
			continue
		}
		if started && sp.begin < end {
			st.Overlap++
			continue
		}
		if started && sp.begin != end && !mergeable(rows[len(rows)-1], end, sp.begin) {
			push(end, Row{})
		}
		started, end = true, sp.end
		if sp.fde == nil {
			for _, r := range sp.rows {
				push(uint64(r.PC), r)
			}
			continue
		}
		st.FDEs++
		ci := cies[sp.fde.CIE]
		if ci == nil {
			ci = newCIE(sp.fde.CIE)
			cies[sp.fde.CIE] = ci
		}
		if ci.err != nil {
			st.BadCFI++
			push(sp.begin, Row{})
			continue
		}
		if ci.signal {
			// A sigreturn trampoline: the walker reads the ucontext, so
			// the rules inside do not matter.
			st.Signal++
			push(sp.begin, Row{Kind: KindSignal})
			continue
		}
		emit := func(loc uint64, s *cfiState, next uint64) bool {
			if loc >= sp.end {
				return false
			}
			push(loc, st.row(s))
			return next < sp.end
		}
		s, loc, err := ci.prog.run(sp.fde.Instructions, ci.prog.init, sp.begin, false, emit)
		if err != nil {
			st.BadCFI++
			if loc < sp.end {
				push(loc, Row{})
			}
		} else if loc < sp.end {
			push(loc, st.row(&s))
		}
		if len(rows) > maxRows {
			return fmt.Errorf("more than %d unwind rows", maxRows)
		}
	}
	if started {
		push(end, Row{})
	}
	t.Rows = slices.Clip(rows)
	st.Rows = len(rows)
	return nil
}

// row converts a state and counts what it became.
func (st *Stats) row(s *cfiState) Row {
	r, why := toRow(s, false)
	switch why {
	case badCFAReg:
		st.CFAReg++
	case badCFAExpr:
		st.CFAExpr++
	case badRBPRule:
		st.RBPRule++
	case badRARule:
		st.RARule++
	case badOverflow:
		st.Overflow++
	}
	switch r.Kind & KindMask {
	case KindPLT:
		st.PLT++
	case KindDerefRBP:
		st.DerefRBP++
	case KindStop:
		st.Stop++
	}
	return r
}

func newCIE(c *frame.CommonInformationEntry) *cieInfo {
	ci := &cieInfo{
		prog: cfiProgram{
			codeAlign: c.CodeAlignmentFactor,
			dataAlign: c.DataAlignmentFactor,
			raReg:     c.ReturnAddressRegister,
		},
		signal: strings.HasPrefix(c.Augmentation, "z") && strings.ContainsRune(c.Augmentation, 'S'),
	}
	ci.prog.init, _, ci.err = ci.prog.run(c.InitialInstructions, cfiState{}, 0, true, nil)
	return ci
}

// sameRule reports whether two rows unwind alike (PC aside).
func sameRule(a, b Row) bool {
	return a.CFAOffset == b.CFAOffset && a.Kind == b.Kind && a.RBPOffset == b.RBPOffset
}

// mergeable reports whether the gap [end, next) is alignment padding that
// the previous row may cover: small, ending at the next 16-byte boundary,
// and described by the plain rule at a function's entry.
func mergeable(last Row, end, next uint64) bool {
	plain := last.Kind == KindRSP|RBPUnchanged && last.CFAOffset == 8
	return plain && next-end < gapMerge && next <= (end+gapMerge-1)&^(gapMerge-1)
}

// buildSection makes a table from one CFI section's bytes (.eh_frame
// mapped at ehFrameAddr, or .debug_frame when it is 0), without PLT rows.
func buildSection(data []byte, ehFrameAddr uint64) (*Table, error) {
	fdes, err := parse(data, ehFrameAddr)
	if err != nil {
		return nil, err
	}
	var spans []span
	for _, fde := range fdes {
		if fde.CIE != nil && fde.End() > fde.Begin() {
			spans = append(spans, span{begin: fde.Begin(), end: fde.End(), fde: fde})
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	t := &Table{}
	return t, t.generate(spans)
}
