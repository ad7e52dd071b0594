package process

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/emberprof/ember/internal/untrusted"
)

// File is a mapped file held open, shared by every process that maps it, so
// that it can be read after the processes are gone or the path is replaced.
// Its descriptor belongs to the Files set that opened it.
type File struct {
	// ID is the file's identity, from the descriptor at open.
	ID FileID

	set  *Files
	f    *os.File
	refs int // under set.mu

	loadsOnce sync.Once
	loads     Loads
	loadsErr  error
}

// ErrClosed is returned for a File whose last process was released.
var ErrClosed = errors.New("file released")

// Name returns the path the file was opened through.
func (f *File) Name() string { return f.f.Name() }

// ReadAt reads from the file; it is safe for concurrent use.
// Once the file is released it fails with os.ErrClosed.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }

// Reopen returns a new descriptor for the file, which the caller owns and
// closes: for a parser that keeps the file longer than the processes that
// map it. It fails once the file has been released.
func (f *File) Reopen() (*os.File, error) {
	f.set.mu.Lock()
	defer f.set.mu.Unlock()
	// Under the lock, so the descriptor number cannot be closed and reused
	// for another file meanwhile.
	if f.refs == 0 {
		return nil, fmt.Errorf("reopen %s: %w", f.f.Name(), ErrClosed)
	}
	nf, err := untrusted.Open("/proc/self/fd/" + strconv.Itoa(int(f.f.Fd())))
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", f.f.Name(), err)
	}
	if id, err := Identify(nf); err != nil || id.Dev != f.ID.Dev || id.Ino != f.ID.Ino {
		nf.Close()
		return nil, fmt.Errorf("reopen %s: the descriptor names another file", f.f.Name())
	}
	return nf, nil
}

// Loads returns the file's PT_LOAD program headers, read once.
func (f *File) Loads() (Loads, error) {
	f.loadsOnce.Do(func() {
		ef, err := elf.NewFile(f)
		if err != nil {
			f.loadsErr = fmt.Errorf("%s: not an ELF file: %w", f.Name(), err)
			return
		}
		f.loads = LoadsOf(ef)
	})
	return f.loads, f.loadsErr
}

// Files is the set of files held open for captured processes: one
// descriptor per file however many processes map it, closed when the last
// of them is released. It is safe for concurrent use.
type Files struct {
	mu    sync.Mutex
	byKey map[devIno]*File
}

type devIno struct{ dev, ino uint64 }

// NewFiles returns an empty set.
func NewFiles() *Files { return &Files{byKey: make(map[devIno]*File)} }

// Len returns how many files the set holds open.
func (s *Files) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// Open opens the file at path (see package untrusted) and takes a reference
// to it, sharing the descriptor of an earlier open of the same file; the
// caller gives the reference back with Release.
func (s *Files) Open(path string) (*File, error) {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, err
	}
	id, err := Identify(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	k := devIno{id.Dev, id.Ino}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.byKey[k]; old != nil {
		f.Close()
		old.refs++
		return old, nil
	}
	file := &File{ID: id, set: s, f: f, refs: 1}
	s.byKey[k] = file
	return file, nil
}

// Release gives back a reference taken by Open and reports whether it was
// the last, in which case the descriptor is closed.
func (s *Files) Release(f *File) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.refs == 0 {
		return false
	}
	f.refs--
	if f.refs > 0 {
		return false
	}
	k := devIno{f.ID.Dev, f.ID.Ino}
	if s.byKey[k] == f {
		delete(s.byKey, k)
	}
	f.f.Close()
	return true
}

// Close closes every file of the set, whatever still refers to it.
func (s *Files) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, f := range s.byKey {
		f.refs = 0
		errs = append(errs, f.f.Close())
		delete(s.byKey, k)
	}
	return errors.Join(errs...)
}
