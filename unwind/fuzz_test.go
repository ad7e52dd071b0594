package unwind

import (
	"testing"
)

// FuzzBuild feeds arbitrary bytes to the parser and the row generator as
// an .eh_frame (mapped at 0x2000) or a .debug_frame section: errors are
// fine, panics are not, and rows stay bounded by the input.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, data []byte, debugFrame bool) {
		eh := uint64(0x2000)
		if debugFrame {
			eh = 0
		}
		tab, err := buildSection(data, eh)
		if err != nil {
			return
		}
		// Each row needs an advance of at least one byte of CFI, plus one
		// terminator per FDE.
		if len(tab.Rows) > 2*len(data)+1 {
			t.Fatalf("%d rows from %d bytes", len(tab.Rows), len(data))
		}
		for i := 1; i < len(tab.Rows); i++ {
			if tab.Rows[i-1].PC >= tab.Rows[i].PC {
				t.Fatalf("rows %d and %d out of order: %#x, %#x", i-1, i, tab.Rows[i-1].PC, tab.Rows[i].PC)
			}
		}
	})
}
