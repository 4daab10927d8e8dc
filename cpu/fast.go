package cpu

import (
	"encoding/binary"
	"unsafe"

	"glassbox/tb"
	"glassbox/tlb"

	"golang.org/x/arch/x86/x86asm"
)

// Specialised handlers for the hottest instruction forms. At translation
// time selectFast gives such an op a handler number (tb.Op.Fn); the
// executor then runs it through the dense switch in runTBs, with the
// operand kinds and sizes already known, instead of the generic dispatch
// (a sparse switch over every x86asm.Op, then generic operand access).
// Every handler computes exactly what the generic one does, faults
// included: only the form's checks that translation already settled are
// left out. Ops without a handler (Fn 0) take the generic path.
//
// The forms were chosen from the dynamic instruction mix of guests/bench
// (Jcc, MOV/ALU/INC/DEC/shifts on 32-bit registers, MOV/MOVZX/CMP with
// simple memory operands). selectFast also fuses the flag-setting op
// before a TB's closing Jcc with it, and marks ops whose flags are dead
// (markDeadFlags).

const (
	fnGeneric uint8 = iota
	fnJcc
	fnMovRR32 // mov r32, r32
	fnMovRI32 // mov r32, imm32
	fnMovRM32 // mov r32, m32
	fnMovMR32 // mov m32, r32
	fnMovMI32 // mov m32, imm32
	fnMovMR8  // mov m8, r8 (low byte register)
	fnMovMI8  // mov m8, imm8
	fnMovRM8  // mov r8, m8 (low byte register)
	fnMovzxRM8
	fnMovzxRM16
	fnMovzxRR8 // movzx r32, r8 (low byte register)
	fnLea32
	fnAddRR32
	fnAddRI32
	fnSubRR32
	fnSubRI32
	fnCmpRR32
	fnCmpRI32
	fnCmpRM32
	fnCmpMI8
	fnAndRR32
	fnAndRI32
	fnOrRR32
	fnOrRI32
	fnXorRR32
	fnXorRI32
	fnTestRR32
	fnTestRI32
	fnIncR32
	fnDecR32
	fnShlRI32
	fnShrRI32
	fnSarRI32
	fnImul
	fnMul
	fnMulR32    // mul r32
	fnImulRR32  // imul r32, r32
	fnImulRRI32 // imul r32, r32, imm

	// Fused pairs: a flag-setting op immediately followed by the Jcc that
	// ends its TB. The handler does both (when the run may go past the
	// first one) and compares the operands directly; the Jcc op keeps its
	// own handler for runs that stop between the two.
	fnSubRRJcc
	fnSubRIJcc
	fnCmpRRJcc
	fnCmpRIJcc
	fnTestRRJcc
	fnTestRIJcc

	fnAlu8RR   // add/sub/cmp/and/or/xor/test r8, r8 (low byte registers)
	fnTestRHI8 // test ah/ch/dh/bh, imm8
	fnJmpRel   // jmp rel
	fnPushR32  // push r32 with a 32-bit stack (the TB's mode flags say so)
	fnPopR32   // pop r32 with a 32-bit stack
	fnCallRel32
	fnRet32

	fnCmpMI8Jcc   // cmp m8, imm fused with the Jcc ending the TB
	fnTestRHI8Jcc // test ah/ch/dh/bh, imm8 fused likewise
	fnCmpRM32Jcc  // cmp r32, m32 fused likewise
	fnCmovRR32    // cmovcc r32, r32
	fnSetccR8     // setcc r8 (low byte register)
	fnNop
	fnRolRI32 // rol r32, imm (or 1)
	fnRorRI32 // ror r32, imm (or 1)
)

// fusedFn maps a flag-setting handler to its fused-with-Jcc form.
var fusedFn = map[uint8]uint8{fnSubRR32: fnSubRRJcc, fnSubRI32: fnSubRIJcc, fnCmpRR32: fnCmpRRJcc,
	fnCmpRI32: fnCmpRIJcc, fnTestRR32: fnTestRRJcc, fnTestRI32: fnTestRIJcc,
	fnCmpMI8: fnCmpMI8Jcc, fnTestRHI8: fnTestRHI8Jcc, fnCmpRM32: fnCmpRM32Jcc}

// selectFast assigns handlers to the ops of a freshly translated TB.
func selectFast(t *tb.TB) {
	stack32 := t.Key.Flags&hfSS32 != 0 && t.Key.Flags&hfCS64 == 0
	for i := range t.Ops {
		op := &t.Ops[i]
		op.Fn = fastFn(op)
		if stack32 && op.Prefix&pfx66 == 0 && isReg(&op.Args[0], 4) && op.Args[1].Kind == okNone {
			switch x86asm.Op(op.Kind) {
			case x86asm.PUSH:
				op.Fn = fnPushR32
			case x86asm.POP:
				op.Fn = fnPopR32
			}
		}
		if stack32 && op.Prefix&pfx66 == 0 && op.Size == 4 {
			switch {
			case op.Kind == uint16(x86asm.CALL) && op.Args[0].Kind == okImm:
				op.Fn = fnCallRel32
			case op.Kind == uint16(x86asm.RET) && op.Args[0].Kind == okNone:
				op.Fn = fnRet32
			}
		}
	}
	if n := len(t.Ops); n >= 2 && t.Ops[n-1].Fn == fnJcc {
		if f, ok := fusedFn[t.Ops[n-2].Fn]; ok {
			t.Ops[n-2].Fn = f
		}
	}
	markDeadFlags(t.Ops)
}

