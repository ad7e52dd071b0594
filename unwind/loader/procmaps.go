package loader

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
)

// mapping is one executable, file-backed line of /proc/PID/maps, in the
// loader's terms.
type mapping struct {
	start, end, offset uint64
	path               string
}

// fileKey names a file across processes and mount namespaces.
type fileKey = process.FileID

// readMaps returns the executable mappings of files and of the kernel in
// procRoot/pid/maps (the process layer's one parser); anonymous memory has
// no table to load.
func readMaps(procRoot string, pid uint32) ([]mapping, error) {
	maps, err := process.ReadMaps(procRoot, pid)
	if err != nil {
		return nil, err
	}
	return fileMappings(maps), nil
}

// fileMappings keeps the mappings of files, which may have tables, and the
// kernel's own ([vdso]), which have none: the walker takes frame pointers
// there without asking for the process again and again.
func fileMappings(maps []*process.Mapping) []mapping {
	out := make([]mapping, 0, len(maps))
	for _, m := range maps {
		if m.IsFile() && m.Inode != 0 || m.Inode == 0 && strings.HasPrefix(m.Path, "[") {
			out = append(out, mapping{start: m.Start, end: m.Limit, offset: m.Offset, path: m.Path})
		}
	}
	return out
}

// special reports whether m is one of the kernel's mappings, with no file.
func (m mapping) special() bool { return strings.HasPrefix(m.path, "[") }

// openMapped opens the file behind m without following it into a FIFO or a
// device: through map_files, which reaches deleted files and other mount
// namespaces, else through the process's root. Only regular files are kept.
func openMapped(procRoot string, pid uint32, m mapping) (*os.File, fileKey, error) {
	dir := process.Dir(procRoot, pid)
	paths := []string{
		fmt.Sprintf("%s/map_files/%x-%x", dir, m.start, m.end),
		dir + "/root" + strings.TrimSuffix(m.path, " (deleted)"),
	}
	var err error
	for _, p := range paths {
		var f *os.File
		if f, err = untrusted.Open(p); err != nil {
			continue
		}
		var k fileKey
		if k, err = process.Identify(f); err != nil {
			f.Close()
			continue
		}
		return f, k, nil
	}
	return nil, fileKey{}, err
}

// segment is a PT_LOAD's file offset and address.
type segment = elf.ProgHeader

// loadSegments returns the PT_LOAD segments of f.
func loadSegments(f *elf.File) []segment { return process.LoadsOf(f) }

var errNoSegment = errors.New("no executable segment covers the mapping")

// bias returns what to subtract from an address in m to get the ELF virtual
// address (process.Loads.Bias).
func bias(m mapping, segs []segment) (uint64, error) {
	b, ok := process.Loads(segs).Bias(&process.Mapping{Start: m.start, Limit: m.end, Offset: m.offset, Perms: "r-xp"})
	if !ok {
		return 0, errNoSegment
	}
	return b, nil
}

// startTime names a process for its life, with its pid.
func startTime(procRoot string, pid uint32) (uint64, error) {
	return process.StartTime(procRoot, pid)
}
