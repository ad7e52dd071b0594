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
	d       *Data
	u       *Unit
	b       buf
	entry   int     // offset of the last entry
	cur     *abbrev // of the last entry
	pending bool    // cur's attributes are not read yet
	sibling value   // cur's DW_AT_sibling, once its attributes are read
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
		r.d.skipAttrs(&r.b, r.u, r.cur)
	}
	r.cur = nil
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
	r.entry, r.cur, r.pending, r.sibling = entry, a, true, value{}
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

// Attrs reads the attributes of the entry Next returned into a.
func (r *Reader) Attrs(a *Attrs) error {
	*a = Attrs{d: r.d, u: r.u}
	if !r.pending {
		return nil
	}
	r.pending = false
	ab := r.cur
	d, b, u := r.d, &r.b, r.u
	for i := range ab.attrs {
		spec := &ab.attrs[i]
		switch spec.attr {
		case atLowPC:
			a.low = d.readValue(b, u, spec)
		case atHighPC:
			a.high = d.readValue(b, u, spec)
		case atRanges:
			a.rng = d.readValue(b, u, spec)
		case atAbstractOrigin:
			a.origin = d.readValue(b, u, spec)
		case atSpecification:
			a.spec = d.readValue(b, u, spec)
		case atName:
			a.name = d.readValue(b, u, spec)
		case atLinkageName, atMIPSLinkageName:
			a.linkage = d.readValue(b, u, spec)
		case atCallFile:
			a.CallFile = d.readValue(b, u, spec).v
		case atCallLine:
			a.CallLine = d.readValue(b, u, spec).v
		case atGNUDiscriminator:
			a.Discriminator = d.readValue(b, u, spec).v
		case atSibling:
			r.sibling = d.readValue(b, u, spec)
		default:
			if spec.size >= 0 {
				b.skip(uint64(spec.size))
			} else {
				d.readValue(b, u, spec)
			}
		}
	}
	if b.bad {
		return fmt.Errorf("truncated entry at %#x", r.entry)
	}
	return nil
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
	a := r.cur
	if a == nil {
		return nil
	}
	d, u := r.d, r.u
	if r.pending {
		r.pending = false
		if !a.children {
			d.skipAttrs(&r.b, u, a)
			return nil
		}
		r.sibling = value{}
		for i := range a.attrs {
			spec := &a.attrs[i]
			if spec.attr == atSibling {
				r.sibling = d.readValue(&r.b, u, spec)
			} else if spec.size >= 0 {
				r.b.skip(uint64(spec.size))
			} else {
				d.readValue(&r.b, u, spec)
			}
		}
	}
	r.cur = nil
	if r.b.bad {
		return fmt.Errorf("truncated entry at %#x", r.entry)
	}
	if !a.children {
		return nil
	}
	if off, ok := ref(u, r.sibling); ok && off > uint64(r.b.off) && off <= uint64(len(r.b.b)) {
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
