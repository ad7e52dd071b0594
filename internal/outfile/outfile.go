// Package outfile writes a command's output to standard output or to a named
// file. A regular file (or a new name) is written atomically: a reader never
// sees a half-written file, and a failed or killed run leaves nothing behind.
// A character device or a FIFO is written straight into, as a shell
// redirection would. Anything else -o could name (a directory, a symbolic
// link, a socket, a block device) is refused before any output is made.
package outfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Write calls fn with a writer for path ("" or "-" for stdout) and commits the
// output only if fn succeeds and every write, flush and close succeeded.
func Write(path string, stdout io.Writer, fn func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriterSize(stdout, 256<<10)
		if err := fn(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	kind, err := classify(path)
	if err != nil {
		return err
	}
	if kind == stream {
		return writeStream(path, fn)
	}
	return writeAtomic(path, fn)
}

// Check reports whether Write could write path, so that a command that
// collects for a long time can refuse a bad -o before it starts rather than
// after; "" and "-" (stdout) always can. It does not open a FIFO, whose
// reader would see end of file.
func Check(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	kind, err := classify(path)
	if err != nil || kind == stream {
		return err
	}
	f, err := createTemp(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("-o %s: cannot write there: %w", path, errors.Unwrap(err))
	}
	if name := f.Name(); name != "" {
		os.Remove(name)
	}
	return f.Close()
}

// target is how Write treats what a path names.
type target int

const (
	replace target = iota // a regular file or a new name: atomic
	stream                // a character device or FIFO: written into
)

// classify says how to write path, or why not to. It does not follow a
// symbolic link in the last component: a link that another user planted (in
// /tmp, say) must not steer root into writing over its target.
func classify(path string) (target, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return replace, nil
	}
	if err != nil {
		return 0, fmt.Errorf("-o %s: %w", path, errors.Unwrap(err))
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return replace, nil
	case m&fs.ModeSymlink != 0:
		return 0, fmt.Errorf("-o %s is a symbolic link, which is not followed (a link planted by another user could steer the output onto any file): give the target's own path, or - for standard output", path)
	case m.IsDir():
		return 0, fmt.Errorf("-o %s is a directory: give a file name, e.g. %s", path, filepath.Join(path, "out"))
	case m&fs.ModeNamedPipe != 0, m&fs.ModeCharDevice != 0:
		return stream, nil
	case m&fs.ModeSocket != 0:
		return 0, fmt.Errorf("-o %s is a socket, which cannot be written as a file: give a file name or a FIFO", path)
	case m&fs.ModeDevice != 0:
		return 0, fmt.Errorf("-o %s is a block device: refusing to write output over a disk; give a file name", path)
	default:
		return 0, fmt.Errorf("-o %s is not a regular file (%v): give a file name", path, m.Type())
	}
}

// writeStream writes into a character device or FIFO. The open does not
// block, so that a FIFO without a reader fails at once rather than hanging,
// and does not follow a link swapped in since classify looked.
func writeStream(path string, fn func(io.Writer) error) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("-o %s: FIFO has no reader: start the reading program first", path)
	}
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("-o %s: %w", path, err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFIFO && t != unix.S_IFCHR {
		unix.Close(fd)
		return fmt.Errorf("-o %s changed while being opened: try again", path)
	}
	// Blocking writes from here on: a slow reader slows us, as with a
	// shell redirection, rather than failing with EAGAIN.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return fmt.Errorf("-o %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	bw := bufio.NewWriterSize(f, 256<<10)
	err = fn(bw)
	if err == nil {
		if err = bw.Flush(); err != nil {
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", path, cerr)
	}
	return err
}

// writeAtomic writes a new file in path's directory and then puts it in
// place: the reader sees the old file or the whole new one.
func writeAtomic(path string, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := createTemp(dir)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			if name := tmp.Name(); name != "" {
				os.Remove(name)
			}
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := fn(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.commit(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
}

// tempFile is an output file not yet in place: unnamed (O_TMPFILE), so that
// neither a long target name nor a SIGKILL can leave a stray file, or, where
// the file system has no O_TMPFILE, a short hidden name.
type tempFile struct {
	*os.File
	dir  string
	name string // "" while unnamed
}

// Name returns the temporary file's path, or "" if it has none.
func (t *tempFile) Name() string { return t.name }

// tempPrefix starts the names of our named temporary files; the process ID
// that follows lets a later run remove the files of a run that was killed.
const tempPrefix = ".ember-"

func createTemp(dir string) (*tempFile, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return &tempFile{File: os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), dir: dir}, nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, &fs.PathError{Op: "create", Path: dir, Err: err}
	}
	removeStale(dir)
	f, err := os.CreateTemp(dir, tempPrefix+strconv.Itoa(os.Getpid())+"-*.tmp")
	if err != nil {
		return nil, err
	}
	return &tempFile{File: f, dir: dir, name: f.Name()}, nil
}

// commit closes the file and gives it the name path, replacing whatever
// regular file or link was there.
func (t *tempFile) commit(path string) error {
	if t.name == "" {
		// A new name: link the file there directly. An existing one:
		// link it under a short hidden name and rename that over it.
		proc := "/proc/self/fd/" + strconv.Itoa(int(t.Fd()))
		err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
		if err == nil {
			return t.Close()
		}
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
		for i := 0; ; i++ {
			name := filepath.Join(t.dir, fmt.Sprintf("%s%d-%d.tmp", tempPrefix, os.Getpid(), i))
			err = unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
			if err == nil {
				t.name = name
				break
			}
			if !errors.Is(err, unix.EEXIST) || i > 100 {
				return err
			}
		}
	}
	if err := t.Close(); err != nil {
		return err
	}
	return os.Rename(t.name, path)
}

// removeStale removes named temporary files that runs which no longer exist
// left in dir (killed between creating and renaming them).
func removeStale(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*.tmp"))
	for _, name := range names {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(name), tempPrefix), "-")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 || unix.Kill(n, 0) != unix.ESRCH {
			continue
		}
		var st unix.Stat_t
		if unix.Lstat(name, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && int(st.Uid) == os.Geteuid() {
			os.Remove(name)
		}
	}
}

// CloseStdout closes standard output, f, and returns the error a failed
// write can show only then (on NFS, say); standard output that was never open
// is not an error.
func CloseStdout(f *os.File) error {
	err := f.Close()
	if err == nil || errors.Is(err, unix.EBADF) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return fmt.Errorf("write standard output: %w", err)
}
