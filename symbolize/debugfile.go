package symbolize

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// findDebugFile looks for the separate debug file of a binary: by build ID
// under each debug root (ROOT/.build-id/xx/rest.debug), then by the name in
// .gnu_debuglink next to the binary, in its .debug/ directory and under each
// root (ROOT/DIR/NAME), as gdb does. A candidate is used only if its build
// ID matches, or, found by debuglink, its CRC32 does.
func (b *Binary) findDebugFile() *Binary {
	if id := b.buildID; len(id) > 2 {
		for _, root := range b.dirs {
			p := filepath.Join(root, ".build-id", id[:2], id[2:]+".debug")
			if d := openDebugFile(p); d != nil {
				if d.buildID == id {
					return d
				}
				d.Close()
			}
		}
	}
	name, crc, ok := debugLink(b.elf)
	if !ok {
		return nil
	}
	dir := b.dir()
	var cands []string
	if dir != "" {
		cands = append(cands, filepath.Join(dir, name), filepath.Join(dir, ".debug", name))
		// Under a debug root, the binary's directory is the one it has
		// in its own mount namespace, not the /proc/PID/root path it was
		// opened through.
		hostDir := stripProcRoot(dir)
		for _, root := range b.dirs {
			cands = append(cands, filepath.Join(root, hostDir, name))
		}
	}
	self, _ := os.Stat(b.name)
	for _, p := range cands {
		if fi, err := os.Stat(p); err != nil || (self != nil && os.SameFile(fi, self)) {
			continue
		}
		if sum, err := fileCRC32(p); err != nil || sum != crc {
			continue
		}
		if d := openDebugFile(p); d != nil {
			return d
		}
	}
	return nil
}

// stripProcRoot removes the /proc/PID/root prefix of a path opened through
// a process's root directory.
func stripProcRoot(dir string) string {
	rest, ok := strings.CutPrefix(dir, "/proc/")
	if !ok {
		return dir
	}
	pid, rest, _ := strings.Cut(rest, "/")
	if pid == "" || strings.Trim(pid, "0123456789") != "" {
		return dir
	}
	if rest == "root" {
		return "/"
	}
	if r, ok := strings.CutPrefix(rest, "root/"); ok {
		return "/" + r
	}
	return dir
}

// openDebugFile opens a candidate debug file, or returns nil if it is not a
// usable ELF file. It looks for no debug file of its own.
func openDebugFile(path string) *Binary {
	d, err := OpenBinaryWith(path, Options{DebugDirs: []string{}})
	if err != nil {
		return nil
	}
	return d
}

// debugLink reads the .gnu_debuglink section: a file name, padding to four
// bytes, and the CRC32 of the debug file.
func debugLink(ef *elf.File) (name string, crc uint32, ok bool) {
	s := ef.Section(".gnu_debuglink")
	if s == nil || s.Size > 4096 {
		return "", 0, false
	}
	data, err := s.Data()
	if err != nil {
		return "", 0, false
	}
	end := bytes.IndexByte(data, 0)
	if end <= 0 {
		return "", 0, false
	}
	off := int(align4(uint64(end + 1)))
	if off+4 > len(data) {
		return "", 0, false
	}
	name = string(data[:end])
	// The name is a file name, never a path: refuse one that would
	// leave the directories searched.
	if strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return "", 0, false
	}
	return name, ef.ByteOrder.Uint32(data[off:]), true
}

func fileCRC32(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// maxMiniDebugInfo bounds the decompressed .gnu_debugdata: real ones are a
// few hundred KiB, and a corrupt or hostile one must not fill memory.
const maxMiniDebugInfo = 64 << 20

// readMiniDebugInfo reads the MiniDebugInfo of a stripped binary: an
// xz-compressed ELF file in .gnu_debugdata whose .symtab holds the function
// symbols that .dynsym lacks (Fedora, CentOS). It returns nil, nil when
// there is none.
func readMiniDebugInfo(ef *elf.File) (*Binary, error) {
	s := ef.Section(".gnu_debugdata")
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	zr, err := xz.NewReader(s.Open())
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxMiniDebugInfo+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMiniDebugInfo {
		return nil, errors.New("decompressed size over 64 MiB")
	}
	mini, err := NewBinary(bytes.NewReader(data), ".gnu_debugdata")
	if err != nil {
		return nil, fmt.Errorf("not an ELF file: %w", err)
	}
	return mini, nil
}
