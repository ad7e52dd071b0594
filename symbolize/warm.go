package symbolize

import (
	"runtime"
	"sync"

	"github.com/emberprof/ember/internal/sample"
)

// Counts says how much work a Symbolizer did, for --stats and for tests that
// check that work is not repeated per thread or per pass.
type Counts struct {
	// Captures counts reads of a process's mappings (/proc/PID/maps).
	Captures int
	// Lookups counts addresses looked up in a binary's debug information;
	// each distinct (binary, address) is looked up once.
	Lookups int
	// Binaries counts the distinct binaries lookups were made in.
	Binaries int
}

// Counts returns the work done so far.
func (s *Symbolizer) Counts() Counts {
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// stackKey identifies a user stack of a process for Warm, by a hash of its
// addresses: a collision only skips warming one stack, which Profile then
// looks up itself.
type stackKey struct {
	pid  uint32
	hash uint64
}

func stackKeyOf(r *sample.Record) stackKey {
	h := uint64(14695981039346656037) // FNV-1a
	for _, pc := range r.User.PCs {
		h = (h ^ pc) * 1099511628211
	}
	return stackKey{r.TGID, h}
}

// Warm looks up the user addresses of recs now, typically records read while
// the collector still runs, so that a Profile built at the end finds their
// binaries parsed and their frames memoized and only has the addresses first
// seen since to look up. Stacks passed to an earlier Warm are skipped.
func (s *Symbolizer) Warm(recs []sample.Record) {
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	fresh := make([]sample.Record, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		if r.User.State != sample.StackOK || len(r.User.PCs) == 0 {
			continue
		}
		k := stackKeyOf(r)
		if _, ok := s.warmed[k]; ok {
			continue
		}
		s.warmed[k] = struct{}{}
		fresh = append(fresh, *r)
	}
	s.resolve(fresh, nil)
}

// frames returns the memoized frames at addr in bin, looking them up on a
// miss. The caller holds resolveMu.
func (s *Symbolizer) frames(bin *Binary, addr uint64) []Frame {
	k := frameKey{bin, addr}
	if f, ok := s.memo[k]; ok {
		return f
	}
	// A lookup error (corrupt DWARF, say) leaves the address unknown rather
	// than failing the whole profile.
	f, _ := bin.Frames(addr)
	s.memo[k] = f
	s.counts.Lookups++
	if _, ok := s.memoBins[bin]; !ok {
		s.memoBins[bin] = struct{}{}
		s.counts.Binaries++
	}
	return f
}

// resolve looks up every user address of recs not yet in the memo. Binaries
// are parsed and searched in parallel, as many at once as there are CPUs,
// since loading debug information is most of the time a profile takes; one
// goroutine takes all the mappings of one file, so a binary is parsed once
// and no Mapping is touched by two goroutines. A closed cancel abandons the
// lookups still running and memoizes nothing of this call. The caller holds
// resolveMu.
func (s *Symbolizer) resolve(recs []sample.Record, cancel <-chan struct{}) {
	type pcKey struct {
		pc     uint64
		caller bool
	}
	// The distinct addresses per mapping, and the mappings per file.
	addrs := make(map[*Mapping]map[pcKey]struct{})
	type group struct{ maps []*Mapping }
	groups := make(map[any]*group)
	var order []*group
	for i := range recs {
		r := &recs[i]
		if r.User.State != sample.StackOK {
			continue
		}
		proc := s.process(r.TGID, r.Comm)
		for j, pc := range r.User.PCs {
			m := proc.Find(pc)
			if m == nil {
				continue
			}
			set := addrs[m]
			if set == nil {
				if m.bin == nil && (m.file == nil || m.err != nil) {
					continue // nothing to parse
				}
				set = make(map[pcKey]struct{})
				addrs[m] = set
				var id any = m
				if m.bin == nil {
					id = m.file // shared by every mapping of the file
				}
				g := groups[id]
				if g == nil {
					g = &group{}
					groups[id] = g
					order = append(order, g)
				}
				g.maps = append(g.maps, m)
			}
			set[pcKey{pc, j > 0}] = struct{}{}
		}
	}

	type found struct {
		key    frameKey
		frames []Frame
	}
	results := make([][]found, len(order))
	bins := make([]map[*Binary]struct{}, len(order))
	// Only reads of s.memo happen while the workers run; results are
	// merged after.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for gi, g := range order {
		select {
		case sem <- struct{}{}:
		case <-cancel:
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			seen := make(map[frameKey]struct{})
			bins[gi] = make(map[*Binary]struct{})
			for _, m := range g.maps {
				bin := m.binary(s.cache)
				if bin == nil {
					continue
				}
				for a := range addrs[m] {
					vaddr, ok := bin.AddrForOffset(a.pc - m.Start + m.Offset)
					if !ok {
						continue
					}
					k := frameKey{bin, lookupAddr(vaddr, a.caller)}
					if _, ok := s.memo[k]; ok {
						continue
					}
					if _, ok := seen[k]; ok {
						continue
					}
					seen[k] = struct{}{}
					bins[gi][bin] = struct{}{}
					// A lookup error (corrupt DWARF, say) leaves the
					// address unknown rather than failing the profile.
					f, _ := bin.Frames(k.addr)
					results[gi] = append(results[gi], found{k, f})
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-cancel:
		// Workers still parsing are abandoned: they only read s.memo and
		// write their own results slot, and after a cancel nothing writes
		// s.memo again (the builder looks nothing up once cancelled).
		return
	}
	for gi, res := range results {
		for _, r := range res {
			if _, ok := s.memo[r.key]; !ok {
				s.memo[r.key] = r.frames
				s.counts.Lookups++
			}
		}
		for bin := range bins[gi] {
			if _, ok := s.memoBins[bin]; !ok {
				s.memoBins[bin] = struct{}{}
				s.counts.Binaries++
			}
		}
	}
}