// hintDeadFlags (tb.Op.Hint): the arithmetic flags this op writes are all
// overwritten, and none read, before anything can observe them: the
// handler may leave the lazy flags alone, provided the next op of the TB
// runs too (see runOps).
const hintDeadFlags = 1

// flagEffect says which arithmetic flags op reads and which it always
// writes, as the executor sees it: anything that can fault, stop the TB or
// take the generic path counts as reading every flag (the flags must be
// exact wherever execution can be interrupted or observed), and only
// register-only specialised forms can have dead flags (dead: the form may
// skip its flag update).
func flagEffect(op *tb.Op) (reads, writes uint64, deadOK bool) {
	const all = flagsArith
	switch op.Fn {
	case fnMovRR32, fnMovRI32, fnMovzxRR8, fnLea32:
		return 0, 0, false
	case fnAddRR32, fnAddRI32, fnSubRR32, fnSubRI32, fnCmpRR32, fnCmpRI32,
		fnAndRR32, fnAndRI32, fnOrRR32, fnOrRI32, fnXorRR32, fnXorRI32, fnTestRR32, fnTestRI32,
		fnAlu8RR, fnTestRHI8:
		return 0, all, true
	case fnIncR32, fnDecR32:
		return FLAG_CF, all &^ FLAG_CF, true
	case fnShlRI32, fnShrRI32, fnSarRI32:
		if shiftImm(op) == 0 {
			return 0, 0, false
		}
		return FLAG_AF, all &^ FLAG_AF, true
	case fnMulR32, fnImulRR32, fnImulRRI32:
		return FLAG_AF, all &^ FLAG_AF, true
	case fnNop:
		return 0, 0, false
	case fnSubRRJcc, fnSubRIJcc, fnCmpRRJcc, fnCmpRIJcc, fnTestRRJcc, fnTestRIJcc, fnTestRHI8Jcc:
		// Register-only fused pairs: the flag-setting half always writes
		// the flags before its Jcc (which can fault) reads them, so what
		// ran before it has its flags overwritten. Not deadOK: these
		// handlers always update the lazy flags.
		return 0, all, false
	}
	return all, 0, false
}

// markDeadFlags sets hintDeadFlags by a backward liveness pass over a TB's
// ops; every flag is live where the TB ends.
func markDeadFlags(ops []tb.Op) {
	live := uint64(flagsArith)
	for i := len(ops) - 1; i >= 0; i-- {
		op := &ops[i]
		op.Hint &^= hintDeadFlags
		r, w, ok := flagEffect(op)
		if ok && w&live == 0 && i+1 < len(ops) {
			op.Hint |= hintDeadFlags
			continue // its reads only fed its own flags
		}
		live = r | live&^w
	}
}

// subCond evaluates condition cc for a 32-bit a-b without borrow-in
// (r = a-b): each condition straight from the operands.
func subCond(cc uint8, a, b, r uint64) bool {
	var t bool
	switch cc >> 1 {
	case 0: // O
		t = (a^b)&(a^r)&0x80000000 != 0
	case 1: // B
		t = a < b
	case 2: // Z
		t = a == b
	case 3: // BE
		t = a <= b
	case 4: // S
		t = r&0x80000000 != 0
	case 5: // P
		t = parityTable[r&0xFF]
	case 6: // L
		t = int32(uint32(a)) < int32(uint32(b))
	case 7: // LE
		t = int32(uint32(a)) <= int32(uint32(b))
	}
	return t != (cc&1 != 0)
}

// subCond8 is subCond for 8-bit operands.
func subCond8(cc uint8, a, b, r uint64) bool {
	var t bool
	switch cc >> 1 {
	case 0: // O
		t = (a^b)&(a^r)&0x80 != 0
	case 1: // B
		t = a < b
	case 2: // Z
		t = a == b
	case 3: // BE
		t = a <= b
	case 4: // S
		t = r&0x80 != 0
	case 5: // P
		t = parityTable[r&0xFF]
	case 6: // L
		t = int8(uint8(a)) < int8(uint8(b))
	case 7: // LE
		t = int8(uint8(a)) <= int8(uint8(b))
	}
	return t != (cc&1 != 0)
}

// logicCond evaluates condition cc for a 32-bit logic result (CF=OF=0).
func logicCond(cc uint8, r uint64) bool {
	var t bool
	switch cc >> 1 {
	case 2, 3: // Z, BE
		t = r == 0
	case 4, 6: // S, L
		t = r&0x80000000 != 0
	case 5: // P
		t = parityTable[r&0xFF]
	case 7: // LE
		t = r == 0 || r&0x80000000 != 0
	}
	return t != (cc&1 != 0)
}

