package hostcpu

import (
	"fmt"
	"math"
)

// x87 and further SSE/SSE2 forms. x87 cases start from a random x87 state:
// all exceptions masked, random rounding and precision control, random
// TOP, sticky flags and condition codes, and the registers an instruction
// reads mostly valid (sometimes empty, for stack underflow; for pushes the
// register below TOP is sometimes valid, for stack overflow). Register
// values are "interesting" 80-bit numbers: conversions of the binary64
// specials, random normals, denormals, NaNs, and unsupported encodings.
// The transcendental instructions are not here: glassbox computes them in
// binary64 and does not claim bit-exact results.

// f64to80 converts a binary64 bit pattern to the 80-bit format exactly.
func f64to80(v uint64) F80 {
	se := uint16(v >> 48 & 0x8000)
	e := int(v >> 52 & 0x7FF)
	f := v & (1<<52 - 1)
	switch {
	case e == 0x7FF:
		return F80{se | 0x7FFF, 1<<63 | f<<11}
	case e == 0 && f == 0:
		return F80{se, 0}
	case e == 0:
		m := f << 12
		ex := 16383 - 1022
		for m>>63 == 0 {
			m <<= 1
			ex--
		}
		return F80{se | uint16(ex), m}
	}
	return F80{se | uint16(e-1023+16383), 1<<63 | f<<11}
}

// f80 returns an interesting extended-precision value.
func (g *gen) f80() F80 {
	r := g.rng
	sign := uint16(r.IntN(2)) << 15
	switch r.IntN(10) {
	case 0, 1:
		return f64to80(g.f64())
	case 2: // specials of the extended format
		return []F80{{0, 0}, {0x8000, 0}, {0x7FFF, 1 << 63}, {0xFFFF, 1 << 63}, {0xFFFF, 3 << 62},
			{0x7FFF, 3<<62 | 5}, {0x7FFF, 1<<63 | 1}, {0x7FFE, ^uint64(0)}, {0x0001, 1 << 63},
			{0x0000, 1 << 62}, {0x0000, 1}, {0x3FFF, 1 << 63}, {0xBFFF, 1 << 63}}[r.IntN(13)]
	case 3: // denormal or pseudo-denormal
		m := r.Uint64() >> uint(r.IntN(64))
		if r.IntN(8) == 0 {
			m |= 1 << 63
		}
		return F80{sign, m}
	case 4: // huge or tiny exponents
		e := uint16(r.IntN(64))
		if r.IntN(2) == 0 {
			e = 0x7FFE - e
		} else {
			e++
		}
		return F80{sign | e, 1<<63 | r.Uint64()}
	case 5: // small integers and halves
		return f64to80(math.Float64bits(float64(r.IntN(64)-32) / float64(int(1)<<uint(r.IntN(3)))))
	case 6:
		if r.IntN(4) == 0 { // unsupported encodings (unnormal, pseudo-NaN/inf)
			if r.IntN(2) == 0 {
				return F80{sign | 0x7FFF, r.Uint64() >> 1}
			}
			return F80{sign | uint16(1+r.IntN(0x7FFE)), r.Uint64() >> 1}
		}
		return F80{sign | uint16(r.IntN(0x8000)), r.Uint64()}
	}
	return F80{sign | uint16(16383-40+r.IntN(80)), 1<<63 | r.Uint64()}
}

// x87 sets up a random x87 state with ST(0)..ST(n-1) valid (each
// sometimes empty when underflow is allowed) and, with push, sometimes a
// full stack.
func (g *gen) x87(n int, push bool) {
	r := g.rng
	x := &g.st.X87
	pc := []uint16{0, 2, 3, 3}[r.IntN(4)]
	x.FCW = 0x40 | 0x3F | pc<<8 | uint16(r.IntN(4))<<10
	top := r.IntN(8)
	x.FSW = uint16(top)<<11 | uint16(r.IntN(16))<<8&0x0700 | uint16(r.IntN(2))<<14
	if r.IntN(3) == 0 {
		x.FSW |= uint16(r.IntN(64)) // sticky flags (masked: no ES)
	}
	for i := range x.ST {
		x.ST[i] = g.f80()
		valid := i < n || r.IntN(3) == 0
		if i < n && r.IntN(24) == 0 {
			valid = false // stack underflow
		}
		if push && i == 7 && r.IntN(6) == 0 {
			valid = true // stack overflow
		} else if push && i == 7 {
			valid = false
		}
		if valid {
			x.FTW |= 1 << uint((top+i)&7)
		}
	}
}

// memF80 writes an extended value at the memory operand.
func (g *gen) memF80(v F80) {
	g.writeData(g.memAddr, 64, v.M)
	g.writeData(g.memAddr+8, 16, uint64(v.SE))
}

type x87Mem int

const (
	xmF32 x87Mem = iota
	xmF64
	xmF80
	xmI16
	xmI32
	xmI64
	xmBCD
	xm16 // a control or status word
)

