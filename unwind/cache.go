package unwind

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
)

// ErrFull says a table does not fit in the cache's memory budget.
var ErrFull = errors.New("unwind table cache is full")

// Key identifies a file's unwind table: its GNU build ID, else its identity
// on disk, so processes mapping the same file share one table.
type Key struct {
	BuildID        string // hex; empty when the file has none
	process.FileID        // zero when there is a build ID
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
	// Only a regular file, opened without blocking: any user can put a
	// FIFO or a device where a process maps a file.
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, Key{}, err
	}
	defer f.Close()
	return c.TableFile(f)
}

// TableFile is Table for a file already open, as one from untrusted.Open or
// process.File.Reopen.
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

// FileKey returns the cache key of an open ELF file: its build ID, else its
// identity on disk.
func FileKey(f *os.File, ef *elf.File) (Key, error) {
	if id := process.BuildID(ef); id != "" {
		return Key{BuildID: id}, nil
	}
	id, err := process.Identify(f)
	if err != nil {
		return Key{}, err
	}
	return Key{FileID: id}, nil
}
