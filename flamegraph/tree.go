package flamegraph

import (
	"bytes"
	"io"
	"math"
	"slices"
	"strings"
)

// TreeOptions says how stacks are merged into a tree.
type TreeOptions struct {
	// Reverse merges stacks from the leaf: each stack is reversed first
	// (flamegraph.pl's --reverse).
	Reverse bool
	// Flamechart keeps the input order and merges a stack only with the one
	// before it, so that the x axis is time (--flamechart).
	Flamechart bool
	// MaxDepth is the most frames kept of a stack (DefaultMaxDepth if 0): the
	// frames beyond it, from the root (from the leaf with Reverse), are cut
	// off, the stack's count staying with its last frame kept, so that one
	// huge line cannot make a tree, and a graph, of millions of frames.
	MaxDepth int
}

// DefaultMaxDepth is the default TreeOptions.MaxDepth: as deep as the stacks
// profilers record (async-profiler's deepest), and a graph 32,000 pixels tall.
const DefaultMaxDepth = 2048

// node is one frame of the tree. Nodes are kept in one slice and linked by
// index, which keeps a tree of millions of frames small and cheap to build.
type node struct {
	name  uint32  // index into Tree.names
	first uint32  // first child; 0 means none, as the root is never a child
	next  uint32  // next sibling
	nkids uint32  // the number of children, and the ends bit
	value float64 // inclusive: this frame and everything it called
}

// ends is set in node.nkids when some stack ends at the node; it decides
// where the node sorts among its siblings.
const ends = 1 << 31

// wideKids is the number of children above which a node's children are found
// through a map rather than by walking the sibling list.
const wideKids = 8

// Tree is the frame tree of a flame graph: stacks merged from the root (or
// from the leaf with Reverse), each node weighted by the stacks through it.
// The zero value is not usable; call NewTree.
type Tree struct {
	opts  TreeOptions
	depth int // opts.MaxDepth with the default filled in
	// truncated counts the stacks cut at depth.
	truncated int
	nodes     chunked[node]
	names     []string
	ids       map[string]uint32
	// wide finds the child named n of parent p, key p<<32|n, for parents with
	// more than wideKids children.
	wide map[uint64]uint32

	// Differential data, per node, of the stacks that end there; nil until a
	// stack with two counts is added.
	self        *chunked[selfCounts]
	totalBefore float64

	// The previous folded stack and the nodes of its frames, so that a stack
	// sharing a prefix with it skips the name lookups for that prefix.
	prev     []byte
	prevEnds []int
	prevPath []uint32
}

// NewTree returns an empty tree.
func NewTree(o TreeOptions) *Tree {
	depth := o.MaxDepth
	if depth <= 0 {
		depth = DefaultMaxDepth
	}
	t := &Tree{
		opts:  o,
		depth: depth,
		names: []string{""},
		ids:   map[string]uint32{"": 0},
		wide:  make(map[uint64]uint32),
	}
	t.nodes.add(node{})
	return t
}

// Total returns the sum of the values of the stacks added (the "after" values
// of differential stacks).
func (t *Tree) Total() float64 { return t.nodes.at(0).value }

// Diff reports whether any stack was added with two counts.
func (t *Tree) Diff() bool { return t.self != nil }

// Len returns the number of frames in the tree, the root included.
func (t *Tree) Len() int { return t.nodes.len() }

// Truncated returns the number of stacks added that were deeper than
// TreeOptions.MaxDepth and lost their deepest frames.
func (t *Tree) Truncated() int { return t.truncated }

// validCount reports whether a count can be added: flamegraph.pl's input rule
// admits only non-negative finite numbers.
func validCount(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }

// Add adds one stack, frames root first. Stacks with a negative or non-finite
// value are ignored.
func (t *Tree) Add(frames []string, value float64) {
	t.add(frames, 0, value, false)
}

// AddDiff adds one stack of a differential graph: its frames are sized by
// after and coloured by after-before. Stacks with negative or non-finite
// counts are ignored.
func (t *Tree) AddDiff(frames []string, before, after float64) {
	t.add(frames, before, after, true)
}

func (t *Tree) add(frames []string, before, after float64, diff bool) {
	if !validCount(before) || !validCount(after) {
		return
	}
	t.prev = t.prev[:0]
	t.prevEnds = t.prevEnds[:0]
	t.prevPath = t.prevPath[:0]
	cur := uint32(0)
	t.nodes.at(0).value += after
	n := len(frames)
	if n > t.depth {
		t.truncated++
	}
	for i := range min(n, t.depth) {
		f := frames[i]
		if t.opts.Reverse {
			f = frames[n-1-i]
		}
		cur = t.child(cur, t.internString(f))
		t.nodes.at(cur).value += after
	}
	t.addSelf(cur, before, after, diff)
}

