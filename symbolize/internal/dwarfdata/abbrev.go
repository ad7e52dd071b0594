package dwarfdata

import "fmt"

// abbrev is one abbreviation: an entry's tag, whether it has children, and
// its attributes' forms. size is the byte size of all its attributes when
// every form has a fixed size in the unit, else -1, so that an entry of no
// interest is skipped with one addition.
type abbrev struct {
	tag      Tag
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
// abbrevArena hands out the abbreviations and attribute lists of all the
// tables of one file from shared blocks: libc's debug file has 2,063
// tables of a few dozen abbreviations each, and blocks of their own cost
// 60 MB and 90 ms to read its units.
type abbrevArena struct {
	block []abbrev
	specs []attrSpec
}

func parseAbbrevs(sec []byte, off uint64, f unitFormat, big bool, ar *abbrevArena) (*abbrevTable, error) {
	if off >= uint64(len(sec)) {
		return nil, fmt.Errorf("abbreviations at %#x past the end of .debug_abbrev", off)
	}
	r := buf{b: sec, off: int(off), big: big}
	t := &abbrevTable{}
	// Abbreviations and their attribute lists come out of blocks: a C++
	// unit has hundreds, each with a few attributes.
	block, specs := ar.block, ar.specs
	defer func() { ar.block, ar.specs = block, specs }()
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
		*a = abbrev{tag: Tag(r.uleb()), children: r.u8() != 0}
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
