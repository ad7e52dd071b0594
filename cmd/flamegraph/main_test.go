package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/pprof/profile"
)

// runCmd runs the command in dir and returns its exit status and output.
func runCmd(t *testing.T, dir string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if dir != "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		defer os.Chdir(wd)
	}
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// goProfile is a profile as Go's runtime/pprof writes it: no comm label.
func goProfile(t testing.TB, compress bool) []byte {
	t.Helper()
	fn := []*profile.Function{{ID: 1, Name: "main.main"}, {ID: 2, Name: "main.work"}, {ID: 3, Name: "runtime.main"}}
	loc := func(id uint64, f *profile.Function) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f}}}
	}
	l1, l2, l3 := loc(1, fn[0]), loc(2, fn[1]), loc(3, fn[2])
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{l2, l1, l3}, Value: []int64{150, 1500}},
			{Location: []*profile.Location{l1, l3}, Value: []int64{50, 500}},
		},
		Location: []*profile.Location{l1, l2, l3},
		Function: fn,
	}
	var b bytes.Buffer
	var err error
	if compress {
		err = p.Write(&b)
	} else {
		err = p.WriteUncompressed(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// titles returns the tooltips of the frames, in order, as written (escaped).
func titles(svg string) []string {
	var out []string
	_, frames, _ := strings.Cut(svg, `<g id="frames">`)
	for _, part := range strings.Split(frames, ` data-title="`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	folded := writeFile(t, dir, "in.folded", []byte("a;b 150\na;c 50\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a;b 150\na;c 50\n"))
	zw.Close()
	foldedGz := writeFile(t, dir, "in.folded.gz", gz.Bytes())
	pprofGz := writeFile(t, dir, "cpu.pb.gz", goProfile(t, true))
	pprofRaw := writeFile(t, dir, "cpu.pb", goProfile(t, false))
	corrupt := writeFile(t, dir, "corrupt.pb.gz", goProfile(t, true)[:40])
	garbage := writeFile(t, dir, "garbage.bin", []byte("\x7fELF\x02\x01\x01\x00\x00\x00garbage\x00\x01\x02"))
	before := writeFile(t, dir, "before.folded", []byte("a;b 100\na;c 100\n"))
	ctl := writeFile(t, dir, "ctl.folded", []byte("a\x01;b 150\na;c 50\n"))
	// runtime/pprof writes field 9 (time_nanos) first.
	var goOrder bytes.Buffer
	zw = gzip.NewWriter(&goOrder)
	zw.Write(append([]byte{0x48, 0x8e, 0x9e, 0x01}, goProfile(t, false)...))
	zw.Close()
	goPprof := writeFile(t, dir, "go.pprof", goOrder.Bytes())

	tests := []struct {
		name       string
		stdin      string
		args       []string
		code       int
		titles     []string // expected frame titles, in order
		stderr     string   // substring expected on stderr
		noStdout   bool
		wantStdout string // substring expected on stdout
	}{
		{name: "stdin", stdin: "a;b 150\na;c 50\n", titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%)", "b (150 samples, 75.00%)", "c (50 samples, 25.00%)"}},
		{name: "file", args: []string{folded}, titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%)", "b (150 samples, 75.00%)", "c (50 samples, 25.00%)"}},
		{name: "two files", args: []string{folded, "-"}, stdin: "x 1\n", titles: []string{"all (201 samples, 100%)", "a (200 samples, 99.50%)", "b (150 samples, 74.63%)", "c (50 samples, 24.88%)", "x (1 samples, 0.50%)"}},
		{name: "gzipped folded", args: []string{foldedGz}, titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%)", "b (150 samples, 75.00%)", "c (50 samples, 25.00%)"}},
		{name: "pprof gz, no comm root", args: []string{pprofGz}, titles: []string{"all (200 samples, 100%)", "runtime.main (200 samples, 100.00%)", "main.main (200 samples, 100.00%)", "main.work (150 samples, 75.00%)"}},
		{name: "pprof raw, sample type", args: []string{"--sample-type", "cpu", pprofRaw}, titles: []string{"all (2,000 nanoseconds, 100%)", "runtime.main (2,000 nanoseconds, 100.00%)", "main.main (2,000 nanoseconds, 100.00%)", "main.work (1,500 nanoseconds, 75.00%)"}},
		{name: "pprof, time first", args: []string{goPprof}, titles: []string{"all (200 samples, 100%)", "runtime.main (200 samples, 100.00%)", "main.main (200 samples, 100.00%)", "main.work (150 samples, 75.00%)"}},
		{name: "control characters", args: []string{ctl}, titles: []string{"all (200 samples, 100%)", "a\uFFFD (150 samples, 75.00%)", "b (150 samples, 75.00%)", "a (50 samples, 25.00%)", "c (50 samples, 25.00%)"}},
		{name: "options", args: []string{"--title=T", "-width", "600", "--col", "java", "--inverted", "--countname", "ms", folded}, titles: []string{"all (200 ms, 100%)", "a (200 ms, 100.00%)", "b (150 ms, 75.00%)", "c (50 ms, 25.00%)"}, wantStdout: `width="600"`},
		{name: "diff", args: []string{"--diff", before, folded}, titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%; 0.00%)", "b (150 samples, 75.00%; +25.00%)", "c (50 samples, 25.00%; -25.00%)"}},
		{name: "two-count input", stdin: "a;b 100 150\na;c 100 50\n", titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%; 0.00%)", "b (150 samples, 75.00%; +25.00%)", "c (50 samples, 25.00%; -25.00%)"}},
		{name: "ignored lines", stdin: "a 200\nbogus\n\n", titles: []string{"all (200 samples, 100%)", "a (200 samples, 100.00%)"}, stderr: "Ignored 2 lines with invalid format"},
		{name: "low count", stdin: "a 5\n", titles: []string{"all (5 samples, 100%)", "a (5 samples, 100.00%)"}, stderr: "Stack count is low (5). Did something go wrong?"},
		{name: "empty", stdin: "", code: 2, stderr: "ERROR: No stack counts found", wantStdout: "ERROR: No valid input provided to flamegraph."},
		{name: "binary garbage", args: []string{garbage}, code: 1, stderr: "garbage.bin: neither folded stacks nor a pprof profile", noStdout: true},
		{name: "corrupt pprof", args: []string{corrupt}, code: 1, stderr: "corrupt.pb.gz", noStdout: true},
		{name: "missing file", args: []string{filepath.Join(dir, "nope")}, code: 1, stderr: "no such file", noStdout: true},
		{name: "unknown option", args: []string{"--bogus"}, code: 2, stderr: "unknown option: bogus", noStdout: true},
		{name: "ambiguous option", args: []string{"--f", "x"}, code: 2, stderr: "ambiguous", noStdout: true},
		{name: "bad palette", args: []string{"--colors", "pink"}, code: 2, stderr: "pink", noStdout: true},
		// Issue 9: every bad option value is a usage error (2), including
		// those the flamegraph package checks when it draws.
		{name: "bad minwidth", args: []string{"--minwidth", "x", folded}, code: 2, stderr: "minwidth", noStdout: true},
		{name: "bad bgcolors", args: []string{"--bgcolors", "pink", folded}, code: 2, stderr: "bgcolors", noStdout: true},
		{name: "negative height", args: []string{"--height", "-3", folded}, code: 2, stderr: "height", noStdout: true},
		{name: "bad fontsize", args: []string{"--fontsize", "NaN", folded}, code: 2, stderr: "font size", noStdout: true},
		{name: "infinite factor", args: []string{"--factor", "inf", folded}, code: 2, stderr: "factor", noStdout: true},
		{name: "negative total", args: []string{"--total", "-1", folded}, code: 2, stderr: "total", noStdout: true},
		{name: "bad notes", args: []string{"--notes", "a-->b", folded}, code: 2, stderr: "notes", noStdout: true},
		{name: "bad encoding", args: []string{"--encoding", "ebcdic", folded}, code: 2, stderr: "encoding", noStdout: true},
		{name: "small width", args: []string{"--width", "5", folded}, code: 2, stderr: "width", noStdout: true},
		{name: "missing nameattr", args: []string{"--nameattr", filepath.Join(dir, "nope"), folded}, code: 2, stderr: "nameattr", noStdout: true},
		{name: "output is a directory", args: []string{"-o", dir, folded}, code: 2, stderr: "is a directory", noStdout: true},
		{name: "output in a missing directory", args: []string{"-o", filepath.Join(dir, "nope", "x.svg"), folded}, code: 2, stderr: "cannot write there", noStdout: true},
		{name: "diff needs two", args: []string{"--diff", folded}, code: 2, stderr: "two inputs", noStdout: true},
		{name: "help", args: []string{"--help"}, wantStdout: "usage: flamegraph"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmd(t, "", tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errs)
			}
			if tt.titles != nil {
				if got := titles(out); strings.Join(got, "|") != strings.Join(tt.titles, "|") {
					t.Errorf("frames:\n%q\nwant:\n%q", got, tt.titles)
				}
			}
			if !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", errs, tt.stderr)
			}
			if tt.code == 1 && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
				t.Errorf("error is not one line: %q", errs)
			}
			if tt.noStdout && out != "" {
				t.Errorf("wrote %d bytes to stdout on failure", len(out))
			}
			if !strings.Contains(out, tt.wantStdout) {
				t.Errorf("stdout lacks %q", tt.wantStdout)
			}
		})
	}
}

