package symbolize

import "debug/elf"

func (b *Binary) findDebugFile() *Binary { return nil }

func readMiniDebugInfo(ef *elf.File) (*Binary, error) { return nil, nil }
