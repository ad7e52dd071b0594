package flamegraph

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"
)

// DefaultMaxProfile bounds a pprof profile, which is read and parsed whole:
// parsing takes several times its size. ember's own profiles are a few MB.
const DefaultMaxProfile = 256 << 20

// InputOptions bounds ReadInput and takes what it reads: a folded input is
// streamed line by line into Folded, a pprof profile is parsed whole and
// handed to Profile.
type InputOptions struct {
	// MaxLine is the longest folded line accepted; 0 means DefaultMaxLine.
	MaxLine int
	// MaxProfile is the largest pprof profile accepted, decompressed; 0
	// means DefaultMaxProfile.
	MaxProfile int
	// Folded is called for each valid folded line.
	Folded func(*FoldedLine) error
	// Profile is called once when the input is a pprof profile.
	Profile func(*profile.Profile) error
}

// InputHint says what ReadInput accepts, for error messages.
const InputHint = "give folded text (\"frame;frame count\" per line) or a pprof profile (.pb.gz)"

// ReadInput reads one input that is folded stacks or a pprof profile, either
// gzipped (up to twice) or not, and tells the two apart from their first
// bytes. It returns the number of folded lines ignored as invalid. Memory
// stays bounded whatever the input (a gzip bomb, /dev/zero, a line without
// end): errors are one line, start with display (the input's name) and say
// what to give instead or which bound (--max-line, --max-profile) to raise.
func ReadInput(r io.Reader, display string, o InputOptions) (ignored int, err error) {
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxProfile <= 0 {
		o.MaxProfile = DefaultMaxProfile
	}
	if o.Folded == nil {
		o.Folded = func(*FoldedLine) error { return nil }
	}
	if o.Profile == nil {
		o.Profile = func(*profile.Profile) error { return nil }
	}
	const bufSize = 1 << 20
	br := bufio.NewReaderSize(r, bufSize)
	gzipped := false
	// A pprof profile may be gzipped inside a gzipped file; profile.ParseData
	// would decompress that inner layer whole, so it is streamed here too.
	for layer := 0; ; layer++ {
		head, _ := br.Peek(2)
		if !isGzip(head) {
			break
		}
		if layer == 2 {
			return 0, fmt.Errorf("%s: gzip data inside gzip data inside gzip data; give folded text or a pprof profile, gzipped or not", display)
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("%s: corrupt gzip data (%v); give folded text or a pprof profile, gzipped or not", display, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, bufSize)
		gzipped = true
	}
	head, _ := br.Peek(4096)
	isBinary := looksBinary(head) && !startsFolded(br)
	if isBinary && cannotBeProfile(head) {
		return 0, fmt.Errorf("%s: neither folded stacks nor a pprof profile (it starts with a zero byte); %s", display, InputHint)
	}
	in := &errReader{r: br}
	if isBinary {
		ignored, err = readProfile(in, o)
	} else {
		ignored, err = ReadFoldedMax(in, o.MaxLine, o.Folded)
	}
	var long *LineTooLongError
	switch {
	case err == nil:
		return ignored, nil
	case errors.As(err, &long):
		return ignored, fmt.Errorf("%s: line %d is longer than %s, the --max-line bound; give folded text (\"frame;frame count\" per line), or raise --max-line", display, long.Line, FormatSize(long.Max))
	case in.err != nil && gzipped:
		return ignored, fmt.Errorf("%s: truncated or corrupt gzip data (%v); give folded text or a pprof profile, gzipped or not", display, in.err)
	}
	return ignored, fmt.Errorf("%s: %w", display, err)
}

// errReader remembers the first read error, to tell bad data from data that
// could not be read.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// startsFolded reports whether the input's first line, if it is in the
// buffer, is a valid folded line: text that looked binary (a process name
// with control characters, say) is still read as text.
func startsFolded(br *bufio.Reader) bool {
	buf, err := br.Peek(br.Size())
	line, _, found := bytes.Cut(buf, []byte("\n"))
	return (found || err != nil) && foldedFirstLine(line)
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// looksBinary tells a pprof protobuf (or other binary data) from folded
// text: a protobuf has NUL bytes or small field tags and lengths from its
// first bytes on, text rarely has control characters.
func looksBinary(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	for _, c := range b[:min(len(b), 64)] {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
			return true
		}
	}
	return false
}

// foldedFirstLine reports whether data starts with a valid folded line, for
// text that looked binary (a process name with control characters, say).
func foldedFirstLine(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	valid := false
	ReadFolded(bytes.NewReader(line), func(*FoldedLine) error {
		valid = true
		return nil
	})
	return valid
}

// cannotBeProfile reports, from its first bytes, that data is no profile
// profile.ParseData accepts, before it is read whole: a protobuf cannot
// start with a zero byte (field 0), and the one legacy binary format that
// does starts with the words 0 and 3. It turns away /dev/zero and gzipped
// zeros at once.
func cannotBeProfile(head []byte) bool {
	if len(head) == 0 || head[0] != 0 {
		return false
	}
	for _, size := range []int{4, 8} {
		if len(head) < 2*size {
			continue
		}
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			word := func(i int) uint64 {
				b := head[i*size : (i+1)*size]
				if size == 4 {
					return uint64(order.Uint32(b))
				}
				return order.Uint64(b)
			}
			if word(0) == 0 && word(1) == 3 {
				return false
			}
		}
	}
	return true
}

