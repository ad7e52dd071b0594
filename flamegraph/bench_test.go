package flamegraph

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// deepFolded makes folded text like bench/flamegraphgen's: deep stacks of
// long names that share prefixes.
func deepFolded(lines int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	const nfuncs = 5000
	callees := make([][4]int, nfuncs)
	for i := range callees {
		for j := range callees[i] {
			callees[i][j] = r.IntN(nfuncs)
		}
	}
	var b bytes.Buffer
	for range lines {
		b.WriteString("comm")
		b.WriteString(strconv.Itoa(r.IntN(8)))
		f := r.IntN(8)
		for d := range 27 + r.IntN(30) {
			fmt.Fprintf(&b, ";github.com/acme/svc/pkg%d.(*T).Method%d", f%300, f)
			k := 0
			if x := r.IntN(100); x >= 80 && d >= 8 {
				k = 1 + x%3
			}
			f = callees[f][k]
		}
		fmt.Fprintf(&b, " %d\n", 1+r.IntN(200))
	}
	return b.Bytes()
}

// BenchmarkFlamegraph times folded text to SVG. Beside it, as a baseline,
// it times flamegraph.pl's line regexp alone (no merging, no drawing) in
// Go's regexp package on part of the input; the x-regexp metric is how many
// times faster the whole job is than that first step of flamegraph.pl's.
func BenchmarkFlamegraph(b *testing.B) {
	in := deepFolded(20000)
	re := regexp.MustCompile(`^(.*)\s+?(\d+(?:\.\d*)?)$`)
	lines := bytes.Split(in, []byte("\n"))[:200]
	var sample int
	for _, l := range lines {
		sample += len(l) + 1
	}
	start := time.Now()
	for _, l := range lines {
		re.FindSubmatch(l)
	}
	perByte := float64(time.Since(start).Nanoseconds()) / float64(sample)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		t := NewTree(TreeOptions{})
		if _, err := t.ReadFolded(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
		if err := t.WriteSVG(io.Discard, SVGOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	ours := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perByte*float64(len(in))/ours, "x-regexp")
}

// BenchmarkReadFolded times the reader alone.
func BenchmarkReadFolded(b *testing.B) {
	in := deepFolded(20000)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		ReadFolded(bytes.NewReader(in), func(*FoldedLine) error { return nil })
	}
}
