package loader

import (
	"math/rand/v2"
	"testing"
)

// TestRowSpace hands out and gives back ranges at random and checks, against
// a row-by-row model, that no row is ever handed out twice, that what comes
// back is reused, and that all of it coming back empties the space.
func TestRowSpace(t *testing.T) {
	const max = 1000
	s := rowSpace{max: max}
	owner := make([]int, max) // 0: free
	type held struct{ first, n uint32 }
	var live []held
	rng := rand.New(rand.NewPCG(1, 2))
	fails := 0
	for step := 1; step < 20000; step++ {
		if len(live) > 0 && rng.IntN(2) == 0 {
			i := rng.IntN(len(live))
			h := live[i]
			live = append(live[:i], live[i+1:]...)
			for r := h.first; r < h.first+h.n; r++ {
				owner[r] = 0
			}
			s.release(h.first, h.n)
			continue
		}
		n := uint32(1 + rng.IntN(120))
		first, ok := s.alloc(n)
		if !ok {
			// Refused only when no run of n free rows exists.
			run := 0
			for _, o := range owner {
				if o == 0 {
					run++
				} else {
					run = 0
				}
				if run >= int(n) {
					t.Fatalf("step %d: %d rows refused with %d free in a row", step, n, run)
				}
			}
			fails++
			continue
		}
		for r := first; r < first+n; r++ {
			if r >= max || owner[r] != 0 {
				t.Fatalf("step %d: row %d handed out twice (or past the end)", step, r)
			}
			owner[r] = step
		}
		live = append(live, held{first, n})
		var want uint32
		for _, h := range live {
			want += h.n
		}
		if s.used() != want {
			t.Fatalf("step %d: used %d, want %d", step, s.used(), want)
		}
	}
	if fails == 0 {
		t.Error("the space never filled: the test did not reach reuse under pressure")
	}
	for _, h := range live {
		s.release(h.first, h.n)
	}
	if s.used() != 0 || s.top != 0 || len(s.free) != 0 {
		t.Errorf("all given back: used %d, top %d, free %v", s.used(), s.top, s.free)
	}
	if first, ok := s.alloc(max); !ok || first != 0 {
		t.Errorf("the whole space after all came back: %d %v", first, ok)
	}
}
