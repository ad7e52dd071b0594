package unwind

import (
	"bytes"
	"debug/elf"
	"sort"
)

// synthPLT gives rows to PLT sections that no FDE covers (lld, or ld with
// --no-ld-generated-unwind-info), from the shape of their code. Sections
// whose code it does not recognise get none.
func synthPLT(f *elf.File, spans []span, st *Stats) []span {
	var out []span
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || s.Size < 8 || s.Addr+s.Size > 1<<32 {
			continue
		}
		if s.Name != ".plt" && s.Name != ".plt.sec" && s.Name != ".plt.got" {
			continue
		}
		if covered(spans, s.Addr, s.Addr+s.Size) {
			continue
		}
		var rows []Row
		if s.Name == ".plt" {
			rows = lazyPLTRows(s)
		} else {
			// Entries that only jump through the GOT: the return address
			// is on top of the stack throughout.
			rows = []Row{{PC: uint32(s.Addr), Kind: KindRSP, CFAOffset: 8}}
		}
		if rows == nil {
			continue
		}
		st.SyntheticPLT++
		out = append(out, span{begin: s.Addr, end: s.Addr + s.Size, rows: rows})
	}
	return out
}

// covered reports whether any span in sorted spans overlaps [lo, hi).
func covered(spans []span, lo, hi uint64) bool {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].begin >= hi })
	for j := i - 1; j >= 0; j-- {
		if spans[j].end > lo {
			return true
		}
		if spans[j].begin < lo && j < i-64 {
			break // spans do not nest deeply; stop the scan
		}
	}
	return false
}

// lazyPLTRows recognises a lazy-binding .plt: PLT0 pushes GOT[1] in its
// first 6 bytes and jumps to the resolver; each 16-byte entry pushes its
// relocation index, so the CFA grows by 8 once the push has run.
func lazyPLTRows(s *elf.Section) []Row {
	if s.Size%16 != 0 || s.Size < 32 {
		return nil
	}
	var code [32]byte
	if _, err := s.ReadAt(code[:], 0); err != nil {
		return nil
	}
	if code[0] != 0xff || code[1] != 0x35 { // push GOT+8(%rip)
		return nil
	}
	e := code[16:]
	var pushAt int
	switch {
	case e[0] == 0xff && e[1] == 0x25 && e[6] == 0x68: // jmp *GOT(%rip); push $n
		pushAt = 6
	case bytes.HasPrefix(e, []byte{0xf3, 0x0f, 0x1e, 0xfa, 0x68}): // endbr64; push $n
		pushAt = 4
	case e[0] == 0x68: // push $n; (bnd) jmp PLT0
		pushAt = 0
	default:
		return nil
	}
	pc := uint32(s.Addr)
	return []Row{
		{PC: pc, Kind: KindRSP, CFAOffset: 16},                     // entered with the index pushed
		{PC: pc + 6, Kind: KindRSP, CFAOffset: 24},                 // after push GOT+8
		{PC: pc + 16, Kind: KindPLT, CFAOffset: int16(pushAt + 5)}, // entries
	}
}
