package symbolize

import "errors"

// forgetting is what a Symbolizer knows of processes that have ended, so that
// a long run keeps only the processes that may still have samples to write.
type forgetting struct {
	// reported are the processes the collector said exited since the
	// last Forget.
	reported map[uint32]bool
	// exited are the snapshots found ended at the last Forget: their
	// samples were all read before the next read of the collector, so
	// they are dropped at the next Forget.
	exited map[uint32]*Process
	// retired are, by pid, snapshots replaced by a new capture (after an
	// exec), oldest first: a lookup under way may still use them, and
	// samples taken before the exec are looked up in them.
	retired map[uint32][]*Process
	// deniedDropped counts forgotten processes that were refused for lack
	// of privilege, for Warnings.
	deniedDropped int
}

// Exited tells the Symbolizer that process pid has ended, as a collector that
// traces exits knows before /proc does; Forget then drops it.
func (s *Symbolizer) Exited(pid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone.reported == nil {
		s.gone.reported = make(map[uint32]bool)
	}
	s.gone.reported[pid] = true
}

// Forget drops the processes that had ended by the previous call of Forget,
// with their open files and the parsed binaries no remaining process maps,
// and returns how many it dropped. Call it after each Profile: a process
// that ends is first only marked, since samples it took just before it ended
// may be in the collector's next read; by the call after, those were
// written, so memory stays bounded on a long run however many processes
// come and go.
func (s *Symbolizer) Forget() int {
	// Held throughout, so that no lookup (Warm, Profile) uses a binary
	// that a release below closes.
	s.resolveMu.Lock()
	defer s.resolveMu.Unlock()
	s.mu.Lock()
	var drop []*Process
	for pid, p := range s.gone.exited {
		if s.procs[pid] == p {
			delete(s.procs, pid)
			if s.denied[pid] {
				delete(s.denied, pid)
				s.gone.deniedDropped++
			}
		}
		drop = append(drop, p)
	}
	for _, ps := range s.gone.retired {
		drop = append(drop, ps...)
	}
	s.gone.retired = nil
	reported := s.gone.reported
	s.gone.reported = nil
	live := make([]*Process, 0, len(s.procs))
	for _, p := range s.procs {
		live = append(live, p)
	}
	s.mu.Unlock()

	// Reading each process's /proc entry is done outside the lock, so
	// that captures need not wait for it.
	exited := make(map[uint32]*Process)
	for _, p := range live {
		// A process that could not be captured is kept as an empty
		// snapshot; it is forgotten too, and tried again if it is seen.
		if reported[p.PID] || p.snap == nil || p.snap.Exited() {
			exited[p.PID] = p
		}
	}
	s.mu.Lock()
	s.gone.exited = exited
	s.mu.Unlock()

	for _, p := range drop {
		s.release(p)
	}
	s.forgetMemo(drop)
	return len(drop)
}

// forgetMemo drops the memoized frames of binaries that no remaining process
// maps, and the warmed stacks of dropped processes. The caller holds
// resolveMu.
func (s *Symbolizer) forgetMemo(drop []*Process) {
	if len(drop) == 0 {
		return
	}
	s.mu.Lock()
	used := make(map[*Binary]bool)
	for _, p := range s.procs {
		for _, m := range p.Mappings {
			if m.bin != nil {
				used[m.bin] = true
			}
		}
	}
	live := make(map[uint32]bool, len(s.procs))
	for pid := range s.procs {
		live[pid] = true
	}
	s.mu.Unlock()
	for k := range s.memo {
		if !used[k.bin] {
			delete(s.memo, k)
		}
	}
	for b := range s.memoBins {
		if !used[b] {
			delete(s.memoBins, b)
		}
	}
	for k := range s.warmed {
		if !live[k.pid] {
			delete(s.warmed, k)
		}
	}
}

// release gives back what a dropped snapshot holds: its references to parsed
// binaries (closed once no process maps them), its files and its perf map.
func (s *Symbolizer) release(p *Process) {
	for _, m := range p.Mappings {
		if m.file != nil && m.bin != nil {
			s.cache.release(m.file.ID, m.bin)
		}
		m.bin, m.err = nil, errForgotten
	}
	p.close()
}

// errForgotten is the error of a mapping of a dropped snapshot.
var errForgotten = errors.New("process forgotten")
