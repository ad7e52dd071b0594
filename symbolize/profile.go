// Package symbolize turns raw stacks into a pprof profile with function names,
// files, lines and inlined calls, for the kernel and for user processes.
package symbolize

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// Config says where a Symbolizer reads processes and binaries from.
type Config struct {
	// ProcRoot is the proc filesystem to read; "" means /proc.
	ProcRoot string
	// Cache shares parsed binaries; nil means a new one with default limits.
	Cache *Cache
}

// Symbolizer captures processes while a collector runs and builds profiles
// from the raw records afterwards.
type Symbolizer struct {
	procRoot string
	cache    *Cache

	mu     sync.Mutex
	procs  map[uint32]*Process
	files  *process.Files
	denied map[uint32]bool // processes refused for lack of privilege
	gone   forgetting      // see forget.go

	kernelOnce sync.Once
	kernel     *Kernel
	kernelErr  error

	vdsoOnce sync.Once
	vdso     *Binary
	vdsoErr  error

	// resolveMu serializes Warm and Profile, which parse mappings' binaries
	// and fill memo; memo holds the frames of every (binary, address)
	// looked up so far, so Warm's work is not done again; warmed skips
	// stacks Warm has seen (see warm.go).
	resolveMu sync.Mutex
	memo      map[frameKey][]Frame
	warmed    map[stackKey]struct{}
	memoBins  map[*Binary]struct{}
	counts    Counts // Captures under mu, the rest under resolveMu
}

// New returns a Symbolizer for the running system.
func New(cfg Config) *Symbolizer {
	s := &Symbolizer{procRoot: cfg.ProcRoot, cache: cfg.Cache, procs: make(map[uint32]*Process), denied: make(map[uint32]bool),
		memo: make(map[frameKey][]Frame), warmed: make(map[stackKey]struct{}), memoBins: make(map[*Binary]struct{})}
	s.files = process.NewFiles()
	if s.procRoot == "" {
		s.procRoot = "/proc"
	}
	if s.cache == nil {
		s.cache = NewCache(CacheConfig{})
	}
	return s
}

// Capture snapshots a process's mappings and opens its files now, so that it
// still symbolizes if it exits before the profile ends. Capturing a process
// again (after an exec) replaces the earlier snapshot.
func (s *Symbolizer) Capture(pid uint32) error {
	s.mu.Lock()
	s.counts.Captures++
	s.mu.Unlock()
	p, err := capture(s.procRoot, pid, s.files, s.readVDSO)
	s.noteDenied(pid, p, err)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if old := s.procs[pid]; old != nil {
		if s.gone.retired == nil {
			s.gone.retired = make(map[uint32][]*Process)
		}
		s.gone.retired[pid] = append(s.gone.retired[pid], old)
	}
	s.procs[pid] = p
	s.mu.Unlock()
	return nil
}

// Close releases the files held for captured processes.
func (s *Symbolizer) Close() error {
	s.files.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		p.close()
	}
	for _, ps := range s.gone.retired {
		for _, p := range ps {
			p.close()
		}
	}
	s.gone.retired = nil
	return nil
}

// process returns the capture of pid whose command name is comm: the latest,
// unless pid has exec'd since samples named comm were taken, whose addresses
// are in the program it ran before; "" takes the latest.
func (s *Symbolizer) process(pid uint32, comm string) *Process {
	s.mu.Lock()
	p := s.procs[pid]
	if p != nil && comm != "" && p.comm != comm {
		// By pid: a thread that named itself differs from every
		// capture, on each of its records.
		old := s.gone.retired[pid]
		for i := len(old) - 1; i >= 0; i-- {
			if old[i].comm == comm {
				p = old[i]
				break
			}
		}
	}
	s.mu.Unlock()
	if p == nil {
		// Not announced in time (or the announcement was lost): try now, and
		// remember a failure as an empty process so it is tried once.
		if err := s.Capture(pid); err != nil {
			s.mu.Lock()
			s.procs[pid] = &Process{PID: pid}
			s.mu.Unlock()
		}
		s.mu.Lock()
		p = s.procs[pid]
		s.mu.Unlock()
	}
	return p
}

