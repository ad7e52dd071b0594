package loader

import (
	"testing"
	"time"
)

// TestReloadAfterExec: a process loaded just after its exec is queued again
// shortly, to pick up the libraries the dynamic loader maps after; one
// loaded later, or never seen exec, is not.
func TestReloadAfterExec(t *testing.T) {
	l := &Loader{queue: newQueue(nil), execAt: map[uint32]time.Time{
		1: time.Now(),
		2: time.Now().Add(-time.Second),
	}}
	for _, pid := range []uint32{1, 2, 3} {
		l.reloadAfterExec(pid)
	}
	time.Sleep(3 * execReload)
	var got []uint32
	for {
		pid, ok := l.queue.pop()
		if !ok {
			break
		}
		got = append(got, pid)
	}
	if len(got) != 1 || got[0] != 1 {
		t.Errorf("queued again %v, want [1]", got)
	}
	if _, ok := l.execAt[2]; ok {
		t.Error("an exec long past is still remembered")
	}
}
