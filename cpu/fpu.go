package cpu

import (
	"math"
	"math/big"

	"glassbox/internal/softfloat"
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// The x87 FPU (SDM Vol. 1 ch. 8): eight 80-bit registers addressed
// relative to TOP, the control/status/tag words, the last-instruction
// pointers, and #NM/#MF. Arithmetic goes through internal/softfloat with
// the control word's rounding and precision control, so results, flags and
// C1 are bit-exact (checked against the host CPU). The transcendental
// instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1)
// are computed in binary64 with Go's math package and rounded from there:
// they are close to, but not bit-identical with, real hardware.

// f80 is one physical x87 register in memory layout.
type f80 struct {
	se uint16 // sign and exponent
	m  uint64 // significand with the explicit integer bit
}

type fpuState struct {
	cw    uint16
	sw    uint16 // without TOP (bits 11-13), which is top
	top   uint8
	valid uint8 // bit i: physical register i is not empty (FXSAVE's abridged tag)
	st    [8]f80
	fop   uint16
	fcs   uint16
	fds   uint16
	fip   uint64
	fdp   uint64

	xmm   [16][2]uint64
	mxcsr uint32
}

// x87 status word bits.
const (
	swIE = 1 << 0
	swSF = 1 << 6
	swES = 1 << 7
	swC0 = 1 << 8
	swC1 = 1 << 9
	swC2 = 1 << 10
	swC3 = 1 << 14
	swB  = 1 << 15
	swCC = swC0 | swC1 | swC2 | swC3
)

// finit is FNINIT: control word 0x37F, status and pointers cleared, all
// registers empty; XMM and MXCSR are not touched.
func (f *fpuState) finit() {
	xmm, mx, st := f.xmm, f.mxcsr, f.st
	*f = fpuState{cw: 0x37F}
	f.xmm, f.mxcsr, f.st = xmm, mx, st // register contents stay, only tagged empty
}

// reset is the RESET state of x87 and SSE. The SDM (Vol. 3 Table 9-1)
// gives FCW=0x0040 after power-up; QEMU, the whole-program oracle, starts
// with FNINIT's 0x37F, and so does glassbox (firmware runs FNINIT anyway).
func (f *fpuState) reset() {
	*f = fpuState{cw: 0x37F, mxcsr: mxcsrReset}
}

func (f *fpuState) status() uint16 { return f.sw&^(7<<11) | uint16(f.top)<<11 }

func (f *fpuState) setStatus(v uint16) {
	f.sw = v &^ (7 << 11)
	f.top = uint8(v >> 11 & 7)
}

// tagWord computes the full 16-bit tag word (00 valid, 01 zero, 10
// special, 11 empty) from the registers' contents.
func (f *fpuState) tagWord() uint16 {
	var t uint16
	for i := 0; i < 8; i++ {
		var tag uint16 = 3
		if f.valid&(1<<i) != 0 {
			r := f.st[i]
			e := r.se & 0x7FFF
			switch {
			case e == 0 && r.m == 0:
				tag = 1
			case e == 0x7FFF || e == 0 || r.m>>63 == 0:
				tag = 2
			default:
				tag = 0
			}
		}
		t |= tag << (2 * i)
	}
	return t
}

func (f *fpuState) setTagWord(t uint16) {
	f.valid = 0
	for i := 0; i < 8; i++ {
		if t>>(2*i)&3 != 3 {
			f.valid |= 1 << i
		}
	}
}

func (f *fpuState) phys(i uint8) uint8 { return (f.top + i) & 7 }

func (f *fpuState) empty(i uint8) bool { return f.valid&(1<<f.phys(i)) == 0 }

// x87 constants (SDM Vol. 1 §8.3.8): exponent, 64-bit significand and the
// next 64 bits, rounded under RC like the hardware's 66-bit constants.
var x87Consts = map[x86asm.Op][3]uint64{
	x86asm.FLDPI:  {1, 0xC90FDAA22168C234, 0xC4C6628B80DC1CD1},
	x86asm.FLDL2E: {0, 0xB8AA3B295C17F0BB, 0xBE87FED0691D3E88},
	x86asm.FLDL2T: {1, 0xD49A784BCD1B8AFE, 0x492BF6FF4DAFDB4C},
	x86asm.FLDLG2: {uint64(1<<64 - 2), 0x9A209A84FBCFF798, 0x8F8959AC0B7C9178},
	x86asm.FLDLN2: {uint64(1<<64 - 1), 0xB17217F7D1CF79AB, 0xC9E3B39803F2F6AF},
}

func (c *CPU) x87Ctx() softfloat.Ctx {
	cw := c.fpu.cw
	return softfloat.Ctx{RC: uint8(cw >> 10 & 3), X87: true, UEMasked: cw&0x10 != 0, OEUnmasked: cw&0x08 == 0}
}

func (c *CPU) x87Fmt() softfloat.Format {
	switch c.fpu.cw >> 8 & 3 {
	case 0:
		return softfloat.F80P24
	case 2:
		return softfloat.F80P53
	}
	return softfloat.F80
}

// x87Flags folds exception flags into the status word: C1 follows the
// rounding direction, ES and B summarize unmasked exceptions. It reports
// whether an unmasked exception occurred (the destination is then left
// alone for invalid, denormal and zero-divide, as the hardware does).
func (c *CPU) x87Flags(ctx *softfloat.Ctx) bool {
	f := &c.fpu
	fl := ctx.Flags & 0x3F
	if fl&(softfloat.FlagIE|softfloat.FlagZE) != 0 {
		fl &^= softfloat.FlagDE // #IA and #Z outrank #D (SDM Vol. 1 §4.9.2)
	}
	const pre = softfloat.FlagIE | softfloat.FlagDE | softfloat.FlagZE
	if fl&pre&^(f.cw&0x3F) != 0 {
		fl &= pre // an unmasked pre-computation exception: nothing is computed
	}
	f.sw |= fl
	if fl&softfloat.FlagPE != 0 {
		if ctx.Flags&softfloat.FlagUp != 0 {
			f.sw |= swC1
		} else {
			f.sw &^= swC1
		}
	}
	if fl&^(f.cw&0x3F) != 0 {
		f.sw |= swES | swB
		return fl&^(f.cw&0x3F)&(softfloat.FlagIE|softfloat.FlagDE|softfloat.FlagZE) != 0
	}
	return false
}

func (c *CPU) getST(i uint8) softfloat.Num {
	r := c.fpu.st[c.fpu.phys(i)]
	var ctx softfloat.Ctx
	return ctx.UnpackF80(r.se, r.m)
}

// readST unpacks ST(i) for arithmetic, setting DE for a denormal.
func (c *CPU) readST(ctx *softfloat.Ctx, i uint8) softfloat.Num {
	r := c.fpu.st[c.fpu.phys(i)]
	return ctx.UnpackF80(r.se, r.m)
}

func (c *CPU) setST(i uint8, n softfloat.Num) {
	p := c.fpu.phys(i)
	se, m := softfloat.PackF80(n)
	c.fpu.st[p] = f80{se, m}
	c.fpu.valid |= 1 << p
}

func (c *CPU) setSTRaw(i uint8, r f80) {
	p := c.fpu.phys(i)
	c.fpu.st[p] = r
	c.fpu.valid |= 1 << p
}

func (c *CPU) fpop() {
	f := &c.fpu
	f.valid &^= 1 << f.top
	f.top = (f.top + 1) & 7
}

// stackFault records a stack overflow (push onto a full register) or
// underflow (read of an empty one): IE and SF, C1 = overflow. It reports
// whether IE is unmasked (then nothing is written).
func (c *CPU) stackFault(overflow bool) bool {
	f := &c.fpu
	f.sw |= swIE | swSF
	if overflow {
		f.sw |= swC1
	} else {
		f.sw &^= swC1
	}
	if f.cw&1 == 0 {
		f.sw |= swES | swB
		return true
	}
	return false
}

// fpush pushes a value; on overflow the masked response pushes the
// indefinite.
func (c *CPU) fpush(n softfloat.Num) {
	f := &c.fpu
	nt := (f.top - 1) & 7
	if f.valid&(1<<nt) != 0 {
		if c.stackFault(true) {
			return
		}
		n = softfloat.Indefinite
	}
	f.top = nt
	c.setST(0, n)
}

func (c *CPU) fpushRaw(r f80) {
	f := &c.fpu
	nt := (f.top - 1) & 7
	if f.valid&(1<<nt) != 0 {
		if c.stackFault(true) {
			return
		}
		r = f80{0xFFFF, 0xC000000000000000}
	}
	f.top = nt
	c.setSTRaw(0, r)
}

// x87On makes the checks of every x87 instruction: #NM with CR0.EM or
// CR0.TS, and for waiting instructions a pending unmasked exception
// raises #MF (with CR0.NE; without it the FERR# line is not wired up and
// the exception stays pending).
func (c *CPU) x87On(wait bool) {
	if c.CR0&(CR0_EM|CR0_TS) != 0 {
		c.raise(VecNM, 0, false)
	}
	if wait && c.fpu.sw&swES != 0 && c.CR0&CR0_NE != 0 {
		c.raise(VecMF, 0, false)
	}
}

// x87 memory operand types by opcode (D8-DF) and ModRM.reg.
const (
	mNone = iota
	mF32
	mF64
	mF80
	mI16
	mI32
	mI64
	mBCD
	mEnv
	mState
	m2
)

func x87MemType(opc, reg uint8) int {
	switch opc {
	case 0xD8:
		return mF32
	case 0xDC:
		return mF64
	case 0xDA:
		return mI32
	case 0xDE:
		return mI16
	case 0xD9:
		return [8]int{mF32, mNone, mF32, mF32, mEnv, m2, mEnv, m2}[reg]
	case 0xDB:
		return [8]int{mI32, mI32, mI32, mI32, mNone, mF80, mNone, mF80}[reg]
	case 0xDD:
		return [8]int{mF64, mI64, mF64, mF64, mState, mNone, mState, m2}[reg]
	case 0xDF:
		return [8]int{mI16, mI16, mI16, mI16, mBCD, mI64, mBCD, mI64}[reg]
	}
	return mNone
}

// loadMem reads a numeric memory operand as an unpacked number.
func (c *CPU) loadMem(ctx *softfloat.Ctx, op *tb.Op, t int) softfloat.Num {
	seg, off := int(op.Seg), c.ea(op)
	switch t {
	case mF32:
		return ctx.UnpackF32(c.rd32(c.linR(seg, off, 4)))
	case mF64:
		return ctx.UnpackF64(c.rd64(c.linR(seg, off, 8)))
	case mI16:
		return softfloat.FromInt(int64(int16(c.rd16(c.linR(seg, off, 2)))))
	case mI32:
		return softfloat.FromInt(int64(int32(c.rd32(c.linR(seg, off, 4)))))
	case mI64:
		return softfloat.FromInt(int64(c.rd64(c.linR(seg, off, 8))))
	}
	r := c.readF80(op)
	return ctx.UnpackF80(r.se, r.m)
}

func (c *CPU) readF80(op *tb.Op) f80 {
	la := c.linR(int(op.Seg), c.ea(op), 10)
	m := c.rd64(la)
	se := c.rd16(c.wrapLin(la + 8))
	return f80{se, m}
}

func (c *CPU) writeF80(op *tb.Op, r f80) {
	la := c.linW(int(op.Seg), c.ea(op), 10)
	c.checkWritable(la, 10)
	c.wr64(la, r.m)
	c.wr16(c.wrapLin(la+8), r.se)
}

// noteInsn records FIP/FCS/FOP (and FDP/FDS for a memory operand) for a
// non-control instruction.
func (c *CPU) noteInsn(op *tb.Op, mem bool) {
	f := &c.fpu
	f.fip = op.EIP
	f.fcs = c.Seg[CS].Sel
	f.fop = uint16(op.Imm>>24&7)<<8 | uint16(op.Imm>>16&0xFF)
	if mem {
		f.fdp = c.ea(op)
		f.fds = c.Seg[op.Seg].Sel
	}
}

func isControl(k x86asm.Op) bool {
	switch k {
	case x86asm.FNINIT, x86asm.FNCLEX, x86asm.FLDCW, x86asm.FNSTCW, x86asm.FNSTSW, x86asm.FNSTENV,
		x86asm.FLDENV, x86asm.FNSAVE, x86asm.FRSTOR, x86asm.FWAIT:
		return true
	}
	return false
}

// execFPU runs x87 and SSE instructions; it reports false for anything else.
func (c *CPU) execFPU(op *tb.Op, k x86asm.Op) bool {
	if k < x86asm.F2XM1 || k > x86asm.FYL2XP1 || k == x86asm.FXSAVE || k == x86asm.FXSAVE64 ||
		k == x86asm.FXRSTOR || k == x86asm.FXRSTOR64 {
		return c.execSSE(op, k)
	}
	opc := uint8(op.Imm >> 24) // lower stores x87 opcodes in Imm
	switch k {
	case x86asm.FNINIT, x86asm.FNCLEX, x86asm.FNSTSW, x86asm.FNSTCW, x86asm.FNSTENV, x86asm.FNSAVE:
		c.x87On(false)
	case x86asm.FWAIT:
		if c.CR0&(CR0_MP|CR0_TS) == CR0_MP|CR0_TS {
			c.raise(VecNM, 0, false)
		}
		if c.fpu.sw&swES != 0 && c.CR0&CR0_NE != 0 {
			c.raise(VecMF, 0, false)
		}
		return true
	default:
		c.x87On(true)
	}
	memArg := op.Args[0].Kind == okMem
	if !isControl(k) && k != x86asm.FNOP {
		c.noteInsn(op, memArg)
	}
	if c.execX87Control(op, k, opc) {
		return true
	}
	if c.execX87Arith(op, k, opc) {
		return true
	}
	c.ud()
	return true
}

func (c *CPU) execX87Control(op *tb.Op, k x86asm.Op, opc uint8) bool {
	f := &c.fpu
	switch k {
	case x86asm.FNINIT:
		f.finit()
	case x86asm.FNCLEX:
		f.sw &^= 0x80FF
	case x86asm.FNSTSW:
		if op.Args[0].Kind == okMem {
			c.wr16(c.linW(int(op.Seg), c.ea(op), 2), f.status())
		} else {
			c.setGPR(RAX, 2, uint64(f.status()))
		}
	case x86asm.FNSTCW:
		c.wr16(c.linW(int(op.Seg), c.ea(op), 2), f.cw)
	case x86asm.FLDCW:
		f.cw = c.rd16(c.linR(int(op.Seg), c.ea(op), 2))&0x1F7F | 0x40 // bits 13-15 reserved, 6 reads as 1
		c.updateES()
	case x86asm.FNSTENV:
		c.storeEnv(op)
		f.cw |= 0x3F // all exceptions masked afterwards (SDM FSTENV)
		c.updateES()
	case x86asm.FLDENV:
		c.loadEnv(op)
	case x86asm.FNSAVE:
		n := c.storeEnv(op)
		la := c.wrapLin(c.linW(int(op.Seg), c.ea(op), n+80))
		c.checkWritable(la, n+80)
		for i := 0; i < 8; i++ {
			r := f.st[f.phys(uint8(i))]
			a := c.wrapLin(la + uint64(n+10*i))
			c.wr64(a, r.m)
			c.wr16(c.wrapLin(a+8), r.se)
		}
		f.finit()
	case x86asm.FRSTOR:
		n := c.loadEnv(op)
		la := c.linR(int(op.Seg), c.ea(op), n+80)
		for i := 0; i < 8; i++ {
			a := c.wrapLin(la + uint64(n+10*i))
			f.st[f.phys(uint8(i))] = f80{se: c.rd16(c.wrapLin(a + 8)), m: c.rd64(a)}
		}
	case x86asm.FNOP:
	case x86asm.FXCH:
		i := uint8(1)
		if op.Args[0].Kind == okST {
			i = op.Args[0].Reg
		}
		if f.empty(0) || f.empty(i) {
			if c.stackFault(false) {
				return true
			}
			ind := softfloat.Indefinite
			if f.empty(0) {
				c.setST(0, ind)
			}
			if f.empty(i) {
				c.setST(i, ind)
			}
		}
		a, b := f.st[f.phys(0)], f.st[f.phys(i)]
		f.st[f.phys(0)], f.st[f.phys(i)] = b, a
		f.sw &^= swC1
	case x86asm.FFREE, x86asm.FFREEP:
		f.valid &^= 1 << f.phys(op.Args[0].Reg)
		f.sw &^= swC1 // C0-C3 are undefined; the host CPU clears C1
		if k == x86asm.FFREEP {
			c.fpop()
		}
	case x86asm.FINCSTP:
		f.top = (f.top + 1) & 7
		f.sw &^= swC1
	case x86asm.FDECSTP:
		f.top = (f.top - 1) & 7
		f.sw &^= swC1
	case x86asm.FLD:
		t := mNone
		if op.Args[0].Kind == okMem {
			t = x87MemType(opc, uint8(op.Imm>>19&7))
		}
		switch t {
		case mNone:
			i := op.Args[0].Reg
			if f.empty(i) {
				if c.stackFault(false) {
					return true
				}
				f.top = (f.top - 1) & 7 // underflow wins over overflow
				c.setST(0, softfloat.Indefinite)
				return true
			}
			f.sw &^= swC1
			c.fpushRaw(f.st[f.phys(i)])
		case mF80:
			r := c.readF80(op)
			f.sw &^= swC1
			c.fpushRaw(r)
		default:
			if f.valid&(1<<((f.top-1)&7)) != 0 {
				// Stack overflow outranks anything the load reports.
				if !c.stackFault(true) {
					f.top = (f.top - 1) & 7
					c.setST(0, softfloat.Indefinite)
				}
				return true
			}
			ctx := c.x87Ctx()
			n := c.loadMem(&ctx, op, t)
			if n.Cls == softfloat.NaN && n.IsSNaN() {
				ctx.Flags |= softfloat.FlagIE
				n = n.Quiet()
			}
			f.sw &^= swC1
			if c.x87Flags(&ctx) {
				return true
			}
			c.fpush(n)
		}
	case x86asm.FILD:
		var ctx softfloat.Ctx
		n := c.loadMem(&ctx, op, x87MemType(opc, uint8(op.Imm>>19&7)))
		f.sw &^= swC1
		c.fpush(n)
	case x86asm.FLD1, x86asm.FLDZ, x86asm.FLDPI, x86asm.FLDL2E, x86asm.FLDL2T, x86asm.FLDLG2, x86asm.FLDLN2:
		var n softfloat.Num
		switch k {
		case x86asm.FLD1:
			n = softfloat.FromInt(1)
		case x86asm.FLDZ:
			n = softfloat.Num{Cls: softfloat.Zero}
		default:
			k3 := x87Consts[k]
			ctx := softfloat.Ctx{RC: uint8(f.cw >> 10 & 3)}
			n = ctx.Round(false, int32(k3[0]), k3[1], k3[2], softfloat.F80)
		}
		f.sw &^= swC1
		c.fpush(n)
	default:
		return false
	}
	return true
}

// updateES recomputes ES/B after the control word changes.
func (c *CPU) updateES() {
	f := &c.fpu
	if f.sw&0x3F&^(f.cw&0x3F) != 0 {
		f.sw |= swES | swB
	} else {
		f.sw &^= swES | swB
	}
}

// storeEnv writes the FSTENV image (14 or 28 bytes by operand size; the
// protected-mode layout, or the real-mode one in real/v86 mode) and
// returns its size.
func (c *CPU) storeEnv(op *tb.Op) int {
	f := &c.fpu
	n := 28
	if op.Size == 2 {
		n = 14
	}
	la := c.linW(int(op.Seg), c.ea(op), n)
	c.checkWritable(la, n)
	w := func(i int, v uint64) {
		if n == 14 {
			c.wr16(c.wrapLin(la+uint64(2*i)), uint16(v))
		} else {
			c.wr32(c.wrapLin(la+uint64(4*i)), uint32(v))
		}
	}
	hi := uint64(0xFFFF0000)
	if n == 14 {
		hi = 0
	}
	w(0, hi|uint64(f.cw))
	w(1, hi|uint64(f.status()))
	w(2, hi|uint64(f.tagWord()))
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		// Real-mode layout: 20-bit linear pointers.
		ip := (uint64(f.fcs)<<4 + f.fip) & 0xFFFFF
		dp := (uint64(f.fds)<<4 + f.fdp) & 0xFFFFF
		w(3, hi|ip&0xFFFF)
		w(4, ip>>16<<12|uint64(f.fop)&0x7FF)
		w(5, hi|dp&0xFFFF)
		w(6, dp>>16<<12)
	} else {
		w(3, f.fip)
		w(4, uint64(f.fop)<<16|uint64(f.fcs))
		w(5, f.fdp)
		w(6, hi|uint64(f.fds))
	}
	return n
}

