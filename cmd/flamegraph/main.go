// Command flamegraph draws folded stacks, or pprof profiles, as an interactive
// SVG flame graph. It is a drop-in for Brendan Gregg's flamegraph.pl: the same
// options, input rules and output, but fast on large inputs and tolerant of
// any bytes in them. With --diff it also draws difffolded.pl's differential
// graphs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/outfile"
	"github.com/emberprof/ember/web"
	"github.com/google/pprof/profile"
)

const usage = `usage: flamegraph [options] [infile ...] > outfile.svg
       flamegraph --diff [-n] [-s] [options] before after > diff.svg

Draws folded stacks ("frame;frame;... count" per line, as profile -f,
offcputime -f and the stackcollapse scripts print them) or pprof profiles
(gzipped or not) as an interactive SVG flame graph. Reads the files named, or
standard input. Open the SVG in a browser: hover for details, click to zoom,
Ctrl-F to search.

options (as flamegraph.pl's):
	--title TEXT     # change title text
	--subtitle TEXT  # second level title (optional)
	--width NUM      # width of image (default 1200)
	--height NUM     # height of each frame (default 16)
	--minwidth NUM   # omit smaller functions. In pixels or use "%" for
	                 # percentage of time (default 0.1 pixels)
	--fonttype FONT  # font type (default "Verdana")
	--fontsize NUM   # font size (default 12)
	--countname TEXT # count type label (default "samples")
	--nametype TEXT  # name type label (default "Function:")
	--colors PALETTE # set color palette. choices are: hot (default), mem,
	                 # io, wakeup, chain, java, js, perl, red, green, blue,
	                 # aqua, yellow, purple, orange
	--bgcolors COLOR # set background colors. gradient choices are yellow
	                 # (default), blue, green, grey; flat colors use "#rrggbb"
	--hash           # colors are keyed by function name hash
	--random         # colors are randomly generated
	--cp             # use consistent palette (palette.map)
	--reverse        # generate stack-reversed flame graph
	--inverted       # icicle graph
	--flamechart     # produce a flame chart (sort by time, do not merge stacks)
	--negate         # switch differential hues (blue<->red)
	--notes TEXT     # add notes comment in SVG (for debugging)
	--help           # this message
	also --encoding NAME, --fontwidth NUM, --nameattr FILE, --total NUM,
	--factor NUM

options of this tool:
	-o FILE          # write to FILE (atomically) instead of standard output
	--diff           # differential graph of two inputs, before and after
	                 # (difffolded.pl): widths from after, red grew, blue shrank
	-n               # with --diff: normalize the before counts to after's total
	-s               # with --diff: strip hex numbers (addresses)
	--sample-type T  # pprof input: the sample type to draw (default: samples,
	                 # else the profile's default)
	--max-line SIZE  # the longest input line accepted (default 64M)
	--max-profile SIZE # the largest pprof profile accepted, decompressed: it
	                 # is read whole (default 256M)
	--max-depth N    # the most frames drawn of a stack; deeper ones are cut
	                 # at the leaf end, with a warning (default 2048)
	--http ADDR      # serve the inputs on a web page instead (flame graph,
	                 # search, top table, diff of two inputs) until Ctrl-C;
	                 # ADDR as go tool pprof's: :8080 is localhost only,
	                 # 0.0.0.0:8080 all interfaces

eg,
	flamegraph --title="Flame Graph: malloc()" trace.txt > graph.svg
	flamegraph cpu.pb.gz > cpu.svg
	flamegraph --diff before.folded after.folded > diff.svg
	flamegraph --http :8080 before.pb.gz after.pb.gz

Exit status: 0 on success, 1 on bad input or a failed write, 2 on a usage
error or when the input holds no stack counts (an error SVG is still written,
as flamegraph.pl does).
`

