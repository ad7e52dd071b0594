// Package untrustedtest builds the hostile files that tests of ember's
// readers need, at run time (they are never committed).
package untrustedtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Debug link targets an attacker can plant beside a binary.
const (
	FIFO = "fifo" // a FIFO nobody writes: a plain open blocks forever
	Zero = "zero" // a symlink to /dev/zero: a plain read never ends
)

// EvilBinary compiles src (a C file) with gcc -g, moves its debug info to
// NAME.debug, strips it and links it back by .gnu_debuglink, then replaces
// NAME.debug (and .debug/NAME.debug, the other place searched beside the
// binary) with the hostile kind of file. The binary keeps its ELF symbol
// table, so its functions can still be named. It returns the binary's path.
func EvilBinary(t testing.TB, src, kind string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "evil")
	dbg := bin + ".debug"
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	run("gcc", "-O0", "-g", "-fno-omit-frame-pointer", "-o", bin, src)
	run("objcopy", "--only-keep-debug", bin, dbg)
	run("strip", "-g", bin)
	run("objcopy", "--add-gnu-debuglink="+dbg, bin)
	if err := os.Mkdir(filepath.Join(dir, ".debug"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dbg, filepath.Join(dir, ".debug", "evil.debug")} {
		os.Remove(p)
		var err error
		switch kind {
		case FIFO:
			err = syscall.Mkfifo(p, 0o644)
		case Zero:
			err = os.Symlink("/dev/zero", p)
		default:
			t.Fatalf("unknown hostile file kind %q", kind)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return bin
}
