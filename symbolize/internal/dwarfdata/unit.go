package dwarfdata

import "fmt"

// Unit is a compile unit's header in .debug_info and the attributes of its
// unit entry that reading the rest needs.
type Unit struct {
	Offset   int         // of the unit's header in .debug_info
	End      int         // of the unit in .debug_info
	Producer string      // DW_AT_producer
	Ranges   [][2]uint64 // the unit's address ranges, [lo, hi)

	data int // offset of the first entry
	unitFormat
	abbrevs *abbrevTable

	base         uint64 // DW_AT_low_pc: base address of ranges
	addrBase     uint64
	strOffBase   uint64
	rnglistsBase uint64
	stmtList     int64 // -1 when the unit has no line table
	compDir      string
	hasChildren  bool
}

type abbrevKey struct {
	off uint64
	f   unitFormat
}

// readUnits reads every compile unit's header and unit entry. Type units
// and skeleton units hold no code and are left out.
func (d *Data) readUnits() ([]*Unit, error) {
	s := &d.s
	var units []*Unit
	// Units can share an abbreviation table (partial units; some
	// linkers): parse each once.
	cache := make(map[abbrevKey]*abbrevTable)
	var arena abbrevArena
	r := buf{b: s.Info, big: s.BigEndian}
	for r.off < len(r.b) {
		start := r.off
		n, dwarf64 := r.unitLength()
		if r.bad || n > uint64(len(r.b)-r.off) {
			return units, fmt.Errorf("unit at %#x: length past the end of .debug_info", start)
		}
		end := r.off + int(n)
		u := &Unit{Offset: start, End: end, stmtList: -1}
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
			if t, err = parseAbbrevs(s.Abbrev, abbrevOff, u.unitFormat, s.BigEndian, &arena); err != nil {
				return units, fmt.Errorf("unit at %#x: %w", start, err)
			}
			cache[key] = t
		}
		u.abbrevs = t
		if err := d.readUnitEntry(u); err != nil {
			return units, fmt.Errorf("unit at %#x: %w", start, err)
		}
		units = append(units, u)
	}
	return units, nil
}

// readUnitEntry reads the attributes of u's unit entry.
func (d *Data) readUnitEntry(u *Unit) error {
	r := buf{b: d.s.Info[:u.End], off: u.data, big: d.s.BigEndian}
	a := u.abbrevs.get(r.uleb())
	if r.bad || a == nil {
		return fmt.Errorf("bad unit entry")
	}
	if a.tag != TagCompileUnit && a.tag != TagPartialUnit {
		return fmt.Errorf("unit entry has tag %#x", uint32(a.tag))
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
	var low, high, rng value
	var compDir, producer value
	for i := range a.attrs {
		spec := &a.attrs[i]
		switch spec.attr {
		case atLowPC:
			low = d.readValue(&r, u, spec)
		case atHighPC:
			high = d.readValue(&r, u, spec)
		case atRanges:
			rng = d.readValue(&r, u, spec)
		case atStmtList:
			if v := d.readValue(&r, u, spec); v.b == nil {
				u.stmtList = int64(v.v & (1<<62 - 1))
			}
		case atCompDir:
			compDir = d.readValue(&r, u, spec)
		case atProducer:
			producer = d.readValue(&r, u, spec)
		case atAddrBase:
			u.addrBase = d.readValue(&r, u, spec).v
		case atStrOffsetsBase:
			u.strOffBase = d.readValue(&r, u, spec).v
		case atRnglistsBase:
			u.rnglistsBase = d.readValue(&r, u, spec).v
		default:
			if spec.size >= 0 {
				r.skip(uint64(spec.size))
			} else {
				d.readValue(&r, u, spec)
			}
		}
	}
	if r.bad {
		return fmt.Errorf("truncated unit entry")
	}
	// Bases come in any order among the attributes: resolve after.
	u.compDir = string(d.strVal(u, compDir))
	u.Producer = string(d.strVal(u, producer))
	if low.form != 0 {
		u.base = d.address(u, low)
	}
	u.Ranges = d.rangesOf(u, low, high, rng, nil)
	return nil
}
