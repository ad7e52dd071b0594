package unwind

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
)

// ErrFull says a table does not fit in the cache's memory budget.
var ErrFull = errors.New("unwind table cache is full")

// Key identifies a file's unwind table: its GNU build ID, else its identity
// on disk, so processes mapping the same file share one table.
type Key struct {
	BuildID string // hex; empty when the file has none
	Dev     uint64
	Ino     uint64
	Size    int64
	MtimeNs int64
}

// Cache holds unwind tables by Key within a budget of row bytes.
type Cache struct {
	mu     sync.Mutex
	budget int
	used   int
	tables map[Key]*cached
}

type cached struct {
	t   *Table
	err error // a file that has no usable CFI stays known as such
}

// NewCache returns a cache whose tables' rows take at most budget bytes.
func NewCache(budget int) *Cache {
	return &Cache{budget: budget, tables: map[Key]*cached{}}
}

// Used returns the bytes of rows the cache holds.
func (c *Cache) Used() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Len returns the number of files the cache knows.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tables)
}

// Drop forgets the table of k and frees its budget.
func (c *Cache) Drop(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tables[k]; ok {
		if e.t != nil {
			c.used -= e.t.Size()
		}
		delete(c.tables, k)
	}
}

// Table returns the table of the ELF file at path, building it on first
// use; ErrFull means it would exceed the budget and was not kept.
func (c *Cache) Table(path string) (*Table, Key, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, Key{}, err
	}
	defer f.Close()
	return c.TableFile(f)
}

// TableFile is Table for a file already opened with OpenFile.
func (c *Cache) TableFile(f *os.File) (*Table, Key, error) {
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, Key{}, fmt.Errorf("%s: %w", f.Name(), err)
	}
	k, err := FileKey(f, ef)
	if err != nil {
		return nil, Key{}, err
	}
	c.mu.Lock()
	e, ok := c.tables[k]
	c.mu.Unlock()
	if ok {
		return e.t, k, e.err
	}
	// Build outside the lock: tables take milliseconds, lookups must not wait.
	t, err := Build(ef)
	if err != nil {
		err = fmt.Errorf("%s: %w", f.Name(), err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.tables[k]; ok { // built meanwhile by another caller
		return e.t, k, e.err
	}
	if t != nil {
		if c.used+t.Size() > c.budget {
			return nil, k, fmt.Errorf("%s: %d bytes of rows with %d of %d in use: %w", f.Name(), t.Size(), c.used, c.budget, ErrFull)
		}
		c.used += t.Size()
	}
	c.tables[k] = &cached{t: t, err: err}
	return t, k, err
}

// OpenFile opens path for reading without blocking on FIFOs or devices and
// refuses anything but a regular file, checked on the open descriptor.
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	return f, nil
}

// FileKey returns the cache key of an open ELF file.
func FileKey(f *os.File, ef *elf.File) (Key, error) {
	st, err := f.Stat()
	if err != nil {
		return Key{}, err
	}
	if id := BuildID(ef); id != "" {
		return Key{BuildID: id}, nil
	}
	k := Key{Size: st.Size(), MtimeNs: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		k.Dev, k.Ino = uint64(sys.Dev), sys.Ino
	}
	return k, nil
}

// BuildID returns the hex GNU build ID of f, or "" when it has none.
func BuildID(f *elf.File) string {
	var rs []*io.SectionReader
	if s := f.Section(".note.gnu.build-id"); s != nil && s.Type == elf.SHT_NOTE {
		rs = append(rs, io.NewSectionReader(s, 0, min(int64(s.Size), 4096)))
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			rs = append(rs, io.NewSectionReader(p, 0, min(int64(p.Filesz), 4096)))
		}
	}
	for _, r := range rs {
		b, err := io.ReadAll(r)
		if err != nil && len(b) == 0 {
			continue
		}
		if id := noteBuildID(b); id != "" {
			return id
		}
	}
	return ""
}

// noteBuildID finds the NT_GNU_BUILD_ID note in a notes blob.
func noteBuildID(b []byte) string {
	for len(b) >= 12 {
		namesz := uint64(binary.LittleEndian.Uint32(b))
		descsz := uint64(binary.LittleEndian.Uint32(b[4:]))
		typ := binary.LittleEndian.Uint32(b[8:])
		name := (namesz + 3) &^ 3
		desc := (descsz + 3) &^ 3
		if 12+name+desc > uint64(len(b)) {
			return ""
		}
		if typ == 3 && namesz == 4 && string(b[12:15]) == "GNU" && descsz > 0 && descsz <= 64 {
			return hex.EncodeToString(b[12+name : 12+name+descsz])
		}
		b = b[12+name+desc:]
	}
	return ""
}
