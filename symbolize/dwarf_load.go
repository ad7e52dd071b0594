package symbolize

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/emberprof/ember/symbolize/internal/dwarfdata"
)

// maxDebugSection bounds one section inflated into memory, against corrupt
// sizes.
const maxDebugSection = 4 << 30

// loadSections gets the DWARF sections that symbolizing reads. Plain
// sections are slices of a read-only mapping of the file when there is one:
// reading tens of MiB of debug info into the heap cost more than the whole
// first lookup, and pages of types never walked are never read. Compressed
// sections (SHF_COMPRESSED, or old-style .zdebug) are inflated into memory,
// no larger than they claim. fileSize is the ELF file's size, or -1 when
// unknown (an image in memory), in which case sections are read as far as
// they go. The returned unmap, when not nil, releases the mapping.
//
// Relocatable objects (ET_REL) are read without applying relocations, so
// their DWARF has no addresses and lookups fall back to the symbol table.
func loadSections(ef *elf.File, file *os.File, fileSize int64) (dwarfdata.Sections, func(), error) {
	// By value: dwarfdata.New keeps its own copy, so this one need not
	// be allocated.
	var s dwarfdata.Sections
	s.BigEndian = ef.ByteOrder == binary.BigEndian
	var mapped []byte
	var unmap func()
	if file != nil && fileSize > 0 && fileSize == int64(int(fileSize)) {
		if m, err := syscall.Mmap(int(file.Fd()), 0, int(fileSize), syscall.PROT_READ, syscall.MAP_PRIVATE); err == nil {
			mapped = m
			unmap = func() { syscall.Munmap(m) }
		}
	}
	fail := func(err error) (dwarfdata.Sections, func(), error) {
		if unmap != nil {
			unmap()
		}
		return dwarfdata.Sections{}, nil, err
	}
	for _, sec := range ef.Sections {
		name, ok := strings.CutPrefix(sec.Name, ".debug_")
		zlibHeader := false
		if !ok {
			if name, ok = strings.CutPrefix(sec.Name, ".zdebug_"); !ok {
				continue
			}
			zlibHeader = true
		}
		if sec.Type == elf.SHT_NOBITS {
			continue
		}
		dst := s.Section(name)
		if dst == nil || *dst != nil {
			continue // not needed for lines and inlined calls, or a duplicate
		}
		b, err := readSection(sec, mapped, fileSize, zlibHeader)
		if err != nil {
			return fail(fmt.Errorf("read section %s: %w", sec.Name, err))
		}
		*dst = b
	}
	if s.Info == nil {
		return fail(fmt.Errorf("no .debug_info"))
	}
	return s, unmap, nil
}

func readSection(sec *elf.Section, mapped []byte, fileSize int64, zlibHeader bool) ([]byte, error) {
	if sec.Flags&elf.SHF_COMPRESSED != 0 {
		// Size is the uncompressed size, which a corrupt header can
		// overstate: read what inflates, up to it.
		if sec.Size > maxDebugSection {
			return nil, fmt.Errorf("size %d too large", sec.Size)
		}
		// Inflating into a buffer of the final size at once saves the
		// doubling and copying of io.ReadAll, a third of the time Go
		// binaries (zlib DWARF by default) take to load. Debug sections
		// inflate well under 32-fold; a size past that, which only a
		// corrupt header gives, has to be earned by data that inflates.
		r := sec.Open()
		b := make([]byte, min(sec.Size, 32*sec.FileSize))
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if uint64(len(b)) < sec.Size {
			rest, err := io.ReadAll(io.LimitReader(r, int64(sec.Size)-int64(len(b))))
			if err != nil {
				return nil, err
			}
			if b = append(b, rest...); uint64(len(b)) != sec.Size {
				return nil, io.ErrUnexpectedEOF
			}
		}
		return b, nil
	}
	var raw []byte
	switch {
	case fileSize >= 0:
		// The file must hold the section before memory is given to it.
		if sec.Offset > uint64(fileSize) || sec.FileSize > uint64(fileSize)-sec.Offset {
			return nil, fmt.Errorf("past the end of the file")
		}
		if mapped != nil {
			raw = mapped[sec.Offset : sec.Offset+sec.FileSize : sec.Offset+sec.FileSize]
		} else {
			raw = make([]byte, sec.FileSize)
			if _, err := sec.ReadAt(raw, 0); err != nil {
				return nil, err
			}
		}
	default:
		b, err := io.ReadAll(io.LimitReader(sec.Open(), min(int64(sec.FileSize), maxDebugSection)))
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if !zlibHeader {
		return raw, nil
	}
	// .zdebug_*: "ZLIB", the size inflated (big-endian), zlib data.
	if len(raw) < 12 || string(raw[:4]) != "ZLIB" {
		return raw, nil // not compressed after all
	}
	size := binary.BigEndian.Uint64(raw[4:12])
	if size > maxDebugSection {
		return nil, fmt.Errorf("size %d too large", size)
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw[12:]))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, int64(size)))
	if err == nil && uint64(len(b)) != size {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}
