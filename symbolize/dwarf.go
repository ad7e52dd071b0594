package symbolize

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emberprof/ember/symbolize/internal/dwarfdata"
)

// dwarfInfo answers address lookups from DWARF, reading as little as it can:
// the sections are mapped and the unit headers read on the first lookup, and
// a compile unit's line table and function tree only when an address falls
// in it.
//
// The sections are read with the minimal reader in internal/dwarfdata, which
// returns errors for corrupt input. Mapped sections can still fault if the
// file is truncated under us; entry points turn faults into panics
// (debug.SetPanicOnFault) and recover them as errors, since a corrupt or
// changing file must not take the profiler down.
type dwarfInfo struct {
	ef    *elf.File
	file  *os.File // to map sections from; nil for in-memory images
	size  int64    // of the ELF file, -1 if unknown
	names *nameCache

	once  sync.Once
	data  *dwarfdata.Data
	err   error
	units []*unitInfo // in .debug_info order
	index []unitRange // sorted by lo

	mu    sync.Mutex
	funcs map[uint64]funcName
}

// unitRange is one address range of a compile unit.
type unitRange struct {
	lo, hi uint64
	unit   *unitInfo
}

// unitInfo is what one compile unit knows, parsed on first use.
type unitInfo struct {
	*dwarfdata.Unit
	once  sync.Once
	err   error
	lines dwarfdata.LineTable
	funcs []funcRange // sorted by lo
}

// scope is a function or an inlined call in it: where it is, which entry
// names it, and for inlined calls the call site.
type scope struct {
	name     atomic.Pointer[funcName] // resolved on first use
	origin   uint64                   // .debug_info offset of the naming entry
	callFile int32
	callLine int32
	callDisc uint32
	ranges   [][2]uint64
	children []*scope
	index    []funcRange // children's ranges by address, when there are many
}

func (s *scope) contains(addr uint64) bool {
	for _, r := range s.ranges {
		if r[0] <= addr && addr < r[1] {
			return true
		}
	}
	return false
}

// funcRange is one address range of a function's concrete instance.
type funcRange struct {
	lo, hi uint64
	fn     *scope
}

// funcName is a subprogram's names: its linkage (mangled) name when it has
// one, and its demangled or plain name.
type funcName struct{ name, sys string }

func newDWARFInfo(ef *elf.File, file *os.File, size int64, names *nameCache) *dwarfInfo {
	d := &dwarfInfo{ef: ef, file: file, size: size, names: names, funcs: make(map[uint64]funcName)}
	return d
}

// recoverPanics is off only in fuzz tests, which must see a panic to report
// it: reading corrupt DWARF should give errors, never panic.
var recoverPanics = true

// guard turns a panic (or a fault on mapped memory, which
// debug.SetPanicOnFault makes one) into an error in *err; callers defer it
// at every entry point.
func guard(err *error, what string) {
	if !recoverPanics {
		return
	}
	if r := recover(); r != nil {
		*err = fmt.Errorf("malformed DWARF%s: %v", what, r)
	}
}

// load maps the DWARF sections and indexes compile units by address.
func (d *dwarfInfo) load() {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&d.err, "")
	secs, unmap, err := loadSections(d.ef, d.file, d.size)
	if err != nil {
		d.err = fmt.Errorf("read DWARF: %w", err)
		return
	}
	if unmap != nil {
		// Lookups reach the mapping only through d; copies of its
		// bytes (names, files) are made before they leave.
		runtime.AddCleanup(d, func(f func()) { f() }, unmap)
	}
	d.useSections(&secs)
}

// useSections reads the unit headers of secs and indexes the units by
// address.
func (d *dwarfInfo) useSections(secs *dwarfdata.Sections) {
	data, err := dwarfdata.New(secs)
	d.data = data
	hdrs := data.Units()
	if err != nil && len(hdrs) == 0 {
		d.err = fmt.Errorf("read DWARF: %w", err)
		return
	}
	// A corrupt unit ends the walk; the units before it still answer.
	for _, h := range hdrs {
		u := &unitInfo{Unit: h}
		d.units = append(d.units, u)
		for _, rg := range h.Ranges {
			d.index = append(d.index, unitRange{rg[0], rg[1], u})
		}
		h.Ranges = nil
	}
	sort.Slice(d.index, func(i, j int) bool { return d.index[i].lo < d.index[j].lo })
}

