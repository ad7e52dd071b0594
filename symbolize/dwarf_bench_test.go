package symbolize

import (
	"testing"
)

// BenchmarkFrames looks up every address of the C++ fixture's code, warm:
// the per-lookup cost once units are parsed. Baseline: BenchmarkSymtab.
func BenchmarkFrames(b *testing.B) {
	path := fixture(b, "cpp")
	bin, err := OpenBinary(path)
	if err != nil {
		b.Fatal(err)
	}
	defer bin.Close()
	addrs := benchAddrs(b, path)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bin.Frames(addrs[i%len(addrs)])
	}
}

// BenchmarkSymtab is the symbol-table-only lookup, the floor for Frames.
func BenchmarkSymtab(b *testing.B) {
	path := fixture(b, "cpp")
	bin, err := OpenBinary(path)
	if err != nil {
		b.Fatal(err)
	}
	defer bin.Close()
	addrs := benchAddrs(b, path)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bin.syms.lookup(addrs[i%len(addrs)])
	}
}

// BenchmarkFirstLookup opens the C++ fixture and looks up one address: the
// cost of loading DWARF and parsing one unit.
func BenchmarkFirstLookup(b *testing.B) {
	path := fixture(b, "cpp")
	addr := symAddr(b, path, "_Z5wordsi")
	for i := 0; i < b.N; i++ {
		bin, err := OpenBinary(path)
		if err != nil {
			b.Fatal(err)
		}
		bin.Frames(addr)
		bin.Close()
	}
}

func benchAddrs(b *testing.B, path string) []uint64 { return textAddrsTB(b, path, 5000) }
