package symbolize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPerfMap(t *testing.T) {
	const text = `7f0000001000 40 LazyCompile:~fib /app/fib.js:3
7f0000001040 20 Builtin:ArgumentsAdaptorTrampoline
0x7f0000002000 0x100 java.lang.String::hashCode
7f0000002080 10 replaced later
7f0000003000 10
zzzz 10 bad start
7f0000004000 0 empty
7f0000005000 8 cut short at the end`
	m, err := ParsePerfMap(strings.NewReader(text + "\n7f00000060"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 5 || m.Skipped() != 4 {
		t.Errorf("Len, Skipped = %d, %d; want 5, 4", m.Len(), m.Skipped())
	}
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{0x7f0000000fff, ""},
		{0x7f0000001000, "LazyCompile:~fib /app/fib.js:3"},
		{0x7f000000103f, "LazyCompile:~fib /app/fib.js:3"},
		{0x7f0000001040, "Builtin:ArgumentsAdaptorTrampoline"},
		{0x7f0000001060, ""},
		{0x7f0000002010, "java.lang.String::hashCode"},
		{0x7f0000002085, "replaced later"}, // the later line wins
		{0x7f00000020ff, "java.lang.String::hashCode"},
		{0x7f0000003000, ""},
		{0x7f0000005007, "cut short at the end"},
	} {
		got, _ := m.Lookup(tc.addr)
		if got != tc.want {
			t.Errorf("Lookup(%#x) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestOpenPerfMap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "perf-42.map")
	os.WriteFile(p, []byte("1000 10 f\n"), 0o644)
	m, err := OpenPerfMap(p)
	if err != nil || m.Len() != 1 {
		t.Fatalf("OpenPerfMap = %v, %v", m, err)
	}
	if _, err := OpenPerfMap(p + ".missing"); err == nil || !strings.Contains(err.Error(), p+".missing") {
		t.Errorf("OpenPerfMap(missing) error %v does not name the path", err)
	}
}
