package symbolize

import (
	"container/list"
	"fmt"
	"sync"
	"syscall"

	"github.com/emberprof/ember/untrusted"
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
	files map[fileKey]*list.Element // of *cacheEntry
	ids   map[string]*list.Element  // by build ID
	lru   list.List                 // most recently used first
}

type cacheEntry struct {
	keys []fileKey
	id   string
	bin  *Binary
}

type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// NewCache returns an empty cache.
func NewCache(cfg CacheConfig) *Cache {
	if cfg.MaxBinaries <= 0 {
		cfg.MaxBinaries = 256
	}
	return &Cache{cfg: cfg, files: make(map[fileKey]*list.Element), ids: make(map[string]*list.Element)}
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
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var k fileKey
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k = fileKey{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	}
	c.mu.Lock()
	if e := c.files[k]; e != nil && k.ino != 0 {
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		f.Close()
		return e.Value.(*cacheEntry).bin, nil
	}
	c.mu.Unlock()

	// Parse outside the lock: opening a large binary takes milliseconds
	// and other processes' binaries need not wait for it. Two callers may
	// race to parse the same file; the second one's copy is dropped.
	b, err := openFile(f, path, Options{DebugDirs: c.cfg.DebugDirs})
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.files[k]; e != nil && k.ino != 0 {
		b.Close()
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).bin, nil
	}
	if id := b.BuildID(); id != "" {
		if e := c.ids[id]; e != nil {
			// The same build at another path (a container's copy of
			// a library, say): share the parsed one.
			b.Close()
			ce := e.Value.(*cacheEntry)
			if k.ino != 0 {
				ce.keys = append(ce.keys, k)
				c.files[k] = e
			}
			c.lru.MoveToFront(e)
			return ce.bin, nil
		}
	}
	ce := &cacheEntry{id: b.BuildID(), bin: b}
	e := c.lru.PushFront(ce)
	if k.ino != 0 {
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
