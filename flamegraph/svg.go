package flamegraph

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// script is the graph's interactivity: tooltips, zoom, search.
//
//go:embed flamegraph.js
var script string

// ErrNoStacks is returned, after an error SVG is written, when the stacks add
// up to nothing; flamegraph.pl exits with status 2 then.
var ErrNoStacks = errors.New("no stack counts found")

// SVGOptions are flamegraph.pl's options. The zero value means its defaults.
type SVGOptions struct {
	// TreeOptions say how WriteSVG and WriteDiffSVG merge stacks; a Tree
	// already knows its own.
	TreeOptions

	// Title defaults to "Flame Graph", "Icicle Graph" when Inverted or "Flame
	// Chart" for a flame chart; Subtitle, if set, goes below it.
	Title, Subtitle string
	// Width is the image width in pixels (1200).
	Width int
	// FrameHeight is the height of one frame in pixels (16).
	FrameHeight float64
	// MinWidth drops frames narrower than this many pixels, or than this
	// percentage of the total if it ends in "%" ("0.1"). Dropped frames keep
	// huge inputs fast to open.
	MinWidth string
	// FontType (Verdana), FontSize (12) and FontWidth (0.59, the average
	// character width relative to the size, used to fit labels).
	FontType  string
	FontSize  float64
	FontWidth float64
	// CountName is the unit of the counts ("samples"); NameType is put before
	// a frame's details ("Function:").
	CountName, NameType string
	// Colors is the palette (hot); see ValidPalette.
	Colors string
	// BGColors is the background: yellow, blue, green, grey or "#rrggbb"; the
	// default depends on Colors.
	BGColors string
	// Hash colours by a hash of the name that weights its first characters;
	// Random colours at random (the only way output can differ between runs).
	Hash, Random bool
	// Palette, if not nil, gives fixed colours to names (flamegraph.pl's --cp
	// palette.map); the colours of names it lacks are added to it.
	Palette map[string]string
	// Inverted draws an icicle graph: the root at the top.
	Inverted bool
	// Negate swaps the differential hues: blue for growth, red for shrinkage.
	Negate bool
	// Normalize scales the "before" counts of a differential graph so that
	// both sides have the same total (difffolded.pl's -n).
	Normalize bool
	// Notes go into an XML comment; they must not hold "<", ">" or "--".
	Notes string
	// Encoding is declared in the XML header. Names are written as UTF-8,
	// invalid bytes as U+FFFD, except that "ISO-8859-1" (or "latin1") reads
	// names as Latin-1.
	Encoding string
	// NameAttr gives extra attributes per frame name (flamegraph.pl's
	// --nameattr): "title" replaces the tooltip, "href" makes the frame a
	// link (ctrl-click follows it), "target", "class" and "id" are copied.
	NameAttr map[string]map[string]string
	// Total, if larger than the stacks' total, is the value of the full width
	// (flamegraph.pl's --total).
	Total float64
	// Factor scales the counts shown (1).
	Factor float64
	// Warn, if not nil, receives flamegraph.pl's warnings ("Stack count is
	// low ...").
	Warn func(msg string)
}

// WriteSVG draws stacks as a flame graph, the way flamegraph.pl draws their
// folded text. Output is the same, byte for byte, for the same stacks and
// options unless o.Random is set. If the stacks add up to nothing it writes
// flamegraph.pl's error SVG and returns ErrNoStacks.
func WriteSVG(w io.Writer, stacks []Stack, o SVGOptions) error {
	t := NewTree(o.TreeOptions)
	for _, s := range stacks {
		t.Add(s.Frames, s.Value)
	}
	return t.WriteSVG(w, o)
}

// WriteDiffSVG draws a differential flame graph as difffolded.pl and
// flamegraph.pl do: frames sized by the after stacks, red where a stack grew
// and blue where it shrank, the more saturated the larger the change.
func WriteDiffSVG(w io.Writer, before, after []Stack, o SVGOptions) error {
	t := NewTree(o.TreeOptions)
	for _, s := range before {
		t.AddDiff(s.Frames, s.Value, 0)
	}
	for _, s := range after {
		t.AddDiff(s.Frames, 0, s.Value)
	}
	return t.WriteSVG(w, o)
}

