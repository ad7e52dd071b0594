package dwarfdata

import (
	"fmt"
	"io"
)

// Entry is the head of a debugging information entry: where it is, what it
// is, and whether entries follow as its children.
type Entry struct {
	Offset   uint64 // in .debug_info
	Tag      Tag
	Children bool
	Null     bool // a null entry, which ends a list of siblings
}

// Reader walks the entries of a unit, pulling attributes only of the
// entries asked for: the others are skipped by size, without decoding.
type Reader struct {
	d *Data
	u *Unit
	b buf
	// The last entry: its offset and abbreviation code (0 for none),
	// whether its attributes are still to read, and its DW_AT_sibling
	// once they are read. No pointers: writing one here per entry costs
	// a write barrier, a good part of a walk's time.
	entry     int
	code      uint64
	pending   bool
	sibling   uint64
	siblingOK bool
}

// Entries returns a reader of u's entries after its unit entry.
func (d *Data) Entries(u *Unit) Reader {
	r := Reader{d: d, u: u, b: buf{b: d.s.Info[:u.End], off: u.data, big: d.s.BigEndian}}
	if !u.hasChildren {
		// Nothing follows: what bytes there are belong to no entry.
		r.b.off = len(r.b.b)
		return r
	}
	if a := u.abbrevs.get(r.b.uleb()); a != nil {
		d.skipAttrs(&r.b, u, a)
	}
	return r
}

// EntriesAt returns a reader at the entry at .debug_info offset off; false
// when no compile unit holds off.
func (d *Data) EntriesAt(off uint64) (Reader, bool) {
	u := d.unitAt(off)
	if u == nil {
		return Reader{}, false
	}
	return Reader{d: d, u: u, b: buf{b: d.s.Info[:u.End], off: int(off), big: d.s.BigEndian}}, true
}

// Next reads the next entry's head, skipping the attributes of the last
// entry if they were not read; it returns io.EOF at the end of the unit.
func (r *Reader) Next() (Entry, error) {
	if r.pending {
		r.pending = false
		r.d.skipAttrs(&r.b, r.u, r.u.abbrevs.get(r.code))
	}
	r.code = 0
	if r.b.off >= len(r.b.b) {
		if r.b.bad {
			return Entry{}, fmt.Errorf("truncated unit")
		}
		return Entry{}, io.EOF
	}
	entry := r.b.off
	code := r.b.uleb()
	if r.b.bad {
		return Entry{}, fmt.Errorf("truncated entry at %#x", entry)
	}
	if code == 0 {
		return Entry{Offset: uint64(entry), Null: true}, nil
	}
	a := r.u.abbrevs.get(code)
	if a == nil {
		return Entry{}, fmt.Errorf("entry at %#x: unknown abbreviation %d", entry, code)
	}
	r.entry, r.code, r.pending, r.siblingOK = entry, code, true, false
	return Entry{Offset: uint64(entry), Tag: a.tag, Children: a.children}, nil
}

// Attrs are the attributes of an entry that place code and name it.
type Attrs struct {
	CallFile      uint64 // DW_AT_call_file
	CallLine      uint64 // DW_AT_call_line
	Discriminator uint64 // DW_AT_GNU_discriminator

	d                                           *Data
	u                                           *Unit
	low, high, rng, origin, spec, name, linkage value
}

// Want selects the attributes Reader.Attrs decodes; the others are skipped
// by size, which is most of the speed of a walk.
type Want uint8

const (
	// WantCode is where an entry's code is: its address ranges, and for
	// an inlined call its abstract origin and call site.
	WantCode Want = 1 << iota
	// WantNames is what names an entry: DW_AT_name, the linkage name,
	// and the abstract origin and specification that can hold them.
	WantNames
)

