package unwind

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCache(t *testing.T) {
	openELF(t, libcPath) // skips if absent
	dir := t.TempDir()
	// A copy at another path has the same build ID: one table for both.
	cp := filepath.Join(dir, "libc-copy.so")
	src, err := os.Open(libcPath)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(cp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()

	c := NewCache(64 << 20)
	a, ka, err := c.Table(libcPath)
	if err != nil {
		t.Fatal(err)
	}
	if ka.BuildID == "" {
		t.Error("libc has no build ID")
	}
	b, kb, err := c.Table(cp)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || ka != kb || c.Len() != 1 || c.Used() != a.Size() {
		t.Errorf("copy of libc: table %p vs %p, keys %v %v, %d entries, %d bytes used", a, b, ka, kb, c.Len(), c.Used())
	}

	// A budget smaller than libc's rows: full, nothing kept.
	small := NewCache(a.Size() - 1)
	if _, _, err := small.Table(libcPath); !errors.Is(err, ErrFull) || small.Used() != 0 || small.Len() != 0 {
		t.Errorf("over budget: err %v, %d bytes used, %d entries", err, small.Used(), small.Len())
	}
	c.Drop(ka)
	if c.Used() != 0 || c.Len() != 0 {
		t.Errorf("after Drop: %d bytes, %d entries", c.Used(), c.Len())
	}

	// A file without a build ID is keyed by its identity on disk; one
	// without CFI is remembered as such.
	noid := buildCPath(t, "signal.c", "-Wl,--build-id=none")
	tab, k, err := c.Table(noid)
	if err != nil || k.BuildID != "" || k.Ino == 0 || k.Size == 0 || len(tab.Rows) == 0 {
		t.Errorf("no build ID: key %+v, err %v", k, err)
	}
	notELF := filepath.Join(dir, "notelf")
	if err := os.WriteFile(notELF, []byte("\x7fELF\x02\x01\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Table(notELF); err == nil {
		t.Error("a truncated ELF header gave a table")
	}
}

func TestCacheHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	c := NewCache(1 << 20)
	for _, p := range []string{fifo, zero, dir} {
		if _, _, err := c.Table(p); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
