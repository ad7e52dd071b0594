package untrusted

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile makes the files a user could plant: a FIFO with no writer, a
// symlink to /dev/zero, a directory, and a regular file.
func hostile(t *testing.T) (fifo, zero, dir, regular string) {
	d := t.TempDir()
	fifo, zero, dir, regular = filepath.Join(d, "fifo"), filepath.Join(d, "zero"), filepath.Join(d, "dir"), filepath.Join(d, "regular")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(regular, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return
}

// within fails t if fn does not return in time: the FIFO case blocks
// forever with a plain open, so the check must not hang the test binary.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestOpenRefusesNonRegular(t *testing.T) {
	fifo, zero, dir, regular := hostile(t)
	for _, p := range []string{fifo, zero, dir, "/dev/null"} {
		within(t, 5*time.Second, "Open("+p+")", func() {
			f, err := Open(p)
			if err == nil {
				f.Close()
				t.Errorf("Open(%s) succeeded, want an error", p)
			} else if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Open(%s) = %v, want ErrNotRegular", p, err)
			} else if !strings.Contains(err.Error(), p) {
				t.Errorf("Open(%s) error %q does not name the path", p, err)
			}
		})
	}
	f, err := Open(regular)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "hello\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if _, err := Open(filepath.Join(filepath.Dir(regular), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestReadFileBound(t *testing.T) {
	_, _, _, regular := hostile(t)
	if b, err := ReadFile(regular, 6); err != nil || string(b) != "hello\n" {
		t.Errorf("ReadFile at the limit = %q, %v", b, err)
	}
	if _, err := ReadFile(regular, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile over the limit: %v, want ErrTooLarge", err)
	}
	// A /proc file is regular, reports size 0 and still reads.
	if b, err := ReadFile("/proc/self/status", 1<<20); err != nil || !strings.Contains(string(b), "CapEff:") {
		t.Errorf("ReadFile(/proc/self/status) = %.40q, %v", b, err)
	}
}

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int64
		want  string
		err   error
	}{
		{"abc", 3, "abc", nil},
		{"abc", 5, "abc", nil},
		{"abcd", 3, "abc", ErrTooLarge},
		{"", 0, "", nil},
	} {
		b, err := io.ReadAll(Reader(strings.NewReader(tc.in), tc.limit))
		if string(b) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Reader(%q, %d) read %q, %v; want %q, %v", tc.in, tc.limit, b, err, tc.want, tc.err)
		}
	}
}
