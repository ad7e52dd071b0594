package unwind

import (
	"encoding/binary"
	"errors"
)

// x86-64 DWARF register numbers.
const (
	regRBP = 6
	regRSP = 7
)

// ruleKind says how a register of the caller is recovered. Only rbp and
// the return address are tracked: the walker needs nothing else.
type ruleKind uint8

const (
	ruleSame      ruleKind = iota // no rule or DW_CFA_same_value: the register is unchanged
	ruleUndefined                 // DW_CFA_undefined
	ruleOffset                    // saved at CFA + off
	ruleOther                     // val_offset, register, val_expression: kept in no row
	ruleExpr                      // saved at the address an expression computes
)

type regRule struct {
	kind ruleKind
	off  int64
	expr []byte
}

// cfaRule is either reg+off or an expression.
type cfaRule struct {
	reg  uint64
	off  int64
	expr []byte // non-nil: the CFA is this DWARF expression
}

// cfiState is one row of the DWARF CFI table, reduced to what a row keeps.
type cfiState struct {
	cfa     cfaRule
	rbp, ra regRule
}

// cfiProgram interprets CIE or FDE instructions. It is reused across FDEs
// so the remember/restore stack does not allocate per FDE.
type cfiProgram struct {
	codeAlign uint64
	dataAlign int64
	raReg     uint64
	init      cfiState // the state after the CIE's initial instructions
	stack     []cfiState
}

var (
	errTruncated = errors.New("truncated CFI instruction")
	errOpcode    = errors.New("unsupported CFI opcode")
	errStack     = errors.New("DW_CFA_restore_state without remember_state")
	errStackDeep = errors.New("DW_CFA_remember_state nested too deep")
)

// maxStateStack bounds remember_state nesting: compilers nest one or two.
const maxStateStack = 64

// cfiReader decodes the operands of CFI instructions with bounds checks.
type cfiReader struct {
	b   []byte
	pos int
	err error
}

func (r *cfiReader) byte() byte {
	if r.pos >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *cfiReader) fixed(n int) uint64 {
	if len(r.b)-r.pos < n {
		r.err = errTruncated
		r.pos = len(r.b)
		return 0
	}
	var v uint64
	switch n {
	case 2:
		v = uint64(binary.LittleEndian.Uint16(r.b[r.pos:]))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(r.b[r.pos:]))
	}
	r.pos += n
	return v
}

