package symbolize

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"sync"
)

// goTable answers lookups in a Go binary whose DWARF was stripped
// (go build -ldflags=-s -w) from its .gopclntab, which the runtime needs and
// so is never stripped. It gives the function containing the address and the
// file and line of the innermost (possibly inlined) code; debug/gosym does
// not expose the inlining tree, so inlined calls are not split into frames.
type goTable struct {
	mu  sync.Mutex // gosym.Table caches lazily and is not safe for concurrent use
	tab *gosym.Table
}

// newGoTable returns nil when the binary has no usable .gopclntab.
func newGoTable(ef *elf.File) (t *goTable) {
	defer func() {
		// debug/gosym indexes the table without bounds checks on
		// several paths; a corrupt table means no Go table.
		if recover() != nil {
			t = nil
		}
	}()
	sec := ef.Section(".gopclntab")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil
	}
	var textStart uint64
	if text := ef.Section(".text"); text != nil {
		textStart = text.Addr
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, textStart))
	if err != nil || len(tab.Funcs) == 0 {
		return nil
	}
	return &goTable{tab: tab}
}

func (t *goTable) frame(addr uint64) (f Frame, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			f, ok = Frame{}, false
		}
	}()
	file, line, fn := t.tab.PCToLine(addr)
	if fn == nil {
		return Frame{}, false
	}
	return Frame{Name: fn.Name, SystemName: fn.Name, File: file, Line: line}, true
}

// String describes the table, for debugging.
func (t *goTable) String() string {
	return fmt.Sprintf("gopclntab with %d functions", len(t.tab.Funcs))
}