func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.svg")
	if code, _, errs := runCmd(t, "", "a;b 200\n", "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, err := os.ReadFile(out)
	if err != nil || !strings.HasSuffix(string(data), "</svg>\n") {
		t.Fatalf("output %q, %v", data, err)
	}
	// A failure leaves the old file alone and no temporary file behind.
	if code, _, _ := runCmd(t, "", "a 1\n", "-o", out, "--minwidth", "bad"); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	again, _ := os.ReadFile(out)
	if !bytes.Equal(again, data) {
		t.Errorf("failed run changed %s", out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestConsistentPalette(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "palette.map", []byte("a->rgb(1,2,3)\n"))
	code, out, errs := runCmd(t, dir, "a;b 200\n", "--cp")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `fill="rgb(1,2,3)"`) {
		t.Errorf("palette colour not used")
	}
	pal, err := os.ReadFile(filepath.Join(dir, "palette.map"))
	if err != nil || !strings.HasPrefix(string(pal), "a->rgb(1,2,3)\nb->rgb(") {
		t.Errorf("palette.map = %q, %v", pal, err)
	}
}

func TestStripHex(t *testing.T) {
	tests := []struct{ in, want string }{
		{"f+0x1a;g 0xdeadBEEF", "f+0x...;g 0x..."},
		{"0x", "0x"},
		{"0xg", "0xg"},
		{"a0x1", "a0x..."},
	}
	for _, tt := range tests {
		if got := string(stripHex(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("stripHex(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseOpts(t *testing.T) {
	var title, width string
	var hash bool
	specs := []optSpec{
		{"title", true, func(v string) error { title = v; return nil }},
		{"width", true, func(v string) error { width = v; return nil }},
		{"hash", false, func(string) error { hash = true; return nil }},
	}
	rest, err := parseOpts(specs, []string{"in1", "-TIT=x y", "--wid", "7", "-", "--hash", "--", "--title"})
	if err != nil {
		t.Fatal(err)
	}
	if title != "x y" || width != "7" || !hash || strings.Join(rest, ",") != "in1,-,--title" {
		t.Errorf("title %q width %q hash %v rest %q", title, width, hash, rest)
	}
	for _, bad := range [][]string{{"--hash=1"}, {"--width"}, {"--nope"}} {
		if _, err := parseOpts(specs, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestWriteError: a graph that cannot be written (/dev/full) is exit 1 with
// one line.
func TestWriteError(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	var errb bytes.Buffer
	code := run(nil, strings.NewReader("a;b 200\n"), full, &errb)
	msg := strings.TrimSpace(errb.String())
	if code != 1 || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
		t.Errorf("to /dev/full: exit %d, stderr %q; want 1 and one line", code, msg)
	}
}

// TestOutputDeviceAndFIFO: -o naming a device writes into it and leaves it
// a device; a FIFO without a reader fails at once (exit 1); a symbolic link
// is refused (exit 2) and its target left alone.
func TestOutputDeviceAndFIFO(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := runCmd(t, "", "a;b 200\n", "-o", null); code != 0 {
			t.Errorf("-o device: exit %d: %s", code, errs)
		}
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("-o device: now %v, %v", fi.Mode(), err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "", "a;b 200\n", "-o", fifo); code != 1 || !strings.Contains(errs, "no reader") {
		t.Errorf("-o FIFO without a reader: exit %d: %s", code, errs)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("-o FIFO: now %v, %v", fi.Mode(), err)
	}
	victim := writeFile(t, dir, "victim", []byte("keep\n"))
	link := filepath.Join(dir, "link.svg")
	os.Symlink(victim, link)
	if code, _, errs := runCmd(t, "", "a;b 200\n", "-o", link); code != 2 || !strings.Contains(errs, "symbolic link") {
		t.Errorf("-o symlink: exit %d: %s", code, errs)
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep\n" {
		t.Errorf("link target now %q", got)
	}
}
