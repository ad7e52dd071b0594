package symbolize

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// maxDebugSection bounds one section read into memory, against corrupt sizes.
const maxDebugSection = 4 << 30

// loadDWARF reads the DWARF sections of an executable or shared library with
// one exact-size allocation and read each; fileSize is the ELF file's size,
// or -1 when unknown. elf.File.DWARF grows its buffers
// in chunks (it cannot trust a section's size), which for tens of MiB of
// debug info costs more than the whole first lookup; here a size the file
// cannot back fails the read instead. Relocatable objects and old-style
// .zdebug sections still go through elf.File.DWARF.
func loadDWARF(ef *elf.File, fileSize int64) (*dwarf.Data, error) {
	if ef.Type == elf.ET_REL || fileSize < 0 {
		return ef.DWARF()
	}
	dat := map[string][]byte{}
	var order []string
	for _, s := range ef.Sections {
		if strings.HasPrefix(s.Name, ".zdebug_") {
			return ef.DWARF()
		}
		name, ok := strings.CutPrefix(s.Name, ".debug_")
		if !ok || s.Type == elf.SHT_NOBITS {
			continue
		}
		switch name {
		case "abbrev", "info", "line", "ranges", "str", "addr", "line_str", "str_offsets", "rnglists", "loclists":
		default:
			continue // not needed for lines and inlined calls
		}
		if _, dup := dat[name]; dup {
			continue
		}
		if s.Size > maxDebugSection {
			return nil, fmt.Errorf("section %s: size %d too large", s.Name, s.Size)
		}
		var b []byte
		var err error
		if s.Flags&elf.SHF_COMPRESSED != 0 {
			// Size is the uncompressed size, which a corrupt
			// header can overstate: read what inflates, up to it.
			b, err = io.ReadAll(io.LimitReader(s.Open(), int64(s.Size)))
			if err == nil && uint64(len(b)) != s.Size {
				err = io.ErrUnexpectedEOF
			}
		} else {
			// The file must hold the section before memory is
			// given to it.
			if s.Offset > uint64(fileSize) || s.Size > uint64(fileSize)-s.Offset {
				return nil, fmt.Errorf("section %s: past the end of the file", s.Name)
			}
			b = make([]byte, s.Size)
			_, err = s.ReadAt(b, 0)
		}
		if err != nil {
			return nil, fmt.Errorf("read section %s: %w", s.Name, err)
		}
		dat[name] = b
		order = append(order, name)
	}
	d, err := dwarf.New(dat["abbrev"], nil, nil, dat["info"], dat["line"], nil, dat["ranges"], dat["str"])
	if err != nil {
		return nil, err
	}
	for _, name := range order {
		switch name {
		case "abbrev", "info", "line", "ranges", "str":
			continue
		}
		if err := d.AddSection(".debug_"+name, dat[name]); err != nil {
			return nil, err
		}
	}
	return d, nil
}
