package web

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/pprof/profile"
)

// narrowDiv sets what a view sends: a frame narrower than 1/narrowDiv of
// the view's root is never a pixel wide on a screen, so such frames are
// sent merged, one "narrow" node per parent, and fetched when zoomed into.
const narrowDiv = 20000

// built is a frame tree ready to serve, built once per profile version,
// sample type, base and filter and then cut into views.
type built struct {
	t    *tree
	pre  []int32 // nodes in preorder
	pos  []int32 // per node: its index in pre
	size []int32 // per node: its subtree's size
	// Per name: self value and total value, a name counted once per stack
	// however often it recurses (the top table).
	fself, ftotal []int64
	meta          map[string]any
}

// build builds the frame tree of p's samples of sample type typ ("" for
// the default) that f keeps; with base, each node also gets base's value.
func build(p, base *profile.Profile, typ string, f Filter) (*built, error) {
	t := newTree()
	meta := map[string]any{"diff": base != nil}
	if p == nil {
		meta["type"], meta["unit"], meta["sum"] = typ, "", 0
	} else {
		idx, err := sampleIndex(p, typ)
		if err != nil {
			return nil, err
		}
		st := p.SampleType[idx]
		meta["type"], meta["unit"] = Display(st.Type), Display(st.Unit)
		t.hasComm = hasComm(p, base)
		// Most stacks add a few nodes: sizing the map up front saves its
		// growth, the larger part of building a big tree.
		t.kids = make(map[uint64]int32, 2*len(p.Sample))
		if c, o, ok := wallSplit(p, idx); ok {
			t.split(c, o)
		}
		if base != nil {
			bi, err := sampleIndex(base, st.Type)
			if err != nil {
				return nil, fmt.Errorf("the base profile has no sample type %q", st.Type)
			}
			t.add(base, bi, f, true)
		}
		t.add(p, idx, f, false)
		meta["sum"] = t.sum
		if base != nil {
			meta["sumBefore"] = t.sumB
		}
	}
	if t.before != nil {
		// Nodes added by p after base's pass.
		for len(t.before) < len(t.total) {
			t.before = append(t.before, 0)
		}
	}
	b := &built{t: t, meta: meta}
	b.pre, b.size = t.order()
	b.pos = make([]int32, len(b.pre))
	for i, v := range b.pre {
		b.pos[v] = int32(i)
	}
	b.functions()
	t.kids, t.locs, t.ids = nil, nil, nil // only needed while adding
	return b, nil
}

// functions sums each name's self and total values.
func (b *built) functions() {
	t := b.t
	self := slices.Clone(t.total)
	for v := 1; v < len(t.name); v++ {
		self[t.parent[v]] -= t.total[v]
	}
	b.fself = make([]int64, len(t.names))
	b.ftotal = make([]int64, len(t.names))
	on := make([]int32, len(t.names))
	var stack []int32
	for _, v := range b.pre[1:] {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if b.pos[v] < b.pos[top]+b.size[top] {
				break
			}
			on[t.name[top]]--
			stack = stack[:len(stack)-1]
		}
		k := t.name[v]
		b.fself[k] += self[v]
		if on[k] == 0 {
			b.ftotal[k] += t.total[v]
		}
		on[k]++
		stack = append(stack, v)
	}
}

// match returns the value of the samples with a frame whose name re
// matches, each sample counted once.
func (b *built) match(re *regexp.Regexp) int64 {
	t := b.t
	hit := make([]bool, len(t.names))
	for k := 1; k < len(t.names); k++ {
		hit[k] = re.MatchString(Display(t.names[k]))
	}
	var m int64
	for i := 1; i < len(b.pre); {
		v := b.pre[i]
		if hit[t.name[v]] {
			m += t.total[v]
			i += int(b.size[v])
		} else {
			i++
		}
	}
	return m
}

