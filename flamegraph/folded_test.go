package flamegraph

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

var updateBCC = flag.Bool("update-bcc", false, "rewrite the BCC-format golden files in testdata/bcc")

// bccProfile builds, by hand, a profile shaped as symbolize builds them: kernel
// locations first (leaf first), then user ones; an inlined call; an unknown
// address; lost stacks; two threads of one process.
func bccProfile() *profile.Profile {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}}}
	kmap := &profile.Mapping{ID: 1, File: sample.KernelMapping, Start: 0xffffffff81000000, Limit: ^uint64(0)}
	umap := &profile.Mapping{ID: 2, File: "/usr/bin/app", Start: 0x400000, Limit: 0x500000}
	p.Mapping = []*profile.Mapping{kmap, umap}
	fn := func(name string) *profile.Function {
		f := &profile.Function{ID: uint64(len(p.Function) + 1), Name: name, SystemName: name}
		p.Function = append(p.Function, f)
		return f
	}
	loc := func(m *profile.Mapping, addr uint64, names ...string) *profile.Location {
		l := &profile.Location{ID: uint64(len(p.Location) + 1), Mapping: m, Address: addr}
		for _, n := range names {
			l.Line = append(l.Line, profile.Line{Function: fn(n)})
		}
		p.Location = append(p.Location, l)
		return l
	}
	kLeaf := loc(kmap, 0xffffffff81000010, "native_write_msr")
	kRoot := loc(kmap, 0xffffffff81000100, "do_syscall_64")
	// One address inside inlined code: innermost first.
	uLeaf := loc(umap, 0x401000, "inner_inlined", "compute")
	uMain := loc(umap, 0x402000, "main")
	unknown := loc(umap, 0x4ff000)
	missedK := loc(nil, 0, sample.MissedKernel)
	missedU := loc(nil, 0, sample.MissedUser)
	smp := func(comm string, pid, tid, n int64, locs ...*profile.Location) {
		p.Sample = append(p.Sample, &profile.Sample{
			Location: locs,
			Value:    []int64{n, n * 20408163},
			Label:    map[string][]string{sample.LabelComm: {comm}},
			NumLabel: map[string][]int64{sample.LabelPID: {pid}, sample.LabelTID: {tid}},
		})
	}
	smp("app", 100, 100, 5, uLeaf, uMain)
	smp("app", 100, 101, 2, uLeaf, uMain) // same stack, other thread: merged
	smp("app", 100, 100, 3, kLeaf, kRoot, uLeaf, uMain)
	smp("app", 100, 100, 1, unknown, uMain)
	smp("kworker/0:1", 7, 7, 4, kLeaf, kRoot) // kernel thread: no user stack
	smp("app", 100, 100, 1, missedK, uMain)
	smp("app", 100, 100, 1, kLeaf, missedU)
	return p
}

func TestFoldAndTextGolden(t *testing.T) {
	tests := []struct {
		name string
		text bool
		o    FoldOptions
	}{
		{name: "folded", o: FoldOptions{}},
		{name: "folded-a-d", o: FoldOptions{Annotate: true, Delimit: true}},
		{name: "folded-us", o: FoldOptions{SampleIndex: 1, Divisor: 1000}},
		{name: "text", text: true},
		{name: "text-a-d", text: true, o: FoldOptions{Annotate: true, Delimit: true}},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		p := bccProfile()
		if tt.text {
			if err := WriteText(&buf, p, TextOptions{FoldOptions: tt.o, IDLabel: sample.LabelPID}); err != nil {
				t.Fatal(err)
			}
		} else {
			stacks, err := Fold(p, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteFolded(&buf, stacks); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join("testdata", "bcc", tt.name+".golden")
		if *updateBCC {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update-bcc)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.name, buf.Bytes(), want)
		}
	}
}

func TestFoldTotalsMatchProfile(t *testing.T) {
	p := bccProfile()
	stacks, err := Fold(p, FoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want, got float64
	for _, s := range p.Sample {
		want += float64(s.Value[0])
	}
	for _, s := range stacks {
		got += s.Value
	}
	if got != want {
		t.Errorf("folded total %v, profile total %v", got, want)
	}
	if _, err := Fold(p, FoldOptions{SampleIndex: 5}); err == nil {
		t.Error("bad sample index: no error")
	}
}