// readProfile reads binary-looking input whole, within the bound, and parses
// it as a pprof profile; text that only looked binary goes to the folded
// reader after all.
func readProfile(r io.Reader, o InputOptions) (ignored int, err error) {
	chunks, size, err := readChunks(r, o.MaxProfile+1)
	if err != nil {
		return 0, err
	}
	if size > o.MaxProfile {
		if foldedFirstLine(chunks[0]) {
			// Folded text whose first line was too long to tell early.
			rs := []io.Reader{}
			for _, c := range chunks {
				rs = append(rs, bytes.NewReader(c))
			}
			return ReadFoldedMax(io.MultiReader(append(rs, r)...), o.MaxLine, o.Folded)
		}
		return 0, fmt.Errorf("binary data larger than %s, the --max-profile bound (a profile is read whole, decompressed); %s, or raise --max-profile", FormatSize(o.MaxProfile), InputHint)
	}
	data := slices.Concat(chunks...)
	chunks = nil
	p, err := profile.ParseData(data)
	if err != nil && foldedFirstLine(data) {
		return ReadFoldedMax(bytes.NewReader(data), o.MaxLine, o.Folded)
	}
	if err != nil {
		return 0, fmt.Errorf("neither folded stacks nor a pprof profile (%v); %s", err, InputHint)
	}
	return 0, o.Profile(p)
}

// readChunks reads r until EOF or until it has more than max bytes, in
// blocks: unlike io.ReadAll, which doubles its buffer, it holds no more than
// it has read, which matters most for the input that is turned away.
func readChunks(r io.Reader, max int) (chunks [][]byte, size int, err error) {
	const chunk = 4 << 20
	for size < max {
		buf := make([]byte, min(chunk, max-size))
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			chunks = append(chunks, buf[:n])
			size += n
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if len(chunks) == 0 {
		chunks = [][]byte{nil}
	}
	return chunks, size, nil
}

// ParseSize parses a size in bytes, as the --max-line and --max-profile
// options take it: digits with an optional K, M or G suffix (powers of
// 1024), "iB" or "B" after it allowed.
func ParseSize(v string) (int, bool) {
	s := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(v), "B"), "I")
	shift := 0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		}
		if shift > 0 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || n > math.MaxInt>>shift {
		return 0, false
	}
	return int(n << shift), true
}

// FormatSize writes a size the way ParseSize reads it.
func FormatSize(n int) string {
	for _, u := range []struct {
		shift  int
		suffix string
	}{{30, "G"}, {20, "M"}, {10, "K"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.Itoa(n>>u.shift) + u.suffix
		}
	}
	return strconv.Itoa(n)
}