// readVDSO reads the vDSO image from a process's memory; every process on one
// kernel maps the same image, so it is read once.
func (s *Symbolizer) readVDSO(pid uint32, m *Mapping) (*Binary, error) {
	s.vdsoOnce.Do(func() {
		img, err := process.ReadVDSO(process.Dir(s.procRoot, pid), m.Mapping)
		if err != nil {
			s.vdsoErr = err
			return
		}
		s.vdso, s.vdsoErr = NewBinary(bytes.NewReader(img), "[vdso]")
	})
	return s.vdso, s.vdsoErr
}

// PreloadKernel starts reading the kernel's symbols in the background, so
// that a profile built later need not wait for /proc/kallsyms (70-200 ms).
func (s *Symbolizer) PreloadKernel() { go s.kernelSymbols() }

func (s *Symbolizer) kernelSymbols() (*Kernel, error) {
	s.kernelOnce.Do(func() { s.kernel, s.kernelErr = OpenKernel() })
	return s.kernel, s.kernelErr
}

// ProfileOptions describes the profile being built.
type ProfileOptions struct {
	// OffCPU makes the second value blocked time ("offcpu/nanoseconds")
	// instead of CPU time ("cpu/nanoseconds").
	OffCPU bool
	// Wall makes the values CPU time, blocked time and their sum
	// ("cpu", "offcpu", "wall", in nanoseconds), each record's in the
	// first or the second by its OffCPU: where a thread's wall time goes.
	Wall bool
	// Period is the sampling period in nanoseconds (CPU profiles).
	Period int64
	// Start and Duration say when and how long the collector ran.
	Start    time.Time
	Duration time.Duration
	// Comments are stored in the profile (command line, loss counters).
	Comments []string
	// KernelLeaf, if set, drops the kernel frames leafward of the first frame
	// in this function: off-CPU stacks are taken inside the tracing code that
	// __schedule calls, whose depth differs between kernels.
	KernelLeaf string
	// Cancel, when closed, stops symbolization (the user interrupted it,
	// or a slow file holds it up): the profile is built at once, its
	// addresses not yet looked up left without names.
	Cancel <-chan struct{}
}

// Profile builds a pprof profile from raw records. Each record becomes one
// sample whose locations run leaf first: kernel frames, then user frames.
func (s *Symbolizer) Profile(recs []sample.Record, o ProfileOptions) (*profile.Profile, error) {
	b := &builder{
		s:        s,
		locs:     make(map[locKey]*profile.Location),
		funcs:    make(map[profile.Function]*profile.Function),
		mappings: make(map[*Mapping]*profile.Mapping),
		unmapped: make(map[unmappedKey]*profile.Location),
		markers:  make(map[string]*profile.Location),
		p:        &profile.Profile{},
		cancel:   o.Cancel,
	}
	p := b.p
	switch {
	case o.Wall:
		p.SampleType = []*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}, {Type: "offcpu", Unit: "nanoseconds"}, {Type: "wall", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "wall", Unit: "nanoseconds"}
		p.Period = 1
		p.DefaultSampleType = "wall"
	case o.OffCPU:
		p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "offcpu", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "offcpu", Unit: "nanoseconds"}
		p.Period = 1
		p.DefaultSampleType = "offcpu"
	default:
		p.SampleType = []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
		p.Period = o.Period
		p.DefaultSampleType = "cpu"
	}
	p.TimeNanos = o.Start.UnixNano()
	p.DurationNanos = int64(o.Duration)
	p.Comments = o.Comments

	// Held to the end: the builder reads mappings and the memo that Warm
	// writes.
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	s.resolve(recs, o.Cancel)
	for i := range recs {
		r := &recs[i]
		smp := &profile.Sample{
			Value:    []int64{int64(r.Count), int64(r.Nanos)},
			Label:    map[string][]string{sample.LabelComm: {r.Comm}},
			NumLabel: map[string][]int64{sample.LabelPID: {int64(r.TGID)}, sample.LabelTID: {int64(r.TID)}},
		}
		leaf := o.KernelLeaf
		if o.Wall {
			smp.Value = []int64{int64(r.Nanos), 0, int64(r.Nanos)}
			if r.OffCPU {
				smp.Value[0], smp.Value[1] = 0, int64(r.Nanos)
			} else {
				leaf = "" // the off-CPU trim is for blocked stacks only
			}
		}
		smp.Location = b.kernelLocations(smp.Location, r.Kernel, leaf)
		smp.Location = b.userLocations(smp.Location, r.TGID, r.Comm, r.User)
		p.Sample = append(p.Sample, smp)
	}
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("build profile: %w", err)
	}
	return p, nil
}