var x87MemName = map[x87Mem]string{xmF32: "m32fp", xmF64: "m64fp", xmF80: "m80fp", xmI16: "m16int",
	xmI32: "m32int", xmI64: "m64int", xmBCD: "m80bcd", xm16: "m2byte"}

var x87MemSize = map[x87Mem]int{xmF32: 4, xmF64: 8, xmF80: 10, xmI16: 2, xmI32: 4, xmI64: 8, xmBCD: 10, xm16: 2}

// x87MemVal fills the memory operand with a value of its type.
func (g *gen) x87MemVal(t x87Mem) {
	switch t {
	case xmF32:
		g.writeData(g.memAddr, 32, uint64(g.f32()))
	case xmF64:
		g.writeData(g.memAddr, 64, g.f64())
	case xmF80:
		g.memF80(g.f80())
	case xmI16:
		g.writeData(g.memAddr, 16, g.val(16))
	case xmI32:
		g.writeData(g.memAddr, 32, g.val(32))
	case xmI64:
		g.writeData(g.memAddr, 64, g.val(64))
	case xmBCD:
		var v uint64
		for i := 0; i < 16; i++ {
			v |= uint64(g.rng.IntN(10)) << (4 * uint(i))
		}
		g.writeData(g.memAddr, 64, v)
		g.writeData(g.memAddr+8, 16, uint64(g.rng.IntN(100)/10<<4|g.rng.IntN(10))|uint64(g.rng.IntN(2))<<15)
	}
}

