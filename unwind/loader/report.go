package loader

import (
	"fmt"
	"strings"
)

// slotKeys name the counters in Fields, in slot order.
var slotKeys = [NumSlots]string{
	"walks", "complete", "end_fp", "no_row", "invalid", "bad_cfa", "read_fault",
	"bad_ra", "too_deep", "no_table", "fp_unknown", "fp_pending", "fp_no_cfi",
	"frames", "requests",
}

// WarnShare is the share of walks that must fail before Warning speaks:
// a few failures are normal (stacks torn by a fault or a thread exit).
const WarnShare = 0.05

// Fields formats every counter and what the loader holds as key=value
// pairs on one line, for --stats.
func Fields(mode Mode, s Stats, info Info) string {
	var b strings.Builder
	fmt.Fprintf(&b, "unwind: mode=%v", mode)
	for i, v := range s {
		fmt.Fprintf(&b, " %s=%d", slotKeys[i], v)
	}
	fmt.Fprintf(&b, " binaries=%d rows=%d max_rows=%d reclaimed=%d no_table=%d build_ms=%.1f loads=%d unchanged=%d load_errors=%d",
		info.Files, info.Rows, info.MaxRows, info.Reclaimed, info.NoTable, float64(info.BuildTime.Microseconds())/1000, info.Loads, info.Unchanged, info.LoadErrors)
	return b.String()
}

// Warning returns a one-line summary of why user stacks stopped early, or ""
// when fewer than WarnShare of the walks failed.
func Warning(s Stats) string {
	failed := s.Failed()
	if s[SlotWalks] == 0 || float64(failed) < WarnShare*float64(s[SlotWalks]) {
		return ""
	}
	var why []string
	for i := SlotErrNoRow; i <= SlotErrNoTable; i++ {
		if s[i] != 0 {
			why = append(why, fmt.Sprintf("%s %d", slotNames[i], s[i]))
		}
	}
	return fmt.Sprintf("WARNING: %d of %d user stacks (%.1f%%) stopped early in DWARF unwinding: %s (see --stats).",
		failed, s[SlotWalks], 100*float64(failed)/float64(s[SlotWalks]), strings.Join(why, ", "))
}