type locKey struct {
	mapping *profile.Mapping
	pc      uint64
	caller  bool
}

type frameKey struct {
	bin  *Binary
	addr uint64
}

type builder struct {
	s         *Symbolizer
	p         *profile.Profile
	locs      map[locKey]*profile.Location
	funcs     map[profile.Function]*profile.Function
	mappings  map[*Mapping]*profile.Mapping
	unmapped  map[unmappedKey]*profile.Location
	markers   map[string]*profile.Location
	kernelMap *profile.Mapping
	cancel    <-chan struct{}
}

// canceled reports whether ProfileOptions.Cancel is closed: from then on
// nothing that may read a file (a binary, a debug file, a perf map) is
// called, since a lookup abandoned in another goroutine may hold the
// binary.
func (b *builder) canceled() bool {
	select {
	case <-b.cancel:
		return true
	default:
		return false
	}
}

func (b *builder) kernelLocations(locs []*profile.Location, st sample.Stack, leaf string) []*profile.Location {
	switch st.State {
	case sample.StackMissed:
		return append(locs, b.marker(sample.MissedKernel))
	case sample.StackOK:
	default:
		return locs
	}
	if len(st.PCs) == 0 {
		return locs // nothing to wait for /proc/kallsyms for
	}
	k, err := b.s.kernelSymbols()
	m := b.kernelMapping(k)
	first := 0
	if leaf != "" && err == nil {
		for i, pc := range st.PCs {
			if name, _, ok := k.Lookup(lookupAddr(pc, i > 0)); ok && name == leaf {
				first = i
				break
			}
		}
	}
	for i := first; i < len(st.PCs); i++ {
		pc := st.PCs[i]
		key := locKey{mapping: m, pc: pc, caller: i > 0}
		if l := b.locs[key]; l != nil {
			locs = append(locs, l)
			continue
		}
		l := b.newLocation(m, pc)
		if err == nil {
			// Return addresses point after the call; look up the call itself.
			if name, module, ok := k.Lookup(lookupAddr(pc, i > 0)); ok {
				file := ""
				if module != "" {
					file = "[" + module + "]"
				}
				l.Line = []profile.Line{{Function: b.function(name, name, file)}}
			}
		}
		b.locs[key] = l
		locs = append(locs, l)
	}
	return locs
}

func (b *builder) kernelMapping(k *Kernel) *profile.Mapping {
	if b.kernelMap == nil {
		var start uint64
		if k != nil {
			start = k.Start()
		}
		b.kernelMap = &profile.Mapping{
			ID:              uint64(len(b.p.Mapping) + 1),
			Start:           start,
			Limit:           ^uint64(0),
			File:            sample.KernelMapping,
			HasFunctions:    k != nil,
			HasFilenames:    false,
			HasLineNumbers:  false,
			HasInlineFrames: false,
		}
		b.p.Mapping = append(b.p.Mapping, b.kernelMap)
	}
	return b.kernelMap
}

