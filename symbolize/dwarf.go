package symbolize

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// dwarfInfo answers address lookups from DWARF, reading as little as it can:
// the sections are loaded on the first lookup, and a compile unit's line
// table and function tree only when an address falls in it.
//
// debug/dwarf can panic on some malformed inputs (out-of-range slices while
// decoding attributes); every entry point into it recovers and reports an
// error instead, since a corrupt debug file must not take the profiler down.
type dwarfInfo struct {
	ef    *elf.File
	size  int64 // of the ELF file, -1 if unknown
	names *nameCache

	once  sync.Once
	data  *dwarf.Data
	err   error
	units []*unitInfo
	index []unitRange // sorted by lo

	maxEntries int // bound on entries walked, from the size of .debug_info

	mu    sync.Mutex
	funcs map[dwarf.Offset]funcName
}

// unitRange is one address range of a compile unit.
type unitRange struct {
	lo, hi uint64
	unit   *unitInfo
}

// unitInfo is what one compile unit knows, parsed on first use.
type unitInfo struct {
	off   dwarf.Offset // of the compile unit's entry
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
}

type lineRow struct {
	addr uint64
	file int32
	line int32
}

// scope is a function or an inlined call in it: where it is, which DIE names
// it, and for inlined calls the call site.
type scope struct {
	name     atomic.Pointer[funcName] // resolved on first use
	origin   dwarf.Offset
	callFile int32
	callLine int32
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

func newDWARFInfo(ef *elf.File, size int64, names *nameCache) *dwarfInfo {
	return &dwarfInfo{ef: ef, size: size, names: names, funcs: make(map[dwarf.Offset]funcName)}
}

// load reads the DWARF sections and indexes compile units by address.
func (d *dwarfInfo) load() {
	defer func() {
		if r := recover(); r != nil {
			d.err = fmt.Errorf("malformed DWARF: %v", r)
		}
	}()
	data, err := loadDWARF(d.ef, d.size)
	if err != nil {
		d.err = fmt.Errorf("read DWARF: %w", err)
		return
	}
	d.data = data
	// Every entry takes at least a byte of .debug_info, so no walk can
	// read more entries than it has bytes; a corrupt unit can make
	// debug/dwarf return null entries forever without moving on.
	d.maxEntries = 16
	for _, name := range []string{".debug_info", ".zdebug_info"} {
		if s := d.ef.Section(name); s != nil {
			d.maxEntries += int(s.Size)
		}
	}
	r := data.Reader()
	last := dwarf.Offset(0)
	for n := 0; ; n++ {
		if n > d.maxEntries {
			d.err = fmt.Errorf("malformed DWARF: more entries than bytes")
			return
		}
		e, err := r.Next()
		if err != nil {
			d.err = fmt.Errorf("read DWARF: %w", err)
			return
		}
		if e == nil {
			break
		}
		// Corrupt sibling links can send the reader back to an entry
		// it read before; valid DWARF only moves forward.
		if e.Tag != 0 && e.Offset <= last && last != 0 {
			d.err = fmt.Errorf("malformed DWARF: entry at %#x read twice", e.Offset)
			return
		}
		if e.Tag != 0 {
			last = e.Offset
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			u := &unitInfo{off: e.Offset}
			d.units = append(d.units, u)
			ranges, err := data.Ranges(e)
			if err != nil {
				// One unit's bad ranges hide that unit only.
				ranges = nil
			}
			for _, rg := range ranges {
				if rg[0] != 0 && rg[0] < rg[1] {
					d.index = append(d.index, unitRange{rg[0], rg[1], u})
				}
			}
		}
		r.SkipChildren()
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
	next := make(chan *unitInfo)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				u.once.Do(func() { u.err = d.parseUnit(u) })
			}
		}()
	}
	for _, u := range d.units {
		next <- u
	}
	close(next)
	wg.Wait()
}

