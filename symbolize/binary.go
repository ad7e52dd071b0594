package symbolize

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
)

// Binary is one parsed object file (executable, shared library, or its debug
// file).
//
// Opening a Binary reads only the ELF headers, the build ID and the symbol
// tables; separate debug files, DWARF and the Go pclntab are read the first
// time an address needs them. A Binary is safe for concurrent use.
type Binary struct {
	name    string
	file    *os.File // nil for in-memory images
	elf     *elf.File
	buildID string
	size    int64 // of the image, -1 if unknown
	loads   process.Loads
	syms    symtab
	dirs    []string // debug-file roots, for separate debug files
	names   nameCache

	// Filled on first use: the debug info (this file's own, or a separate
	// debug file's), the Go line table, and the symbols of separate debug
	// files.
	once     sync.Once
	dwarf    *dwarfInfo
	goinl    *goInline // Go 1.20+ pclntab with its inlining tree
	gopcln   *goTable  // older pclntabs, through debug/gosym
	debug    *Binary   // separate debug file, nil when none
	extSyms  symtab    // symbols of the debug file or MiniDebugInfo
	debugErr error
}

// Options tells OpenBinaryWith where to look for separate debug files.
type Options struct {
	// DebugDirs are the roots searched for separate debug files, by build ID
	// (ROOT/.build-id/xx/rest.debug) and by .gnu_debuglink (ROOT/DIR/NAME).
	// Nil means DefaultDebugDirs.
	DebugDirs []string
}

// DefaultDebugDirs are the debug-file roots used when Options.DebugDirs is nil.
var DefaultDebugDirs = []string{"/usr/lib/debug"}

// OpenBinary opens and parses the ELF file at path, finding separate debug
// files under DefaultDebugDirs.
func OpenBinary(path string) (*Binary, error) {
	return OpenBinaryWith(path, Options{})
}

// OpenBinaryWith opens and parses the ELF file at path with the given options.
// The path may be controlled by another user: only a regular file is opened,
// without blocking (see package untrusted).
func OpenBinaryWith(path string, opt Options) (*Binary, error) {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, err
	}
	return openFile(f, path, opt)
}

// openFile parses the ELF file f, opened by untrusted.Open from path; the
// Binary owns f, which is closed on error.
func openFile(f *os.File, path string, opt Options) (*Binary, error) {
	b, err := newBinary(f, path, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	b.file = f
	return b, nil
}

// NewBinary parses an ELF image read through r, such as the [vdso] read from
// a process's memory; name is used in errors. No separate debug file is
// searched for, since an image in memory has no directory.
func NewBinary(r io.ReaderAt, name string) (*Binary, error) {
	return newBinary(r, name, Options{DebugDirs: []string{}})
}

func newBinary(r io.ReaderAt, name string, opt Options) (*Binary, error) {
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("open %s: not an ELF file: %w", name, err)
	}
	b := &Binary{name: name, elf: ef, dirs: opt.DebugDirs, size: readerSize(r)}
	if b.dirs == nil {
		b.dirs = DefaultDebugDirs
	}
	b.loads = process.LoadsOf(ef)
	b.buildID = process.BuildID(ef)
	syms, err := readSymbols(ef)
	if err != nil {
		return nil, fmt.Errorf("read symbols of %s: %w", name, err)
	}
	b.syms = syms
	return b, nil
}

