package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// pauseYield is how many PAUSEs in one turn end it early (a PAUSE-loop
// exit window): enough to skip short waits, few enough that a vCPU spinning
// on a lock held by another gives its turn away.
const pauseYield = 256

// branchKinds marks kinds whose handlers always set EIP.
var branchKinds = func() (t [65536]bool) {
	for _, k := range []x86asm.Op{x86asm.JMP, x86asm.CALL, x86asm.RET, x86asm.LJMP, x86asm.LCALL,
		x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.INT, x86asm.INTO, x86asm.ICEBP,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.SYSCALL, x86asm.SYSRET, x86asm.SYSENTER, x86asm.SYSEXIT} {
		t[k] = true
	}
	t[kJcc] = true
	return
}()

// exec runs one op: the interpreter's single dispatch switch.
func (c *CPU) exec(op *tb.Op) {
	switch k := x86asm.Op(op.Kind); k {
	case x86asm.MOV:
		c.wr(op, 0, c.rd(op, 1))
	case x86asm.ADD, x86asm.ADC, x86asm.SUB, x86asm.SBB, x86asm.CMP, x86asm.AND, x86asm.OR,
		x86asm.XOR, x86asm.TEST:
		c.alu(op, k)
	case x86asm.INC:
		c.incdec(op, false)
	case x86asm.DEC:
		c.incdec(op, true)
	case x86asm.NEG:
		c.neg(op)
	case x86asm.NOT:
		c.not(op)
	case kJcc:
		if c.cond(op.Args[1].Reg) {
			c.jumpNear(op.Imm)
		} else {
			c.EIP = op.Next
		}
	case x86asm.JMP:
		if op.Args[0].Kind == okImm {
			c.jumpNear(op.Imm)
		} else {
			c.jumpNear(c.rd(op, 0))
		}
	case x86asm.CALL:
		var t uint64
		if op.Args[0].Kind == okImm {
			t = op.Imm
		} else {
			t = c.rd(op, 0)
		}
		c.push(op.Next, c.branchSize(op))
		c.jumpNear(t)
	case x86asm.RET:
		sz := c.branchSize(op)
		t := c.peek(0, sz)
		c.checkNearTarget(t & sizeMask(sz))
		c.pop(sz)
		if op.Args[0].Kind == okImm {
			m := c.spMask()
			c.R[RSP] = c.R[RSP]&^m | (c.R[RSP]+op.Imm&0xFFFF)&m
		}
		c.EIP = t & sizeMask(sz)
	case x86asm.PUSH:
		v := c.rd(op, 0)
		sz := op.Size
		if op.Args[0].Kind == okImm {
			v = op.Imm & sizeMask(sz)
		}
		c.push(v, sz)
	case x86asm.POP:
		sz := op.Size
		if op.Args[0].Kind == okMem {
			// The address is computed after SP is incremented (SDM POP).
			m := c.spMask()
			old := c.R[RSP]
			v := c.peek(0, sz)
			c.R[RSP] = old&^m | (old+uint64(sz))&m
			func() {
				defer func() {
					if r := recover(); r != nil {
						c.R[RSP] = old
						panic(r)
					}
				}()
				c.wr(op, 0, v)
			}()
		} else {
			v := c.peek(0, sz)
			c.pop(sz)
			c.wr(op, 0, v)
		}
	case kPushSeg:
		sz := op.Size
		c.push(uint64(c.Seg[op.Args[0].Reg].Sel), sz)
	case kPopSeg:
		sz := op.Size
		v := c.peek(0, sz)
		c.loadSegData(int(op.Args[0].Reg), uint16(v))
		c.pop(sz)
		if op.Args[0].Reg == SS {
			c.inhibit = true
			c.stopTB = true
		}
	case kMovToSeg:
		c.loadSegData(int(op.Args[0].Reg), uint16(c.rd(op, 1)))
		if op.Args[0].Reg == SS {
			c.inhibit = true
			c.stopTB = true
		}
	case kMovFromSeg:
		v := uint64(c.Seg[op.Args[1].Reg].Sel)
		if op.Args[0].Kind == okMem {
			c.wrN(c.linW(int(op.Seg), c.ea(op), 2), 2, v)
		} else {
			c.setReg(&op.Args[0], v) // zero-extends for 32-bit registers
		}
	case x86asm.LEA:
		c.setReg(&op.Args[0], c.ea(op))
	case x86asm.XCHG:
		if op.Args[0].Kind == okMem || op.Args[1].Kind == okMem {
			mi, ri := 0, 1
			if op.Args[1].Kind == okMem {
				mi, ri = 1, 0
			}
			la := c.linW(int(op.Seg), c.ea(op), int(op.Args[mi].Size))
			a := c.rdN(la, op.Args[mi].Size)
			v := c.getReg(&op.Args[ri])
			c.wrN(la, op.Args[mi].Size, v)
			if v != a { // XCHG with memory is always locked
				c.noteLocked(la, op.Args[mi].Size, v)
			}
			c.setReg(&op.Args[ri], a)
		} else {
			a, b := c.getReg(&op.Args[0]), c.getReg(&op.Args[1])
			c.setReg(&op.Args[0], b)
			c.setReg(&op.Args[1], a)
		}
	case x86asm.MOVZX:
		c.setReg(&op.Args[0], c.rd(op, 1))
	case x86asm.MOVSX, x86asm.MOVSXD:
		v := c.rd(op, 1)
		n := uint(op.Args[1].Size) * 8
		c.setReg(&op.Args[0], uint64(int64(v<<(64-n))>>(64-n)))
	case x86asm.CBW:
		c.setGPR(RAX, 2, uint64(int8(c.R[RAX])))
	case x86asm.CWDE:
		c.setGPR(RAX, 4, uint64(int16(c.R[RAX])))
	case x86asm.CDQE:
		c.R[RAX] = uint64(int32(c.R[RAX]))
	case x86asm.CWD:
		c.setGPR(RDX, 2, uint64(int64(int16(c.R[RAX]))>>16))
	case x86asm.CDQ:
		c.setGPR(RDX, 4, uint64(int64(int32(c.R[RAX]))>>32))
	case x86asm.CQO:
		c.R[RDX] = uint64(int64(c.R[RAX]) >> 63)
	case x86asm.SHL, x86asm.SHR, x86asm.SAR, x86asm.ROL, x86asm.ROR, x86asm.RCL, x86asm.RCR:
		c.shift(op, k)
	case x86asm.SHLD:
		c.shxd(op, true)
	case x86asm.SHRD:
		c.shxd(op, false)
	case x86asm.MUL:
		c.mul1(op, false)
	case x86asm.IMUL:
		if op.Args[1].Kind == okNone {
			c.mul1(op, true)
		} else {
			c.imulN(op)
		}
	case x86asm.DIV:
		c.div(op, false)
	case x86asm.IDIV:
		c.div(op, true)
	case x86asm.BT, x86asm.BTS, x86asm.BTR, x86asm.BTC:
		c.bitOp(op, k)
	case x86asm.BSF:
		c.bsx(op, false)
	case x86asm.BSR:
		c.bsx(op, true)
	case x86asm.DAA, x86asm.DAS, x86asm.AAA, x86asm.AAS, x86asm.AAM, x86asm.AAD:
		c.bcd(k, op)
	case kSALC:
		if c.cf() {
			c.setGPR(RAX, 1, 0xFF)
		} else {
			c.setGPR(RAX, 1, 0)
		}
	case kSetcc:
		v := uint64(0)
		if c.cond(op.Args[1].Reg) {
			v = 1
		}
		c.wr(op, 0, v)
	case kCmov:
		v := c.rd(op, 1)
		if c.cond(op.Args[2].Reg) {
			c.setReg(&op.Args[0], v)
		} else if op.Args[0].Size == 4 {
			c.setReg(&op.Args[0], c.getReg(&op.Args[0])) // 32-bit CMOV always zero-extends
		}
	case x86asm.BSWAP:
		v := c.getReg(&op.Args[0])
		switch op.Size {
		case 4:
			v = uint64(uint32(v)>>24 | uint32(v)>>8&0xFF00 | uint32(v)<<8&0xFF0000 | uint32(v)<<24)
		case 8:
			v = v>>56 | v>>40&0xFF00 | v>>24&0xFF0000 | v>>8&0xFF000000 | v<<8&0xFF00000000 |
				v<<24&0xFF0000000000 | v<<40&0xFF000000000000 | v<<56
		default:
			v = 0 // 16-bit BSWAP is undefined; real CPUs give 0
		}
		c.setReg(&op.Args[0], v)
	case x86asm.XADD:
		a, la := c.rmw(op)
		b := c.getReg(&op.Args[1])
		r := (a + b) & sizeMask(op.Size)
		c.setReg(&op.Args[1], a) // SRC <- DEST, then DEST <- sum (same register: sum wins)
		c.rmwStore(op, la, r)
		c.setAdd(op.Size, a, b, a+b, 0)
	case x86asm.CMPXCHG:
		a, la := c.rmw(op)
		acc := c.R[RAX] & sizeMask(op.Size)
		c.setSub(op.Size, acc, a, acc-a, 0)
		if a == acc {
			c.rmwStore(op, la, c.getReg(&op.Args[1]))
		} else {
			if op.Args[0].Kind == okMem {
				c.wrN(la, op.Size, a) // the destination is always written
			}
			c.setGPR(RAX, op.Size, a)
		}
	case x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		c.cmpxchgWide(op, k == x86asm.CMPXCHG16B)
	case x86asm.LAHF:
		f := c.getFlags()
		c.R[RAX] = c.R[RAX]&^0xFF00 | (f&0xD5|2)<<8
	case x86asm.SAHF:
		f := c.getFlags()
		c.setArith(f&^0xD5 | c.R[RAX]>>8&0xD5)
	case x86asm.CLC:
		c.setArith(c.getFlags() &^ FLAG_CF)
	case x86asm.STC:
		c.setArith(c.getFlags() | FLAG_CF)
	case x86asm.CMC:
		c.setArith(c.getFlags() ^ FLAG_CF)
	case x86asm.CLD:
		c.flags &^= FLAG_DF
	case x86asm.STD:
		c.flags |= FLAG_DF
	case x86asm.CLI:
		c.cli()
	case x86asm.STI:
		c.sti()
	case x86asm.PUSHF, x86asm.PUSHFD, x86asm.PUSHFQ:
		c.pushf(op)
	case x86asm.POPF, x86asm.POPFD, x86asm.POPFQ:
		c.popf(op)
	case x86asm.PUSHA, x86asm.PUSHAD:
		c.pusha(op)
	case x86asm.POPA, x86asm.POPAD:
		c.popa(op)
	case x86asm.ENTER:
		c.enter(op)
	case x86asm.LEAVE:
		c.leave(op)
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ:
		c.loop(op, k)
	case x86asm.XLATB:
		off := c.maskA(op, c.R[RBX]+c.R[RAX]&0xFF)
		c.setGPR(RAX, 1, uint64(c.rd8(c.linR(int(op.Seg), off, 1))))
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ,
		x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		c.stringOp(op, k)
	case x86asm.IN:
		c.in(op)
	case x86asm.OUT:
		c.out(op)
	case x86asm.LJMP, x86asm.LCALL:
		var sel, off uint64
		if op.Args[0].Kind == okImm {
			off, sel = op.Imm&sizeMask(op.Size), op.Imm2&0xFFFF
		} else {
			osz := op.Args[0].Size - 2
			off = c.rdN(c.memLinR(op, 0, int(osz)), osz)
			sel = uint64(c.rd16(c.memLinR(op, uint64(osz), 2)))
		}
		if k == x86asm.LJMP {
			c.farJump(uint16(sel), off, op)
		} else {
			c.farCall(uint16(sel), off, op)
		}
	case x86asm.LRET:
		n := uint64(0)
		if op.Args[0].Kind == okImm {
			n = op.Imm & 0xFFFF
		}
		c.farRet(op.Size, n)
	case x86asm.IRET, x86asm.IRETD, x86asm.IRETQ:
		c.EIP = op.Next // saved in the outgoing TSS by a nested-task IRET
		c.iret(op.Size)
	case x86asm.INT:
		c.EIP = op.Next
		if op.Imm2 == 1 {
			c.softInt(VecBP, true)
		} else {
			c.softInt(int(op.Imm&0xFF), true)
		}
	case x86asm.INTO:
		c.EIP = op.Next
		if c.of() {
			c.softInt(VecOF, true)
		}
	case x86asm.ICEBP:
		c.EIP = op.Next
		c.softInt(VecDB, false)
	case x86asm.BOUND:
		c.bound(op)
	case x86asm.HLT:
		if c.CPL() != 0 {
			c.gp(0)
		}
		c.Halted = true
		c.stopTB = true
		if h := c.sh.Hooks; h != nil && h.HLT != nil {
			h.HLT(c)
		}
	case kPause:
		// A spin-wait loop: let the other vCPUs run (like a PAUSE-loop
		// exit). Deterministic: PAUSE is an instruction of the stream.
		c.Pauses++
		c.turnPauses++
		if len(c.sh.CPUs) > 1 && c.turnPauses >= pauseYield {
			c.yieldTurn = true
			c.stopTB = true
		}
	case kNop:
	case kUD, x86asm.UD2, x86asm.UD0, x86asm.UD1:
		c.ud()
	case x86asm.LDS, x86asm.LES, x86asm.LFS, x86asm.LGS, x86asm.LSS:
		c.loadFarPtr(op, k)
	case x86asm.CPUID:
		c.doCPUID()
	case x86asm.RDTSC:
		if c.CR4&CR4_TSD != 0 && c.CPL() != 0 {
			c.gp(0)
		}
		t := c.TSC()
		c.R[RAX], c.R[RDX] = t&0xFFFFFFFF, t>>32
	default:
		c.execSystem(op, k)
	}
}