// preload parses every compile unit with the given number of goroutines, for
// callers about to look up addresses all over the binary.
func (d *dwarfInfo) preload(workers int) {
	d.once.Do(d.load)
	if d.err != nil {
		return
	}
	// Largest units first, so that no worker is left with a big one at
	// the end while the others idle.
	order := slices.Clone(d.units)
	sort.SliceStable(order, func(i, j int) bool { return order[i].End-order[i].Offset > order[j].End-order[j].Offset })
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(order)) {
					return
				}
				d.parse(order[i])
			}
		}()
	}
	wg.Wait()
	runtime.KeepAlive(d)
}

func (d *dwarfInfo) parse(u *unitInfo) {
	u.once.Do(func() { u.err = d.parseUnit(u) })
}

// frames returns the frames at addr, innermost first, or nil when no compile
// unit covers it. The outermost frame's Name is "" when the unit has a line
// table but no function covering addr, and when outerNamed says the caller
// names it.
func (d *dwarfInfo) frames(addr uint64, outerNamed bool) (frames []Frame, err error) {
	d.once.Do(d.load)
	if d.err != nil {
		return nil, d.err
	}
	defer runtime.KeepAlive(d)
	// Look back a little for units whose ranges overlap or nest.
	i := sort.Search(len(d.index), func(i int) bool { return d.index[i].lo > addr }) - 1
	var u *unitInfo
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		if addr < d.index[i].hi {
			u = d.index[i].unit
			break
		}
	}
	if u == nil {
		return nil, nil
	}
	d.parse(u)
	if u.err != nil {
		return nil, u.err
	}
	file, line, disc := u.lines.Find(addr)
	var buf [16]*scope
	chain := u.scopesAt(addr, buf[:0])
	if len(chain) == 0 {
		if file == "" && line == 0 {
			return nil, nil
		}
		return []Frame{{File: file, Line: line, Discriminator: disc}}, nil
	}
	frames = make([]Frame, 0, len(chain))
	for k := len(chain) - 1; k >= 0; k-- {
		fn := chain[k].name.Load()
		if k == 0 && outerNamed {
			fn = &funcName{}
		} else if fn == nil {
			n, err := d.funcName(chain[k].origin)
			if err != nil {
				return nil, err
			}
			fn = &n
			chain[k].name.Store(fn)
		}
		frames = append(frames, Frame{Name: fn.name, SystemName: fn.sys, File: file, Line: line, Discriminator: disc})
		// The next frame out is at the call site of this inlined call.
		file, line, disc = u.lines.File(chain[k].callFile), int(chain[k].callLine), int(chain[k].callDisc)
	}
	return frames, nil
}

// scopesAt appends to chain the function covering addr and the inlined calls
// in it that cover addr, outermost first.
func (u *unitInfo) scopesAt(addr uint64, chain []*scope) []*scope {
	i := sort.Search(len(u.funcs), func(i int) bool { return u.funcs[i].lo > addr }) - 1
	var fn *scope
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		if addr < u.funcs[i].hi {
			fn = u.funcs[i].fn
			break
		}
	}
	if fn == nil {
		return chain
	}
	chain = append(chain, fn)
	for s := fn; ; {
		next := s.child(addr)
		if next == nil {
			return chain
		}
		chain = append(chain, next)
		s = next
	}
}

// child returns the inlined call directly in s that covers addr, or nil.
func (s *scope) child(addr uint64) *scope {
	if s.index == nil {
		for _, c := range s.children {
			if c.contains(addr) {
				return c
			}
		}
		return nil
	}
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].lo > addr }) - 1
	for n := 0; i >= 0 && n < 8; i, n = i-1, n+1 {
		if addr < s.index[i].hi {
			return s.index[i].fn
		}
	}
	return nil
}

