package unwind

import (
	"debug/elf"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// delveBaseline is the named baseline: reading .eh_frame, delve's Parse
// and sorting its FDEs, the least any delve-based builder does.
func delveBaseline(b *testing.B, f *elf.File) {
	data, err := sectionData(f.Section(".eh_frame"))
	if err != nil {
		b.Fatal(err)
	}
	fdes, err := parse(data, f.Section(".eh_frame").Addr)
	if err != nil {
		b.Fatal(err)
	}
	sort.SliceStable(fdes, func(i, j int) bool { return fdes[i].Begin() < fdes[j].Begin() })
}

// BenchmarkBuild reports the build time of whole tables, their rows and
// bytes, and the ratio to the delve baseline measured in the same run.
func BenchmarkBuild(b *testing.B) {
	for _, p := range []string{libcPath, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/bin/python3.11"} {
		b.Run(filepath.Base(p), func(b *testing.B) {
			f := openELF(b, p)
			// Best of 7 for both, back to back, so a busy machine skews
			// the ratio less than it skews ns/op.
			base, ours := time.Duration(1<<62), time.Duration(1<<62)
			for range 7 {
				t0 := time.Now()
				delveBaseline(b, f)
				base = min(base, time.Since(t0))
				t0 = time.Now()
				if _, err := Build(f); err != nil {
					b.Fatal(err)
				}
				ours = min(ours, time.Since(t0))
			}
			var tab *Table
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var err error
				if tab, err = Build(f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(tab.Rows)), "rows")
			b.ReportMetric(float64(tab.Size()), "table-B")
			b.ReportMetric(float64(base.Microseconds()), "delve-parse+sort-µs")
			b.ReportMetric(float64(ours.Microseconds()), "best-build-µs")
			b.ReportMetric(float64(ours)/float64(base), "x-delve-parse+sort")
			if testing.Verbose() {
				fmt.Printf("%s: best build %v, baseline (delve Parse + sort) %v, %d rows, %d B\n", filepath.Base(p), ours, base, len(tab.Rows), tab.Size())
			}
		})
	}
}
