package bpfenv

import (
	"bufio"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// MeminfoPath is where the kernel reports free memory.
const MeminfoPath = "/proc/meminfo"

// htabElemOverhead is the kernel's per-element bookkeeping in a hash map
// (struct htab_elem before the key, x86-64), and htabBucket the size of one
// bucket; a preallocated map holds max_entries elements from its creation.
const (
	htabElemOverhead = 48
	htabBucket       = 16
)

// MapBytes estimates the kernel memory a hash map of this spec takes when it
// is created: elements are preallocated, so it is the size at max_entries.
func MapBytes(m *ebpf.MapSpec) uint64 {
	n := uint64(m.MaxEntries)
	buckets := uint64(1) << bits.Len64(max(n, 1)-1)
	return n*perEntry(m) + buckets*htabBucket
}

func perEntry(m *ebpf.MapSpec) uint64 {
	round8 := func(x uint32) uint64 { return (uint64(x) + 7) &^ 7 }
	return htabElemOverhead + round8(m.KeySize) + round8(m.ValueSize)
}

// MemoryError reports maps too large for this machine's memory.
type MemoryError struct {
	Map        string // the largest of the maps checked
	Entries    uint32 // its max_entries
	Bytes      uint64 // what all the maps checked need
	Limit      uint64 // what they may use: half of MemAvailable
	MaxEntries uint32 // the most entries Map could have within Limit
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("map %s of %d entries: the maps need %s of kernel memory, more than %s (half of MemAvailable): use at most %d entries",
		e.Map, e.Entries, FormatBytes(e.Bytes), FormatBytes(e.Limit), e.MaxEntries)
}

// CheckMemory refuses maps of spec (by name) that together need more than
// half the memory meminfo (a /proc/meminfo file) says is available: creating
// them would take the kernel minutes and push the machine into swap or the
// OOM killer. If meminfo cannot be read, nothing is refused.
func CheckMemory(spec *ebpf.CollectionSpec, meminfo string, maps ...string) error {
	avail, err := MemAvailable(meminfo)
	if err != nil {
		return nil
	}
	limit := avail / 2
	var total uint64
	var largest *ebpf.MapSpec
	var largestName string
	for _, name := range maps {
		m, ok := spec.Maps[name]
		if !ok {
			return fmt.Errorf("check memory: no map %s in the BPF object", name)
		}
		b := MapBytes(m)
		total += b
		if largest == nil || b > MapBytes(largest) {
			largest, largestName = m, name
		}
	}
	if total <= limit {
		return nil
	}
	others := total - MapBytes(largest)
	var fit uint64
	if limit > others {
		// Buckets are a power of two at or above the entries: at most
		// two per entry.
		fit = (limit - others) / (perEntry(largest) + 2*htabBucket)
	}
	return &MemoryError{Map: largestName, Entries: largest.MaxEntries, Bytes: total, Limit: limit,
		MaxEntries: uint32(min(fit, uint64(largest.MaxEntries)))}
}

// MemAvailable reads MemAvailable, in bytes, from a /proc/meminfo file.
func MemAvailable(meminfo string) (uint64, error) {
	f, err := os.Open(meminfo)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: bad MemAvailable line %q", meminfo, sc.Text())
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New(meminfo + ": no MemAvailable line")
}

// FormatBytes prints a byte count in the largest binary unit below it, e.g.
// "17.1 GiB".
func FormatBytes(b uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}
