package process

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const mapsSample = `55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234   /usr/bin/app
55d0c0a02000-55d0c0a08000 r-xp 00002000 fd:01 1234   /usr/bin/app
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7f1000000000-7f1000100000 r-xp 00028000 103:1a 99     /usr/lib/lib c.so.6 (deleted)
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
	if want := []string{"/usr/bin/app", "/usr/lib/lib c.so.6", "[vdso]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("paths %q, want %q", got, want)
	}
	want := Mapping{Start: 0x7f1000000000, Limit: 0x7f1000100000, Offset: 0x28000, Perms: "r-xp",
		Dev: unix.Mkdev(0x103, 0x1a), Inode: 99, Path: "/usr/lib/lib c.so.6", Deleted: true}
	if *maps[1] != want {
		t.Errorf("libc mapping %+v, want %+v", *maps[1], want)
	}
	if !maps[0].IsFile() || maps[2].IsFile() {
		t.Errorf("IsFile: app %v, vdso %v", maps[0].IsFile(), maps[2].IsFile())
	}
	if off := maps[0].FileOffset(0x55d0c0a02010); off != 0x2010 {
		t.Errorf("FileOffset = %#x, want 0x2010", off)
	}
	for _, tt := range []struct {
		addr uint64
		want string
	}{
		{0x55d0c0a02000, "/usr/bin/app"},
		{0x55d0c0a07fff, "/usr/bin/app"},
		{0x55d0c0a08000, ""},
		{0x7f10000000ff, "/usr/lib/lib c.so.6"},
		{0x1, ""},
	} {
		got := ""
		if m := Find(maps, tt.addr); m != nil {
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
		"10-20 r-xp 0 fd:01 qq /x\n",
		"10-20 r-xp 0 fd:01 1 /" + strings.Repeat("x", 2<<20) + "\n", // a line past the scanner's bound
	} {
		if _, err := ParseMaps(strings.NewReader(in)); err == nil {
			t.Errorf("ParseMaps(%.40q): no error", in)
		}
	}
}

// startSpin runs the spin test program (PIE, so runtime and file addresses
// differ) from path and waits until it and its C library are mapped.
func startSpin(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(path, "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v (run make -C testdata)", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 200; i++ {
		maps, err := ReadMaps("", uint32(cmd.Process.Pid))
		if err == nil {
			self, libc := false, false
			for _, m := range maps {
				self = self || m.Path == path
				libc = libc || strings.Contains(m.Path, "/libc")
			}
			if self && libc {
				return cmd
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never mapped", path)
	return nil
}

func fdCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestCaptureBias captures a live PIE process and checks that the bias of
// each mapping agrees with the PT_LOAD translation of its file offsets, and
// puts the program's own function where the symbol table says.
func TestCaptureBias(t *testing.T) {
	spin, err := filepath.Abs("../../testdata/spin/spin")
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(spin)
	if err != nil {
		t.Fatalf("%v (run make -C testdata)", err)
	}
	syms, _ := ef.Symbols()
	ef.Close()
	var spinC uint64
	for _, s := range syms {
		if s.Name == "spin_c" {
			spinC = s.Value
		}
	}
	cmd := startSpin(t, spin)
	set := NewFiles()
	defer set.Close()
	p, err := Capture("", uint32(cmd.Process.Pid), set)
	if err != nil {
		t.Fatal(err)
	}
	if p.StartTime == 0 || p.Exited() {
		t.Errorf("live process: start time %d, exited %v", p.StartTime, p.Exited())
	}
	checked, found := 0, false
	for _, m := range p.Mappings {
		if !m.IsFile() {
			continue
		}
		f, err := p.File(m)
		if err != nil {
			t.Errorf("%s: %v", m.Path, err)
			continue
		}
		bias, err := p.Bias(m)
		if err != nil {
			t.Errorf("%s: %v", m.Path, err)
			continue
		}
		loads, _ := f.Loads()
		for _, pc := range []uint64{m.Start, (m.Start + m.Limit) / 2, m.Limit - 1} {
			if v, ok := loads.Vaddr(m.FileOffset(pc)); ok && v != pc-bias {
				t.Errorf("%s: %#x: Vaddr %#x, pc - bias %#x", m.Path, pc, v, pc-bias)
			}
		}
		checked++
		if m.Path == spin {
			found = true
			if pc := spinC + bias; pc < m.Start || pc >= m.Limit {
				t.Errorf("spin_c at %#x (bias %#x) is outside the text mapping %#x-%#x", pc, bias, m.Start, m.Limit)
			}
			if bias == 0 {
				t.Errorf("PIE spin loaded with bias 0")
			}
		}
	}
	if !found || checked < 2 {
		t.Errorf("checked %d file mappings, spin among them %v", checked, found)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !p.Exited() {
		t.Errorf("Exited() = false for a reaped process")
	}
}

// TestFilesShared checks that two snapshots share one descriptor per file,
// that the files stay readable until the last snapshot is released, and
// that then every descriptor is closed.
func TestFilesShared(t *testing.T) {
	spin, _ := filepath.Abs("../../testdata/spin/spin")
	set := NewFiles()
	defer set.Close()
	a := startSpin(t, spin)
	b := startSpin(t, spin)
	// Counted after the start: a started process holds a pidfd.
	before := fdCount(t)
	pa, err := Capture("", uint32(a.Process.Pid), set)
	if err != nil {
		t.Fatal(err)
	}
	n := set.Len()
	pb, err := Capture("", uint32(b.Process.Pid), set)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != n || n < 2 {
		t.Errorf("two processes of one program hold %d files, one %d", set.Len(), n)
	}
	if got := fdCount(t) - before; got != n {
		t.Errorf("%d descriptors open for %d files", got, n)
	}
	var spinFile *File
	for _, m := range pa.Mappings {
		if m.Path == spin {
			spinFile, _ = pa.File(m)
		}
	}
	if spinFile == nil {
		t.Fatal("no file for spin")
	}
	if closed := pa.Release(); len(closed) != 0 {
		t.Errorf("releasing one of two processes closed %v", closed)
	}
	r, err := spinFile.Reopen()
	if err != nil {
		t.Fatalf("Reopen while held: %v", err)
	}
	if id, _ := Identify(r); id != spinFile.ID {
		t.Errorf("reopened identity %+v, want %+v", id, spinFile.ID)
	}
	r.Close()
	if closed := pb.Release(); len(closed) != n {
		t.Errorf("releasing the last process closed %d files, want %d", len(closed), n)
	}
	if set.Len() != 0 || fdCount(t) != before {
		t.Errorf("after release: %d files, %d descriptors over the start", set.Len(), fdCount(t)-before)
	}
	if _, err := spinFile.Reopen(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reopen after release: %v, want ErrClosed", err)
	}
}

// TestFilesHostile checks that a FIFO or a device is refused at once rather
// than blocking the open.
func TestFilesHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	set := NewFiles()
	defer set.Close()
	for _, p := range []string{fifo, link, dir} {
		done := make(chan error, 1)
		go func() { _, err := set.Open(p); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Open(%s) succeeded", p)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocked", p)
		}
	}
	if set.Len() != 0 {
		t.Errorf("set holds %d files", set.Len())
	}
}

// TestBuildID compares the build ID read from the ELF note with readelf's.
func TestBuildID(t *testing.T) {
	const spin = "../../testdata/spin/spin"
	out, err := exec.Command("readelf", "-n", spin).Output()
	if err != nil {
		t.Skipf("readelf: %v", err)
	}
	m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("readelf shows no build ID for %s", spin)
	}
	ef, err := elf.Open(spin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	if got := BuildID(ef); got != string(m[1]) {
		t.Errorf("BuildID = %q, readelf says %q", got, m[1])
	}
}
