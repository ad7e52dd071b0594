package flamegraph

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadFoldedLineBound(t *testing.T) {
	const max = 64
	at := strings.Repeat("f", max-2) + " 1" // exactly max bytes
	tests := []struct {
		name     string
		in       string
		wantLine int // 0: no error
	}{
		{"at the bound", "a 1\n" + at + "\nb 2\n", 0},
		{"at the bound, no newline", at, 0},
		{"one over", "a 1\n" + at + "2\nb 2\n", 2},
		{"one over, no newline", "a 1\nb 2\n" + at + "2", 3},
		{"CR counts", at + "\r\n", 1},
		{"far over", "a 1\n" + strings.Repeat("x", 10*max), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := 0
			_, err := ReadFoldedMax(strings.NewReader(tc.in), max, func(*FoldedLine) error {
				lines++
				return nil
			})
			var le *LineTooLongError
			if tc.wantLine == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &le) || le.Line != tc.wantLine || le.Max != max {
				t.Fatalf("err = %v, want line %d longer than %d bytes", err, tc.wantLine, max)
			}
			if lines != tc.wantLine-1 {
				t.Errorf("%d lines passed on before the long one, want %d", lines, tc.wantLine-1)
			}
		})
	}
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// An endless line (/dev/zero) fails at the bound, having allocated a few
// times the bound, not the input.
func TestReadFoldedDevZero(t *testing.T) {
	f, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	const max = 4 << 20
	var rerr error
	got := allocated(func() {
		_, rerr = ReadFoldedMax(f, max, func(*FoldedLine) error { return nil })
	})
	var le *LineTooLongError
	if !errors.As(rerr, &le) || le.Line != 1 {
		t.Fatalf("err = %v, want line 1 too long", rerr)
	}
	// Appending to the line doubles its buffer: about 4 times what it holds
	// is allocated in all.
	if got > 6*max+4*readBufSize {
		t.Errorf("reading /dev/zero with a %d-byte line bound allocated %d bytes", max, got)
	}

	// The default bound, through the tree.
	_, rerr = NewTree(TreeOptions{}).ReadFolded(io.LimitReader(f, 2*DefaultMaxLine))
	if !errors.As(rerr, &le) || le.Max != DefaultMaxLine {
		t.Fatalf("Tree.ReadFolded of /dev/zero: err = %v, want a line longer than %d bytes", rerr, DefaultMaxLine)
	}
}

// Streaming: memory follows the distinct frames, not the input; a million
// lines of the same few stacks allocate next to nothing.
func TestReadFoldedStreams(t *testing.T) {
	const lines = 1 << 20
	line := []byte("main;run;work;leaf 12\nmain;run;other 3\n")
	r := &repeatReader{data: line, n: lines / 2}
	tr := NewTree(TreeOptions{})
	var err error
	got := allocated(func() { _, err = tr.ReadFolded(r) })
	if err != nil {
		t.Fatal(err)
	}
	if tr.Total() != 15*lines/2 || tr.Len() != 6 {
		t.Fatalf("total %v, %d frames; want %v, 6", tr.Total(), tr.Len(), 15*lines/2)
	}
	if size := uint64(len(line) * lines / 2); got > size/8 {
		t.Errorf("reading %d bytes allocated %d", size, got)
	}
}

// repeatReader reads data n times without holding it n times.
type repeatReader struct {
	data []byte
	n    int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	c := copy(p, r.data[r.off:])
	r.off += c
	if r.off == len(r.data) {
		r.off = 0
		r.n--
	}
	return c, nil
}

