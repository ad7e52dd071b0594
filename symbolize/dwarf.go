package symbolize

import (
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// dwarfInfo answers address lookups from DWARF, reading as little as it can:
// the sections are mapped and the unit headers read on the first lookup, and
// a compile unit's line table and function tree only when an address falls
// in it.
//
// The sections are read with the minimal reader in dwarf_read.go, which
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
	secs  *dwarfSections
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
	*unitHeader
	once  sync.Once
	err   error
	files []string
	seqs  []lineSeq   // sorted by lo
	funcs []funcRange // sorted by lo
}

// lineSeq is one sequence of the line table: rows at increasing addresses,
// covering [lo, hi).
type lineSeq struct {
	lo, hi uint64
	rows   []lineRow
	discs  []rowDisc // of the few rows with a discriminator, by row
}

// rowDisc is the discriminator of row i of a sequence: kept apart, as most
// rows have none and rows are most of a unit's memory.
type rowDisc struct {
	i    int32
	disc uint32
}

type lineRow struct {
	addr uint64
	file int32
	line int32
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
	d.useSections(secs)
}

// useSections reads the unit headers of secs and indexes the units by
// address.
func (d *dwarfInfo) useSections(secs *dwarfSections) {
	d.secs = secs
	hdrs, err := readUnits(secs)
	if err != nil && len(hdrs) == 0 {
		d.err = fmt.Errorf("read DWARF: %w", err)
		return
	}
	// A corrupt unit ends the walk; the units before it still answer.
	for _, h := range hdrs {
		u := &unitInfo{unitHeader: h}
		d.units = append(d.units, u)
		for _, rg := range h.ranges {
			d.index = append(d.index, unitRange{rg[0], rg[1], u})
		}
		h.ranges = nil
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
	sort.SliceStable(order, func(i, j int) bool { return order[i].end-order[i].off > order[j].end-order[j].off })
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
	file, line, disc := u.lineAt(addr)
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
		file, line, disc = u.file(chain[k].callFile), int(chain[k].callLine), int(chain[k].callDisc)
	}
	return frames, nil
}

func (u *unitInfo) file(i int32) string {
	if i < 0 || int(i) >= len(u.files) {
		return ""
	}
	return u.files[i]
}

