package symbolize

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

// CacheConfig sets a Cache's limits.
type CacheConfig struct{}

// Cache shares parsed binaries between processes, keyed by the file's device,
// inode, size and modification time.
type Cache struct {
	mu   sync.Mutex
	bins map[fileKey]*Binary
}

type fileKey struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

// NewCache returns an empty cache.
func NewCache(cfg CacheConfig) *Cache {
	return &Cache{bins: make(map[fileKey]*Binary)}
}

// Open returns the parsed binary at path, parsing it only the first time.
func (c *Cache) Open(path string) (*Binary, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return OpenBinary(path)
	}
	k := fileKey{dev: st.Dev, ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.bins[k]; b != nil {
		return b, nil
	}
	b, err := OpenBinary(path)
	if err != nil {
		return nil, err
	}
	c.bins[k] = b
	return b, nil
}
