package symbolize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/emberprof/ember/untrusted"
)

// Mapping is one executable mapping of a process, from /proc/PID/maps.
type Mapping struct {
	Start, Limit uint64 // [Start, Limit) in the process's address space
	Offset       uint64 // file offset of Start
	Path         string // as the process sees it; "[vdso]" and the like for special mappings
	Inode        uint64
	// Deleted is set when the file was removed or replaced after being mapped.
	Deleted bool

	file *os.File // held open from capture, so the file outlives the process
	root string   // the file's path through the process's root directory
	bin  *Binary  // parsed on first use
	err  error    // why there is no file or no bin
}

// maxMaps bounds a /proc/PID/maps listing: 65530 mappings (the default
// vm.max_map_count) with long paths take under 64 MiB.
const maxMaps = 64 << 20

// maxVDSO bounds the [vdso] image read from a process's memory (8 KiB on
// x86-64 today).
const maxVDSO = 1 << 20

// ParseMaps reads the executable, file-backed or special ([vdso]) mappings of a
// /proc/PID/maps listing, sorted by address.
func ParseMaps(r io.Reader) ([]*Mapping, error) {
	var out []*Mapping
	sc := bufio.NewScanner(untrusted.Reader(r, maxMaps))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		m, exec, err := parseMapsLine(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if exec && m.Path != "" {
			out = append(out, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}

// parseMapsLine parses "start-end perms offset dev inode path".
func parseMapsLine(b []byte) (*Mapping, bool, error) {
	fields := make([][]byte, 0, 6)
	rest := b
	for len(fields) < 5 {
		rest = bytes.TrimLeft(rest, " ")
		f, r, _ := bytes.Cut(rest, []byte{' '})
		if len(f) == 0 {
			return nil, false, fmt.Errorf("malformed mapping %q", b)
		}
		fields = append(fields, f)
		rest = r
	}
	path := string(bytes.TrimLeft(rest, " "))
	lo, hi, ok := bytes.Cut(fields[0], []byte{'-'})
	if !ok {
		return nil, false, fmt.Errorf("malformed address range %q", fields[0])
	}
	m := &Mapping{Path: path}
	var err error
	if m.Start, err = strconv.ParseUint(string(lo), 16, 64); err != nil {
		return nil, false, fmt.Errorf("bad start address %q", lo)
	}
	if m.Limit, err = strconv.ParseUint(string(hi), 16, 64); err != nil || m.Limit < m.Start {
		return nil, false, fmt.Errorf("bad end address %q", hi)
	}
	if m.Offset, err = strconv.ParseUint(string(fields[2]), 16, 64); err != nil {
		return nil, false, fmt.Errorf("bad offset %q", fields[2])
	}
	if m.Inode, err = strconv.ParseUint(string(fields[4]), 10, 64); err != nil {
		return nil, false, fmt.Errorf("bad inode %q", fields[4])
	}
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok {
		m.Path, m.Deleted = p, true
	}
	exec := len(fields[1]) >= 3 && fields[1][2] == 'x'
	return m, exec, nil
}

// Process is what ember keeps of a process: its executable mappings with
// their files already opened, so it can be symbolized after it exits.
type Process struct {
	PID      uint32
	Mappings []*Mapping

	// perfMapFile is the JIT's /tmp/perf-PID.map, held open from capture; it
	// is read at symbolization, when it lists everything compiled so far.
	perfMapFile *os.File
	perfMap     *PerfMap
	perfMapRead bool
}

func (p *Process) close() {
	if p.perfMapFile != nil {
		p.perfMapFile.Close()
		p.perfMapFile = nil
	}
}

// jitName returns the perf-map name of a JIT-compiled address.
func (p *Process) jitName(addr uint64) (string, bool) {
	if !p.perfMapRead {
		p.perfMapRead = true
		if p.perfMapFile != nil {
			// A malformed map just leaves JIT frames unknown.
			if _, err := p.perfMapFile.Seek(0, io.SeekStart); err == nil {
				p.perfMap, _ = ParsePerfMap(p.perfMapFile)
			}
		}
	}
	if p.perfMap == nil {
		return "", false
	}
	return p.perfMap.Lookup(addr)
}

// perfMapPath returns where a process's JIT writes its perf map: /tmp in its
// own mount namespace, named with its PID in its own PID namespace.
func perfMapPath(dir string) string {
	nspid := filepath.Base(dir)
	if b, err := untrusted.ReadFile(dir+"/status", 1<<20); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f, ok := strings.CutPrefix(line, "NSpid:"); ok {
				if ids := strings.Fields(f); len(ids) > 0 {
					nspid = ids[len(ids)-1]
				}
				break
			}
		}
	}
	return dir + "/root/tmp/perf-" + nspid + ".map"
}

// Find returns the mapping that covers addr, or nil.
func (p *Process) Find(addr uint64) *Mapping {
	i := sort.Search(len(p.Mappings), func(i int) bool { return p.Mappings[i].Limit > addr })
	if i < len(p.Mappings) && p.Mappings[i].Start <= addr {
		return p.Mappings[i]
	}
	return nil
}

// files holds one open descriptor per distinct mapped file, so that capturing
// a process costs a few system calls and parsing waits until an address needs
// it.
type files struct {
	mu   sync.Mutex
	byID map[fileID]*os.File
}

type fileID struct{ dev, ino uint64 }

// open returns a descriptor for the file at path, shared with every earlier
// open of the same file.
func (fs *files) open(path string) (*os.File, error) {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	id := fileID{st.Dev, st.Ino}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if old := fs.byID[id]; old != nil {
		f.Close()
		return old, nil
	}
	fs.byID[id] = f
	return f, nil
}

// closeAll closes every held descriptor.
func (fs *files) closeAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, f := range fs.byID {
		f.Close()
		delete(fs.byID, id)
	}
}