func (b *builder) userLocations(locs []*profile.Location, pid uint32, comm string, st sample.Stack) []*profile.Location {
	switch st.State {
	case sample.StackMissed:
		return append(locs, b.marker(sample.MissedUser))
	case sample.StackOK:
	default:
		return locs
	}
	proc := b.s.process(pid, comm)
	for i, pc := range st.PCs {
		caller := i > 0
		m := proc.Find(pc)
		if m == nil {
			locs = append(locs, b.unmappedLocation(proc, pc))
			continue
		}
		pm := b.mapping(m)
		key := locKey{mapping: pm, pc: pc, caller: caller}
		if l := b.locs[key]; l != nil {
			locs = append(locs, l)
			continue
		}
		l := b.newLocation(pm, pc)
		if b.canceled() {
			// Left as a bare address.
		} else if bin := m.binary(b.s.cache); bin != nil {
			if vaddr, ok := bin.AddrForOffset(pc - m.Start + m.Offset); ok {
				for _, f := range b.s.frames(bin, lookupAddr(vaddr, caller)) {
					l.Line = append(l.Line, profile.Line{Function: b.function(f.Name, f.SystemName, f.File), Line: int64(f.Line)})
				}
			}
		}
		b.locs[key] = l
		locs = append(locs, l)
	}
	return locs
}

// lookupAddr steps a return address back into the call instruction, so that
// a call at the very end of a function (a noreturn call, say) is not blamed
// on the next function.
func lookupAddr(pc uint64, caller bool) uint64 {
	if caller && pc > 0 {
		return pc - 1
	}
	return pc
}

func (b *builder) mapping(m *Mapping) *profile.Mapping {
	if pm := b.mappings[m]; pm != nil {
		return pm
	}
	pm := &profile.Mapping{
		ID:     uint64(len(b.p.Mapping) + 1),
		Start:  m.Start,
		Limit:  m.Limit,
		Offset: m.Offset,
		File:   m.Path,
	}
	if b.canceled() {
		// No file is opened now; the mapping says what it does not have.
	} else if bin := m.binary(b.s.cache); bin != nil {
		pm.BuildID = bin.BuildID()
		// Everything the binary and its debug files hold was used, so pprof
		// need not symbolize this mapping again.
		pm.HasFunctions, pm.HasFilenames, pm.HasLineNumbers, pm.HasInlineFrames = true, true, true, true
	}
	b.mappings[m] = pm
	b.p.Mapping = append(b.p.Mapping, pm)
	return pm
}

func (b *builder) newLocation(m *profile.Mapping, pc uint64) *profile.Location {
	l := &profile.Location{ID: uint64(len(b.p.Location) + 1), Mapping: m, Address: pc}
	b.p.Location = append(b.p.Location, l)
	return l
}

// unmappedKey identifies an address outside every file mapping; JIT code is
// named per process, so the process is part of the key.
type unmappedKey struct {
	pid uint32
	pc  uint64
}

// unmappedLocation returns the location of an address no file maps: JIT code
// named by the process's perf map, or an unknown frame.
func (b *builder) unmappedLocation(proc *Process, pc uint64) *profile.Location {
	k := unmappedKey{proc.PID, pc}
	if l := b.unmapped[k]; l != nil {
		return l
	}
	l := b.newLocation(nil, pc)
	if b.canceled() {
		// Unnamed: the perf map is not read after cancellation.
	} else if name, ok := proc.jitName(pc); ok {
		l.Line = []profile.Line{{Function: b.function(name, name, "")}}
	}
	b.unmapped[k] = l
	return l
}

// marker returns the location that stands for a lost stack.
func (b *builder) marker(name string) *profile.Location {
	if l := b.markers[name]; l != nil {
		return l
	}
	l := b.newLocation(nil, 0)
	l.Line = []profile.Line{{Function: b.function(name, name, "")}}
	b.markers[name] = l
	return l
}

func (b *builder) function(name, system, file string) *profile.Function {
	key := profile.Function{Name: name, SystemName: system, Filename: file}
	if f := b.funcs[key]; f != nil {
		return f
	}
	f := &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: name, SystemName: system, Filename: file}
	b.funcs[key] = f
	b.p.Function = append(b.p.Function, f)
	return f
}
