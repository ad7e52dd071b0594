package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/emberprof/ember/profdiff"
	"github.com/google/pprof/profile"
)

// stacks of a synthetic program, with their share of the samples.
var program = map[string]float64{
	"main;work;hot": 0.20, "main;work;a": 0.30, "main;parse;c": 0.35, "main;f": 0.15,
}

// counts draws one run's sample counts: samples in all, each stack jittered
// by 1% run to run, hot scaled by slow.
func counts(rng *rand.Rand, samples, slow float64) map[string]int64 {
	out := map[string]int64{}
	for st, share := range program {
		mean := samples * share * (1 + 0.01*rng.NormFloat64())
		if strings.HasSuffix(st, ";hot") {
			mean *= slow
		}
		out[st] = int64(mean + 0.5 + mean/1e2*rng.NormFloat64())
	}
	return out
}

func folded(c map[string]int64) []byte {
	var b bytes.Buffer
	for st, n := range c {
		fmt.Fprintf(&b, "%s %d\n", st, n)
	}
	return b.Bytes()
}

// pprofOf writes counts as ember's pprof writer does: samples/count and
// cpu/nanoseconds (10 ms a sample), cpu the default, gzipped.
func pprofOf(t *testing.T, c map[string]int64) []byte {
	t.Helper()
	p := &profile.Profile{
		SampleType:        []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:        &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:            10e6,
		DefaultSampleType: "cpu",
	}
	locs := map[string]*profile.Location{}
	for st, n := range c {
		s := &profile.Sample{Value: []int64{n, n * 10e6}}
		frames := strings.Split(st, ";")
		for i := len(frames) - 1; i >= 0; i-- {
			l, ok := locs[frames[i]]
			if !ok {
				fn := &profile.Function{ID: uint64(len(p.Function) + 1), Name: frames[i]}
				p.Function = append(p.Function, fn)
				l = &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
				p.Location = append(p.Location, l)
				locs[frames[i]] = l
			}
			s.Location = append(s.Location, l)
		}
		p.Sample = append(p.Sample, s)
	}
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// side writes n runs into a new directory, each made by mk.
func side(t *testing.T, n int, mk func(i int) []byte) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("run%02d", i)), mk(i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Repeated pprof runs: a slower hot fails with exit 1 and is named; the
// same program passes.
func TestExitStatus(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := side(t, 5, func(int) []byte { return pprofOf(t, counts(rng, 20000, 1)) })
	same := side(t, 5, func(int) []byte { return pprofOf(t, counts(rng, 20000, 1)) })
	slow := side(t, 5, func(int) []byte { return pprofOf(t, counts(rng, 20000, 1.3)) })
	code, out, errs := runCmd(base, slow)
	if code != 1 || !strings.Contains(out, "verdict: REGRESSION") || !strings.Contains(out, "hot ") || errs != "" {
		t.Errorf("slower hot: exit %d, stderr %q, report:\n%s", code, errs, out)
	}
	if !strings.Contains(out, "cpu seconds per run") || !strings.Contains(out, "(5 runs)") {
		t.Errorf("header does not name the unit and runs:\n%s", out)
	}
	code, out, errs = runCmd(base, same)
	if code != 0 || strings.Contains(out, "REGRESSION") || errs != "" {
		t.Errorf("same program: exit %d, stderr %q, report:\n%s", code, errs, out)
	}
	// Folded runs of 100 Hz samples, one a side: the sampling error.
	fb := side(t, 1, func(int) []byte { return folded(counts(rng, 20000, 1)) })
	fn := side(t, 1, func(int) []byte { return folded(counts(rng, 20000, 1.5)) })
	code, out, _ = runCmd("-F", "100", filepath.Join(fb, "run00"), filepath.Join(fn, "run00"))
	if code != 1 || !strings.Contains(out, "sampling error") {
		t.Errorf("single folded runs: exit %d, report:\n%s", code, out)
	}
	// Off-CPU microseconds, one run a side: no noise estimate, exit 0.
	code, out, _ = runCmd("--unit", "us", filepath.Join(fb, "run00"), filepath.Join(fn, "run00"))
	if code != 0 || !strings.Contains(out, "noise unknown; give directories of repeated runs") {
		t.Errorf("single microsecond runs: exit %d, report:\n%s", code, out)
	}
}

// (7) Bad input: exit 2 and one line naming the file and the fix.
func TestInputErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := side(t, 2, func(int) []byte { return pprofOf(t, counts(rng, 1000, 1)) })
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := write("corrupt.gz", append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 40)...))
	samples := write("samples.folded", folded(counts(rng, 1000, 1)))
	garbage := write("garbage", []byte("not a profile\nat all\n"))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	badDir := side(t, 2, func(i int) []byte {
		if i == 1 {
			return []byte("\x1f\x8btruncated")
		}
		return pprofOf(t, counts(rng, 1000, 1))
	})
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{empty, good}, []string{empty, "empty directory"}},
		{[]string{good, corrupt}, []string{corrupt, "gzip"}},
		{[]string{good, samples}, []string{"mixed units", samples, "-F"}},
		{[]string{good, filepath.Join(dir, "missing")}, []string{"missing", "no such file"}},
		{[]string{good, garbage}, []string{garbage, "no stacks", "folded"}},
		{[]string{good, fifo}, []string{fifo, "not a regular file"}},
		{[]string{good, badDir}, []string{filepath.Join(badDir, "run01"), "gzip"}},
		{[]string{good}, []string{"BASE and NEW"}},
		{[]string{"--confidence", "1", good, good}, []string{"--confidence"}},
		{[]string{"--focus", "(", good, good}, []string{"--focus"}},
		{[]string{"--min", "5ms", samples, samples}, []string{"--min", "-F"}},
	} {
		code, out, errs := runCmd(tt.args...)
		msg := strings.TrimSuffix(errs, "(see profdiff --help)\n")
		if code != 2 || out != "" || strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one line", tt.args, code, out, errs)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%q: stderr %q does not mention %q", tt.args, errs, w)
			}
		}
	}
}