func (c *CPU) loadEnv(op *tb.Op) int {
	f := &c.fpu
	n := 28
	if op.Size == 2 {
		n = 14
	}
	la := c.linR(int(op.Seg), c.ea(op), n)
	r := func(i int) uint64 {
		if n == 14 {
			return uint64(c.rd16(c.wrapLin(la + uint64(2*i))))
		}
		return uint64(c.rd32(c.wrapLin(la + uint64(4*i))))
	}
	f.cw = uint16(r(0))
	f.setStatus(uint16(r(1)))
	f.setTagWord(uint16(r(2)))
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		f.fip = r(3)&0xFFFF | r(4)>>12<<16
		f.fop = uint16(r(4) & 0x7FF)
		f.fdp = r(5)&0xFFFF | r(6)>>12<<16
		f.fcs, f.fds = 0, 0
	} else {
		f.fip = r(3)
		f.fcs = uint16(r(4))
		f.fop = uint16(r(4)>>16) & 0x7FF
		f.fdp = r(5)
		f.fds = uint16(r(6))
	}
	c.updateES()
	return n
}

// x87 arithmetic operation kinds.
type x87ArithOp struct {
	o   fop
	rev bool
	pop bool
	ok  bool
}

// x87Arith is x87ArithList indexed by instruction.
var x87Arith = opTable(x87ArithList, func(v x87ArithOp) x87ArithOp { v.ok = true; return v })