// frames returns the frames at addr, innermost first, or nil when no compile
// unit covers it. The outermost frame's Name is "" when the unit has a line
// table but no function covering addr.
func (d *dwarfInfo) frames(addr uint64) (frames []Frame, err error) {
	d.once.Do(d.load)
	if d.err != nil {
		return nil, d.err
	}
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
	u.once.Do(func() { u.err = d.parseUnit(u) })
	if u.err != nil {
		return nil, u.err
	}
	defer func() {
		if r := recover(); r != nil {
			frames, err = nil, fmt.Errorf("malformed DWARF: %v", r)
		}
	}()
	file, line := u.lineAt(addr)
	chain := u.scopesAt(addr)
	if chain == nil {
		if file == "" && line == 0 {
			return nil, nil
		}
		return []Frame{{File: file, Line: line}}, nil
	}
	frames = make([]Frame, 0, len(chain))
	for k := len(chain) - 1; k >= 0; k-- {
		fn := chain[k].name.Load()
		if fn == nil {
			n := d.funcName(chain[k].origin)
			fn = &n
			chain[k].name.Store(fn)
		}
		frames = append(frames, Frame{Name: fn.name, SystemName: fn.sys, File: file, Line: line})
		// The next frame out is at the call site of this inlined call.
		file, line = u.file(chain[k].callFile), int(chain[k].callLine)
	}
	return frames, nil
}

func (u *unitInfo) file(i int32) string {
	if i < 0 || int(i) >= len(u.files) {
		return ""
	}
	return u.files[i]
}

// lineAt returns the file and line of the row covering addr.
func (u *unitInfo) lineAt(addr uint64) (string, int) {
	i := sort.Search(len(u.seqs), func(i int) bool { return u.seqs[i].lo > addr }) - 1
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		s := &u.seqs[i]
		if addr >= s.hi {
			continue
		}
		// Of several rows at one address, the last one wins, as in LLVM.
		j := sort.Search(len(s.rows), func(j int) bool { return s.rows[j].addr > addr }) - 1
		if j < 0 {
			return "", 0
		}
		return u.file(s.rows[j].file), int(s.rows[j].line)
	}
	return "", 0
}

// scopesAt returns the function covering addr and the inlined calls in it
// that cover addr, outermost first.
func (u *unitInfo) scopesAt(addr uint64) []*scope {
	i := sort.Search(len(u.funcs), func(i int) bool { return u.funcs[i].lo > addr }) - 1
	var fn *scope
	for n := 0; i >= 0 && n < 16; i, n = i-1, n+1 {
		if addr < u.funcs[i].hi {
			fn = u.funcs[i].fn
			break
		}
	}
	if fn == nil {
		return nil
	}
	chain := []*scope{fn}
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
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed DWARF in unit at %#x: %v", u.off, r)
		}
	}()
	r := d.data.Reader()
	r.Seek(u.off)
	cu, err := r.Next()
	if err != nil {
		return fmt.Errorf("read DWARF unit at %#x: %w", u.off, err)
	}
	if cu == nil {
		return fmt.Errorf("read DWARF unit at %#x: no entry", u.off)
	}
	if err := u.readLines(d.data, cu); err != nil {
		return fmt.Errorf("read line table of unit at %#x: %w", u.off, err)
	}
	if !cu.Children {
		return nil
	}
	// GCC puts every function with code at the top of its unit (a member
	// or namespace function's definition refers to its declaration with
	// DW_AT_specification), so its namespaces, which hold the whole
	// standard library's declarations in C++, need not be walked.
	producer, _ := cu.Val(dwarf.AttrProducer).(string)
	flat := strings.HasPrefix(producer, "GNU ")
	if err := u.readScopes(d.data, r, d.maxEntries, flat); err != nil {
		return fmt.Errorf("read DWARF unit at %#x: %w", u.off, err)
	}
	return nil
}

