// Package unwind turns a binary's call frame information (.eh_frame,
// .debug_frame) into compact rows that the BPF unwinder walks in the kernel.
package unwind

// Row is one unwind rule, valid from PC up to the next row's PC. It is the
// layout the BPF walker reads (struct unwind_row in bpf/include/unwind.h):
// 8 bytes, little endian, in a table sorted by PC.
//
// The return address is always at CFA-8; a rule that puts it elsewhere is
// not representable and becomes a KindInvalid row.
type Row struct {
	// PC is the ELF virtual address (file-relative, before load bias) where
	// the rule starts.
	PC uint32
	// CFAOffset is added to the CFA base register. For KindPLT it is the
	// threshold of (pc & 15) at and above which 8 more bytes are pushed;
	// for KindDerefRBP the CFA is *(rbp + CFAOffset).
	CFAOffset int16
	// Kind is a CFA kind in the low 4 bits and an RBP rule in bits 4-5.
	Kind uint8
	// RBPOffset says where the caller's rbp is saved, in 8-byte slots from
	// the CFA (RBPSaved): the caller's rbp is *(CFA + 8*RBPOffset).
	RBPOffset int8
}

// CFA kinds, the low 4 bits of Row.Kind.
const (
	KindInvalid  = 0 // no rule here, or one that cannot be represented: stop and count
	KindRSP      = 1 // CFA = rsp + CFAOffset
	KindRBP      = 2 // CFA = rbp + CFAOffset
	KindPLT      = 3 // CFA = rsp + 8 + ((pc & 15) >= CFAOffset ? 8 : 0)
	KindDerefRBP = 4 // CFA = *(rbp + CFAOffset) (stack realignment in main)
	KindSignal   = 5 // a sigreturn trampoline: registers come from the ucontext at rsp
	KindStop     = 6 // the outermost frame (return address undefined): the stack ends here
	KindFP       = 7 // no CFI for this code: take one frame-pointer step
)

// RBP rules, bits 4-5 of Row.Kind.
const (
	RBPUnchanged = 0 << 4 // the caller's rbp is the current rbp
	RBPSaved     = 1 << 4 // the caller's rbp is at CFA + 8*RBPOffset
	RBPAtRBP     = 2 << 4 // the caller's rbp is at rbp + 8*RBPOffset (realigned main, with KindDerefRBP)
)

// KindMask and RBPMask split Row.Kind.
const (
	KindMask = 0x0f
	RBPMask  = 0x30
)