func (l *formList) x87() {
	// Register-operand forms: opcode byte, ModRM base (C0, C8, ...) + i.
	type regForm struct {
		name  string
		op    byte
		modrm byte
		n     int  // registers read (ST(0)..)
		useI  bool // the form names ST(i)
		push  bool
		fsw   uint16
	}
	const ccUndef = 0x4500 // C0, C2, C3: undefined after arithmetic (SDM)
	var regs []regForm
	for _, a := range []struct {
		name string
		d    byte // digit in D8
	}{{"FADD", 0}, {"FMUL", 1}, {"FSUB", 4}, {"FSUBR", 5}, {"FDIV", 6}, {"FDIVR", 7}} {
		regs = append(regs, regForm{a.name + " ST(0), ST(i)", 0xD8, 0xC0 | a.d<<3, 2, true, false, ccUndef})
		// In DC/DE the SUB/SUBR and DIV/DIVR digits are swapped.
		name := a.name
		switch a.d {
		case 4, 6:
			name += "R"
		case 5, 7:
			name = name[:len(name)-1]
		}
		regs = append(regs, regForm{name + " ST(i), ST(0)", 0xDC, 0xC0 | a.d<<3, 2, true, false, ccUndef})
		regs = append(regs, regForm{name + "P ST(i), ST(0)", 0xDE, 0xC0 | a.d<<3, 2, true, false, ccUndef})
	}
	regs = append(regs,
		regForm{"FCOM ST(i)", 0xD8, 0xD0, 2, true, false, 0},
		regForm{"FCOMP ST(i)", 0xD8, 0xD8, 2, true, false, 0},
		regForm{"FCOMPP", 0xDE, 0xD9, 2, false, false, 0},
		regForm{"FUCOM ST(i)", 0xDD, 0xE0, 2, true, false, 0},
		regForm{"FUCOMP ST(i)", 0xDD, 0xE8, 2, true, false, 0},
		regForm{"FUCOMPP", 0xDA, 0xE9, 2, false, false, 0},
		regForm{"FCOMI ST(0), ST(i)", 0xDB, 0xF0, 2, true, false, ccUndef},
		regForm{"FCOMIP ST(0), ST(i)", 0xDF, 0xF0, 2, true, false, ccUndef},
		regForm{"FUCOMI ST(0), ST(i)", 0xDB, 0xE8, 2, true, false, ccUndef},
		regForm{"FUCOMIP ST(0), ST(i)", 0xDF, 0xE8, 2, true, false, ccUndef},
		regForm{"FTST", 0xD9, 0xE4, 1, false, false, 0},
		regForm{"FXAM", 0xD9, 0xE5, 1, false, false, 0},
		regForm{"FLD ST(i)", 0xD9, 0xC0, 2, true, true, ccUndef},
		regForm{"FST ST(i)", 0xDD, 0xD0, 2, true, false, ccUndef},
		regForm{"FSTP ST(i)", 0xDD, 0xD8, 2, true, false, ccUndef},
		regForm{"FXCH ST(i)", 0xD9, 0xC8, 2, true, false, ccUndef},
		regForm{"FFREE ST(i)", 0xDD, 0xC0, 2, true, false, ccUndef},
		regForm{"FCHS", 0xD9, 0xE0, 1, false, false, ccUndef},
		regForm{"FABS", 0xD9, 0xE1, 1, false, false, ccUndef},
		regForm{"FSQRT", 0xD9, 0xFA, 1, false, false, ccUndef},
		regForm{"FRNDINT", 0xD9, 0xFC, 1, false, false, ccUndef},
		regForm{"FSCALE", 0xD9, 0xFD, 2, false, false, ccUndef},
		regForm{"FPREM", 0xD9, 0xF8, 2, false, false, 0},
		regForm{"FPREM1", 0xD9, 0xF5, 2, false, false, 0},
		regForm{"FXTRACT", 0xD9, 0xF4, 1, false, true, ccUndef},
		regForm{"FINCSTP", 0xD9, 0xF7, 0, false, false, ccUndef},
		regForm{"FDECSTP", 0xD9, 0xF6, 0, false, false, ccUndef},
		regForm{"FNOP", 0xD9, 0xD0, 0, false, false, 0},
		regForm{"FNCLEX", 0xDB, 0xE2, 0, false, false, 0},
		regForm{"FNINIT", 0xDB, 0xE3, 0, false, false, 0},
		regForm{"FLD1", 0xD9, 0xE8, 0, false, true, ccUndef},
		regForm{"FLDL2T", 0xD9, 0xE9, 0, false, true, ccUndef},
		regForm{"FLDL2E", 0xD9, 0xEA, 0, false, true, ccUndef},
		regForm{"FLDPI", 0xD9, 0xEB, 0, false, true, ccUndef},
		regForm{"FLDLG2", 0xD9, 0xEC, 0, false, true, ccUndef},
		regForm{"FLDLN2", 0xD9, 0xED, 0, false, true, ccUndef},
		regForm{"FLDZ", 0xD9, 0xEE, 0, false, true, ccUndef},
	)
	for _, cm := range []struct {
		name string
		op   byte
		base byte
	}{{"FCMOVB", 0xDA, 0xC0}, {"FCMOVE", 0xDA, 0xC8}, {"FCMOVBE", 0xDA, 0xD0}, {"FCMOVU", 0xDA, 0xD8},
		{"FCMOVNB", 0xDB, 0xC0}, {"FCMOVNE", 0xDB, 0xC8}, {"FCMOVNBE", 0xDB, 0xD0}, {"FCMOVNU", 0xDB, 0xD8}} {
		regs = append(regs, regForm{cm.name + " ST(0), ST(i)", cm.op, cm.base, 2, true, false, ccUndef})
	}
	for _, f := range regs {
		l.add(f.name, formOpt{fault: FaultNone, fswMask: f.fsw}, func(g *gen) {
			g.x87(f.n, f.push)
			m := f.modrm
			if f.useI {
				m += byte(g.rng.IntN(8))
			}
			g.op = []byte{f.op, m}
		})
	}
	l.add("FNSTSW AX", ok(0), func(g *gen) {
		g.x87(0, false)
		g.op = []byte{0xDF, 0xE0}
	})

	// Memory-operand forms: opcode, digit, memory type.
	type memForm struct {
		name string
		op   byte
		d    byte
		t    x87Mem
		n    int
		push bool
		fsw  uint16
	}
	var mems []memForm
	for _, a := range []struct {
		name string
		d    byte
	}{{"FADD", 0}, {"FMUL", 1}, {"FSUB", 4}, {"FSUBR", 5}, {"FDIV", 6}, {"FDIVR", 7}} {
		mems = append(mems, memForm{a.name, 0xD8, a.d, xmF32, 1, false, ccUndef},
			memForm{a.name, 0xDC, a.d, xmF64, 1, false, ccUndef},
			memForm{"FI" + a.name[1:], 0xDA, a.d, xmI32, 1, false, ccUndef},
			memForm{"FI" + a.name[1:], 0xDE, a.d, xmI16, 1, false, ccUndef})
	}
	mems = append(mems,
		memForm{"FCOM", 0xD8, 2, xmF32, 1, false, 0}, memForm{"FCOMP", 0xD8, 3, xmF32, 1, false, 0},
		memForm{"FCOM", 0xDC, 2, xmF64, 1, false, 0}, memForm{"FCOMP", 0xDC, 3, xmF64, 1, false, 0},
		memForm{"FICOM", 0xDA, 2, xmI32, 1, false, 0}, memForm{"FICOMP", 0xDA, 3, xmI32, 1, false, 0},
		memForm{"FICOM", 0xDE, 2, xmI16, 1, false, 0}, memForm{"FICOMP", 0xDE, 3, xmI16, 1, false, 0},
		memForm{"FLD", 0xD9, 0, xmF32, 0, true, ccUndef}, memForm{"FLD", 0xDD, 0, xmF64, 0, true, ccUndef},
		memForm{"FLD", 0xDB, 5, xmF80, 0, true, ccUndef},
		memForm{"FILD", 0xDF, 0, xmI16, 0, true, ccUndef}, memForm{"FILD", 0xDB, 0, xmI32, 0, true, ccUndef},
		memForm{"FILD", 0xDF, 5, xmI64, 0, true, ccUndef},
		memForm{"FBLD", 0xDF, 4, xmBCD, 0, true, ccUndef},
		memForm{"FST", 0xD9, 2, xmF32, 1, false, ccUndef}, memForm{"FSTP", 0xD9, 3, xmF32, 1, false, ccUndef},
		memForm{"FST", 0xDD, 2, xmF64, 1, false, ccUndef}, memForm{"FSTP", 0xDD, 3, xmF64, 1, false, ccUndef},
		memForm{"FSTP", 0xDB, 7, xmF80, 1, false, ccUndef},
		memForm{"FIST", 0xDF, 2, xmI16, 1, false, ccUndef}, memForm{"FISTP", 0xDF, 3, xmI16, 1, false, ccUndef},
		memForm{"FIST", 0xDB, 2, xmI32, 1, false, ccUndef}, memForm{"FISTP", 0xDB, 3, xmI32, 1, false, ccUndef},
		memForm{"FISTP", 0xDF, 7, xmI64, 1, false, ccUndef},
		memForm{"FISTTP", 0xDF, 1, xmI16, 1, false, ccUndef}, memForm{"FISTTP", 0xDB, 1, xmI32, 1, false, ccUndef},
		memForm{"FISTTP", 0xDD, 1, xmI64, 1, false, ccUndef},
		memForm{"FBSTP", 0xDF, 6, xmBCD, 1, false, ccUndef},
		memForm{"FNSTCW", 0xD9, 7, xm16, 0, false, 0},
		memForm{"FNSTSW", 0xDD, 7, xm16, 0, false, 0},
	)
	for _, f := range mems {
		l.add(fmt.Sprintf("%s %s [%02X /%d]", f.name, x87MemName[f.t], f.op, f.d), formOpt{fault: FaultNone, fswMask: f.fsw}, func(g *gen) {
			g.x87(f.n, f.push)
			g.op = []byte{f.op}
			g.regField(int(f.d))
			g.memData(x87MemSize[f.t], 1, 0)
			g.x87MemVal(f.t)
		})
	}
	l.add("FLDCW m2byte", ok(0), func(g *gen) {
		g.x87(2, false)
		g.op = []byte{0xD9}
		g.regField(5)
		g.memData(2, 1, 0)
		pc := []uint64{0, 1, 2, 3}[g.rng.IntN(4)]
		g.writeData(g.memAddr, 16, 0x3F|pc<<8|uint64(g.rng.IntN(4))<<10|uint64(g.rng.IntN(8))<<13|uint64(g.rng.IntN(2))<<6)
	})
}