// appendView encodes the view of the tree rooted at node root for the
// page: root's callers as a chain, then root's subtree in preorder with
// frames narrower than 1/narrowDiv of root merged per parent into one node
// of name -1. Each node has its tree id (-1 for merged nodes) so that the
// page can ask for the view rooted there. The whole profile's view
// (root 0) also carries the top table's per-name values.
func (b *built) appendView(out []byte, root int32, version string) []byte {
	t := b.t
	var ids, names, sizes []int32
	var totals, befores, cpus, offs []int64
	emit := func(id, name int32, total, before, cpu, off int64) {
		ids = append(ids, id)
		names = append(names, name)
		totals = append(totals, total)
		befores = append(befores, before)
		cpus = append(cpus, cpu)
		offs = append(offs, off)
		sizes = append(sizes, 1)
	}
	before := func(v int32) int64 {
		if t.before == nil {
			return 0
		}
		return t.before[v]
	}
	cpu := func(v int32) (int64, int64) {
		if t.cpu == nil {
			return 0, 0
		}
		return t.cpu[v], t.off[v]
	}
	node := func(v int32) {
		c, o := cpu(v)
		emit(v, t.name[v], t.total[v], before(v), c, o)
	}
	var chain []int32
	for a := t.parent[root]; a >= 0; a = t.parent[a] {
		chain = append(chain, a)
	}
	slices.Reverse(chain)
	for _, a := range chain {
		node(a)
	}
	thr := float64(t.total[root]) / narrowDiv
	type open struct {
		node, next, out int32
		nt, nb, nc, no  int64
	}
	node(root)
	stack := []open{{node: root, next: b.pos[root] + 1, out: int32(len(ids) - 1)}}
	for len(stack) > 0 {
		o := &stack[len(stack)-1]
		if o.next < b.pos[o.node]+b.size[o.node] {
			c := b.pre[o.next]
			o.next += b.size[c]
			if t.total[c] > 0 && float64(t.total[c]) >= thr {
				node(c)
				stack = append(stack, open{node: c, next: b.pos[c] + 1, out: int32(len(ids) - 1)})
			} else {
				o.nt += t.total[c]
				o.nb += before(c)
				cc, co := cpu(c)
				o.nc += cc
				o.no += co
			}
			continue
		}
		if o.nt > 0 || o.nb > 0 {
			emit(-1, -1, o.nt, o.nb, o.nc, o.no)
		}
		sizes[o.out] = int32(len(ids)) - o.out
		stack = stack[:len(stack)-1]
	}
	for k := range chain {
		sizes[k] = int32(len(ids) - k)
	}

	out = append(out, '{')
	for _, k := range slices.Sorted(mapsKeys(b.meta)) {
		out = appendString(out, k)
		out = append(out, ':')
		out = appendAny(out, b.meta[k])
		out = append(out, ',')
	}
	out = append(out, `"version":`...)
	out = appendString(out, version)
	out = append(out, `,"root":`...)
	out = strconv.AppendInt(out, int64(len(chain)), 10)
	out = append(out, `,"names":[`...)
	for i, s := range t.names {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, Display(s))
	}
	out = append(out, ']')
	out = appendInts(out, "id", ids)
	out = appendInts(out, "name", names)
	out = appendInts(out, "total", totals)
	if t.before != nil {
		out = appendInts(out, "before", befores)
	}
	if t.cpu != nil {
		// Only a wall profile's view has them: other views stay as small.
		out = appendInts(out, "cpu", cpus)
		out = appendInts(out, "off", offs)
	}
	out = appendInts(out, "size", sizes)
	if root == 0 {
		out = appendInts(out, "fself", b.fself)
		out = appendInts(out, "ftotal", b.ftotal)
	}
	return append(out, '}')
}

// appendInts appends `,"key":[v...]` to b.
func appendInts[T int32 | int64](b []byte, key string, v []T) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// sandwich builds the trees of one function merged over every place it
// occurs: callers, the function at the root and its callers above it, and
// callees, the function at the root and what it calls. A recursive
// function is counted at its outermost frame only.
func (b *built) sandwich(fn string) (callers, callees *built, ok bool) {
	t := b.t
	hit := make([]bool, len(t.names))
	root := int32(-1)
	for k := 1; k < len(t.names); k++ {
		if Display(t.names[k]) == fn {
			hit[k] = true
			if root < 0 {
				root = int32(k)
			}
		}
	}
	if root < 0 {
		return nil, nil, false
	}
	mk := func() *tree {
		nt := &tree{names: t.names, kids: map[uint64]int32{}, name: []int32{root}, parent: []int32{-1}, total: []int64{0}}
		if t.cpu != nil {
			nt.cpu, nt.off = []int64{0}, []int64{0}
		}
		return nt
	}
	// addSplit adds node v's on-CPU and blocked time to node n of nt.
	addSplit := func(nt *tree, n, v int32) {
		if t.cpu != nil {
			nt.cpu[n] += t.cpu[v]
			nt.off[n] += t.off[v]
		}
	}
	up, down := mk(), mk()
	newOf := make([]int32, len(t.name))
	for i := 1; i < len(b.pre); {
		v := b.pre[i]
		if !hit[t.name[v]] {
			i++
			continue
		}
		val := t.total[v]
		up.total[0] += val
		addSplit(up, 0, v)
		cur := int32(0)
		for a := t.parent[v]; a > 0; a = t.parent[a] {
			cur = up.child(cur, t.name[a])
			up.total[cur] += val
			addSplit(up, cur, v)
		}
		down.total[0] += val
		addSplit(down, 0, v)
		newOf[v] = 0
		end := i + int(b.size[v])
		for j := i + 1; j < end; j++ {
			u := b.pre[j]
			n := down.child(newOf[t.parent[u]], t.name[u])
			newOf[u] = n
			down.total[n] += t.total[u]
			addSplit(down, n, u)
		}
		i = end
	}
	finish := func(nt *tree) *built {
		s := &built{t: nt, meta: b.meta}
		s.pre, s.size = nt.order()
		s.pos = make([]int32, len(s.pre))
		for i, v := range s.pre {
			s.pos[v] = int32(i)
		}
		return s
	}
	return finish(up), finish(down), true
}