var x87ArithList = map[x86asm.Op]x87ArithOp{
	x86asm.FADD: {fAdd, false, false, false}, x86asm.FADDP: {fAdd, false, true, false}, x86asm.FIADD: {fAdd, false, false, false},
	x86asm.FSUB: {fSub, false, false, false}, x86asm.FSUBP: {fSub, false, true, false}, x86asm.FISUB: {fSub, false, false, false},
	x86asm.FSUBR: {fSub, true, false, false}, x86asm.FSUBRP: {fSub, true, true, false}, x86asm.FISUBR: {fSub, true, false, false},
	x86asm.FMUL: {fMul, false, false, false}, x86asm.FMULP: {fMul, false, true, false}, x86asm.FIMUL: {fMul, false, false, false},
	x86asm.FDIV: {fDiv, false, false, false}, x86asm.FDIVP: {fDiv, false, true, false}, x86asm.FIDIV: {fDiv, false, false, false},
	x86asm.FDIVR: {fDiv, true, false, false}, x86asm.FDIVRP: {fDiv, true, true, false}, x86asm.FIDIVR: {fDiv, true, false, false},
}

func (c *CPU) x87Op(ctx *softfloat.Ctx, o fop, a, b softfloat.Num) softfloat.Num {
	f := c.x87Fmt()
	switch o {
	case fAdd:
		return ctx.Add(a, b, false, f)
	case fSub:
		return ctx.Add(a, b, true, f)
	case fMul:
		return ctx.Mul(a, b, f)
	}
	return ctx.Div(a, b, f)
}

