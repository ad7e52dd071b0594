package symbolize

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/sample"
)

const mapsSample = `55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234   /usr/bin/app
55d0c0a02000-55d0c0a08000 r-xp 00002000 fd:01 1234   /usr/bin/app
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7f1000000000-7f1000100000 r-xp 00028000 fd:01 99     /usr/lib/libc.so.6 (deleted)
7f2000000000-7f2000001000 r-xp 00000000 00:00 0      [vdso]
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]
`

func TestParseMaps(t *testing.T) {
	maps, err := ParseMaps(strings.NewReader(mapsSample))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range maps {
		got = append(got, m.Path)
	}
	want := []string{"/usr/bin/app", "/usr/lib/libc.so.6", "[vdso]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	if m := maps[1]; m.Start != 0x7f1000000000 || m.Limit != 0x7f1000100000 || m.Offset != 0x28000 || !m.Deleted || m.Inode != 99 {
		t.Errorf("libc mapping %+v", m)
	}
	p := &Process{Mappings: maps}
	for _, tt := range []struct {
		addr uint64
		want string
	}{
		{0x55d0c0a02000, "/usr/bin/app"},
		{0x55d0c0a07fff, "/usr/bin/app"},
		{0x55d0c0a08000, ""},
		{0x7f10000000ff, "/usr/lib/libc.so.6"},
		{0x1, ""},
	} {
		m := p.Find(tt.addr)
		got := ""
		if m != nil {
			got = m.Path
		}
		if got != tt.want {
			t.Errorf("Find(%#x) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestParseMapsErrors(t *testing.T) {
	for _, in := range []string{
		"zz-10 r-xp 0 fd:01 1 /x\n",
		"10-zz r-xp 0 fd:01 1 /x\n",
		"20-10 r-xp 0 fd:01 1 /x\n",
		"10-20 r-xp\n",
		"10-20 r-xp qq fd:01 1 /x\n",
	} {
		if _, err := ParseMaps(strings.NewReader(in)); err == nil {
			t.Errorf("ParseMaps(%q): no error", in)
		}
	}
}

// TestProfileLiveProcess symbolizes PCs of a running test program through its
// live mappings (PIE, so runtime and file addresses differ), the path every
// user frame takes, and again after the program exited.
func TestProfileLiveProcess(t *testing.T) {
	const bin = "../testdata/spin/spin"
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%v (run make -C testdata)", err)
	}
	syms, err := ef.Symbols()
	ef.Close()
	if err != nil {
		t.Fatal(err)
	}
	var spinC, spinA uint64
	for _, s := range syms {
		switch s.Name {
		case "spin_c":
			spinC = s.Value
		case "spin_a":
			spinA = s.Value
		}
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := uint32(cmd.Process.Pid)
	s := New(Config{})
	defer s.Close()
	// The loader may not have mapped the program yet: wait for it.
	var base uint64
	for i := 0; i < 100 && base == 0; i++ {
		if err := s.Capture(pid); err != nil {
			t.Fatal(err)
		}
		for _, m := range s.procs[pid].Mappings {
			if strings.HasSuffix(m.Path, "/spin") {
				// The text mapping starts at its file offset's vaddr.
				base = m.Start - m.Offset
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if base == 0 {
		t.Fatalf("spin never mapped: %+v", s.procs[pid].Mappings)
	}
	// Symbolize after the process is gone: the capture must be enough.
	cmd.Process.Kill()
	cmd.Wait()

	recs := []sample.Record{{
		TGID: pid, TID: pid, Comm: "spin", Count: 3, Nanos: 3000,
		Kernel: sample.Stack{State: sample.StackAbsent},
		// Leaf inside spin_c, then a return address inside spin_a, then an
		// address no mapping covers.
		User: sample.Stack{PCs: []uint64{base + spinC + 4, base + spinA + 8, 0x10}, State: sample.StackOK},
	}}
	p, err := s.Profile(recs, ProfileOptions{Period: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sample) != 1 || len(p.Sample[0].Location) != 3 {
		t.Fatalf("profile %v", p)
	}
	for i, want := range []string{"spin_c", "spin_a"} {
		l := p.Sample[0].Location[i]
		if len(l.Line) == 0 || l.Line[len(l.Line)-1].Function.Name != want {
			t.Errorf("location %d: %+v, want %s", i, l.Line, want)
		}
		if l.Mapping == nil || !strings.HasSuffix(l.Mapping.File, "/spin") || l.Mapping.BuildID == "" {
			t.Errorf("location %d mapping %+v", i, l.Mapping)
		}
	}
	if unmapped := p.Sample[0].Location[2]; unmapped.Mapping != nil || len(unmapped.Line) != 0 {
		t.Errorf("address 0x10 should be unmapped and unknown: %+v", unmapped)
	}
	if v := p.Sample[0].NumLabel[sample.LabelPID]; len(v) != 1 || v[0] != int64(pid) {
		t.Errorf("pid label %v", v)
	}
}

func TestProfileMissedMarkers(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	recs := []sample.Record{{TGID: 1, Comm: "x", Count: 1,
		Kernel: sample.Stack{State: sample.StackMissed}, User: sample.Stack{State: sample.StackMissed}}}
	p, err := s.Profile(recs, ProfileOptions{Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range p.Sample[0].Location {
		names = append(names, l.Line[0].Function.Name)
	}
	if want := []string{sample.MissedKernel, sample.MissedUser}; !reflect.DeepEqual(names, want) {
		t.Errorf("markers %q, want %q", names, want)
	}
}

// TestProfileJITPerfMap names an address in no file mapping from the
// process's /tmp/perf-PID.map, written after the capture as a JIT would.
func TestProfileJITPerfMap(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := uint32(cmd.Process.Pid)
	path := fmt.Sprintf("/tmp/perf-%d.map", pid)
	if err := os.WriteFile(path, []byte("7000000 100 LazyCompile:*hot app.js:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	s := New(Config{})
	defer s.Close()
	if err := s.Capture(pid); err != nil {
		t.Fatal(err)
	}
	// The JIT keeps appending after the capture.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "7000100 80 LazyCompile:*later app.js:9")
	f.Close()
	recs := []sample.Record{{TGID: pid, TID: pid, Comm: "node", Count: 1,
		Kernel: sample.Stack{State: sample.StackAbsent},
		User:   sample.Stack{PCs: []uint64{0x7000010, 0x7000120, 0x9000000}, State: sample.StackOK}}}
	p, err := s.Profile(recs, ProfileOptions{Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range p.Sample[0].Location {
		n := ""
		if len(l.Line) > 0 {
			n = l.Line[0].Function.Name
		}
		names = append(names, n)
	}
	if want := []string{"LazyCompile:*hot app.js:1", "LazyCompile:*later app.js:9", ""}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
}

// spinSymbol returns the address of a function in the spin test program.
func spinSymbol(t *testing.T, name string) uint64 {
	t.Helper()
	ef, err := elf.Open("../testdata/spin/spin")
	if err != nil {
		t.Fatalf("%v (run make -C testdata)", err)
	}
	defer ef.Close()
	syms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("spin has no symbol %s", name)
	return 0
}

// symbolizeSpinLeaf captures pid, which runs a copy of spin whose path ends in
// suffix, and returns the name of the function at spin_c+4.
func symbolizeSpinLeaf(t *testing.T, pid uint32, suffix string) string {
	t.Helper()
	s := New(Config{})
	defer s.Close()
	var base uint64
	for i := 0; i < 200 && base == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		if err := s.Capture(pid); err != nil {
			t.Fatal(err)
		}
		for _, m := range s.procs[pid].Mappings {
			if strings.HasSuffix(m.Path, suffix) {
				base = m.Start - m.Offset
			}
		}
	}
	if base == 0 {
		t.Fatalf("no mapping ending in %s: %+v", suffix, s.procs[pid].Mappings)
	}
	recs := []sample.Record{{TGID: pid, TID: pid, Comm: "spin", Count: 1,
		Kernel: sample.Stack{State: sample.StackAbsent},
		User:   sample.Stack{PCs: []uint64{base + spinSymbol(t, "spin_c") + 4}, State: sample.StackOK}}}
	p, err := s.Profile(recs, ProfileOptions{Period: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Sample[0].Location[0]
	if len(l.Line) == 0 {
		return ""
	}
	return l.Line[len(l.Line)-1].Function.Name
}

// TestDeletedBinary symbolizes a process whose binary was deleted (and
// replaced) while it ran, as after a package upgrade.
func TestDeletedBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "spin")
	data, err := os.ReadFile("../testdata/spin/spin")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(50 * time.Millisecond)
	os.Remove(bin)
	os.WriteFile(bin, []byte("not an ELF file any more"), 0o755)
	if got := symbolizeSpinLeaf(t, uint32(cmd.Process.Pid), "/spin"); got != "spin_c" {
		t.Errorf("deleted binary: got %q, want spin_c", got)
	}
}

// TestOtherMountNamespace symbolizes a process running a binary that exists
// only in its own mount namespace, as in a container.
func TestOtherMountNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare -m")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare command")
	}
	spin, err := filepath.Abs("../testdata/spin/spin")
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	// Inside the new namespace, a tmpfs hides mnt, so the host never sees
	// the copy that runs.
	script := fmt.Sprintf("mount -t tmpfs none %[1]s && cp %[2]s %[1]s/nsspin && exec %[1]s/nsspin 30", mnt, spin)
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if _, err := os.Stat(filepath.Join(mnt, "nsspin")); err == nil {
		t.Fatal("the namespace's tmpfs leaked to the host")
	}
	if got := symbolizeSpinLeaf(t, uint32(cmd.Process.Pid), "/nsspin"); got != "spin_c" {
		t.Errorf("other mount namespace: got %q, want spin_c", got)
	}
}
