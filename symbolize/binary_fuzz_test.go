package symbolize

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// FuzzNewBinary feeds corrupt ELF images (seeds in
// testdata/fuzz/FuzzNewBinary: the C fixture plain, with zstd sections and
// with MiniDebugInfo) through parsing and lookups, DWARF included: each must
// give an error or an answer, never a panic or a hang.
func FuzzNewBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang shows as a stack trace, not as a silent stall.
		watchdog := time.AfterFunc(10*time.Second, func() {
			debug.SetTraceback("all")
			panic("input took over 10 s")
		})
		defer watchdog.Stop()
		b, err := NewBinary(bytes.NewReader(data), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "open fuzz: ") && !strings.HasPrefix(err.Error(), "read symbols of fuzz: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		defer b.Close()
		b.BuildID()
		b.AddrForOffset(0x1000)
		addrs := []uint64{0, 0x1000, 0x1141, 0x401000}
		for i, s := range b.syms.syms {
			if i >= 64 {
				break
			}
			addrs = append(addrs, s.addr, s.addr+3)
		}
		for _, a := range addrs {
			b.Frames(a)
		}
		if b.dwarf != nil {
			for i, r := range b.dwarf.index {
				if i >= 64 {
					break
				}
				b.Frames(r.lo)
				b.Frames(r.lo + (r.hi-r.lo)/2)
			}
		}
	})
}

// FuzzPerfMap checks the perf-map reader on arbitrary text.
func FuzzPerfMap(f *testing.F) {
	f.Add("7f0000001000 40 LazyCompile:~fib /app/fib.js:3\n0x10 0x20 x\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParsePerfMap(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, e := range m.entries {
			if name, ok := m.Lookup(e.start); !ok || name == "" {
				t.Fatalf("Lookup(%#x) found nothing for an entry", e.start)
			}
		}
	})
}