// sse2 adds packed arithmetic, compares, conversions, shuffles and more
// packed-integer forms to the SSE table.
func (l *formList) sse2() {
	type op2 struct {
		name  string
		pfx   byte
		op    byte
		msize int
		align int
		k     xkind
		imm   bool
	}
	var ops []op2
	for _, a := range []struct {
		name string
		op   byte
	}{{"ADD", 0x58}, {"MUL", 0x59}, {"SUB", 0x5C}, {"MIN", 0x5D}, {"DIV", 0x5E}, {"MAX", 0x5F}, {"SQRT", 0x51}, {"CMP", 0xC2}} {
		imm := a.op == 0xC2
		ops = append(ops,
			op2{a.name + "PS", 0, a.op, 16, 16, xPS, imm},
			op2{a.name + "PD", 0x66, a.op, 16, 16, xPD, imm})
		if a.name != "ADD" { // ADDSS and ADDSD are in the first SSE table
			ops = append(ops, op2{a.name + "SS", 0xF3, a.op, 4, 1, xSS, imm})
		}
		if a.name == "CMP" || a.name == "MIN" || a.name == "MAX" {
			ops = append(ops, op2{a.name + "SD", 0xF2, a.op, 8, 1, xSD, imm})
		}
	}
	ops = append(ops,
		op2{"COMISS", 0, 0x2F, 4, 1, xSS, false}, op2{"UCOMISS", 0, 0x2E, 4, 1, xSS, false},
		op2{"CVTSS2SD", 0xF3, 0x5A, 4, 1, xSS, false},
		op2{"CVTPS2PD", 0, 0x5A, 8, 1, xPS, false}, op2{"CVTPD2PS", 0x66, 0x5A, 16, 16, xPD, false},
		op2{"CVTDQ2PS", 0, 0x5B, 16, 16, xInt, false}, op2{"CVTPS2DQ", 0x66, 0x5B, 16, 16, xPS, false},
		op2{"CVTTPS2DQ", 0xF3, 0x5B, 16, 16, xPS, false},
		op2{"CVTDQ2PD", 0xF3, 0xE6, 8, 1, xInt, false}, op2{"CVTPD2DQ", 0xF2, 0xE6, 16, 16, xPD, false},
		op2{"CVTTPD2DQ", 0x66, 0xE6, 16, 16, xPD, false},
		op2{"ANDPS", 0, 0x54, 16, 16, xInt, false}, op2{"ANDNPD", 0x66, 0x55, 16, 16, xInt, false},
		op2{"ORPS", 0, 0x56, 16, 16, xInt, false}, op2{"XORPD", 0x66, 0x57, 16, 16, xInt, false},
		op2{"UNPCKLPS", 0, 0x14, 16, 16, xInt, false}, op2{"UNPCKHPS", 0, 0x15, 16, 16, xInt, false},
		op2{"UNPCKLPD", 0x66, 0x14, 16, 16, xInt, false}, op2{"UNPCKHPD", 0x66, 0x15, 16, 16, xInt, false},
		op2{"SHUFPS", 0, 0xC6, 16, 16, xInt, true}, op2{"SHUFPD", 0x66, 0xC6, 16, 16, xInt, true},
		op2{"MOVSS", 0xF3, 0x10, 4, 1, xInt, false}, op2{"MOVSD", 0xF2, 0x10, 8, 1, xInt, false},
		op2{"PSHUFLW", 0xF2, 0x70, 16, 16, xInt, true}, op2{"PSHUFHW", 0xF3, 0x70, 16, 16, xInt, true},
	)
	for _, p := range []struct {
		name string
		op   byte
	}{
		{"PADDSB", 0xEC}, {"PADDSW", 0xED}, {"PADDUSB", 0xDC}, {"PADDUSW", 0xDD},
		{"PSUBSB", 0xE8}, {"PSUBSW", 0xE9}, {"PSUBUSB", 0xD8}, {"PSUBUSW", 0xD9},
		{"PCMPGTB", 0x64}, {"PCMPGTW", 0x65}, {"PCMPGTD", 0x66}, {"PANDN", 0xDF},
		{"PMULLW", 0xD5}, {"PMULHW", 0xE5}, {"PMULHUW", 0xE4}, {"PMULUDQ", 0xF4}, {"PMADDWD", 0xF5},
		{"PMINUB", 0xDA}, {"PMAXUB", 0xDE}, {"PMINSW", 0xEA}, {"PMAXSW", 0xEE},
		{"PAVGB", 0xE0}, {"PAVGW", 0xE3}, {"PSADBW", 0xF6},
		{"PACKSSWB", 0x63}, {"PACKSSDW", 0x6B}, {"PACKUSWB", 0x67},
		{"PSLLW", 0xF1}, {"PSLLD", 0xF2}, {"PSLLQ", 0xF3}, {"PSRLW", 0xD1}, {"PSRLD", 0xD2}, {"PSRLQ", 0xD3},
		{"PSRAW", 0xE1}, {"PSRAD", 0xE2},
	} {
		ops = append(ops, op2{p.name, 0x66, p.op, 16, 16, xInt, false})
	}
	for _, o := range ops {
		suffix := fmt.Sprintf(" xmm, xmm/m%d", o.msize*8)
		if o.imm {
			suffix += ", imm8"
		}
		l.add(o.name+suffix, ok(undefNone), func(g *gen) {
			if o.pfx != 0 {
				g.pfx = append(g.pfx, o.pfx)
			}
			g.op = []byte{0x0F, o.op}
			x := g.rng.IntN(16)
			g.regField(x)
			g.setXMM(x, o.k)
			g.xmmRM(x, o.msize, o.align, o.k, false)
			if o.name[0] == 'P' && o.name[1] == 'S' && o.msize == 16 && g.rng.IntN(2) == 0 {
				// shift counts: mostly small
				if !g.isMem {
					g.st.XMM[g.rm][0] = uint64(g.rng.IntN(70))
				} else {
					g.writeData(g.memAddr, 64, uint64(g.rng.IntN(70)))
				}
			}
			if o.imm {
				g.imm8(g.rng.Uint64())
			}
		})
	}
	// Shifts by immediate: 66 0F 71/72/73 /digit ib.
	for _, s := range []struct {
		name string
		op   byte
		d    int
	}{{"PSRLW", 0x71, 2}, {"PSRAW", 0x71, 4}, {"PSLLW", 0x71, 6}, {"PSRLD", 0x72, 2}, {"PSRAD", 0x72, 4},
		{"PSLLD", 0x72, 6}, {"PSRLQ", 0x73, 2}, {"PSRLDQ", 0x73, 3}, {"PSLLQ", 0x73, 6}, {"PSLLDQ", 0x73, 7}} {
		l.add(s.name+" xmm, imm8", ok(undefNone), func(g *gen) {
			g.pfx = []byte{0x66}
			g.op = []byte{0x0F, s.op}
			g.regField(s.d)
			g.rmReg(g.rng.IntN(16))
			g.imm8(uint64(g.rng.IntN(80)))
		})
	}
	for _, c := range []struct {
		name string
		pfx  byte
		op   byte
		dbl  bool
	}{{"CVTSS2SI", 0xF3, 0x2D, false}, {"CVTTSS2SI", 0xF3, 0x2C, false}, {"CVTSD2SI", 0xF2, 0x2D, true}} {
		for _, size := range []int{32, 64} {
			l.add(fmt.Sprintf("%s %s, xmm/m%d", c.name, rName(size), map[bool]int{false: 32, true: 64}[c.dbl]), ok(undefNone), func(g *gen) {
				g.pfx = []byte{c.pfx}
				g.w = size == 64
				g.op = []byte{0x0F, c.op}
				g.regField(g.pickReg(size, 0))
				if c.dbl {
					g.xmmRM(-1, 8, 1, xSD, false)
				} else {
					g.xmmRM(-1, 4, 1, xSS, false)
				}
			})
		}
	}
	for _, size := range []int{32, 64} {
		l.add(fmt.Sprintf("CVTSI2SS xmm, %s", rmName(size)), ok(undefNone), func(g *gen) {
			g.pfx = []byte{0xF3}
			g.w = size == 64
			g.op = []byte{0x0F, 0x2A}
			g.regField(g.rng.IntN(16))
			g.rmOperand(size, 0, false)
		})
	}
	for _, m := range []struct {
		name string
		pfx  byte
		op   byte
	}{{"MOVMSKPS", 0, 0x50}, {"MOVMSKPD", 0x66, 0x50}, {"PMOVMSKB", 0x66, 0xD7}} {
		l.add(m.name+" r32, xmm", ok(undefNone), func(g *gen) {
			if m.pfx != 0 {
				g.pfx = []byte{m.pfx}
			}
			g.op = []byte{0x0F, m.op}
			g.regField(g.pickReg(32, 0))
			g.rmReg(g.rng.IntN(16))
		})
	}
	l.add("PEXTRW r32, xmm, imm8", ok(undefNone), func(g *gen) {
		g.pfx = []byte{0x66}
		g.op = []byte{0x0F, 0xC5}
		g.regField(g.pickReg(32, 0))
		g.rmReg(g.rng.IntN(16))
		g.imm8(g.rng.Uint64())
	})
	l.add("PINSRW xmm, r32/m16, imm8", ok(undefNone), func(g *gen) {
		g.pfx = []byte{0x66}
		g.op = []byte{0x0F, 0xC4}
		g.regField(g.rng.IntN(16))
		if g.rng.IntN(2) == 0 {
			g.rmReg(g.pickReg(32, 0))
		} else {
			g.memData(2, 1, 0)
		}
		g.imm8(g.rng.Uint64())
	})
	for _, m := range []struct {
		name  string
		pfx   byte
		op    byte
		store bool
	}{{"MOVLPS", 0, 0x12, false}, {"MOVHPS", 0, 0x16, false}, {"MOVLPD", 0x66, 0x13, true}, {"MOVHPD", 0x66, 0x17, true}} {
		name := m.name + " xmm, m64"
		if m.store {
			name = m.name + " m64, xmm"
		}
		l.add(name, ok(undefNone), func(g *gen) {
			if m.pfx != 0 {
				g.pfx = []byte{m.pfx}
			}
			g.op = []byte{0x0F, m.op}
			g.regField(g.rng.IntN(16))
			g.memData(8, 1, 0)
		})
	}
	for _, m := range []struct {
		name string
		op   byte
	}{{"MOVHLPS", 0x12}, {"MOVLHPS", 0x16}} {
		l.add(m.name+" xmm, xmm", ok(undefNone), func(g *gen) {
			g.op = []byte{0x0F, m.op}
			g.regField(g.rng.IntN(16))
			g.rmReg(g.rng.IntN(16))
		})
	}
	l.add("STMXCSR m32", ok(undefNone), func(g *gen) {
		g.op = []byte{0x0F, 0xAE}
		g.regField(3)
		g.memData(4, 1, 0)
	})
	l.add("LDMXCSR m32", ok(undefNone), func(g *gen) {
		g.op = []byte{0x0F, 0xAE}
		g.regField(2)
		g.memData(4, 1, 0)
		g.writeData(g.memAddr, 32, uint64(g.mxcsr()))
	})
	l.add("LDMXCSR m32 [reserved bits]", formOpt{fault: FaultGP}, func(g *gen) {
		g.op = []byte{0x0F, 0xAE}
		g.regField(2)
		g.memData(4, 1, 0)
		// Bits 16-31 except 17, which AMD CPUs with misaligned SSE mode
		// accept (MXCSR.MM); glassbox's MXCSR_MASK is 0xFFFF.
		b := 16 + g.rng.IntN(15)
		if b >= 17 {
			b++
		}
		g.writeData(g.memAddr, 32, uint64(g.mxcsr())|1<<uint(b))
	})
}