// x87Operands reads two operands, dropping DE when a NaN is involved
// (a NaN operand ranks above #D).
func dropDEForNaN(ctx *softfloat.Ctx, old uint16, a, b softfloat.Num) {
	if a.Cls == softfloat.NaN || b.Cls == softfloat.NaN {
		ctx.Flags = old | (ctx.Flags&^old)&^softfloat.FlagDE
	}
}

func (c *CPU) execX87Arith(op *tb.Op, k x86asm.Op, opc uint8) bool {
	f := &c.fpu
	reg := uint8(op.Imm >> 19 & 7)
	if int(k) < len(x87Arith) && x87Arith[k].ok {
		a := &x87Arith[k]
		ctx := c.x87Ctx()
		var dst, src uint8 // ST indices
		var x, y softfloat.Num
		if op.Args[0].Kind == okMem {
			if f.empty(0) {
				if !c.stackFault(false) {
					c.setST(0, softfloat.Indefinite)
				}
				return true
			}
			x = c.readST(&ctx, 0)
			y = c.loadMem(&ctx, op, x87MemType(opc, reg))
			dst = 0
		} else {
			dst, src = op.Args[0].Reg, op.Args[1].Reg
			if f.empty(dst) || f.empty(src) {
				if !c.stackFault(false) {
					c.setST(dst, softfloat.Indefinite)
					if a.pop {
						c.fpop()
					}
				}
				return true
			}
			x, y = c.readST(&ctx, dst), c.readST(&ctx, src)
		}
		dropDEForNaN(&ctx, 0, x, y)
		if a.rev {
			x, y = y, x
		}
		r := c.x87Op(&ctx, a.o, x, y)
		f.sw &^= swC1
		if c.x87Flags(&ctx) {
			return true
		}
		c.setST(dst, r)
		if a.pop {
			c.fpop()
		}
		return true
	}
	switch k {
	case x86asm.FST, x86asm.FSTP:
		// An empty ST(0) stores the indefinite; the register itself is
		// left as it is.
		src := f.st[f.phys(0)]
		if f.empty(0) {
			if c.stackFault(false) {
				return true
			}
			src = f80{0xFFFF, 0xC000000000000000}
		}
		t := mNone
		if op.Args[0].Kind == okMem {
			t = x87MemType(opc, reg)
		}
		if !f.empty(0) {
			f.sw &^= swC1
		}
		switch t {
		case mNone:
			c.setSTRaw(op.Args[0].Reg, src)
		case mF80:
			c.writeF80(op, src)
		default:
			ctx := c.x87Ctx()
			x := ctx.UnpackF80(src.se, src.m)
			ctx.Flags &^= softfloat.FlagDE // stores report no #D
			var bitsV uint64
			size := 4
			if t == mF64 {
				bitsV = softfloat.PackF64(ctx.RoundNum(x, softfloat.F64))
				size = 8
			} else {
				bitsV = uint64(softfloat.PackF32(ctx.RoundNum(x, softfloat.F32)))
			}
			if post := ctx.Flags & (softfloat.FlagOE | softfloat.FlagUE) &^ f.cw; post != 0 {
				// Unmasked #O/#U on a store: only that flag (no #P,
				// C1 clear); memory is not written, nothing popped.
				f.sw = f.sw&^swC1 | post | swES | swB
				return true
			}
			if c.x87Flags(&ctx) {
				return true
			}
			la := c.linW(int(op.Seg), c.ea(op), size)
			c.wrN(la, uint8(size), bitsV)
		}
		if k == x86asm.FSTP {
			c.fpop()
		}
	case x86asm.FIST, x86asm.FISTP, x86asm.FISTTP:
		t := x87MemType(opc, reg)
		width := 64
		switch t {
		case mI16:
			width = 16
		case mI32:
			width = 32
		}
		var v int64
		f.sw &^= swC1
		if f.empty(0) {
			if c.stackFault(false) {
				return true
			}
			v = int64(-1) << (width - 1)
		} else {
			ctx := c.x87Ctx()
			x := c.readST(&ctx, 0)
			ctx.Flags &^= softfloat.FlagDE
			rc := ctx.RC
			if k == x86asm.FISTTP {
				rc = softfloat.RoundZero
			}
			v, _ = ctx.ToInt(x, width, rc)
			if c.x87Flags(&ctx) {
				return true
			}
		}
		la := c.linW(int(op.Seg), c.ea(op), width/8)
		c.wrN(la, uint8(width/8), uint64(v))
		if k != x86asm.FIST {
			c.fpop()
		}
	case x86asm.FCOM, x86asm.FCOMP, x86asm.FCOMPP, x86asm.FUCOM, x86asm.FUCOMP, x86asm.FUCOMPP,
		x86asm.FICOM, x86asm.FICOMP, x86asm.FTST, x86asm.FCOMI, x86asm.FCOMIP, x86asm.FUCOMI, x86asm.FUCOMIP:
		c.x87Compare(op, k, opc, reg)
	case x86asm.FCHS, x86asm.FABS:
		if f.empty(0) {
			if !c.stackFault(false) {
				c.setST(0, softfloat.Indefinite)
			}
			return true
		}
		r := &f.st[f.phys(0)]
		if k == x86asm.FCHS {
			r.se ^= 0x8000
		} else {
			r.se &^= 0x8000
		}
		f.sw &^= swC1
	case x86asm.FSQRT, x86asm.FRNDINT:
		if f.empty(0) {
			if !c.stackFault(false) {
				c.setST(0, softfloat.Indefinite)
			}
			return true
		}
		ctx := c.x87Ctx()
		x := c.readST(&ctx, 0)
		var r softfloat.Num
		if k == x86asm.FSQRT {
			r = ctx.Sqrt(x, c.x87Fmt())
		} else {
			r = ctx.RoundInt(x, ctx.RC)
		}
		f.sw &^= swC1
		if c.x87Flags(&ctx) {
			return true
		}
		c.setST(0, r)
	case x86asm.FXAM:
		f.sw &^= swCC
		r := f.st[f.phys(0)]
		if r.se&0x8000 != 0 {
			f.sw |= swC1
		}
		if f.empty(0) {
			f.sw |= swC3 | swC0
			return true
		}
		n := c.getST(0)
		switch n.Cls {
		case softfloat.Unsupported:
		case softfloat.NaN:
			f.sw |= swC0
		case softfloat.Inf:
			f.sw |= swC2 | swC0
		case softfloat.Zero:
			f.sw |= swC3
		default:
			if r.se&0x7FFF == 0 {
				f.sw |= swC3 | swC2 // denormal
			} else {
				f.sw |= swC2
			}
		}
	case x86asm.FCMOVB, x86asm.FCMOVE, x86asm.FCMOVBE, x86asm.FCMOVU,
		x86asm.FCMOVNB, x86asm.FCMOVNE, x86asm.FCMOVNBE, x86asm.FCMOVNU:
		i := op.Args[1].Reg
		if f.empty(0) || f.empty(i) {
			if !c.stackFault(false) {
				c.setST(0, softfloat.Indefinite)
			}
			return true
		}
		fl := c.getFlags()
		cf, zf, pf := fl&FLAG_CF != 0, fl&FLAG_ZF != 0, fl&FLAG_PF != 0
		var cond bool
		switch k {
		case x86asm.FCMOVB, x86asm.FCMOVNB:
			cond = cf
		case x86asm.FCMOVE, x86asm.FCMOVNE:
			cond = zf
		case x86asm.FCMOVBE, x86asm.FCMOVNBE:
			cond = cf || zf
		default:
			cond = pf
		}
		if k == x86asm.FCMOVNB || k == x86asm.FCMOVNE || k == x86asm.FCMOVNBE || k == x86asm.FCMOVNU {
			cond = !cond
		}
		if cond {
			c.setSTRaw(0, f.st[f.phys(i)])
		}
	case x86asm.FSCALE, x86asm.FPREM, x86asm.FPREM1, x86asm.FXTRACT, x86asm.FBLD, x86asm.FBSTP,
		x86asm.FSIN, x86asm.FCOS, x86asm.FSINCOS, x86asm.FPTAN, x86asm.FPATAN, x86asm.F2XM1, x86asm.FYL2X, x86asm.FYL2XP1:
		c.execX87Misc(op, k)
	default:
		return false
	}
	return true
}

