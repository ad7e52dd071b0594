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

	"github.com/emberprof/ember/internal/untrusted"
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
	var self os.FileInfo
	if b.file != nil {
		self, _ = b.file.Stat()
	}
	for _, p := range cands {
		if d := openLinkedDebugFile(p, crc, self); d != nil {
			return d
		}
	}
	return nil
}

// openLinkedDebugFile opens a debug file found by .gnu_debuglink if it is
// not the binary itself and its CRC32 matches. The name comes from the
// binary, and the file from a directory its owner may control: it is opened
// once, as untrusted, and checked and parsed through that descriptor.
func openLinkedDebugFile(path string, crc uint32, self os.FileInfo) *Binary {
	f, err := untrusted.Open(path)
	if err != nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || (self != nil && os.SameFile(fi, self)) {
		f.Close()
		return nil
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil || h.Sum32() != crc {
		f.Close()
		return nil
	}
	d, err := openFile(f, path, Options{DebugDirs: []string{}})
	if err != nil {
		return nil
	}
	return d
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
	if s.Size > maxMiniDebugInfo {
		return nil, errors.New("compressed size over 64 MiB")
	}
	packed, err := s.Data()
	if err != nil {
		return nil, err
	}
	if err := checkXZ(packed, maxMiniDebugInfo); err != nil {
		return nil, err
	}
	// The decoder's dictionary is the larger of this and the stream's,
	// which checkXZ bounded; its default, 8 MiB, was allocated (and
	// cleared) for every binary however small its MiniDebugInfo.
	zr, err := xz.ReaderConfig{DictCap: 1 << 12, SingleStream: true}.NewReader(bytes.NewReader(packed))
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

// checkXZ reads the index and block headers of a single-stream xz file
// before it is decoded: the decoder allocates each block's dictionary as its
// header says, up to 4 GiB, so a corrupt or hostile .gnu_debugdata could
// otherwise take that much memory. Every block's LZMA2 dictionary and the
// total decompressed size must be within limit. (Format: The .xz File
// Format 1.1.0, sections 2 and 3.)
func checkXZ(data []byte, limit uint64) error {
	const hdr = 12
	if len(data) < 2*hdr || !bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}) {
		return errors.New("not an xz stream")
	}
	footer := data[len(data)-hdr:]
	if string(footer[10:]) != "YZ" {
		return errors.New("xz: no stream footer at the end (padded, or several streams)")
	}
	indexSize := (uint64(footer[4]) | uint64(footer[5])<<8 | uint64(footer[6])<<16 | uint64(footer[7])<<24 + 1) * 4
	if indexSize > uint64(len(data)-2*hdr) {
		return errors.New("xz: index larger than the stream")
	}
	indexStart := uint64(len(data)-hdr) - indexSize
	r := xzReader{b: data[indexStart : len(data)-hdr]}
	if r.byte() != 0 {
		return errors.New("xz: bad index")
	}
	n := r.varint()
	if n > uint64(len(r.b)) {
		return errors.New("xz: bad index")
	}
	var total uint64
	at := uint64(hdr) // the first block's header
	for range n {
		unpadded, size := r.varint(), r.varint()
		if r.bad {
			return errors.New("xz: bad index")
		}
		if total += size; total > limit || total < size {
			return fmt.Errorf("xz: decompressed size over %d MiB", limit>>20)
		}
		if at >= indexStart {
			return errors.New("xz: blocks overlap the index")
		}
		if err := checkXZBlock(data[at:indexStart], limit); err != nil {
			return err
		}
		padded := (unpadded + 3) &^ 3
		if padded < unpadded || padded > indexStart-at {
			return errors.New("xz: block past the index")
		}
		at += padded
	}
	if at != indexStart {
		// Blocks that the index does not list: not one well-formed
		// stream.
		return errors.New("xz: index does not cover the blocks")
	}
	return nil
}

// checkXZBlock checks the LZMA2 dictionary size of the block whose header
// starts b.
func checkXZBlock(b []byte, limit uint64) error {
	if len(b) == 0 || b[0] == 0 {
		return errors.New("xz: bad block header")
	}
	size := (int(b[0]) + 1) * 4
	if size > len(b) {
		return errors.New("xz: block header past the end")
	}
	r := xzReader{b: b[1:size]}
	flags := r.byte()
	if flags&0x40 != 0 {
		r.varint() // compressed size
	}
	if flags&0x80 != 0 {
		r.varint() // uncompressed size
	}
	for range int(flags&3) + 1 {
		id, n := r.varint(), r.varint()
		if r.bad || n > uint64(len(r.b)) {
			return errors.New("xz: bad block header")
		}
		props := r.b[:n]
		r.b = r.b[n:]
		if id != 0x21 { // LZMA2; other filters (BCJ, delta) have no dictionary
			continue
		}
		if len(props) != 1 || props[0] > 40 {
			return errors.New("xz: bad LZMA2 properties")
		}
		d := props[0]
		dict := uint64(2|d&1) << (d/2 + 11)
		if d == 40 || dict > limit {
			return fmt.Errorf("xz: dictionary over %d MiB", limit>>20)
		}
	}
	if r.bad {
		return errors.New("xz: bad block header")
	}
	return nil
}

// xzReader reads bytes and xz's multibyte integers; past the end it sets bad.
type xzReader struct {
	b   []byte
	bad bool
}

func (r *xzReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *xzReader) varint() uint64 {
	var v uint64
	for i := 0; i < 9; i++ {
		c := r.byte()
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	r.bad = true
	return 0
}
