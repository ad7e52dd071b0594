// Package dwarfdata is a minimal DWARF 2–5 reader for what symbolizing
// needs: unit headers, abbreviations, the few attributes of compile units,
// subprograms and inlined calls, address ranges and line programs.
//
// debug/dwarf decodes every attribute of every entry it reads into a freshly
// allocated Entry; for the hundreds of thousands of entries of a large C++
// binary that allocation, not the decoding, is most of the time. Here
// entries are read straight from the section bytes, and entries that do not
// matter are skipped by size. debug/dwarf stays the tests' oracle.
//
// Nothing here panics on corrupt input: reads past the end of a buffer mark
// it bad and return zeros, and every loop consumes input, so each walk ends.
// The caller owns the section bytes, which may be a file mapping: faults on
// it are the caller's to handle.
package dwarfdata

import "sort"

// Sections are the raw bytes of the DWARF sections the reader uses (mapped
// or, when compressed, inflated into memory); nil for those absent.
type Sections struct {
	Info, Abbrev, Line, Ranges, Str, Addr, LineStr, StrOffsets, Rnglists []byte
	BigEndian                                                            bool
}

// Section returns the field that holds .debug_NAME, nil for a section the
// reader does not use.
func (s *Sections) Section(name string) *[]byte {
	switch name {
	case "info":
		return &s.Info
	case "abbrev":
		return &s.Abbrev
	case "line":
		return &s.Line
	case "ranges":
		return &s.Ranges
	case "str":
		return &s.Str
	case "addr":
		return &s.Addr
	case "line_str":
		return &s.LineStr
	case "str_offsets":
		return &s.StrOffsets
	case "rnglists":
		return &s.Rnglists
	}
	return nil
}

// Data is the DWARF of one binary, with its compile units' headers read.
type Data struct {
	s     Sections
	units []*Unit // in .debug_info order
}

// New reads the compile unit headers of s; when a unit is corrupt the walk
// stops there, and Data holds the units before it along with the error.
func New(s *Sections) (*Data, error) {
	d := &Data{s: *s}
	units, err := d.readUnits()
	d.units = units
	return d, err
}

// Units returns the compile units in .debug_info order.
func (d *Data) Units() []*Unit { return d.units }

// unitAt returns the unit whose entries hold the .debug_info offset off.
func (d *Data) unitAt(off uint64) *Unit {
	i := sort.Search(len(d.units), func(i int) bool { return uint64(d.units[i].End) > off })
	if i < len(d.units) && uint64(d.units[i].data) <= off {
		return d.units[i]
	}
	return nil
}