// (8) Every format: the table and markdown hold the rows, JSON parses back,
// the SVG is well-formed XML, and -o writes the report to a file.
func TestFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := side(t, 3, func(int) []byte { return folded(counts(rng, 20000, 1)) })
	news := side(t, 4, func(int) []byte { return folded(counts(rng, 20000, 1.3)) })
	out := t.TempDir()
	svg, report := filepath.Join(out, "diff.svg"), filepath.Join(out, "report.json")
	code, stdout, errs := runCmd("-F", "49", "--format", "json", "-o", report, "--svg", svg, base, news)
	if code != 1 || stdout != "" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errs)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep profdiff.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, b)
	}
	if len(rep.Base.Runs) != 3 || len(rep.New.Runs) != 4 || rep.Unit != "seconds" || rep.Verdict != profdiff.Regression || rep.Options.Confidence != 0.99 {
		t.Errorf("json: %d and %d runs, unit %q, verdict %q, options %+v", len(rep.Base.Runs), len(rep.New.Runs), rep.Unit, rep.Verdict, rep.Options)
	}
	found := map[string]*profdiff.Function{}
	for _, f := range rep.Functions {
		found[f.Name] = f
	}
	if h := found["hot"]; h == nil || h.Verdict != profdiff.Regression || h.Self.Percent == nil || *h.Self.Percent < 20 {
		t.Errorf("json: hot is %+v", h)
	}
	if m := found["main"]; m == nil || m.Judged || m.Why == "" || m.InclusiveBase <= 0 {
		t.Errorf("json: main (no self cost) is %+v, want not judged with inclusive cost", m)
	}
	s, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(s))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("svg: %v", err)
		}
	}
	if !bytes.Contains(s, []byte("hot")) || !bytes.Contains(s, []byte("microseconds")) {
		t.Errorf("svg lacks the frames or the unit")
	}

	code, md, _ := runCmd("-F", "49", "--format", "markdown", base, news)
	if code != 1 || !strings.HasPrefix(md, "### ") || !strings.Contains(md, "| hot |") || !strings.Contains(md, "|---|") || !strings.Contains(md, "**verdict: REGRESSION") {
		t.Errorf("markdown (exit %d):\n%s", code, md)
	}
	code, table, _ := runCmd("-F", "49", base, news)
	lines := strings.Split(table, "\n")
	if code != 1 || !strings.HasPrefix(lines[0], "profdiff: base ") || !strings.HasPrefix(lines[3], "TOTAL") || !strings.HasPrefix(lines[4], "hot ") {
		t.Errorf("table (exit %d):\n%s", code, table)
	}
	// Columns line up: every row's verdict starts where the header's does.
	col := strings.Index(lines[2], "verdict")
	col = len([]rune(lines[2][:col]))
	for _, l := range lines[3:5] {
		r := []rune(l)
		if len(r) <= col || r[col] == ' ' || r[col-1] != ' ' {
			t.Errorf("row %q is not aligned with the header %q", l, lines[2])
		}
	}
}

// Names with control characters and markup are escaped in every format.
func TestEscaping(t *testing.T) {
	evil := "ev\x1b[31mil|<b>*x*"
	mk := func(n int) []byte { return []byte(fmt.Sprintf("main;%s %d\nmain;g 1000\n", evil, n)) }
	a := side(t, 1, func(int) []byte { return mk(1000) })
	b := side(t, 1, func(int) []byte { return mk(3000) })
	for _, f := range []string{"table", "markdown", "json"} {
		_, out, errs := runCmd("--format", f, a, b)
		if strings.Contains(out, "\x1b") || errs != "" {
			t.Errorf("%s: raw escape character in output %q (stderr %q)", f, out, errs)
		}
		if f == "markdown" && strings.Contains(out, "|<b>") {
			t.Errorf("markdown: unescaped markup in %q", out)
		}
	}
}