// branchSize is the operand size of a near branch (64-bit mode forces 8).
func (c *CPU) branchSize(op *tb.Op) uint8 {
	if c.hflags&hfCS64 != 0 {
		if op.Prefix&pfx66 != 0 {
			return 2
		}
		return 8
	}
	return op.Size
}

// checkNearTarget faults for a target outside CS (or non-canonical).
func (c *CPU) checkNearTarget(t uint64) {
	if c.hflags&hfCS64 != 0 {
		if !canonical(t) {
			c.gp(0)
		}
		return
	}
	if t > uint64(c.Seg[CS].Limit) && c.CR0&CR0_PE != 0 {
		c.gp(0)
	}
	if t > uint64(c.Seg[CS].Limit) {
		c.gp(0)
	}
}

func (c *CPU) jumpNear(t uint64) {
	c.checkNearTarget(t)
	c.EIP = t
}

func canonical(a uint64) bool { return uint64(int64(a<<16)>>16) == a }

func (c *CPU) loop(op *tb.Op, k x86asm.Op) {
	am := sizeMask(op.ASize)
	cnt := c.R[RCX] & am
	var take bool
	switch k {
	case x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ:
		take = cnt == 0
	default:
		cnt = (cnt - 1) & am
		c.setAddrReg(RCX, am, cnt)
		take = cnt != 0
		if k == x86asm.LOOPE {
			take = take && c.zf()
		} else if k == x86asm.LOOPNE {
			take = take && !c.zf()
		}
	}
	if take {
		c.jumpNear(op.Imm)
	} else {
		c.EIP = op.Next
	}
}

