package unwind_test

import (
	"debug/elf"
	"fmt"

	"github.com/emberprof/ember/unwind"
)

// Build a table for libc and look up the rule at the start of a function.
func Example_build() {
	f, err := elf.Open("/lib/x86_64-linux-gnu/libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	tab, err := unwind.Build(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	syms, _ := f.DynamicSymbols()
	for _, s := range syms {
		if s.Name == "qsort" {
			r, ok := tab.Lookup(s.Value)
			fmt.Println(ok, r.Kind&unwind.KindMask == unwind.KindRSP, r.CFAOffset)
		}
	}
	// Output: true true 8
}
