package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// SSE2 packed-integer instructions on XMM registers.

// vec is a 128-bit value viewed as lanes of w bytes (little-endian).
type vec [2]uint64

func toVec(v [2]uint64) vec { return vec(v) }

func (b vec) u64() [2]uint64 { return [2]uint64(b) }

func laneMask(w int) uint64 {
	if w == 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(w)) - 1
}

// get returns lane i of width w bytes.
func (b *vec) get(w, i int) uint64 {
	off := i * w
	return b[off>>3] >> (8 * uint(off&7)) & laneMask(w)
}

func (b *vec) set(w, i int, v uint64) {
	off := i * w
	s := 8 * uint(off&7)
	m := laneMask(w)
	b[off>>3] = b[off>>3]&^(m<<s) | (v&m)<<s
}

// byteAt returns byte i.
func (b *vec) byteAt(i int) byte { return byte(b[i>>3] >> (8 * uint(i&7))) }

func sext(v uint64, w int) int64 {
	s := 64 - 8*uint(w)
	return int64(v<<s) >> s
}

func satS(v int64, w int) uint64 {
	lo, hi := int64(-1)<<(8*uint(w)-1), int64(1)<<(8*uint(w)-1)-1
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return uint64(v)
}

func satU(v int64, w int) uint64 {
	hi := int64(1)<<(8*uint(w)) - 1
	if v < 0 {
		v = 0
	}
	if v > hi {
		v = hi
	}
	return uint64(v)
}

// laneOps maps element-wise instructions to (width, function).
type laneOp struct {
	w int
	f func(a, b uint64, w int) uint64
}

// laneOps is laneOpList indexed by instruction.
var laneOps = opTable(laneOpList, func(v laneOp) laneOp { return v })

// opTable turns a per-instruction map into a slice indexed by the
// instruction (a map lookup per executed instruction is measurably
// slower); mark sets the entry's "present" field.
func opTable[T any](list map[x86asm.Op]T, mark func(T) T) []T {
	var n x86asm.Op
	for k := range list {
		n = max(n, k)
	}
	t := make([]T, n+1)
	for k, v := range list {
		t[k] = mark(v)
	}
	return t
}

var laneOpList = map[x86asm.Op]laneOp{
	x86asm.PADDB: {1, addL}, x86asm.PADDW: {2, addL}, x86asm.PADDD: {4, addL}, x86asm.PADDQ: {8, addL},
	x86asm.PSUBB: {1, subL}, x86asm.PSUBW: {2, subL}, x86asm.PSUBD: {4, subL}, x86asm.PSUBQ: {8, subL},
	x86asm.PADDSB:  {1, func(a, b uint64, w int) uint64 { return satS(sext(a, w)+sext(b, w), w) }},
	x86asm.PADDSW:  {2, func(a, b uint64, w int) uint64 { return satS(sext(a, w)+sext(b, w), w) }},
	x86asm.PSUBSB:  {1, func(a, b uint64, w int) uint64 { return satS(sext(a, w)-sext(b, w), w) }},
	x86asm.PSUBSW:  {2, func(a, b uint64, w int) uint64 { return satS(sext(a, w)-sext(b, w), w) }},
	x86asm.PADDUSB: {1, func(a, b uint64, w int) uint64 { return satU(int64(a+b), w) }},
	x86asm.PADDUSW: {2, func(a, b uint64, w int) uint64 { return satU(int64(a+b), w) }},
	x86asm.PSUBUSB: {1, func(a, b uint64, w int) uint64 { return satU(int64(a)-int64(b), w) }},
	x86asm.PSUBUSW: {2, func(a, b uint64, w int) uint64 { return satU(int64(a)-int64(b), w) }},
	x86asm.PCMPEQB: {1, eqL}, x86asm.PCMPEQW: {2, eqL}, x86asm.PCMPEQD: {4, eqL},
	x86asm.PCMPGTB: {1, gtL}, x86asm.PCMPGTW: {2, gtL}, x86asm.PCMPGTD: {4, gtL},
	x86asm.PMULLW:  {2, func(a, b uint64, w int) uint64 { return a * b }},
	x86asm.PMULHW:  {2, func(a, b uint64, w int) uint64 { return uint64(sext(a, 2) * sext(b, 2) >> 16) }},
	x86asm.PMULHUW: {2, func(a, b uint64, w int) uint64 { return a * b >> 16 }},
	x86asm.PMINUB:  {1, func(a, b uint64, w int) uint64 { return min(a, b) }},
	x86asm.PMAXUB:  {1, func(a, b uint64, w int) uint64 { return max(a, b) }},
	x86asm.PMINSW:  {2, func(a, b uint64, w int) uint64 { return uint64(min(sext(a, 2), sext(b, 2))) }},
	x86asm.PMAXSW:  {2, func(a, b uint64, w int) uint64 { return uint64(max(sext(a, 2), sext(b, 2))) }},
	x86asm.PAVGB:   {1, func(a, b uint64, w int) uint64 { return (a + b + 1) >> 1 }},
	x86asm.PAVGW:   {2, func(a, b uint64, w int) uint64 { return (a + b + 1) >> 1 }},
	x86asm.PAND:    {8, func(a, b uint64, w int) uint64 { return a & b }},
	x86asm.PANDN:   {8, func(a, b uint64, w int) uint64 { return ^a & b }},
	x86asm.POR:     {8, func(a, b uint64, w int) uint64 { return a | b }},
	x86asm.PXOR:    {8, func(a, b uint64, w int) uint64 { return a ^ b }},
	x86asm.PMULUDQ: {8, func(a, b uint64, w int) uint64 { return (a & 0xFFFFFFFF) * (b & 0xFFFFFFFF) }},
}

