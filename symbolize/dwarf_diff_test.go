package symbolize

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDifferentialLLVM compares Frames with llvm-addr2line -f -i -C over
// thousands of addresses spread across the fixtures' code: at least 99% must
// give the same frames, files and lines.
func TestDifferentialLLVM(t *testing.T) {
	tool, err := exec.LookPath("llvm-addr2line")
	if err != nil {
		t.Skip("llvm-addr2line not installed (Debian package llvm)")
	}
	total, same := 0, 0
	for _, tc := range []struct {
		file string
		n    int    // addresses to try
		ref  string // the file llvm-addr2line reads, if not file
	}{
		{"c", 1500, ""}, {"cpp", 3000, ""}, {"cpp-clang", 3000, ""}, {"rust", 3000, ""}, {"go", 3000, ""},
		// A stripped binary with its debug file must read as the
		// unstripped one. (llvm-addr2line given the stripped one reads
		// the debug file's DWARF but not its symbols, and so names
		// less.) llvm-addr2line 14 reads no zstd: c-zstd is compared
		// with c too.
		{"debuglink/c", 1000, "c"}, {"c-zstd", 1000, "c"},
		// The tiny fixtures (the fuzzing seeds) add gcc's DWARF 4
		// (.debug_ranges) to gcc's and clang's DWARF 5 above; each
		// address of their code.
		{"tiny/gcc-dwarf4", 100, ""}, {"tiny/clang-dwarf5", 100, ""}, {"tiny/gcc-zlib", 100, ""},
	} {
		path := fixture(t, tc.file)
		ref := path
		if tc.ref != "" {
			ref = fixture(t, tc.ref)
		}
		addrs := textAddrs(t, path, tc.n)
		want := llvmFrames(t, tool, ref, addrs)
		b, err := OpenBinary(path)
		if err != nil {
			t.Fatal(err)
		}
		diffs := map[string]int{}
		var examples []string
		n, style := 0, 0
		for i, addr := range addrs {
			frames, err := b.Frames(addr)
			if err != nil {
				t.Errorf("%s: Frames(%#x): %v", tc.file, addr, err)
			}
			got := formatFrames(frames)
			if got == want[i] {
				n++
				continue
			}
			if stripParams(got) == stripParams(want[i]) {
				// Same frames, files and lines; the names differ
				// only in how parameter lists are printed: LLVM
				// 14 prints a generic lambda's as "(auto, auto)".
				n++
				style++
				if style <= 2 {
					examples = append(examples, fmt.Sprintf("%s %#x [style]:\n  ours: %s\n  llvm: %s", tc.file, addr, strings.ReplaceAll(got, "\n", " | "), strings.ReplaceAll(want[i], "\n", " | ")))
				}
				continue
			}
			kind := diffKind(got, want[i])
			diffs[kind]++
			if diffs[kind] <= 3 {
				examples = append(examples, fmt.Sprintf("%s %#x [%s]:\n  ours: %s\n  llvm: %s", tc.file, addr, kind, strings.ReplaceAll(got, "\n", " | "), strings.ReplaceAll(want[i], "\n", " | ")))
			}
		}
		b.Close()
		t.Logf("%s: %d/%d addresses identical (%.2f%%; %d of them differ only in the style of parameter lists), differences by kind: %v", tc.file, n, len(addrs), 100*float64(n)/float64(len(addrs)), style, diffs)
		for _, e := range examples {
			t.Log(e)
		}
		total += len(addrs)
		same += n
	}
	rate := float64(same) / float64(total)
	t.Logf("overall: %d/%d identical (%.2f%%)", same, total, 100*rate)
	if rate < 0.99 {
		t.Errorf("match rate %.2f%% < 99%%", 100*rate)
	}
}

// textAddrs spreads n addresses evenly over the executable sections.
func textAddrs(t *testing.T, path string, n int) []uint64 { return textAddrsTB(t, path, n) }

