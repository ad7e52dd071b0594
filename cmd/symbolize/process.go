package main

import (
	"fmt"
	"strings"

	"github.com/emberprof/ember/symbolize"
	"github.com/emberprof/ember/untrusted"
)

// process maps a live process's runtime addresses to its binaries.
type process struct {
	maps []*symbolize.Mapping
	bins map[*symbolize.Mapping]*symbolize.Binary
	errs map[*symbolize.Mapping]error
	dirs []string
	dir  string
}

func openProcess(pid uint64, debugDirs []string) (*process, error) {
	dir := fmt.Sprintf("/proc/%d", pid)
	f, err := untrusted.Open(dir + "/maps")
	if err != nil {
		return nil, fmt.Errorf("read mappings of process %d: %w (is it running, and are you root?)", pid, err)
	}
	defer f.Close()
	maps, err := symbolize.ParseMaps(f)
	if err != nil {
		return nil, fmt.Errorf("read %s/maps: %w", dir, err)
	}
	return &process{maps: maps, bins: make(map[*symbolize.Mapping]*symbolize.Binary),
		errs: make(map[*symbolize.Mapping]error), dirs: debugDirs, dir: dir}, nil
}

// binary opens the file behind a mapping once: through map_files, which
// reaches deleted files and other mount namespaces, else through the
// process's root.
func (p *process) binary(m *symbolize.Mapping) (*symbolize.Binary, error) {
	if b, ok := p.bins[m]; ok {
		return b, p.errs[m]
	}
	var b *symbolize.Binary
	var err error
	opt := symbolize.Options{DebugDirs: p.dirs}
	switch {
	case m.Path == "[vdso]":
		b, err = p.vdso(m)
	case strings.HasPrefix(m.Path, "/"):
		// Open through the root so a debuglink next to the binary is
		// found; map_files reaches deleted and replaced files.
		b, err = symbolize.OpenBinaryWith(p.dir+"/root"+m.Path, opt)
		if err != nil || m.Deleted {
			if b2, err2 := symbolize.OpenBinaryWith(fmt.Sprintf("%s/map_files/%x-%x", p.dir, m.Start, m.Limit), opt); err2 == nil {
				b, err = b2, nil
			}
		}
	default:
		err = fmt.Errorf("no file behind mapping %s", m.Path)
	}
	p.bins[m], p.errs[m] = b, err
	return b, err
}

func (p *process) vdso(m *symbolize.Mapping) (*symbolize.Binary, error) {
	if m.Limit-m.Start > 1<<20 {
		return nil, fmt.Errorf("read [vdso]: %d bytes is too large for a vDSO", m.Limit-m.Start)
	}
	f, err := untrusted.Open(p.dir + "/mem")
	if err != nil {
		return nil, fmt.Errorf("read [vdso]: %w", err)
	}
	defer f.Close()
	img := make([]byte, m.Limit-m.Start)
	if _, err := f.ReadAt(img, int64(m.Start)); err != nil {
		return nil, fmt.Errorf("read [vdso]: %w", err)
	}
	return symbolize.NewBinary(strings.NewReader(string(img)), "[vdso]")
}

func (p *process) frames(addr uint64) ([]symbolize.Frame, error) {
	var m *symbolize.Mapping
	for _, x := range p.maps {
		if x.Start <= addr && addr < x.Limit {
			m = x
			break
		}
	}
	if m == nil {
		return nil, fmt.Errorf("address %#x is in no executable mapping of %s", addr, p.dir)
	}
	b, err := p.binary(m)
	if err != nil {
		return nil, err
	}
	vaddr, ok := b.AddrForOffset(addr - m.Start + m.Offset)
	if !ok {
		return nil, fmt.Errorf("address %#x (offset %#x of %s) is in no loadable segment", addr, addr-m.Start+m.Offset, m.Path)
	}
	return b.Frames(vaddr)
}
