package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"sort"
)

// goInline reads a Go 1.20+ .gopclntab directly, as the runtime does for its
// own tracebacks, so that an address inside inlined code gives one frame per
// inlined call, like DWARF, in binaries whose DWARF was stripped
// (-ldflags=-s -w, the usual release build). debug/gosym does not read the
// inlining tree.
type goInline struct {
	textStart uint64
	funcnames []byte
	cutab     []byte
	filetab   []byte
	pctab     []byte
	pcln      []byte // the function table and the _func records
	// funcnameOff is where the name table starts in the section, which the
	// module data points at too.
	funcnameOff uint64
	nfunc       int
	quantum     uint64
	// gofunc is go:func.*, the base of funcdata offsets (the inlining
	// trees), as a slice of the file starting there; nil when it could not
	// be found, and then inlined calls are not split.
	gofunc []byte
}

const (
	goMagic120       = 0xfffffff1
	goFuncSize       = 44 // the fixed part of runtime._func
	goPCDataInlIndex = 2  // abi.PCDATA_InlTreeIndex
	goFuncDataInl    = 3  // abi.FUNCDATA_InlTree
	goInlCallSize    = 16 // runtime.inlinedCall
	// goModuleGofunc is the offset of moduledata.gofunc on 64-bit targets,
	// Go 1.20 and later.
	goModuleGofunc = 320
)

// newGoInline returns nil when the binary has no Go 1.20+ pclntab it can
// read; debug/gosym remains for older ones.
func newGoInline(ef *elf.File) *goInline {
	sec := ef.Section(".gopclntab")
	if sec == nil || sec.Type == elf.SHT_NOBITS || ef.Class != elf.ELFCLASS64 || ef.ByteOrder != binary.LittleEndian {
		return nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil
	}
	var textAddr uint64
	if text := ef.Section(".text"); text != nil {
		textAddr = text.Addr
	}
	t := parseGoInline(data, textAddr)
	if t != nil {
		t.gofunc = findGofunc(ef, sec, data, t.funcnameOff)
	}
	return t
}

// parseGoInline reads the pclntab header and slices its tables; textAddr is
// where .text starts, for position-independent binaries, whose header leaves
// the text address to a relocation.
func parseGoInline(data []byte, textAddr uint64) *goInline {
	if len(data) < 72 || binary.LittleEndian.Uint32(data) != goMagic120 || data[7] != 8 {
		return nil
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(data[8+8*i:]) }
	t := &goInline{nfunc: int(word(0)), textStart: word(2), quantum: uint64(data[6])}
	if t.quantum == 0 || word(0) > uint64(len(data)) {
		return nil
	}
	if t.textStart == 0 {
		t.textStart = textAddr
	}
	offs := []uint64{word(3), word(4), word(5), word(6), word(7)}
	for _, o := range offs {
		if o > uint64(len(data)) {
			return nil
		}
	}
	// Each table runs to the next one, the last to the end of the section.
	sorted := append([]uint64(nil), offs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	end := func(o uint64) uint64 {
		for _, s := range sorted {
			if s > o {
				return s
			}
		}
		return uint64(len(data))
	}
	t.funcnames = data[offs[0]:end(offs[0])]
	t.cutab = data[offs[1]:end(offs[1])]
	t.filetab = data[offs[2]:end(offs[2])]
	t.pctab = data[offs[3]:end(offs[3])]
	t.pcln = data[offs[4]:]
	t.funcnameOff = offs[0]
	if t.nfunc <= 0 || uint64(t.nfunc+1)*8 > uint64(len(t.pcln)) {
		return nil
	}
	return t
}

// findGofunc finds go:func.* from its symbol or, in a stripped binary, from
// the module data that points at the pclntab.
func findGofunc(ef *elf.File, pclntab *elf.Section, data []byte, funcnameOff uint64) []byte {
	at := func(addr uint64) []byte {
		if addr < pclntab.Addr || addr >= pclntab.Addr+uint64(len(data)) {
			return nil // go:func.* lives inside .gopclntab since Go 1.20
		}
		return data[addr-pclntab.Addr:]
	}
	if syms, err := ef.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "go:func.*" {
				return at(s.Value)
			}
		}
	}
	// moduledata starts with the address of the pclntab header, then the
	// function name table's; Go 1.26 gives it a section of its own.
	for _, name := range []string{".go.module", ".noptrdata", ".data"} {
		sec := ef.Section(name)
		if sec == nil || sec.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := sec.Data()
		if err != nil {
			continue
		}
		for i := 0; i+goModuleGofunc+8 <= len(b); i += 8 {
			if binary.LittleEndian.Uint64(b[i:]) == pclntab.Addr &&
				binary.LittleEndian.Uint64(b[i+8:]) == pclntab.Addr+funcnameOff {
				return at(binary.LittleEndian.Uint64(b[i+goModuleGofunc:]))
			}
		}
	}
	return nil
}