func (c *CPU) cmpxchgWide(op *tb.Op, wide bool) {
	if op.Args[0].Kind != okMem {
		c.ud()
	}
	half := uint8(4)
	if wide {
		half = 8
		if c.ea(op)&15 != 0 {
			c.gp(0)
		}
	}
	la := c.memLinW(op, 0, int(half)*2)
	lo := c.rdN(la, half)
	hi := c.rdN(c.wrapLin(la+uint64(half)), half)
	m := sizeMask(half)
	f := c.getFlags()
	if lo == c.R[RAX]&m && hi == c.R[RDX]&m {
		c.wrN(la, half, c.R[RBX]&m)
		c.wrN(c.wrapLin(la+uint64(half)), half, c.R[RCX]&m)
		c.setArith(f | FLAG_ZF)
	} else {
		c.wrN(la, half, lo)
		c.wrN(c.wrapLin(la+uint64(half)), half, hi)
		c.setGPR(RAX, half, lo)
		c.setGPR(RDX, half, hi)
		c.setArith(f &^ FLAG_ZF)
	}
}

func (c *CPU) pusha(op *tb.Op) {
	sz := op.Size
	m := c.spMask()
	sp := c.R[RSP]
	orig := sp
	for i := 0; i < 8; i++ {
		v := c.R[i]
		if i == RSP {
			v = orig
		}
		sp = (sp - uint64(sz)) & m
		c.wrN(c.linW(SS, sp, int(sz)), sz, v&sizeMask(sz))
	}
	c.R[RSP] = c.R[RSP]&^m | sp
}

