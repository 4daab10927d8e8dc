package cpu

import (
	"glassbox/memmap"
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// Translation: decode guest instructions at a PC with x86asm and lower them
// into tb.Op values the executor runs without re-decoding.

// Operand kinds (tb.Operand.Kind).
const (
	okNone uint8 = iota
	okReg        // general register R[Reg], Size bytes
	okRegH       // AH/CH/DH/BH: bits 8-15 of R[Reg]
	okMem        // the op's memory operand
	okImm        // op.Imm
	okImm2       // op.Imm2
	okSeg        // segment register Reg
	okCR
	okDR
	okST  // x87 ST(Reg)
	okXMM // XMM Reg
	okMM  // MMX Reg
)

// Prefix bits (tb.Op.Prefix).
const (
	pfxRep   = 1 << 0
	pfxRepne = 1 << 1
	pfxLock  = 1 << 2
	pfxSeg   = 1 << 3 // explicit segment override
	pfxRex   = 1 << 4
	pfx66    = 1 << 5
)

const noReg = 0xFF

// maxTBInsns bounds a translation block.
const maxTBInsns = 64

func regOperand(r x86asm.Reg) (tb.Operand, bool) {
	switch {
	case r >= x86asm.AL && r <= x86asm.BL:
		return tb.Operand{Kind: okReg, Reg: uint8(r - x86asm.AL), Size: 1}, true
	case r >= x86asm.AH && r <= x86asm.BH:
		return tb.Operand{Kind: okRegH, Reg: uint8(r - x86asm.AH), Size: 1}, true
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return tb.Operand{Kind: okReg, Reg: uint8(r-x86asm.SPB) + 4, Size: 1}, true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return tb.Operand{Kind: okReg, Reg: uint8(r - x86asm.AX), Size: 2}, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return tb.Operand{Kind: okReg, Reg: uint8(r - x86asm.EAX), Size: 4}, true
	case r >= x86asm.RAX && r <= x86asm.R15:
		return tb.Operand{Kind: okReg, Reg: uint8(r - x86asm.RAX), Size: 8}, true
	case r >= x86asm.ES && r <= x86asm.GS:
		return tb.Operand{Kind: okSeg, Reg: uint8(r - x86asm.ES), Size: 2}, true
	case r >= x86asm.CR0 && r <= x86asm.CR15:
		return tb.Operand{Kind: okCR, Reg: uint8(r - x86asm.CR0), Size: 8}, true
	case r >= x86asm.DR0 && r <= x86asm.DR15:
		return tb.Operand{Kind: okDR, Reg: uint8(r - x86asm.DR0), Size: 8}, true
	case r >= x86asm.F0 && r <= x86asm.F7:
		return tb.Operand{Kind: okST, Reg: uint8(r - x86asm.F0), Size: 10}, true
	case r >= x86asm.X0 && r <= x86asm.X15:
		return tb.Operand{Kind: okXMM, Reg: uint8(r - x86asm.X0), Size: 16}, true
	case r >= x86asm.M0 && r <= x86asm.M7:
		return tb.Operand{Kind: okMM, Reg: uint8(r - x86asm.M0), Size: 8}, true
	}
	return tb.Operand{}, false
}

// gprIndex maps an address register to its number.
func gprIndex(r x86asm.Reg) uint8 {
	switch {
	case r >= x86asm.AX && r <= x86asm.R15W:
		return uint8(r - x86asm.AX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return uint8(r - x86asm.EAX)
	case r >= x86asm.RAX && r <= x86asm.R15:
		return uint8(r - x86asm.RAX)
	}
	return noReg
}

var scaleShift = [9]uint8{0, 0, 1, 0, 2, 0, 0, 0, 3}

// lockable lists the instructions LOCK may prefix (SDM Vol. 2 LOCK).
var lockable = map[x86asm.Op]bool{x86asm.ADD: true, x86asm.ADC: true, x86asm.AND: true,
	x86asm.BTC: true, x86asm.BTR: true, x86asm.BTS: true, x86asm.CMPXCHG: true,
	x86asm.CMPXCHG8B: true, x86asm.CMPXCHG16B: true, x86asm.DEC: true, x86asm.INC: true,
	x86asm.NEG: true, x86asm.NOT: true, x86asm.OR: true, x86asm.SBB: true, x86asm.SUB: true,
	x86asm.XOR: true, x86asm.XADD: true, x86asm.XCHG: true}

// lower converts one decoded instruction into an Op. eip is the offset of
// the instruction in CS. It reports whether the instruction ends the TB.
func lower(inst *x86asm.Inst, kind int, eip uint64, mode int) (op tb.Op, ends bool) {
	op = tb.Op{Kind: uint16(kind), Len: uint8(inst.Len), EIP: eip, Base: noReg, Index: noReg}
	next := eip + uint64(inst.Len)
	switch mode {
	case 16:
		next &= 0xFFFF
	case 32:
		next &= 0xFFFFFFFF
	}
	op.Next = next
	op.ASize = uint8(inst.AddrSize / 8)
	if op.ASize == 0 {
		op.ASize = uint8(mode / 8)
	}
	op.Size = uint8(inst.DataSize / 8)
	if op.Size == 0 {
		op.Size = uint8(mode / 8)
	}
	op.Seg = DS
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored | x86asm.PrefixInvalid) {
		case x86asm.PrefixREP:
			op.Prefix |= pfxRep
		case x86asm.PrefixREPN:
			op.Prefix |= pfxRepne
		case x86asm.PrefixLOCK:
			op.Prefix |= pfxLock
		case x86asm.PrefixDataSize, x86asm.PrefixData16, x86asm.PrefixData32:
			op.Prefix |= pfx66
		}
		if p.IsREX() {
			op.Prefix |= pfxRex
		}
	}
	if kind >= kindBase {
		return op, false
	}
	x := inst.Op
	nimm := 0
	for i, a := range inst.Args {
		if a == nil || i >= 3 {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			o, ok := regOperand(a)
			if !ok {
				return udOp(op), false
			}
			op.Args[i] = o
		case x86asm.Mem:
			op.Args[i] = tb.Operand{Kind: okMem, Size: uint8(inst.MemBytes)}
			if op.Args[i].Size == 0 {
				op.Args[i].Size = op.Size
			}
			op.Disp = a.Disp
			// x86asm zero-extends disp32; the CPU sign-extends it (a
			// 64-bit moffs, opcodes A0-A3, is a full address instead).
			if a.Disp >= 0 && a.Disp <= 0xFFFFFFFF && mode == 64 && !(inst.Opcode>>24 >= 0xA0 && inst.Opcode>>24 <= 0xA3) {
				op.Disp = int64(int32(uint32(a.Disp)))
			}
			if a.Base == x86asm.RIP || a.Base == x86asm.EIP {
				op.Disp += int64(eip + uint64(inst.Len))
			} else if a.Base != 0 {
				op.Base = gprIndex(a.Base)
			}
			if a.Index != 0 {
				op.Index = gprIndex(a.Index)
				op.Scale = scaleShift[a.Scale&15]
			}
			switch {
			case a.Segment != 0:
				op.Seg = uint8(a.Segment - x86asm.ES)
				// x86asm fills ES for string destinations; a real
				// override shows up as a segment prefix.
				for _, p := range inst.Prefix {
					if p == 0 {
						break
					}
					switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored) {
					case x86asm.PrefixES, x86asm.PrefixCS, x86asm.PrefixSS, x86asm.PrefixDS, x86asm.PrefixFS, x86asm.PrefixGS:
						if p&x86asm.PrefixIgnored == 0 {
							op.Prefix |= pfxSeg
						}
					}
				}
			case a.Base == x86asm.BP || a.Base == x86asm.EBP || a.Base == x86asm.RBP ||
				a.Base == x86asm.SP || a.Base == x86asm.ESP || a.Base == x86asm.RSP:
				op.Seg = SS
			default:
				op.Seg = DS
			}
		case x86asm.Imm:
			if nimm == 0 {
				op.Imm = uint64(a)
				op.Args[i] = tb.Operand{Kind: okImm, Size: op.Size}
			} else {
				op.Imm2 = uint64(a)
				op.Args[i] = tb.Operand{Kind: okImm2, Size: op.Size}
			}
			nimm++
		case x86asm.Rel:
			t := next + uint64(int64(a))
			switch op.Size {
			case 2:
				t &= 0xFFFF
			case 4:
				t &= 0xFFFFFFFF
			}
			if mode == 64 {
				t = next + uint64(int64(a))
			}
			op.Imm = t
			op.Args[i] = tb.Operand{Kind: okImm, Size: op.Size}
		default:
			return udOp(op), false
		}
	}
	// operand size of the instruction = first explicit operand's size
	if op.Args[0].Kind != okNone && op.Args[0].Kind != okImm && op.Args[0].Kind != okSeg && op.Args[0].Size <= 8 {
		switch x {
		case x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.IN, x86asm.OUT, x86asm.LAR, x86asm.LSL,
			x86asm.LCALL, x86asm.LJMP, x86asm.LGDT, x86asm.LIDT, x86asm.SGDT, x86asm.SIDT,
			x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		default:
			op.Size = op.Args[0].Size
		}
	}
	if op.Prefix&pfxLock != 0 && (!lockable[x] || op.Args[0].Kind != okMem) {
		if !(x == x86asm.CMPXCHG8B || x == x86asm.CMPXCHG16B) || op.Args[0].Kind != okMem {
			return udOp(op), false
		}
	}
	if mode == 64 {
		switch x {
		case x86asm.PUSH, x86asm.POP:
			// 64-bit mode stack operations default to 64 bits.
			if op.Prefix&pfx66 != 0 {
				op.Size = 2
			} else {
				op.Size = 8
			}
		}
	}
	if isStringOp(x) {
		// Source segment: DS unless overridden by a (non-ignored) prefix.
		op.Seg = DS
		op.Prefix &^= pfxSeg
		for _, p := range inst.Prefix {
			if p == 0 {
				break
			}
			if p&x86asm.PrefixIgnored != 0 {
				continue
			}
			switch p &^ x86asm.PrefixImplicit {
			case x86asm.PrefixES:
				op.Seg, op.Prefix = ES, op.Prefix|pfxSeg
			case x86asm.PrefixCS:
				op.Seg, op.Prefix = CS, op.Prefix|pfxSeg
			case x86asm.PrefixSS:
				op.Seg, op.Prefix = SS, op.Prefix|pfxSeg
			case x86asm.PrefixDS:
				op.Seg, op.Prefix = DS, op.Prefix|pfxSeg
			case x86asm.PrefixFS:
				op.Seg, op.Prefix = FS, op.Prefix|pfxSeg
			case x86asm.PrefixGS:
				op.Seg, op.Prefix = GS, op.Prefix|pfxSeg
			}
		}
	}
	if (x == x86asm.LJMP || x == x86asm.LCALL) && op.Args[0].Kind == okImm {
		// x86asm gives ptr16:16/32 as (selector, offset).
		op.Imm, op.Imm2 = op.Imm2, op.Imm
		op.Args[0].Kind, op.Args[1].Kind = okImm, okImm2
	}
	opc := inst.Opcode >> 24
	opc2 := inst.Opcode >> 16 & 0xFF
	if opc >= 0xD8 && opc <= 0xDF {
		op.Imm = uint64(inst.Opcode) // x87: opcode byte and ModRM for the FPU (fpu.go)
	}
	switch x {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE, x86asm.JG, x86asm.JGE,
		x86asm.JL, x86asm.JLE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO, x86asm.JP, x86asm.JS:
		op.Kind = kJcc
		if opc == 0x0F {
			op.Args[1].Reg = uint8(opc2 & 15)
		} else {
			op.Args[1].Reg = uint8(opc & 15)
		}
		return op, true
	case x86asm.SETA, x86asm.SETAE, x86asm.SETB, x86asm.SETBE, x86asm.SETE, x86asm.SETNE, x86asm.SETG,
		x86asm.SETGE, x86asm.SETL, x86asm.SETLE, x86asm.SETNO, x86asm.SETNP, x86asm.SETNS, x86asm.SETO,
		x86asm.SETP, x86asm.SETS:
		op.Kind = kSetcc
		op.Args[1].Reg = uint8(opc2 & 15)
		op.Size = 1
	case x86asm.CMOVA, x86asm.CMOVAE, x86asm.CMOVB, x86asm.CMOVBE, x86asm.CMOVE, x86asm.CMOVNE,
		x86asm.CMOVG, x86asm.CMOVGE, x86asm.CMOVL, x86asm.CMOVLE, x86asm.CMOVNO, x86asm.CMOVNP,
		x86asm.CMOVNS, x86asm.CMOVO, x86asm.CMOVP, x86asm.CMOVS:
		op.Kind = kCmov
		op.Args[2].Reg = uint8(opc2 & 15)
	case x86asm.MOV:
		switch {
		case op.Args[0].Kind == okSeg:
			if op.Args[0].Reg == CS || op.Args[0].Reg > GS {
				return udOp(op), false
			}
			op.Kind = kMovToSeg
			return op, op.Args[0].Reg == SS // MOV SS: interrupt shadow
		case op.Args[1].Kind == okSeg:
			op.Kind = kMovFromSeg
		case op.Args[0].Kind == okCR:
			op.Kind = kMovToCR
			return op, true
		case op.Args[1].Kind == okCR:
			op.Kind = kMovFromCR
		case op.Args[0].Kind == okDR:
			op.Kind = kMovToDR
			return op, true
		case op.Args[1].Kind == okDR:
			op.Kind = kMovFromDR
		}
	case x86asm.POP:
		if op.Args[0].Kind == okSeg {
			op.Kind = kPopSeg
			return op, op.Args[0].Reg == SS
		}
	case x86asm.PUSH:
		if op.Args[0].Kind == okSeg {
			op.Kind = kPushSeg
		}
	case x86asm.PAUSE:
		op.Kind = kPause
		return op, true
	case x86asm.NOP, x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1,
		x86asm.PREFETCHT2, x86asm.PREFETCHW, x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE, x86asm.FWAIT:
		if x == x86asm.FWAIT {
			return op, false
		}
		op.Kind = kNop
	case x86asm.JMP, x86asm.CALL, x86asm.RET, x86asm.LJMP, x86asm.LCALL, x86asm.LRET, x86asm.IRET,
		x86asm.IRETD, x86asm.IRETQ, x86asm.INT, x86asm.INTO, x86asm.ICEBP, x86asm.HLT, x86asm.LOOP,
		x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ, x86asm.SYSCALL,
		x86asm.SYSRET, x86asm.SYSENTER, x86asm.SYSEXIT, x86asm.UD2, x86asm.UD0, x86asm.UD1,
		x86asm.STI, x86asm.POPF, x86asm.POPFD, x86asm.POPFQ, x86asm.LMSW, x86asm.CLTS,
		x86asm.WRMSR, x86asm.LGDT, x86asm.LIDT, x86asm.LLDT, x86asm.LTR, x86asm.INVLPG,
		x86asm.OUT, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD, x86asm.RSM, x86asm.SWAPGS,
		x86asm.LSS, x86asm.WBINVD, x86asm.INVD, x86asm.CPUID, x86asm.MWAIT, x86asm.XRSTOR, x86asm.XSETBV,
		x86asm.FXRSTOR, x86asm.FXRSTOR64, x86asm.LDMXCSR:
		if x == x86asm.INT && op.Imm == 3 && opc == 0xCC {
			op.Imm2 = 1 // INT3 form
		}
		return op, true
	}
	return op, false
}