// AddFolded adds one stack given as folded text, frames root first separated
// by ';', as ReadFolded passes it on. As in flamegraph.pl, empty frames at the
// end are dropped.
func (t *Tree) AddFolded(stack []byte, value float64) {
	t.addFolded(stack, 0, value, false)
}

// AddFoldedDiff is AddFolded for a differential stack (see AddDiff).
func (t *Tree) AddFoldedDiff(stack []byte, before, after float64) {
	t.addFolded(stack, before, after, true)
}

// ReadFolded adds every valid line of folded text from r; lines with two
// counts make the tree differential. It returns the number of invalid lines.
func (t *Tree) ReadFolded(r io.Reader) (ignored int, err error) {
	return ReadFolded(r, func(l *FoldedLine) error {
		t.addFolded(l.Stack, l.Before, l.Count, l.Diff)
		return nil
	})
}

func (t *Tree) addFolded(stack []byte, before, after float64, diff bool) {
	if !validCount(before) || !validCount(after) {
		return
	}
	for len(stack) > 0 && stack[len(stack)-1] == ';' {
		stack = stack[:len(stack)-1]
	}
	t.nodes.at(0).value += after
	if t.opts.Reverse {
		t.addReversed(stack, before, after, diff)
		return
	}
	if len(stack) == 0 {
		t.prev, t.prevEnds, t.prevPath = t.prev[:0], t.prevEnds[:0], t.prevPath[:0]
		t.addSelf(0, before, after, diff)
		return
	}
	// Reuse the nodes of the frames this stack shares with the previous one:
	// sorted and flame-chart input share long prefixes, and even unsorted
	// input shares its first frames. Frame k matches if it lies within the
	// common bytes and ends where the previous one's did.
	common := commonPrefix(stack, t.prev)
	k := 0
	for k < len(t.prevEnds) {
		e := t.prevEnds[k]
		if e > common || (e < len(stack) && stack[e] != ';') {
			break
		}
		k++
	}
	cur := uint32(0)
	for _, n := range t.prevPath[:k] {
		t.nodes.at(n).value += after
		cur = n
	}
	t.prevPath = t.prevPath[:k]
	t.prevEnds = t.prevEnds[:k]
	if k == 0 || t.prevEnds[k-1] < len(stack) {
		pos := 0
		if k > 0 {
			pos = t.prevEnds[k-1] + 1
		}
		for rest := stack[pos:]; ; {
			if len(t.prevPath) == t.depth {
				t.truncated++
				break
			}
			f, r, more := nextFrame(rest)
			cur = t.child(cur, t.intern(f))
			t.nodes.at(cur).value += after
			pos += len(f)
			t.prevPath = append(t.prevPath, cur)
			t.prevEnds = append(t.prevEnds, pos)
			if !more {
				break
			}
			pos++
			rest = r
		}
	}
	// Only the frames kept can match the next stack's; a truncated stack's
	// tail is not copied.
	t.prev = append(t.prev[:0], stack[:t.prevEnds[len(t.prevEnds)-1]]...)
	t.addSelf(cur, before, after, diff)
}

func (t *Tree) addReversed(stack []byte, before, after float64, diff bool) {
	t.prev = t.prev[:0]
	t.prevEnds = t.prevEnds[:0]
	t.prevPath = t.prevPath[:0]
	// Walk from the leaf, which is the root here, so that a truncated stack
	// costs no more than the frames kept.
	cur := uint32(0)
	for rest, depth := stack, 0; len(stack) > 0; depth++ {
		if depth == t.depth {
			t.truncated++
			break
		}
		i := bytes.LastIndexByte(rest, ';')
		cur = t.child(cur, t.intern(rest[i+1:]))
		t.nodes.at(cur).value += after
		if i < 0 {
			break
		}
		rest = rest[:i]
	}
	t.addSelf(cur, before, after, diff)
}

