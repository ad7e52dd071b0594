package flamegraph

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// dump lists a tree's frames in drawing order, one "path value" per line.
func dump(t *Tree) string {
	var b strings.Builder
	var walk func(n uint32, path string)
	walk = func(n uint32, path string) {
		fmt.Fprintf(&b, "%s %g\n", path, t.nodes.at(n).value)
		for _, k := range t.kids(nil, n) {
			walk(k, path+";"+t.names[t.nodes.at(k).name])
		}
	}
	walk(0, "")
	return b.String()
}

func treeFrom(o TreeOptions, folded string) *Tree {
	t := NewTree(o)
	t.ReadFolded(strings.NewReader(folded))
	return t
}

func TestTree(t *testing.T) {
	tests := []struct {
		name string
		opts TreeOptions
		in   string
		want string
	}{
		{
			name: "merge and sort",
			in:   "a;c 1\nb 2\na;b 3\na;c 4\n",
			want: " 10\n;a 8\n;a;b 3\n;a;c 5\n;b 2\n",
		},
		{
			name: "sorted as lines",
			// flamegraph.pl sorts lines, and '!' < ';' puts "a!;x" first.
			in:   "a!;x 1\na;b 1\nab 1\n",
			want: " 3\n;a! 1\n;a!;x 1\n;a 1\n;a;b 1\n;ab 1\n",
		},
		{
			name: "leaf sorts with a space",
			in:   "a! 1\na 1\n",
			want: " 2\n;a 1\n;a! 1\n",
		},
		{
			name: "trailing empty frames dropped, inner kept",
			in:   "a;;b; 2\n;x 1\n",
			want: " 3\n; 1\n;;x 1\n;a 2\n;a; 2\n;a;;b 2\n",
		},
		{
			name: "reverse",
			opts: TreeOptions{Reverse: true},
			in:   "main;f;leaf 2\nmain;g;leaf 3\n",
			want: " 5\n;leaf 5\n;leaf;f 2\n;leaf;f;main 2\n;leaf;g 3\n;leaf;g;main 3\n",
		},
		{
			name: "flamechart merges neighbours only",
			opts: TreeOptions{Flamechart: true},
			in:   "b;x 1\nb;y 1\na 1\nb;x 1\n",
			want: " 4\n;b 2\n;b;x 1\n;b;y 1\n;a 1\n;b 1\n;b;x 1\n",
		},
		{
			name: "fractional and empty stack",
			in:   "a 0.5\n 2\n",
			want: " 2.5\n;a 0.5\n",
		},
		{
			name: "invalid lines ignored",
			in:   "a 1\nnot a count\n\nb x\n",
			want: " 1\n;a 1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dump(treeFrom(tt.opts, tt.in))
			if got != tt.want {
				t.Errorf("tree of %q:\n%s\nwant:\n%s", tt.in, got, tt.want)
			}
		})
	}
}

// randomStacks makes stacks that share prefixes, with some wide nodes.
func randomStacks(r *rand.Rand, n int) []Stack {
	names := []string{"a", "b", "ab", "a b", "main", "x;", "-", "--", "f_[k]", "é", "\xff"}
	var out []Stack
	for range n {
		depth := 1 + r.IntN(8)
		var frames []string
		for d := range depth {
			if d == 1 && r.IntN(3) == 0 {
				// Wide: many children under one frame.
				frames = append(frames, fmt.Sprintf("w%d", r.IntN(40)))
				continue
			}
			name := names[r.IntN(len(names))]
			frames = append(frames, strings.ReplaceAll(name, ";", ":"))
		}
		out = append(out, Stack{Frames: frames, Value: float64(1 + r.IntN(100))})
	}
	return out
}

// TestTreeFoldedMatchesAdd checks the prefix reuse of AddFolded against
// Add, which looks every frame up.
func TestTreeFoldedMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, o := range []TreeOptions{{}, {Reverse: true}, {Flamechart: true}} {
		for round := range 20 {
			stacks := randomStacks(r, 300)
			if round%2 == 0 {
				// Sorted input shares the longest prefixes.
				sortStacks(stacks)
			}
			a, b := NewTree(o), NewTree(o)
			for _, s := range stacks {
				a.Add(s.Frames, s.Value)
				b.AddFolded([]byte(strings.Join(s.Frames, ";")), s.Value)
			}
			if da, db := dump(a), dump(b); da != db {
				t.Fatalf("%+v round %d: Add and AddFolded differ:\n%s\nvs\n%s", o, round, da, db)
			}
		}
	}
}

func sortStacks(s []Stack) {
	key := func(x Stack) string { return strings.Join(x.Frames, ";") }
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && key(s[j]) < key(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestTreeValues checks that every frame weighs its own time plus its
// children's, and the root the sum of all stacks.
func TestTreeValues(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	stacks := randomStacks(r, 2000)
	tr := NewTree(TreeOptions{})
	var total float64
	for _, s := range stacks {
		tr.Add(s.Frames, s.Value)
		total += s.Value
	}
	if tr.Total() != total {
		t.Fatalf("total %v, want %v", tr.Total(), total)
	}
	for n := range uint32(tr.Len()) {
		var sum float64
		for _, k := range tr.kids(nil, n) {
			sum += tr.nodes.at(k).value
		}
		if v := tr.nodes.at(n).value; sum > v {
			t.Fatalf("frame %d: children weigh %v, more than its %v", n, sum, v)
		}
	}
}

func TestTreeIgnoresBadValues(t *testing.T) {
	tr := NewTree(TreeOptions{})
	tr.Add([]string{"a"}, -1)
	tr.AddDiff([]string{"a"}, -1, 2)
	tr.Add([]string{"a"}, 2)
	if tr.Total() != 2 || tr.Len() != 2 {
		t.Fatalf("total %v len %d, want 2 2", tr.Total(), tr.Len())
	}
}