func isStringOp(x x86asm.Op) bool {
	switch x {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ,
		x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		return true
	}
	return false
}

func udOp(op tb.Op) tb.Op {
	op.Kind = kUD
	return op
}

// genTB translates the block at the current CS:EIP (QEMU: tb_gen_code).
func (c *CPU) genTB(pc, physPC uint64, host []byte) *tb.TB {
	mode := c.codeBits()
	t := &tb.TB{Key: tb.Key{PhysPC: physPC, PC: pc, CSBase: c.Seg[CS].Base, Flags: c.hflags}, Page2: tb.NoPage, Mode: mode}
	eip := c.EIP
	la := pc
	var buf [16]byte
	single := c.hflags&hfSingle != 0 || c.singleStep
	for n := 0; n < maxTBInsns; n++ {
		off := la & 0xFFF
		avail := 0x1000 - off
		var nb int
		if host != nil {
			nb = copy(buf[:15], host[off:])
		} else {
			nb = 15
			if avail < 15 {
				nb = int(avail)
			}
			c.mem.ReadDebug(memmap.PhysAddr(physPC&^0xFFF|off), buf[:nb])
		}
		inst, kind, ok, trunc := decode(buf[:nb], mode)
		if !ok && avail < 15 {
			// x86asm reports a truncated instruction as undecodable: the
			// instruction may continue on the next page.
			if n > 0 {
				break
			}
			host2, pa2 := c.fetchPage(c.wrapLin(la + avail))
			if host2 != nil {
				copy(buf[nb:15], host2)
			} else {
				c.mem.ReadDebug(memmap.PhysAddr(pa2), buf[nb:15])
			}
			inst, kind, ok, trunc = decode(buf[:15], mode)
			if ok && uint64(inst.Len) > avail {
				t.Page2 = pa2 &^ 0xFFF
			}
		}
		var op tb.Op
		ends := false
		if !ok {
			op = tb.Op{Kind: kUD, EIP: eip, Next: eip, Len: 1}
			if inst.Len > 0 {
				op.Len = uint8(inst.Len)
			}
			if trunc {
				op.Len = 15
			}
			ends = true
		} else {
			op, ends = lower(&inst, kind, eip, mode)
			if op.Kind == kUD {
				ends = true
			}
		}
		t.Ops = append(t.Ops, op)
		ilen := uint64(op.Len)
		t.Bytes = append(t.Bytes, buf[:ilen]...)
		t.Size += int(ilen)
		eip = op.Next
		la = c.wrapLin(la + ilen)
		if ends || single || la&0xFFF < ilen && la&0xFFF != 0 || la&^0xFFF != pc&^0xFFF || t.Page2 != tb.NoPage {
			break
		}
		if c.bpActive && c.isBreakpoint(la) {
			break
		}
	}
	t.NInsns = len(t.Ops)
	prepareTB(t)
	if host == nil {
		// Code outside RAM/ROM is not cached or protected.
		return t
	}
	c.linkTB(t)
	if h := c.sh.Hooks; h != nil && h.TBGen != nil {
		h.TBGen(c, t)
	}
	return t
}
