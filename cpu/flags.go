package cpu

// Lazy arithmetic flags (QEMU's CC_OP scheme): ALU instructions record their
// operands and result; CF/PF/AF/ZF/SF/OF are computed only when read.

type ccOp uint8

const (
	ccNone  ccOp = iota // arithmetic flags live in c.flags
	ccAdd               // a + b (+ carry)
	ccSub               // a - b (- carry)
	ccLogic             // res; CF=OF=AF=0
	ccInc               // a + 1; CF kept in carry
	ccDec               // a - 1; CF kept in carry
	ccShift             // res; CF, OF and AF precomputed in carry (shifts)
)

type lazyFlags struct {
	op    ccOp
	size  uint8  // operand size in bytes
	carry uint64 // carry-in for ADC/SBB, saved CF for INC/DEC
	a, b  uint64
	res   uint64
}

var parityTable = func() (t [256]bool) {
	for i := range t {
		n := 0
		for b := i; b != 0; b >>= 1 {
			n += b & 1
		}
		t[i] = n%2 == 0
	}
	return
}()

func sizeMask(size uint8) uint64 {
	switch size {
	case 1:
		return 0xFF
	case 2:
		return 0xFFFF
	case 4:
		return 0xFFFFFFFF
	}
	return ^uint64(0)
}

func signBit(size uint8) uint64 { return 1 << (uint(size)*8 - 1) }

// arith computes the six arithmetic flags from the lazy state.
func (l *lazyFlags) arith() uint64 {
	m := sizeMask(l.size)
	sb := signBit(l.size)
	res := l.res & m
	var f uint64
	if res == 0 {
		f |= FLAG_ZF
	}
	if res&sb != 0 {
		f |= FLAG_SF
	}
	if parityTable[res&0xFF] {
		f |= FLAG_PF
	}
	a, b := l.a&m, l.b&m
	switch l.op {
	case ccAdd:
		if res < a || (l.carry != 0 && res == a) {
			f |= FLAG_CF
		}
		if (a^res)&(b^res)&sb != 0 {
			f |= FLAG_OF
		}
		f |= (a ^ b ^ res) & FLAG_AF
	case ccSub:
		if a < b || (l.carry != 0 && a == b) {
			f |= FLAG_CF
		}
		if (a^b)&(a^res)&sb != 0 {
			f |= FLAG_OF
		}
		f |= (a ^ b ^ res) & FLAG_AF
	case ccInc:
		f |= l.carry & FLAG_CF
		if res == sb {
			f |= FLAG_OF
		}
		f |= (a ^ 1 ^ res) & FLAG_AF
	case ccDec:
		f |= l.carry & FLAG_CF
		if res == sb-1 {
			f |= FLAG_OF
		}
		f |= (a ^ 1 ^ res) & FLAG_AF
	case ccShift:
		f |= l.carry & (FLAG_CF | FLAG_OF | FLAG_AF)
	}
	return f
}

// af returns EFLAGS.AF (as its bit) without materialising the others.
func (c *CPU) af() uint64 {
	l := &c.cc
	switch l.op {
	case ccNone:
		return c.flags & FLAG_AF
	case ccLogic:
		return 0
	case ccShift:
		return l.carry & FLAG_AF
	case ccInc, ccDec:
		return (l.a ^ 1 ^ l.res) & FLAG_AF
	}
	return (l.a ^ l.b ^ l.res) & FLAG_AF
}

// getFlags materialises EFLAGS.
func (c *CPU) getFlags() uint64 {
	if c.cc.op == ccNone {
		return c.flags
	}
	return c.flags&^flagsArith | c.cc.arith()
}

// syncFlags folds the lazy state into c.flags.
func (c *CPU) syncFlags() {
	if c.cc.op != ccNone {
		c.flags = c.flags&^flagsArith | c.cc.arith()
		c.cc.op = ccNone
	}
}

// setFlagsRaw replaces all of EFLAGS (no privilege filtering).
func (c *CPU) setFlagsRaw(v uint64) {
	c.flags = v | 2
	if v&FLAG_RF != 0 {
		c.hwSlow = true // RF suppresses one instruction breakpoint, then clears (hwdebug.go)
	}
	c.cc.op = ccNone
}

// setArith replaces only the arithmetic flags.
func (c *CPU) setArith(f uint64) {
	c.flags = c.flags&^flagsArith | f&flagsArith
	c.cc.op = ccNone
}

func (c *CPU) cf() bool {
	switch c.cc.op {
	case ccNone:
		return c.flags&FLAG_CF != 0
	case ccLogic:
		return false
	case ccInc, ccDec, ccShift:
		return c.cc.carry&FLAG_CF != 0
	case ccSub:
		m := sizeMask(c.cc.size)
		a, b := c.cc.a&m, c.cc.b&m
		return a < b || (c.cc.carry != 0 && a == b)
	}
	return c.cc.arith()&FLAG_CF != 0
}