// logicCond8 is logicCond for an 8-bit result.
func logicCond8(cc uint8, r uint64) bool {
	var t bool
	switch cc >> 1 {
	case 2, 3: // Z, BE
		t = r == 0
	case 4, 6: // S, L
		t = r&0x80 != 0
	case 5: // P
		t = parityTable[r&0xFF]
	case 7: // LE
		t = r == 0 || r&0x80 != 0
	}
	return t != (cc&1 != 0)
}

func isReg(a *tb.Operand, size uint8) bool { return a.Kind == okReg && a.Size == size }

// simpleMem reports a memory operand of the given size with a 32-bit
// address.
func simpleMem(op *tb.Op, a *tb.Operand, size uint8) bool {
	return a.Kind == okMem && a.Size == size && op.ASize == 4
}

func fastFn(op *tb.Op) uint8 {
	if op.Prefix&pfxLock != 0 {
		return fnGeneric
	}
	a0, a1, a2 := &op.Args[0], &op.Args[1], &op.Args[2]
	if a2.Kind != okNone && op.Kind != uint16(x86asm.IMUL) {
		return fnGeneric
	}
	r0, r1 := isReg(a0, 4), isReg(a1, 4)
	imm1 := a1.Kind == okImm && a1.Size == 4
	switch k := op.Kind; {
	case k == kJcc:
		return fnJcc
	case k == uint16(x86asm.JMP) && a0.Kind == okImm:
		return fnJmpRel
	case k == kNop:
		return fnNop
	case k == kCmov && op.Size == 4 && r0 && r1:
		return fnCmovRR32
	case k == kSetcc && isReg(a0, 1):
		return fnSetccR8
	case op.Size == 1 && isReg(a0, 1) && isReg(a1, 1):
		switch x86asm.Op(k) {
		case x86asm.ADD, x86asm.SUB, x86asm.CMP, x86asm.AND, x86asm.OR, x86asm.XOR, x86asm.TEST:
			return fnAlu8RR
		}
	case op.Size == 1 && k == uint16(x86asm.TEST) && a0.Kind == okRegH && a1.Kind == okImm:
		return fnTestRHI8
	case k == uint16(x86asm.IMUL) && op.Size == 4 && r0 && r1 && a2.Kind == okNone:
		return fnImulRR32
	case k == uint16(x86asm.IMUL) && op.Size == 4 && r0 && r1 && a2.Kind == okImm:
		return fnImulRRI32
	case k == uint16(x86asm.IMUL) && op.Args[1].Kind != okNone:
		return fnImul
	case k == uint16(x86asm.MUL) && op.Size == 4 && r0:
		return fnMulR32
	case k == uint16(x86asm.MUL):
		return fnMul
	case op.Size == 1 && k == uint16(x86asm.MOV):
		switch {
		case simpleMem(op, a0, 1) && isReg(a1, 1):
			return fnMovMR8
		case simpleMem(op, a0, 1) && a1.Kind == okImm:
			return fnMovMI8
		case isReg(a0, 1) && simpleMem(op, a1, 1):
			return fnMovRM8
		}
	case op.Size == 1 && k == uint16(x86asm.CMP) && simpleMem(op, a0, 1) && a1.Kind == okImm:
		return fnCmpMI8
	case op.Size != 4:
	case k == uint16(x86asm.MOV):
		switch {
		case r0 && r1:
			return fnMovRR32
		case r0 && imm1:
			return fnMovRI32
		case r0 && simpleMem(op, a1, 4):
			return fnMovRM32
		case simpleMem(op, a0, 4) && r1:
			return fnMovMR32
		case simpleMem(op, a0, 4) && imm1:
			return fnMovMI32
		}
	case k == uint16(x86asm.MOVZX) && r0:
		switch {
		case simpleMem(op, a1, 1):
			return fnMovzxRM8
		case simpleMem(op, a1, 2):
			return fnMovzxRM16
		case isReg(a1, 1):
			return fnMovzxRR8
		}
	case k == uint16(x86asm.LEA) && r0 && op.ASize == 4:
		return fnLea32
	case k == uint16(x86asm.INC) && r0:
		return fnIncR32
	case k == uint16(x86asm.DEC) && r0:
		return fnDecR32
	case k == uint16(x86asm.CMP) && r0 && simpleMem(op, a1, 4):
		return fnCmpRM32
	case r0 && (a1.Kind == okImm || a1.Kind == okNone) && (k == uint16(x86asm.SHL) || k == uint16(x86asm.SHR) || k == uint16(x86asm.SAR)):
		// Shifts by an immediate count or by 1 (D1 /n has no count operand).
		switch x86asm.Op(k) {
		case x86asm.SHL:
			return fnShlRI32
		case x86asm.SHR:
			return fnShrRI32
		default:
			return fnSarRI32
		}
	case r0 && (a1.Kind == okImm || a1.Kind == okNone) && (k == uint16(x86asm.ROL) || k == uint16(x86asm.ROR)):
		if k == uint16(x86asm.ROL) {
			return fnRolRI32
		}
		return fnRorRI32
	case r0 && (r1 || imm1):
		i := uint8(0)
		if imm1 {
			i = 1
		}
		switch x86asm.Op(k) {
		case x86asm.ADD:
			return fnAddRR32 + i
		case x86asm.SUB:
			return fnSubRR32 + i
		case x86asm.CMP:
			return fnCmpRR32 + i
		case x86asm.AND:
			return fnAndRR32 + i
		case x86asm.OR:
			return fnOrRR32 + i
		case x86asm.XOR:
			return fnXorRR32 + i
		case x86asm.TEST:
			return fnTestRR32 + i
		}
	}
	return fnGeneric
}

