package symbolize

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/sample"
	"github.com/emberprof/ember/internal/untrusted/untrustedtest"
)

// TestHostileDebugLink symbolizes a binary whose .gnu_debuglink names a FIFO
// or a symlink to /dev/zero: opening or checksumming those used to block
// forever. The lookup must end, without the debug file, and still name the
// function from the ELF symbol table.
func TestHostileDebugLink(t *testing.T) {
	for _, kind := range []string{untrustedtest.FIFO, untrustedtest.Zero} {
		t.Run(kind, func(t *testing.T) {
			bin := untrustedtest.EvilBinary(t, "../testdata/spin/spin.c", kind)
			addr := symAddr(t, bin, "spin_b")
			type result struct {
				frames []Frame
				debug  string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				b, err := OpenBinaryWith(bin, Options{DebugDirs: []string{}})
				if err != nil {
					done <- result{err: err}
					return
				}
				defer b.Close()
				f, err := b.Frames(addr)
				done <- result{f, b.DebugFile(), err}
			}()
			select {
			case r := <-done:
				if r.err != nil {
					t.Fatal(r.err)
				}
				if len(r.frames) != 1 || r.frames[0].Name != "spin_b" {
					t.Errorf("frames at spin_b = %+v, want spin_b from the symbol table", r.frames)
				}
				if r.debug != "" {
					t.Errorf("debug file %q used, want none", r.debug)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("symbolizing a binary with a hostile debug link did not finish in 20s")
			}
		})
	}
}

// TestHostilePerfMap captures a process whose /tmp/perf-PID.map is a FIFO or
// a symlink to /dev/zero, as its owner can make it: capture and the JIT
// lookup must end, with no JIT names.
func TestHostilePerfMap(t *testing.T) {
	for _, kind := range []string{"fifo", "zero"} {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "4242")
			if err := os.MkdirAll(filepath.Join(dir, "root", "tmp"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "maps"), []byte("7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"), 0o644); err != nil {
				t.Fatal(err)
			}
			pm := filepath.Join(dir, "root", "tmp", "perf-4242.map")
			var err error
			if kind == "fifo" {
				err = syscall.Mkfifo(pm, 0o644)
			} else {
				err = os.Symlink("/dev/zero", pm)
			}
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan bool, 1)
			go func() {
				s := New(Config{ProcRoot: root})
				defer s.Close()
				p := s.process(4242, "")
				_, ok := p.jitName(0x1234)
				done <- ok
			}()
			select {
			case ok := <-done:
				if ok {
					t.Error("a JIT name from a hostile perf map")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("capturing a process with a hostile perf map did not finish in 20s")
			}
		})
	}
}

// TestProfileCancel builds a profile with Cancel already closed: it must
// return, with the addresses unsymbolized and no binary opened.
func TestProfileCancel(t *testing.T) {
	bin := fixture(t, "c")
	addr := symAddr(t, bin, "fib")
	dir := t.TempDir()
	pdir := filepath.Join(dir, "77")
	if err := os.MkdirAll(filepath.Join(pdir, "root"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, bin), filepath.Join(pdir, "root", "bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "maps"), []byte("00000000-00100000 r-xp 00000000 00:00 1 /bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recs := []sample.Record{{TGID: 77, TID: 77, Comm: "c", Count: 1, Kernel: sample.Stack{State: sample.StackNotRequested},
		User: sample.Stack{State: sample.StackOK, PCs: []uint64{addr}}}}
	for _, cancel := range []bool{false, true} {
		s := New(Config{ProcRoot: dir})
		ch := make(chan struct{})
		if cancel {
			close(ch)
		}
		p, err := s.Profile(recs, ProfileOptions{Cancel: ch})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		named := len(p.Sample[0].Location[0].Line) > 0
		if named == cancel {
			t.Errorf("cancel=%v: location %+v named=%v", cancel, p.Sample[0].Location[0], named)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
