package dwarfdata

// rangesOf returns an entry's address ranges, appended to dst, from its
// DW_AT_low_pc, DW_AT_high_pc and DW_AT_ranges values (form 0 when absent).
// Empty ranges and those of code the linker discarded (at address 0) are
// left out.
func (d *Data) rangesOf(u *Unit, low, high, rng value, dst [][2]uint64) [][2]uint64 {
	add := func(lo, hi uint64) {
		if lo != 0 && lo < hi {
			dst = append(dst, [2]uint64{lo, hi})
		}
	}
	if rng.form != 0 {
		return d.rangeList(u, rng, dst)
	}
	if low.form == 0 || high.form == 0 {
		return dst
	}
	lo := d.address(u, low)
	if isConstant(high.form) {
		add(lo, lo+high.v)
	} else {
		add(lo, d.address(u, high))
	}
	return dst
}

// rangeList reads a DW_AT_ranges list: .debug_ranges before DWARF 5,
// .debug_rnglists from it.
func (d *Data) rangeList(u *Unit, rng value, dst [][2]uint64) [][2]uint64 {
	add := func(lo, hi uint64) {
		if lo != 0 && lo < hi {
			dst = append(dst, [2]uint64{lo, hi})
		}
	}
	s := &d.s
	base := u.base
	as := int(u.addrSize)
	if u.version < 5 {
		if rng.v >= uint64(len(s.Ranges)) || rng.b != nil {
			return dst
		}
		r := buf{b: s.Ranges, off: int(rng.v), big: s.BigEndian}
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
		if rng.v > uint64(len(s.Rnglists)) || at < u.rnglistsBase || at > uint64(len(s.Rnglists)) {
			return dst
		}
		r := buf{b: s.Rnglists, off: int(at), big: s.BigEndian}
		off = u.rnglistsBase + r.offset(u.dwarf64)
		if r.bad {
			return dst
		}
	}
	if off >= uint64(len(s.Rnglists)) || rng.b != nil {
		return dst
	}
	r := buf{b: s.Rnglists, off: int(off), big: s.BigEndian}
	for !r.bad {
		switch r.u8() {
		case 0: // DW_RLE_end_of_list
			return dst
		case 1: // base_addressx
			base = d.addrIndex(u, r.uleb())
		case 2: // startx_endx
			lo := d.addrIndex(u, r.uleb())
			add(lo, d.addrIndex(u, r.uleb()))
		case 3: // startx_length
			lo := d.addrIndex(u, r.uleb())
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
