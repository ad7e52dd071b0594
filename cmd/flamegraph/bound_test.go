package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestMain runs the command itself when asked to, so that a test can measure
// a real process's peak memory.
func TestMain(m *testing.M) {
	if os.Getenv("FLAMEGRAPH_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// repeated reads b over and over, n bytes in all (forever if n < 0), without
// holding more than b.
type repeated struct {
	b   []byte
	n   int64
	off int
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	if r.n > 0 && int64(len(p)) > r.n {
		p = p[:r.n]
	}
	c := 0
	for c < len(p) {
		k := copy(p[c:], r.b[r.off:])
		c += k
		r.off = (r.off + k) % len(r.b)
	}
	if r.n > 0 {
		r.n -= int64(c)
	}
	return c, nil
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// bomb is a gzip stream of copies times block: gzip members, each one block
// compressed, one after the other, which gunzips as one stream. A 4 GiB bomb
// costs a few MB and no time to make.
func bomb(t testing.TB, block []byte, copies int) []byte {
	return bytes.Repeat(gz(t, block), copies)
}

// runAlloc runs the command and also returns the bytes it allocated.
func runAlloc(args []string, stdin io.Reader) (code int, stdout, stderr string, alloc uint64) {
	var out, errb bytes.Buffer
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	code = run(args, stdin, &out, &errb)
	runtime.ReadMemStats(&after)
	return code, out.String(), errb.String(), after.TotalAlloc - before.TotalAlloc
}

// checkBadInput asserts the outcome of bad input: exit 1, nothing on stdout,
// one line on stderr holding each of want.
func checkBadInput(t *testing.T, code int, stdout, stderr string, want ...string) {
	t.Helper()
	if code != 1 || stdout != "" {
		t.Fatalf("exit %d with %d bytes on stdout, want 1 and none; stderr %q", code, len(stdout), stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Fatalf("stderr is not one line: %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not mention %q", stderr, w)
		}
	}
}

const gib = 1 << 30

func TestGzipBomb(t *testing.T) {
	block := make([]byte, 1<<20)
	zeros := bomb(t, block, 4096) // 4 GiB of zeros
	for i := range block {
		block[i] = 1
	}
	ones := bomb(t, block, 4096) // 4 GiB of binary that is not all zero
	tests := []struct {
		name  string
		args  []string
		in    []byte
		want  []string
		alloc uint64
	}{
		{"zeros", nil, zeros, []string{"standard input", "neither folded stacks nor a pprof profile"}, 16 << 20},
		{"binary", []string{"--max-profile", "16M"}, ones, []string{"standard input", "16M", "--max-profile"}, 64 << 20},
		{"gzip in gzip", []string{"--max-profile=16M"}, gz(t, ones), []string{"16M", "--max-profile"}, 64 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs, alloc := runAlloc(tc.args, bytes.NewReader(tc.in))
			checkBadInput(t, code, out, errs, tc.want...)
			if alloc > tc.alloc {
				t.Errorf("a %d-byte gzip bomb cost %d bytes, want under %d", len(tc.in), alloc, tc.alloc)
			}
		})
	}

	// A bomb of valid lines is a large input like any other: it streams.
	line := []byte("a;b 1\n")
	block = bytes.Repeat(line, (1<<20)/len(line))
	const copies = 256
	code, out, errs, alloc := runAlloc(nil, bytes.NewReader(bomb(t, block, copies)))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := fmt.Sprintf("all (%s samples, 100%%)", commas(len(block)/len(line)*copies))
	if got := titles(out); len(got) != 3 || got[0] != want {
		t.Errorf("frames %q, want 3 with %q first", got, want)
	}
	if size := uint64(len(block) * copies); alloc > size/8 {
		t.Errorf("%d bytes of gzipped folded text cost %d bytes", size, alloc)
	}
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestDevZero(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip(err)
	}
	code, out, errs, alloc := runAlloc([]string{"/dev/zero"}, nil)
	checkBadInput(t, code, out, errs, "/dev/zero", "neither folded stacks nor a pprof profile")
	if alloc > 16<<20 {
		t.Errorf("/dev/zero cost %d bytes", alloc)
	}
}

// A line without a newline fails at the line bound; memory stays within a
// few times the bound, whatever the line's length.
func TestLongLine(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		bound string
		alloc uint64
	}{
		{nil, "64M", 512 << 20},
		{[]string{"--max-line", "1M"}, "1M", 32 << 20},
	} {
		t.Run(tc.bound, func(t *testing.T) {
			in := &repeated{b: []byte("a"), n: 2 * gib}
			code, out, errs, alloc := runAlloc(tc.args, in)
			checkBadInput(t, code, out, errs, "standard input", "line 1 is longer than "+tc.bound, "--max-line")
			if alloc > tc.alloc {
				t.Errorf("a line of 2 GiB cost %d bytes", alloc)
			}
		})
	}
}

// The same, as a process: its peak resident memory stays far below the
// input's size.
func TestLongLinePeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("pipes 1 GiB through a process")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "FLAMEGRAPH_TEST_RUN_MAIN=1")
	cmd.Stdin = &repeated{b: []byte("main;a;b;c"), n: gib}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(errb.String(), "--max-line") {
		t.Fatalf("exit %d, stderr %q; want 1 and a line too long", code, errb.String())
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	if peak > 400<<20 {
		t.Errorf("a 1 GiB line made a process of %d MB at its peak", peak>>20)
	}
	t.Logf("peak RSS %d MB", peak>>20)
}