func (c *CPU) x87Compare(op *tb.Op, k x86asm.Op, opc, reg uint8) {
	f := &c.fpu
	ctx := c.x87Ctx()
	var x, y softfloat.Num
	var pops int
	src := uint8(1)
	switch k {
	case x86asm.FCOMP, x86asm.FUCOMP, x86asm.FICOMP, x86asm.FCOMIP, x86asm.FUCOMIP:
		pops = 1
	case x86asm.FCOMPP, x86asm.FUCOMPP:
		pops = 2
	}
	eflags := k == x86asm.FCOMI || k == x86asm.FCOMIP || k == x86asm.FUCOMI || k == x86asm.FUCOMIP
	quiet := k == x86asm.FUCOM || k == x86asm.FUCOMP || k == x86asm.FUCOMPP || k == x86asm.FUCOMI || k == x86asm.FUCOMIP
	r := 2
	underflow := false
	switch {
	case k == x86asm.FTST:
		underflow = f.empty(0)
		x, y = c.readST(&ctx, 0), softfloat.Num{Cls: softfloat.Zero}
	case op.Args[0].Kind == okMem:
		underflow = f.empty(0)
		x = c.readST(&ctx, 0)
		y = c.loadMem(&ctx, op, x87MemType(opc, reg))
	default:
		switch {
		case op.Args[1].Kind == okST: // FCOMI ST(0), ST(i)
			src = op.Args[1].Reg
		case op.Args[0].Kind == okST: // FCOM ST(i)
			src = op.Args[0].Reg
		}
		underflow = f.empty(0) || f.empty(src)
		x, y = c.readST(&ctx, 0), c.readST(&ctx, src)
	}
	if !eflags {
		f.sw &^= swC1 // FCOMI & co. leave C1 alone (as the host CPU does)
	}
	if underflow {
		if c.stackFault(false) {
			return
		}
	} else {
		dropDEForNaN(&ctx, 0, x, y)
		r = ctx.Compare(x, y, !quiet)
		if c.x87Flags(&ctx) {
			return
		}
	}
	if eflags {
		var fl uint64
		switch r {
		case 2:
			fl = FLAG_ZF | FLAG_PF | FLAG_CF
		case 0:
			fl = FLAG_ZF
		case -1:
			fl = FLAG_CF
		}
		c.setArith(fl)
	} else {
		f.sw &^= swC0 | swC2 | swC3
		switch r {
		case 2:
			f.sw |= swC0 | swC2 | swC3
		case 0:
			f.sw |= swC3
		case -1:
			f.sw |= swC0
		}
	}
	for i := 0; i < pops; i++ {
		c.fpop()
	}
}

