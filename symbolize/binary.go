package symbolize

import (
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/ianlancetaylor/demangle"
)

// Binary is one parsed object file (executable, shared library, or its debug
// file).
type Binary struct {
	name    string
	file    *os.File // nil for in-memory images
	elf     *elf.File
	buildID string
	loads   []elf.ProgHeader
	syms    []symbol
}

type symbol struct {
	addr, size uint64
	name       string
}

// OpenBinary opens and parses the ELF file at path.
func OpenBinary(path string) (*Binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	b, err := NewBinary(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	b.file = f
	return b, nil
}

// NewBinary parses an ELF image read through r; name is used in errors.
func NewBinary(r io.ReaderAt, name string) (*Binary, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("open %s: not an ELF file: %w", name, err)
	}
	b := &Binary{name: name, elf: ef}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			b.loads = append(b.loads, p.ProgHeader)
		}
	}
	b.buildID = readBuildID(ef)
	if err := b.loadSymbols(); err != nil {
		return nil, fmt.Errorf("read symbols of %s: %w", name, err)
	}
	return b, nil
}

func readBuildID(ef *elf.File) string {
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		for len(data) >= 12 {
			order := ef.ByteOrder
			nameSz, descSz, typ := order.Uint32(data), order.Uint32(data[4:]), order.Uint32(data[8:])
			nameEnd := 12 + align4(uint64(nameSz))
			descEnd := nameEnd + align4(uint64(descSz))
			if descEnd > uint64(len(data)) {
				break
			}
			if typ == 3 && nameSz == 4 && string(data[12:15]) == "GNU" {
				return hex.EncodeToString(data[nameEnd : nameEnd+uint64(descSz)])
			}
			data = data[descEnd:]
		}
	}
	return ""
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func (b *Binary) loadSymbols() error {
	var all []elf.Symbol
	for _, read := range []func() ([]elf.Symbol, error){b.elf.Symbols, b.elf.DynamicSymbols} {
		syms, err := read()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return err
		}
		all = append(all, syms...)
	}
	for _, s := range all {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 {
			continue
		}
		b.syms = append(b.syms, symbol{addr: s.Value, size: s.Size, name: s.Name})
	}
	sort.Slice(b.syms, func(i, j int) bool {
		if b.syms[i].addr != b.syms[j].addr {
			return b.syms[i].addr < b.syms[j].addr
		}
		return b.syms[i].size > b.syms[j].size
	})
	return nil
}

// BuildID returns the hex GNU build ID, or "" if there is none.
func (b *Binary) BuildID() string { return b.buildID }

// Frames returns the frames at addr, an address in the ELF's virtual address
// space; nil when nothing covers it.
func (b *Binary) Frames(addr uint64) ([]Frame, error) {
	i := sort.Search(len(b.syms), func(i int) bool { return b.syms[i].addr > addr }) - 1
	for ; i >= 0; i-- {
		s := b.syms[i]
		if addr < s.addr+s.size || (s.size == 0 && (i+1 == len(b.syms) || addr < b.syms[i+1].addr)) {
			return []Frame{{Name: demangleName(s.name), SystemName: s.name}}, nil
		}
		// A sized symbol that ends before addr may sit inside a larger one
		// that starts earlier; look back a little for it.
		if s.addr+(1<<20) < addr {
			break
		}
	}
	return nil, nil
}

func demangleName(name string) string {
	if d, err := demangle.ToString(name, demangle.NoClones); err == nil {
		return d
	}
	return name
}

// AddrForOffset maps a file offset to the ELF virtual address it is loaded at.
func (b *Binary) AddrForOffset(off uint64) (uint64, bool) {
	for _, p := range b.loads {
		if off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// Close releases the file.
func (b *Binary) Close() error {
	if b.file != nil {
		return b.file.Close()
	}
	return nil
}
