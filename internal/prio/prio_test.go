package prio

import (
	"os"
	"testing"
)

func TestRaiseAndRestore(t *testing.T) {
	before := map[int]int{}
	for _, tid := range threads() {
		n, err := Nice(tid)
		if err != nil {
			t.Fatal(err)
		}
		before[tid] = n
	}
	if len(before) < 2 {
		t.Fatalf("threads() found %v; a Go process has several", before)
	}
	b := Raise(-5)
	for tid, was := range before {
		n, err := Nice(tid)
		if err != nil {
			continue // exited
		}
		want := was
		if os.Geteuid() == 0 && was > -5 {
			want = -5
		}
		if n != want {
			t.Errorf("thread %d: nice %d after Raise(-5), want %d (was %d)", tid, n, want, was)
		}
	}
	b.Lower()
	for tid, was := range before {
		if n, err := Nice(tid); err == nil && n != was {
			t.Errorf("thread %d: nice %d after Lower, want %d", tid, n, was)
		}
	}
	b.Raise()
	for tid, was := range before {
		if n, err := Nice(tid); err == nil && os.Geteuid() == 0 && was > -5 && n != -5 {
			t.Errorf("thread %d: nice %d after Raise again, want -5", tid, n)
		}
	}
	b.Lower()
}
