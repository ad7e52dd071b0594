package web

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/google/pprof/profile"
)

// synthetic returns a profile of n distinct stacks shaped like a real
// program's: each stack continues a prefix of an earlier one with one to
// four new frames, so the tree branches at every depth (about 2.5 new frames
// per stack), in a few processes.
func synthetic(n int) *profile.Profile {
	rng := rand.New(rand.NewPCG(1, 2))
	b := newBuilder()
	stacks := make([][]string, 0, n)
	seen := map[string]bool{}
	for len(stacks) < n {
		var s []string
		if len(stacks) == 0 || rng.IntN(50) == 0 {
			s = []string{"main"}
		} else {
			p := stacks[rng.IntN(len(stacks))]
			s = append(s, p[:1+rng.IntN(len(p))]...)
		}
		for range 1 + rng.IntN(4) {
			s = append(s, fmt.Sprintf("pkg%d.func%d", rng.IntN(50), rng.IntN(100)))
		}
		k := strings.Join(s, ";")
		if seen[k] || len(s) > 60 {
			continue
		}
		seen[k] = true
		stacks = append(stacks, s)
		pid := int64(1 + rng.IntN(8))
		b.add(fmt.Sprintf("proc%d", pid), pid, 1+int64(rng.IntN(100)), s...)
	}
	return b.p
}

// BenchmarkTreeJSON measures building and encoding the page's tree for 10k
// and 100k distinct stacks, against writing the same profile as folded
// text (flamegraph.Fold and WriteFolded, what -f output costs) in the same
// run: ratio_vs_folded is the tree's time over that baseline's.
func BenchmarkTreeJSON(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		p := synthetic(n)
		b.Run(fmt.Sprintf("stacks=%dk", n/1000), func(b *testing.B) {
			size := 0
			for b.Loop() {
				out, err := TreeJSON(p, nil, "", Filter{})
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			tree := b.Elapsed() / time.Duration(b.N)
			start := time.Now()
			const rounds = 3
			for range rounds {
				stacks, err := flamegraph.Fold(p, flamegraph.FoldOptions{SampleIndex: 1})
				if err != nil {
					b.Fatal(err)
				}
				flamegraph.WriteFolded(io.Discard, stacks)
			}
			folded := time.Since(start) / rounds
			b.ReportMetric(float64(size)/1e6, "MB")
			b.ReportMetric(float64(tree)/float64(folded), "ratio_vs_folded")
		})
	}
}

// BenchmarkBrowserFirstDraw measures, in headless Chromium and Firefox, the
// time from the request for the tree to the first frame drawn (fetch,
// JSON.parse, layout and canvas drawing; ms_first_draw) and from the
// navigation (ms_from_navigation: the page, the process list and the tree)
// for 10k and 100k stacks, against fetching and parsing the same JSON
// alone, which the server then has cached (ratio_vs_fetch). Firefox's
// ms_first_draw is also given over Chromium's in the same run
// (ratio_vs_chromium).
func BenchmarkBrowserFirstDraw(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		p := synthetic(n)
		chromiumMs := 0.0
		for _, br := range browsers {
			b.Run(fmt.Sprintf("stacks=%dk/%s", n/1000, br.name), func(b *testing.B) {
				// A server of its own: the tree it builds on the first
				// request is cached, and the second browser must not
				// find it built.
				s := New()
				s.Add("synthetic", p)
				srv := httptest.NewServer(s)
				defer srv.Close()
				d := br.start(b)
				var load, nav, fetchOnly, drawn float64
				for b.Loop() {
					if err := d.navigate(srv.URL + "/"); err != nil {
						b.Fatal(err)
					}
					waitDraws(b, d, 0)
					load += eval[float64](b, d, `window.__ember.loadMs`)
					nav += eval[float64](b, d, `window.__ember.firstDrawAt`)
					drawn = eval[float64](b, d, `window.__ember.drawn`)
					fetchOnly += eval[float64](b, d, `(async () => { const t = performance.now(); const r = await fetch("api/tree?p=0"); await r.json(); return performance.now() - t })()`)
				}
				ms := load / float64(b.N)
				b.ReportMetric(ms, "ms_first_draw")
				b.ReportMetric(nav/float64(b.N), "ms_from_navigation")
				b.ReportMetric(load/fetchOnly, "ratio_vs_fetch")
				b.ReportMetric(drawn, "frames_drawn")
				if br.name == "chromium" {
					chromiumMs = ms
				} else if chromiumMs > 0 {
					b.ReportMetric(ms/chromiumMs, "ratio_vs_chromium")
				}
			})
		}
	}
}
