package unwind

import "math"

// reason says why a CFI row could not become a compact Row.
type reason uint8

const (
	okRow reason = iota
	badCFAReg
	badCFAExpr
	badRBPRule
	badRARule
	badOverflow
)

// DWARF expression opcodes the recognised expressions use.
const (
	opConst1u = 0x08
	opAnd     = 0x1a
	opPlus    = 0x22
	opShl     = 0x24
	opGe      = 0x2a
	opLit0    = 0x30
	opLit3    = 0x33
	opLit15   = 0x3f
	opBreg6   = 0x76
	opBreg7   = 0x77
	opBreg16  = 0x80
	opDeref   = 0x06
)

// pltThreshold recognises the expression ld emits for lazy PLT entries,
// rsp + 8 + ((rip & 15) >= N) << 3, and returns N.
func pltThreshold(e []byte) (int16, bool) {
	// DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; <N>; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
	if len(e) < 11 || e[0] != opBreg7 || e[1] != 8 || e[2] != opBreg16 || e[3] != 0 || e[4] != opLit15 || e[5] != opAnd {
		return 0, false
	}
	var n int16
	rest := e[6:]
	switch {
	case rest[0] >= opLit0 && rest[0] <= opLit0+31:
		n, rest = int16(rest[0]-opLit0), rest[1:]
	case rest[0] == opConst1u && len(rest) > 1:
		n, rest = int16(rest[1]), rest[2:]
	default:
		return 0, false
	}
	if len(rest) != 4 || rest[0] != opGe || rest[1] != opLit3 || rest[2] != opShl || rest[3] != opPlus || n > 16 {
		return 0, false
	}
	return n, true
}

// bregOffset decodes an expression that is exactly DW_OP_bregN off
// (followed by tail, if given) and returns off.
func bregOffset(e []byte, op byte, tail byte) (int64, bool) {
	if len(e) < 2 || e[0] != op {
		return 0, false
	}
	r := cfiReader{b: e[1:]}
	off := r.sleb()
	if r.err != nil {
		return 0, false
	}
	switch {
	case tail == 0 && r.pos == len(r.b):
		return off, true
	case tail != 0 && r.pos == len(r.b)-1 && r.b[r.pos] == tail:
		return off, true
	}
	return 0, false
}

// toRow turns a CFI state into a compact row, or says why it cannot.
func toRow(s *cfiState, signal bool) (Row, reason) {
	if signal {
		return Row{Kind: KindSignal}, okRow
	}
	if s.ra.kind == ruleUndefined {
		return Row{Kind: KindStop}, okRow
	}
	var r Row
	switch {
	case s.cfa.expr == nil && (s.cfa.reg == regRSP || s.cfa.reg == regRBP):
		if s.cfa.off < math.MinInt16 || s.cfa.off > math.MaxInt16 {
			return Row{}, badOverflow
		}
		r.CFAOffset = int16(s.cfa.off)
		r.Kind = KindRSP
		if s.cfa.reg == regRBP {
			r.Kind = KindRBP
		}
	case s.cfa.expr == nil:
		return Row{}, badCFAReg
	default:
		if n, ok := pltThreshold(s.cfa.expr); ok {
			r.Kind, r.CFAOffset = KindPLT, n
		} else if off, ok := bregOffset(s.cfa.expr, opBreg6, opDeref); ok {
			if off < math.MinInt16 || off > math.MaxInt16 {
				return Row{}, badOverflow
			}
			r.Kind, r.CFAOffset = KindDerefRBP, int16(off)
		} else {
			return Row{}, badCFAExpr
		}
	}
	if s.ra.kind != ruleOffset || s.ra.off != -8 {
		return Row{}, badRARule
	}
	switch s.rbp.kind {
	case ruleSame:
	case ruleOffset:
		k, ok := slot(s.rbp.off)
		if !ok {
			return Row{}, slotReason(s.rbp.off)
		}
		r.Kind |= RBPSaved
		r.RBPOffset = k
	case ruleExpr:
		off, ok := bregOffset(s.rbp.expr, opBreg6, 0)
		if !ok {
			return Row{}, badRBPRule
		}
		k, ok := slot(off)
		if !ok {
			return Row{}, slotReason(off)
		}
		r.Kind |= RBPAtRBP
		r.RBPOffset = k
	default:
		return Row{}, badRBPRule
	}
	return r, okRow
}

// slot turns a byte offset into an 8-byte slot count that fits in int8.
func slot(off int64) (int8, bool) {
	if off%8 != 0 || off/8 < math.MinInt8 || off/8 > math.MaxInt8 {
		return 0, false
	}
	return int8(off / 8), true
}

func slotReason(off int64) reason {
	if off%8 != 0 {
		return badRBPRule
	}
	return badOverflow
}