// execX87Misc: FSCALE, FPREM/FPREM1, FXTRACT, FBLD/FBSTP and the
// transcendentals.
func (c *CPU) execX87Misc(op *tb.Op, k x86asm.Op) {
	f := &c.fpu
	need := uint8(1)
	switch k {
	case x86asm.FSCALE, x86asm.FPREM, x86asm.FPREM1, x86asm.FPATAN, x86asm.FYL2X, x86asm.FYL2XP1:
		need = 2
	case x86asm.FBLD:
		need = 0
	}
	for i := uint8(0); i < need; i++ {
		if f.empty(i) {
			if c.stackFault(false) {
				return
			}
			if k == x86asm.FBSTP {
				la := c.linW(int(op.Seg), c.ea(op), 10)
				c.checkWritable(la, 10)
				c.wr64(la, 0xC000000000000000)
				c.wr16(c.wrapLin(la+8), 0xFFFF)
				c.fpop()
				return
			}
			switch k {
			case x86asm.FPREM, x86asm.FPREM1:
				f.sw &^= swC2
			case x86asm.FXTRACT:
				c.setST(0, softfloat.Indefinite)
				f.top = (f.top - 1) & 7
			}
			c.setST(0, softfloat.Indefinite)
			return
		}
	}
	if k == x86asm.FXTRACT && f.valid&(1<<((f.top-1)&7)) != 0 {
		if !c.stackFault(true) {
			c.setST(0, softfloat.Indefinite)
			c.fpush(softfloat.Indefinite)
		}
		return
	}
	ctx := c.x87Ctx()
	pf := c.x87Fmt()
	f.sw &^= swC1
	switch k {
	case x86asm.FBLD:
		la := c.linR(int(op.Seg), c.ea(op), 10)
		lo := c.rd64(la)
		hi := c.rd16(c.wrapLin(la + 8))
		var v uint64
		// 18 BCD digits: bits 0-71; byte 9 holds the sign.
		digits := [18]uint64{}
		for i := 0; i < 16; i++ {
			digits[i] = lo >> (4 * uint(i)) & 0xF
		}
		digits[16] = uint64(hi & 0xF)
		digits[17] = uint64(hi >> 4 & 0xF)
		for i := 17; i >= 0; i-- {
			v = v*10 + digits[i]
		}
		n := softfloat.FromUint(v)
		if hi&0x8000 != 0 {
			n.Sign = true
		}
		c.fpush(n)
	case x86asm.FBSTP:
		x := c.readST(&ctx, 0)
		ctx.Flags &^= softfloat.FlagDE
		v, ok := ctx.ToInt(x, 64, ctx.RC)
		la := c.linW(int(op.Seg), c.ea(op), 10)
		mag := uint64(v)
		neg := v < 0
		if neg {
			mag = -mag
		}
		if !ok || mag > 999999999999999999 {
			ctx.Flags |= softfloat.FlagIE
			if c.x87Flags(&ctx) {
				return
			}
			c.checkWritable(la, 10)
			c.wr64(la, 0xC000000000000000)
			c.wr16(c.wrapLin(la+8), 0xFFFF)
			c.fpop()
			return
		}
		if c.x87Flags(&ctx) {
			return
		}
		var lo uint64
		var hi uint16
		for i := 0; i < 18; i++ {
			d := mag % 10
			mag /= 10
			if i < 16 {
				lo |= d << (4 * uint(i))
			} else {
				hi |= uint16(d) << (4 * uint(i-16))
			}
		}
		if x.Sign {
			hi |= 0x8000
		}
		c.checkWritable(la, 10)
		c.wr64(la, lo)
		c.wr16(c.wrapLin(la+8), hi)
		c.fpop()
	case x86asm.FSCALE:
		x, y := c.readST(&ctx, 0), c.readST(&ctx, 1)
		dropDEForNaN(&ctx, 0, x, y)
		r := c.fscale(&ctx, x, y, pf)
		if c.x87Flags(&ctx) {
			return
		}
		c.setST(0, r)
	case x86asm.FXTRACT:
		x := c.readST(&ctx, 0)
		var e, s softfloat.Num
		switch x.Cls {
		case softfloat.Zero:
			ctx.Flags |= softfloat.FlagZE
			e, s = softfloat.Num{Cls: softfloat.Inf, Sign: true}, x
		case softfloat.Inf:
			e, s = softfloat.Num{Cls: softfloat.Inf}, x
		case softfloat.NaN, softfloat.Unsupported:
			s = ctx.RoundNum(x, softfloat.F80)
			e = s
		default:
			e = softfloat.FromInt(int64(x.Exp))
			s = x
			s.Exp = 0
		}
		if c.x87Flags(&ctx) {
			return
		}
		c.setST(0, e)
		c.fpush(s)
	case x86asm.FPREM, x86asm.FPREM1:
		x, y := c.readST(&ctx, 0), c.readST(&ctx, 1)
		dropDEForNaN(&ctx, 0, x, y)
		r, q, partial := c.fprem(&ctx, x, y, k == x86asm.FPREM1)
		if c.x87Flags(&ctx) {
			return
		}
		if r.Cls == softfloat.NaN {
			f.sw &^= swC2 // NaN result: C2 cleared, C0/C1/C3 left (as the host does)
			c.setST(0, r)
			return
		}
		f.sw &^= swC0 | swC1 | swC2 | swC3
		if partial {
			f.sw |= swC2
		} else {
			if q&4 != 0 {
				f.sw |= swC0
			}
			if q&2 != 0 {
				f.sw |= swC3
			}
			if q&1 != 0 {
				f.sw |= swC1
			}
		}
		c.setST(0, r)
	default:
		c.x87Transcendental(&ctx, k)
	}
}