func (c *CPU) popa(op *tb.Op) {
	sz := op.Size
	m := c.spMask()
	sp := c.R[RSP] & m
	var vals [8]uint64
	for i := 7; i >= 0; i-- {
		vals[i] = c.rdN(c.linR(SS, sp, int(sz)), sz)
		sp = (sp + uint64(sz)) & m
	}
	for i := 0; i < 8; i++ {
		if i != RSP {
			c.setGPR(i, sz, vals[i])
		}
	}
	c.R[RSP] = c.R[RSP]&^m | sp
}

func (c *CPU) enter(op *tb.Op) {
	sz := op.Size
	if c.hflags&hfCS64 != 0 && op.Prefix&pfx66 == 0 {
		sz = 8
	}
	alloc := op.Imm & 0xFFFF
	level := op.Imm2 & 0x1F
	m := c.spMask()
	sp := c.R[RSP] & m
	bp := c.R[RBP]
	// push BP
	sp = (sp - uint64(sz)) & m
	c.wrN(c.linW(SS, sp, int(sz)), sz, bp&sizeMask(sz))
	frame := sp
	if level > 0 {
		bpm := m
		for i := uint64(1); i < level; i++ {
			bp = (bp - uint64(sz)) & bpm
			v := c.rdN(c.linR(SS, bp&m, int(sz)), sz)
			sp = (sp - uint64(sz)) & m
			c.wrN(c.linW(SS, sp, int(sz)), sz, v)
		}
		sp = (sp - uint64(sz)) & m
		c.wrN(c.linW(SS, sp, int(sz)), sz, frame)
	}
	sp = (sp - alloc) & m
	// The new stack top must be accessible (SDM ENTER: #SS if not).
	if c.hflags&hfCS64 == 0 {
		c.linW(SS, sp, 1)
	}
	c.setGPR(RBP, sz, frame)
	c.R[RSP] = c.R[RSP]&^m | sp
}

