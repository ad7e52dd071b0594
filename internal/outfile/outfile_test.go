package outfile

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.folded")
	if err := Write(path, nil, func(w io.Writer) error { _, err := io.WriteString(w, "a;b 1\n"); return err }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "a;b 1\n" {
		t.Fatalf("file = %q, %v", got, err)
	}
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.folded")
	boom := errors.New("boom")
	err := Write(path, nil, func(w io.Writer) error { io.WriteString(w, "partial"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestWriteStdout(t *testing.T) {
	var buf bytes.Buffer
	if err := Write("-", &buf, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil || buf.String() != "x" {
		t.Fatalf("stdout = %q, %v", buf.String(), err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "out.svg")); err != nil {
		t.Errorf("Check in a writable directory: %v", err)
	}
	if err := Check(filepath.Join(dir, "missing", "out.svg")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Check in a missing directory: %v", err)
	}
	if err := Check(""); err != nil {
		t.Errorf("Check(stdout): %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Check left %d files behind", len(entries))
	}
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

// TestWriteLeavesNoNameWhileWriting: until the output is complete, nothing
// in the directory bears a name, so a SIGKILL mid-write leaves nothing.
func TestWriteLeavesNoNameWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.folded")
	for _, existing := range []bool{false, true} {
		if existing {
			os.WriteFile(path, []byte("old"), 0o644)
		}
		err := Write(path, nil, func(w io.Writer) error {
			entries, _ := os.ReadDir(dir)
			if len(entries) != map[bool]int{false: 0, true: 1}[existing] {
				t.Errorf("existing=%v: while writing, the directory holds %v", existing, entries)
			}
			_, err := io.WriteString(w, "new")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != "new" {
			t.Errorf("existing=%v: file = %q", existing, got)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v, want 0644", fi.Mode())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestWriteLongName: a name at the file system's 255-byte limit is written;
// a temporary name longer than it was the only reason this failed.
func TestWriteLongName(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{250, 255} {
		path := filepath.Join(dir, strings.Repeat("x", n))
		if err := Check(path); err != nil {
			t.Errorf("Check(%d-byte name): %v", n, err)
		}
		if err := Write(path, nil, writeString("a 1\n")); err != nil {
			t.Errorf("Write(%d-byte name): %v", n, err)
		}
		os.WriteFile(path, []byte("old"), 0o644)
		if err := Write(path, nil, writeString("a 2\n")); err != nil {
			t.Errorf("Write over an existing %d-byte name: %v", n, err)
		}
		if got, _ := os.ReadFile(path); string(got) != "a 2\n" {
			t.Errorf("%d-byte name: file = %q", n, got)
		}
	}
}

// TestFallbackRemovesStale: the named temporary files of a run that was
// killed are removed by the next run that needs one, others' are kept.
func TestFallbackRemovesStale(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, tempPrefix+"4194999-123.tmp") // above PID_MAX_LIMIT: never running
	live := filepath.Join(dir, tempPrefix+strconv.Itoa(os.Getpid())+"-7.tmp")
	other := filepath.Join(dir, ".other.tmp")
	for _, p := range []string{dead, live, other} {
		os.WriteFile(p, nil, 0o600)
	}
	removeStale(dir)
	for p, want := range map[string]bool{dead: false, live: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

// TestCheckRefusesDirectory: -o naming a directory is refused up front,
// not after a whole collection.
func TestCheckRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []func(string) error{Check, func(p string) error { return Write(p, nil, writeString("x")) }} {
		if err := f(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("directory: %v", err)
		}
	}
}

// TestSymlinkIsRefused: a link in the last component, as another user could
// plant in /tmp, is neither followed nor replaced: its target is untouched.
func TestSymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "passwd")
	os.WriteFile(victim, []byte("root:x:0:0\n"), 0o644)
	link := filepath.Join(dir, "out.svg")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := Check(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Check: %v", err)
	}
	if err := Write(link, nil, writeString("evil")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Write: %v", err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "root:x:0:0\n" {
		t.Errorf("target now %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link replaced: %v %v", fi, err)
	}
	// A link to a device is refused as well.
	devLink := filepath.Join(dir, "null")
	os.Symlink("/dev/null", devLink)
	if err := Write(devLink, nil, writeString("x")); err == nil {
		t.Error("link to /dev/null: written through")
	}
}

// TestDeviceIsWrittenInto: -o naming a character device writes into it and
// leaves the node a device (it was replaced by a regular file).
func TestDeviceIsWrittenInto(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := Check(null); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := Write(null, nil, writeString(strings.Repeat("x", 1<<20))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(null)
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("after Write: %v, %v; want the character device still", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	// /dev/full: the failed write is reported.
	full := filepath.Join(dir, "full")
	if err := unix.Mknod(full, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 7))); err != nil {
		t.Fatal(err)
	}
	if err := Write(full, nil, writeString("x")); err == nil || !strings.Contains(err.Error(), "no space") {
		t.Errorf("write to a full device: %v", err)
	}
	// A block device is refused.
	blk := filepath.Join(dir, "blk")
	if err := unix.Mknod(blk, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))); err != nil {
		t.Fatal(err)
	}
	if err := Check(blk); err == nil || !strings.Contains(err.Error(), "block device") {
		t.Errorf("block device: %v", err)
	}
}

// TestFIFO: a FIFO is written into and stays a FIFO; one without a reader
// fails at once with a message saying so, rather than hanging.
func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(fifo); err != nil {
		t.Errorf("Check: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- Write(fifo, nil, writeString("nobody reads")) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no reader") {
			t.Errorf("FIFO without a reader: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FIFO without a reader: Write hangs")
	}

	// O_RDWR on a FIFO (Linux) opens without waiting for a writer, and
	// being a writer too, never reads end of file: read the length written.
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := strings.Repeat("a;b 1\n", 100000) // more than a pipe buffer
	got := make(chan []byte, 1)
	go func() { b := make([]byte, len(want)); io.ReadFull(r, b); got <- b }()
	if err := Write(fifo, nil, writeString(want)); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != want {
		t.Errorf("read %d bytes from the FIFO, want %d", len(b), len(want))
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after Write: %v, %v; want the FIFO still", fi.Mode(), err)
	}
}

// TestSocketIsRefused: a socket cannot be opened as a file; say so.
func TestSocketIsRefused(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := Check(sock); err == nil || !strings.Contains(err.Error(), "socket") {
		t.Errorf("socket: %v", err)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket replaced: %v %v", fi, err)
	}
}

// TestStdoutWriteError: a failed write to standard output is an error.
func TestStdoutWriteError(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	if err := Write("-", full, writeString("x")); err == nil || !strings.Contains(err.Error(), "standard output") {
		t.Errorf("stdout /dev/full: %v", err)
	}
}

// TestCloseStdout: closing works, and a stdout that was never open (or is
// closed already) is no error.
func TestCloseStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := CloseStdout(w); err != nil {
		t.Errorf("pipe: %v", err)
	}
	if err := CloseStdout(w); err != nil {
		t.Errorf("closed twice: %v", err)
	}
}