// fscale: ST(0) × 2^trunc(ST(1)).
func (c *CPU) fscale(ctx *softfloat.Ctx, x, y softfloat.Num, pf softfloat.Format) softfloat.Num {
	if x.Cls == softfloat.NaN || y.Cls == softfloat.NaN || x.Cls == softfloat.Unsupported || y.Cls == softfloat.Unsupported {
		return ctx.Add(x, y, false, pf) // NaN propagation
	}
	switch {
	case y.Cls == softfloat.Inf:
		if y.Sign {
			if x.Cls == softfloat.Inf {
				ctx.Flags |= softfloat.FlagIE
				return softfloat.Indefinite
			}
			return softfloat.Num{Cls: softfloat.Zero, Sign: x.Sign}
		}
		if x.Cls == softfloat.Zero {
			ctx.Flags |= softfloat.FlagIE
			return softfloat.Indefinite
		}
		return softfloat.Num{Cls: softfloat.Inf, Sign: x.Sign}
	case x.Cls != softfloat.Normal:
		return x
	}
	var n int64
	if y.Cls == softfloat.Normal {
		if y.Exp > 30 {
			n = 1 << 30
		} else {
			var tmp softfloat.Ctx
			v, _ := tmp.ToInt(y, 64, softfloat.RoundZero)
			n = v
		}
		if y.Sign && n > 0 {
			n = -n
		}
	}
	e := int64(x.Exp) + n
	if e > 1<<20 {
		e = 1 << 20
	}
	if e < -(1 << 20) {
		e = -(1 << 20)
	}
	return ctx.Round(x.Sign, int32(e), x.Mant, 0, softfloat.F80)
}