// fpExceptions adds forms with unmasked exceptions: SSE instructions that
// raise #XM (the host kernel runs with CR4.OSXMMEXCPT) and x87 exceptions
// reported as #MF at the next FWAIT (CR0.NE). Each form's operands are
// chosen so that the exception always happens.
func (l *formList) fpExceptions() {
	type xmForm struct {
		name string
		pfx  byte
		op   byte
		bit  uint32 // MXCSR exception bit to unmask
		// a, b: destination and source values (binary64 bit patterns,
		// or binary32 in the low half for the SS/PS forms)
		gen func(g *gen) (a, b uint64)
		dbl bool
	}
	rnd := func(g *gen, e int) uint64 { // a normal double with exponent e
		return uint64(g.rng.IntN(2))<<63 | uint64(1023+e)<<52 | g.rng.Uint64()&(1<<52-1)
	}
	forms := []xmForm{
		{"DIVSD xmm, xmm/m64 [unmasked #Z]", 0xF2, 0x5E, 1 << 2, func(g *gen) (uint64, uint64) {
			return rnd(g, g.rng.IntN(40)-20), uint64(g.rng.IntN(2)) << 63
		}, true},
		{"SQRTSD xmm, xmm/m64 [unmasked #I]", 0xF2, 0x51, 1 << 0, func(g *gen) (uint64, uint64) {
			return g.f64(), 1<<63 | rnd(g, g.rng.IntN(40)-20)&^(1<<63)
		}, true},
		{"ADDSD xmm, xmm/m64 [unmasked #I SNaN]", 0xF2, 0x58, 1 << 0, func(g *gen) (uint64, uint64) {
			return g.f64(), 0x7FF0000000000001 | g.rng.Uint64()&(1<<51-1)
		}, true},
		{"ADDSD xmm, xmm/m64 [unmasked #P]", 0xF2, 0x58, 1 << 5, func(g *gen) (uint64, uint64) {
			return rnd(g, 30) &^ (1 << 63), rnd(g, -40) &^ (1 << 63)
		}, true},
		{"MULSD xmm, xmm/m64 [unmasked #O]", 0xF2, 0x59, 1 << 3, func(g *gen) (uint64, uint64) {
			return rnd(g, 600), rnd(g, 600)
		}, true},
		{"MULSD xmm, xmm/m64 [unmasked #U]", 0xF2, 0x59, 1 << 4, func(g *gen) (uint64, uint64) {
			return rnd(g, -600), rnd(g, -600)
		}, true},
		{"ADDSD xmm, xmm/m64 [unmasked #D]", 0xF2, 0x58, 1 << 1, func(g *gen) (uint64, uint64) {
			return g.f64()&^(0x7FF<<52) | 1, rnd(g, g.rng.IntN(10)) // a denormal (or zero+1) operand
		}, true},
		{"DIVPS xmm, xmm/m128 [unmasked #Z]", 0, 0x5E, 1 << 2, func(g *gen) (uint64, uint64) {
			return uint64(g.f32()) | uint64(0x3F800000)<<32, uint64(g.f32()) // lane 1: 1/0
		}, false},
	}
	for _, f := range forms {
		l.add(f.name, formOpt{fault: FaultXM}, func(g *gen) {
			if f.pfx != 0 {
				g.pfx = []byte{f.pfx}
			}
			g.op = []byte{0x0F, f.op}
			x := g.rng.IntN(16)
			g.regField(x)
			g.st.MXCSR = g.mxcsr()&^(0x3F|1<<6|0x1F80) | 0x1F80&^(f.bit<<7) // no DAZ: #D must stay possible
			a, b := f.gen(g)
			g.st.XMM[x][0] = a
			size, align := 8, 1
			if !f.dbl {
				size, align = 16, 16
			}
			if g.rng.IntN(2) == 0 {
				n := g.rng.IntN(16)
				for n == x {
					n = g.rng.IntN(16)
				}
				g.rmReg(n)
				g.st.XMM[n][0] = b
			} else {
				g.memData(size, align, 0)
				g.writeData(g.memAddr, 64, b)
			}
		})
	}
	// x87: an unmasked exception sets ES and B (and, for #I/#D/#Z, leaves
	// the operands and TOP alone); the next waiting instruction raises
	// #MF. One instruction per form: first the exception, then #MF from a
	// pending one.
	type mfForm struct {
		name string
		code []byte
		bit  uint16
		set  func(g *gen)
	}
	st := func(g *gen, i int, v F80) { g.st.X87.ST[i] = v }
	mfs := []mfForm{
		{"FDIV ST(0), ST(1) [unmasked #Z]", []byte{0xD8, 0xF1}, 1 << 2, func(g *gen) {
			st(g, 0, f64to80(rnd(g, g.rng.IntN(20))))
			st(g, 1, F80{uint16(g.rng.IntN(2)) << 15, 0})
		}},
		{"FDIVP ST(1), ST(0) [unmasked #Z]", []byte{0xDE, 0xF9}, 1 << 2, func(g *gen) {
			st(g, 1, f64to80(rnd(g, g.rng.IntN(20))))
			st(g, 0, F80{uint16(g.rng.IntN(2)) << 15, 0})
		}},
		{"FSQRT [unmasked #I]", []byte{0xD9, 0xFA}, 1 << 0, func(g *gen) {
			st(g, 0, f64to80(rnd(g, g.rng.IntN(20))|1<<63))
		}},
		{"FADD ST(0), ST(1) [unmasked #P]", []byte{0xD8, 0xC1}, 1 << 5, func(g *gen) {
			st(g, 0, f64to80(rnd(g, 40)&^(1<<63)))
			st(g, 1, F80{0x3FFF - 40, 1<<63 | g.rng.Uint64()})
		}},
		{"FMUL ST(0), ST(1) [unmasked #O]", []byte{0xD8, 0xC9}, 1 << 3, func(g *gen) {
			st(g, 0, F80{0x7000 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
			st(g, 1, F80{0x7000 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
		}},
		{"FMUL ST(0), ST(1) [unmasked #U]", []byte{0xD8, 0xC9}, 1 << 4, func(g *gen) {
			st(g, 0, F80{0x0F00 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
			st(g, 1, F80{0x0F00 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
		}},
		{"FSTP m32fp [unmasked #O]", []byte{0xD9, 0x1C, 0x25, 0x00, 0x08, 0x00, 0x10}, 1 << 3, func(g *gen) {
			st(g, 0, F80{0x4100 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
		}},
		{"FSTP m64fp [unmasked #U]", []byte{0xDD, 0x1C, 0x25, 0x00, 0x08, 0x00, 0x10}, 1 << 4, func(g *gen) {
			st(g, 0, F80{0x3000 + uint16(g.rng.IntN(0x800)), 1<<63 | g.rng.Uint64()})
		}},
		{"FLD1 [unmasked stack overflow]", []byte{0xD9, 0xE8}, 1 << 0, func(g *gen) {
			g.st.X87.FTW = 0xFF
		}},
	}
	for _, f := range mfs {
		l.add(f.name, formOpt{fault: FaultNone}, func(g *gen) {
			g.x87(2, false)
			x := &g.st.X87
			x.FSW &^= 0x3F
			x.FCW &^= f.bit
			top := int(x.FSW >> 11 & 7)
			x.FTW |= 1<<uint(top) | 1<<uint((top+1)&7)
			f.set(g)
			g.op = append([]byte(nil), f.code...)
		})
	}
	// A pending unmasked exception (ES set) raises #MF at a waiting
	// instruction before it does anything; no-wait instructions run.
	pending := func(g *gen) {
		g.x87(2, false)
		x := &g.st.X87
		b := uint16(1) << uint(g.rng.IntN(6))
		x.FCW &^= b
		x.FSW |= b | 0x8080 // the flag, ES and B
		top := int(x.FSW >> 11 & 7)
		x.FTW |= 1<<uint(top) | 1<<uint((top+1)&7)
	}
	for _, p := range []struct {
		name  string
		code  []byte
		fault int
	}{
		{"FWAIT [pending unmasked exception]", []byte{0x9B}, FaultMF},
		{"FADD ST(0), ST(1) [pending unmasked exception]", []byte{0xD8, 0xC1}, FaultMF},
		{"FLD1 [pending unmasked exception]", []byte{0xD9, 0xE8}, FaultMF},
		{"FNSTSW AX [pending unmasked exception]", []byte{0xDF, 0xE0}, FaultNone},
		{"FNCLEX [pending unmasked exception]", []byte{0xDB, 0xE2}, FaultNone},
	} {
		l.add(p.name, formOpt{fault: p.fault}, func(g *gen) {
			pending(g)
			g.op = append([]byte(nil), p.code...)
		})
	}
}

// fxrstor adds FXRSTOR/FXRSTOR64 from a random but valid 512-byte image:
// the registers it loads (x87 words and registers, MXCSR, XMM) are then
// compared, which checks the image layout.
func (l *formList) fxrstor() {
	for _, w := range []bool{false, true} {
		name := "FXRSTOR m512byte"
		if w {
			name = "FXRSTOR64 m512byte"
		}
		l.add(name, ok(undefNone), func(g *gen) {
			g.w = w
			g.op = []byte{0x0F, 0xAE}
			g.regField(1)
			g.memData(512, 16, 0)
			r := g.rng
			a := g.memAddr
			g.writeData(a, 16, uint64(0x40|0x3F|r.IntN(4)<<8|r.IntN(4)<<10)) // FCW, all masked
			g.writeData(a+2, 16, uint64(r.IntN(8)<<11|r.IntN(16)<<8&0x700|r.IntN(64)&0x3F))
			g.writeData(a+4, 8, uint64(r.IntN(256)))
			g.writeData(a+24, 32, uint64(g.mxcsr()))
			for i := 0; i < 8; i++ {
				v := g.f80()
				g.writeData(a+32+16*uint64(i), 64, v.M)
				g.writeData(a+40+16*uint64(i), 16, uint64(v.SE))
			}
		})
	}
}