// indexChildren sorts the ranges of a scope's many inlined calls, so that
// finding the one at an address is a binary search: a large C++ function
// has hundreds.
func (s *scope) indexChildren() {
	for _, c := range s.children {
		c.indexChildren()
	}
	if len(s.children) <= 8 {
		return
	}
	for _, c := range s.children {
		for _, r := range c.ranges {
			s.index = append(s.index, funcRange{r[0], r[1], c})
		}
	}
	sort.Slice(s.index, func(i, j int) bool { return s.index[i].lo < s.index[j].lo })
}

// parseUnit reads a compile unit's line table and the tree of its
// functions and inlined calls.
func (d *dwarfInfo) parseUnit(u *unitInfo) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err, fmt.Sprintf(" in unit at %#x", u.Offset))
	t, err := d.data.LineTable(u.Unit)
	if err != nil {
		return fmt.Errorf("read line table of unit at %#x: %w", u.Offset, err)
	}
	u.lines = t
	// GCC puts every function with code at the top of its unit (a member
	// or namespace function's definition refers to its declaration with
	// DW_AT_specification), so its namespaces, which hold the whole
	// standard library's declarations in C++, need not be walked.
	flat := strings.HasPrefix(u.Producer, "GNU ")
	if err := d.readScopes(u, flat); err != nil {
		return fmt.Errorf("read DWARF unit at %#x: %w", u.Offset, err)
	}
	return nil
}

// scopeAlloc hands out scopes, range lists and child lists from large
// blocks: a C++ unit has tens of thousands of inlined calls, and allocating
// each piece on its own was a good part of parsing it.
type scopeAlloc struct {
	scopes []scope
	ranges [][2]uint64
	ptrs   []*scope
}

func (a *scopeAlloc) scope() *scope {
	if len(a.scopes) == 0 {
		a.scopes = make([]scope, 256)
	}
	s := &a.scopes[0]
	a.scopes = a.scopes[1:]
	return s
}

func (a *scopeAlloc) rangeList(rs [][2]uint64) [][2]uint64 {
	if len(rs) > 64 {
		return slices.Clone(rs)
	}
	if len(rs) > cap(a.ranges)-len(a.ranges) {
		a.ranges = make([][2]uint64, 0, 1024)
	}
	n := len(a.ranges)
	a.ranges = append(a.ranges, rs...)
	return a.ranges[n:len(a.ranges):len(a.ranges)]
}

func (a *scopeAlloc) ptrList(ps []*scope) []*scope {
	if len(ps) > 64 {
		return slices.Clone(ps)
	}
	if len(ps) > cap(a.ptrs)-len(a.ptrs) {
		a.ptrs = make([]*scope, 0, 1024)
	}
	n := len(a.ptrs)
	a.ptrs = append(a.ptrs, ps...)
	return a.ptrs[n:len(a.ptrs):len(a.ptrs)]
}

