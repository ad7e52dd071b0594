package symbolize

import "debug/elf"

type dwarfInfo struct{}

func newDWARFInfo(ef *elf.File, names *nameCache) *dwarfInfo { return nil }

func (d *dwarfInfo) frames(addr uint64) ([]Frame, error) { return nil, nil }
