package flamegraph

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// FoldedLine is one valid line of folded input.
type FoldedLine struct {
	// Stack holds the frames, root first, separated by ';'. It is only valid
	// until the callback returns.
	Stack []byte
	// Count is the line's last number: the one that sizes frames.
	Count float64
	// Before is the first of two counts ("stack before after"); it is zero
	// unless Diff is set.
	Before float64
	// Diff says whether the line has two counts, as difffolded.pl writes them.
	Diff bool
}

// readBufSize is large because folded files are often gigabytes of long lines;
// a bigger buffer means fewer read calls and fewer lines that straddle buffers.
const readBufSize = 1 << 20

// DefaultMaxLine is the longest line, in bytes, ReadFolded accepts: far more
// than the deepest real stacks need, and small enough that input without
// newlines (/dev/zero, a binary file) fails before it costs much memory.
const DefaultMaxLine = 64 << 20

// LineTooLongError is the error for a line longer than the reader's bound.
type LineTooLongError struct {
	Line int // the line's number, from 1
	Max  int // the bound, in bytes
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes", e.Line, e.Max)
}

// ReadFolded reads folded stacks ("frame;frame;... count" per line) from r and
// calls fn for each valid line, in input order. It follows flamegraph.pl's
// rule: a line must match ^(.*)\s+?(\d+(?:\.\d*)?)$, so counts may be
// fractional and the stack keeps any whitespace but the last before the count;
// a second count makes a differential line. A trailing "\r" is ignored so that
// CRLF files work. Lines that do not match are counted and returned as
// ignored. Any bytes are accepted: the stack is passed on as it is. A line
// longer than DefaultMaxLine is a *LineTooLongError.
func ReadFolded(r io.Reader, fn func(*FoldedLine) error) (ignored int, err error) {
	return ReadFoldedMax(r, DefaultMaxLine, fn)
}

// ReadFoldedMax is ReadFolded with a bound of maxLine bytes (its newline not
// counted) on a line; memory use stays within a few times that, whatever the
// input's size.
func ReadFoldedMax(r io.Reader, maxLine int, fn func(*FoldedLine) error) (ignored int, err error) {
	br := bufio.NewReaderSize(r, min(readBufSize, max(maxLine+1, 16)))
	var long []byte // holds a line longer than the buffer
	var l FoldedLine
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= maxLine {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > maxLine && (len(line) > maxLine+1 || line[maxLine] != '\n') {
			return ignored, &LineTooLongError{Line: n, Max: maxLine}
		}
		if len(line) > 0 {
			if parseFolded(line, &l) {
				if ferr := fn(&l); ferr != nil {
					return ignored, ferr
				}
			} else {
				// flamegraph.pl counts blank lines as invalid too.
				ignored++
			}
		}
		if err == io.EOF {
			return ignored, nil
		}
		if err != nil {
			return ignored, fmt.Errorf("read folded stacks: %w", err)
		}
	}
}

// parseFolded splits one line into stack and counts, reporting whether it is
// valid. It scans from the end instead of using a regexp: that is most of the
// reader's time on large inputs.
func parseFolded(line []byte, l *FoldedLine) bool {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	stack, count, ok := splitCount(line)
	if !ok {
		return false
	}
	l.Diff = false
	l.Before = 0
	if s2, c1, ok := splitCount(stack); ok {
		l.Diff = true
		l.Before = c1
		stack = s2
	}
	l.Stack = stack
	l.Count = count
	return true
}

// splitCount splits "stack<space>number" at its last whitespace-separated
// number, as ^(.*)\s+?(\d+(?:\.\d*)?)$ does: exactly one whitespace character
// is dropped and the stack keeps the rest.
func splitCount(line []byte) (stack []byte, count float64, ok bool) {
	i := len(line)
	for i > 0 && isDigit(line[i-1]) {
		i--
	}
	start := i
	if i > 0 && line[i-1] == '.' {
		j := i - 1
		for j > 0 && isDigit(line[j-1]) {
			j--
		}
		if j < i-1 {
			start = j
		}
	}
	// A number needs digits before any '.', and whitespace before it.
	if start == len(line) || !isDigit(line[start]) || start == 0 || !isSpace(line[start-1]) {
		return nil, 0, false
	}
	num := line[start:]
	if c, ok := parseUint(num); ok {
		return line[:start-1], c, true
	}
	c, err := strconv.ParseFloat(string(num), 64)
	if err != nil {
		// Only overflow can get here ("1e400" cannot: no 'e' is accepted).
		return nil, 0, false
	}
	return line[:start-1], c, true
}

// parseUint parses a short run of digits without allocating; it declines
// fractions and numbers that might not fit exactly.
func parseUint(b []byte) (float64, bool) {
	if len(b) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return float64(n), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isSpace matches Perl's \s on bytes.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// nextFrame splits off the first frame of a folded stack.
func nextFrame(stack []byte) (frame, rest []byte, more bool) {
	i := bytes.IndexByte(stack, ';')
	if i < 0 {
		return stack, nil, false
	}
	return stack[:i], stack[i+1:], true
}