// addSelf records the differential counts of a stack ending at n.
func (t *Tree) addSelf(n uint32, before, after float64, diff bool) {
	t.nodes.at(n).nkids |= ends
	if !diff && t.self == nil {
		return
	}
	if t.self == nil {
		t.self = new(chunked[selfCounts])
		for range t.nodes.len() {
			t.self.add(selfCounts{})
		}
	}
	s := t.self.at(n)
	s.after += after
	s.before += before
	t.totalBefore += before
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	// Compare in blocks first: bytes.Equal is vectorized.
	i := 0
	for i+64 <= n && bytes.Equal(a[i:i+64], b[i:i+64]) {
		i += 64
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// intern returns the ID of a frame name, adding it if new.
func (t *Tree) intern(name []byte) uint32 {
	// Indexing with string(b) does not allocate.
	if id, ok := t.ids[string(name)]; ok {
		return id
	}
	return t.newName(string(name))
}

func (t *Tree) internString(name string) uint32 {
	if id, ok := t.ids[name]; ok {
		return id
	}
	return t.newName(name)
}

func (t *Tree) newName(s string) uint32 {
	id := uint32(len(t.names))
	t.names = append(t.names, s)
	t.ids[s] = id
	return id
}

// child returns the child of p named name, adding it if there is none.
func (t *Tree) child(p, name uint32) uint32 {
	pn := t.nodes.at(p)
	if t.opts.Flamechart {
		// Only the latest child can merge: children are kept newest first.
		if c := pn.first; c != 0 && t.nodes.at(c).name == name {
			return c
		}
	} else if pn.nkids&^ends <= wideKids {
		prev := uint32(0)
		for c := pn.first; c != 0; {
			cn := t.nodes.at(c)
			if cn.name == name {
				if prev != 0 {
					// Move it to the front: the children called most are
					// then found first, which saves memory reads.
					t.nodes.at(prev).next = cn.next
					cn.next = pn.first
					pn.first = c
				}
				return c
			}
			prev, c = c, cn.next
		}
	} else if c, ok := t.wide[uint64(p)<<32|uint64(name)]; ok {
		return c
	}
	c := t.nodes.add(node{name: name, next: t.nodes.at(p).first})
	if t.self != nil {
		t.self.add(selfCounts{})
	}
	pn = t.nodes.at(p)
	pn.first = c
	pn.nkids++
	if t.opts.Flamechart {
		return c
	}
	switch {
	case pn.nkids&^ends == wideKids+1:
		for k := pn.first; k != 0; k = t.nodes.at(k).next {
			t.wide[uint64(p)<<32|uint64(t.nodes.at(k).name)] = k
		}
	case pn.nkids&^ends > wideKids+1:
		t.wide[uint64(p)<<32|uint64(name)] = c
	}
	return c
}

// kids appends the children of n to dst in drawing order: in input order for
// a flame chart, else in the order flamegraph.pl draws them. It sorts whole
// lines, so a frame sorts as its name followed by ";" (a stack goes on) or by
// " " (a stack ends there: the space before the count).
func (t *Tree) kids(dst []uint32, n uint32) []uint32 {
	start := len(dst)
	for c := t.nodes.at(n).first; c != 0; c = t.nodes.at(c).next {
		dst = append(dst, c)
	}
	k := dst[start:]
	if t.opts.Flamechart {
		slices.Reverse(k)
		return dst
	}
	slices.SortFunc(k, func(a, b uint32) int {
		return t.compareFrames(a, b)
	})
	return dst
}

func (t *Tree) compareFrames(a, b uint32) int {
	na, nb := t.nodes.at(a), t.nodes.at(b)
	x, y := t.names[na.name], t.names[nb.name]
	tx, ty := byte(';'), byte(';')
	if na.nkids&ends != 0 {
		tx = ' '
	}
	if nb.nkids&ends != 0 {
		ty = ' '
	}
	n := min(len(x), len(y))
	if c := strings.Compare(x[:n], y[:n]); c != 0 {
		return c
	}
	// One name is a prefix of the other: the terminator decides.
	cx, cy := tx, ty
	if len(x) > n {
		cx = x[n]
	}
	if len(y) > n {
		cy = y[n]
	}
	if cx != cy {
		return int(cx) - int(cy)
	}
	return strings.Compare(x, y)
}

// selfCounts are the differential counts of the stacks that end at a node.
type selfCounts struct{ before, after float64 }

// chunkBits sets the size of the blocks a chunked slice grows by.
const chunkBits = 16

// chunked is a slice that grows by whole blocks and never moves its elements:
// growing one large slice copied the tree again and again, and fresh memory
// is slow to touch in some virtual machines.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

func (c *chunked[T]) len() int { return c.n }

func (c *chunked[T]) at(i uint32) *T {
	return &c.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

// add appends v and returns its index.
func (c *chunked[T]) add(v T) uint32 {
	i := c.n
	if i&(1<<chunkBits-1) == 0 {
		c.chunks = append(c.chunks, make([]T, 1<<chunkBits))
	}
	c.chunks[i>>chunkBits][i&(1<<chunkBits-1)] = v
	c.n++
	return uint32(i)
}