// Attrs reads the attributes of the entry Next returned, those that want
// selects; DW_AT_sibling is always read, for SkipChildren.
func (r *Reader) Attrs(want Want) (Attrs, error) {
	// Filled on the stack and returned by value: writing the values'
	// slices through a pointer costs a write barrier each.
	var a Attrs
	a.d, a.u = r.d, r.u
	if !r.pending {
		return a, nil
	}
	r.pending = false
	code, names := want&WantCode != 0, want&WantNames != 0
	d, b, u := r.d, &r.b, r.u
	ab := u.abbrevs.get(r.code)
	for i := range ab.attrs {
		spec := &ab.attrs[i]
		switch spec.attr {
		case atLowPC:
			if code {
				a.low = d.readValue(b, u, spec)
				continue
			}
		case atHighPC:
			if code {
				a.high = d.readValue(b, u, spec)
				continue
			}
		case atRanges:
			if code {
				a.rng = d.readValue(b, u, spec)
				continue
			}
		case atAbstractOrigin:
			if code || names {
				a.origin = d.readValue(b, u, spec)
				continue
			}
		case atCallFile:
			if code {
				a.CallFile = d.readValue(b, u, spec).v
				continue
			}
		case atCallLine:
			if code {
				a.CallLine = d.readValue(b, u, spec).v
				continue
			}
		case atGNUDiscriminator:
			if code {
				a.Discriminator = d.readValue(b, u, spec).v
				continue
			}
		case atSpecification:
			if names {
				a.spec = d.readValue(b, u, spec)
				continue
			}
		case atName:
			if names {
				a.name = d.readValue(b, u, spec)
				continue
			}
		case atLinkageName, atMIPSLinkageName:
			if names {
				a.linkage = d.readValue(b, u, spec)
				continue
			}
		case atSibling:
			r.sibling, r.siblingOK = ref(u, d.readValue(b, u, spec))
			continue
		}
		if spec.size >= 0 {
			b.skip(uint64(spec.size))
		} else {
			d.readValue(b, u, spec)
		}
	}
	if b.bad {
		return a, fmt.Errorf("truncated entry at %#x", r.entry)
	}
	return a, nil
}

// Ranges appends the entry's address ranges to dst, leaving out empty ones
// and those of code the linker discarded (at address 0).
func (a *Attrs) Ranges(dst [][2]uint64) [][2]uint64 {
	if a.d == nil {
		return dst
	}
	return a.d.rangesOf(a.u, a.low, a.high, a.rng, dst)
}

// AbstractOrigin returns the .debug_info offset DW_AT_abstract_origin
// refers to; false when absent or in another file.
func (a *Attrs) AbstractOrigin() (uint64, bool) { return ref(a.u, a.origin) }

// Specification returns the .debug_info offset DW_AT_specification refers
// to; false when absent or in another file.
func (a *Attrs) Specification() (uint64, bool) { return ref(a.u, a.spec) }

// Name returns DW_AT_name, nil when absent; it aliases the sections.
func (a *Attrs) Name() []byte { return a.str(a.name) }

// LinkageName returns DW_AT_linkage_name (or its MIPS forerunner), nil when
// absent; it aliases the sections.
func (a *Attrs) LinkageName() []byte { return a.str(a.linkage) }

func (a *Attrs) str(v value) []byte {
	if a.d == nil {
		return nil
	}
	return a.d.strVal(a.u, v)
}

// SkipChildren moves past the children of the entry Next returned: to its
// DW_AT_sibling when that points forward within the unit, else by walking
// them.
func (r *Reader) SkipChildren() error {
	if r.code == 0 {
		return nil
	}
	d, u := r.d, r.u
	a := u.abbrevs.get(r.code)
	if r.pending {
		r.pending = false
		if !a.children {
			d.skipAttrs(&r.b, u, a)
			return nil
		}
		r.siblingOK = false
		for i := range a.attrs {
			spec := &a.attrs[i]
			if spec.attr == atSibling {
				r.sibling, r.siblingOK = ref(u, d.readValue(&r.b, u, spec))
			} else if spec.size >= 0 {
				r.b.skip(uint64(spec.size))
			} else {
				d.readValue(&r.b, u, spec)
			}
		}
	}
	r.code = 0
	if r.b.bad {
		return fmt.Errorf("truncated entry at %#x", r.entry)
	}
	if !a.children {
		return nil
	}
	if off := r.sibling; r.siblingOK && off > uint64(r.b.off) && off <= uint64(len(r.b.b)) {
		r.b.off = int(off)
		return nil
	}
	for depth := 1; depth > 0; {
		at := r.b.off
		code := r.b.uleb()
		if r.b.bad {
			return fmt.Errorf("truncated children of entry at %#x", r.entry)
		}
		if code == 0 {
			depth--
			continue
		}
		c := u.abbrevs.get(code)
		if c == nil {
			return fmt.Errorf("entry at %#x: unknown abbreviation %d", at, code)
		}
		d.skipAttrs(&r.b, u, c)
		if c.children {
			depth++
		}
	}
	if r.b.bad {
		return fmt.Errorf("truncated children of entry at %#x", r.entry)
	}
	return nil
}
