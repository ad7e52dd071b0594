package process

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/emberprof/ember/internal/untrusted"
	"golang.org/x/sys/unix"
)

// Process is a snapshot of a process: its executable mappings with the files
// behind them already open, so that its addresses can be resolved after it
// exits.
type Process struct {
	PID uint32
	// Dir is the process's /proc directory.
	Dir string
	// StartTime is when the process started (field 22 of /proc/PID/stat,
	// in clock ticks after boot); with PID it names the process for its
	// life. 0 when it could not be read.
	StartTime uint64
	// Mappings are the executable mappings, sorted by address.
	Mappings []*Mapping

	set   *Files
	files map[*Mapping]mapped
}

type mapped struct {
	f   *File
	err error
}

// Capture reads the mappings of process pid under procRoot ("" means /proc)
// and opens the file behind each executable file mapping into set.
func Capture(procRoot string, pid uint32, set *Files) (*Process, error) {
	dir := Dir(procRoot, pid)
	f, err := untrusted.Open(dir + "/maps")
	if err != nil {
		return nil, fmt.Errorf("capture process %d: %w", pid, err)
	}
	maps, err := ParseMaps(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s/maps: %w", dir, err)
	}
	p := &Process{PID: pid, Dir: dir, Mappings: maps, set: set, files: make(map[*Mapping]mapped)}
	p.StartTime, _ = startTime(dir)
	for _, m := range maps {
		if m.IsFile() {
			f, err := p.openMapped(m)
			p.files[m] = mapped{f, err}
		}
	}
	return p, nil
}

// openMapped opens the file a mapping maps: through map_files first, which
// reaches deleted and replaced files and files in other mount namespaces, then
// through the process's root directory.
func (p *Process) openMapped(m *Mapping) (*File, error) {
	f, err := p.set.Open(fmt.Sprintf("%s/map_files/%x-%x", p.Dir, m.Start, m.Limit))
	if err == nil {
		return f, nil
	}
	f, err = p.set.Open(p.RootPath(m))
	if err != nil {
		return nil, fmt.Errorf("open %s of process %s: %w", m.Path, p.Dir, err)
	}
	return f, nil
}

// RootPath returns the path of m's file through the process's root
// directory: where files beside it (debug links) are found, as long as it
// still names the mapped file.
func (p *Process) RootPath(m *Mapping) string { return p.Dir + "/root" + m.Path }

// Find returns the mapping that covers addr, or nil.
func (p *Process) Find(addr uint64) *Mapping { return Find(p.Mappings, addr) }

// File returns the open file behind m, or why there is none.
func (p *Process) File(m *Mapping) (*File, error) {
	x, ok := p.files[m]
	if !ok {
		return nil, fmt.Errorf("no file behind mapping %s of %s", m.Path, p.Dir)
	}
	return x.f, x.err
}

// Bias returns what to subtract from an address of m to get the ELF virtual
// address in its file (vaddr = addr - bias).
func (p *Process) Bias(m *Mapping) (uint64, error) {
	f, err := p.File(m)
	if err != nil {
		return 0, err
	}
	loads, err := f.Loads()
	if err != nil {
		return 0, err
	}
	b, ok := loads.Bias(m)
	if !ok {
		return 0, fmt.Errorf("%s: no loadable segment holds offset %#x", m.Path, m.Offset)
	}
	return b, nil
}

// Release gives back the process's files to the set and returns the
// identities of those no other process holds any more, whose descriptors
// were closed: users drop what they cached for them.
func (p *Process) Release() []FileID {
	var closed []FileID
	for m, x := range p.files {
		if x.f != nil && p.set.Release(x.f) {
			closed = append(closed, x.f.ID)
		}
		delete(p.files, m)
	}
	return closed
}

// MaxVDSO bounds the [vdso] image read from a process's memory (8 KiB on
// x86-64 today).
const MaxVDSO = 1 << 20

// ReadVDSO reads the image of a special mapping ([vdso]) from the memory of
// the process whose /proc directory is dir.
func ReadVDSO(dir string, m *Mapping) ([]byte, error) {
	if m.Limit-m.Start > MaxVDSO {
		return nil, fmt.Errorf("read %s of %s: %d bytes is too large for a vDSO", m.Path, dir, m.Limit-m.Start)
	}
	f, err := untrusted.Open(dir + "/mem")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", m.Path, err)
	}
	defer f.Close()
	img := make([]byte, m.Limit-m.Start)
	if _, err := f.ReadAt(img, int64(m.Start)); err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", m.Path, dir, err)
	}
	return img, nil
}

// StartTime returns field 22 of /proc/PID/stat, the process's start in
// clock ticks after boot, which with the pid names a process for its life.
func StartTime(procRoot string, pid uint32) (uint64, error) {
	return startTime(Dir(procRoot, pid))
}

func startTime(dir string) (uint64, error) {
	path := dir + "/stat"
	b, err := untrusted.ReadFile(path, 64<<10)
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: skip past the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("read %s: no command name", path)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("read %s: %d fields after the command name, want 20 or more", path, len(f))
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: bad start time %q", path, f[19])
	}
	return t, nil
}

// Exited reports whether the process p snapshots has ended: its /proc
// directory is gone, or its pid now names a process started later. An error
// reading it other than its absence (a permission refused, say) is taken
// as alive.
func (p *Process) Exited() bool {
	t, err := startTime(p.Dir)
	if err != nil {
		// ESRCH: the process ended while its stat was read.
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
	}
	return p.StartTime != 0 && t != p.StartTime
}