// capture reads /proc/PID/maps under procRoot and opens every mapped file, so
// that it can be parsed after the process is gone.
func capture(procRoot string, pid uint32, fs *files, vdso func(pid uint32, m *Mapping) (*Binary, error)) (*Process, error) {
	dir := fmt.Sprintf("%s/%d", procRoot, pid)
	f, err := untrusted.Open(dir + "/maps")
	if err != nil {
		return nil, fmt.Errorf("capture process %d: %w", pid, err)
	}
	maps, err := ParseMaps(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s/maps: %w", dir, err)
	}
	p := &Process{PID: pid, Mappings: maps}
	// The perf map is in /tmp, where the process's owner (or anyone) may
	// have put a FIFO or a link to a device under that name.
	if f, err := untrusted.Open(perfMapPath(dir)); err == nil {
		p.perfMapFile = f
	}
	for _, m := range maps {
		switch {
		case m.Path == "[vdso]":
			m.bin, m.err = vdso(pid, m)
		case strings.HasPrefix(m.Path, "/"):
			m.root = dir + "/root" + m.Path
			m.file, m.err = openMapped(dir, m, fs)
		}
	}
	return p, nil
}

// openMapped opens the file a mapping maps: through map_files first, which
// reaches deleted and replaced files and files in other mount namespaces, then
// through the process's root directory.
func openMapped(dir string, m *Mapping, fs *files) (*os.File, error) {
	f, err := fs.open(fmt.Sprintf("%s/map_files/%x-%x", dir, m.Start, m.Limit))
	if err == nil {
		return f, nil
	}
	f, err = fs.open(dir + "/root" + m.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s of process %s: %w", m.Path, dir, err)
	}
	return f, nil
}

// binary parses the mapping's file on first use, through the cache, so a
// library mapped by many processes is parsed once.
func (m *Mapping) binary(cache *Cache) *Binary {
	if m.bin == nil && m.err == nil && m.file != nil {
		// Through its own path while that is still the same file, so that
		// debug files beside it (.gnu_debuglink) are found; else through
		// /proc/self/fd, which reaches the held file even if it was deleted
		// or its process exited.
		path := fmt.Sprintf("/proc/self/fd/%d", m.file.Fd())
		if sameFile(m.root, m.file) {
			path = m.root
		}
		m.bin, m.err = cache.Open(path)
	}
	return m.bin
}

// sameFile reports whether path names the file f has open.
func sameFile(path string, f *os.File) bool {
	if path == "" {
		return false
	}
	a, err1 := os.Stat(path)
	b, err2 := f.Stat()
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
