package symbolize

// Frame is one source-level frame at an address; inlined calls give several,
// innermost first.
type Frame struct {
	Name       string // demangled, fully qualified; "" when unknown
	SystemName string // as in the symbol table (mangled); equal to Name when not mangled
	File       string // "" when unknown
	Line       int    // 0 when unknown
	// Discriminator tells apart code blocks on one line (DWARF 4's line
	// table, or DW_AT_GNU_discriminator of an inlined call's site); 0
	// when none. llvm-addr2line prints it after the line.
	Discriminator int
}
