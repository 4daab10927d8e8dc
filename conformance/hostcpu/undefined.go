package hostcpu

// Undefined-flags table.
//
// Each entry is the set of RFLAGS bits that the Intel SDM (Vol. 2, the
// instruction's "Flags Affected" section; chapter 3 for A–L, chapter 4 for
// M–U) calls undefined. A Form's FlagMask is one of these; Compare ignores
// those bits. Flags the SDM calls "unaffected" or "cleared" are defined and
// compared. Where undefinedness depends on the operands (shift and rotate
// counts), the forms are split by operand class so every form has a single
// static mask (see shiftUndef, rotateUndef, shldUndef).

// undefNone: every affected flag is defined. Covers
//
//	ADD, ADC, SUB, SBB, CMP, NEG, INC, DEC (SDM Vol.2A/2B "Flags Affected":
//	  OF, SF, ZF, AF, CF, PF set according to the result; INC/DEC leave CF
//	  unaffected),
//	XADD, CMPXCHG (Vol.2B XADD / Vol.2A CMPXCHG: flags as ADD / CMP),
//	CMPS, SCAS (Vol.2A CMPS/CMPSB..., Vol.2B SCAS: flags as CMP),
//	NOT, MOV, MOVZX, MOVSX(D), LEA, XCHG, BSWAP, CBW..CQO, CMOVcc, SETcc,
//	  MOVS, STOS, LODS, PUSH, POP, JMP, Jcc, CALL, RET, LOOP ("None"),
//	UCOMISD/COMISD (Vol.2A COMISD, Vol.2B UCOMISD: ZF, PF, CF per the
//	  comparison; OF, AF, SF cleared),
//	and the SSE data movement / arithmetic forms (RFLAGS not affected).
const undefNone uint64 = 0

// undefLogic: SDM Vol.2A AND, Vol.2B OR, XOR, TEST: "The OF and CF flags
// are cleared; the SF, ZF, and PF flags are set according to the result.
// The state of the AF flag is undefined."
const undefLogic = FlagAF

// undefMUL: SDM Vol.2B MUL: "The OF and CF flags are set to 0 if the upper
// half of the result is 0; otherwise, they are set to 1. The SF, ZF, AF,
// and PF flags are undefined."
const undefMUL = FlagSF | FlagZF | FlagAF | FlagPF

// undefIMUL: SDM Vol.2A IMUL: CF and OF are set when significant bits are
// carried into the upper half / truncated; "The SF, ZF, AF, and PF flags are
// undefined." (all three forms)
const undefIMUL = FlagSF | FlagZF | FlagAF | FlagPF

// undefDIV: SDM Vol.2A DIV and IDIV: "The CF, OF, SF, ZF, AF, and PF flags
// are undefined." (When #DE is raised the instruction has no effect; the
// mask still applies, the flags are simply those of the input.)
const undefDIV = StatusFlags

// undefBT: SDM Vol.2A BT, BTC, BTR, BTS: "The CF flag contains the value of
// the selected bit [before it is changed]. The ZF flag is unaffected. The
// OF, SF, AF, and PF flags are undefined."
const undefBT = FlagOF | FlagSF | FlagAF | FlagPF

// undefBSF: SDM Vol.2A BSF and BSR: "The ZF flag is set to 1 if the source
// operand is 0; otherwise, the ZF flag is cleared. The CF, OF, SF, AF, and
// PF flags are undefined." Also: "If the content of the source operand is
// 0, the content of the destination operand is undefined" (AMD documents
// it as unchanged) — the zero-source forms mask the destination register
// through Form.RegMask instead.
const undefBSF = FlagCF | FlagOF | FlagSF | FlagAF | FlagPF

// shiftUndef returns the undefined flags of SHL/SAL, SHR and SAR with a
// masked count in [lo, hi] on a width-bit operand. SDM Vol.2B
// "SAL/SAR/SHL/SHR—Shift", Flags Affected: "The CF flag contains the value
// of the last bit shifted out of the destination operand; it is undefined
// for SHL and SHR instructions where the count is greater than or equal to
// the size (in bits) of the destination operand. The OF flag is affected
// only for 1-bit shifts; otherwise, it is undefined. The SF, ZF, and PF
// flags are set according to the result. If the count is 0, the flags are
// not affected. For a non-zero count, the AF flag is undefined."
func shiftUndef(sar bool, width, lo, hi int) uint64 {
	var m uint64
	if hi == 0 {
		return 0 // count 0: flags not affected
	}
	m |= FlagAF
	if hi > 1 {
		m |= FlagOF
	}
	if !sar && hi >= width {
		m |= FlagCF
	}
	return m
}

// rotateUndef returns the undefined flags of ROL/ROR/RCL/RCR with a masked
// count in [lo, hi]. SDM Vol.2B "RCL/RCR/ROL/ROR—Rotate", Flags Affected:
// "If the masked count is 0, the flags are not affected. If the masked
// count is 1, then the OF flag is affected, otherwise (masked count is
// greater than 1) the OF flag is undefined. The CF flag is affected when the
// masked count is nonzero. The SF, ZF, AF, and PF flags are always
// unaffected."
func rotateUndef(lo, hi int) uint64 {
	if hi > 1 {
		return FlagOF
	}
	return 0
}

// shldUndef returns the undefined flags of SHLD/SHRD with a masked count in
// [lo, hi]. SDM Vol.2B SHLD and SHRD, Flags Affected: "If the count is 1 or
// greater, the CF flag is filled with the last bit shifted out of the
// destination operand and the SF, ZF, and PF flags are set according to the
// value of the result. For a 1-bit shift, the OF flag is set if a sign
// change occurred; otherwise, it is cleared. For shifts greater than 1 bit,
// the OF flag is undefined. If a shift occurs, the AF flag is undefined. If
// the count operand is 0, the flags are not affected. If the count is
// greater than the operand size, the flags are undefined." (The 16-bit
// forms are generated with masked counts <= 16 only; counts 17..31 leave
// the result undefined too.)
func shldUndef(width, lo, hi int) uint64 {
	if hi == 0 {
		return 0
	}
	m := FlagAF
	if hi > 1 {
		m |= FlagOF
	}
	if hi > width {
		m = StatusFlags
	}
	return m
}
