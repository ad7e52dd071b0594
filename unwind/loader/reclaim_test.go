package loader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/unwind"
)

// newMaps creates the walker's maps as bpf/include/unwind.h declares them,
// with rows rows.
func newMaps(t *testing.T, rows uint32) Maps {
	t.Helper()
	bpftest.Require(t)
	specs := []*ebpf.MapSpec{
		{Name: "rows", Type: ebpf.Array, KeySize: 4, ValueSize: unwind.RowSize, MaxEntries: rows, Flags: 1 << 10 /* BPF_F_MMAPABLE */},
		{Name: "files", Type: ebpf.Array, KeySize: 4, ValueSize: fileSize, MaxEntries: 64},
		{Name: "procs", Type: ebpf.LPMTrie, KeySize: keySize, ValueSize: valueSize, MaxEntries: 4096, Flags: 1 /* BPF_F_NO_PREALLOC */},
		{Name: "requests", Type: ebpf.RingBuf, MaxEntries: 4096},
	}
	ms := make([]*ebpf.Map, len(specs))
	for i, s := range specs {
		m, err := ebpf.NewMap(s)
		if err != nil {
			t.Fatalf("create map %s: %v", s.Name, err)
		}
		t.Cleanup(func() { m.Close() })
		ms[i] = m
	}
	return Maps{Rows: ms[0], Files: ms[1], Procs: ms[2], Requests: ms[3]}
}

// start runs a program that waits, and returns its pid once it waits, and a
// function that ends it.
func start(t *testing.T, name string, args ...string) (uint32, func()) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Skipf("%s: %v", name, err)
	}
	end := func() { cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(end)
	// Loaded before the dynamic loader has mapped libc, it would be
	// loaded again later with one more table.
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(stat)
		if i := bytes.LastIndexByte(b, ')'); i > 0 && bytes.HasPrefix(b[i:], []byte(") S")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never went to sleep: %s", name, b)
		}
	}
	return uint32(cmd.Process.Pid), end
}

// TestReclaim: once no process maps a binary, its rows go back to the row
// array and its slot in unwind_files is emptied, so that the next binaries
// reuse them; a binary still mapped keeps its table.
func TestReclaim(t *testing.T) {
	m := newMaps(t, 1<<18)
	l, err := Start(m, Options{SweepEvery: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.keep = 0

	// Two processes of one program share its tables.
	a, endA := start(t, "sleep", "60")
	b, endB := start(t, "sleep", "61")
	for _, pid := range []uint32{a, b} {
		if err := l.Load(pid); err != nil {
			t.Fatal(err)
		}
	}
	first := l.Info()
	if first.Files < 2 || first.Rows == 0 {
		t.Fatalf("after loading sleep: %+v, want its and libc's tables", first)
	}
	// The vdso is known to have no table, so the walker does not ask.
	maps, err := readMaps("/proc", a)
	if err != nil {
		t.Fatal(err)
	}
	vdso := slices.IndexFunc(maps, func(m mapping) bool { return m.path == "[vdso]" })
	if vdso < 0 {
		t.Fatalf("no [vdso] in %+v", maps)
	}
	var got lpmValue
	k := makeKey(a, maps[vdso].start+1, 96)
	if err := m.Procs.Lookup(k[:], got[:]); err != nil || got != makeValue(maps[vdso].start, maps[vdso].end, 0, fileNone, 0) {
		t.Errorf("the vdso's entry: %x %v, want no table", got, err)
	}
	same := first
	same.Loads++
	same.Unchanged++
	if err := l.Load(a); err != nil || l.Info() != same {
		t.Errorf("loaded again unchanged: %+v %v, want %+v", l.Info(), err, same)
	}
	endA()
	l.sweep()
	if i := l.Info(); i.Rows != first.Rows || i.Reclaimed != 0 {
		t.Fatalf("one of two sleeps gone: %+v, want every table kept (was %+v)", i, first)
	}
	endB()
	l.sweep()
	gone := l.Info()
	if gone.Rows != 0 || gone.Files != 0 || gone.Reclaimed != first.Files {
		t.Fatalf("no process left: %+v, want every row back (had %+v)", gone, first)
	}
	var v [fileSize]byte
	for id := uint32(0); id < uint32(first.Files); id++ {
		if err := m.Files.Lookup(id, v[:]); err != nil || binary.NativeEndian.Uint32(v[4:]) != 0 {
			t.Errorf("unwind_files[%d] = %x %v, want an empty table", id, v, err)
		}
	}

	// The next program's tables take the rows and slots given back.
	c, _ := start(t, "tail", "-f", "/dev/null")
	if err := l.Load(c); err != nil {
		t.Fatal(err)
	}
	again := l.Info()
	if again.Files < 2 || again.Rows == 0 || l.rows.top != again.Rows || l.nextFile > uint32(max(first.Files, again.Files)) {
		t.Errorf("after tail: %+v, row space top %d, next slot %d: want rows and slots reused from 0", again, l.rows.top, l.nextFile)
	}
}

// TestPreload: the tables of Options.Files are built before any process
// maps them, and FirstLoaded waits for them; unmapped, they are kept for a
// while, then given back like any other.
func TestPreload(t *testing.T) {
	m := newMaps(t, 1<<18)
	l, err := Start(m, Options{SweepEvery: 1 << 40, Files: []string{"/bin/sleep", "/bin/tail"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	select {
	case <-l.FirstLoaded():
	case <-time.After(10 * time.Second):
		t.Fatal("FirstLoaded not closed after 10 s")
	}
	i := l.Info()
	if i.Files != 2 || i.Rows == 0 {
		t.Fatalf("after preloading sleep and tail: %+v", i)
	}
	l.sweep()
	if got := l.Info(); got.Files != 2 {
		t.Errorf("preloaded tables given back at once: %+v", got)
	}
	l.mu.Lock()
	l.keep = 0
	l.mu.Unlock()
	l.sweep()
	if got := l.Info(); got.Files != 0 || got.Rows != 0 || got.Reclaimed != 2 {
		t.Errorf("unmapped past keepUnmapped: %+v, want both given back", got)
	}
}
