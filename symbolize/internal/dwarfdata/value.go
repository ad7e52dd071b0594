package dwarfdata

// value is one attribute's raw value: integers, addresses, references,
// offsets and indices in v; inline strings and blocks in b. form is 0 for
// an attribute that is absent.
type value struct {
	form uint32
	v    uint64
	b    []byte
}

// readValue reads the value of an attribute of the given form.
func (d *Data) readValue(r *buf, u *Unit, spec *attrSpec) value {
	form := spec.form
	for range 4 { // DW_FORM_indirect names the form in the data
		if form != formIndirect {
			break
		}
		form = uint32(r.uleb())
	}
	val := value{form: form}
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

// skipAttrs moves r past an entry's attributes.
func (d *Data) skipAttrs(r *buf, u *Unit, a *abbrev) {
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
		d.readValue(r, u, spec)
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

// strVal resolves a string attribute's value.
func (d *Data) strVal(u *Unit, v value) []byte {
	s := &d.s
	var sec []byte
	var off uint64
	switch v.form {
	case formString:
		return v.b
	case formStrp:
		sec, off = s.Str, v.v
	case formLineStrp:
		sec, off = s.LineStr, v.v
	case formStrx, formStrx1, formStrx2, formStrx3, formStrx4, formGNUStrIndex:
		n := uint64(4)
		if u.dwarf64 {
			n = 8
		}
		at := u.strOffBase + v.v*n
		if v.v > uint64(len(s.StrOffsets)) || at < u.strOffBase || at > uint64(len(s.StrOffsets)) {
			return nil
		}
		r := buf{b: s.StrOffsets, off: int(at), big: s.BigEndian}
		sec, off = s.Str, r.offset(u.dwarf64)
		if r.bad {
			return nil
		}
	default:
		return nil
	}
	if off >= uint64(len(sec)) {
		return nil
	}
	r := buf{b: sec, off: int(off)}
	return r.cstr()
}

// address resolves an address attribute's value.
func (d *Data) address(u *Unit, v value) uint64 {
	switch v.form {
	case formAddrx, formAddrx1, formAddrx2, formAddrx3, formAddrx4, formGNUAddrIndex:
		return d.addrIndex(u, v.v)
	}
	return v.v
}

// addrIndex returns entry i of the unit's part of .debug_addr, 0 when out
// of range.
func (d *Data) addrIndex(u *Unit, i uint64) uint64 {
	at := u.addrBase + i*uint64(u.addrSize)
	if i > uint64(len(d.s.Addr)) || at < u.addrBase || at > uint64(len(d.s.Addr)) {
		return 0
	}
	r := buf{b: d.s.Addr, off: int(at), big: d.s.BigEndian}
	v := r.un(int(u.addrSize))
	if r.bad {
		return 0
	}
	return v
}

// ref resolves a reference attribute to an offset in .debug_info; ok is
// false for references elsewhere (type signatures, supplementary files).
func ref(u *Unit, v value) (uint64, bool) {
	switch v.form {
	case formRef1, formRef2, formRef4, formRef8, formRefUdata:
		return uint64(u.Offset) + v.v, true
	case formRefAddr:
		return v.v, true
	}
	return 0, false
}
