// Package process is the process and ELF layer under symbolize and unwind:
// the executable mappings of a process, the files behind them opened safely
// and shared between processes, file identity (device, inode, size,
// modification time, build ID) and the translation of an address to a file
// offset and an ELF virtual address. It knows files, not symbols: each user
// keeps its own per-file cache (parsed binaries, unwind tables) keyed by the
// identity this package gives.
package process

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/emberprof/ember/internal/untrusted"
	"golang.org/x/sys/unix"
)

// Mapping is one executable mapping of a process, from /proc/PID/maps.
type Mapping struct {
	Start, Limit uint64 // [Start, Limit) in the process's address space
	Offset       uint64 // file offset of Start
	Perms        string // as in maps: "r-xp"
	Dev          uint64 // device of the file, as unix.Mkdev(major, minor)
	Inode        uint64
	Path         string // as the process sees it; "[vdso]" and the like for special mappings
	// Deleted is set when the file was removed or replaced after being mapped.
	Deleted bool
}

// IsFile reports whether a file backs the mapping (rather than [vdso] and
// the like).
func (m *Mapping) IsFile() bool { return strings.HasPrefix(m.Path, "/") }

// FileOffset returns the file offset that the address addr of the mapping
// maps.
func (m *Mapping) FileOffset(addr uint64) uint64 { return addr - m.Start + m.Offset }

// MaxMaps bounds a /proc/PID/maps listing: 65530 mappings (the default
// vm.max_map_count) with long paths take under 64 MiB.
const MaxMaps = 64 << 20

// ParseMaps reads the executable, file-backed or special ([vdso]) mappings of
// a /proc/PID/maps listing, sorted by address; it fails past MaxMaps bytes.
func ParseMaps(r io.Reader) ([]*Mapping, error) {
	var out []*Mapping
	sc := bufio.NewScanner(untrusted.Reader(r, MaxMaps))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		m, err := parseMapsLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(m.Perms) >= 3 && m.Perms[2] == 'x' && m.Path != "" {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}

// ReadMaps reads the executable mappings of process pid under procRoot
// ("" means /proc).
func ReadMaps(procRoot string, pid uint32) ([]*Mapping, error) {
	dir := Dir(procRoot, pid)
	f, err := untrusted.Open(dir + "/maps")
	if err != nil {
		return nil, fmt.Errorf("read mappings of process %d: %w", pid, err)
	}
	defer f.Close()
	maps, err := ParseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("read %s/maps: %w", dir, err)
	}
	return maps, nil
}

// Dir returns the /proc directory of pid under procRoot ("" means /proc).
func Dir(procRoot string, pid uint32) string {
	if procRoot == "" {
		procRoot = "/proc"
	}
	return procRoot + "/" + strconv.FormatUint(uint64(pid), 10)
}

// parseMapsLine parses "start-end perms offset dev inode path".
func parseMapsLine(b []byte) (*Mapping, error) {
	fields := make([][]byte, 0, 6)
	rest := b
	for len(fields) < 5 {
		rest = bytes.TrimLeft(rest, " ")
		f, r, _ := bytes.Cut(rest, []byte{' '})
		if len(f) == 0 {
			return nil, fmt.Errorf("malformed mapping %q", b)
		}
		fields = append(fields, f)
		rest = r
	}
	path := string(bytes.TrimLeft(rest, " "))
	lo, hi, ok := bytes.Cut(fields[0], []byte{'-'})
	if !ok {
		return nil, fmt.Errorf("malformed address range %q", fields[0])
	}
	m := &Mapping{Path: path, Perms: string(fields[1])}
	var err error
	if m.Start, err = strconv.ParseUint(string(lo), 16, 64); err != nil {
		return nil, fmt.Errorf("bad start address %q", lo)
	}
	if m.Limit, err = strconv.ParseUint(string(hi), 16, 64); err != nil || m.Limit < m.Start {
		return nil, fmt.Errorf("bad end address %q", hi)
	}
	if m.Offset, err = strconv.ParseUint(string(fields[2]), 16, 64); err != nil {
		return nil, fmt.Errorf("bad offset %q", fields[2])
	}
	// The device is informative (the file's identity comes from the open
	// descriptor), so an odd one is kept as 0 rather than failing the line.
	if maj, min, ok := bytes.Cut(fields[3], []byte{':'}); ok {
		ma, err1 := strconv.ParseUint(string(maj), 16, 32)
		mi, err2 := strconv.ParseUint(string(min), 16, 32)
		if err1 == nil && err2 == nil {
			m.Dev = unix.Mkdev(uint32(ma), uint32(mi))
		}
	}
	if m.Inode, err = strconv.ParseUint(string(fields[4]), 10, 64); err != nil {
		return nil, fmt.Errorf("bad inode %q", fields[4])
	}
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}

// Find returns the mapping of maps (sorted by address) that covers addr, or
// nil.
func Find(maps []*Mapping, addr uint64) *Mapping {
	i := sort.Search(len(maps), func(i int) bool { return maps[i].Limit > addr })
	if i < len(maps) && maps[i].Start <= addr {
		return maps[i]
	}
	return nil
}
