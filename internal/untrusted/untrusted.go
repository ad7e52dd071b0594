// Package untrusted opens files that another user may control: a profiled
// process's binaries, their debug files, JIT perf maps and /proc entries. Any
// user can put a FIFO, a device or a symlink to one where ember looks, and a
// plain open or read of it would block forever or never reach the end, so
// every such file is opened here: only regular files, without blocking, and
// read within a bound.
package untrusted

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is returned for a path that names a FIFO, device, socket or
// directory.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if, on the descriptor itself, it is a regular
// file. The path is first opened with O_PATH, which never runs a device's
// open routine nor waits for a FIFO's writer; only once that descriptor is
// known to be a regular file is the same inode opened for reading, through
// /proc/self/fd, so a path swapped in between cannot substitute another file.
// The read open is O_NONBLOCK (a lease on the file fails it instead of
// stalling it), O_NOCTTY and O_CLOEXEC.
func Open(path string) (*os.File, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)
	var pst unix.Stat_t
	if err := unix.Fstat(pfd, &pst); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if pst.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &os.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(pfd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != pst.Dev || st.Ino != pst.Ino {
		unix.Close(fd)
		return nil, &os.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ErrTooLarge is returned by ReadFile and ReadAll for input over their
// limit.
var ErrTooLarge = errors.New("larger than the limit")

// ReadFile opens path with Open and reads all of it, failing with
// ErrTooLarge past limit bytes. It suits /proc files, which report size 0.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadAll(f, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// ReadAll reads r to its end, failing with ErrTooLarge past limit bytes.
func ReadAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// Reader returns a reader of at most limit bytes of r, which fails with
// ErrTooLarge, instead of ending quietly, when r holds more: for parsers
// that stream a file (a perf map a JIT keeps appending to, /proc/PID/maps).
func Reader(r io.Reader, limit int64) io.Reader {
	return &limited{r: r, left: limit}
}

type limited struct {
	r    io.Reader
	left int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more says whether the input really goes on.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
