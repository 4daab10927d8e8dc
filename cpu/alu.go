package cpu

import (
	"math/bits"

	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// Integer arithmetic, logic, shifts, multiply/divide, bit and BCD
// instructions (SDM Vol. 2 instruction pages).

func (c *CPU) alu(op *tb.Op, k x86asm.Op) {
	sz := op.Size
	m := sizeMask(sz)
	var a, la, b uint64
	// Fast operand fetch for the common register forms.
	a0, a1 := &op.Args[0], &op.Args[1]
	if a0.Kind == okReg {
		a = c.R[a0.Reg] & m
	} else if k == x86asm.CMP || k == x86asm.TEST {
		a = c.rd(op, 0)
	} else {
		a, la = c.rmw(op)
	}
	switch a1.Kind {
	case okReg:
		b = c.R[a1.Reg] & m
	case okImm:
		b = op.Imm & m
	default:
		b = c.rd(op, 1) & m
	}
	var r uint64
	switch k {
	case x86asm.ADD:
		r = a + b
		c.rmwStore(op, la, r&m)
		c.setAdd(sz, a, b, r, 0)
	case x86asm.ADC:
		cin := uint64(0)
		if c.cf() {
			cin = 1
		}
		r = a + b + cin
		c.rmwStore(op, la, r&m)
		c.setAdd(sz, a, b, r, cin)
	case x86asm.SUB:
		r = a - b
		c.rmwStore(op, la, r&m)
		c.setSub(sz, a, b, r, 0)
	case x86asm.SBB:
		cin := uint64(0)
		if c.cf() {
			cin = 1
		}
		r = a - b - cin
		c.rmwStore(op, la, r&m)
		c.setSub(sz, a, b, r, cin)
	case x86asm.CMP:
		c.setSub(sz, a, b, a-b, 0)
	case x86asm.AND:
		r = a & b
		c.rmwStore(op, la, r)
		c.setLogic(sz, r)
	case x86asm.OR:
		r = a | b
		c.rmwStore(op, la, r)
		c.setLogic(sz, r)
	case x86asm.XOR:
		r = a ^ b
		c.rmwStore(op, la, r)
		c.setLogic(sz, r)
	case x86asm.TEST:
		c.setLogic(sz, a&b)
	}
}

func (c *CPU) incdec(op *tb.Op, dec bool) {
	sz := op.Size
	a, la := c.rmw(op)
	var oldCF uint64
	if c.cf() {
		oldCF = FLAG_CF
	}
	var r uint64
	if dec {
		r = (a - 1) & sizeMask(sz)
		c.rmwStore(op, la, r)
		c.cc = lazyFlags{op: ccDec, size: sz, a: a, b: 1, res: r, carry: oldCF}
	} else {
		r = (a + 1) & sizeMask(sz)
		c.rmwStore(op, la, r)
		c.cc = lazyFlags{op: ccInc, size: sz, a: a, b: 1, res: r, carry: oldCF}
	}
}

func (c *CPU) neg(op *tb.Op) {
	sz := op.Size
	a, la := c.rmw(op)
	r := (0 - a) & sizeMask(sz)
	c.rmwStore(op, la, r)
	c.setSub(sz, 0, a, r, 0)
}

func (c *CPU) not(op *tb.Op) {
	a, la := c.rmw(op)
	c.rmwStore(op, la, ^a&sizeMask(op.Size))
}

// shiftCount returns operand 1 (CL or imm, or 1) masked per SDM.
func (c *CPU) shiftCount(op *tb.Op) uint {
	var n uint64 = 1
	if op.Args[1].Kind != okNone {
		n = c.rd(op, 1)
	}
	if op.Size == 8 {
		return uint(n & 0x3F)
	}
	return uint(n & 0x1F)
}

func (c *CPU) shift(op *tb.Op, k x86asm.Op) {
	sz := op.Size
	nbits := uint(sz) * 8
	m := sizeMask(sz)
	sb := signBit(sz)
	a, la := c.rmw(op)
	cnt := c.shiftCount(op)
	if cnt == 0 {
		c.zeroExtendDst(op, a)
		return
	}
	f := c.getFlags()
	cf := f & FLAG_CF
	var r, of uint64
	switch k {
	case x86asm.SHL:
		if cnt <= nbits {
			cf = a >> (nbits - cnt) & 1
		} else {
			cf = 0
		}
		if cnt >= 64 {
			r = 0
		} else {
			r = a << cnt & m
		}
		if (r&sb != 0) != (cf != 0) {
			of = FLAG_OF
		}
		c.rmwStore(op, la, r)
		c.setResultFlags(sz, r, cf|of|f&FLAG_AF)
		return
	case x86asm.SHR:
		if cnt <= nbits {
			cf = a >> (cnt - 1) & 1
			r = a >> cnt
			if cnt == 64 {
				r = 0
			}
		} else {
			cf, r = 0, 0
		}
		if a&sb != 0 {
			of = FLAG_OF
		}
		c.rmwStore(op, la, r)
		c.setResultFlags(sz, r, cf|of|f&FLAG_AF)
		return
	case x86asm.SAR:
		sa := int64(a<<(64-nbits)) >> (64 - nbits)
		if cnt >= nbits {
			cnt2 := cnt
			if cnt2 > 63 {
				cnt2 = 63
			}
			r = uint64(sa>>63) & m
			cf = uint64(sa>>(cnt2-1)) & 1
			if cnt > nbits {
				cf = uint64(sa>>63) & 1
			}
		} else {
			cf = uint64(sa>>(cnt-1)) & 1
			r = uint64(sa>>cnt) & m
		}
		c.rmwStore(op, la, r)
		c.setResultFlags(sz, r, cf|f&FLAG_AF)
		return
	case x86asm.ROL:
		t := cnt % nbits
		r = (a<<t | a>>(nbits-t)) & m
		if t == 0 {
			r = a
		}
		cf = r & 1
		if (r&sb != 0) != (cf != 0) {
			of = FLAG_OF
		}
	case x86asm.ROR:
		t := cnt % nbits
		r = (a>>t | a<<(nbits-t)) & m
		if t == 0 {
			r = a
		}
		if r&sb != 0 {
			cf = 1
		} else {
			cf = 0
		}
		if (r&sb != 0) != (r&(sb>>1) != 0) {
			of = FLAG_OF
		}
	case x86asm.RCL, x86asm.RCR:
		t := cnt
		switch sz {
		case 1:
			t = cnt % 9
		case 2:
			t = cnt % 17
		}
		r = a
		if k == x86asm.RCR {
			if (r&sb != 0) != (cf != 0) {
				of = FLAG_OF
			}
		}
		for ; t > 0; t-- {
			if k == x86asm.RCL {
				nc := r >> (nbits - 1) & 1
				r = (r<<1 | cf) & m
				cf = nc
			} else {
				nc := r & 1
				r = r>>1 | cf<<(nbits-1)
				cf = nc
			}
		}
		if k == x86asm.RCL {
			if (r&sb != 0) != (cf != 0) {
				of = FLAG_OF
			}
		}
	}
	c.rmwStore(op, la, r)
	c.setArith(f&^(FLAG_CF|FLAG_OF) | cf | of)
}

// zeroExtendDst performs the register write a 32-bit operation does even
// when it changes nothing (count 0): the upper half of the 64-bit register
// is cleared.
func (c *CPU) zeroExtendDst(op *tb.Op, v uint64) {
	if op.Size == 4 && op.Args[0].Kind == okReg {
		c.setReg(&op.Args[0], v)
	}
}

func (c *CPU) shxd(op *tb.Op, left bool) {
	sz := op.Size
	nbits := uint(sz) * 8
	m := sizeMask(sz)
	a, la := c.rmw(op)
	b := c.rd(op, 1)
	cnt := uint(c.rd(op, 2))
	if sz == 8 {
		cnt &= 0x3F
	} else {
		cnt &= 0x1F
	}
	if cnt == 0 {
		c.zeroExtendDst(op, a)
		return
	}
	f := c.getFlags()
	var r, cf uint64
	if left {
		switch sz {
		case 8:
			r = a<<cnt | b>>(64-cnt)
			cf = a >> (64 - cnt) & 1
		case 4:
			x := a<<32 | b
			r = x << cnt >> 32 & m
			cf = x >> (64 - cnt) & 1
		default: // 16-bit: counts above 16 shift dest bits in again (as QEMU/Intel)
			x := a<<32 | b<<16 | a
			r = x << cnt >> 32 & m
			cf = x << (cnt - 1) >> 47 & 1
		}
	} else {
		if sz == 8 {
			r = a>>cnt | b<<(64-cnt)
			cf = a >> (cnt - 1) & 1
		} else if sz == 2 {
			x := a | b<<16 | a<<32
			r = x >> cnt & m
			cf = x >> (cnt - 1) & 1
		} else {
			x := a | b<<nbits
			r = x >> cnt & m
			cf = x >> (cnt - 1) & 1
		}
	}
	of := uint64(0)
	if (r^a)&signBit(sz) != 0 {
		of = FLAG_OF
	}
	c.rmwStore(op, la, r)
	c.setResultFlags(sz, r, cf|of|f&FLAG_AF)
}

// mul1 implements one-operand MUL/IMUL.
func (c *CPU) mul1(op *tb.Op, signed bool) {
	sz := op.Size
	src := c.rd(op, 0)
	f := c.getFlags() &^ (FLAG_CF | FLAG_OF)
	var lo, hi uint64
	over := false
	switch sz {
	case 1:
		a := c.R[RAX] & 0xFF
		var r uint64
		if signed {
			r = uint64(int64(int8(a))*int64(int8(src))) & 0xFFFF
			over = int64(int8(r)) != int64(int16(r))
		} else {
			r = a * src
			over = r>>8 != 0
		}
		c.setGPR(RAX, 2, r)
		lo = r & 0xFF
		hi = r >> 8
	case 2, 4:
		n := uint(sz) * 8
		a := c.R[RAX] & sizeMask(sz)
		var r uint64
		if signed {
			sa := int64(a<<(64-n)) >> (64 - n)
			ss := int64(src<<(64-n)) >> (64 - n)
			p := sa * ss
			r = uint64(p)
			over = p != int64(r<<(64-n))>>(64-n)
		} else {
			r = a * src
			over = r>>n != 0
		}
		lo = r & sizeMask(sz)
		hi = r >> n & sizeMask(sz)
		c.setGPR(RAX, sz, lo)
		c.setGPR(RDX, sz, hi)
	case 8:
		a := c.R[RAX]
		if signed {
			h, l := bits.Mul64(a, src)
			if int64(a) < 0 {
				h -= src
			}
			if int64(src) < 0 {
				h -= a
			}
			hi, lo = h, l
			over = hi != uint64(int64(lo)>>63)
		} else {
			hi, lo = bits.Mul64(a, src)
			over = hi != 0
		}
		c.R[RAX], c.R[RDX] = lo, hi
	}
	if over {
		f |= FLAG_CF | FLAG_OF
	}
	// SF/ZF/PF follow the low half (undefined per SDM; matches QEMU).
	c.setResultFlags(sz, lo, f&(FLAG_CF|FLAG_OF|FLAG_AF))
}

// imulN implements the two- and three-operand IMUL forms.
func (c *CPU) imulN(op *tb.Op) {
	sz := op.Size
	n := uint(sz) * 8
	var a, b uint64
	if op.Args[2].Kind != okNone {
		a, b = c.rd(op, 1), c.rd(op, 2)
	} else {
		a, b = c.rd(op, 0), c.rd(op, 1)
	}
	var r uint64
	over := false
	if sz == 8 {
		h, l := bits.Mul64(a, b)
		if int64(a) < 0 {
			h -= b
		}
		if int64(b) < 0 {
			h -= a
		}
		r = l
		over = h != uint64(int64(l)>>63)
	} else {
		sa := int64(a<<(64-n)) >> (64 - n)
		sb := int64(b<<(64-n)) >> (64 - n)
		p := sa * sb
		r = uint64(p) & sizeMask(sz)
		over = p != int64(uint64(p)<<(64-n))>>(64-n)
	}
	c.wr(op, 0, r)
	f := c.getFlags() & FLAG_AF
	if over {
		f |= FLAG_CF | FLAG_OF
	}
	c.setResultFlags(sz, r, f)
}

func (c *CPU) div(op *tb.Op, signed bool) {
	sz := op.Size
	src := c.rd(op, 0)
	if src == 0 {
		c.raise(VecDE, 0, false)
	}
	switch sz {
	case 1:
		a := c.R[RAX] & 0xFFFF
		if signed {
			d := int64(int16(a))
			s := int64(int8(src))
			q, r := d/s, d%s
			if q > 127 || q < -128 {
				c.raise(VecDE, 0, false)
			}
			c.setGPR(RAX, 2, uint64(q)&0xFF|(uint64(r)&0xFF)<<8)
		} else {
			q, r := a/src, a%src
			if q > 0xFF {
				c.raise(VecDE, 0, false)
			}
			c.setGPR(RAX, 2, q|r<<8)
		}
	case 2, 4:
		n := uint(sz) * 8
		m := sizeMask(sz)
		a := (c.R[RDX]&m)<<n | c.R[RAX]&m
		if signed {
			d := int64(a)
			if sz == 2 {
				d = int64(int32(uint32(a)))
			}
			s := int64(src<<(64-n)) >> (64 - n)
			if sz == 4 && d == -1<<63 && s == -1 {
				c.raise(VecDE, 0, false)
			}
			q, r := d/s, d%s
			if q > int64(m>>1) || q < -int64(m>>1)-1 {
				c.raise(VecDE, 0, false)
			}
			c.setGPR(RAX, sz, uint64(q))
			c.setGPR(RDX, sz, uint64(r))
		} else {
			q, r := a/src, a%src
			if q > m {
				c.raise(VecDE, 0, false)
			}
			c.setGPR(RAX, sz, q)
			c.setGPR(RDX, sz, r)
		}
	case 8:
		hi, lo := c.R[RDX], c.R[RAX]
		if signed {
			neg := int64(hi) < 0
			if neg {
				lo = ^lo + 1
				hi = ^hi
				if lo == 0 {
					hi++
				}
			}
			s := src
			sneg := int64(src) < 0
			if sneg {
				s = -src
			}
			if hi >= s {
				c.raise(VecDE, 0, false)
			}
			q, r := bits.Div64(hi, lo, s)
			if neg != sneg {
				if q > 1<<63 {
					c.raise(VecDE, 0, false)
				}
				q = -q
			} else if q >= 1<<63 {
				c.raise(VecDE, 0, false)
			}
			if neg {
				r = -r
			}
			c.R[RAX], c.R[RDX] = q, r
		} else {
			if hi >= src {
				c.raise(VecDE, 0, false)
			}
			q, r := bits.Div64(hi, lo, src)
			c.R[RAX], c.R[RDX] = q, r
		}
	}
}

// bitOp implements BT/BTS/BTR/BTC (SDM: memory forms address the bit
// string relative to the operand with a signed bit offset).
func (c *CPU) bitOp(op *tb.Op, k x86asm.Op) {
	sz := op.Size
	nbits := uint64(sz) * 8
	off := c.rd(op, 1)
	a := &op.Args[0]
	var v, la uint64
	if a.Kind == okMem {
		delta := uint64(0)
		if op.Args[1].Kind != okImm {
			so := int64(off<<(64-nbits)) >> (64 - nbits)
			delta = uint64((so >> bits.TrailingZeros64(nbits)) * int64(sz))
		}
		if k == x86asm.BT {
			la = c.memLinR(op, delta, int(sz))
		} else {
			la = c.memLinW(op, delta, int(sz))
		}
		v = c.rdN(la, sz)
	} else {
		v = c.getReg(a)
	}
	bit := off & (nbits - 1)
	cf := v >> bit & 1
	switch k {
	case x86asm.BTS:
		v |= 1 << bit
	case x86asm.BTR:
		v &^= 1 << bit
	case x86asm.BTC:
		v ^= 1 << bit
	}
	if k != x86asm.BT {
		if a.Kind == okMem {
			c.wrN(la, sz, v)
		} else {
			c.setReg(a, v)
		}
	}
	f := c.getFlags()
	c.setArith(f&^FLAG_CF | cf)
}

func (c *CPU) bsx(op *tb.Op, reverse bool) {
	src := c.rd(op, 1)
	f := c.getFlags()
	if src == 0 {
		c.setArith(f | FLAG_ZF)
		return
	}
	var n uint64
	if reverse {
		n = uint64(63 - bits.LeadingZeros64(src))
	} else {
		n = uint64(bits.TrailingZeros64(src))
	}
	c.wr(op, 0, n)
	c.setResultFlags(op.Size, n, 0)
	c.setArith(c.flags &^ FLAG_ZF)
}

// BCD adjust instructions (SDM Vol. 2 DAA, DAS, AAA, AAS, AAM, AAD).
func (c *CPU) bcd(k x86asm.Op, op *tb.Op) {
	f := c.getFlags()
	al := c.R[RAX] & 0xFF
	cf := f&FLAG_CF != 0
	af := f&FLAG_AF != 0
	switch k {
	case x86asm.DAA, x86asm.DAS:
		oldAL, oldCF := al, cf
		nf := uint64(0)
		if al&0xF > 9 || af {
			if k == x86asm.DAA {
				if al+6 > 0xFF {
					nf |= FLAG_CF
				}
				al += 6
			} else {
				if al < 6 {
					nf |= FLAG_CF
				}
				al -= 6
			}
			al &= 0xFF
			nf |= FLAG_AF
		}
		if oldAL > 0x99 || oldCF {
			if k == x86asm.DAA {
				al += 0x60
			} else {
				al -= 0x60
			}
			nf |= FLAG_CF
		}
		al &= 0xFF
		// OF undefined: computed as a signed-overflow of the adjustment (as QEMU/Bochs do).
		if k == x86asm.DAA && oldAL&0x80 == 0 && al&0x80 != 0 {
			nf |= FLAG_OF
		}
		if k == x86asm.DAS && oldAL&0x80 != 0 && al&0x80 == 0 {
			nf |= FLAG_OF
		}
		c.setGPR(RAX, 1, al)
		c.setResultFlags(1, al, nf)
	case x86asm.AAA, x86asm.AAS:
		ax := c.R[RAX] & 0xFFFF
		nf := uint64(0)
		if al&0xF > 9 || af {
			if k == x86asm.AAA {
				ax += 0x106
			} else {
				ax -= 6
				ax = ax&0xFF | ((ax>>8)-1)<<8
			}
			nf = FLAG_AF | FLAG_CF
		}
		ax = ax & 0xFF0F
		c.setGPR(RAX, 2, ax)
		c.setResultFlags(1, ax&0xFF, nf)
	case x86asm.AAM:
		base := op.Imm & 0xFF
		if base == 0 {
			c.raise(VecDE, 0, false)
		}
		ah, nal := al/base, al%base
		c.setGPR(RAX, 2, ah<<8|nal)
		c.setResultFlags(1, nal, 0)
	case x86asm.AAD:
		base := op.Imm & 0xFF
		ah := c.R[RAX] >> 8 & 0xFF
		r := (al + ah*base) & 0xFF
		c.setGPR(RAX, 2, r)
		// flags from the byte add al + ah*base (OF/AF/CF undefined; as an ADD)
		c.setAdd(1, al, (ah*base)&0xFF, al+(ah*base)&0xFF, 0)
	}
}
