package symbolize

import (
	"cmp"
	"debug/elf"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ianlancetaylor/demangle"
)

// symtab is a binary's function symbols, sorted by address, each with the end
// of the range it covers.
type symtab struct {
	syms      []symbol
	dem       []atomic.Pointer[string] // demangled names of syms, made on first use
	hasSymtab bool                     // a .symtab was present, not only .dynsym
}

type symbol struct {
	addr, end uint64
	name      string
	file      string // of the STT_FILE symbol before it in .symtab, if any
}

// readSymbols reads the function symbols of .symtab and .dynsym.
func readSymbols(ef *elf.File) (symtab, error) {
	var t symtab
	// A compact candidate: sorting tens of thousands of elf.Symbols,
	// each over a hundred bytes with pointers, cost more than reading them.
	type cand struct {
		Value, Size uint64
		Name, file  string
		Section     elf.SectionIndex
	}
	var all []cand
	for src, read := range []func() ([]elf.Symbol, error){ef.Symbols, ef.DynamicSymbols} {
		syms, err := read()
		if err != nil {
			if errors.Is(err, elf.ErrNoSymbols) {
				continue
			}
			return t, err
		}
		if src == 0 {
			t.hasSymtab = true
		}
		file := ""
		for _, s := range syms {
			typ := elf.ST_TYPE(s.Info)
			if typ == elf.STT_FILE && src == 0 {
				// Local symbols follow the STT_FILE symbol of the
				// source file they come from.
				file = s.Name
			}
			if (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) || s.Value == 0 || s.Section == elf.SHN_UNDEF || s.Name == "" {
				continue
			}
			c := cand{Value: s.Value, Size: s.Size, Name: s.Name, Section: s.Section}
			if src == 0 && elf.ST_BIND(s.Info) == elf.STB_LOCAL {
				c.file = file
			}
			all = append(all, c)
		}
	}
	// Where several symbols share an address (aliases, identical code
	// folded together), keep the largest, then the first by name: the
	// choice LLVM's symbolizer makes, so names agree with it.
	slices.SortFunc(all, func(a, b cand) int {
		if c := cmp.Compare(a.Value, b.Value); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Size, a.Size); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	t.syms = make([]symbol, 0, len(all))
	for i, s := range all {
		if i > 0 && all[i-1].Value == s.Value {
			continue
		}
		end := s.Value + s.Size
		if s.Size == 0 {
			// An unsized symbol (hand-written assembly, say) runs to
			// the next symbol, but not past the end of its section.
			end = ^uint64(0)
			for j := i + 1; j < len(all); j++ {
				if all[j].Value > s.Value {
					end = all[j].Value
					break
				}
			}
			if int(s.Section) < len(ef.Sections) {
				sec := ef.Sections[s.Section]
				if sec.Addr <= s.Value && sec.Addr+sec.Size < end {
					end = sec.Addr + sec.Size
				}
			}
		}
		if end < s.Value {
			end = s.Value
		}
		t.syms = append(t.syms, symbol{addr: s.Value, end: end, name: s.Name, file: s.file})
	}
	t.dem = make([]atomic.Pointer[string], len(t.syms))
	return t, nil
}

// lookup returns the symbol whose range covers addr, or nil.
func (t *symtab) lookup(addr uint64) *symbol {
	if i := t.find(addr); i >= 0 {
		return &t.syms[i]
	}
	return nil
}

// find returns the index of the symbol whose range covers addr, or -1.
func (t *symtab) find(addr uint64) int {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].addr > addr }) - 1
	// A symbol that ends before addr may sit inside a larger one that
	// starts earlier (a local label inside a function); look a few back.
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		if addr < t.syms[i].end {
			return i
		}
	}
	return -1
}

// demangled returns symbol i's demangled name, kept with the symbol once
// made: a batch of lookups names the same functions over and over, and even
// a cache lookup hashes the whole mangled name.
func (t *symtab) demangled(i int, c *nameCache) string {
	if p := t.dem[i].Load(); p != nil {
		return *p
	}
	d := c.demangle(t.syms[i].name)
	t.dem[i].Store(&d)
	return d
}

// nameCache memoizes demangled names: the same few functions are looked up
// over and over, and demangling a long C++ name costs microseconds.
type nameCache struct{ m sync.Map }

// demangle returns the demangled form of a C++ or Rust symbol name, or name
// itself when it is not mangled.
func (c *nameCache) demangle(name string) string {
	if len(name) < 2 || (name[0] != '_' && name[0] != '.') {
		return name
	}
	if d, ok := c.m.Load(name); ok {
		return d.(string)
	}
	d := demangleName(name)
	c.m.Store(name, d)
	return d
}

// demangleName returns the demangled form of a C++ or Rust symbol name, in
// the style of LLVM's demangler (so names read as llvm-addr2line -C prints
// them), or name itself when it is not mangled.
func demangleName(name string) string {
	d, err := demangle.ToString(name, demangle.LLVMStyle)
	if err != nil {
		return name
	}
	return d
}
