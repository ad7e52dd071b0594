package symbolize

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
)

// Mapping is one executable mapping of a process, from /proc/PID/maps, with
// the binary parsed from its file.
type Mapping struct {
	*process.Mapping

	file *process.File // held open from capture, so the file outlives the process
	root string        // the file's path through the process's root directory
	bin  *Binary       // parsed on first use
	err  error         // why there is no file or no bin
}

// ParseMaps reads the executable, file-backed or special ([vdso]) mappings of a
// /proc/PID/maps listing, sorted by address.
func ParseMaps(r io.Reader) ([]*Mapping, error) {
	maps, err := process.ParseMaps(r)
	if err != nil {
		return nil, err
	}
	out := make([]*Mapping, len(maps))
	for i, m := range maps {
		out[i] = &Mapping{Mapping: m}
	}
	return out, nil
}

// Process is what ember keeps of a process: its executable mappings with
// their files already opened, so it can be symbolized after it exits.
type Process struct {
	PID      uint32
	Mappings []*Mapping

	// comm is the command name when captured: samples taken before an
	// exec carry the old one, and are looked up in the capture before.
	comm string

	snap *process.Process // nil for a process that could not be captured
	own  *owned           // set by CaptureProcess

	// perfMapFile is the JIT's /tmp/perf-PID.map, held open from capture; it
	// is read at symbolization, when it lists everything compiled so far.
	perfMapFile *os.File
	perfMap     *PerfMap
	perfMapRead bool
}

// close releases the process's files and returns the identities of those no
// other process holds.
func (p *Process) close() []process.FileID {
	if p.perfMapFile != nil {
		p.perfMapFile.Close()
		p.perfMapFile = nil
	}
	if p.snap == nil {
		return nil
	}
	return p.snap.Release()
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

// capture reads /proc/PID/maps under procRoot and opens every mapped file
// into fs, so that it can be parsed after the process is gone.
func capture(procRoot string, pid uint32, fs *process.Files, vdso func(pid uint32, m *Mapping) (*Binary, error)) (*Process, error) {
	snap, err := process.Capture(procRoot, pid, fs)
	if err != nil {
		return nil, err
	}
	p := &Process{PID: pid, snap: snap, Mappings: make([]*Mapping, len(snap.Mappings))}
	if b, err := untrusted.ReadFile(snap.Dir+"/comm", 64); err == nil {
		p.comm = strings.TrimSuffix(string(b), "\n")
	}
	// The perf map is in /tmp, where the process's owner (or anyone) may
	// have put a FIFO or a link to a device under that name.
	if f, err := untrusted.Open(perfMapPath(snap.Dir)); err == nil {
		p.perfMapFile = f
	}
	for i, sm := range snap.Mappings {
		m := &Mapping{Mapping: sm}
		switch {
		case m.Path == "[vdso]":
			m.bin, m.err = vdso(pid, m)
		case m.IsFile():
			m.root = snap.RootPath(sm)
			m.file, m.err = snap.File(sm)
		}
		p.Mappings[i] = m
	}
	return p, nil
}

// binary parses the mapping's file on first use, through the cache, so a
// library mapped by many processes is parsed once.
func (m *Mapping) binary(cache *Cache) *Binary {
	if m.bin == nil && m.err == nil && m.file != nil {
		// Named by its own path while that is still the same file, so that
		// debug files beside it (.gnu_debuglink) are found; else by
		// /proc/self/fd, which reaches the held file even if it was deleted
		// or its process exited.
		name := m.file.Name()
		if sameFile(m.root, m.file.ID) {
			name = m.root
		}
		m.bin, m.err = cache.openMapped(m.file, name)
	}
	return m.bin
}

// sameFile reports whether path names the file whose identity is id.
func sameFile(path string, id process.FileID) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == id.Dev && st.Ino == id.Ino
}

// CaptureProcess snapshots the live process pid for looking up its runtime
// addresses with Frames, finding its binaries' debug files as opt says.
func CaptureProcess(pid uint32, opt Options) (*Process, error) {
	files := process.NewFiles()
	vdso := func(pid uint32, m *Mapping) (*Binary, error) {
		img, err := process.ReadVDSO(process.Dir("", pid), m.Mapping)
		if err != nil {
			return nil, err
		}
		return NewBinary(bytes.NewReader(img), "[vdso]")
	}
	p, err := capture("", pid, files, vdso)
	if err != nil {
		files.Close()
		return nil, err
	}
	p.own = &owned{files: files, cache: NewCache(CacheConfig{DebugDirs: opt.DebugDirs})}
	return p, nil
}

// owned is what a Process from CaptureProcess holds itself, where a
// Symbolizer's processes share the Symbolizer's.
type owned struct {
	files *process.Files
	cache *Cache
}

// Frames returns the frames at the runtime address addr of a process from
// CaptureProcess, innermost first.
func (p *Process) Frames(addr uint64) ([]Frame, error) {
	m := p.Find(addr)
	if m == nil {
		return nil, fmt.Errorf("address %#x is in no executable mapping of process %d", addr, p.PID)
	}
	b := m.binary(p.own.cache)
	if b == nil {
		if m.err == nil {
			return nil, fmt.Errorf("no file behind mapping %s", m.Path)
		}
		return nil, m.err
	}
	off := m.FileOffset(addr)
	vaddr, ok := b.AddrForOffset(off)
	if !ok {
		return nil, fmt.Errorf("address %#x (offset %#x of %s) is in no loadable segment", addr, off, m.Path)
	}
	return b.Frames(vaddr)
}

// Close releases the files of a process from CaptureProcess.
func (p *Process) Close() error {
	p.close()
	if p.own == nil {
		return nil
	}
	return p.own.files.Close()
}
