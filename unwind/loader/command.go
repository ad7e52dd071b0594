package loader

import (
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/emberprof/ember/internal/untrusted"
)

// libDirs are where the dynamic loader finds libraries by default, before
// ld.so.cache: the multiarch directory of this machine's architecture, then
// the classic ones.
func libDirs() []string {
	arch := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	dirs := []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	if arch != "" {
		dirs = append([]string{"/lib/" + arch, "/usr/lib/" + arch}, dirs...)
	}
	return dirs
}

// CommandFiles returns the binaries a command at path will map first: the
// executable, its dynamic loader (PT_INTERP) and the libraries it names
// (DT_NEEDED), found where the dynamic loader would look by default, for
// Options.Files. It is a best effort: what it misses is loaded when the
// process maps it.
func CommandFiles(path string) []string {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil // a script: its interpreter is found when it runs
	}
	files := []string{path}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, min(p.Filesz, 4096))
			if n, _ := p.ReadAt(b, 0); n > 0 {
				files = append(files, strings.TrimRight(string(b[:n]), "\x00"))
			}
		}
	}
	needed, _ := ef.DynString(elf.DT_NEEDED)
	var dirs []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		paths, _ := ef.DynString(tag)
		for _, p := range paths {
			for _, d := range strings.Split(p, ":") {
				dirs = append(dirs, strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(path)))
			}
		}
	}
	dirs = append(dirs, libDirs()...)
	for _, lib := range needed {
		if strings.Contains(lib, "/") {
			files = append(files, lib)
			continue
		}
		for _, d := range dirs {
			p := filepath.Join(d, lib)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				files = append(files, p)
				break
			}
		}
	}
	return files
}
