// Package idlist parses the comma-separated process and thread ID lists that
// BCC's tools take (-p 181,4242), checks that each ID exists, and formats
// them back for headers.
package idlist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxID is above any PID the kernel hands out (PID_MAX_LIMIT is 2^22).
const maxID = 1 << 22

// SyntaxError reports a list that is not a list of IDs: a usage error, as
// opposed to an ID that does not exist.
type SyntaxError struct {
	Flag, List, Item, What string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s %q: %q is not a %s ID", e.Flag, e.List, e.Item, e.What)
}

// Parse parses list, the value of option flag naming a process or thread
// (what), and checks that each ID exists under procRoot now; "" gives nil.
func Parse(list, flag, what, procRoot string) ([]uint32, error) {
	if list == "" {
		return nil, nil
	}
	var ids []uint32
	for _, item := range strings.Split(list, ",") {
		n, err := PositiveInt(strings.TrimSpace(item))
		if err != nil || n > maxID {
			return nil, &SyntaxError{Flag: flag, List: list, Item: item, What: what}
		}
		// /proc/N exists for thread IDs too (hidden from readdir, not from stat).
		if _, err := os.Stat(fmt.Sprintf("%s/%d", procRoot, n)); err != nil {
			return nil, fmt.Errorf("%s %d: no such %s (nothing at %s/%d): check the ID with ps", flag, n, what, procRoot, n)
		}
		ids = append(ids, uint32(n))
	}
	return ids, nil
}

// PositiveInt parses a decimal integer above zero, digits only (no sign, no
// spaces), as BCC's tools take counts and durations.
func PositiveInt(s string) (int64, error) {
	var n int64
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, r := range s {
		if r < '0' || r > '9' || n > 1<<40 {
			return 0, errors.New("not a positive integer")
		}
		n = n*10 + int64(r-'0')
	}
	if n == 0 {
		return 0, errors.New("zero")
	}
	return n, nil
}

// Format joins ids with commas, as the user gave them.
func Format(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}
