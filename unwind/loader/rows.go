package loader

import "sort"

// rowSpace hands out ranges of the global row array and takes them back, so
// that the rows of binaries no process maps any more are reused: a machine
// that runs new programs all day (builds, tests, short jobs) would otherwise
// fill the array once and walk every later binary by frame pointers.
type rowSpace struct {
	max  uint32     // the array's size
	top  uint32     // rows from top up were never handed out, or all came back
	free []rowRange // ranges given back below top: sorted, none touching
}

type rowRange struct{ first, count uint32 }

// alloc returns the first row of n free consecutive rows: the first range
// given back that fits, else rows from the top.
func (s *rowSpace) alloc(n uint32) (uint32, bool) {
	for i, r := range s.free {
		if r.count < n {
			continue
		}
		if r.count == n {
			s.free = append(s.free[:i], s.free[i+1:]...)
		} else {
			s.free[i] = rowRange{r.first + n, r.count - n}
		}
		return r.first, true
	}
	if uint64(s.top)+uint64(n) > uint64(s.max) {
		return 0, false
	}
	s.top += n
	return s.top - n, true
}

// release takes back n rows from first, merging them with their free
// neighbours so that a later, larger table fits.
func (s *rowSpace) release(first, n uint32) {
	if n == 0 {
		return
	}
	i := sort.Search(len(s.free), func(i int) bool { return s.free[i].first > first })
	r := rowRange{first, n}
	if i > 0 && s.free[i-1].first+s.free[i-1].count == first {
		i--
		r = rowRange{s.free[i].first, s.free[i].count + n}
		s.free = append(s.free[:i], s.free[i+1:]...)
	}
	if i < len(s.free) && r.first+r.count == s.free[i].first {
		r.count += s.free[i].count
		s.free = append(s.free[:i], s.free[i+1:]...)
	}
	if r.first+r.count == s.top {
		s.top = r.first
		return
	}
	s.free = append(s.free, rowRange{})
	copy(s.free[i+1:], s.free[i:])
	s.free[i] = r
}

// used returns the rows handed out and not given back.
func (s *rowSpace) used() uint32 {
	u := s.top
	for _, r := range s.free {
		u -= r.count
	}
	return u
}