func addL(a, b uint64, w int) uint64 { return a + b }
func subL(a, b uint64, w int) uint64 { return a - b }
func eqL(a, b uint64, w int) uint64 {
	if a == b {
		return ^uint64(0)
	}
	return 0
}
func gtL(a, b uint64, w int) uint64 {
	if sext(a, w) > sext(b, w) {
		return ^uint64(0)
	}
	return 0
}

// execSSEInt runs the packed-integer instructions; false for anything else.
func (c *CPU) execSSEInt(op *tb.Op, k x86asm.Op) bool {
	if op.Args[0].Kind == okMM || op.Args[1].Kind == okMM {
		return false // MMX forms are not implemented (#UD)
	}
	if int(k) < len(laneOps) && laneOps[k].f != nil {
		l := &laneOps[k]
		c.sseOn()
		d := c.xreg(op, 0)
		a, b := toVec(*d), toVec(c.xsrc(op, 1, 16, true))
		var r vec
		for i := 0; i < 16/l.w; i++ {
			r.set(l.w, i, l.f(a.get(l.w, i), b.get(l.w, i), l.w))
		}
		*d = r.u64()
		return true
	}
	switch k {
	case x86asm.PUNPCKLBW, x86asm.PUNPCKLWD, x86asm.PUNPCKLDQ, x86asm.PUNPCKLQDQ,
		x86asm.PUNPCKHBW, x86asm.PUNPCKHWD, x86asm.PUNPCKHDQ, x86asm.PUNPCKHQDQ:
		c.sseOn()
		d := c.xreg(op, 0)
		a, b := toVec(*d), toVec(c.xsrc(op, 1, 16, true))
		w, base := punpckShape(k)
		var r vec
		for i := 0; i < 8/w; i++ {
			r.set(w, 2*i, a.get(w, base+i))
			r.set(w, 2*i+1, b.get(w, base+i))
		}
		*d = r.u64()
	case x86asm.PACKSSWB, x86asm.PACKSSDW, x86asm.PACKUSWB:
		c.sseOn()
		d := c.xreg(op, 0)
		a, b := toVec(*d), toVec(c.xsrc(op, 1, 16, true))
		w := 2
		if k == x86asm.PACKSSDW {
			w = 4
		}
		n := 16 / w
		var r vec
		for i := 0; i < 2*n; i++ {
			src := &a
			j := i
			if i >= n {
				src, j = &b, i-n
			}
			v := sext(src.get(w, j), w)
			if k == x86asm.PACKUSWB {
				r.set(w/2, i, satU(v, w/2))
			} else {
				r.set(w/2, i, satS(v, w/2))
			}
		}
		*d = r.u64()
	case x86asm.PMADDWD:
		c.sseOn()
		d := c.xreg(op, 0)
		a, b := toVec(*d), toVec(c.xsrc(op, 1, 16, true))
		var r vec
		for i := 0; i < 4; i++ {
			s := sext(a.get(2, 2*i), 2)*sext(b.get(2, 2*i), 2) + sext(a.get(2, 2*i+1), 2)*sext(b.get(2, 2*i+1), 2)
			r.set(4, i, uint64(s))
		}
		*d = r.u64()
	case x86asm.PSADBW:
		c.sseOn()
		d := c.xreg(op, 0)
		a, b := toVec(*d), toVec(c.xsrc(op, 1, 16, true))
		var r [2]uint64
		for h := 0; h < 2; h++ {
			var s uint64
			for i := 0; i < 8; i++ {
				x, y := int(a.byteAt(8*h+i)), int(b.byteAt(8*h+i))
				if x > y {
					s += uint64(x - y)
				} else {
					s += uint64(y - x)
				}
			}
			r[h] = s
		}
		*d = r
	case x86asm.PSHUFD:
		c.sseOn()
		d := c.xreg(op, 0)
		s := c.xsrc(op, 1, 16, true)
		var r [2]uint64
		for i := 0; i < 4; i++ {
			setLane32(&r, i, lane32(s, int(op.Imm>>(2*uint(i))&3)))
		}
		*d = r
	case x86asm.PSHUFLW, x86asm.PSHUFHW:
		c.sseOn()
		d := c.xreg(op, 0)
		s := toVec(c.xsrc(op, 1, 16, true))
		r := s
		base := 0
		if k == x86asm.PSHUFHW {
			base = 4
		}
		for i := 0; i < 4; i++ {
			r.set(2, base+i, s.get(2, base+int(op.Imm>>(2*uint(i))&3)))
		}
		*d = r.u64()
	case x86asm.PSLLW, x86asm.PSLLD, x86asm.PSLLQ, x86asm.PSRLW, x86asm.PSRLD, x86asm.PSRLQ, x86asm.PSRAW, x86asm.PSRAD:
		c.sseOn()
		d := c.xreg(op, 0)
		var n uint64
		if op.Args[1].Kind == okImm {
			n = op.Imm & 0xFF
		} else {
			n = c.xsrc(op, 1, 16, true)[0]
		}
		w := 2
		switch k {
		case x86asm.PSLLD, x86asm.PSRLD, x86asm.PSRAD:
			w = 4
		case x86asm.PSLLQ, x86asm.PSRLQ:
			w = 8
		}
		bitsW := uint64(8 * w)
		a := toVec(*d)
		var r vec
		for i := 0; i < 16/w; i++ {
			v := a.get(w, i)
			switch k {
			case x86asm.PSLLW, x86asm.PSLLD, x86asm.PSLLQ:
				if n >= bitsW {
					v = 0
				} else {
					v <<= n
				}
			case x86asm.PSRLW, x86asm.PSRLD, x86asm.PSRLQ:
				if n >= bitsW {
					v = 0
				} else {
					v >>= n
				}
			default:
				s := n
				if s >= bitsW {
					s = bitsW - 1
				}
				v = uint64(sext(v, w) >> s)
			}
			r.set(w, i, v)
		}
		*d = r.u64()
	case x86asm.PSLLDQ, x86asm.PSRLDQ:
		c.sseOn()
		d := c.xreg(op, 0)
		n := int(op.Imm & 0xFF)
		a := toVec(*d)
		var r vec
		for i := 0; i < 16; i++ {
			j := i + n
			if k == x86asm.PSLLDQ {
				j = i - n
			}
			if j >= 0 && j < 16 {
				r.set(1, i, uint64(a.byteAt(j)))
			}
		}
		*d = r.u64()
	case x86asm.PINSRW:
		c.sseOn()
		d := c.xreg(op, 0)
		var v uint64
		if op.Args[1].Kind == okMem {
			v = c.xsrc(op, 1, 2, false)[0]
		} else {
			v = c.R[op.Args[1].Reg]
		}
		a := toVec(*d)
		a.set(2, int(op.Imm&7), v&0xFFFF)
		*d = a.u64()
	case x86asm.PEXTRW:
		c.sseOn()
		if op.Args[1].Kind != okXMM || op.Args[0].Kind != okReg {
			return false
		}
		a := toVec(c.fpu.xmm[op.Args[1].Reg])
		c.setReg(&op.Args[0], a.get(2, int(op.Imm&7)))
	default:
		return false
	}
	return true
}

// punpckShape returns the element width of a PUNPCK instruction and the
// first element it takes (0 for the low halves, the middle for the high).
func punpckShape(k x86asm.Op) (w, base int) {
	switch k {
	case x86asm.PUNPCKLBW:
		return 1, 0
	case x86asm.PUNPCKLWD:
		return 2, 0
	case x86asm.PUNPCKLDQ:
		return 4, 0
	case x86asm.PUNPCKLQDQ:
		return 8, 0
	case x86asm.PUNPCKHBW:
		return 1, 8
	case x86asm.PUNPCKHWD:
		return 2, 4
	case x86asm.PUNPCKHDQ:
		return 4, 2
	}
	return 8, 1
}