func main() {
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err := outfile.CloseStdout(os.Stdout); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "flamegraph: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// config is the command line.
type config struct {
	svg        flamegraph.SVGOptions
	cp         bool
	nameAttr   string
	output     string
	diff       bool
	normalize  bool
	stripHex   bool
	sampleType string
	countSet   bool
	inputs     []string
	// The input bounds: they keep memory and output in proportion to the
	// graph, whatever the input.
	maxLine    int
	maxProfile int
	// http is --http's address: serve the inputs on a page instead.
	http string
}

func parseArgs(args []string) (*config, error) {
	c := &config{}
	o := &c.svg
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	flag := func(p *bool) func(string) error { return func(string) error { *p = true; return nil } }
	num := func(p *float64) func(string) error {
		return func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("not a number: %q", v)
			}
			*p = f
			return nil
		}
	}
	var height float64
	c.maxLine = flamegraph.DefaultMaxLine
	c.maxProfile = flamegraph.DefaultMaxProfile
	size := func(p *int) func(string) error {
		return func(v string) error {
			n, ok := parseSize(v)
			if !ok {
				return fmt.Errorf("not a size in bytes (like 4096, 64K, 64M or 1G): %q", v)
			}
			*p = n
			return nil
		}
	}
	specs := []optSpec{
		{"fonttype", true, str(&o.FontType)},
		{"width", true, func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 20 {
				return fmt.Errorf("not a width in pixels: %q", v)
			}
			o.Width = n
			return nil
		}},
		{"height", true, num(&height)},
		{"encoding", true, str(&o.Encoding)},
		{"fontsize", true, num(&o.FontSize)},
		{"fontwidth", true, num(&o.FontWidth)},
		{"minwidth", true, str(&o.MinWidth)},
		{"title", true, str(&o.Title)},
		{"subtitle", true, str(&o.Subtitle)},
		{"nametype", true, str(&o.NameType)},
		{"countname", true, func(v string) error { o.CountName, c.countSet = v, true; return nil }},
		{"nameattr", true, str(&c.nameAttr)},
		{"total", true, num(&o.Total)},
		{"factor", true, num(&o.Factor)},
		{"colors", true, str(&o.Colors)},
		{"bgcolors", true, str(&o.BGColors)},
		{"hash", false, flag(&o.Hash)},
		{"random", false, flag(&o.Random)},
		{"cp", false, flag(&c.cp)},
		{"reverse", false, flag(&o.Reverse)},
		{"inverted", false, flag(&o.Inverted)},
		{"flamechart", false, flag(&o.Flamechart)},
		{"negate", false, flag(&o.Negate)},
		{"notes", true, str(&o.Notes)},
		{"help", false, func(string) error { return errHelp }},
		{"o", true, str(&c.output)},
		{"output", true, str(&c.output)},
		{"diff", false, flag(&c.diff)},
		{"n", false, flag(&c.normalize)},
		{"normalize", false, flag(&c.normalize)},
		{"s", false, flag(&c.stripHex)},
		{"strip-hex", false, flag(&c.stripHex)},
		{"sample-type", true, str(&c.sampleType)},
		{"max-line", true, size(&c.maxLine)},
		{"max-profile", true, size(&c.maxProfile)},
		{"max-depth", true, func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("not a number of frames: %q", v)
			}
			o.MaxDepth = n
			return nil
		}},
		{"h", false, func(string) error { return errHelp }},
		{"http", true, str(&c.http)},
	}
	rest, err := parseOpts(specs, args)
	if err != nil {
		return nil, err
	}
	o.FrameHeight = height
	o.Normalize = c.normalize
	if o.Colors != "" && !flamegraph.ValidPalette(o.Colors) {
		return nil, fmt.Errorf("unknown palette %q for --colors", o.Colors)
	}
	if c.diff && len(rest) != 2 {
		return nil, errors.New("--diff needs two inputs: before and after")
	}
	if !c.diff && (c.normalize || c.stripHex) {
		return nil, errors.New("-n and -s only apply with --diff")
	}
	c.inputs = rest
	if c.http != "" {
		if c.diff || c.output != "" {
			return nil, errors.New("--http serves the inputs on a page (compare two there): it does not take --diff or -o")
		}
		if _, err := web.ListenAddr(c.http); err != nil {
			return nil, err
		}
	}
	if len(c.inputs) == 0 {
		c.inputs = []string{"-"}
	}
	// The flamegraph package checks the drawing options (--minwidth,
	// --bgcolors, --height, ...) when it draws: draw an empty graph now,
	// so that a bad value is a usage error before any input is read.
	err = flamegraph.NewTree(o.TreeOptions).WriteSVG(io.Discard, *o)
	if err != nil && !errors.Is(err, flamegraph.ErrNoStacks) {
		return nil, err
	}
	if err := outfile.Check(c.output); err != nil {
		return nil, err
	}
	return c, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, err := parseArgs(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "flamegraph: %v\nTry 'flamegraph --help' for more information.\n", err)
		return 2
	}
	if c.http != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return serveHTTP(ctx, c, stdin, stderr)
	}
	if c.nameAttr != "" {
		m, err := readNameAttr(c.nameAttr)
		if err != nil {
			fmt.Fprintf(stderr, "flamegraph: %v\n", err)
			return 2
		}
		c.svg.NameAttr = m
	}
	if c.cp {
		m, err := readPalette(paletteFile)
		if err != nil {
			fmt.Fprintf(stderr, "flamegraph: %v\n", err)
			return 1
		}
		c.svg.Palette = m
	}
	tree := flamegraph.NewTree(c.svg.TreeOptions)
	l := &loader{cfg: c, tree: tree, stdin: stdin, stderr: stderr}
	for i, in := range c.inputs {
		side := sideOnly
		if c.diff {
			side = sideBefore
			if i == 1 {
				side = sideAfter
			}
		}
		if err := l.load(in, side); err != nil {
			fmt.Fprintf(stderr, "flamegraph: %s\n", oneLine(err.Error()))
			return 1
		}
	}
	if n := tree.Truncated(); n > 0 {
		depth := c.svg.MaxDepth
		if depth == 0 {
			depth = flamegraph.DefaultMaxDepth
		}
		fmt.Fprintf(stderr, "flamegraph: %d stacks deeper than %d frames lost their deepest frames (--max-depth raises the bound)\n", n, depth)
	}
	if l.countName != "" && !c.countSet {
		c.svg.CountName = l.countName
	}
	ignoredShown := l.ignored == 0
	showIgnored := func() {
		if !ignoredShown {
			fmt.Fprintf(stderr, "Ignored %d lines with invalid format\n", l.ignored)
			ignoredShown = true
		}
	}
	// flamegraph.pl's order: the low-count warning, then ignored lines, then
	// any error.
	c.svg.Warn = func(msg string) {
		if !strings.HasPrefix(msg, "Stack count is low") {
			showIgnored()
		}
		fmt.Fprintln(stderr, msg)
	}
	noStacks := false
	err = outfile.Write(c.output, stdout, func(w io.Writer) error {
		err := tree.WriteSVG(w, c.svg)
		if errors.Is(err, flamegraph.ErrNoStacks) {
			noStacks = true
			return nil
		}
		return err
	})
	showIgnored()
	if err != nil {
		fmt.Fprintf(stderr, "flamegraph: %v\n", err)
		return 1
	}
	if c.cp {
		if err := outfile.Write(paletteFile, nil, func(w io.Writer) error {
			return flamegraph.WritePalette(w, c.svg.Palette)
		}); err != nil {
			fmt.Fprintf(stderr, "flamegraph: %v\n", err)
			return 1
		}
	}
	if noStacks {
		return 2
	}
	return 0
}