// fprem computes the partial remainder of x/y (truncating quotient for
// FPREM, nearest for FPREM1). When the exponents differ by 64 or more
// only a partial reduction is made (C2=1), as the hardware does.
func (c *CPU) fprem(ctx *softfloat.Ctx, x, y softfloat.Num, ieee bool) (softfloat.Num, uint64, bool) {
	switch {
	case x.Cls == softfloat.NaN || y.Cls == softfloat.NaN || x.Cls == softfloat.Unsupported || y.Cls == softfloat.Unsupported:
		return ctx.Add(x, y, false, softfloat.F80), 0, false
	case x.Cls == softfloat.Inf || y.Cls == softfloat.Zero:
		ctx.Flags |= softfloat.FlagIE
		return softfloat.Indefinite, 0, false
	case x.Cls == softfloat.Zero || y.Cls == softfloat.Inf:
		return ctx.RoundNum(x, softfloat.F80), 0, false // a denormal stays one
	}
	d := int(x.Exp) - int(y.Exp)
	if d < 0 {
		if !ieee || d < -1 {
			return ctx.Round(x.Sign, x.Exp, x.Mant, 0, softfloat.F80), 0, false
		}
	}
	partial := false
	shift := d
	if d >= 64 {
		// Reduce by a multiple of y × 2^(d - n) with n in 32..63.
		n := 32 + d%32
		shift = n
		partial = true
	}
	// Exact integers: X = mx × 2^(d'), Y = my, compute X mod Y.
	mx := new(big.Int).SetUint64(x.Mant)
	my := new(big.Int).SetUint64(y.Mant)
	var scaleExp int32
	if shift >= 0 {
		mx.Lsh(mx, uint(shift))
		scaleExp = x.Exp - int32(shift) // exponent of 1 unit of the remainder, in Mant units
	} else {
		my.Lsh(my, uint(-shift))
		scaleExp = x.Exp
	}
	q, r := new(big.Int).QuoRem(mx, my, new(big.Int))
	if ieee && !partial {
		// Round the quotient to nearest (ties to even).
		r2 := new(big.Int).Lsh(r, 1)
		if cmp := r2.Cmp(my); cmp > 0 || cmp == 0 && q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
			r.Sub(r, my)
		}
	}
	sign := x.Sign
	if r.Sign() < 0 {
		sign = !sign
		r.Neg(r)
	}
	qlow := q.Uint64() & 7
	if partial {
		qlow = 0
	}
	if r.Sign() == 0 {
		return softfloat.Num{Cls: softfloat.Zero, Sign: x.Sign}, qlow, partial
	}
	// r is an integer in units of 2^(scaleExp-63).
	bl := r.BitLen()
	var m uint64
	if bl <= 64 {
		m = r.Uint64() << (64 - bl)
	} else {
		m = new(big.Int).Rsh(r, uint(bl-64)).Uint64()
	}
	e := scaleExp - 63 + int32(bl) - 1
	return ctx.Round(sign, e, m, 0, softfloat.F80), qlow, partial
}

// x87Transcendental computes FSIN & co. in binary64 (see the package note).
func (c *CPU) x87Transcendental(ctx *softfloat.Ctx, k x86asm.Op) {
	f := &c.fpu
	x := c.readST(ctx, 0)
	toF := func(n softfloat.Num) float64 {
		var t softfloat.Ctx
		return math.Float64frombits(softfloat.PackF64(t.RoundNum(n, softfloat.F64)))
	}
	fromF := func(v float64) softfloat.Num {
		n := ctx.UnpackF64(math.Float64bits(v))
		ctx.Flags &^= softfloat.FlagDE
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			ctx.Flags |= softfloat.FlagPE
		}
		return n
	}
	if x.Cls == softfloat.NaN || x.Cls == softfloat.Unsupported {
		r := ctx.Add(x, x, false, softfloat.F80)
		if c.x87Flags(ctx) {
			return
		}
		c.setST(0, r)
		if k == x86asm.FPATAN || k == x86asm.FYL2X || k == x86asm.FYL2XP1 {
			c.fpop()
			c.setST(0, r)
		}
		return
	}
	v := toF(x)
	switch k {
	case x86asm.FSIN, x86asm.FCOS, x86asm.FSINCOS, x86asm.FPTAN:
		f.sw &^= swC2
		if math.Abs(v) >= 1<<63 {
			f.sw |= swC2 // out of range: operand unchanged
			return
		}
		if x.Cls == softfloat.Inf {
			ctx.Flags |= softfloat.FlagIE
			if c.x87Flags(ctx) {
				return
			}
			c.setST(0, softfloat.Indefinite)
			return
		}
		switch k {
		case x86asm.FSIN:
			c.setST(0, fromF(math.Sin(v)))
		case x86asm.FCOS:
			c.setST(0, fromF(math.Cos(v)))
		case x86asm.FSINCOS:
			s, co := math.Sincos(v)
			c.setST(0, fromF(s))
			c.fpush(fromF(co))
		case x86asm.FPTAN:
			c.setST(0, fromF(math.Tan(v)))
			c.fpush(softfloat.FromInt(1))
		}
	case x86asm.F2XM1:
		c.setST(0, fromF(math.Expm1(v*math.Ln2)))
	case x86asm.FPATAN, x86asm.FYL2X, x86asm.FYL2XP1:
		y := toF(c.readST(ctx, 1))
		var r float64
		switch k {
		case x86asm.FPATAN:
			r = math.Atan2(y, v)
		case x86asm.FYL2X:
			if v < 0 || v == 0 && y == 0 {
				ctx.Flags |= softfloat.FlagIE
				r = math.NaN()
			} else {
				if v == 0 {
					ctx.Flags |= softfloat.FlagZE
				}
				r = y * math.Log2(v)
			}
		default:
			r = y * math.Log1p(v) / math.Ln2
		}
		var n softfloat.Num
		if math.IsNaN(r) {
			n = softfloat.Indefinite
		} else {
			n = fromF(r)
		}
		if c.x87Flags(ctx) {
			return
		}
		c.fpop()
		c.setST(0, n)
		return
	}
	c.x87Flags(ctx)
}
