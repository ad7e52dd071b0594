package loader

import (
	"testing"
	"time"
)

// TestReloadAfterExec: a process loaded just after its exec, the load
// changing its mappings, is queued again shortly, to pick up the libraries
// the dynamic loader maps after; one loaded later, never seen exec, or
// whose load changed nothing (the reload itself, most often) is not.
func TestReloadAfterExec(t *testing.T) {
	l := &Loader{queue: newQueue(nil), execAt: map[uint32]time.Time{
		1: time.Now(),
		2: time.Now().Add(-time.Second),
		4: time.Now(),
	}}
	for _, pid := range []uint32{1, 2, 3} {
		l.reloadAfterExec(pid, true)
	}
	l.reloadAfterExec(4, false)
	queued := func() []uint32 {
		time.Sleep(3 * execReload)
		var got []uint32
		for {
			pid, ok := l.queue.pop()
			if !ok {
				return got
			}
			l.queue.done(pid)
			got = append(got, pid)
		}
	}
	if got := queued(); len(got) != 1 || got[0] != 1 {
		t.Errorf("queued again %v, want [1]", got)
	}
	for _, pid := range []uint32{2, 4} {
		if _, ok := l.execAt[pid]; ok {
			t.Errorf("pid %d: its exec is still remembered", pid)
		}
	}
	// The reload of 1 finds its mappings as they were: no more reloads.
	l.reloadAfterExec(1, false)
	if got := queued(); len(got) != 0 {
		t.Errorf("a reload that changed nothing queued %v again", got)
	}
}