// readerSize returns the size of what r reads, or -1 when it cannot tell.
func readerSize(r io.ReaderAt) int64 {
	switch r := r.(type) {
	case interface{ Size() int64 }: // bytes.Reader, strings.Reader, io.SectionReader
		return r.Size()
	case *os.File:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}

// Name returns the path or name the binary was opened with.
func (b *Binary) Name() string { return b.name }

// BuildID returns the hex GNU build ID, or "" if there is none.
func (b *Binary) BuildID() string { return b.buildID }

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Frames returns the frames at addr, an address in the ELF's virtual address
// space, innermost first; nil when nothing covers it.
//
// DWARF (this file's or a separate debug file's) gives files, lines and
// inlined calls; without it the Go pclntab gives the function, file and line;
// without either the symbol tables give the function name.
func (b *Binary) Frames(addr uint64) ([]Frame, error) {
	b.once.Do(b.loadDebug)
	sym, name := b.symbol(addr)
	if b.dwarf != nil {
		// The outermost frame is named after the symbol when there is
		// one, so DWARF need not name it.
		frames, err := b.dwarf.frames(addr, sym != nil)
		if err != nil {
			// Corrupt DWARF still leaves the symbol table to name
			// the function.
			if sym != nil {
				return []Frame{{Name: name, SystemName: sym.name}}, nil
			}
			return nil, fmt.Errorf("symbolize %#x in %s: %w", addr, b.name, err)
		}
		if frames != nil {
			nameFromSymbol(&frames[len(frames)-1], sym, name)
			return frames, nil
		}
	}
	if b.goinl != nil {
		if frames := b.goinl.frames(addr); frames != nil {
			nameFromSymbol(&frames[len(frames)-1], sym, name)
			return frames, nil
		}
	}
	if b.gopcln != nil {
		if f, ok := b.gopcln.frame(addr); ok {
			return []Frame{f}, nil
		}
	}
	if sym != nil {
		f := Frame{}
		nameFromSymbol(&f, sym, name)
		return []Frame{f}, nil
	}
	return nil, nil
}

// nameFromSymbol names the outermost frame after the symbol covering its
// address, as LLVM's symbolizer does: the symbol says which part of a split
// function the address is in ("f(int) (.cold)"), and covers code DWARF does
// not (_init). Where the frame has no file, the symbol's STT_FILE gives one.
func nameFromSymbol(f *Frame, s *symbol, name string) {
	if s == nil {
		return
	}
	f.Name, f.SystemName = name, s.name
	if f.File == "" {
		f.File = s.file
	}
}

// Preload reads all of the binary's debug information now, with up to
// workers goroutines, instead of unit by unit as addresses need it: for a
// caller about to look up many addresses all over the binary (a batch
// symbolizer), on several cores. Lookups may run while it does.
func (b *Binary) Preload(workers int) {
	b.once.Do(b.loadDebug)
	if b.dwarf != nil {
		b.dwarf.preload(workers)
	}
}

// symbol returns the function symbol covering addr from this file's symbol
// tables or, failing them, a debug file's, and its demangled name.
func (b *Binary) symbol(addr uint64) (*symbol, string) {
	if i := b.syms.find(addr); i >= 0 {
		return &b.syms.syms[i], b.syms.demangled(i, &b.names)
	}
	if i := b.extSyms.find(addr); i >= 0 {
		return &b.extSyms.syms[i], b.extSyms.demangled(i, &b.names)
	}
	return nil, ""
}

// loadDebug finds the debug information for the binary: its own DWARF, else
// a separate debug file's, else its Go line table; and the symbols of a
// separate debug file or of MiniDebugInfo for stripped files.
func (b *Binary) loadDebug() {
	if hasDWARF(b.elf) {
		b.dwarf = newDWARFInfo(b.elf, b.file, b.size, &b.names)
	}
	if b.dwarf == nil || !b.syms.hasSymtab {
		if d := b.findDebugFile(); d != nil {
			b.debug = d
			if b.dwarf == nil && hasDWARF(d.elf) {
				b.dwarf = newDWARFInfo(d.elf, d.file, d.size, &b.names)
			}
			if !b.syms.hasSymtab {
				b.extSyms = d.syms
			}
		}
	}
	if !b.syms.hasSymtab && len(b.extSyms.syms) == 0 {
		if mini, err := readMiniDebugInfo(b.elf); err != nil {
			b.debugErr = fmt.Errorf("read .gnu_debugdata of %s: %w", b.name, err)
		} else if mini != nil {
			b.extSyms = mini.syms
		}
	}
	if b.dwarf == nil {
		if b.goinl = newGoInline(b.elf); b.goinl == nil {
			b.gopcln = newGoTable(b.elf)
		}
	}
}

func hasDWARF(ef *elf.File) bool {
	for _, name := range []string{".debug_info", ".zdebug_info"} {
		if s := ef.Section(name); s != nil && s.Type != elf.SHT_NOBITS && s.Size > 0 {
			return true
		}
	}
	return false
}

// DebugFile returns the path of the separate debug file used for the binary,
// or "" when there is none (or it was not needed).
func (b *Binary) DebugFile() string {
	b.once.Do(b.loadDebug)
	if b.debug == nil {
		return ""
	}
	return b.debug.name
}

// AddrForOffset maps a file offset to the ELF virtual address it is loaded
// at, through the PT_LOAD program headers.
func (b *Binary) AddrForOffset(off uint64) (uint64, bool) {
	return b.loads.Vaddr(off)
}

// Close releases the file and any separate debug file.
func (b *Binary) Close() error {
	var errs []error
	if b.debug != nil {
		errs = append(errs, b.debug.Close())
	}
	if b.file != nil {
		errs = append(errs, b.file.Close())
	}
	return errors.Join(errs...)
}

// dir returns the directory of the binary, "" for in-memory images.
func (b *Binary) dir() string {
	if b.file == nil {
		return ""
	}
	return filepath.Dir(b.name)
}