// FIFOs and pipes are streamed: well-formed input works, bad input is
// bounded.
func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	feed := func(r io.Reader) {
		go func() {
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			io.Copy(f, r) // ends with EPIPE when the command stops early
			f.Close()
		}()
	}
	feed(strings.NewReader("a;b 3\na;c 1\n"))
	code, out, errs := runCmd(t, "", "", fifo)
	if code != 0 || len(titles(out)) != 4 {
		t.Fatalf("FIFO: exit %d, %d frames; stderr %q", code, len(titles(out)), errs)
	}

	feed(&repeated{b: []byte("x"), n: -1})
	code, out, errs, _ = runAlloc([]string{"--max-line", "1M", fifo}, nil)
	checkBadInput(t, code, out, errs, fifo, "--max-line")

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		pw.Write(gz(t, []byte("x;y 2\n")))
		pw.Close()
	}()
	var o, e bytes.Buffer
	if code := run(nil, pr, &o, &e); code != 0 || len(titles(o.String())) != 3 {
		t.Fatalf("gzipped pipe: exit %d, %d frames; stderr %q", code, len(titles(o.String())), e.String())
	}
	pr.Close()
}

// A 50 MB line draws a bounded SVG, with a warning for the frames cut.
func TestDeepLine(t *testing.T) {
	in := strings.Repeat("f;", 25<<20) + "g 7\n"
	code, out, errs := runCmd(t, "", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := len(titles(out)); n != 2048+1 {
		t.Errorf("%d frames drawn, want 2049", n)
	}
	if len(out) > 2<<20 {
		t.Errorf("a %d-byte line made a %d-byte SVG", len(in), len(out))
	}
	want := "flamegraph: 1 stacks deeper than 2048 frames lost their deepest frames (--max-depth raises the bound)\n"
	if !strings.Contains(errs, want) {
		t.Errorf("stderr %q, want %q", errs, want)
	}

	code, out, errs = runCmd(t, "", "a;b;c;d 1\na;b 1\n", "--max-depth", "2")
	if code != 0 || len(titles(out)) != 3 || !strings.Contains(errs, "1 stacks deeper than 2 frames") {
		t.Errorf("--max-depth 2: exit %d, %d frames, stderr %q", code, len(titles(out)), errs)
	}
}

func TestBoundFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--max-line", "x"}, {"--max-line", "0"}, {"--max-profile", "-1"},
		{"--max-profile", "99999999999G"}, {"--max-depth", "0"}, {"--max-depth", "1k"},
	} {
		code, out, errs := runCmd(t, "", "a 1\n", args...)
		if code != 2 || out != "" || !strings.Contains(errs, args[1]) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the value named", args, code, errs)
		}
	}
	for in, want := range map[string]int{
		"1": 1, "4096": 4096, "64K": 64 << 10, "64k": 64 << 10, "64M": 64 << 20,
		"64MiB": 64 << 20, "2G": 2 << 30, "3gb": 3 << 30,
	} {
		if n, ok := parseSize(in); !ok || n != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, n, ok, want)
		}
		if n, ok := parseSize(fmtSize(want)); !ok || n != want {
			t.Errorf("fmtSize(%d) = %q does not read back", want, fmtSize(want))
		}
	}
	for _, in := range []string{"", "M", "1T", "1.5M", "-1", "0", "1 M"} {
		if n, ok := parseSize(in); ok {
			t.Errorf("parseSize(%q) = %d, want an error", in, n)
		}
	}
}

// Text that looks binary but starts with a valid folded line, even a long
// one, is still read as folded text.
func TestBinaryLookingFolded(t *testing.T) {
	for _, n := range []int{10, 2 << 20} {
		in := "\x01" + strings.Repeat("x", n) + " 5\nb 2\n"
		code, out, errs := runCmd(t, "", in)
		if code != 0 || len(titles(out)) != 3 {
			t.Errorf("%d-byte first line: exit %d, %d frames, stderr %q", n, code, len(titles(out)), errs)
		}
	}
}