// goFunc is one runtime._func record.
type goFunc struct {
	entry    uint64
	rec      []byte // the record and its pcdata and funcdata offsets
	nameOff  uint32
	cuOffset uint32
	pcfile   uint32
	pcln     uint32
	npcdata  uint32
	nfuncdat uint32
}

func (t *goInline) find(addr uint64) (goFunc, bool) {
	if addr < t.textStart {
		return goFunc{}, false
	}
	off := addr - t.textStart
	entryOff := func(i int) uint64 { return uint64(binary.LittleEndian.Uint32(t.pcln[8*i:])) }
	// The table's last entry is the end of the text.
	if off >= entryOff(t.nfunc) {
		return goFunc{}, false
	}
	i := sort.Search(t.nfunc, func(i int) bool { return entryOff(i) > off }) - 1
	if i < 0 {
		return goFunc{}, false
	}
	funcOff := uint64(binary.LittleEndian.Uint32(t.pcln[8*i+4:]))
	if funcOff+goFuncSize > uint64(len(t.pcln)) {
		return goFunc{}, false
	}
	r := t.pcln[funcOff:]
	u32 := func(o int) uint32 { return binary.LittleEndian.Uint32(r[o:]) }
	f := goFunc{
		entry:    t.textStart + uint64(u32(0)),
		nameOff:  u32(4),
		pcfile:   u32(20),
		pcln:     u32(24),
		npcdata:  u32(28),
		cuOffset: u32(32),
		nfuncdat: uint32(r[43]),
	}
	if need := uint64(goFuncSize) + 4*uint64(f.npcdata+f.nfuncdat); funcOff+need > uint64(len(t.pcln)) {
		return goFunc{}, false
	}
	f.rec = r
	return f, true
}

// pcvalue decodes the pc-value table at off for the value at pc, as the
// runtime's pcvalue does; -1 when the table is missing or has no entry.
func (t *goInline) pcvalue(f goFunc, off uint32, pc uint64) int32 {
	if off == 0 || uint64(off) >= uint64(len(t.pctab)) {
		return -1
	}
	p := t.pctab[off:]
	val, cur := int32(-1), f.entry
	for first := true; ; first = false {
		uv, n := binary.Uvarint(p)
		if n <= 0 || (uv == 0 && !first) {
			return -1
		}
		p = p[n:]
		val += int32(-(uint32(uv) & 1) ^ (uint32(uv) >> 1))
		pcd, n := binary.Uvarint(p)
		if n <= 0 {
			return -1
		}
		p = p[n:]
		cur += pcd * t.quantum
		if pc < cur {
			return val
		}
	}
}

func cString(b []byte, off uint64) string {
	if off >= uint64(len(b)) {
		return ""
	}
	b = b[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (t *goInline) fileLine(f goFunc, pc uint64) (string, int) {
	fileno := t.pcvalue(f, f.pcfile, pc)
	line := t.pcvalue(f, f.pcln, pc)
	file := ""
	if fileno >= 0 {
		i := (uint64(f.cuOffset) + uint64(fileno)) * 4
		if i+4 <= uint64(len(t.cutab)) {
			if off := binary.LittleEndian.Uint32(t.cutab[i:]); off != ^uint32(0) {
				file = cString(t.filetab, uint64(off))
			}
		}
	}
	return file, int(line)
}

// frames returns the frames at addr, innermost first: one for each inlined
// call the address is in, then the function itself.
func (t *goInline) frames(addr uint64) []Frame {
	f, ok := t.find(addr)
	if !ok {
		return nil
	}
	var tree []byte
	if t.gofunc != nil && f.nfuncdat > goFuncDataInl {
		o := goFuncSize + 4*(f.npcdata+goFuncDataInl)
		if off := binary.LittleEndian.Uint32(f.rec[o:]); off != ^uint32(0) && uint64(off) < uint64(len(t.gofunc)) {
			tree = t.gofunc[off:]
		}
	}
	var out []Frame
	pc := addr
	// A well-formed tree ends at the function; the bound stops a corrupt one
	// that loops.
	for range 64 {
		idx := int32(-1)
		if tree != nil && f.npcdata > goPCDataInlIndex {
			idx = t.pcvalue(f, binary.LittleEndian.Uint32(f.rec[goFuncSize+4*goPCDataInlIndex:]), pc)
		}
		file, line := t.fileLine(f, pc)
		nameOff := f.nameOff
		var parentPC uint64
		if idx >= 0 && uint64(idx+1)*goInlCallSize <= uint64(len(tree)) {
			call := tree[uint64(idx)*goInlCallSize:]
			nameOff = binary.LittleEndian.Uint32(call[4:])
			parentPC = f.entry + uint64(int64(int32(binary.LittleEndian.Uint32(call[8:]))))
		} else {
			idx = -1
		}
		name := cString(t.funcnames, uint64(nameOff))
		out = append(out, Frame{Name: name, SystemName: name, File: file, Line: line})
		if idx < 0 {
			return out
		}
		pc = parentPC
	}
	return out
}
