package flamegraph

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden SVGs in testdata/golden")

func svgOf(t testing.TB, folded string, o SVGOptions) []byte {
	t.Helper()
	tr := NewTree(o.TreeOptions)
	if _, err := tr.ReadFolded(strings.NewReader(folded)); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tr.WriteSVG(&b, o); err != nil && !errors.Is(err, ErrNoStacks) {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, input string
		opts        SVGOptions
	}{
		{"basic", "basic.folded", SVGOptions{}},
		{"java", "basic.folded", SVGOptions{Colors: "java", Title: "Java <&> \"palette\"", Subtitle: "sub", Notes: "some notes"}},
		{"js-inverted", "basic.folded", SVGOptions{Colors: "js", Inverted: true, Width: 600, MinWidth: "2%"}},
		{"reverse-hash", "basic.folded", SVGOptions{TreeOptions: TreeOptions{Reverse: true}, Hash: true, BGColors: "#ffeedd", FontSize: 10, FrameHeight: 14}},
		{"flamechart-chain", "basic.folded", SVGOptions{TreeOptions: TreeOptions{Flamechart: true}, Colors: "chain", CountName: "us", Factor: 1000}},
		{"diff", "diff.folded", SVGOptions{}},
		{"diff-negate", "diff.folded", SVGOptions{Negate: true, Total: 200}},
		{"escape", "escape.folded", SVGOptions{NameType: "Fn<>:", FontType: "Courier \"New\""}},
		{"nameattr", "basic.folded", SVGOptions{NameAttr: map[string]map[string]string{
			"fork":     {"href": "https://example.com/fork?a=1&b=2", "class": "linked"},
			"main":     {"id": "main-frame", "class": "c1 c2"},
			"readline": {"title": "readline: the line editor (12 samples)"},
		}}},
		{"empty", "", SVGOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			if tt.input != "" {
				var err error
				if in, err = os.ReadFile(filepath.Join("testdata", tt.input)); err != nil {
					t.Fatal(err)
				}
			}
			got := svgOf(t, string(in), tt.opts)
			checkXML(t, got)
			path := filepath.Join("testdata", "golden", tt.name+".svg")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it); first difference near:\n%s", path, firstDiff(got, want))
			}
		})
	}
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-80), min(len(a), i+80)
	return string(a[lo:hi])
}

// frame is one frame as drawn, read back from an SVG.
type frame struct {
	title       string
	x, y, width float64
	fill, label string
}

// checkXML parses an SVG with encoding/xml, which rejects anything not
// well-formed (bad escapes, invalid UTF-8, characters XML forbids), and
// returns its frames: each <rect> in #frames, its tooltip from data-title and
// its label from the <text> after it.
func checkXML(t testing.TB, svg []byte) []frame {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	var frames []frame
	var text *string
	depth := -1 // of elements inside #frames; -1 outside it
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range e.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			if depth < 0 {
				if e.Name.Local == "g" && attr("id") == "frames" {
					depth = 0
				}
				continue
			}
			depth++
			switch e.Name.Local {
			case "rect":
				frames = append(frames, frame{title: attr("data-title"), fill: attr("fill")})
				f := &frames[len(frames)-1]
				f.x, _ = strconv.ParseFloat(attr("x"), 64)
				f.y, _ = strconv.ParseFloat(attr("y"), 64)
				f.width, _ = strconv.ParseFloat(attr("width"), 64)
			case "text":
				if len(frames) == 0 {
					t.Fatal("a label before any frame")
				}
				text = &frames[len(frames)-1].label
			}
		case xml.CharData:
			if text != nil {
				*text += string(e)
			}
		case xml.EndElement:
			text = nil
			if depth >= 0 {
				depth--
			}
		}
	}
	return frames
}

func TestEscaping(t *testing.T) {
	in, err := os.ReadFile("testdata/escape.folded")
	if err != nil {
		t.Fatal(err)
	}
	frames := checkXML(t, svgOf(t, string(in), SVGOptions{}))
	titles := map[string]bool{}
	for _, f := range frames {
		titles[f.title[:strings.LastIndex(f.title, " (")]] = true
	}
	for _, want := range []string{`<init>`, `a&b`, `"quoted"`, `it's`, "bad\uFFFD\uFFFDutf8", "été", "ctl\uFFFD\uFFFDchar", "tab\there", "cdata]]>end", "<!-- -->", "</g></svg>"} {
		if !titles[want] {
			t.Errorf("no frame titled %q; have %v", want, titles)
		}
	}
	frames = checkXML(t, svgOf(t, string(in), SVGOptions{Encoding: "ISO-8859-1"}))
	found := false
	for _, f := range frames {
		found = found || strings.HasPrefix(f.title, "badÿþutf8 (")
	}
	if !found {
		t.Errorf("ISO-8859-1: no frame titled badÿþutf8")
	}
}