func (r *cfiReader) uleb() uint64 {
	var v uint64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *cfiReader) sleb() int64 {
	var v int64
	var shift uint
	for {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

func (r *cfiReader) block() []byte {
	n := r.uleb()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.pos) {
		r.err = errTruncated
		r.pos = len(r.b)
		return nil
	}
	b := r.b[r.pos : r.pos+int(n) : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// run executes instructions from state s starting at loc. Before every
// location change it calls emit(loc, state, next) for the range [loc, next);
// emit returns false to stop early (the range reached the FDE's end). At the
// end it returns the final state and location; a malformed program returns
// the error and the location where the state stops being known.
func (p *cfiProgram) run(ins []byte, s cfiState, loc uint64, cie bool, emit func(loc uint64, s *cfiState, next uint64) bool) (cfiState, uint64, error) {
	r := cfiReader{b: ins}
	p.stack = p.stack[:0]
	for r.pos < len(r.b) {
		op := r.byte()
		var advance uint64
		switch op >> 6 {
		case 1: // DW_CFA_advance_loc
			advance = uint64(op&0x3f) * p.codeAlign
		case 2: // DW_CFA_offset
			p.setRule(&s, uint64(op&0x3f), regRule{kind: ruleOffset, off: int64(r.uleb()) * p.dataAlign})
		case 3: // DW_CFA_restore
			p.restore(&s, uint64(op&0x3f), cie)
		default:
			switch op {
			case 0x00: // DW_CFA_nop
			case 0x02: // DW_CFA_advance_loc1
				advance = uint64(r.byte()) * p.codeAlign
			case 0x03: // DW_CFA_advance_loc2
				advance = r.fixed(2) * p.codeAlign
			case 0x04: // DW_CFA_advance_loc4
				advance = r.fixed(4) * p.codeAlign
			case 0x05: // DW_CFA_offset_extended
				reg := r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleOffset, off: int64(r.uleb()) * p.dataAlign})
			case 0x06: // DW_CFA_restore_extended
				p.restore(&s, r.uleb(), cie)
			case 0x07: // DW_CFA_undefined
				p.setRule(&s, r.uleb(), regRule{kind: ruleUndefined})
			case 0x08: // DW_CFA_same_value
				p.setRule(&s, r.uleb(), regRule{kind: ruleSame})
			case 0x09: // DW_CFA_register
				reg := r.uleb()
				r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleOther})
			case 0x0a: // DW_CFA_remember_state
				if len(p.stack) >= maxStateStack {
					return s, loc, errStackDeep
				}
				p.stack = append(p.stack, s)
			case 0x0b: // DW_CFA_restore_state
				if len(p.stack) == 0 {
					return s, loc, errStack
				}
				s = p.stack[len(p.stack)-1]
				p.stack = p.stack[:len(p.stack)-1]
			case 0x0c: // DW_CFA_def_cfa
				reg := r.uleb()
				s.cfa = cfaRule{reg: reg, off: int64(r.uleb())}
			case 0x0d: // DW_CFA_def_cfa_register
				s.cfa.reg, s.cfa.expr = r.uleb(), nil
			case 0x0e: // DW_CFA_def_cfa_offset
				s.cfa.off, s.cfa.expr = int64(r.uleb()), nil
			case 0x0f: // DW_CFA_def_cfa_expression
				s.cfa = cfaRule{expr: r.block()}
			case 0x10: // DW_CFA_expression
				reg := r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleExpr, expr: r.block()})
			case 0x11: // DW_CFA_offset_extended_sf
				reg := r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleOffset, off: r.sleb() * p.dataAlign})
			case 0x12: // DW_CFA_def_cfa_sf
				reg := r.uleb()
				s.cfa = cfaRule{reg: reg, off: r.sleb() * p.dataAlign}
			case 0x13: // DW_CFA_def_cfa_offset_sf
				s.cfa.off, s.cfa.expr = r.sleb()*p.dataAlign, nil
			case 0x14: // DW_CFA_val_offset
				reg := r.uleb()
				r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleOther})
			case 0x15: // DW_CFA_val_offset_sf
				reg := r.uleb()
				r.sleb()
				p.setRule(&s, reg, regRule{kind: ruleOther})
			case 0x16: // DW_CFA_val_expression
				reg := r.uleb()
				r.block()
				p.setRule(&s, reg, regRule{kind: ruleOther})
			case 0x2e: // DW_CFA_GNU_args_size
				r.uleb()
			case 0x2f: // DW_CFA_GNU_negative_offset_extended
				reg := r.uleb()
				p.setRule(&s, reg, regRule{kind: ruleOffset, off: -int64(r.uleb()) * p.dataAlign})
			default: // DW_CFA_set_loc and vendor opcodes: the rest is unknown
				return s, loc, errOpcode
			}
		}
		if r.err != nil {
			return s, loc, r.err
		}
		if advance != 0 && !cie {
			next := loc + advance
			if next < loc { // wrapped: no real code is there
				return s, loc, errTruncated
			}
			if !emit(loc, &s, next) {
				return s, next, nil
			}
			loc = next
		}
	}
	return s, loc, nil
}

func (p *cfiProgram) setRule(s *cfiState, reg uint64, r regRule) {
	switch reg {
	case regRBP:
		s.rbp = r
	case p.raReg:
		s.ra = r
	}
}

// restore puts back the CIE's rule for reg; inside the CIE there is none yet.
func (p *cfiProgram) restore(s *cfiState, reg uint64, cie bool) {
	if cie {
		p.setRule(s, reg, regRule{})
		return
	}
	switch reg {
	case regRBP:
		s.rbp = p.init.rbp
	case p.raReg:
		s.ra = p.init.ra
	}
}
