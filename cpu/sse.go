package cpu

import (
	"glassbox/internal/softfloat"
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// SSE and SSE2 (SDM Vol. 1 ch. 10-11, Vol. 2 instruction pages): XMM0-15,
// MXCSR, the packed/scalar single and double arithmetic (through
// internal/softfloat, so rounding, flags, FTZ/DAZ and NaNs are x86's), the
// SSE2 packed-integer instructions on XMM registers, conversions, shuffles,
// LDMXCSR/STMXCSR and FXSAVE/FXRSTOR. The MMX forms (MMn operands) and
// SSE3 and later are #UD: CPUID reports neither.

// MXCSR bits.
const (
	MXCSR_DAZ  = 1 << 6
	MXCSR_FTZ  = 1 << 15
	mxcsrMask  = 0xFFFF // MXCSR_MASK reported by FXSAVE: every bit 0-15 is writable
	mxcsrReset = 0x1F80
)

// sseOn applies the checks every SSE instruction makes first (SDM Vol. 2
// "SIMD Floating-Point Exceptions" tables): #UD with CR0.EM or without
// CR4.OSFXSR, #NM with CR0.TS.
func (c *CPU) sseOn() {
	if c.CR0&CR0_EM != 0 || c.CR4&CR4_OSFXSR == 0 {
		c.ud()
	}
	if c.CR0&CR0_TS != 0 {
		c.raise(VecNM, 0, false)
	}
}

// xsrc reads operand i as 128 bits: an XMM register, or size bytes of
// memory zero-extended (16-byte alignment checked when align).
func (c *CPU) xsrc(op *tb.Op, i int, size int, align bool) [2]uint64 {
	a := &op.Args[i]
	switch a.Kind {
	case okXMM:
		return c.fpu.xmm[a.Reg]
	case okMem:
		la := c.linR(int(op.Seg), c.ea(op), size)
		if align && la&15 != 0 {
			c.gp(0)
		}
		switch size {
		case 2:
			return [2]uint64{uint64(c.rd16(la)), 0}
		case 4:
			return [2]uint64{uint64(c.rd32(la)), 0}
		case 8:
			return [2]uint64{c.rd64(la), 0}
		}
		return [2]uint64{c.rd64(la), c.rd64(c.wrapLin(la + 8))}
	}
	c.ud()
	return [2]uint64{}
}

// xstoreMem writes size bytes of v to the memory operand.
func (c *CPU) xstoreMem(op *tb.Op, size int, align bool, v [2]uint64) {
	la := c.linW(int(op.Seg), c.ea(op), size)
	if align && la&15 != 0 {
		c.gp(0)
	}
	switch size {
	case 4:
		c.wr32(la, uint32(v[0]))
	case 8:
		c.wr64(la, v[0])
	default:
		c.checkWritable(la, 16)
		c.wr64(la, v[0])
		c.wr64(c.wrapLin(la+8), v[1])
	}
}

func (c *CPU) xreg(op *tb.Op, i int) *[2]uint64 {
	if op.Args[i].Kind != okXMM {
		c.ud()
	}
	return &c.fpu.xmm[op.Args[i].Reg]
}

func (c *CPU) sseCtx() softfloat.Ctx {
	m := c.fpu.mxcsr
	return softfloat.Ctx{RC: uint8(m >> 13 & 3), FTZ: m&MXCSR_FTZ != 0, DAZ: m&MXCSR_DAZ != 0, UEMasked: m&(1<<11) != 0}
}

// sseFlags merges an instruction's exception flags into MXCSR and raises
// #XM (or #UD without CR4.OSXMMEXCPT) for an unmasked one, before the
// destination is written.
func (c *CPU) sseFlags(ctx *softfloat.Ctx) {
	f := uint32(ctx.Flags) & 0x3F
	const pre = softfloat.FlagIE | softfloat.FlagDE | softfloat.FlagZE
	if f&pre&^(c.fpu.mxcsr>>7) != 0 {
		f &= pre // an unmasked pre-computation exception: nothing is computed
	}
	c.fpu.mxcsr |= f
	if f&^(c.fpu.mxcsr>>7) != 0 {
		if c.CR4&CR4_OSXMMEXCPT == 0 {
			c.ud()
		}
		c.raise(VecXM, 0, false)
	}
}

func lane32(v [2]uint64, i int) uint64 { return v[i>>1] >> (32 * uint(i&1)) & 0xFFFFFFFF }

func setLane32(v *[2]uint64, i int, x uint64) {
	s := 32 * uint(i&1)
	v[i>>1] = v[i>>1]&^(0xFFFFFFFF<<s) | (x&0xFFFFFFFF)<<s
}

type fop uint8

const (
	fAdd fop = iota
	fSub
	fMul
	fDiv
	fMin
	fMax
	fSqrt
)

func unpackFmt(ctx *softfloat.Ctx, v uint64, dbl bool) softfloat.Num {
	if dbl {
		return ctx.UnpackF64(v)
	}
	return ctx.UnpackF32(uint32(v))
}

func packFmt(n softfloat.Num, dbl bool) uint64 {
	if dbl {
		return softfloat.PackF64(n)
	}
	return uint64(softfloat.PackF32(n))
}

func fmtOf(dbl bool) softfloat.Format {
	if dbl {
		return softfloat.F64
	}
	return softfloat.F32
}

// unpack2 unpacks both operands; with a NaN operand the denormal flag of
// the other is not reported (a QNaN operand ranks above #D, SDM Vol. 1
// §4.9.2).
func unpack2(ctx *softfloat.Ctx, a, b uint64, dbl bool) (x, y softfloat.Num, nan bool) {
	old := ctx.Flags
	ctx.Flags = 0
	x, y = unpackFmt(ctx, a, dbl), unpackFmt(ctx, b, dbl)
	nan = x.Cls == softfloat.NaN || y.Cls == softfloat.NaN
	if nan {
		ctx.Flags &^= softfloat.FlagDE
	}
	ctx.Flags |= old
	return x, y, nan
}

// fpArith computes one lane: a op b (b alone for SQRT). An invalid
// operation or a division by zero outranks the denormal-operand exception
// (SDM Vol. 1 §4.9.2), which is then not reported.
func fpArith(ctx *softfloat.Ctx, o fop, a, b uint64, dbl bool) uint64 {
	old := ctx.Flags
	ctx.Flags = 0
	r := fpArith1(ctx, o, a, b, dbl)
	if ctx.Flags&(softfloat.FlagIE|softfloat.FlagZE) != 0 {
		ctx.Flags &^= softfloat.FlagDE
	}
	ctx.Flags |= old
	return r
}

func fpArith1(ctx *softfloat.Ctx, o fop, a, b uint64, dbl bool) uint64 {
	f := fmtOf(dbl)
	if o == fSqrt {
		return packFmt(ctx.Sqrt(unpackFmt(ctx, b, dbl), f), dbl)
	}
	x, y, nan := unpack2(ctx, a, b, dbl)
	var r softfloat.Num
	switch o {
	case fAdd:
		r = ctx.Add(x, y, false, f)
	case fSub:
		r = ctx.Add(x, y, true, f)
	case fMul:
		r = ctx.Mul(x, y, f)
	case fDiv:
		r = ctx.Div(x, y, f)
	case fMin, fMax:
		// MIN/MAX return the second operand for NaNs and equal values
		// (SDM MINSD/MAXSD), with #I for any NaN.
		if nan {
			ctx.Flags |= softfloat.FlagIE
			return dazBits(ctx, b, y, dbl)
		}
		cmp := ctx.Compare(x, y, false)
		if o == fMin && cmp < 0 || o == fMax && cmp > 0 {
			return dazBits(ctx, a, x, dbl)
		}
		return dazBits(ctx, b, y, dbl)
	}
	return packFmt(r, dbl)
}

// dazBits returns operand v as MIN/MAX deliver it: a denormal flushed to
// a signed zero by DAZ reads as that zero.
func dazBits(ctx *softfloat.Ctx, v uint64, n softfloat.Num, dbl bool) uint64 {
	if ctx.DAZ && n.Cls == softfloat.Zero {
		if dbl {
			return v & (1 << 63)
		}
		return v & (1 << 31)
	}
	return v
}

// cmpPred evaluates CMPccPS/PD/SS/SD predicate imm (0-7).
func cmpPred(ctx *softfloat.Ctx, a, b uint64, dbl bool, imm uint64) bool {
	imm &= 7
	x, y, _ := unpack2(ctx, a, b, dbl)
	r := ctx.Compare(x, y, imm == 1 || imm == 2 || imm == 5 || imm == 6)
	switch imm {
	case 0:
		return r == 0
	case 1:
		return r == -1
	case 2:
		return r == -1 || r == 0
	case 3:
		return r == 2
	case 4:
		return r != 0
	case 5:
		return r != -1
	case 6:
		return r != -1 && r != 0
	}
	return r != 2
}

type sseArithOp struct {
	o      fop
	dbl    bool
	scalar bool
	ok     bool
}

// sseArith is sseArithList indexed by instruction (a map lookup per
// instruction is measurably slower).
var sseArith = opTable(sseArithList, func(v sseArithOp) sseArithOp { v.ok = true; return v })

var sseArithList = map[x86asm.Op]sseArithOp{
	x86asm.ADDPS: {fAdd, false, false, false}, x86asm.ADDPD: {fAdd, true, false, false}, x86asm.ADDSS: {fAdd, false, true, false}, x86asm.ADDSD: {fAdd, true, true, false},
	x86asm.SUBPS: {fSub, false, false, false}, x86asm.SUBPD: {fSub, true, false, false}, x86asm.SUBSS: {fSub, false, true, false}, x86asm.SUBSD: {fSub, true, true, false},
	x86asm.MULPS: {fMul, false, false, false}, x86asm.MULPD: {fMul, true, false, false}, x86asm.MULSS: {fMul, false, true, false}, x86asm.MULSD: {fMul, true, true, false},
	x86asm.DIVPS: {fDiv, false, false, false}, x86asm.DIVPD: {fDiv, true, false, false}, x86asm.DIVSS: {fDiv, false, true, false}, x86asm.DIVSD: {fDiv, true, true, false},
	x86asm.MINPS: {fMin, false, false, false}, x86asm.MINPD: {fMin, true, false, false}, x86asm.MINSS: {fMin, false, true, false}, x86asm.MINSD: {fMin, true, true, false},
	x86asm.MAXPS: {fMax, false, false, false}, x86asm.MAXPD: {fMax, true, false, false}, x86asm.MAXSS: {fMax, false, true, false}, x86asm.MAXSD: {fMax, true, true, false},
	x86asm.SQRTPS: {fSqrt, false, false, false}, x86asm.SQRTPD: {fSqrt, true, false, false}, x86asm.SQRTSS: {fSqrt, false, true, false}, x86asm.SQRTSD: {fSqrt, true, true, false},
}

// sseFPOp runs a packed or scalar arithmetic/compare instruction.
func (c *CPU) sseFPOp(op *tb.Op, o fop, dbl, scalar, cmp bool) {
	size, align := 16, true
	if scalar {
		size, align = 4, false
		if dbl {
			size = 8
		}
	}
	d := c.xreg(op, 0)
	s := c.xsrc(op, 1, size, align)
	r := *d
	ctx := c.sseCtx()
	n := 4
	if dbl {
		n = 2
	}
	if scalar {
		n = 1
	}
	for i := 0; i < n; i++ {
		var a, b uint64
		if dbl {
			a, b = d[i], s[i]
		} else {
			a, b = lane32(*d, i), lane32(s, i)
		}
		var v uint64
		if cmp {
			if cmpPred(&ctx, a, b, dbl, op.Imm) {
				v = ^uint64(0)
			}
		} else {
			v = fpArith(&ctx, o, a, b, dbl)
		}
		if dbl {
			r[i] = v
		} else {
			setLane32(&r, i, v)
		}
	}
	c.sseFlags(&ctx)
	*d = r
}

// execSSE runs SSE/SSE2 instructions; it reports false for anything else.
func (c *CPU) execSSE(op *tb.Op, k x86asm.Op) bool {
	if int(k) < len(sseArith) && sseArith[k].ok {
		a := &sseArith[k]
		c.sseOn()
		c.sseFPOp(op, a.o, a.dbl, a.scalar, false)
		return true
	}
	switch k {
	case x86asm.CMPPS, x86asm.CMPPD, x86asm.CMPSS, x86asm.CMPSD_XMM:
		c.sseOn()
		c.sseFPOp(op, 0, k == x86asm.CMPPD || k == x86asm.CMPSD_XMM, k == x86asm.CMPSS || k == x86asm.CMPSD_XMM, true)
		return true
	case x86asm.MOVAPS, x86asm.MOVAPD, x86asm.MOVDQA, x86asm.MOVUPS, x86asm.MOVUPD, x86asm.MOVDQU,
		x86asm.MOVNTPS, x86asm.MOVNTPD, x86asm.MOVNTDQ:
		c.sseOn()
		align := k != x86asm.MOVUPS && k != x86asm.MOVUPD && k != x86asm.MOVDQU
		if op.Args[0].Kind == okXMM {
			if k == x86asm.MOVNTPS || k == x86asm.MOVNTPD || k == x86asm.MOVNTDQ {
				c.ud()
			}
			*c.xreg(op, 0) = c.xsrc(op, 1, 16, align)
		} else if op.Args[0].Kind == okMem {
			c.xstoreMem(op, 16, align, *c.xreg(op, 1))
		} else {
			c.ud()
		}
		return true
	case x86asm.MOVSS, x86asm.MOVSD_XMM:
		c.sseOn()
		size := 4
		if k == x86asm.MOVSD_XMM {
			size = 8
		}
		switch {
		case op.Args[0].Kind == okMem:
			c.xstoreMem(op, size, false, *c.xreg(op, 1))
		case op.Args[1].Kind == okMem:
			*c.xreg(op, 0) = c.xsrc(op, 1, size, false)
		default:
			d, s := c.xreg(op, 0), c.xreg(op, 1)
			if size == 8 {
				d[0] = s[0]
			} else {
				setLane32(d, 0, lane32(*s, 0))
			}
		}
		return true
	case x86asm.MOVD, x86asm.MOVQ:
		if op.Args[0].Kind == okMM || op.Args[1].Kind == okMM {
			c.ud()
		}
		c.sseOn()
		if op.Args[0].Kind == okXMM {
			var v uint64
			switch op.Args[1].Kind {
			case okXMM:
				v = c.fpu.xmm[op.Args[1].Reg][0]
			case okMem:
				v = c.xsrc(op, 1, int(op.Args[1].Size), false)[0]
			default:
				v = c.rd(op, 1)
			}
			c.fpu.xmm[op.Args[0].Reg] = [2]uint64{v, 0}
		} else {
			v := c.xreg(op, 1)[0]
			if op.Args[0].Kind == okMem {
				c.xstoreMem(op, int(op.Args[0].Size), false, [2]uint64{v, 0})
			} else {
				c.wr(op, 0, v&sizeMask(op.Args[0].Size))
			}
		}
		return true
	case x86asm.MOVLPS, x86asm.MOVLPD, x86asm.MOVHPS, x86asm.MOVHPD:
		c.sseOn()
		hi := 0
		if k == x86asm.MOVHPS || k == x86asm.MOVHPD {
			hi = 1
		}
		if op.Args[0].Kind == okMem {
			c.xstoreMem(op, 8, false, [2]uint64{c.xreg(op, 1)[hi], 0})
		} else {
			if op.Args[1].Kind != okMem {
				c.ud()
			}
			v := c.xsrc(op, 1, 8, false)[0]
			c.xreg(op, 0)[hi] = v
		}
		return true
	case x86asm.MOVHLPS:
		c.sseOn()
		c.xreg(op, 0)[0] = c.xreg(op, 1)[1]
		return true
	case x86asm.MOVLHPS:
		c.sseOn()
		c.xreg(op, 0)[1] = c.xreg(op, 1)[0]
		return true
	case x86asm.MOVMSKPS, x86asm.MOVMSKPD, x86asm.PMOVMSKB:
		c.sseOn()
		s := *c.xreg(op, 1)
		var m uint64
		switch k {
		case x86asm.MOVMSKPS:
			for i := 0; i < 4; i++ {
				m |= lane32(s, i) >> 31 << uint(i)
			}
		case x86asm.MOVMSKPD:
			m = s[0]>>63 | s[1]>>63<<1
		default:
			for i := 0; i < 16; i++ {
				m |= s[i>>3] >> (8*uint(i&7) + 7) & 1 << uint(i)
			}
		}
		c.setReg(&op.Args[0], m)
		return true
	case x86asm.MOVNTI:
		c.sseOn()
		c.wr(op, 0, c.rd(op, 1))
		return true
	case x86asm.COMISS, x86asm.COMISD, x86asm.UCOMISS, x86asm.UCOMISD:
		c.sseOn()
		dbl := k == x86asm.COMISD || k == x86asm.UCOMISD
		size := 4
		if dbl {
			size = 8
		}
		a, b := c.xreg(op, 0)[0], c.xsrc(op, 1, size, false)[0]
		if !dbl {
			a, b = a&0xFFFFFFFF, b&0xFFFFFFFF
		}
		ctx := c.sseCtx()
		x, y, _ := unpack2(&ctx, a, b, dbl)
		r := ctx.Compare(x, y, k == x86asm.COMISS || k == x86asm.COMISD)
		c.sseFlags(&ctx)
		var f uint64
		switch r {
		case 2:
			f = FLAG_ZF | FLAG_PF | FLAG_CF
		case 0:
			f = FLAG_ZF
		case -1:
			f = FLAG_CF
		}
		c.setArith(f)
		return true
	case x86asm.LDMXCSR:
		c.sseOn()
		v := uint32(c.rd32(c.linR(int(op.Seg), c.ea(op), 4)))
		if v&^mxcsrMask != 0 {
			c.gp(0)
		}
		c.fpu.mxcsr = v
		return true
	case x86asm.STMXCSR:
		c.sseOn()
		c.wr32(c.linW(int(op.Seg), c.ea(op), 4), c.fpu.mxcsr)
		return true
	case x86asm.FXSAVE, x86asm.FXSAVE64:
		c.fxsave(op, k == x86asm.FXSAVE64)
		return true
	case x86asm.FXRSTOR, x86asm.FXRSTOR64:
		c.fxrstor(op, k == x86asm.FXRSTOR64)
		return true
	}
	if c.execSSEConvert(op, k) {
		return true
	}
	return c.execSSEInt(op, k)
}

// execSSEConvert runs the conversions between formats and integers.
func (c *CPU) execSSEConvert(op *tb.Op, k x86asm.Op) bool {
	switch k {
	case x86asm.CVTSI2SS, x86asm.CVTSI2SD:
		c.sseOn()
		d := c.xreg(op, 0)
		v := c.rd(op, 1)
		if op.Args[1].Size == 4 {
			v = uint64(int64(int32(v)))
		}
		ctx := c.sseCtx()
		dbl := k == x86asm.CVTSI2SD
		r := packFmt(ctx.RoundNum(softfloat.FromInt(int64(v)), fmtOf(dbl)), dbl)
		c.sseFlags(&ctx)
		if dbl {
			d[0] = r
		} else {
			setLane32(d, 0, r)
		}
	case x86asm.CVTSS2SD, x86asm.CVTSD2SS:
		c.sseOn()
		d := c.xreg(op, 0)
		dbl := k == x86asm.CVTSS2SD // destination format
		size := 8
		if dbl {
			size = 4
		}
		s := c.xsrc(op, 1, size, false)[0]
		ctx := c.sseCtx()
		x := unpackFmt(&ctx, s, !dbl)
		r := packFmt(ctx.RoundNum(x, fmtOf(dbl)), dbl)
		c.sseFlags(&ctx)
		if dbl {
			d[0] = r
		} else {
			setLane32(d, 0, r)
		}
	case x86asm.CVTSS2SI, x86asm.CVTTSS2SI, x86asm.CVTSD2SI, x86asm.CVTTSD2SI:
		c.sseOn()
		dbl := k == x86asm.CVTSD2SI || k == x86asm.CVTTSD2SI
		size := 4
		if dbl {
			size = 8
		}
		s := c.xsrc(op, 1, size, false)[0]
		ctx := c.sseCtx()
		rc := ctx.RC
		if k == x86asm.CVTTSS2SI || k == x86asm.CVTTSD2SI {
			rc = softfloat.RoundZero
		}
		x := unpackFmt(&ctx, s, dbl)
		ctx.Flags &^= softfloat.FlagDE // conversions to integers report no #D
		v, _ := ctx.ToInt(x, int(op.Args[0].Size)*8, rc)
		c.sseFlags(&ctx)
		c.setReg(&op.Args[0], uint64(v))
	case x86asm.CVTDQ2PD, x86asm.CVTDQ2PS:
		c.sseOn()
		d := c.xreg(op, 0)
		ctx := c.sseCtx()
		var r [2]uint64
		if k == x86asm.CVTDQ2PD {
			s := c.xsrc(op, 1, 8, false)
			for i := 0; i < 2; i++ {
				r[i] = packFmt(ctx.RoundNum(softfloat.FromInt(int64(int32(lane32(s, i)))), softfloat.F64), true)
			}
		} else {
			s := c.xsrc(op, 1, 16, true)
			for i := 0; i < 4; i++ {
				setLane32(&r, i, packFmt(ctx.RoundNum(softfloat.FromInt(int64(int32(lane32(s, i)))), softfloat.F32), false))
			}
		}
		c.sseFlags(&ctx)
		*d = r
	case x86asm.CVTPS2PD, x86asm.CVTPD2PS:
		c.sseOn()
		d := c.xreg(op, 0)
		ctx := c.sseCtx()
		var r [2]uint64
		if k == x86asm.CVTPS2PD {
			s := c.xsrc(op, 1, 8, false)
			for i := 0; i < 2; i++ {
				r[i] = packFmt(ctx.RoundNum(ctx.UnpackF32(uint32(lane32(s, i))), softfloat.F64), true)
			}
		} else {
			s := c.xsrc(op, 1, 16, true)
			for i := 0; i < 2; i++ {
				setLane32(&r, i, packFmt(ctx.RoundNum(ctx.UnpackF64(s[i]), softfloat.F32), false))
			}
		}
		c.sseFlags(&ctx)
		*d = r
	case x86asm.CVTPS2DQ, x86asm.CVTTPS2DQ, x86asm.CVTPD2DQ, x86asm.CVTTPD2DQ:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		ctx := c.sseCtx()
		rc := ctx.RC
		if k == x86asm.CVTTPS2DQ || k == x86asm.CVTTPD2DQ {
			rc = softfloat.RoundZero
		}
		var r [2]uint64
		if k == x86asm.CVTPS2DQ || k == x86asm.CVTTPS2DQ {
			for i := 0; i < 4; i++ {
				x := ctx.UnpackF32(uint32(lane32(s, i)))
				ctx.Flags &^= softfloat.FlagDE
				v, _ := ctx.ToInt(x, 32, rc)
				setLane32(&r, i, uint64(v))
			}
		} else {
			for i := 0; i < 2; i++ {
				x := ctx.UnpackF64(s[i])
				ctx.Flags &^= softfloat.FlagDE
				v, _ := ctx.ToInt(x, 32, rc)
				setLane32(&r, i, uint64(v))
			}
		}
		c.sseFlags(&ctx)
		*d = r
	case x86asm.SHUFPS:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		imm := op.Imm
		var r [2]uint64
		setLane32(&r, 0, lane32(*d, int(imm&3)))
		setLane32(&r, 1, lane32(*d, int(imm>>2&3)))
		setLane32(&r, 2, lane32(s, int(imm>>4&3)))
		setLane32(&r, 3, lane32(s, int(imm>>6&3)))
		*d = r
	case x86asm.SHUFPD:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		*d = [2]uint64{d[op.Imm&1], s[op.Imm>>1&1]}
	case x86asm.UNPCKLPS, x86asm.UNPCKHPS:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		h := 0
		if k == x86asm.UNPCKHPS {
			h = 2
		}
		var r [2]uint64
		setLane32(&r, 0, lane32(*d, h))
		setLane32(&r, 1, lane32(s, h))
		setLane32(&r, 2, lane32(*d, h+1))
		setLane32(&r, 3, lane32(s, h+1))
		*d = r
	case x86asm.UNPCKLPD:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		d[1] = s[0]
	case x86asm.UNPCKHPD:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		*d = [2]uint64{d[1], s[1]}
	case x86asm.ANDPS, x86asm.ANDPD, x86asm.ANDNPS, x86asm.ANDNPD, x86asm.ORPS, x86asm.ORPD, x86asm.XORPS, x86asm.XORPD:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		for i := range d {
			switch k {
			case x86asm.ANDPS, x86asm.ANDPD:
				d[i] &= s[i]
			case x86asm.ANDNPS, x86asm.ANDNPD:
				d[i] = ^d[i] & s[i]
			case x86asm.ORPS, x86asm.ORPD:
				d[i] |= s[i]
			default:
				d[i] ^= s[i]
			}
		}
	default:
		return false
	}
	return true
}

// fxsave stores the x87/SSE state in the 512-byte FXSAVE image (SDM Vol. 1
// §10.5.1, Table 10-2/10-3).
func (c *CPU) fxsave(op *tb.Op, rexw bool) {
	c.fxOn()
	la := c.linW(int(op.Seg), c.ea(op), 512)
	if la&15 != 0 {
		c.gp(0)
	}
	c.checkWritable(la, 512)
	var img [512]byte
	f := &c.fpu
	put16 := func(o int, v uint16) { img[o], img[o+1] = byte(v), byte(v>>8) }
	put32 := func(o int, v uint32) { put16(o, uint16(v)); put16(o+2, uint16(v>>16)) }
	put64 := func(o int, v uint64) { put32(o, uint32(v)); put32(o+4, uint32(v>>32)) }
	put16(0, f.cw)
	put16(2, f.status())
	img[4] = f.valid
	put16(6, f.fop)
	if rexw {
		put64(8, f.fip)
		put64(16, f.fdp)
	} else {
		put32(8, uint32(f.fip))
		put16(12, f.fcs)
		put32(16, uint32(f.fdp))
		put16(20, f.fds)
	}
	put32(24, f.mxcsr)
	put32(28, mxcsrMask)
	for i := 0; i < 8; i++ {
		r := f.st[(int(f.top)+i)&7]
		put64(32+16*i, r.m)
		put16(40+16*i, r.se)
	}
	n := 8
	if c.hflags&hfCS64 != 0 {
		n = 16
	}
	for i := 0; i < n; i++ {
		put64(160+16*i, f.xmm[i][0])
		put64(168+16*i, f.xmm[i][1])
	}
	for o := 0; o < 512; o += 8 {
		if o >= 160+16*n && o < 464 {
			continue // reserved: left as it was
		}
		if o >= 464 {
			continue // available to software
		}
		v := uint64(0)
		for j := 7; j >= 0; j-- {
			v = v<<8 | uint64(img[o+j])
		}
		c.wr64(c.wrapLin(la+uint64(o)), v)
	}
}

// fxrstor loads the state saved by fxsave; reserved MXCSR bits are #GP(0).
func (c *CPU) fxrstor(op *tb.Op, rexw bool) {
	c.fxOn()
	la := c.linR(int(op.Seg), c.ea(op), 512)
	if la&15 != 0 {
		c.gp(0)
	}
	var img [464]byte
	for o := 0; o < len(img); o += 8 {
		v := c.rd64(c.wrapLin(la + uint64(o)))
		for j := 0; j < 8; j++ {
			img[o+j] = byte(v >> (8 * j))
		}
	}
	g16 := func(o int) uint16 { return uint16(img[o]) | uint16(img[o+1])<<8 }
	g32 := func(o int) uint32 { return uint32(g16(o)) | uint32(g16(o+2))<<16 }
	g64 := func(o int) uint64 { return uint64(g32(o)) | uint64(g32(o+4))<<32 }
	mx := g32(24)
	if mx&^mxcsrMask != 0 {
		c.gp(0)
	}
	f := &c.fpu
	f.cw = g16(0)
	f.setStatus(g16(2))
	f.valid = img[4]
	f.fop = g16(6) & 0x7FF
	if rexw {
		f.fip, f.fdp = g64(8), g64(16)
	} else {
		f.fip, f.fcs, f.fdp, f.fds = uint64(g32(8)), g16(12), uint64(g32(16)), g16(20)
	}
	f.mxcsr = mx
	for i := 0; i < 8; i++ {
		f.st[(int(f.top)+i)&7] = f80{se: g16(40 + 16*i), m: g64(32 + 16*i)}
	}
	n := 8
	if c.hflags&hfCS64 != 0 {
		n = 16
	}
	for i := 0; i < n; i++ {
		f.xmm[i] = [2]uint64{g64(160 + 16*i), g64(168 + 16*i)}
	}
}

// fxOn: FXSAVE/FXRSTOR are #NM with CR0.TS or CR0.EM (SDM FXSAVE).
func (c *CPU) fxOn() {
	if c.CR0&(CR0_TS|CR0_EM) != 0 {
		c.raise(VecNM, 0, false)
	}
}