// TestLeafWidths checks that leaves tile the graph: the sum of their widths
// is the root's, exactly, because frame edges (not widths) are rounded.
func TestLeafWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		var b strings.Builder
		n := 1 + r.IntN(400)
		for i := range n {
			for range r.IntN(6) {
				fmt.Fprintf(&b, "f%d;", r.IntN(5))
			}
			// A unique leaf: no stack is a prefix of another, so no frame
			// but the leaves has time of its own.
			fmt.Fprintf(&b, "leaf%d %d\n", i, 1+r.IntN(1000))
		}
		o := SVGOptions{MinWidth: "0", Width: 200 + r.IntN(2000), Inverted: round%2 == 1}
		frames := checkXML(t, svgOf(t, b.String(), o))
		var root, leaves float64
		nleaves := 0
		for _, f := range frames {
			switch {
			case strings.HasPrefix(f.title, "all ("):
				root = f.width
			case strings.HasPrefix(f.title, "leaf"):
				leaves += f.width
				nleaves++
			}
		}
		if nleaves != n {
			t.Fatalf("round %d: %d leaves drawn, want %d", round, nleaves, n)
		}
		if root != float64(o.Width-2*xpad) || fmt.Sprintf("%.2f", leaves) != fmt.Sprintf("%.2f", root) {
			t.Fatalf("round %d: leaves sum to %.4f, root is %v (width %d)", round, leaves, root, o.Width)
		}
	}
}

func TestMinWidth(t *testing.T) {
	in := "a;big 990\na;small 9\nb 1\n"
	tests := []struct {
		minwidth string
		want     []string // frames drawn
	}{
		{"", []string{"all", "a", "big", "small", "b"}},
		{"2", []string{"all", "a", "big", "small"}},
		{"11", []string{"all", "a", "big"}},
		{"0.5%", []string{"all", "a", "big", "small"}},
		{"1%", []string{"all", "a", "big"}},
	}
	for _, tt := range tests {
		frames := checkXML(t, svgOf(t, in, SVGOptions{MinWidth: tt.minwidth}))
		var got []string
		for _, f := range frames {
			got = append(got, f.title[:strings.Index(f.title, " (")])
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("minwidth %q: frames %q, want %q", tt.minwidth, got, tt.want)
		}
	}
}

func TestDiffColors(t *testing.T) {
	in, err := os.ReadFile("testdata/diff.folded")
	if err != nil {
		t.Fatal(err)
	}
	fills := func(o SVGOptions) map[string]string {
		m := map[string]string{}
		for _, f := range checkXML(t, svgOf(t, string(in), o)) {
			m[f.title] = f.fill
		}
		return m
	}
	got := fills(SVGOptions{})
	// As flamegraph.pl colours them: the largest change (svg, -40) is
	// saturated, the others in proportion; frames with no change of their
	// own are white.
	want := map[string]string{
		"lex (30 samples, 40.00%; +26.67%)":  "rgb(255,105,105)",
		"tree (20 samples, 26.67%; 0.00%)":   "rgb(255,255,255)",
		"svg (10 samples, 13.33%; -53.33%)":  "rgb(0,0,255)",
		"png (15 samples, 20.00%; +20.00%)":  "rgb(255,131,131)",
		"render (25 samples, 33.33%; 0.00%)": "rgb(255,255,255)",
		"main (75 samples, 100.00%; 0.00%)":  "rgb(255,255,255)",
		"all (75 samples, 100%)":             "rgb(255,255,255)",
	}
	for title, fill := range want {
		if got[title] != fill {
			t.Errorf("%s: fill %q, want %q (have %v)", title, got[title], fill, got)
		}
	}
	neg := fills(SVGOptions{Negate: true})
	if f := neg["lex (30 samples, 40.00%; -26.67%)"]; f != "rgb(105,105,255)" {
		t.Errorf("negated lex: fill %q, want rgb(105,105,255)", f)
	}
}

func TestDeterministic(t *testing.T) {
	in, err := os.ReadFile("testdata/basic.folded")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(in), "\n")
	first := svgOf(t, string(in), SVGOptions{})
	r := rand.New(rand.NewPCG(7, 8))
	for range 10 {
		r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		if got := svgOf(t, strings.Join(lines, ""), SVGOptions{}); !bytes.Equal(got, first) {
			t.Fatalf("output depends on input order:\n%s", firstDiff(got, first))
		}
	}
}

