package symbolize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/emberprof/ember/internal/untrusted"
)

// PerfMap is a JIT compiler's symbol map, /tmp/perf-PID.map, as written by
// Node's --perf-basic-prof, Java's perf-map-agent and others: one
// "START SIZE name" line per compiled function, START and SIZE in hex.
type PerfMap struct {
	entries []perfEntry // sorted by start
	skipped int
}

type perfEntry struct {
	start, end uint64
	seq        int // line order: a later line replaces an earlier one
	name       string
}

// OpenPerfMap reads the perf map at path (for a process in another mount
// namespace, a path under /proc/PID/root).
func OpenPerfMap(path string) (*PerfMap, error) {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParsePerfMap(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// maxPerfMapLine bounds one line; JIT names are long (V8's include the
// source URL) but not megabytes.
const maxPerfMapLine = 1 << 20

// maxPerfMap bounds a whole perf map: a long-running JVM's is tens of MiB, and
// one that never ends (a sparse file, one still being written) must not keep
// the profile from being written.
const maxPerfMap = 512 << 20

// ParsePerfMap reads a perf map. Malformed lines are skipped and counted,
// not fatal: the JIT appends while the process runs, so the last line may be
// cut short.
func ParsePerfMap(r io.Reader) (*PerfMap, error) {
	m := &PerfMap{}
	sc := bufio.NewScanner(untrusted.Reader(r, maxPerfMap))
	sc.Buffer(make([]byte, 0, 64<<10), maxPerfMapLine)
	for seq := 0; sc.Scan(); seq++ {
		e, ok := parsePerfMapLine(sc.Bytes())
		if !ok {
			m.skipped++
			continue
		}
		e.seq = seq
		m.entries = append(m.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(m.entries, func(i, j int) bool { return m.entries[i].start < m.entries[j].start })
	return m, nil
}

func parsePerfMapLine(b []byte) (perfEntry, bool) {
	b = bytes.TrimRight(b, "\r")
	startField, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return perfEntry{}, false
	}
	sizeField, name, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(name) == 0 {
		return perfEntry{}, false
	}
	start, err1 := parseHex(startField)
	size, err2 := parseHex(sizeField)
	if err1 != nil || err2 != nil || size == 0 || start+size < start {
		return perfEntry{}, false
	}
	return perfEntry{start: start, end: start + size, name: string(name)}, true
}

// parseHex reads a hex number, with or without 0x (both are written).
func parseHex(b []byte) (uint64, error) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		b = b[2:]
	}
	return strconv.ParseUint(string(b), 16, 64)
}

// Lookup returns the name of the JIT function covering addr. Where entries
// overlap (code memory reused after a function was collected), the one
// written last wins.
func (m *PerfMap) Lookup(addr uint64) (string, bool) {
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].start > addr }) - 1
	best := -1
	// Look back over a bounded number of earlier entries for a longer
	// one that still covers addr.
	for n := 0; i >= 0 && n < 64; i, n = i-1, n+1 {
		e := &m.entries[i]
		if addr < e.end && (best < 0 || e.seq > m.entries[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return m.entries[best].name, true
}

// Len returns the number of entries read.
func (m *PerfMap) Len() int { return len(m.entries) }

// Skipped returns the number of malformed lines that were skipped.
func (m *PerfMap) Skipped() int { return m.skipped }
