package loader

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
)

// Counter slots of unwind_stats (UNWIND_* in bpf/include/unwind.h).
const (
	SlotWalks = iota
	SlotEndStop
	SlotEndFP
	SlotErrNoRow
	SlotErrInvalid
	SlotErrBadCFA
	SlotErrRead
	SlotErrBadRA
	SlotErrDepth
	SlotErrNoTable
	SlotFPUnknown
	SlotFPPending
	SlotFPNoCFI
	SlotFrames
	SlotRequests
	NumSlots
)

// slotNames name the counters in reports.
var slotNames = [NumSlots]string{
	"walks", "complete", "ended in frame pointers", "no row", "invalid row",
	"bad CFA", "read fault", "bad return address", "too deep", "no table",
	"frames in unknown code", "frames awaiting a table", "frames without CFI",
	"frames from tables", "load requests",
}

// Stats are the walker's counters, summed over CPUs.
type Stats [NumSlots]uint64

// ReadStats sums the per-CPU unwind_stats map.
func ReadStats(m *ebpf.Map) (Stats, error) {
	var s Stats
	for i := uint32(0); i < NumSlots; i++ {
		var per []uint64
		if err := m.Lookup(i, &per); err != nil {
			return s, fmt.Errorf("read unwind counters: %w", err)
		}
		for _, v := range per {
			s[i] += v
		}
	}
	return s, nil
}

// Failed is the number of walks that stopped on an error before the
// outermost frame.
func (s Stats) Failed() uint64 {
	var n uint64
	for i := SlotErrNoRow; i <= SlotErrNoTable; i++ {
		n += s[i]
	}
	return n
}

// String lists the non-zero counters, e.g. "walks 120, complete 118, read fault 2".
func (s Stats) String() string {
	var parts []string
	for i, v := range s {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", slotNames[i], v))
		}
	}
	if len(parts) == 0 {
		return "no walks"
	}
	return strings.Join(parts, ", ")
}
