package symbolize

import (
	"container/list"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
)

// CacheConfig sets a Cache's limits and where its binaries find debug files.
type CacheConfig struct {
	// MaxBinaries bounds how many parsed binaries the cache keeps; the
	// least recently opened beyond it are dropped (and closed once no
	// caller holds them, by the garbage collector). 0 means 256.
	MaxBinaries int
	// DebugDirs are the roots searched for separate debug files; nil means
	// DefaultDebugDirs.
	DebugDirs []string
}

// Cache shares parsed binaries between processes, keyed by build ID, or by
// the file's device, inode, size and modification time when it has none, and
// bounded in how many it keeps. It is safe for concurrent use.
type Cache struct {
	cfg   CacheConfig
	mu    sync.Mutex
	files map[process.FileID]*list.Element // of *cacheEntry
	ids   map[string]*list.Element         // by build ID
	lru   list.List                        // most recently used first
}

type cacheEntry struct {
	keys []process.FileID
	id   string
	bin  *Binary
	// refs counts, per file, the mappings of captured processes that use
	// bin (see openMapped): a file's key goes at its last release, and bin
	// is closed at the last of all, unless pinned: a caller of Open holds
	// it for as long as it likes.
	refs   map[process.FileID]int
	pinned bool
}

// NewCache returns an empty cache.
func NewCache(cfg CacheConfig) *Cache {
	if cfg.MaxBinaries <= 0 {
		cfg.MaxBinaries = 256
	}
	return &Cache{cfg: cfg, files: make(map[process.FileID]*list.Element), ids: make(map[string]*list.Element)}
}

// Open returns the parsed binary at path, parsing it only if no file with the
// same identity or build ID was parsed before.
func (c *Cache) Open(path string) (*Binary, error) {
	// The file is opened once and identified by its descriptor, so that
	// what is parsed is what was identified, whatever the path names by
	// then.
	f, err := untrusted.Open(path)
	if err != nil {
		return nil, err
	}
	k, err := process.Identify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return c.open(k, path, func() (*os.File, error) { return f, nil }, f.Close, false)
}

// openMapped returns the parsed binary of a file held for a captured
// process, named name (the path debug files are looked for beside), and
// counts a reference to it that release gives back.
func (c *Cache) openMapped(f *process.File, name string) (*Binary, error) {
	return c.open(f.ID, name, f.Reopen, func() error { return nil }, true)
}

// open returns the binary of the file with identity k, parsing what open
// returns if no file with that identity or build ID was parsed before; drop
// is called when the file is not needed.
func (c *Cache) open(k process.FileID, name string, open func() (*os.File, error), drop func() error, ref bool) (*Binary, error) {
	hit := func(e *list.Element) *Binary {
		ce := e.Value.(*cacheEntry)
		c.lru.MoveToFront(e)
		if ref {
			if ce.refs == nil {
				ce.refs = make(map[process.FileID]int)
			}
			ce.refs[k]++
		} else {
			ce.pinned = true
		}
		return ce.bin
	}
	c.mu.Lock()
	if e := c.files[k]; e != nil && k.Ino != 0 {
		b := hit(e)
		c.mu.Unlock()
		drop()
		return b, nil
	}
	c.mu.Unlock()

	// Parse outside the lock: opening a large binary takes milliseconds
	// and other processes' binaries need not wait for it. Two callers may
	// race to parse the same file; the second one's copy is dropped.
	f, err := open()
	if err != nil {
		return nil, err
	}
	b, err := openFile(f, name, Options{DebugDirs: c.cfg.DebugDirs})
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.files[k]; e != nil && k.Ino != 0 {
		b.Close()
		return hit(e), nil
	}
	if id := b.BuildID(); id != "" {
		if e := c.ids[id]; e != nil {
			// The same build at another path (a container's copy of
			// a library, say): share the parsed one.
			b.Close()
			ce := e.Value.(*cacheEntry)
			if k.Ino != 0 {
				ce.keys = append(ce.keys, k)
				c.files[k] = e
			}
			return hit(e), nil
		}
	}
	ce := &cacheEntry{id: b.BuildID(), bin: b}
	e := c.lru.PushFront(ce)
	hit(e)
	if k.Ino != 0 {
		ce.keys = append(ce.keys, k)
		c.files[k] = e
	}
	if ce.id != "" {
		c.ids[ce.id] = e
	}
	for c.lru.Len() > c.cfg.MaxBinaries {
		c.evict(c.lru.Back())
	}
	return b, nil
}

// release gives back a reference openMapped counted when it returned bin
// for the file with identity k, for a mapping of a process that is gone; the
// binary no captured process maps any more is dropped and closed, so a long
// run does not keep every binary it ever saw. It reports whether bin was
// closed.
func (c *Cache) release(k process.FileID, bin *Binary) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.files[k]
	if e == nil || k.Ino == 0 {
		return false // evicted already: the garbage collector closes it
	}
	ce := e.Value.(*cacheEntry)
	if ce.bin != bin || ce.refs[k] == 0 {
		return false // evicted, and the file parsed again since
	}
	if ce.refs[k]--; ce.refs[k] > 0 {
		return false
	}
	delete(ce.refs, k)
	if len(ce.refs) > 0 || ce.pinned {
		// Other files of the same build still use it: forget this one.
		delete(c.files, k)
		ce.keys = slices.DeleteFunc(ce.keys, func(x process.FileID) bool { return x == k })
		return false
	}
	c.evict(e)
	ce.bin.Close()
	return true
}

// evict drops an entry. Its binary is not closed here, since a process
// captured earlier may still use it; its file is closed by the garbage
// collector once nothing refers to it.
func (c *Cache) evict(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry)
	for _, k := range ce.keys {
		if c.files[k] == e {
			delete(c.files, k)
		}
	}
	if ce.id != "" && c.ids[ce.id] == e {
		delete(c.ids, ce.id)
	}
}

// Len returns how many binaries the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
