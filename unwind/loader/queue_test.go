package loader

import "testing"

// TestQueue checks that the processes the profile is about come first, that
// a queued or loading pid is not queued twice, and that it can be queued
// again once loaded.
func TestQueue(t *testing.T) {
	q := newQueue([]uint32{9})
	for _, p := range []uint32{1, 2, 1, 9, 3} {
		q.push(p)
	}
	var got []uint32
	for {
		p, ok := q.pop()
		if !ok {
			break
		}
		got = append(got, p)
		q.push(p) // asked again during its load: dropped
	}
	want := []uint32{9, 1, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
	q.done(1)
	q.push(1)
	if p, ok := q.pop(); !ok || p != 1 {
		t.Errorf("after its load, pid 1 was not queued again: %d %v", p, ok)
	}
}
