package symbolize

// A minimal DWARF 2–5 reader for what symbolizing needs: unit headers,
// abbreviations, the few attributes of compile units, subprograms and
// inlined calls, address ranges and line programs. debug/dwarf decodes every
// attribute of every entry it reads into a freshly allocated Entry; for the
// hundreds of thousands of entries of a large C++ binary that allocation,
// not the decoding, is most of the time. Here entries are read straight from
// the section bytes, and entries that do not matter are skipped by size.
//
// Nothing here panics on corrupt input: reads past the end of a buffer mark
// it bad and return zeros, and every loop consumes input, so each walk ends.

import (
	"bytes"
	"fmt"
	"path"
	"slices"
)

// dbuf reads DWARF data from b at off. A read past the end sets bad, moves
// off to the end and returns zero, so that parsers check once per entry
// rather than after every field.
type dbuf struct {
	b   []byte
	off int
	big bool // big-endian
	bad bool
}

func (r *dbuf) fail() { r.bad = true; r.off = len(r.b) }

func (r *dbuf) u8() uint8 {
	if r.off >= len(r.b) {
		r.fail()
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

// un reads an n-byte unsigned integer, 0 < n <= 8.
func (r *dbuf) un(n int) uint64 {
	if n <= 0 || n > 8 || n > len(r.b)-r.off {
		r.fail()
		return 0
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	var v uint64
	if r.big {
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return v
	}
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (r *dbuf) u16() uint16 { return uint16(r.un(2)) }

func (r *dbuf) u32() uint32 {
	if r.big || len(r.b)-r.off < 4 {
		return uint32(r.un(4))
	}
	b := r.b[r.off : r.off+4]
	r.off += 4
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (r *dbuf) u64() uint64 { return r.un(8) }

func (r *dbuf) uleb() uint64 {
	var v uint64
	var shift uint
	for r.off < len(r.b) {
		c := r.b[r.off]
		r.off++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c < 0x80 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *dbuf) sleb() int64 {
	var v int64
	var shift uint
	for r.off < len(r.b) {
		c := r.b[r.off]
		r.off++
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c < 0x80 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail()
	return 0
}

func (r *dbuf) skip(n uint64) {
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return
	}
	r.off += int(n)
}

// cstr reads a NUL-terminated string, without the NUL.
func (r *dbuf) cstr() []byte {
	i := bytes.IndexByte(r.b[r.off:], 0)
	if i < 0 {
		r.fail()
		return nil
	}
	s := r.b[r.off : r.off+i]
	r.off += i + 1
	return s
}

// offset reads a section offset, 4 or 8 bytes by the unit's format.
func (r *dbuf) offset(dwarf64 bool) uint64 {
	if dwarf64 {
		return r.u64()
	}
	return uint64(r.u32())
}

// unitLength reads the initial length of a unit or line table: its length
// after the field, and whether it is in the 64-bit format.
func (r *dbuf) unitLength() (uint64, bool) {
	n := uint64(r.u32())
	switch {
	case n == 0xffffffff:
		return r.u64(), true
	case n >= 0xfffffff0:
		r.fail() // reserved
		return 0, false
	}
	return n, false
}

// dwarfSections are the raw bytes of the sections read (mapped or, when
// compressed, inflated into memory).
type dwarfSections struct {
	info, abbrev, line, ranges, str, addr, lineStr, strOffsets, rnglists []byte
	big                                                                  bool
}

// DWARF constants used here (DWARF 5, section 7).
const (
	tagCompileUnit       = 0x11
	tagPartialUnit       = 0x3c
	tagSubprogram        = 0x2e
	tagInlinedSubroutine = 0x1d
	tagNamespace         = 0x39
	tagModule            = 0x1e
	tagLexicalBlock      = 0x0b
	tagTryBlock          = 0x32
	tagCatchBlock        = 0x25

	atSibling          = 0x01
	atName             = 0x03
	atStmtList         = 0x10
	atLowPC            = 0x11
	atHighPC           = 0x12
	atCompDir          = 0x1b
	atProducer         = 0x25
	atAbstractOrigin   = 0x31
	atSpecification    = 0x47
	atRanges           = 0x55
	atCallFile         = 0x58
	atCallLine         = 0x59
	atLinkageName      = 0x6e
	atStrOffsetsBase   = 0x72
	atAddrBase         = 0x73
	atRnglistsBase     = 0x74
	atMIPSLinkageName  = 0x2007
	atGNUDiscriminator = 0x2136

	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21
)

// abbrev is one abbreviation: an entry's tag, whether it has children, and
// its attributes' forms. size is the byte size of all its attributes when
// every form has a fixed size in the unit, else -1, so that an entry of no
// interest is skipped with one addition.
type abbrev struct {
	tag      uint32
	children bool
	size     int
	attrs    []attrSpec
}

type attrSpec struct {
	attr     uint32
	form     uint32
	size     int8 // fixed size in the unit, -1 when variable
	implicit int64
}

// abbrevTable is a unit's abbreviations by code: codes are usually dense
// from 1, so a slice, with a map for the rest.
type abbrevTable struct {
	dense  []*abbrev
	sparse map[uint64]*abbrev
}

func (t *abbrevTable) get(code uint64) *abbrev {
	if code < uint64(len(t.dense)) {
		return t.dense[code]
	}
	return t.sparse[code]
}

// unitFormat is what form sizes depend on.
type unitFormat struct {
	version  uint16
	addrSize uint8
	dwarf64  bool
}

// fixedFormSize returns the size of a form's value in units of format f, or
// -1 when it varies (or the form is unknown).
func fixedFormSize(form uint32, f unitFormat) int {
	off := 4
	if f.dwarf64 {
		off = 8
	}
	switch form {
	case formFlagPresent, formImplicitConst:
		return 0
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2
	case formStrx3, formAddrx3:
		return 3
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		return 4
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8
	case formData16:
		return 16
	case formAddr:
		return int(f.addrSize)
	case formStrp, formSecOffset, formLineStrp, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return off
	case formRefAddr:
		if f.version <= 2 {
			return int(f.addrSize)
		}
		return off
	}
	return -1
}

// knownForm says whether the reader can skip a form.
func knownForm(form uint32) bool {
	switch form {
	case formBlock2, formBlock4, formString, formBlock, formBlock1, formSdata, formUdata,
		formRefUdata, formIndirect, formExprloc, formStrx, formAddrx, formLoclistx,
		formRnglistx, formGNUAddrIndex, formGNUStrIndex:
		return true
	}
	return fixedFormSize(form, unitFormat{version: 4, addrSize: 8}) >= 0
}

// parseAbbrevs reads the abbreviation table at off.
func parseAbbrevs(sec []byte, off uint64, f unitFormat, big bool) (*abbrevTable, error) {
	if off >= uint64(len(sec)) {
		return nil, fmt.Errorf("abbreviations at %#x past the end of .debug_abbrev", off)
	}
	r := dbuf{b: sec, off: int(off), big: big}
	t := &abbrevTable{}
	// Abbreviations and their attribute lists come out of blocks: a C++
	// unit has hundreds, each with a few attributes.
	var block []abbrev
	var specs []attrSpec
	for {
		code := r.uleb()
		if code == 0 || r.bad {
			break
		}
		if len(block) == 0 {
			block = make([]abbrev, 64)
		}
		a := &block[0]
		block = block[1:]
		*a = abbrev{tag: uint32(r.uleb()), children: r.u8() != 0}
		if cap(specs)-len(specs) < 64 {
			specs = make([]attrSpec, 0, 1024)
		}
		first := len(specs)
		fixed := true
		for {
			at, form := r.uleb(), r.uleb()
			if r.bad {
				return nil, fmt.Errorf("abbreviation %d at %#x: truncated", code, off)
			}
			if at == 0 && form == 0 {
				break
			}
			s := attrSpec{attr: uint32(at), form: uint32(form)}
			if form == formImplicitConst {
				s.implicit = r.sleb()
			}
			if form > 0xffff || !knownForm(uint32(form)) {
				return nil, fmt.Errorf("abbreviation %d: unknown form %#x", code, form)
			}
			s.size = int8(fixedFormSize(s.form, f))
			if s.size < 0 {
				fixed = false
			} else {
				a.size += int(s.size)
			}
			if len(specs) == cap(specs) {
				// An abbreviation with very many attributes:
				// move it to a block of its own.
				specs = append(specs[first:len(specs):len(specs)], s)
				first = 0
				continue
			}
			specs = append(specs, s)
		}
		a.attrs = specs[first:len(specs):len(specs)]
		if !fixed {
			a.size = -1
		}
		switch {
		case code < 1<<16 && code < uint64(len(sec)):
			for uint64(len(t.dense)) <= code {
				t.dense = append(t.dense, nil)
			}
			if t.dense[code] == nil {
				t.dense[code] = a
			}
		default:
			if t.sparse == nil {
				t.sparse = make(map[uint64]*abbrev)
			}
			if t.sparse[code] == nil {
				t.sparse[code] = a
			}
		}
	}
	if r.bad {
		return nil, fmt.Errorf("abbreviations at %#x: truncated", off)
	}
	return t, nil
}

// unitHeader is a unit's header in .debug_info and the attributes of its
// unit entry that reading the rest needs.
type unitHeader struct {
	off, data, end int // unit start, first entry, end: offsets in .debug_info
	unitFormat
	abbrevs *abbrevTable

	base         uint64 // DW_AT_low_pc: base address of ranges
	addrBase     uint64
	strOffBase   uint64
	rnglistsBase uint64
	stmtList     int64 // -1 when the unit has no line table
	compDir      string
	producer     string
	ranges       [][2]uint64
	hasChildren  bool
}

type abbrevKey struct {
	off uint64
	f   unitFormat
}

// readUnits reads every compile unit's header and unit entry. Type units
// and skeleton units hold no code and are left out.
func readUnits(s *dwarfSections) ([]*unitHeader, error) {
	var units []*unitHeader
	// Units can share an abbreviation table (partial units; some
	// linkers): parse each once.
	cache := make(map[abbrevKey]*abbrevTable)
	r := dbuf{b: s.info, big: s.big}
	for r.off < len(r.b) {
		start := r.off
		n, dwarf64 := r.unitLength()
		if r.bad || n > uint64(len(r.b)-r.off) {
			return units, fmt.Errorf("unit at %#x: length past the end of .debug_info", start)
		}
		end := r.off + int(n)
		u := &unitHeader{off: start, end: end, stmtList: -1}
		u.dwarf64 = dwarf64
		u.version = r.u16()
		if u.version < 2 || u.version > 5 {
			return units, fmt.Errorf("unit at %#x: unsupported DWARF version %d", start, u.version)
		}
		var abbrevOff uint64
		unitType := uint8(1) // DW_UT_compile
		if u.version >= 5 {
			unitType = r.u8()
			u.addrSize = r.u8()
			abbrevOff = r.offset(dwarf64)
			switch unitType {
			case 4, 5: // skeleton, split_compile: a DWO id
				r.skip(8)
			case 2, 6: // type, split_type
				r.skip(8)
				r.offset(dwarf64)
			}
		} else {
			abbrevOff = r.offset(dwarf64)
			u.addrSize = r.u8()
		}
		if r.bad || r.off > end {
			return units, fmt.Errorf("unit at %#x: truncated header", start)
		}
		if u.addrSize != 4 && u.addrSize != 8 {
			return units, fmt.Errorf("unit at %#x: address size %d", start, u.addrSize)
		}
		u.data = r.off
		r.off = end
		if unitType != 1 && unitType != 3 { // compile, partial
			continue
		}
		key := abbrevKey{abbrevOff, u.unitFormat}
		t := cache[key]
		if t == nil {
			var err error
			if t, err = parseAbbrevs(s.abbrev, abbrevOff, u.unitFormat, s.big); err != nil {
				return units, fmt.Errorf("unit at %#x: %w", start, err)
			}
			cache[key] = t
		}
		u.abbrevs = t
		if err := s.readUnitEntry(u); err != nil {
			return units, fmt.Errorf("unit at %#x: %w", start, err)
		}
		units = append(units, u)
	}
	return units, nil
}

// attrValue is one attribute's raw value: integers, addresses, references,
// offsets and indices in v; inline strings and blocks in b.
type attrValue struct {
	form uint32
	v    uint64
	b    []byte
}

// readValue reads the value of an attribute of the given form.
func (s *dwarfSections) readValue(r *dbuf, u *unitHeader, spec *attrSpec) attrValue {
	form := spec.form
	for range 4 { // DW_FORM_indirect names the form in the data
		if form != formIndirect {
			break
		}
		form = uint32(r.uleb())
	}
	val := attrValue{form: form}
	switch form {
	case formString:
		val.b = r.cstr()
	case formBlock1:
		n := uint64(r.u8())
		val.b = r.bytes(n)
	case formBlock2:
		val.b = r.bytes(uint64(r.u16()))
	case formBlock4:
		val.b = r.bytes(uint64(r.u32()))
	case formBlock, formExprloc:
		val.b = r.bytes(r.uleb())
	case formSdata:
		val.v = uint64(r.sleb())
	case formUdata, formRefUdata, formStrx, formAddrx, formLoclistx, formRnglistx, formGNUAddrIndex, formGNUStrIndex:
		val.v = r.uleb()
	case formImplicitConst:
		val.v = uint64(spec.implicit)
	case formData16:
		val.b = r.bytes(16)
	default:
		n := fixedFormSize(form, u.unitFormat)
		if n < 0 {
			r.fail()
			return val
		}
		if n > 0 {
			val.v = r.un(n)
		}
	}
	return val
}

func (r *dbuf) bytes(n uint64) []byte {
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

// skipAttrs moves r past an entry's attributes.
func (s *dwarfSections) skipAttrs(r *dbuf, u *unitHeader, a *abbrev) {
	if a.size >= 0 {
		r.skip(uint64(a.size))
		return
	}
	for i := range a.attrs {
		spec := &a.attrs[i]
		if spec.size >= 0 {
			r.skip(uint64(spec.size))
			continue
		}
		s.readValue(r, u, spec)
	}
}

// isConstant says whether a form is of the constant class (for
// DW_AT_high_pc, an offset from DW_AT_low_pc).
func isConstant(form uint32) bool {
	switch form {
	case formData1, formData2, formData4, formData8, formSdata, formUdata, formImplicitConst:
		return true
	}
	return false
}

// readUnitEntry reads the attributes of u's unit entry.
func (s *dwarfSections) readUnitEntry(u *unitHeader) error {
	r := dbuf{b: s.info[:u.end], off: u.data, big: s.big}
	a := u.abbrevs.get(r.uleb())
	if r.bad || a == nil {
		return fmt.Errorf("bad unit entry")
	}
	if a.tag != tagCompileUnit && a.tag != tagPartialUnit {
		return fmt.Errorf("unit entry has tag %#x", a.tag)
	}
	u.hasChildren = a.children
	if u.version >= 5 {
		// The bases' defaults: just past the sections' headers.
		hdr := uint64(8)
		if u.dwarf64 {
			hdr = 16
		}
		u.addrBase, u.strOffBase, u.rnglistsBase = hdr, hdr, hdr+4
	}
	var low, high, rng attrValue
	var compDir, producer attrValue
	for i := range a.attrs {
		spec := &a.attrs[i]
		switch spec.attr {
		case atLowPC:
			low = s.readValue(&r, u, spec)
		case atHighPC:
			high = s.readValue(&r, u, spec)
		case atRanges:
			rng = s.readValue(&r, u, spec)
		case atStmtList:
			if v := s.readValue(&r, u, spec); v.b == nil {
				u.stmtList = int64(v.v & (1<<62 - 1))
			}
		case atCompDir:
			compDir = s.readValue(&r, u, spec)
		case atProducer:
			producer = s.readValue(&r, u, spec)
		case atAddrBase:
			u.addrBase = s.readValue(&r, u, spec).v
		case atStrOffsetsBase:
			u.strOffBase = s.readValue(&r, u, spec).v
		case atRnglistsBase:
			u.rnglistsBase = s.readValue(&r, u, spec).v
		default:
			if spec.size >= 0 {
				r.skip(uint64(spec.size))
			} else {
				s.readValue(&r, u, spec)
			}
		}
	}
	if r.bad {
		return fmt.Errorf("truncated unit entry")
	}
	// Bases come in any order among the attributes: resolve after.
	u.compDir = string(s.strVal(u, compDir))
	u.producer = string(s.strVal(u, producer))
	if low.form != 0 {
		u.base = s.address(u, low)
	}
	u.ranges = s.rangesOf(u, low, high, rng, nil)
	return nil
}

// str resolves a string attribute's value.
func (s *dwarfSections) strVal(u *unitHeader, v attrValue) []byte {
	var sec []byte
	var off uint64
	switch v.form {
	case formString:
		return v.b
	case formStrp:
		sec, off = s.str, v.v
	case formLineStrp:
		sec, off = s.lineStr, v.v
	case formStrx, formStrx1, formStrx2, formStrx3, formStrx4, formGNUStrIndex:
		n := uint64(4)
		if u.dwarf64 {
			n = 8
		}
		at := u.strOffBase + v.v*n
		if v.v > uint64(len(s.strOffsets)) || at < u.strOffBase || at > uint64(len(s.strOffsets)) {
			return nil
		}
		r := dbuf{b: s.strOffsets, off: int(at), big: s.big}
		sec, off = s.str, r.offset(u.dwarf64)
		if r.bad {
			return nil
		}
	default:
		return nil
	}
	if off >= uint64(len(sec)) {
		return nil
	}
	r := dbuf{b: sec, off: int(off)}
	return r.cstr()
}

// address resolves an address attribute's value.
func (s *dwarfSections) address(u *unitHeader, v attrValue) uint64 {
	switch v.form {
	case formAddrx, formAddrx1, formAddrx2, formAddrx3, formAddrx4, formGNUAddrIndex:
		return s.addrIndex(u, v.v)
	}
	return v.v
}

// addrIndex returns entry i of the unit's part of .debug_addr, 0 when out
// of range.
func (s *dwarfSections) addrIndex(u *unitHeader, i uint64) uint64 {
	at := u.addrBase + i*uint64(u.addrSize)
	if i > uint64(len(s.addr)) || at < u.addrBase || at > uint64(len(s.addr)) {
		return 0
	}
	r := dbuf{b: s.addr, off: int(at), big: s.big}
	v := r.un(int(u.addrSize))
	if r.bad {
		return 0
	}
	return v
}

// rangesOf returns an entry's address ranges, appended to dst, from its
// DW_AT_low_pc, DW_AT_high_pc and DW_AT_ranges values (form 0 when absent).
// Empty ranges and those of code the linker discarded (at address 0) are
// left out.
func (s *dwarfSections) rangesOf(u *unitHeader, low, high, rng attrValue, dst [][2]uint64) [][2]uint64 {
	add := func(lo, hi uint64) {
		if lo != 0 && lo < hi {
			dst = append(dst, [2]uint64{lo, hi})
		}
	}
	if rng.form != 0 {
		return s.rangeList(u, rng, dst)
	}
	if low.form == 0 || high.form == 0 {
		return dst
	}
	lo := s.address(u, low)
	if isConstant(high.form) {
		add(lo, lo+high.v)
	} else {
		add(lo, s.address(u, high))
	}
	return dst
}

// rangeList reads a DW_AT_ranges list: .debug_ranges before DWARF 5,
// .debug_rnglists from it.
func (s *dwarfSections) rangeList(u *unitHeader, rng attrValue, dst [][2]uint64) [][2]uint64 {
	add := func(lo, hi uint64) {
		if lo != 0 && lo < hi {
			dst = append(dst, [2]uint64{lo, hi})
		}
	}
	base := u.base
	as := int(u.addrSize)
	if u.version < 5 {
		if rng.v >= uint64(len(s.ranges)) || rng.b != nil {
			return dst
		}
		r := dbuf{b: s.ranges, off: int(rng.v), big: s.big}
		maxAddr := ^uint64(0) >> (64 - 8*as)
		for !r.bad {
			lo, hi := r.un(as), r.un(as)
			switch {
			case r.bad || lo == 0 && hi == 0:
				return dst
			case lo == maxAddr:
				base = hi
			default:
				add(base+lo, base+hi)
			}
		}
		return dst
	}
	off := rng.v
	if rng.form == formRnglistx {
		n := uint64(4)
		if u.dwarf64 {
			n = 8
		}
		at := u.rnglistsBase + rng.v*n
		if rng.v > uint64(len(s.rnglists)) || at < u.rnglistsBase || at > uint64(len(s.rnglists)) {
			return dst
		}
		r := dbuf{b: s.rnglists, off: int(at), big: s.big}
		off = u.rnglistsBase + r.offset(u.dwarf64)
		if r.bad {
			return dst
		}
	}
	if off >= uint64(len(s.rnglists)) || rng.b != nil {
		return dst
	}
	r := dbuf{b: s.rnglists, off: int(off), big: s.big}
	for !r.bad {
		switch r.u8() {
		case 0: // DW_RLE_end_of_list
			return dst
		case 1: // base_addressx
			base = s.addrIndex(u, r.uleb())
		case 2: // startx_endx
			lo := s.addrIndex(u, r.uleb())
			add(lo, s.addrIndex(u, r.uleb()))
		case 3: // startx_length
			lo := s.addrIndex(u, r.uleb())
			add(lo, lo+r.uleb())
		case 4: // offset_pair
			lo, hi := r.uleb(), r.uleb()
			add(base+lo, base+hi)
		case 5: // base_address
			base = r.un(as)
		case 6: // start_end
			lo, hi := r.un(as), r.un(as)
			add(lo, hi)
		case 7: // start_length
			lo := r.un(as)
			add(lo, lo+r.uleb())
		default:
			return dst
		}
	}
	return dst
}

// ref resolves a reference attribute to an offset in .debug_info; ok is
// false for references elsewhere (type signatures, supplementary files).
func ref(u *unitHeader, v attrValue) (uint64, bool) {
	switch v.form {
	case formRef1, formRef2, formRef4, formRef8, formRefUdata:
		return uint64(u.off) + v.v, true
	case formRefAddr:
		return v.v, true
	}
	return 0, false
}

// lineTable is a unit's line program, run.
type lineTable struct {
	files []string
	seqs  []lineSeq
}

// readLineTable runs the line program at off for unit u. File names are
// made absolute with the unit's DW_AT_comp_dir, as LLVM prints them.
func (s *dwarfSections) readLineTable(u *unitHeader, off uint64) (lineTable, error) {
	var t lineTable
	if off >= uint64(len(s.line)) {
		return t, fmt.Errorf("line table at %#x past the end of .debug_line", off)
	}
	r := dbuf{b: s.line, off: int(off), big: s.big}
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
			d := r.cstr()
			if r.bad || len(d) == 0 {
				break
			}
			dir := string(d)
			if !abs(dir) && u.compDir != "" {
				dir = path.Join(u.compDir, dir)
			}
			dirs = append(dirs, dir)
		}
		t.files = append(t.files, "") // file numbers start at 1
		for {
			name := r.cstr()
			if r.bad || len(name) == 0 {
				break
			}
			di := r.uleb()
			r.uleb() // modification time
			r.uleb() // length
			t.files = append(t.files, joinFile(dirs, di, string(name)))
		}
	} else {
		var err error
		if dirs, err = s.readEntryTable(&r, u, dwarf64, nil); err != nil {
			return t, fmt.Errorf("line table at %#x: %w", off, err)
		}
		if t.files, err = s.readEntryTable(&r, u, dwarf64, dirs); err != nil {
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
		all          = make([]lineRow, 0, (len(r.b)-progStart)/3+16)
		first        = 0 // of the current sequence in all
		spans [][2]int
		disc  uint64
		discs []rowDisc // by index in all
	)
	emit := func() {
		d := disc
		disc = 0 // each row has its own
		if n := len(all); n > first && addr < all[n-1].addr {
			// Rows must increase within a sequence; a malformed
			// table that goes back is cut here.
			return
		}
		if d != 0 {
			discs = append(discs, rowDisc{i: int32(min(len(all), 1<<31-1)), disc: uint32(min(d, 1<<32-1))})
		}
		all = append(all, lineRow{addr: addr, file: int32(min(file, 1<<31-1)), line: int32(line)})
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
				if len(all) > first && all[first].addr != 0 && all[first].addr < addr {
					t.seqs = append(t.seqs, lineSeq{lo: all[first].addr, hi: addr})
					spans = append(spans, [2]int{first, len(all)})
				} else {
					all = all[:first]
					for len(discs) > 0 && int(discs[len(discs)-1].i) >= first {
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
					t.files = append(t.files, joinFile(dirs, di, string(name)))
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
	d := 0
	for i, sp := range spans {
		t.seqs[i].rows = all[sp[0]:sp[1]:sp[1]]
		// Discriminators of the sequence, renumbered from its first row.
		for d < len(discs) && int(discs[d].i) < sp[0] {
			d++
		}
		start := d
		for d < len(discs) && int(discs[d].i) < sp[1] {
			discs[d].i -= int32(sp[0])
			d++
		}
		if d > start {
			t.seqs[i].discs = discs[start:d:d]
		}
	}
	for i, f := range t.files {
		if f != "" && !abs(f) && f[0] != '<' && u.compDir != "" {
			t.files[i] = path.Join(u.compDir, f)
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
func (s *dwarfSections) readEntryTable(r *dbuf, u *unitHeader, dwarf64 bool, dirs []string) ([]string, error) {
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
			v := s.readValue(r, &hu, &attrSpec{form: uint32(f.form)})
			switch f.content {
			case 1: // DW_LNCT_path
				name = string(s.strVal(&hu, v))
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
