package loader

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapping is one executable, file-backed line of /proc/PID/maps.
type mapping struct {
	start, end, offset uint64
	path               string
}

// maxMapsBytes bounds what is read of one /proc/PID/maps: a process with
// more mappings than this keeps its first ones.
const maxMapsBytes = 16 << 20

// readMaps returns the executable mappings of files in procRoot/pid/maps.
func readMaps(procRoot string, pid uint32) ([]mapping, error) {
	path := fmt.Sprintf("%s/%d/maps", procRoot, pid)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMaps(io.LimitReader(f, maxMapsBytes))
}

// parseMaps parses the maps format, keeping executable mappings that name a
// file (anonymous memory, [vdso] and the like have no table to load).
func parseMaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || len(fields[1]) < 3 || fields[1][2] != 'x' {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, fmt.Errorf("bad maps line %q", sc.Text())
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end <= start {
			return nil, fmt.Errorf("bad maps line %q", sc.Text())
		}
		if fields[4] == "0" { // inode 0: not a file
			continue
		}
		path := strings.Join(fields[5:], " ")
		if !strings.HasPrefix(path, "/") {
			continue
		}
		out = append(out, mapping{start: start, end: end, offset: off, path: path})
	}
	return out, sc.Err()
}

// fileKey names a file across processes and mount namespaces.
type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// openMapped opens the file behind m without following it into a FIFO or a
// device: through map_files, which reaches deleted files and other mount
// namespaces, else through the process's root. Only regular files are kept.
func openMapped(procRoot string, pid uint32, m mapping) (*os.File, fileKey, error) {
	paths := []string{
		fmt.Sprintf("%s/%d/map_files/%x-%x", procRoot, pid, m.start, m.end),
		fmt.Sprintf("%s/%d/root%s", procRoot, pid, strings.TrimSuffix(m.path, " (deleted)")),
	}
	var err error
	for _, p := range paths {
		var f *os.File
		var k fileKey
		if f, k, err = openRegular(p); err == nil {
			return f, k, nil
		}
	}
	return nil, fileKey{}, err
}

func openRegular(path string) (*os.File, fileKey, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fileKey{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fileKey{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		unix.Close(fd)
		return nil, fileKey{}, fmt.Errorf("%s is not a regular file", path)
	}
	k := fileKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano()}
	return os.NewFile(uintptr(fd), path), k, nil
}

// segment is a PT_LOAD's file offset and address.
type segment struct {
	offset, vaddr, filesz uint64
}

// loadSegments returns the executable PT_LOAD segments of f.
func loadSegments(f *elf.File) []segment {
	var out []segment
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 {
			out = append(out, segment{p.Off, p.Vaddr, p.Filesz})
		}
	}
	return out
}

var errNoSegment = errors.New("no executable segment covers the mapping")

// bias returns what to subtract from an address in m to get the ELF virtual
// address: a file offset x is at m.start + (x - m.offset) in memory and at
// vaddr + (x - offset) in the file.
func bias(m mapping, segs []segment) (uint64, error) {
	const page = 4096
	for _, s := range segs {
		lo := s.offset &^ (page - 1)
		if m.offset >= lo && m.offset < s.offset+s.filesz {
			return m.start - m.offset - (s.vaddr - s.offset), nil
		}
	}
	return 0, errNoSegment
}

// startTime returns field 22 of /proc/PID/stat, which with the pid names a
// process for its life.
func startTime(procRoot string, pid uint32) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: skip past the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat of process %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("bad stat of process %d", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}
