package process

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"syscall"
)

// FileID identifies a file's contents on this machine: the same device and
// inode with the same size and modification time is taken to be the same
// bytes. A zero Ino means the identity is unknown.
type FileID struct {
	Dev, Ino uint64
	Size     int64
	MtimeNs  int64
}

// Identify returns the identity of the open file f, from the descriptor.
func Identify(f *os.File) (FileID, error) {
	fi, err := f.Stat()
	if err != nil {
		return FileID{}, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	id := FileID{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev, id.Ino = uint64(st.Dev), st.Ino
	}
	return id, nil
}

// maxNote bounds a note segment or section read for the build ID.
const maxNote = 1 << 20

// BuildID returns the hex GNU build ID of ef, or "" if there is none. It is
// looked for in the program headers (what a loaded image has), then in the
// section headers (what a debug file has, whose PT_NOTE segment may be
// NOBITS).
func BuildID(ef *elf.File) string {
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > maxNote {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		if id := noteBuildID(ef, data); id != "" {
			return id
		}
	}
	for _, s := range ef.Sections {
		if s.Type != elf.SHT_NOTE || s.Size > maxNote {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := noteBuildID(ef, data); id != "" {
			return id
		}
	}
	return ""
}

// ntGNUBuildID is the note type of the GNU build ID (NT_GNU_BUILD_ID).
const ntGNUBuildID = 3

// noteBuildID finds the NT_GNU_BUILD_ID note in a notes blob.
func noteBuildID(ef *elf.File, data []byte) string {
	order := ef.ByteOrder
	for len(data) >= 12 {
		nameSz, descSz, typ := uint64(order.Uint32(data)), uint64(order.Uint32(data[4:])), order.Uint32(data[8:])
		nameEnd := 12 + align4(nameSz)
		descEnd := nameEnd + align4(descSz)
		if nameSz > uint64(len(data)) || descSz > uint64(len(data)) || descEnd > uint64(len(data)) {
			return ""
		}
		if typ == ntGNUBuildID && nameSz == 4 && string(data[12:15]) == "GNU" {
			return hex.EncodeToString(data[nameEnd : nameEnd+descSz])
		}
		data = data[descEnd:]
	}
	return ""
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Loads are the PT_LOAD program headers of an ELF file: where each part of
// the file is loaded, which maps file offsets to ELF virtual addresses.
type Loads []elf.ProgHeader

// LoadsOf returns the PT_LOAD program headers of ef.
func LoadsOf(ef *elf.File) Loads {
	var out Loads
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			out = append(out, p.ProgHeader)
		}
	}
	return out
}

// Vaddr maps a file offset to the ELF virtual address it is loaded at.
func (l Loads) Vaddr(off uint64) (uint64, bool) {
	for _, p := range l {
		if off >= p.Off && off-p.Off < p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// pageSize is the granularity at which the loader maps segments: a
// mapping's offset is a segment's offset rounded down to it.
const pageSize = 4096

// Bias returns what to subtract from an address of m to get the ELF virtual
// address (vaddr = addr - bias), from the segment that m maps: the one whose
// page-aligned file range holds m's offset, executable first when m is, as
// a page may hold the end of one segment and the start of the next.
func (l Loads) Bias(m *Mapping) (uint64, bool) {
	exec := len(m.Perms) >= 3 && m.Perms[2] == 'x'
	for pass := 0; pass < 2; pass++ {
		for _, p := range l {
			if pass == 0 && exec != (p.Flags&elf.PF_X != 0) {
				continue
			}
			if m.Offset >= p.Off&^(pageSize-1) && m.Offset < p.Off+p.Filesz {
				// A file offset x is at m.Start + (x - m.Offset) in memory
				// and at p.Vaddr + (x - p.Off) in the file.
				return m.Start - m.Offset + p.Off - p.Vaddr, true
			}
		}
	}
	return 0, false
}
