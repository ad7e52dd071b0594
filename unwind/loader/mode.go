package loader

import (
	"fmt"
	"time"

	"github.com/cilium/ebpf"
)

// Mode says how user stacks are walked (--unwind).
type Mode uint32

// The modes, valued as UNWIND_MODE_* in bpf/include/unwind.h.
const (
	// ModeFP walks frame pointers only.
	ModeFP Mode = 0
	// ModeAuto uses a binary's CFI table where one is loaded, frame
	// pointers elsewhere (JIT, Go, anonymous code, tables not built yet).
	ModeAuto Mode = 1
	// ModeDWARF uses CFI tables only: a frame without one ends the walk.
	ModeDWARF Mode = 2
)

// ParseMode parses "auto", "fp" or "dwarf".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto":
		return ModeAuto, nil
	case "fp":
		return ModeFP, nil
	case "dwarf":
		return ModeDWARF, nil
	}
	return 0, fmt.Errorf("--unwind %q: use auto, fp or dwarf", s)
}

func (m Mode) String() string {
	switch m {
	case ModeFP:
		return "fp"
	case ModeAuto:
		return "auto"
	case ModeDWARF:
		return "dwarf"
	}
	return fmt.Sprintf("Mode(%d)", uint32(m))
}

// DefaultRows is the default row budget: 4M rows, 32 MiB of kernel memory,
// enough for a busy machine's binaries (libc is ~24k rows, python3 ~60k).
const DefaultRows = 4 << 20

// SizeMaps sizes the unwinder's maps in spec before load: the row array to
// rows (0: DefaultRows), or to one row when mode needs no tables, so that
// frame-pointer runs pay no memory for them.
func SizeMaps(spec *ebpf.CollectionSpec, mode Mode, rows uint32) {
	if rows == 0 {
		rows = DefaultRows
	}
	if mode == ModeFP {
		rows = 1
		if m := spec.Maps["unwind_files"]; m != nil {
			m.MaxEntries = 1
		}
	}
	if m := spec.Maps["unwind_rows"]; m != nil {
		m.MaxEntries = rows
	}
}

// MaxRowsFlag is the largest row budget accepted: 512 MiB of kernel memory.
const MaxRowsFlag = 1 << 26

// CheckRows validates a row budget given on the command line.
func CheckRows(n uint64) (uint32, error) {
	if n < 1024 || n > MaxRowsFlag {
		return 0, fmt.Errorf("--unwind-rows %d out of range: use 1024 to %d (8 bytes of kernel memory each; default %d)", n, MaxRowsFlag, DefaultRows)
	}
	return uint32(n), nil
}

// ModeHelp and RowsHelp are the --help lines of --unwind and --unwind-rows.
const (
	ModeHelp = "how to walk user stacks: auto (DWARF CFI where a binary has it, frame pointers elsewhere), fp (frame pointers only) or dwarf (CFI only; code without it ends the stack) (default auto)"
	RowsHelp = "rows of DWARF unwind tables kept in the kernel, 8 bytes each; once full, binaries loaded later are walked by frame pointers (default 4194304)"
)

// FirstWait bounds how long a collector waits for the tables of the
// processes it was asked for (-p) before it starts sampling.
const FirstWait = 500 * time.Millisecond