func textAddrsTB(t testing.TB, path string, n int) []uint64 {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var secs []*elf.Section
	var size uint64
	for _, s := range f.Sections {
		// PLT stubs are left out: LLVM names them after the symbol
		// before them (_init), which is wrong, and we do not.
		if s.Flags&elf.SHF_EXECINSTR != 0 && s.Type == elf.SHT_PROGBITS && s.Size > 0 && !strings.HasPrefix(s.Name, ".plt") {
			secs = append(secs, s)
			size += s.Size
		}
	}
	var addrs []uint64
	stride := size / uint64(n)
	if stride == 0 {
		stride = 1
	}
	// An odd stride lands on varied offsets within instructions too.
	stride |= 1
	for _, s := range secs {
		for a := s.Addr; a < s.Addr+s.Size; a += stride {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// llvmFrames runs llvm-addr2line once for all addresses and splits its
// output into one normalized block per address.
func llvmFrames(t *testing.T, tool, path string, addrs []uint64) []string {
	var in bytes.Buffer
	for _, a := range addrs {
		fmt.Fprintf(&in, "0x%x\n", a)
	}
	cmd := exec.Command(tool, "-a", "-f", "-i", "-C", "-e", path)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	var blocks []string
	var cur []Frame
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "0x") && (i+1 == len(lines) || !strings.Contains(lines[i], ":")) {
			if i > 0 {
				blocks = append(blocks, formatFrames(cur))
			}
			cur = nil
			continue
		}
		if i+1 >= len(lines) {
			t.Fatalf("odd llvm-addr2line output at line %d", i)
		}
		name, loc := lines[i], lines[i+1]
		i++
		c := strings.LastIndexByte(loc, ':')
		var line, disc int
		fmt.Sscan(loc[c+1:], &line)
		if _, d, ok := strings.Cut(loc[c+1:], " (discriminator "); ok {
			fmt.Sscan(d, &disc)
		}
		file := loc[:c]
		if file == "??" {
			file = ""
		}
		if name == "??" {
			name = ""
		}
		cur = append(cur, Frame{Name: name, File: file, Line: line, Discriminator: disc})
	}
	blocks = append(blocks, formatFrames(cur))
	if len(blocks) != len(addrs) {
		t.Fatalf("llvm-addr2line gave %d answers for %d addresses", len(blocks), len(addrs))
	}
	return blocks
}

var (
	rustHash   = regexp.MustCompile(`::h[0-9a-f]{16}\b`)
	llvmSuffix = regexp.MustCompile(` \(\.llvm\.[0-9]+\)`)
)

// rustEscapes undoes Rust's legacy mangling escapes, which LLVM 14's
// demangler leaves in place ("Vec$LT$T$GT$" for "Vec<T>").
var rustEscapes = strings.NewReplacer(
	"$LT$", "<", "$GT$", ">", "$u20$", " ", "$C$", ",", "$RF$", "&", "$BP$", "*",
	"$LP$", "(", "$RP$", ")", "$u7b$", "{", "$u7d$", "}", "$u5b$", "[", "$u5d$", "]",
	"$u27$", "'", "$SP$", "@", "$u3b$", ";", "$u2b$", "+", "$u22$", "\"", "$u7e$", "~",
	"..", "::", "::_$", "::$",
)

// normName takes out the differences between LLVM 14's demangler and ours
// that are style: "> >" (newer LLVM prints ">>"), "operator< <", Rust's legacy escapes and
// hash suffix (rustfilt and pprof drop it).
func normName(name string) string {
	if strings.Contains(name, "$") {
		name = strings.TrimPrefix(rustEscapes.Replace(name), "_")
		name = rustEscapes.Replace(name)
	}
	name = rustHash.ReplaceAllString(name, "")
	name = llvmSuffix.ReplaceAllString(name, "")
	if strings.HasPrefix(name, "_Z") {
		// LLVM 14 fails on some names newer demanglers read
		// (enable_if<...> return types, say) and prints them mangled.
		name = demangleName(name)
	}
	for strings.Contains(name, "> >") {
		name = strings.ReplaceAll(name, "> >", ">>")
	}
	// LLVM 14 prints "operator<<char>" for operator< with template
	// arguments; "operator< <char>" is the unambiguous form.
	name = strings.ReplaceAll(name, "operator< <", "operator<<")
	return name
}

// formatFrames writes frames (discriminators included, as llvm-addr2line
// prints them) as one comparable string, with the differences
// that are style rather than substance taken out: Rust's legacy hash suffix
// (LLVM 14 prints it, pprof and rustfilt do not) and unclean paths ("a/./b").
func formatFrames(frames []Frame) string {
	if len(frames) == 0 {
		frames = []Frame{{}}
	}
	var b strings.Builder
	for i, f := range frames {
		if i > 0 {
			b.WriteByte('\n')
		}
		file := f.File
		if file != "" {
			file = path.Clean(file)
		}
		fmt.Fprintf(&b, "%s @ %s:%d", normName(f.Name), file, f.Line)
		if f.Discriminator != 0 {
			fmt.Fprintf(&b, " (discriminator %d)", f.Discriminator)
		}
	}
	return b.String()
}

// diffKind classifies a difference for the log.
func diffKind(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(g) != len(w) {
		return "depth"
	}
	var kinds []string
	for i := range g {
		gn, gl, _ := strings.Cut(g[i], " @ ")
		wn, wl, _ := strings.Cut(w[i], " @ ")
		if gn != wn {
			kinds = append(kinds, "name")
		}
		if gl != wl {
			gf, _, _ := strings.Cut(gl, ":")
			wf, _, _ := strings.Cut(wl, ":")
			if gf != wf {
				kinds = append(kinds, "file")
			} else {
				kinds = append(kinds, "line")
			}
		}
	}
	sort.Strings(kinds)
	return strings.Join(kinds, "+")
}

// stripParams empties every parenthesized group, so that names compare
// without their parameter lists.
func stripParams(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			if depth == 0 {
				b.WriteRune(r)
			}
			depth++
		case r == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteRune(r)
			}
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
