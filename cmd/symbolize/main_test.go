package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

const cFixture = "../../symbolize/testdata/elf/c"

func symAddr(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("no symbol %s in %s", name, path)
	return 0
}

func TestRun(t *testing.T) {
	fib := symAddr(t, cFixture, "fib")
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string // substring
	}{
		{"function and line", []string{"-f", "-e", cFixture, fmt.Sprintf("%#x", fib)}, "", 0,
			"fib\n/ember/symbolize/testdata/src/c/prog.c:25\n", ""},
		{"bundled, -a, stdin, no 0x", []string{"-afiCe", cFixture}, fmt.Sprintf("%x\n\n", fib), 0,
			fmt.Sprintf("0x%x\nfib\n/ember/symbolize/testdata/src/c/prog.c:25\n", fib), ""},
		{"line only", []string{"-e", cFixture, fmt.Sprintf("%#x", fib)}, "", 0,
			"/ember/symbolize/testdata/src/c/prog.c:25\n", ""},
		{"unknown address", []string{"-a", "-f", "-e", cFixture, "0x10"}, "", 0, "0x10\n??\n??:0\n", ""},
		{"bad address", []string{"-e", cFixture, "0x10", "zz"}, "", 1, "??:0\n", `bad address "zz": give a hexadecimal address`},
		{"not ELF", []string{"-e", "main.go", "0x10"}, "", 1, "", "open main.go: not an ELF file"},
		{"missing file", []string{"-e", "/nonexistent", "0x10"}, "", 1, "", "open /nonexistent: no such file"},
		{"bad option", []string{"-Z"}, "", 2, "", "unknown option -Z"},
		{"two modes", []string{"-k", "-e", cFixture}, "", 2, "", "give one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &out, &errb)
			if code != tc.code || out.String() != tc.stdout || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("run(%q) = %d\nstdout %q\nstderr %q\nwant %d, %q, stderr containing %q", tc.args, code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
			}
			if n := strings.Count(errb.String(), "\n"); n > 1 {
				t.Errorf("stderr has %d lines, want one", n)
			}
		})
	}
}

// TestInlined checks -i on addresses inside inlined code: innermost first,
// then the caller at the call site; without -i, only the innermost.
func TestInlined(t *testing.T) {
	var out, errb bytes.Buffer
	// Ask for every address of work(), into which sum_squares() is
	// inlined.
	work := symAddr(t, cFixture, "work")
	var in strings.Builder
	for a := work; a < work+0x200; a++ {
		fmt.Fprintf(&in, "%#x\n", a)
	}
	if code := run([]string{"-a", "-f", "-i", "-e", cFixture}, strings.NewReader(in.String()), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "\nsum_squares\n/ember/symbolize/testdata/src/c/prog.c:14\nwork\n/ember/symbolize/testdata/src/c/prog.c:42\n") {
		t.Errorf("no sum_squares <- work chain in:\n%s", out.String())
	}
	out.Reset()
	run([]string{"-f", "-e", cFixture}, strings.NewReader(in.String()), &out, &errb)
	if strings.Contains(out.String(), "\nsum_squares\n/ember/symbolize/testdata/src/c/prog.c:14\nwork\n") {
		t.Errorf("without -i, inlined callers are printed")
	}
}

//go:noinline
func target() int { return 42 }

func TestProcess(t *testing.T) {
	pc := reflect.ValueOf(target).Pointer()
	var out, errb bytes.Buffer
	code := run([]string{"-f", "-p", fmt.Sprint(os.Getpid()), fmt.Sprintf("%#x", pc)}, nil, &out, &errb)
	if code != 0 || !strings.HasPrefix(out.String(), runtime.FuncForPC(pc).Name()+"\n") {
		t.Errorf("-p self = %d, %q, %q; want %s", code, out.String(), errb.String(), runtime.FuncForPC(pc).Name())
	}
}

func TestKernel(t *testing.T) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var addr, name string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[1] == "T" && fields[2] == "schedule" {
			addr, name = fields[0], fields[2]
			break
		}
	}
	if addr == "" || strings.Trim(addr, "0") == "" {
		t.Skip("kernel addresses hidden (kptr_restrict) or no schedule symbol")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-k", "-f", addr}, nil, &out, &errb)
	if code != 0 || out.String() != name+"\n??:0\n" {
		t.Errorf("-k %s = %d, %q, %q", addr, code, out.String(), errb.String())
	}
}

// TestBatch checks that a batch on standard input, answered in parallel
// chunks, gives the answers one at a time would, in order, and stops at a
// bad address after answering every address before it.
func TestBatch(t *testing.T) {
	work := symAddr(t, cFixture, "work")
	var addrs []string
	for i := 0; i < 5000; i++ {
		addrs = append(addrs, fmt.Sprintf("%#x", work+uint64(i%0x200)))
	}
	args := []string{"-a", "-f", "-i", "-C", "-e", cFixture}
	// Addresses given as arguments are answered one at a time.
	var want, e bytes.Buffer
	if code := run(append(args, addrs...), nil, &want, &e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	var out, errb bytes.Buffer
	if code := run(args, strings.NewReader(strings.Join(addrs, "\n")+"\n"), &out, &errb); code != 0 || errb.Len() > 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.String() != want.String() {
		t.Errorf("batch output differs from one address at a time")
	}

	// A bad address in the middle: everything before it answered, then
	// the error, then nothing.
	bad := append(append(append([]string{}, addrs[:3000]...), "zz"), addrs[3000:]...)
	want.Reset()
	run(append(args, addrs[:3000]...), nil, &want, &e)
	out.Reset()
	errb.Reset()
	code := run(args, strings.NewReader(strings.Join(bad, "\n")), &out, &errb)
	if code != 1 || out.String() != want.String() || !strings.Contains(errb.String(), `bad address "zz"`) {
		t.Errorf("bad address in a batch: exit %d, %d bytes of output (want %d), stderr %q", code, out.Len(), want.Len(), errb.String())
	}
}

// TestWriteErrors: output that cannot be written (/dev/full) is an error,
// exit 1 with one line, whether addresses come as arguments, one at a time
// on stdin or as a batch.
func TestWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer full.Close()
	fib := fmt.Sprintf("%#x", symAddr(t, cFixture, "fib"))
	batchIn := strings.Repeat(fib+"\n", 10*batch)
	for name, tc := range map[string]struct {
		args  []string
		stdin string
	}{
		"arguments": {[]string{"-f", "-e", cFixture, fib, fib}, ""},
		"stdin":     {[]string{"-f", "-e", cFixture}, fib + "\n"},
		"batch":     {[]string{"-f", "-e", cFixture}, batchIn},
	} {
		var errb bytes.Buffer
		code := run(tc.args, strings.NewReader(tc.stdin), full, &errb)
		msg := strings.TrimSpace(errb.String())
		if code != 1 || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
			t.Errorf("%s to /dev/full: exit %d, stderr %q; want 1 and one line", name, code, msg)
		}
	}
}
