// Package idlist parses the comma-separated process and thread ID lists that
// BCC's tools take (-p 181,4242), checks that each ID exists, and formats
// them back for headers.
package idlist

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxID is above any PID the kernel hands out (PID_MAX_LIMIT is 2^22).
const maxID = 1 << 22

// MaxIDs is how many distinct IDs a list may hold: the size of the tgids and
// tids filter maps in bpf/include/procs.h.
const MaxIDs = 1024

// SyntaxError reports a list that is not a list of IDs: a usage error, as
// opposed to an ID that does not exist.
type SyntaxError struct {
	Flag, List, Item, What string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s %q: %q is not a %s ID", e.Flag, e.List, e.Item, e.What)
}

// TooManyError reports a list of more distinct IDs than the filter maps
// hold: a usage error.
type TooManyError struct {
	Flag string
	N    int
}

func (e *TooManyError) Error() string {
	return fmt.Sprintf("%s lists %d distinct IDs, more than the %d the filter holds: give at most %d, or no filter and filter the output", e.Flag, e.N, MaxIDs, MaxIDs)
}

// Parse parses list, the value of option flag naming a process or thread
// (what), and checks that each ID exists under procRoot now; "" gives nil.
// When what is "process", an ID must be a process's, not that of one of its
// other threads: a filter on process IDs would never match it.
func Parse(list, flag, what, procRoot string) ([]uint32, error) {
	if list == "" {
		return nil, nil
	}
	items := strings.Split(list, ",")
	var ids []uint32
	distinct := make(map[int64]bool)
	for _, item := range items {
		n, err := PositiveInt(strings.TrimSpace(item))
		if err != nil || n > maxID {
			return nil, &SyntaxError{Flag: flag, List: list, Item: item, What: what}
		}
		distinct[n] = true
		ids = append(ids, uint32(n))
	}
	if len(distinct) > MaxIDs {
		return nil, &TooManyError{Flag: flag, N: len(distinct)}
	}
	for _, n := range ids {
		// /proc/N exists for thread IDs too (hidden from readdir, not from stat).
		dir := fmt.Sprintf("%s/%d", procRoot, n)
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%s %d: no such %s (nothing at %s): check the ID with ps", flag, n, what, dir)
		}
		if what != "process" {
			continue
		}
		if tgid, ok := threadGroup(dir); ok && tgid != int64(n) {
			return nil, fmt.Errorf("%s %d: %d is a thread of process %d, not a process: give %s %d for the whole process, or give %d as a thread ID", flag, n, n, tgid, flag, tgid, n)
		}
	}
	return ids, nil
}

// threadGroup reads the process (thread group) ID of the task whose /proc
// directory is dir; ok is false if it cannot be read (the task has exited).
func threadGroup(dir string) (tgid int64, ok bool) {
	f, err := os.Open(dir + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "Tgid:"); found {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// MaxSeconds is the longest duration Seconds accepts: the most whole seconds
// a time.Duration holds (about 292 years).
const MaxSeconds = math.MaxInt64 / int64(time.Second)

// Seconds parses a duration in whole seconds, as BCC's tools take it: above
// zero and at most MaxSeconds.
func Seconds(s string) (time.Duration, error) {
	n, err := PositiveInt(s)
	if err != nil {
		return 0, err
	}
	if n > MaxSeconds {
		return 0, fmt.Errorf("more than %d seconds", MaxSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// PositiveInt parses a decimal integer above zero, digits only (no sign, no
// spaces), as BCC's tools take counts and durations.
func PositiveInt(s string) (int64, error) {
	var n int64
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, r := range s {
		if r < '0' || r > '9' || n > math.MaxInt64/10-1 {
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
