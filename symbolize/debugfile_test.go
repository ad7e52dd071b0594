package symbolize

import (
	"bytes"
	"debug/elf"
	"os"
	"path/filepath"
	"testing"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// wantFrames returns the frames the unstripped C fixture gives at the
// address of sym, the reference for its stripped variants.
func wantFrames(t *testing.T, file, sym string) (uint64, []Frame) {
	t.Helper()
	path := fixture(t, file)
	addr := symAddr(t, path, sym) + 4
	b, err := OpenBinaryWith(path, Options{DebugDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, err := b.Frames(addr)
	if err != nil || len(f) == 0 || f[0].Line == 0 {
		t.Fatalf("%s: Frames(%#x) = %v, %v; want lines", file, addr, f, err)
	}
	return addr, f
}

func TestDebugFiles(t *testing.T) {
	addr, want := wantFrames(t, "c", "work")
	cppAddr, cppWant := wantFrames(t, "cpp", "_Z5wordsi")
	debug := fixture(t, "debuglink/.debug/c.debug")
	for _, tc := range []struct {
		name  string
		setup func(dir string) (bin string, roots []string)
		addr  uint64
		want  []Frame // nil: no lines, only the symbol name
	}{
		{"debuglink beside", func(dir string) (string, []string) {
			copyFile(t, fixture(t, "debuglink/c"), filepath.Join(dir, "c"))
			copyFile(t, debug, filepath.Join(dir, "c.debug"))
			return filepath.Join(dir, "c"), []string{}
		}, addr, want},
		{"debuglink in .debug", func(dir string) (string, []string) {
			copyFile(t, fixture(t, "debuglink/c"), filepath.Join(dir, "c"))
			copyFile(t, debug, filepath.Join(dir, ".debug", "c.debug"))
			return filepath.Join(dir, "c"), []string{}
		}, addr, want},
		{"debuglink under root", func(dir string) (string, []string) {
			bin := filepath.Join(dir, "usr", "bin", "c")
			copyFile(t, fixture(t, "debuglink/c"), bin)
			root := filepath.Join(dir, "debug")
			copyFile(t, debug, filepath.Join(root, dir, "usr", "bin", "c.debug"))
			return bin, []string{root}
		}, addr, want},
		{"debuglink with wrong CRC", func(dir string) (string, []string) {
			copyFile(t, fixture(t, "debuglink/c"), filepath.Join(dir, "c"))
			copyFile(t, fixture(t, "c"), filepath.Join(dir, "c.debug"))
			return filepath.Join(dir, "c"), []string{}
		}, addr, nil},
		{"build ID", func(dir string) (string, []string) {
			return fixture(t, "cpp-stripped"), []string{fixture(t, "debugroot")}
		}, cppAddr, cppWant},
		{"build ID not found", func(dir string) (string, []string) {
			return fixture(t, "cpp-stripped"), []string{dir}
		}, cppAddr, nil},
		{"zstd sections", func(dir string) (string, []string) {
			return fixture(t, "c-zstd"), []string{}
		}, addr, want},
		{"MiniDebugInfo", func(dir string) (string, []string) {
			return fixture(t, "c-minidebug"), []string{}
		}, addr, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, roots := tc.setup(t.TempDir())
			b, err := OpenBinaryWith(bin, Options{DebugDirs: roots})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got, err := b.Frames(tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				// Only the symbol tables (or MiniDebugInfo's)
				// name the function.
				sym := "work"
				if tc.addr == cppAddr {
					sym = "words(int)"
				}
				if tc.name == "build ID not found" || tc.name == "debuglink with wrong CRC" {
					// A stripped PIE keeps no local symbols.
					if len(got) != 0 {
						t.Errorf("Frames = %+v, want none", got)
					}
					return
				}
				if len(got) != 1 || got[0].Name != sym || got[0].Line != 0 {
					t.Errorf("Frames = %+v, want only %s", got, sym)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Frames = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("frame %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestStripProcRoot(t *testing.T) {
	for in, want := range map[string]string{
		"/proc/42/root/usr/bin": "/usr/bin",
		"/proc/42/root":         "/",
		"/proc/self/root/usr":   "/proc/self/root/usr",
		"/usr/bin":              "/usr/bin",
		"/proc/42/cwd":          "/proc/42/cwd",
	} {
		if got := stripProcRoot(in); got != want {
			t.Errorf("stripProcRoot(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckXZ checks that a MiniDebugInfo stream whose block asks for a huge
// dictionary is refused before the decoder allocates it.
func TestCheckXZ(t *testing.T) {
	ef, err := elf.Open(fixture(t, "tiny/minidebug"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	data, err := ef.Section(".gnu_debugdata").Data()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkXZ(data, maxMiniDebugInfo); err != nil {
		t.Fatalf("checkXZ of a good stream: %v", err)
	}
	// Block header at 12: size, flags (one filter, no sizes), filter
	// ID 0x21 (LZMA2), properties size 1, dictionary size code.
	if data[14] != 0x21 || data[15] != 1 {
		t.Fatalf("unexpected block header % x", data[12:20])
	}
	for _, code := range []byte{40, 39, 31} { // 4 GiB, 3 GiB, 96 MiB
		bad := bytes.Clone(data)
		bad[16] = code
		if err := checkXZ(bad, maxMiniDebugInfo); err == nil {
			t.Errorf("dictionary code %d: no error", code)
		}
	}
	if err := checkXZ(data[:len(data)-4], maxMiniDebugInfo); err == nil {
		t.Error("truncated stream: no error")
	}
}