// paletteFile is where --cp keeps colours, as flamegraph.pl does.
const paletteFile = "palette.map"

func readPalette(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return make(map[string]string), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := flamegraph.ReadPalette(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func readNameAttr(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--nameattr: %w", err)
	}
	defer f.Close()
	m, err := flamegraph.ReadNameAttr(f)
	if err != nil {
		return nil, fmt.Errorf("--nameattr %s: %w", path, err)
	}
	return m, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// side says which part of a differential graph an input is.
type side int

const (
	sideOnly side = iota
	sideBefore
	sideAfter
)

// loader reads inputs into the tree.
type loader struct {
	cfg       *config
	tree      *flamegraph.Tree
	stdin     io.Reader
	stderr    io.Writer
	ignored   int
	countName string
	scratch   []byte
}

// openInput opens the input named on the command line, "-" for stdin, and
// returns the name to show for it. Any file that can be read is fine, FIFOs
// and devices too: the user named it, the input is streamed, and
// ReadInput's bounds hold for any of them.
func openInput(name string, stdin io.Reader) (io.Reader, string, func(), error) {
	if name == "-" {
		return stdin, "standard input", func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", nil, err
	}
	return f, name, func() { f.Close() }, nil
}

func (l *loader) load(name string, s side) error {
	r, display, done, err := openInput(name, l.stdin)
	if err != nil {
		return err
	}
	defer done()
	n, err := flamegraph.ReadInput(r, display, flamegraph.InputOptions{
		MaxLine:    l.cfg.maxLine,
		MaxProfile: l.cfg.maxProfile,
		Folded:     func(fl *flamegraph.FoldedLine) error { l.addFolded(fl, s); return nil },
		Profile:    func(p *profile.Profile) error { return l.addProfile(display, p, s) },
	})
	l.ignored += n
	return err
}

func (l *loader) addProfile(name string, p *profile.Profile, s side) error {
	stacks, countName, err := flamegraph.ProfileStacks(p, l.cfg.sampleType)
	if err != nil {
		return err
	}
	if l.countName == "" {
		l.countName = countName
	}
	negative := 0
	for _, st := range stacks {
		if st.Value < 0 {
			negative++
			continue
		}
		switch s {
		case sideOnly:
			l.tree.Add(st.Frames, st.Value)
		case sideBefore:
			l.tree.AddDiff(st.Frames, st.Value, 0)
		case sideAfter:
			l.tree.AddDiff(st.Frames, 0, st.Value)
		}
	}
	if negative > 0 {
		fmt.Fprintf(l.stderr, "%s: ignored %d stacks with negative values\n", name, negative)
	}
	return nil
}

func (l *loader) addFolded(fl *flamegraph.FoldedLine, s side) {
	stack := fl.Stack
	if l.cfg.stripHex {
		l.scratch = stripHex(l.scratch[:0], stack)
		stack = l.scratch
	}
	switch s {
	case sideOnly:
		if fl.Diff {
			l.tree.AddFoldedDiff(stack, fl.Before, fl.Count)
		} else {
			l.tree.AddFolded(stack, fl.Count)
		}
	case sideBefore:
		l.tree.AddFoldedDiff(stack, fl.Count, 0)
	case sideAfter:
		l.tree.AddFoldedDiff(stack, 0, fl.Count)
	}
}

// stripHex replaces hex numbers (0x...) with "0x...", as difffolded.pl -s
// does, so that addresses that differ between runs do not split stacks.
func stripHex(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		if src[i] == '0' && i+2 < len(src) && src[i+1] == 'x' && isHex(src[i+2]) {
			dst = append(dst, "0x..."...)
			i += 2
			for i+1 < len(src) && isHex(src[i+1]) {
				i++
			}
			continue
		}
		dst = append(dst, src[i])
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parseSize parses a size in bytes (see flamegraph.ParseSize).
func parseSize(v string) (int, bool) { return flamegraph.ParseSize(v) }

// fmtSize writes a size the way parseSize reads it.
func fmtSize(n int) string { return flamegraph.FormatSize(n) }