// setCC records lazy flags field by field (cheaper than assigning a
// composite literal to c.cc).
func (c *CPU) setCC(op ccOp, size uint8, a, b, res, carry uint64) {
	l := &c.cc
	l.op, l.size, l.a, l.b, l.res, l.carry = op, size, a, b, res, carry
}

// Loads and stores for the handlers: seg:off with the segment check and the
// TLB hit in one function (instead of linR/linW followed by rdN/wrN);
// everything else (64-bit mode, #AC checking, faults, TLB misses, MMIO,
// NOTDIRTY and WATCH pages, page-crossing accesses) goes the usual way.

func (c *CPU) ld8(seg uint8, off uint64) uint8 {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 == 0 && !c.acCheck && s.canRead && off >= s.lo && off <= s.hi {
		la := (s.Base + off) & 0xFFFFFFFF
		e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
		if e.Read == la&^0xFFF {
			hit(e)
			return e.Host[la&0xFFF]
		}
	}
	return c.rd8(c.linR(int(seg), off, 1))
}

func (c *CPU) ld16(seg uint8, off uint64) uint16 {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 == 0 && !c.acCheck && s.canRead && off >= s.lo && off+1 <= s.hi {
		la := (s.Base + off) & 0xFFFFFFFF
		e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
		if e.Read == la&^0xFFF && la&0xFFF <= 0xFFE {
			hit(e)
			return binary.LittleEndian.Uint16(e.Host[la&0xFFF:])
		}
	}
	return c.rd16(c.linR(int(seg), off, 2))
}

func (c *CPU) ld32(seg uint8, off uint64) uint32 {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 == 0 && !c.acCheck && s.canRead && off >= s.lo && off+3 <= s.hi {
		la := (s.Base + off) & 0xFFFFFFFF
		e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
		if e.Read == la&^0xFFF && la&0xFFF <= 0xFFC {
			hit(e)
			return binary.LittleEndian.Uint32(e.Host[la&0xFFF:])
		}
	}
	return c.rd32(c.linR(int(seg), off, 4))
}

func (c *CPU) st8(seg uint8, off uint64, v uint8) {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 == 0 && !c.acCheck && s.canWrit && off >= s.lo && off <= s.hi {
		la := (s.Base + off) & 0xFFFFFFFF
		e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
		if e.Write == la&^0xFFF {
			hit(e)
			e.Host[la&0xFFF] = v
			return
		}
	}
	c.wr8(c.linW(int(seg), off, 1), v)
}

func (c *CPU) st32(seg uint8, off uint64, v uint32) {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 == 0 && !c.acCheck && s.canWrit && off >= s.lo && off+3 <= s.hi {
		la := (s.Base + off) & 0xFFFFFFFF
		e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
		if e.Write == la&^0xFFF && la&0xFFF <= 0xFFC {
			hit(e)
			binary.LittleEndian.PutUint32(e.Host[la&0xFFF:], v)
			return
		}
	}
	c.wr32(c.linW(int(seg), off, 4), v)
}

// ea32 is ea for the specialised memory forms, whose address size is 32
// bits (simpleMem).
func (c *CPU) ea32(op *tb.Op) uint64 {
	a := uint64(op.Disp)
	if op.Base != noReg {
		a += c.R[op.Base&15]
	}
	if op.Index != noReg {
		a += c.R[op.Index&15] << (op.Scale & 3)
	}
	return a & 0xFFFFFFFF
}

// shiftImm is the masked count of a shift by an immediate (or by 1).
func shiftImm(op *tb.Op) uint {
	if op.Args[1].Kind == okNone {
		return 1
	}
	return uint(op.Imm & 0x1F)
}

// runOps executes ops in order, each through its specialised handler or
// the generic one, until an op asks to leave the TB (c.stopTB). It returns
// that op's index, or len(ops). The dispatch loop and the handlers share
// one function so that no call separates consecutive ops.
//
// c.curOp (the op a fault or software interrupt is attributed to) is set
// only by handlers that can fault, and c.stopTB is checked only after
// handlers that can set it (memory accesses: SMC, MMIO; generic ops): the
// register-only forms end with continue.
func (c *CPU) runOps(ops []tb.Op) int {
	_, i := c.runTBs(nil, ops, 0)
	return i
}

