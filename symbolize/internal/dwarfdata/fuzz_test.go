package dwarfdata

import (
	"debug/elf"
	"errors"
	"flag"
	"io"
	"testing"
	"time"
)

// sectionNames are the sections FuzzReader's inputs hold, by number.
var sectionNames = []string{"info", "abbrev", "line", "ranges", "str", "addr", "line_str", "str_offsets", "rnglists"}

// pack writes sections as FuzzReader reads them: a byte whose low bit says
// big-endian, then per section its number, a 2-byte little-endian length
// and its bytes.
func pack(s *Sections) []byte {
	out := []byte{0}
	if s.BigEndian {
		out[0] = 1
	}
	for i, name := range sectionNames {
		b := *s.Section(name)
		if b == nil {
			continue
		}
		b = b[:min(len(b), 0xffff)]
		out = append(out, byte(i), byte(len(b)), byte(len(b)>>8))
		out = append(out, b...)
	}
	return out
}

func unpack(data []byte) *Sections {
	s := &Sections{}
	if len(data) == 0 {
		return s
	}
	s.BigEndian = data[0]&1 != 0
	data = data[1:]
	for len(data) >= 3 {
		id, n := int(data[0]), int(data[1])|int(data[2])<<8
		data = data[3:]
		n = min(n, len(data))
		if id < len(sectionNames) {
			*s.Section(sectionNames[id]) = data[:n:n]
		}
		data = data[n:]
	}
	return s
}

// FuzzReader feeds corrupt sections to every part of the reader: unit
// headers, abbreviations, entry walks with and without skipping children,
// attributes, ranges and line programs must give errors or answers, never
// a panic or a hang. (symbolize's FuzzDWARF fuzzes the lookups built on
// it.)
func FuzzReader(f *testing.F) {
	for _, p := range oracleFixtures(f) {
		ef, err := elf.Open(p)
		if err != nil {
			f.Fatal(err)
		}
		if s := elfSections(f, ef); len(s.Info) <= 0xffff {
			f.Add(pack(s))
		}
		ef.Close()
	}
	// Go's minimizer tries cutting every span of a new input, and nearly
	// every cut of a section breaks an offset: bound it, as symbolize's
	// fuzz tests do, unless -fuzzminimizetime was given.
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		flag.Set("test.fuzzminimizetime", "200x")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer time.AfterFunc(10*time.Second, func() { panic("input took over 10 s") }).Stop()
		d, _ := New(unpack(data))
		for i, u := range d.Units() {
			if i >= 16 {
				break
			}
			if tab, err := d.LineTable(u); err == nil {
				for _, s := range tab.Seqs {
					tab.Find(s.Lo)
					tab.Find(s.Hi - 1)
				}
			}
			// Every other entry with children is skipped, the
			// others walked into.
			r := d.Entries(u)
			for n := 0; ; n++ {
				e, err := r.Next()
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
				if e.Null {
					continue
				}
				a, err := r.Attrs(WantCode | WantNames)
				if err != nil {
					break
				}
				a.Ranges(nil)
				a.Name()
				a.LinkageName()
				if off, ok := a.AbstractOrigin(); ok {
					if r2, ok := d.EntriesAt(off); ok {
						if _, err := r2.Next(); err == nil {
							r2.Attrs(WantNames)
						}
					}
				}
				if n%2 == 1 && r.SkipChildren() != nil {
					break
				}
			}
		}
	})
}