// layout constants, as in flamegraph.pl.
const (
	xpad     = 10
	framepad = 1
)

// svgConfig is SVGOptions with defaults filled in and values checked.
type svgConfig struct {
	SVGOptions
	minWidth   float64
	minPercent bool
	bg1, bg2   string
	latin1     bool
	colors     colorer
}

func (o SVGOptions) config(t *Tree) (*svgConfig, error) {
	c := &svgConfig{SVGOptions: o}
	if c.Title == "" {
		switch {
		case t.opts.Flamechart:
			c.Title = "Flame Chart"
		case c.Inverted:
			c.Title = "Icicle Graph"
		default:
			c.Title = "Flame Graph"
		}
	}
	if c.Width == 0 {
		c.Width = 1200
	}
	if c.Width <= 2*xpad {
		return nil, fmt.Errorf("width %d is too small", c.Width)
	}
	if c.FrameHeight == 0 {
		c.FrameHeight = 16
	}
	if c.FontType == "" {
		c.FontType = "Verdana"
	}
	if c.FontSize == 0 {
		c.FontSize = 12
	}
	if c.FontWidth == 0 {
		c.FontWidth = 0.59
	}
	if c.FrameHeight < 0 || c.FontSize < 0 || c.FontWidth < 0 || isBad(c.FrameHeight) || isBad(c.FontSize) || isBad(c.FontWidth) {
		return nil, errors.New("height, font size and font width must be positive numbers")
	}
	if c.CountName == "" {
		c.CountName = "samples"
	}
	if c.NameType == "" {
		c.NameType = "Function:"
	}
	if c.Factor == 0 {
		c.Factor = 1
	}
	if isBad(c.Factor) || isBad(c.Total) || c.Total < 0 {
		return nil, errors.New("factor and total must be finite numbers")
	}
	mw := c.MinWidth
	if mw == "" {
		mw = "0.1"
	}
	c.minPercent = strings.HasSuffix(mw, "%")
	num := strings.TrimSuffix(mw, "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || strings.Trim(num, "0123456789.") != "" {
		return nil, fmt.Errorf("minwidth %q is not a number of pixels or a percentage like 0.5%%", mw)
	}
	c.minWidth = v
	if c.Colors == "" {
		c.Colors = "hot"
	}
	if !ValidPalette(c.Colors) {
		return nil, fmt.Errorf("unknown colors %q: want hot, mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow, purple or orange", c.Colors)
	}
	c.colors = colorer{palette: c.Colors, hash: c.Hash}
	if c.Random && !c.Hash {
		c.colors.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	bg := c.BGColors
	if bg == "" {
		switch c.Colors {
		case "mem":
			bg = "green"
		case "io", "wakeup", "chain":
			bg = "blue"
		case "red", "green", "blue", "aqua", "yellow", "purple", "orange":
			bg = "grey"
		default:
			bg = "yellow"
		}
	}
	switch {
	case bg == "yellow":
		c.bg1, c.bg2 = "#eeeeee", "#eeeeb0"
	case bg == "blue":
		c.bg1, c.bg2 = "#eeeeee", "#e0e0ff"
	case bg == "green":
		c.bg1, c.bg2 = "#eef2ee", "#e0ffe0"
	case bg == "grey":
		c.bg1, c.bg2 = "#f8f8f8", "#e8e8e8"
	case isHexColor(bg):
		c.bg1, c.bg2 = bg, bg
	default:
		return nil, fmt.Errorf("unknown bgcolors %q: want yellow, blue, green, grey or #rrggbb", bg)
	}
	if strings.ContainsAny(c.Notes, "<>") || strings.Contains(c.Notes, "--") {
		return nil, errors.New(`notes must not contain "<", ">" or "--" (they go into an XML comment)`)
	}
	switch strings.ToLower(c.Encoding) {
	case "", "utf-8", "utf8":
	case "iso-8859-1", "latin1", "latin-1", "iso8859-1":
		c.latin1 = true
	default:
		return nil, fmt.Errorf("unsupported encoding %q: want UTF-8 or ISO-8859-1", c.Encoding)
	}
	return c, nil
}

func isBad(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// placed is a frame chosen for drawing.
type placed struct {
	n     uint32
	depth int32
	waker bool    // below a "--" frame, for the chain palette
	x     float64 // start, in counts from the left edge
}

// layout picks the frames at least minTime wide, in depth-first order from
// the root, and places them.
func (t *Tree) layout(minTime float64, chain bool) []placed {
	out := []placed{}
	stack := []placed{{}}
	var kids []uint32
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, p)
		kids = t.kids(kids[:0], p.n)
		waker := p.waker || (chain && t.names[t.nodes.at(p.n).name] == "--")
		// flamegraph.pl sorts whole lines, and "a;b 5" comes before "a;b;c 3":
		// a frame's own time is drawn left of its children.
		var sum float64
		for _, k := range kids {
			sum += t.nodes.at(k).value
		}
		x := p.x + max(0, t.nodes.at(p.n).value-sum)
		mark := len(stack)
		for _, k := range kids {
			v := t.nodes.at(k).value
			if v >= minTime {
				stack = append(stack, placed{n: k, depth: p.depth + 1, waker: waker, x: x})
			}
			x += v
		}
		// Pushed in order, popped in reverse: flip them to draw left to right.
		for i, j := mark, len(stack)-1; i < j; i, j = i+1, j-1 {
			stack[i], stack[j] = stack[j], stack[i]
		}
	}
	return out
}