func (c *CPU) leave(op *tb.Op) {
	sz := op.Size
	if c.hflags&hfCS64 != 0 && op.Prefix&pfx66 == 0 {
		sz = 8
	}
	m := c.spMask()
	sp := c.R[RBP] & m
	v := c.rdN(c.linR(SS, sp, int(sz)), sz)
	c.R[RSP] = c.R[RSP]&^m | (sp+uint64(sz))&m
	c.setGPR(RBP, sz, v)
}

func (c *CPU) bound(op *tb.Op) {
	sz := op.Size
	idx := c.getReg(&op.Args[0])
	lo := c.rdN(c.memLinR(op, 0, int(sz)), sz)
	hi := c.rdN(c.memLinR(op, uint64(sz), int(sz)), sz)
	n := uint(sz) * 8
	s := func(v uint64) int64 { return int64(v<<(64-n)) >> (64 - n) }
	if s(idx) < s(lo) || s(idx) > s(hi) {
		c.raise(VecBR, 0, false)
	}
}

func (c *CPU) loadFarPtr(op *tb.Op, k x86asm.Op) {
	if op.Args[1].Kind != okMem {
		c.ud()
	}
	osz := op.Size
	off := c.rdN(c.memLinR(op, 0, int(osz)), osz)
	sel := uint16(c.rd16(c.memLinR(op, uint64(osz), 2)))
	var seg int
	switch k {
	case x86asm.LDS:
		seg = DS
	case x86asm.LES:
		seg = ES
	case x86asm.LFS:
		seg = FS
	case x86asm.LGS:
		seg = GS
	case x86asm.LSS:
		seg = SS
	}
	c.loadSegData(seg, sel)
	c.setReg(&op.Args[0], off)
}
