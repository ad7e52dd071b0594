package flamegraph

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"main":                   "main",
		"a\nb;c 99":              `a\x0ab:c 99`,
		"evil\nfake;stack 99":    `evil\x0afake:stack 99`,
		"tab\there\r\x1b[2J\x7f": `tab\x09here\x0d\x1b[2J\x7f`,
		"std::vector<int>::at":   "std::vector<int>::at",
		"f(int) (.cold)":         "f(int) (.cold)",
		"":                       "",
		"ünïcode":                "ünïcode",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
}

// hostileProfile has one sample whose comm and function names carry a
// newline and a semicolon, as a process (prctl PR_SET_NAME) or a binary's
// symbol table can name them.
func hostileProfile() *profile.Profile {
	fn := &profile.Function{ID: 1, Name: "f\nx;y 7", SystemName: "f\nx;y 7"}
	m := &profile.Mapping{ID: 1, File: "/evil", Start: 0x1000, Limit: 0x2000}
	l := &profile.Location{ID: 1, Mapping: m, Address: 0x1100, Line: []profile.Line{{Function: fn}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}},
		Mapping:    []*profile.Mapping{m},
		Function:   []*profile.Function{fn},
		Location:   []*profile.Location{l},
		Sample: []*profile.Sample{{
			Location: []*profile.Location{l},
			Value:    []int64{3},
			Label:    map[string][]string{sample.LabelComm: {"a\nb;c 99"}},
			NumLabel: map[string][]int64{sample.LabelPID: {42}},
		}},
	}
}

// TestHostileNamesFolded checks that the names cannot add a line or a frame
// to folded output.
func TestHostileNamesFolded(t *testing.T) {
	var out bytes.Buffer
	if err := Write(&out, hostileProfile(), "folded", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `a\x0ab:c 99;f\x0ax:y 7 3` + "\n"
	if out.String() != want {
		t.Errorf("folded = %q, want %q", out.String(), want)
	}
}

// TestHostileNamesText checks BCC's multi-line text: one frame line, the
// comm line, the count.
func TestHostileNamesText(t *testing.T) {
	var out bytes.Buffer
	if err := Write(&out, hostileProfile(), "text", WriteOptions{IDLabel: sample.LabelPID}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 || lines[0] != `    f\x0ax:y 7` || !strings.Contains(lines[1], `a\x0ab:c 99 (42)`) {
		t.Errorf("text output %q: want 3 lines, the frame and comm escaped", out.String())
	}
}

// TestHostileNamesSVG checks that the flame graph shows the escaped names, as
// a flame graph made from the folded output would.
func TestHostileNamesSVG(t *testing.T) {
	var out bytes.Buffer
	if err := Write(&out, hostileProfile(), "svg", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	svg := out.String()
	if !strings.Contains(svg, `f\x0ax:y 7`) || !strings.Contains(svg, `a\x0ab:c 99`) || strings.Contains(svg, "x;y") {
		t.Errorf("SVG lacks the escaped names or has a raw one")
	}
}
