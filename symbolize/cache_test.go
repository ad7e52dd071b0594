package symbolize

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestCacheShares(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(fixture(t, "c"))
	if err != nil {
		t.Fatal(err)
	}
	// Two copies of one build share a parse through the build ID; a hard
	// link shares it through the inode.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, data, 0o755)
	os.WriteFile(b, data, 0o755)
	if err := os.Link(a, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	c := NewCache(CacheConfig{})
	var wg sync.WaitGroup
	got := make([]*Binary, 12)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := []string{a, b, filepath.Join(dir, "link")}[i%3]
			bin, err := c.Open(p)
			if err != nil {
				t.Error(err)
			}
			got[i] = bin
		}()
	}
	wg.Wait()
	for _, bin := range got {
		if bin != got[0] {
			t.Fatalf("cache returned different binaries for one build")
		}
	}
	if c.Len() != 1 {
		t.Errorf("Len() = %d, want 1", c.Len())
	}
}

func TestCacheBound(t *testing.T) {
	c := NewCache(CacheConfig{MaxBinaries: 2})
	for _, name := range []string{"c", "cpp", "go", "c"} {
		if _, err := c.Open(fixture(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 {
		t.Errorf("Len() = %d, want 2", c.Len())
	}
	if _, err := c.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("Open(missing) succeeded")
	}
}