// lineAt returns the file, line and discriminator of the row covering addr.
func (u *unitInfo) lineAt(addr uint64) (string, int, int) {
	i := sort.Search(len(u.seqs), func(i int) bool { return u.seqs[i].lo > addr }) - 1
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		s := &u.seqs[i]
		if addr >= s.hi {
			continue
		}
		// Of several rows at one address, the last one wins, as in LLVM.
		j := sort.Search(len(s.rows), func(j int) bool { return s.rows[j].addr > addr }) - 1
		if j < 0 {
			return "", 0, 0
		}
		disc := 0
		if k := sort.Search(len(s.discs), func(k int) bool { return int(s.discs[k].i) >= j }); k < len(s.discs) && int(s.discs[k].i) == j {
			disc = int(s.discs[k].disc)
		}
		return u.file(s.rows[j].file), int(s.rows[j].line), disc
	}
	return "", 0, 0
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
	defer guard(&err, fmt.Sprintf(" in unit at %#x", u.off))
	if u.stmtList >= 0 {
		t, err := d.secs.readLineTable(u.unitHeader, uint64(u.stmtList))
		if err != nil {
			return fmt.Errorf("read line table of unit at %#x: %w", u.off, err)
		}
		u.files = t.files
		u.seqs = t.seqs
		sort.Slice(u.seqs, func(i, j int) bool { return u.seqs[i].lo < u.seqs[j].lo })
	}
	if !u.hasChildren {
		return nil
	}
	// GCC puts every function with code at the top of its unit (a member
	// or namespace function's definition refers to its declaration with
	// DW_AT_specification), so its namespaces, which hold the whole
	// standard library's declarations in C++, need not be walked.
	flat := strings.HasPrefix(u.producer, "GNU ")
	if err := d.readScopes(u, flat); err != nil {
		return fmt.Errorf("read DWARF unit at %#x: %w", u.off, err)
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
	s := d.secs
	h := u.unitHeader
	r := dbuf{b: s.info[:h.end], off: h.data, big: s.big}
	// Past the unit's own entry.
	if a := h.abbrevs.get(r.uleb()); a != nil {
		s.skipAttrs(&r, h, a)
	}
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
	for r.off < len(r.b) {
		entry := r.off
		code := r.uleb()
		if r.bad {
			return fmt.Errorf("truncated entry at %#x", entry)
		}
		if code == 0 {
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
		a := h.abbrevs.get(code)
		if a == nil {
			return fmt.Errorf("entry at %#x: unknown abbreviation %d", entry, code)
		}
		var parent *scope
		if len(stack) > 0 {
			parent = stack[len(stack)-1].s
		}
		switch a.tag {
		case tagSubprogram, tagInlinedSubroutine:
			var low, high, rng attrValue
			var origin, sibling attrValue
			var callFile, callLine, callDisc uint64
			for i := range a.attrs {
				spec := &a.attrs[i]
				switch spec.attr {
				case atLowPC:
					low = s.readValue(&r, h, spec)
				case atHighPC:
					high = s.readValue(&r, h, spec)
				case atRanges:
					rng = s.readValue(&r, h, spec)
				case atAbstractOrigin:
					origin = s.readValue(&r, h, spec)
				case atCallFile:
					callFile = s.readValue(&r, h, spec).v
				case atCallLine:
					callLine = s.readValue(&r, h, spec).v
				case atGNUDiscriminator:
					callDisc = s.readValue(&r, h, spec).v
				case atSibling:
					sibling = s.readValue(&r, h, spec)
				default:
					if spec.size >= 0 {
						r.skip(uint64(spec.size))
					} else {
						s.readValue(&r, h, spec)
					}
				}
			}
			if r.bad {
				return fmt.Errorf("truncated entry at %#x", entry)
			}
			ranges = s.rangesOf(h, low, high, rng, ranges[:0])
			var sc *scope
			if a.tag == tagSubprogram {
				if len(ranges) == 0 {
					// A declaration or an abstract instance: its
					// children are not code.
					if err := d.skipChildren(&r, h, a, sibling, entry); err != nil {
						return err
					}
					continue
				}
				sc = alloc.scope()
				sc.origin = uint64(entry)
				sc.ranges = alloc.rangeList(ranges)
				for _, rg := range sc.ranges {
					u.funcs = append(u.funcs, funcRange{rg[0], rg[1], sc})
				}
			} else {
				off, ok := ref(h, origin)
				if parent == nil || len(ranges) == 0 || !ok || off == 0 {
					if err := d.skipChildren(&r, h, a, sibling, entry); err != nil {
						return err
					}
					continue
				}
				sc = alloc.scope()
				sc.origin = off
				sc.callFile = int32(min(callFile, 1<<31-1))
				sc.callLine = int32(min(callLine, 1<<31-1))
				sc.callDisc = uint32(min(callDisc, 1<<32-1))
				sc.ranges = alloc.rangeList(ranges)
				kids = append(kids, sc)
			}
			if a.children {
				stack = append(stack, open{s: sc, own: true, start: len(kids)})
			}
		case tagNamespace, tagModule, tagLexicalBlock, tagTryBlock, tagCatchBlock:
			// Transparent: functions and inlined calls can sit
			// inside. (Blocks' own ranges do not matter.)
			var sibling attrValue
			for i := range a.attrs {
				spec := &a.attrs[i]
				if spec.attr == atSibling {
					sibling = s.readValue(&r, h, spec)
				} else if spec.size >= 0 {
					r.skip(uint64(spec.size))
				} else {
					s.readValue(&r, h, spec)
				}
			}
			if r.bad {
				return fmt.Errorf("truncated entry at %#x", entry)
			}
			if flat && (a.tag == tagNamespace || a.tag == tagModule) {
				if err := d.skipChildren(&r, h, a, sibling, entry); err != nil {
					return err
				}
				continue
			}
			if a.children {
				stack = append(stack, open{s: parent})
			}
		default:
			if err := d.skipEntry(&r, h, a, entry); err != nil {
				return err
			}
		}
	}
	if r.bad {
		return fmt.Errorf("truncated unit")
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

// skipEntry moves r past an entry whose attributes have not been read, and
// past its children.
func (d *dwarfInfo) skipEntry(r *dbuf, h *unitHeader, a *abbrev, entry int) error {
	if !a.children {
		d.secs.skipAttrs(r, h, a)
		return nil
	}
	var sibling attrValue
	for i := range a.attrs {
		spec := &a.attrs[i]
		if spec.attr == atSibling {
			sibling = d.secs.readValue(r, h, spec)
		} else if spec.size >= 0 {
			r.skip(uint64(spec.size))
		} else {
			d.secs.readValue(r, h, spec)
		}
	}
	return d.skipChildren(r, h, a, sibling, entry)
}

// skipChildren moves r, just past the attributes of an entry, past its
// children: to its DW_AT_sibling when that points forward within the unit,
// else by walking them.
func (d *dwarfInfo) skipChildren(r *dbuf, h *unitHeader, a *abbrev, sibling attrValue, entry int) error {
	if r.bad {
		return fmt.Errorf("truncated entry at %#x", entry)
	}
	if !a.children {
		return nil
	}
	if off, ok := ref(h, sibling); ok && off > uint64(r.off) && off <= uint64(len(r.b)) {
		r.off = int(off)
		return nil
	}
	for depth := 1; depth > 0; {
		at := r.off
		code := r.uleb()
		if r.bad {
			return fmt.Errorf("truncated children of entry at %#x", entry)
		}
		if code == 0 {
			depth--
			continue
		}
		c := h.abbrevs.get(code)
		if c == nil {
			return fmt.Errorf("entry at %#x: unknown abbreviation %d", at, code)
		}
		d.secs.skipAttrs(r, h, c)
		if c.children {
			depth++
		}
	}
	if r.bad {
		return fmt.Errorf("truncated children of entry at %#x", entry)
	}
	return nil
}

// unitAt returns the unit holding the .debug_info offset off.
func (d *dwarfInfo) unitAt(off uint64) *unitInfo {
	i := sort.Search(len(d.units), func(i int) bool { return uint64(d.units[i].end) > off })
	if i < len(d.units) && uint64(d.units[i].data) <= off {
		return d.units[i]
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
	s := d.secs
	var linkage, plain []byte
	// The chain is short in valid DWARF; the bound stops cycles.
	for next, hops := off, 0; next != 0 && hops < 8; hops++ {
		u := d.unitAt(next)
		if u == nil {
			break
		}
		h := u.unitHeader
		r := dbuf{b: s.info[:h.end], off: int(next), big: s.big}
		a := h.abbrevs.get(r.uleb())
		if r.bad || a == nil {
			break
		}
		next = 0
		var name, link, origin, spec attrValue
		for i := range a.attrs {
			sp := &a.attrs[i]
			switch sp.attr {
			case atName:
				name = s.readValue(&r, h, sp)
			case atLinkageName, atMIPSLinkageName:
				link = s.readValue(&r, h, sp)
			case atAbstractOrigin:
				origin = s.readValue(&r, h, sp)
			case atSpecification:
				spec = s.readValue(&r, h, sp)
			default:
				if sp.size >= 0 {
					r.skip(uint64(sp.size))
				} else {
					s.readValue(&r, h, sp)
				}
			}
		}
		if r.bad {
			break
		}
		if l := s.strVal(h, link); len(l) > 0 {
			linkage = l
			break
		}
		if n := s.strVal(h, name); len(n) > 0 && plain == nil {
			plain = n
		}
		if o, ok := ref(h, origin); ok {
			next = o
		} else if o, ok := ref(h, spec); ok {
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
