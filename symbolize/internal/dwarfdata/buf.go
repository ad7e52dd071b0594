package dwarfdata

import "bytes"

// buf reads DWARF data from b at off. A read past the end sets bad, moves
// off to the end and returns zero, so that parsers check once per entry
// rather than after every field.
type buf struct {
	b   []byte
	off int
	big bool // big-endian
	bad bool
}

func (r *buf) fail() { r.bad = true; r.off = len(r.b) }

func (r *buf) u8() uint8 {
	if r.off >= len(r.b) {
		r.fail()
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

// un reads an n-byte unsigned integer, 0 < n <= 8.
func (r *buf) un(n int) uint64 {
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

func (r *buf) u16() uint16 { return uint16(r.un(2)) }

func (r *buf) u32() uint32 {
	if r.big || len(r.b)-r.off < 4 {
		return uint32(r.un(4))
	}
	b := r.b[r.off : r.off+4]
	r.off += 4
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (r *buf) u64() uint64 { return r.un(8) }

func (r *buf) uleb() uint64 {
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

func (r *buf) sleb() int64 {
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

func (r *buf) skip(n uint64) {
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return
	}
	r.off += int(n)
}

func (r *buf) bytes(n uint64) []byte {
	if n > uint64(len(r.b)-r.off) {
		r.fail()
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

// cstr reads a NUL-terminated string, without the NUL.
func (r *buf) cstr() []byte {
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
func (r *buf) offset(dwarf64 bool) uint64 {
	if dwarf64 {
		return r.u64()
	}
	return uint64(r.u32())
}

// unitLength reads the initial length of a unit or line table: its length
// after the field, and whether it is in the 64-bit format.
func (r *buf) unitLength() (uint64, bool) {
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