func TestTreeMaxDepth(t *testing.T) {
	tests := []struct {
		name      string
		opts      TreeOptions
		in        string
		want      string
		truncated int
	}{
		{
			name: "cut, counts kept, prefixes shared",
			opts: TreeOptions{MaxDepth: 3},
			in:   "a;b;c;d;e 1\na;b;c;d;f 2\na;b;x 4\na;b;c 8\n",
			want: " 15\n;a 15\n;a;b 15\n;a;b;c 11\n;a;b;x 4\n",
			// "a;b;c" is not deeper than 3.
			truncated: 2,
		},
		{
			name:      "reverse keeps the leaf end",
			opts:      TreeOptions{MaxDepth: 2, Reverse: true},
			in:        "a;b;c;d 1\nx;c;d 2\nd 4\n",
			want:      " 7\n;d 7\n;d;c 3\n",
			truncated: 2,
		},
		{
			name:      "flame chart",
			opts:      TreeOptions{MaxDepth: 1, Flamechart: true},
			in:        "a;b 1\na;c 2\nb 4\n",
			want:      " 7\n;a 3\n;b 4\n",
			truncated: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := treeFrom(tc.opts, tc.in)
			if got := dump(tr); got != tc.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.want)
			}
			if tr.Truncated() != tc.truncated {
				t.Errorf("Truncated() = %d, want %d", tr.Truncated(), tc.truncated)
			}
			// Add, from frames, cuts the same way.
			ta := NewTree(tc.opts)
			for _, line := range strings.Split(strings.TrimSpace(tc.in), "\n") {
				stack, _, _ := strings.Cut(line, " ")
				var v float64
				ReadFolded(strings.NewReader(line), func(l *FoldedLine) error { v = l.Count; return nil })
				ta.Add(strings.Split(stack, ";"), v)
			}
			if got := dump(ta); got != tc.want || ta.Truncated() != tc.truncated {
				t.Errorf("Add: tree:\n%s\ntruncated %d; want\n%s\ntruncated %d", got, ta.Truncated(), tc.want, tc.truncated)
			}
		})
	}
}

// A 50 MB line, of tiny frames or of one huge name, draws a small SVG: the
// frames past DefaultMaxDepth are cut, and names are clipped.
func TestHugeLineBoundedSVG(t *testing.T) {
	const size = 50 << 20
	deep := append(bytes.Repeat([]byte("a;"), size/2), " 1\n"...)
	wide := append(bytes.Repeat([]byte("<"), size), " 1\n"...)
	for _, tc := range []struct {
		name   string
		in     []byte
		frames int // drawn, the root included
	}{
		{"deep", deep, DefaultMaxDepth + 1},
		{"one long name", wide, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTree(TreeOptions{})
			if _, err := tr.ReadFolded(bytes.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			var svg bytes.Buffer
			if err := tr.WriteSVG(&svg, SVGOptions{}); err != nil {
				t.Fatal(err)
			}
			// Each frame: about 200 bytes of markup and its name, at most
			// 4 KB escaped ("&lt;" for "<") in the tooltip.
			if limit := 20<<10 + tc.frames*(200+4*maxNameDrawn); svg.Len() > limit {
				t.Fatalf("%d-byte SVG from a %d-byte line, want under %d", svg.Len(), len(tc.in), limit)
			}
			frames := checkXML(t, svg.Bytes())
			if len(frames) != tc.frames {
				t.Fatalf("%d frames drawn, want %d", len(frames), tc.frames)
			}
			for _, f := range frames {
				if name, _, _ := strings.Cut(f.title, " ("); len(name) > maxNameDrawn {
					t.Fatalf("a %d-byte name drawn", len(name))
				}
			}
		})
	}
}

func TestClipName(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("x", maxNameDrawn),
		strings.Repeat("x", maxNameDrawn+1),
		strings.Repeat("é", maxNameDrawn),
		strings.Repeat("\xff", maxNameDrawn+5),
	} {
		got := clipName(s)
		if len(got) > maxNameDrawn {
			t.Errorf("clipName of %d bytes is %d bytes", len(s), len(got))
		}
		if len(s) <= maxNameDrawn && got != s {
			t.Errorf("clipName clipped a %d-byte name", len(s))
		}
		if len(s) > maxNameDrawn && (!strings.HasSuffix(got, "..") || !strings.HasPrefix(s, got[:len(got)-2])) {
			t.Errorf("clipName = %q..., not a prefix and \"..\"", got[:10])
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Errorf("clipName cut a character")
		}
	}
}