// WriteSVG draws the tree as a flame graph; see the package's WriteSVG.
func (t *Tree) WriteSVG(w io.Writer, o SVGOptions) error {
	c, err := o.config(t)
	if err != nil {
		return err
	}
	warn := func(format string, args ...any) {
		if c.Warn != nil {
			c.Warn(fmt.Sprintf(format, args...))
		}
	}
	total := t.Total()
	if c.CountName == "samples" && total < 100 {
		// Counts in other units (time, bytes) are often small.
		warn("Stack count is low (%s). Did something go wrong?", strconv.FormatFloat(total, 'f', -1, 64))
	}
	if math.IsInf(total, 0) || math.IsNaN(total) {
		return fmt.Errorf("the counts add up to more than %g", math.MaxFloat64)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if total == 0 {
		warn("ERROR: No stack counts found")
		c.writeEmpty(bw)
		if err := bw.Flush(); err != nil {
			return err
		}
		return ErrNoStacks
	}
	timemax := total
	if c.Total > 0 {
		if c.Total < total {
			if c.Total/total > 0.02 {
				warn("Specified --total %s is less than actual total %s, so ignored", fmtNum(c.Total), fmtNum(total))
			}
		} else {
			timemax = c.Total
		}
	}
	widthPerTime := float64(c.Width-2*xpad) / timemax
	minTime := c.minWidth / widthPerTime
	if c.minPercent {
		minTime = timemax * c.minWidth / 100
	}
	frames := t.layout(minTime, c.Colors == "chain")
	var depthMax int32
	for _, p := range frames {
		depthMax = max(depthMax, p.depth)
	}
	d := &drawer{svgConfig: c, t: t, bw: bw, timemax: timemax, widthPerTime: widthPerTime}
	d.prepareDiff()
	d.imageHeight = float64(depthMax+1)*c.FrameHeight + d.ypad1() + d.ypad2()
	if c.Subtitle != "" {
		d.imageHeight += d.ypad3()
	}
	d.header(d.imageHeight)
	d.chrome()
	bw.WriteString("<g id=\"frames\">\n")
	for _, p := range frames {
		d.frame(p)
	}
	bw.WriteString("</g>\n</svg>\n")
	return bw.Flush()
}

// drawer writes one SVG.
type drawer struct {
	*svgConfig
	t            *Tree
	bw           *bufio.Writer
	buf          []byte
	timemax      float64
	widthPerTime float64
	imageHeight  float64
	// Differential graphs: whether the before counts are scaled to the after
	// total, and the largest change, which gets the most saturated colour.
	normalize bool
	maxDelta  float64
}

func (c *svgConfig) ypad1() float64 { return c.FontSize * 3 }
func (c *svgConfig) ypad2() float64 { return c.FontSize*2 + 10 }
func (c *svgConfig) ypad3() float64 { return c.FontSize * 2 }

func (d *drawer) prepareDiff() {
	t := d.t
	if !t.Diff() {
		return
	}
	if d.Normalize && t.totalBefore > 0 && t.totalBefore != t.Total() {
		d.normalize = true
	}
	// As in flamegraph.pl, changes smaller than one count are never the most
	// saturated.
	d.maxDelta = 1
	for n := range t.self.len() {
		d.maxDelta = max(d.maxDelta, math.Abs(d.delta(uint32(n))))
	}
}

func (d *drawer) delta(n uint32) float64 {
	s := d.t.self.at(n)
	before := s.before
	if d.normalize {
		// As difffolded.pl -n: scaled per stack, then truncated.
		before = math.Trunc(before * d.t.Total() / d.t.totalBefore)
	}
	return s.after - before
}

func (d *drawer) header(height float64) {
	b := d.buf[:0]
	b = append(b, `<?xml version="1.0"`...)
	if d.Encoding != "" && !d.latin1 {
		b = append(b, ` encoding="`...)
		b = d.appendText(b, d.Encoding, true)
		b = append(b, '"')
	}
	b = append(b, ` standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg version="1.1" width="`...)
	b = strconv.AppendInt(b, int64(d.Width), 10)
	b = append(b, `" height="`...)
	b = appendNum(b, height)
	b = append(b, `" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(d.Width), 10)
	b = append(b, ' ')
	b = appendNum(b, height)
	b = append(b, `" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" data-nametype="`...)
	b = d.appendText(b, d.NameType, true)
	b = append(b, `" data-fontsize="`...)
	b = appendNum(b, d.FontSize)
	b = append(b, `" data-fontwidth="`...)
	b = appendNum(b, d.FontWidth)
	b = append(b, `" data-xpad="`...)
	b = strconv.AppendInt(b, xpad, 10)
	b = append(b, `" data-inverted="`...)
	if d.Inverted {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, "\">\n<!-- Flame graph drawn by ember's flamegraph, compatible with flamegraph.pl (https://github.com/brendangregg/FlameGraph). -->\n<!-- NOTES: "...)
	b = d.appendText(b, d.Notes, false)
	b = append(b, " -->\n"...)
	d.buf = b
	d.bw.Write(b)
}

// writeEmpty writes flamegraph.pl's SVG for input without counts, for tools
// that always expect an image.
func (c *svgConfig) writeEmpty(bw *bufio.Writer) {
	d := &drawer{svgConfig: c, bw: bw}
	d.header(c.FontSize * 5)
	b := d.buf[:0]
	b = append(b, `<text x="`...)
	b = strconv.AppendInt(b, int64(c.Width/2), 10)
	b = append(b, `" y="`...)
	b = appendNum(b, c.FontSize*2)
	b = append(b, `" style="font-family:`...)
	b = d.appendText(b, c.FontType, true)
	b = append(b, `; font-size:`...)
	b = appendNum(b, c.FontSize)
	b = append(b, "px; text-anchor:middle\">ERROR: No valid input provided to flamegraph.</text>\n</svg>\n"...)
	bw.Write(b)
}

// chrome writes everything but the frames: styles, script, background, title
// and the controls.
func (d *drawer) chrome() {
	b := d.buf[:0]
	b = append(b, `<defs>
	<linearGradient id="background" y1="0" y2="1" x1="0" x2="0">
		<stop stop-color="`...)
	b = append(b, d.bg1...)
	b = append(b, `" offset="5%"/>
		<stop stop-color="`...)
	b = append(b, d.bg2...)
	b = append(b, `" offset="95%"/>
	</linearGradient>
</defs>
<style type="text/css">
	text { font-family:"`...)
	b = d.appendText(b, cssString(d.FontType), false)
	b = append(b, `"; font-size:`...)
	b = appendNum(b, d.FontSize)
	b = append(b, `px; fill:rgb(0,0,0); }
	#title { text-anchor:middle; font-size:`...)
	b = appendNum(b, d.FontSize+5)
	b = append(b, `px; }
	#subtitle { text-anchor:middle; fill:rgb(160,160,160); }
	#search, #ignorecase { opacity:0.1; cursor:pointer; }
	#search:hover, #search.show, #ignorecase:hover, #ignorecase.show { opacity:1; }
	#unzoom { cursor:pointer; }
	#frames rect:hover { stroke:black; stroke-width:0.5; cursor:pointer; }
	#frames rect { rx:2px; ry:2px; }
	#frames text { pointer-events:none; }
	.hide { display:none; }
	.parent { opacity:0.5; }
</style>
<script type="text/ecmascript"><![CDATA[
`...)
	b = append(b, script...)
	b = append(b, "]]></script>\n"...)
	b = append(b, `<rect x="0" y="0" width="`...)
	b = strconv.AppendInt(b, int64(d.Width), 10)
	b = append(b, `" height="`...)
	b = appendNum(b, d.imageHeight)
	b = append(b, `" fill="url(#background)"/>`+"\n"...)
	mid := float64(d.Width / 2)
	b = d.appendLabel(b, "title", mid, d.FontSize*2, d.Title, "")
	if d.Subtitle != "" {
		b = d.appendLabel(b, "subtitle", mid, d.FontSize*4, d.Subtitle, "")
	}
	bottom := d.imageHeight - d.ypad2()/2
	b = d.appendLabel(b, "details", xpad, bottom, " ", "")
	b = d.appendLabel(b, "unzoom", xpad, d.FontSize*2, "Reset Zoom", "hide")
	b = d.appendLabel(b, "search", float64(d.Width-xpad-100), d.FontSize*2, "Search", "")
	b = d.appendLabel(b, "ignorecase", float64(d.Width-xpad-16), d.FontSize*2, "ic", "")
	b = d.appendLabel(b, "matched", float64(d.Width-xpad-100), bottom, " ", "hide")
	d.buf = b
	d.bw.Write(b)
}

// cssString keeps a font name from ending the quoted CSS string it goes in.
func cssString(s string) string {
	return strings.NewReplacer(`"`, "", `\`, "", "\n", " ").Replace(s)
}

func (d *drawer) appendLabel(b []byte, id string, x, y float64, text, class string) []byte {
	b = append(b, `<text id="`...)
	b = append(b, id...)
	b = append(b, `" x="`...)
	b = appendNum(b, x)
	b = append(b, `" y="`...)
	b = appendNum(b, y)
	if class != "" {
		b = append(b, `" class="`...)
		b = append(b, class...)
	}
	b = append(b, `">`...)
	b = d.appendText(b, text, false)
	return append(b, "</text>\n"...)
}

// frame writes one frame: a <rect> whose data-title attribute holds the
// tooltip, and a <text> label after it when the frame is wide enough for one.
//
// flamegraph.pl writes a <g> holding a <title>, the <rect> and a <text> per
// frame. A browser builds an SVG element by element, and on large graphs that
// is most of the time it takes to open one: a <g> and a <title> (with its
// text node) cost more than the <rect> itself. The script puts the <title>
// back, for the native tooltip, on the first hover over a frame. Labels take
// no pointer events, so that the frame under them gets the hover and clicks.
func (d *drawer) frame(p placed) {
	t := d.t
	nd := t.nodes.at(p.n)
	name := t.names[nd.name]
	value := nd.value
	if p.n == 0 {
		value = d.timemax
	}
	// Round both edges, not the width, so that neighbours tile exactly and
	// children never poke out of their parent.
	x1 := math.Round((xpad + p.x*d.widthPerTime) * 100)
	x2 := math.Round((xpad + (p.x+value)*d.widthPerTime) * 100)
	var y1, y2 float64
	if d.Inverted {
		y1 = d.ypad1() + float64(p.depth)*d.FrameHeight
		if d.Subtitle != "" {
			y1 += d.ypad3()
		}
		y2 = y1 + d.FrameHeight - framepad
	} else {
		y1 = d.imageHeight - d.ypad2() - float64(p.depth+1)*d.FrameHeight + framepad
		y2 = d.imageHeight - d.ypad2() - float64(p.depth)*d.FrameHeight
	}
	label := clipName(stripAnnotation(name))
	if p.n == 0 {
		label = "all"
	}
	attrs := d.NameAttr[name]
	b := d.buf[:0]
	// --nameattr frames keep a wrapper: a link, or a group for the id and
	// class given, as flamegraph.pl puts them on its group.
	href := attrs["href"]
	wrap := ""
	if href != "" {
		wrap = "a"
		b = append(b, `<a xlink:href="`...)
		b = d.appendText(b, href, true)
		b = append(b, `" target="`...)
		target := attrs["target"]
		if target == "" {
			target = "_top"
		}
		b = d.appendText(b, target, true)
		b = append(b, '"')
	} else if attrs["id"] != "" || attrs["class"] != "" {
		wrap = "g"
		b = append(b, "<g"...)
	}
	if wrap != "" {
		for _, k := range []string{"id", "class"} {
			if v := attrs[k]; v != "" {
				b = append(b, ' ')
				b = append(b, k...)
				b = append(b, `="`...)
				b = d.appendText(b, v, true)
				b = append(b, '"')
			}
		}
		b = append(b, '>')
	}
	b = append(b, `<rect x="`...)
	b = appendHundredths(b, x1)
	b = append(b, `" y="`...)
	b = appendNum(b, y1)
	b = append(b, `" width="`...)
	b = appendHundredths(b, x2-x1)
	b = append(b, `" height="`...)
	b = appendNum(b, y2-y1)
	b = append(b, `" fill="`...)
	b = d.appendColor(b, p, name)
	// The rounded corners are one CSS rule, not two attributes per frame.
	b = append(b, `" data-title="`...)
	if title := attrs["title"]; title != "" {
		b = d.appendText(b, title, true)
	} else {
		b = d.appendInfo(b, p.n, label, value)
	}
	b = append(b, `"/>`...)
	// Most frames are too narrow for a label; leaving their empty <text> out
	// halves the time a browser takes to open a large graph. The script adds
	// one when a zoom makes room.
	if chars := int((x2 - x1) / 100 / (d.FontSize * d.FontWidth)); chars >= 3 {
		b = append(b, `<text x="`...)
		b = appendHundredths(b, x1+300)
		b = append(b, `" y="`...)
		b = appendNum(b, 3+(y1+y2)/2)
		b = append(b, `">`...)
		b = d.appendText(b, fit(label, chars), false)
		b = append(b, "</text>"...)
	}
	if wrap != "" {
		b = append(b, "</"...)
		b = append(b, wrap...)
		b = append(b, '>')
	}
	b = append(b, '\n')
	d.buf = b
	d.bw.Write(b)
}

// maxNameDrawn is the most bytes of a frame's name drawn, in its tooltip; the
// longest C++ template names are a few thousand bytes, and a name the size of
// a whole input line would otherwise be copied into the SVG.
const maxNameDrawn = 4096

// clipName shortens a name longer than maxNameDrawn bytes, at a character
// boundary, marking the cut with "..".
func clipName(s string) string {
	if len(s) <= maxNameDrawn {
		return s
	}
	i := maxNameDrawn - 2
	for j := i; j > i-utf8.UTFMax && j > 0; j-- {
		if utf8.RuneStart(s[j]) {
			i = j
			break
		}
	}
	return s[:i] + ".."
}

// fit shortens a label to chars characters, the last two being "..", as
// flamegraph.pl does; the script does the same after a zoom.
func fit(s string, chars int) string {
	if utf8.RuneCountInString(s) <= chars {
		return s
	}
	n := 0
	for i := range s {
		if n == chars-2 {
			return s[:i] + ".."
		}
		n++
	}
	return s
}

// appendInfo appends a frame's tooltip: "name (1,234 samples, 5.67%)", with
// the change added for a differential graph, escaped for an attribute value.
func (d *drawer) appendInfo(b []byte, n uint32, label string, value float64) []byte {
	samples := math.RoundToEven(value * d.Factor)
	b = d.appendText(b, label, true)
	b = append(b, " ("...)
	b = appendCommas(b, samples)
	b = append(b, ' ')
	b = d.appendText(b, d.CountName, true)
	b = append(b, ", "...)
	if n == 0 {
		return append(b, "100%)"...)
	}
	b = strconv.AppendFloat(b, 100*samples/(d.timemax*d.Factor), 'f', 2, 64)
	b = append(b, '%')
	if d.t.Diff() {
		delta := d.delta(n)
		if d.Negate && delta != 0 {
			delta = -delta
		}
		b = append(b, "; "...)
		if delta > 0 {
			b = append(b, '+')
		}
		b = strconv.AppendFloat(b, 100*delta/(d.timemax*d.Factor), 'f', 2, 64)
		b = append(b, '%')
	}
	return append(b, ')')
}

func (d *drawer) appendColor(b []byte, p placed, name string) []byte {
	switch {
	case name == "--":
		return append(b, "rgb(160,160,160)"...)
	case name == "-":
		return append(b, "rgb(200,200,200)"...)
	case d.t.Diff():
		return diffColor(d.delta(p.n), d.maxDelta, d.Negate).append(b)
	}
	key := name
	if p.waker {
		// The chain palette colours wakers, the frames below "--".
		key += "_[w]"
	}
	if d.Palette != nil && p.n != 0 {
		if c, ok := d.Palette[key]; ok {
			return d.appendText(b, c, true)
		}
		c := d.colors.color(key).String()
		d.Palette[key] = c
		return append(b, c...)
	}
	return d.colors.color(key).append(b)
}

// appendText appends s escaped for XML text or attributes. Bytes that are not
// UTF-8 become U+FFFD (or Latin-1 characters), and characters XML forbids
// become U+FFFD, so that any input gives a well-formed document.
func (c *svgConfig) appendText(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		ch := s[i]
		if ch < utf8.RuneSelf {
			i++
			switch {
			case ch == '&':
				b = append(b, "&amp;"...)
			case ch == '<':
				b = append(b, "&lt;"...)
			case ch == '>':
				b = append(b, "&gt;"...)
			case ch == '"' && attr:
				b = append(b, "&quot;"...)
			case ch == '\t' || ch == '\n' || ch == '\r':
				if attr {
					// Attribute values normalize these to spaces unless escaped.
					b = append(b, "&#"...)
					b = strconv.AppendInt(b, int64(ch), 10)
					b = append(b, ';')
				} else {
					b = append(b, ch)
				}
			case ch < 0x20:
				b = append(b, "\uFFFD"...)
			default:
				b = append(b, ch)
			}
			continue
		}
		if c.latin1 {
			b = utf8.AppendRune(b, rune(ch))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, "\uFFFD"...)
		case r == 0xFFFE || r == 0xFFFF:
			b = append(b, "\uFFFD"...)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// appendNum appends a number in its shortest form ("53", "63.5").
func appendNum(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// appendHundredths appends n/100 with at most two decimals.
func appendHundredths(b []byte, n float64) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	i := int64(n)
	b = strconv.AppendInt(b, i/100, 10)
	if f := i % 100; f != 0 {
		b = append(b, '.', byte('0'+f/10))
		if f%10 != 0 {
			b = append(b, byte('0'+f%10))
		}
	}
	return b
}

// appendCommas appends a whole number with thousands separators.
func appendCommas(b []byte, f float64) []byte {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return b
}