// readScopes walks the unit's entries, collecting functions with code and
// the inlined calls inside them. Types and variables are skipped by size,
// or by their DW_AT_sibling, without decoding them.
func (d *dwarfInfo) readScopes(u *unitInfo, flat bool) error {
	r := d.data.Entries(u.Unit)
	// open holds, for each open entry with children, the scope that
	// encloses its children (nil outside any function), whether the entry
	// is that scope's own, and where its children start in kids.
	type open struct {
		s     *scope
		own   bool
		start int
	}
	var (
		stack  []open
		kids   []*scope // children of the open scopes, innermost last
		alloc  scopeAlloc
		ranges [][2]uint64
	)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if e.Null {
			if len(stack) == 0 {
				break // end of the unit's children
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.own {
				top.s.children = alloc.ptrList(kids[top.start:])
				kids = kids[:top.start]
			}
			continue
		}
		var parent *scope
		if len(stack) > 0 {
			parent = stack[len(stack)-1].s
		}
		switch e.Tag {
		case dwarfdata.TagSubprogram, dwarfdata.TagInlinedSubroutine:
			attrs, err := r.Attrs(dwarfdata.WantCode)
			if err != nil {
				return err
			}
			ranges = attrs.Ranges(ranges[:0])
			var sc *scope
			if e.Tag == dwarfdata.TagSubprogram {
				if len(ranges) == 0 {
					// A declaration or an abstract instance: its
					// children are not code.
					if err := r.SkipChildren(); err != nil {
						return err
					}
					continue
				}
				sc = alloc.scope()
				sc.origin = e.Offset
				sc.ranges = alloc.rangeList(ranges)
				for _, rg := range sc.ranges {
					u.funcs = append(u.funcs, funcRange{rg[0], rg[1], sc})
				}
			} else {
				off, ok := attrs.AbstractOrigin()
				if parent == nil || len(ranges) == 0 || !ok || off == 0 {
					if err := r.SkipChildren(); err != nil {
						return err
					}
					continue
				}
				sc = alloc.scope()
				sc.origin = off
				sc.callFile = int32(min(attrs.CallFile, 1<<31-1))
				sc.callLine = int32(min(attrs.CallLine, 1<<31-1))
				sc.callDisc = uint32(min(attrs.Discriminator, 1<<32-1))
				sc.ranges = alloc.rangeList(ranges)
				kids = append(kids, sc)
			}
			if e.Children {
				stack = append(stack, open{s: sc, own: true, start: len(kids)})
			}
		case dwarfdata.TagNamespace, dwarfdata.TagModule, dwarfdata.TagLexicalBlock, dwarfdata.TagTryBlock, dwarfdata.TagCatchBlock:
			// Transparent: functions and inlined calls can sit
			// inside. (Blocks' own ranges do not matter.)
			if flat && (e.Tag == dwarfdata.TagNamespace || e.Tag == dwarfdata.TagModule) {
				if err := r.SkipChildren(); err != nil {
					return err
				}
				continue
			}
			if _, err := r.Attrs(0); err != nil {
				return err
			}
			if e.Children {
				stack = append(stack, open{s: parent})
			}
		default:
			if err := r.SkipChildren(); err != nil {
				return err
			}
		}
	}
	// A unit cut short leaves entries open: their children still count.
	for k := len(stack) - 1; k >= 0; k-- {
		if top := stack[k]; top.own {
			top.s.children = alloc.ptrList(kids[top.start:])
			kids = kids[:top.start]
		}
	}
	sort.Slice(u.funcs, func(i, j int) bool { return u.funcs[i].lo < u.funcs[j].lo })
	for _, f := range u.funcs {
		// A function with several ranges appears several times;
		// index it once.
		if f.fn.ranges[0][0] == f.lo {
			f.fn.indexChildren()
		}
	}
	return nil
}

// funcName returns the names of the subprogram at off, following
// DW_AT_abstract_origin and DW_AT_specification to the entry that has them:
// the linkage name when there is one (as llvm-addr2line prints), else the
// plain name.
func (d *dwarfInfo) funcName(off uint64) (fn funcName, err error) {
	d.mu.Lock()
	fn, ok := d.funcs[off]
	d.mu.Unlock()
	if ok {
		return fn, nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err, "")
	var linkage, plain []byte
	// The chain is short in valid DWARF; the bound stops cycles.
	for next, hops := off, 0; next != 0 && hops < 8; hops++ {
		r, ok := d.data.EntriesAt(next)
		if !ok {
			break
		}
		if e, err := r.Next(); err != nil || e.Null {
			break
		}
		next = 0
		attrs, err := r.Attrs(dwarfdata.WantNames)
		if err != nil {
			break
		}
		if l := attrs.LinkageName(); len(l) > 0 {
			linkage = l
			break
		}
		if n := attrs.Name(); len(n) > 0 && plain == nil {
			plain = n
		}
		if o, ok := attrs.AbstractOrigin(); ok {
			next = o
		} else if o, ok := attrs.Specification(); ok {
			next = o
		}
	}
	switch {
	case linkage != nil:
		sys := string(linkage) // a copy: the mapping may go before it does
		fn = funcName{name: d.names.demangle(sys), sys: sys}
	default:
		fn = funcName{name: string(plain), sys: string(plain)}
	}
	d.mu.Lock()
	d.funcs[off] = fn
	d.mu.Unlock()
	return fn, nil
}