func (c *CPU) zf() bool {
	if c.cc.op == ccNone {
		return c.flags&FLAG_ZF != 0
	}
	return c.cc.res&sizeMask(c.cc.size) == 0
}

func (c *CPU) sf() bool {
	if c.cc.op == ccNone {
		return c.flags&FLAG_SF != 0
	}
	return c.cc.res&signBit(c.cc.size) != 0
}

func (c *CPU) of() bool {
	switch c.cc.op {
	case ccNone:
		return c.flags&FLAG_OF != 0
	case ccLogic:
		return false
	}
	return c.cc.arith()&FLAG_OF != 0
}

func (c *CPU) pf() bool {
	if c.cc.op == ccNone {
		return c.flags&FLAG_PF != 0
	}
	return parityTable[c.cc.res&0xFF]
}

// cond evaluates condition code cc (the low nibble of Jcc/SETcc/CMOVcc).
func (c *CPU) cond(cc uint8) bool {
	switch l := &c.cc; l.op {
	case ccSub:
		if l.carry == 0 {
			return c.condSub(cc)
		}
	case ccLogic, ccInc, ccDec, ccShift:
		// ZF, SF and PF from the result; CF and OF straight from the state.
		m := sizeMask(l.size)
		sb := signBit(l.size)
		res := l.res & m
		var cf, of bool
		switch l.op {
		case ccInc:
			cf, of = l.carry&FLAG_CF != 0, res == sb
		case ccDec:
			cf, of = l.carry&FLAG_CF != 0, res == sb-1
		case ccShift:
			cf, of = l.carry&FLAG_CF != 0, l.carry&FLAG_OF != 0
		}
		zf, sf := res == 0, res&sb != 0
		var r bool
		switch cc >> 1 {
		case 0:
			r = of
		case 1:
			r = cf
		case 2:
			r = zf
		case 3:
			r = cf || zf
		case 4:
			r = sf
		case 5:
			r = parityTable[res&0xFF]
		case 6:
			r = sf != of
		case 7:
			r = zf || sf != of
		}
		return r != (cc&1 != 0)
	}
	var r bool
	switch cc >> 1 {
	case 0: // O
		r = c.of()
	case 1: // B
		r = c.cf()
	case 2: // Z
		r = c.zf()
	case 3: // BE
		r = c.cf() || c.zf()
	case 4: // S
		r = c.sf()
	case 5: // P
		r = c.pf()
	case 6: // L
		r = c.sf() != c.of()
	case 7: // LE
		r = c.zf() || c.sf() != c.of()
	}
	if cc&1 != 0 {
		return !r
	}
	return r
}

// condSub is cond for the flags of a SUB/CMP without borrow-in, the usual
// state before a Jcc: each condition straight from the operands.
func (c *CPU) condSub(cc uint8) bool {
	l := &c.cc
	m := sizeMask(l.size)
	sb := signBit(l.size)
	a, b, res := l.a&m, l.b&m, l.res&m
	var r bool
	switch cc >> 1 {
	case 0: // O
		r = (a^b)&(a^res)&sb != 0
	case 1: // B
		r = a < b
	case 2: // Z
		r = res == 0
	case 3: // BE
		r = a < b || res == 0
	case 4: // S
		r = res&sb != 0
	case 5: // P
		r = parityTable[res&0xFF]
	case 6: // L
		r = (res&sb != 0) != ((a^b)&(a^res)&sb != 0)
	case 7: // LE
		r = res == 0 || (res&sb != 0) != ((a^b)&(a^res)&sb != 0)
	}
	if cc&1 != 0 {
		return !r
	}
	return r
}

func (c *CPU) setAdd(size uint8, a, b, res, carry uint64) {
	l := &c.cc
	l.op, l.size, l.a, l.b, l.res, l.carry = ccAdd, size, a, b, res, carry
}

func (c *CPU) setSub(size uint8, a, b, res, carry uint64) {
	l := &c.cc
	l.op, l.size, l.a, l.b, l.res, l.carry = ccSub, size, a, b, res, carry
}

func (c *CPU) setLogic(size uint8, res uint64) {
	l := &c.cc
	l.op, l.size, l.res = ccLogic, size, res
}

// setResultFlags sets ZF/SF/PF from res and the given CF/OF/AF bits.
func (c *CPU) setResultFlags(size uint8, res uint64, other uint64) {
	m := sizeMask(size)
	f := other
	if res&m == 0 {
		f |= FLAG_ZF
	}
	if res&signBit(size) != 0 {
		f |= FLAG_SF
	}
	if parityTable[res&0xFF] {
		f |= FLAG_PF
	}
	c.setArith(f)
}
