package flamegraph

import (
	"strings"
	"testing"
)

func TestParseFolded(t *testing.T) {
	tests := []struct {
		line   string
		ok     bool
		stack  string
		count  float64
		before float64
		diff   bool
	}{
		{line: "a;b;c 12\n", ok: true, stack: "a;b;c", count: 12},
		{line: "a;b;c 12", ok: true, stack: "a;b;c", count: 12},
		{line: "a;b;c 12\r\n", ok: true, stack: "a;b;c", count: 12},
		{line: "a b;c d 3", ok: true, stack: "a b;c d", count: 3},
		{line: "a;b\t7", ok: true, stack: "a;b", count: 7},
		{line: "a;b  7", ok: true, stack: "a;b ", count: 7}, // flamegraph.pl keeps all but one space
		{line: "a;b 1.5", ok: true, stack: "a;b", count: 1.5},
		{line: "a;b 2.", ok: true, stack: "a;b", count: 2},
		{line: "a;b 3 4", ok: true, stack: "a;b", count: 4, before: 3, diff: true},
		{line: "a;b 0 4.25", ok: true, stack: "a;b", count: 4.25, diff: true},
		{line: "a;b  3  4", ok: true, stack: "a;b  3 ", count: 4}, // "3 " does not end in a number: one count
		{line: " 5", ok: true, stack: "", count: 5},
		{line: "123456789012345678901234567890 1", ok: true, stack: "123456789012345678901234567890", count: 1},
		{line: "a 123456789012345678901234567890", ok: true, stack: "a", count: 123456789012345678901234567890},
		{line: "\xff\xfe;\x00 9", ok: true, stack: "\xff\xfe;\x00", count: 9},
		{line: "5", ok: false},
		{line: "", ok: false},
		{line: "\n", ok: false},
		{line: "a;b", ok: false},
		{line: "a;b x", ok: false},
		{line: "a;b .5", ok: false},
		{line: "a;b 1.2.3", ok: false},
		{line: "a;b -3", ok: false},
		{line: "a;b 1e3", ok: false},
		{line: "a;b 3 ", ok: false},
	}
	for _, tt := range tests {
		var l FoldedLine
		ok := parseFolded([]byte(tt.line), &l)
		if ok != tt.ok {
			t.Errorf("parseFolded(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if string(l.Stack) != tt.stack || l.Count != tt.count || l.Before != tt.before || l.Diff != tt.diff {
			t.Errorf("parseFolded(%q) = %q %v %v %v, want %q %v %v %v", tt.line, l.Stack, l.Count, l.Before, l.Diff, tt.stack, tt.count, tt.before, tt.diff)
		}
	}
}

func TestReadFolded(t *testing.T) {
	long := strings.Repeat("f;", readBufSize) + "g 3"
	in := "a;b 1\n\nbad line\nc 2\n" + long + "\nlast 4"
	var got []string
	var sum float64
	ignored, err := ReadFolded(strings.NewReader(in), func(l *FoldedLine) error {
		got = append(got, string(l.Stack[:min(len(l.Stack), 5)]))
		sum += l.Count
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ignored != 2 {
		t.Errorf("ignored = %d, want 2", ignored)
	}
	want := []string{"a;b", "c", "f;f;f", "last"}
	if strings.Join(got, ",") != strings.Join(want, ",") || sum != 10 {
		t.Errorf("stacks = %q sum %v, want %q sum 10", got, sum, want)
	}
}

func TestReadFoldedNoAllocs(t *testing.T) {
	in := strings.Repeat("main;run;work;leaf 12\nmain;run;other 3\n", 1000)
	r := strings.NewReader(in)
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(in)
		ReadFolded(r, func(*FoldedLine) error { return nil })
	})
	// The reader's buffer and closure only: nothing per line.
	if allocs > 5 {
		t.Errorf("ReadFolded allocated %v times for 2000 lines", allocs)
	}
}
