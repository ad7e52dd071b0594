// Package flamegraph turns stacks into flame graphs: it reads and writes
// folded stacks, folds pprof profiles, merges stacks into a frame tree and
// draws it as an interactive SVG that is a drop-in for Brendan Gregg's
// flamegraph.pl, differential graphs (difffolded.pl) included.
//
// The usual calls are WriteSVG (stacks to SVG, as cmd/profile --format svg
// does), Tree.ReadFolded and Tree.WriteSVG (folded text to SVG, streaming,
// as cmd/flamegraph does), and WriteDiffSVG for two sets of stacks.
//
// Output follows flamegraph.pl: the same options, input rules, colours
// (seeded from the name the same way, so a function is coloured alike by
// both), frame order and geometry, tooltips and warnings. The embedded
// script is this package's own. Where the two differ, it is on purpose:
//
//   - Any bytes are accepted; names are written as valid UTF-8 (invalid
//     bytes become U+FFFD) and every name, title and attribute is escaped.
//   - CRLF line endings are accepted.
//   - Input is bounded: a line longer than DefaultMaxLine (64 MiB) is an
//     error, stacks deeper than DefaultMaxDepth (2048) frames lose their
//     deepest ones (Tree.Truncated counts them) and tooltips show at most
//     4 KB of a name, so that memory follows the distinct frames and the
//     SVG's size the frames drawn, whatever the input.
//   - Equal frames under the same parent always merge; flamegraph.pl draws
//     them twice when its line sort puts another stack between them (as
//     "a 1", "a!b 1", "a;c 1" do), and loses frames whose name, depth and
//     end coincide with a zero-width one in differential graphs.
//   - The root frame is labelled "all"; an icicle graph leaves room for a
//     subtitle; --colors chain colours frames below a "--" frame as wakers
//     instead of adding a "--" frame to stacks that have none.
//   - A frame is a <rect> whose data-title attribute holds the tooltip,
//     followed by its <text> label if it has one, rather than a <g> holding
//     a <title>, the <rect> and a <text>: the browser builds far fewer
//     elements, and a graph of 17,000 frames opens in under a second. The
//     script adds the <title>, and with it the native tooltip, on hover;
//     viewers without scripts draw the same picture but show no tooltips.
//     The rounded corners are a CSS rule. Frames given --nameattr links, ids
//     or classes keep an <a> or <g> around them.
//   - Output is byte-for-byte the same for the same input and options, unless
//     colours are random; with integer counts (and no --flamechart) it does
//     not depend on the order of the lines either.
package flamegraph