func (u *unitInfo) readLines(data *dwarf.Data, cu *dwarf.Entry) error {
	lr, err := data.LineReader(cu)
	if err != nil || lr == nil {
		return err
	}
	fileIndex := make(map[*dwarf.LineFile]int32)
	index := func(f *dwarf.LineFile) int32 {
		if i, ok := fileIndex[f]; ok {
			return i
		}
		// Files can be added as the program runs (DW_LNE_define_file).
		for i, g := range lr.Files() {
			fileIndex[g] = int32(i)
		}
		if i, ok := fileIndex[f]; ok {
			return i
		}
		return -1
	}
	var (
		e        dwarf.LineEntry
		rows     []lineRow
		lastFile *dwarf.LineFile
		lastIdx  int32 = -1
	)
	for {
		if err := lr.Next(&e); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if e.EndSequence {
			if len(rows) > 0 && rows[0].addr != 0 && rows[0].addr < e.Address {
				u.seqs = append(u.seqs, lineSeq{lo: rows[0].addr, hi: e.Address, rows: rows})
			}
			rows = nil
			continue
		}
		if e.File != lastFile {
			lastFile, lastIdx = e.File, index(e.File)
		}
		if n := len(rows); n > 0 && e.Address < rows[n-1].addr {
			// Rows must increase within a sequence; a malformed
			// table that goes back is cut here.
			continue
		}
		rows = append(rows, lineRow{addr: e.Address, file: lastIdx, line: int32(e.Line)})
	}
	// debug/dwarf leaves DWARF 5 names relative when their directory is
	// (gcc's "src/c"); like LLVM, take them as relative to DW_AT_comp_dir.
	compDir, _ := cu.Val(dwarf.AttrCompDir).(string)
	files := lr.Files()
	u.files = make([]string, len(files))
	for i, f := range files {
		if f == nil {
			continue
		}
		u.files[i] = f.Name
		if compDir != "" && f.Name != "" && !path.IsAbs(f.Name) && f.Name[0] != '<' {
			u.files[i] = path.Join(compDir, f.Name)
		}
	}
	sort.Slice(u.seqs, func(i, j int) bool { return u.seqs[i].lo < u.seqs[j].lo })
	return nil
}