// runTBs is runOps over ops; given their TB t (a whole TB, run without
// per-TB checks pending: see runSome), it also goes on through TB links
// while runSome would follow them, so that a chain of TBs runs without
// leaving the dispatch loop. It returns the TB it stopped in and the
// index of the op that asked to leave (runSome's leaveTB finishes it), or
// len(ops) when that TB ran to its end; a TB that ran to its end has been
// accounted for (ICount, EIP) and left (curTB nil).
func (c *CPU) runTBs(t *tb.TB, ops []tb.Op, end uint64) (*tb.TB, int) {
	for {
	run:
		for i := 0; i < len(ops); i++ {
			op := &ops[i]
			// Register numbers are below 16; the mask spares the bounds checks.
			a0, a1 := op.Args[0].Reg&15, op.Args[1].Reg&15
			switch op.Fn {
			case fnGeneric:
				c.curOp = i
				c.checkNext = true
				c.exec(op)
			case fnJcc:
				if c.cond(a1) {
					if t := op.Imm; t <= uint64(c.Seg[CS].Limit) && c.hflags&hfCS64 == 0 {
						c.EIP = t
						continue
					}
					c.curOp = i
					c.jumpNear(op.Imm) // the limit/canonical checks and their #GP
				} else {
					c.EIP = op.Next
					continue
				}
			case fnMovRR32:
				c.R[a0] = c.R[a1] & 0xFFFFFFFF
				continue
			case fnMovRI32:
				c.R[a0] = op.Imm & 0xFFFFFFFF
				continue
			case fnMovRM32:
				c.curOp = i
				c.R[a0] = uint64(c.ld32(op.Seg, c.ea32(op)))
			case fnMovMR32:
				c.curOp = i
				c.st32(op.Seg, c.ea32(op), uint32(c.R[a1]))
			case fnMovMI32:
				c.curOp = i
				c.st32(op.Seg, c.ea32(op), uint32(op.Imm))
			case fnMovMR8:
				c.curOp = i
				c.st8(op.Seg, c.ea32(op), uint8(c.R[a1]))
			case fnMovMI8:
				c.curOp = i
				c.st8(op.Seg, c.ea32(op), uint8(op.Imm))
			case fnMovRM8:
				c.curOp = i
				v := c.ld8(op.Seg, c.ea32(op))
				c.R[a0] = c.R[a0]&^0xFF | uint64(v)
			case fnMovzxRM8:
				c.curOp = i
				c.R[a0] = uint64(c.ld8(op.Seg, c.ea32(op)))
			case fnMovzxRM16:
				c.curOp = i
				c.R[a0] = uint64(c.ld16(op.Seg, c.ea32(op)))
			case fnMovzxRR8:
				c.R[a0] = c.R[a1] & 0xFF
				continue
			case fnLea32:
				c.R[a0] = c.ea32(op) & 0xFFFFFFFF
				continue
			case fnAddRR32:
				c.add32(op, a0, c.R[a1]&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnAddRI32:
				c.add32(op, a0, op.Imm&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnSubRR32:
				c.R[a0] = c.sub32(op, a0, c.R[a1]&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnSubRI32:
				c.R[a0] = c.sub32(op, a0, op.Imm&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnCmpRR32:
				c.sub32(op, a0, c.R[a1]&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnCmpRI32:
				c.sub32(op, a0, op.Imm&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnSubRRJcc, fnSubRIJcc, fnCmpRRJcc, fnCmpRIJcc:
				// The Jcc is ops[i+1]; when the run stops before it, only the
				// first op runs.
				a, b := c.R[a0]&0xFFFFFFFF, c.R[a1]&0xFFFFFFFF
				if op.Fn == fnSubRIJcc || op.Fn == fnCmpRIJcc {
					b = op.Imm & 0xFFFFFFFF
				}
				r := a - b
				if op.Fn <= fnSubRIJcc {
					c.R[a0] = r & 0xFFFFFFFF
				}
				c.setCC(ccSub, 4, a, b, r, 0)
				if j := i + 1; j < len(ops) {
					jop := &ops[j]
					t := jop.Next
					if subCond(jop.Args[1].Reg, a, b, r&0xFFFFFFFF) {
						if t = jop.Imm; t > uint64(c.Seg[CS].Limit) || c.hflags&hfCS64 != 0 {
							c.jumpFrom(j, t)
							break run
						}
					}
					c.EIP = t
					break run
				}
				continue
			case fnTestRRJcc, fnTestRIJcc:
				b := c.R[a1]
				if op.Fn == fnTestRIJcc {
					b = op.Imm
				}
				r := c.R[a0] & b & 0xFFFFFFFF
				c.cc.op, c.cc.size, c.cc.res = ccLogic, 4, r
				if j := i + 1; j < len(ops) {
					jop := &ops[j]
					t := jop.Next
					if logicCond(jop.Args[1].Reg, r) {
						if t = jop.Imm; t > uint64(c.Seg[CS].Limit) || c.hflags&hfCS64 != 0 {
							c.jumpFrom(j, t)
							break run
						}
					}
					c.EIP = t
					break run
				}
				continue
			case fnCmpRM32:
				c.curOp = i
				a := c.R[a0] & 0xFFFFFFFF
				b := uint64(c.ld32(op.Seg, c.ea32(op)))
				c.setCC(ccSub, 4, a, b, a-b, 0)
			case fnCmpMI8:
				c.curOp = i
				a := uint64(c.ld8(op.Seg, c.ea32(op)))
				b := op.Imm & 0xFF
				c.setCC(ccSub, 1, a, b, a-b, 0)
			case fnAndRR32:
				c.R[a0] = c.logic32(op, c.R[a0]&c.R[a1]&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnAndRI32:
				c.R[a0] = c.logic32(op, c.R[a0]&op.Imm&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnOrRR32:
				c.R[a0] = c.logic32(op, (c.R[a0]|c.R[a1])&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnOrRI32:
				c.R[a0] = c.logic32(op, (c.R[a0]|op.Imm)&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnXorRR32:
				c.R[a0] = c.logic32(op, (c.R[a0]^c.R[a1])&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnXorRI32:
				c.R[a0] = c.logic32(op, (c.R[a0]^op.Imm)&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnTestRR32:
				c.logic32(op, c.R[a0]&c.R[a1]&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnTestRI32:
				c.logic32(op, c.R[a0]&op.Imm&0xFFFFFFFF, i+1 < len(ops))
				continue
			case fnIncR32:
				a := c.R[a0] & 0xFFFFFFFF
				r := (a + 1) & 0xFFFFFFFF
				c.R[a0] = r
				if op.Hint&hintDeadFlags == 0 || i+1 == len(ops) {
					c.setCC(ccInc, 4, a, 1, r, c.cfBit())
				}
				continue
			case fnDecR32:
				a := c.R[a0] & 0xFFFFFFFF
				r := (a - 1) & 0xFFFFFFFF
				c.R[a0] = r
				if op.Hint&hintDeadFlags == 0 || i+1 == len(ops) {
					c.setCC(ccDec, 4, a, 1, r, c.cfBit())
				}
				continue
			case fnShlRI32:
				a := c.R[a0] & 0xFFFFFFFF
				cnt := shiftImm(op)
				r := a << cnt & 0xFFFFFFFF
				c.R[a0] = r // a 32-bit register write even when nothing shifts
				if cnt != 0 && (op.Hint&hintDeadFlags == 0 || i+1 == len(ops)) {
					cf := a >> (32 - cnt) & 1
					of := (r>>31 ^ cf) * FLAG_OF
					c.setCC(ccShift, 4, 0, 0, r, cf|of|c.af())
				}
				continue
			case fnShrRI32:
				a := c.R[a0] & 0xFFFFFFFF
				cnt := shiftImm(op)
				r := a >> cnt
				c.R[a0] = r
				if cnt != 0 && (op.Hint&hintDeadFlags == 0 || i+1 == len(ops)) {
					cf := a >> (cnt - 1) & 1
					of := a >> 31 * FLAG_OF
					c.setCC(ccShift, 4, 0, 0, r, cf|of|c.af())
				}
				continue
			case fnSarRI32:
				sa := int64(int32(uint32(c.R[a0])))
				cnt := shiftImm(op)
				r := uint64(sa>>cnt) & 0xFFFFFFFF
				c.R[a0] = r
				if cnt != 0 && (op.Hint&hintDeadFlags == 0 || i+1 == len(ops)) {
					cf := uint64(sa>>(cnt-1)) & 1
					c.setCC(ccShift, 4, 0, 0, r, cf|c.af())
				}
				continue
			case fnMulR32:
				// Flags as mul1: CF=OF=high half non-zero, SF/ZF/PF from the low
				// half, AF kept.
				r := (c.R[RAX] & 0xFFFFFFFF) * (c.R[a0] & 0xFFFFFFFF)
				lo, hi := r&0xFFFFFFFF, r>>32
				var f uint64
				if hi != 0 {
					f = FLAG_CF | FLAG_OF
				}
				c.R[RAX], c.R[RDX] = lo, hi
				if op.Hint&hintDeadFlags == 0 || i+1 == len(ops) {
					c.setCC(ccShift, 4, 0, 0, lo, f|c.af())
				}
				continue
			case fnImulRR32, fnImulRRI32:
				// Flags as imulN: CF=OF=signed overflow, SF/ZF/PF from the
				// result, AF kept.
				var p int64
				if op.Fn == fnImulRR32 {
					p = int64(int32(uint32(c.R[a0]))) * int64(int32(uint32(c.R[a1])))
				} else {
					p = int64(int32(uint32(c.R[a1]))) * int64(int32(uint32(op.Imm)))
				}
				r := uint64(p) & 0xFFFFFFFF
				c.R[a0] = r
				if op.Hint&hintDeadFlags == 0 || i+1 == len(ops) {
					var f uint64
					if p != int64(int32(p)) {
						f = FLAG_CF | FLAG_OF
					}
					c.setCC(ccShift, 4, 0, 0, r, f|c.af())
				}
				continue
			case fnCmpMI8Jcc, fnCmpRM32Jcc:
				c.curOp = i
				var a, b, r uint64
				var taken bool
				j := i + 1
				if op.Fn == fnCmpMI8Jcc {
					a, b = uint64(c.ld8(op.Seg, c.ea32(op))), op.Imm&0xFF
					r = a - b
					c.setCC(ccSub, 1, a, b, r, 0)
					taken = j < len(ops) && subCond8(ops[j].Args[1].Reg, a, b, r&0xFF)
				} else {
					a, b = c.R[a0]&0xFFFFFFFF, uint64(c.ld32(op.Seg, c.ea32(op)))
					r = a - b
					c.setCC(ccSub, 4, a, b, r, 0)
					taken = j < len(ops) && subCond(ops[j].Args[1].Reg, a, b, r&0xFFFFFFFF)
				}
				if c.stopTB {
					return t, i // a load that must end the TB (MMIO) ends it before the Jcc
				}
				if j < len(ops) {
					jop := &ops[j]
					t := jop.Next
					if taken {
						if t = jop.Imm; t > uint64(c.Seg[CS].Limit) || c.hflags&hfCS64 != 0 {
							c.jumpFrom(j, t)
							break run
						}
					}
					c.EIP = t
					break run
				}
				continue
			case fnTestRHI8Jcc:
				r := c.R[a0] >> 8 & op.Imm & 0xFF
				c.cc.op, c.cc.size, c.cc.res = ccLogic, 1, r
				if j := i + 1; j < len(ops) {
					jop := &ops[j]
					t := jop.Next
					if logicCond8(jop.Args[1].Reg, r) {
						if t = jop.Imm; t > uint64(c.Seg[CS].Limit) || c.hflags&hfCS64 != 0 {
							c.jumpFrom(j, t)
							break run
						}
					}
					c.EIP = t
					break run
				}
				continue
			case fnCmovRR32:
				v := c.R[a0]
				if c.cond(op.Args[2].Reg) {
					v = c.R[a1]
				}
				c.R[a0] = v & 0xFFFFFFFF // 32-bit CMOV always zero-extends
				continue
			case fnSetccR8:
				var v uint64
				if c.cond(a1) {
					v = 1
				}
				c.R[a0] = c.R[a0]&^0xFF | v
				continue
			case fnNop:
				continue
			case fnRolRI32, fnRorRI32:
				a := c.R[a0] & 0xFFFFFFFF
				cnt := shiftImm(op)
				if cnt == 0 {
					c.R[a0] = a // a 32-bit register write even when nothing rotates
					continue
				}
				var r, cf, of uint64
				if op.Fn == fnRolRI32 {
					r = (a<<cnt | a>>(32-cnt)) & 0xFFFFFFFF
					cf = r & 1
					of = (r>>31 ^ cf) * FLAG_OF
				} else {
					r = (a>>cnt | a<<(32-cnt)) & 0xFFFFFFFF
					cf = r >> 31
					of = (r>>31 ^ r>>30&1) * FLAG_OF
				}
				c.R[a0] = r
				c.setArith(c.getFlags()&^(FLAG_CF|FLAG_OF) | cf | of)
				continue
			case fnJmpRel:
				if t := op.Imm; t <= uint64(c.Seg[CS].Limit) && c.hflags&hfCS64 == 0 {
					c.EIP = t
					continue
				}
				c.curOp = i
				c.jumpNear(op.Imm) // the limit/canonical checks and their #GP
			case fnAlu8RR:
				a, b := c.R[a0]&0xFF, c.R[a1]&0xFF
				var r uint64
				setf := op.Hint&hintDeadFlags == 0 || i+1 == len(ops)
				switch x86asm.Op(op.Kind) {
				case x86asm.ADD:
					r = a + b
					if setf {
						c.setCC(ccAdd, 1, a, b, r, 0)
					}
				case x86asm.SUB, x86asm.CMP:
					r = a - b
					if setf {
						c.setCC(ccSub, 1, a, b, r, 0)
					}
				case x86asm.AND, x86asm.TEST:
					r = a & b
					if setf {
						c.cc.op, c.cc.size, c.cc.res = ccLogic, 1, r
					}
				case x86asm.OR:
					r = a | b
					if setf {
						c.cc.op, c.cc.size, c.cc.res = ccLogic, 1, r
					}
				default:
					r = a ^ b
					if setf {
						c.cc.op, c.cc.size, c.cc.res = ccLogic, 1, r
					}
				}
				if k := x86asm.Op(op.Kind); k != x86asm.CMP && k != x86asm.TEST {
					c.R[a0] = c.R[a0]&^0xFF | r&0xFF
				}
				continue
			case fnTestRHI8:
				if op.Hint&hintDeadFlags == 0 || i+1 == len(ops) {
					c.cc.op, c.cc.size, c.cc.res = ccLogic, 1, c.R[a0]>>8&op.Imm&0xFF
				}
				continue
			case fnPushR32:
				c.curOp = i
				sp := (c.R[RSP] - 4) & 0xFFFFFFFF
				c.st32(SS, sp, uint32(c.R[a0]))
				c.R[RSP] = c.R[RSP]&^0xFFFFFFFF | sp
			case fnCallRel32:
				c.curOp = i
				// As the generic CALL: push the return address, then jump.
				sp := (c.R[RSP] - 4) & 0xFFFFFFFF
				c.st32(SS, sp, uint32(op.Next))
				c.R[RSP] = c.R[RSP]&^0xFFFFFFFF | sp
				if t := op.Imm; t <= uint64(c.Seg[CS].Limit) && c.hflags&hfCS64 == 0 {
					c.EIP = t
				} else {
					c.jumpNear(t)
				}
			case fnRet32:
				c.curOp = i
				// As the generic RET: check the target before popping.
				sp := c.R[RSP] & 0xFFFFFFFF
				t := uint64(c.ld32(SS, sp))
				if t > uint64(c.Seg[CS].Limit) || c.hflags&hfCS64 != 0 {
					c.checkNearTarget(t)
				}
				c.R[RSP] = c.R[RSP]&^0xFFFFFFFF | (sp+4)&0xFFFFFFFF
				c.EIP = t
			case fnPopR32:
				c.curOp = i
				sp := c.R[RSP] & 0xFFFFFFFF
				v := c.ld32(SS, sp)
				c.R[RSP] = c.R[RSP]&^0xFFFFFFFF | (sp+4)&0xFFFFFFFF
				c.R[a0] = uint64(v)
			case fnImul:
				c.curOp = i
				c.checkNext = true
				c.imulN(op)
			case fnMul:
				c.curOp = i
				c.checkNext = true
				c.mul1(op, false)
			default:
				c.curOp = i
				c.checkNext = true
				c.exec(op)
			}
			if c.stopTB {
				return t, i
			}
		}
		if t == nil {
			return nil, len(ops)
		}
		// As runSome after a whole TB: account for it, then follow its
		// link if none of runSome's between-TB checks holds.
		//
		// Those checks look at state that only generic ops and slow
		// memory paths (devices, hooks, watchpoints) change during a turn:
		// the specialised handlers touch registers, arithmetic flags and
		// RAM through the TLB, the virtual clock only advances between
		// turns, and faults leave runTBs. Those paths set c.checkNext; so
		// unless one ran since the last check (or breakpoints need the PC
		// checked), only the budget needs checking.
		c.ICount += uint64(len(ops))
		if !t.LastBranch {
			c.EIP = t.FallEIP
		}
		c.bpSkip = false
		if c.ICount+c.yields >= end || c.checkNext || debugChecks && c.bpActive {
			if c.ICount+c.yields >= end || c.singleStep || c.exitReq || c.Halted || c.shutdown || c.needOuter || c.yieldTurn ||
				c.inhibit || c.flags&FLAG_TF != 0 || c.Trace != nil || c.hwSlow ||
				c.flags&FLAG_IF != 0 && c.intc != nil && c.intc.Pending() ||
				debugChecks && c.bpActive && c.isBreakpoint(c.PC()) {
				c.curTB = nil
				return t, len(ops)
			}
			c.checkNext = false
		}
		next := c.chainNext(t)
		if next == nil {
			c.curTB = nil
			return t, len(ops)
		}
		t, ops = next, next.Ops
		if statsOn {
			c.chained++
			t.ExecCount++
			c.recordHistory(t)
		}
		c.curTB = t
	}
}

// add32, sub32 and logic32 are the 32-bit register ALU handlers' bodies
// (inlined into runTBs, one copy per form): the result, and the lazy flags
// unless they are dead (more: the next op of the TB runs too).
func (c *CPU) add32(op *tb.Op, d uint8, b uint64, more bool) {
	a := c.R[d&15] & 0xFFFFFFFF
	r := a + b
	c.R[d&15] = r & 0xFFFFFFFF
	if op.Hint&hintDeadFlags == 0 || !more {
		c.setCC(ccAdd, 4, a, b, r, 0)
	}
}

func (c *CPU) sub32(op *tb.Op, d uint8, b uint64, more bool) uint64 {
	a := c.R[d&15] & 0xFFFFFFFF
	r := a - b
	if op.Hint&hintDeadFlags == 0 || !more {
		c.setCC(ccSub, 4, a, b, r, 0)
	}
	return r & 0xFFFFFFFF
}

func (c *CPU) logic32(op *tb.Op, r uint64, more bool) uint64 {
	if op.Hint&hintDeadFlags == 0 || !more {
		c.cc.op, c.cc.size, c.cc.res = ccLogic, 4, r
	}
	return r
}

// cfBit is CF as a flag bit (INC/DEC keep it).
func (c *CPU) cfBit() uint64 {
	if c.cf() {
		return FLAG_CF
	}
	return 0
}

// jumpFrom is jumpNear for op j of the running TB (its #GP is that op's).
//
//go:noinline
func (c *CPU) jumpFrom(j int, t uint64) {
	c.curOp = j
	c.jumpNear(t) // the limit/canonical checks and their #GP
}

// execFast runs one op as runOps would (tests, single ops).
func (c *CPU) execFast(op *tb.Op) { c.runOps(unsafe.Slice(op, 1)) }

// hit counts a fast-path TLB hit (see statsOn).
func hit(e *tlb.Entry) {
	if statsOn {
		e.Hits++
	}
}