func TestWriteSVGErrors(t *testing.T) {
	tests := []struct {
		opts SVGOptions
		want string
	}{
		{SVGOptions{MinWidth: "x"}, "minwidth"},
		{SVGOptions{MinWidth: "1e3"}, "minwidth"},
		{SVGOptions{Colors: "pink"}, "colors"},
		{SVGOptions{BGColors: "#12345"}, "bgcolors"},
		{SVGOptions{Notes: "a<b"}, "notes"},
		{SVGOptions{Notes: "a--b"}, "notes"},
		{SVGOptions{Encoding: "EBCDIC"}, "encoding"},
		{SVGOptions{Width: 5}, "width"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		err := WriteSVG(&b, []Stack{{Frames: []string{"a"}, Value: 1}}, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want one about %s", tt.opts, err, tt.want)
		}
		if b.Len() != 0 {
			t.Errorf("%+v: wrote %d bytes before failing", tt.opts, b.Len())
		}
	}
}

func TestEmptyAndWarnings(t *testing.T) {
	var warnings []string
	o := SVGOptions{Warn: func(m string) { warnings = append(warnings, m) }}
	var b bytes.Buffer
	err := WriteSVG(&b, nil, o)
	if !errors.Is(err, ErrNoStacks) {
		t.Fatalf("err = %v, want ErrNoStacks", err)
	}
	checkXML(t, b.Bytes())
	if !strings.Contains(b.String(), "ERROR: No valid input provided to flamegraph.") {
		t.Errorf("error SVG lacks the message:\n%s", b.String())
	}
	want := "Stack count is low (0). Did something go wrong?|ERROR: No stack counts found"
	if got := strings.Join(warnings, "|"); got != want {
		t.Errorf("warnings %q, want %q", got, want)
	}
	warnings = nil
	WriteSVG(io.Discard, []Stack{{Frames: []string{"a"}, Value: 5}}, SVGOptions{CountName: "bytes", Total: 3, Warn: o.Warn})
	if got := strings.Join(warnings, "|"); got != "Specified --total 3 is less than actual total 5, so ignored" {
		t.Errorf("warnings %q", got)
	}
}

func TestPaletteMap(t *testing.T) {
	pal := map[string]string{"a": "rgb(1,2,3)"}
	frames := checkXML(t, svgOf(t, "a;b 100\n", SVGOptions{Palette: pal}))
	if frames[1].fill != "rgb(1,2,3)" {
		t.Errorf("a: fill %q, want the palette's", frames[1].fill)
	}
	if pal["b"] != frames[2].fill || pal["b"] == "" {
		t.Errorf("b's colour %q not added to the palette %v", frames[2].fill, pal)
	}
	var b bytes.Buffer
	if err := WritePalette(&b, pal); err != nil {
		t.Fatal(err)
	}
	back, err := ReadPalette(&b)
	if err != nil || len(back) != 2 || back["a"] != "rgb(1,2,3)" {
		t.Errorf("palette round trip: %v, %v", back, err)
	}
}

func TestNameAttr(t *testing.T) {
	m, err := ReadNameAttr(strings.NewReader("f\thref=https://example.com/?a=1&b=2\ttitle=The <f>\n"))
	if err != nil {
		t.Fatal(err)
	}
	svg := svgOf(t, "f 100\n", SVGOptions{NameAttr: m})
	frames := checkXML(t, svg)
	if frames[1].title != "The <f>" || !bytes.Contains(svg, []byte(`<a xlink:href="https://example.com/?a=1&amp;b=2" target="_top">`)) {
		t.Errorf("name attributes not applied:\n%s", svg[bytes.Index(svg, []byte(`<g id="frames">`)):])
	}
}

func TestColors(t *testing.T) {
	// Colours flamegraph.pl gives the same names (checked against its output).
	tests := []struct {
		palette, name, want string
		hash                bool
	}{
		{"hot", "b", "rgb(230,117,28)", false},
		{"hot", "a", "rgb(236,146,35)", false},
		{"hot", "", "rgb(213,39,9)", false},
		{"java", "com/acme/X::y", "rgb(72,220,72)", false},
		{"java", "foo_[k]", "rgb(218,118,0)", false},
		{"hot", "main", "rgb(247,83,46)", true},
	}
	for _, tt := range tests {
		c := colorer{palette: tt.palette, hash: tt.hash}
		if got := c.color(tt.name).String(); got != tt.want {
			t.Errorf("%s %q hash=%v: %s, want %s", tt.palette, tt.name, tt.hash, got, tt.want)
		}
	}
}

func TestWriteDiffSVG(t *testing.T) {
	before := []Stack{{Frames: []string{"main", "parse"}, Value: 10}, {Frames: []string{"main", "gc"}, Value: 5}}
	after := []Stack{{Frames: []string{"main", "parse"}, Value: 30}, {Frames: []string{"main", "png"}, Value: 15}}
	var got bytes.Buffer
	if err := WriteDiffSVG(&got, before, after, SVGOptions{}); err != nil {
		t.Fatal(err)
	}
	// The same graph from difffolded.pl's two-count lines.
	want := svgOf(t, "main;parse 10 30\nmain;gc 5 0\nmain;png 0 15\n", SVGOptions{})
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("WriteDiffSVG differs from two-count input:\n%s", firstDiff(got.Bytes(), want))
	}
}

func TestHugeCounts(t *testing.T) {
	var b bytes.Buffer
	err := WriteSVG(&b, []Stack{{Frames: []string{"a"}, Value: math.MaxFloat64}, {Frames: []string{"b"}, Value: math.MaxFloat64}}, SVGOptions{})
	if err == nil || b.Len() != 0 {
		t.Errorf("err %v, %d bytes written; want an error and nothing written", err, b.Len())
	}
}