// readScopes walks the unit's entries, with r just past the unit's entry,
// collecting functions with code and the inlined calls inside them. Types
// and variables are skipped without decoding their children.
func (u *unitInfo) readScopes(data *dwarf.Data, r *dwarf.Reader, maxEntries int, flat bool) error {
	// stack holds, for each open entry with children, the scope that
	// encloses its children (nil outside any function).
	var stack []*scope
	last := dwarf.Offset(0)
	for n := 0; ; n++ {
		if n > maxEntries {
			return fmt.Errorf("more entries than bytes")
		}
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		// As in load: a corrupt sibling link must not loop forever.
		// (Null entries carry no offset.)
		if e.Tag != 0 {
			if e.Offset <= last {
				return fmt.Errorf("entry at %#x read twice", e.Offset)
			}
			last = e.Offset
		}
		if e.Tag == 0 {
			if len(stack) == 0 {
				break // end of the unit
			}
			stack = stack[:len(stack)-1]
			continue
		}
		var parent *scope
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		switch e.Tag {
		case dwarf.TagSubprogram:
			ranges := validRanges(entryRanges(data, e))
			if len(ranges) == 0 {
				// A declaration or an abstract instance: its
				// children are not code.
				r.SkipChildren()
				continue
			}
			s := &scope{origin: e.Offset, ranges: ranges}
			for _, rg := range ranges {
				u.funcs = append(u.funcs, funcRange{rg[0], rg[1], s})
			}
			if e.Children {
				stack = append(stack, s)
			}
		case dwarf.TagInlinedSubroutine:
			ranges := validRanges(entryRanges(data, e))
			origin, _ := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
			if parent == nil || len(ranges) == 0 || origin == 0 {
				r.SkipChildren()
				continue
			}
			file, _ := e.Val(dwarf.AttrCallFile).(int64)
			line, _ := e.Val(dwarf.AttrCallLine).(int64)
			s := &scope{origin: origin, callFile: int32(file), callLine: int32(line), ranges: ranges}
			parent.children = append(parent.children, s)
			if e.Children {
				stack = append(stack, s)
			}
		case dwarf.TagNamespace, dwarf.TagModule:
			if flat {
				r.SkipChildren()
				continue
			}
			if e.Children {
				stack = append(stack, parent)
			}
		case dwarf.TagLexDwarfBlock, dwarf.TagTryDwarfBlock, dwarf.TagCatchDwarfBlock:
			// Transparent: functions and inlined calls can sit inside.
			if e.Children {
				stack = append(stack, parent)
			}
		default:
			r.SkipChildren()
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

// entryRanges returns an entry's address ranges. The common case,
// DW_AT_low_pc with DW_AT_high_pc, is read directly: dwarf.Data.Ranges looks
// up the unit's base address on every call, which for an entry that does not
// need it is most of the cost of walking a unit.
func entryRanges(data *dwarf.Data, e *dwarf.Entry) [][2]uint64 {
	if e.Val(dwarf.AttrRanges) == nil {
		low, ok := e.Val(dwarf.AttrLowpc).(uint64)
		if !ok {
			return nil
		}
		switch f := e.AttrField(dwarf.AttrHighpc); {
		case f == nil:
			return nil
		case f.Class == dwarf.ClassConstant:
			if n, ok := f.Val.(int64); ok && n > 0 {
				return [][2]uint64{{low, low + uint64(n)}}
			}
			return nil
		case f.Class == dwarf.ClassAddress:
			if high, ok := f.Val.(uint64); ok {
				return [][2]uint64{{low, high}}
			}
			return nil
		}
	}
	ranges, _ := data.Ranges(e)
	return ranges
}

// validRanges drops empty ranges and those of code the linker discarded,
// which keep address 0.
func validRanges(rs [][2]uint64) [][2]uint64 {
	out := rs[:0]
	for _, r := range rs {
		if r[0] != 0 && r[0] < r[1] {
			out = append(out, r)
		}
	}
	return out
}

// funcName returns the names of the subprogram at off, following
// DW_AT_abstract_origin and DW_AT_specification to the entry that has them:
// the linkage name when there is one (as llvm-addr2line prints), else the
// plain name.
func (d *dwarfInfo) funcName(off dwarf.Offset) funcName {
	d.mu.Lock()
	fn, ok := d.funcs[off]
	d.mu.Unlock()
	if ok {
		return fn
	}
	var linkage, plain string
	r := d.data.Reader()
	// The chain is short in valid DWARF; the bound stops cycles.
	for next, hops := off, 0; next != 0 && hops < 8; hops++ {
		r.Seek(next)
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if s, ok := e.Val(dwarf.AttrLinkageName).(string); ok && s != "" {
			linkage = s
			break
		}
		if s, ok := e.Val(attrMIPSLinkageName).(string); ok && s != "" {
			linkage = s
			break
		}
		if s, ok := e.Val(dwarf.AttrName).(string); ok && plain == "" {
			plain = s
		}
		next = 0
		if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
			next = o
		} else if o, ok := e.Val(dwarf.AttrSpecification).(dwarf.Offset); ok {
			next = o
		}
	}
	switch {
	case linkage != "":
		fn = funcName{name: d.names.demangle(linkage), sys: linkage}
	default:
		fn = funcName{name: plain, sys: plain}
	}
	d.mu.Lock()
	d.funcs[off] = fn
	d.mu.Unlock()
	return fn
}

// attrMIPSLinkageName is DW_AT_MIPS_linkage_name, which older compilers emit
// instead of DW_AT_linkage_name.
const attrMIPSLinkageName dwarf.Attr = 0x2007
