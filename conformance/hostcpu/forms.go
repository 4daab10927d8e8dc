package hostcpu

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
)

// Form is one instruction form to test: a generator of random cases plus
// what the SDM leaves undefined about them. Forms are plain data, so the
// host oracle (Runner) and the emulator-side harness drive exactly the same
// cases:
//
//	for _, f := range hostcpu.Forms() {
//		rng := rand.New(rand.NewPCG(seed, uint64(i)))
//		code, in := f.Gen(rng)           // deterministic for a given rng state
//		want, err := runner.Run(code, in) // host
//		got := runOnEmulator(code, in)    // place code at CodeAddr, Data at DataAddr,
//		                                  // run until RIP leaves the code (or a fault)
//		if err := hostcpu.Compare(want, got, f); err != nil { ... }
//	}
//
// Every case is a single instruction (code decodes as exactly one
// instruction in 64-bit mode) and a complete initial State: all GPRs, the
// arithmetic flags and DF, XMM0–15, MXCSR and the whole data region are
// random or chosen by the generator, so nothing depends on leftover state;
// the x87 state is random for x87 forms and FNINIT's for the others.
// Memory operands always address the data region: the generator loads the
// base/index registers (or uses RIP-relative / absolute displacements) so
// the effective address lands at DataAddr+offset, sometimes straddling the
// page boundary in the middle of the region; stack users get RSP inside
// it. Branches only go forward, into the int3 fill after the code; the
// emulator harness should treat "RIP outside [CodeAddr, CodeAddr+len)" as
// the end of the case, the same way the oracle stops at the first int3.
type Form struct {
	// Name is Intel-syntax with SDM operand notation, plus the operand
	// class in brackets where the form is split by class, e.g.
	// "SHL r/m8, CL [count 8..31]" or "DIV r/m32 [#DE divide by zero]".
	// Names are unique.
	Name string
	// Gen returns the instruction bytes (to be placed at CodeAddr) and the
	// initial state for one random case. It only uses rng for randomness.
	Gen func(rng *rand.Rand) (code []byte, in State)
	// FlagMask is the set of RFLAGS bits the SDM calls undefined for every
	// case of this form (see undefined.go); Compare ignores them.
	FlagMask uint64
	// RegMask is the set of GPRs (bit i = State.GPR[i]) whose final value
	// is architecturally undefined for every case of this form (e.g. the
	// destination of BSF with a zero source); Compare ignores them.
	RegMask uint16
	// FSWMask is the set of x87 status-word bits the SDM calls undefined
	// for this form (condition codes after arithmetic); Compare ignores
	// them.
	FSWMask uint16
	// Fault is the outcome every case of this form must have: FaultNone,
	// or the vector of the exception the form is designed to raise (e.g.
	// FaultDE for the divide-error classes). The host self-test checks the
	// generators against it.
	Fault int
}

var (
	formsOnce sync.Once
	formsList []Form
)

// Forms returns the table of instruction forms (a fresh copy of the slice;
// the Form values are shared and must not be modified).
func Forms() []Form {
	formsOnce.Do(func() {
		var l formList
		l.alu()
		l.unary()
		l.shifts()
		l.doubleShifts()
		l.mulDiv()
		l.bitOps()
		l.exchange()
		l.conditional()
		l.moves()
		l.strings()
		l.stack()
		l.control()
		l.sse()
		l.sse2()
		l.x87()
		l.fpExceptions()
		l.fxrstor()
		seen := map[string]bool{}
		for _, f := range l {
			if seen[f.Name] {
				panic("hostcpu: duplicate form name " + f.Name)
			}
			seen[f.Name] = true
		}
		formsList = l
	})
	return append([]Form(nil), formsList...)
}

type formList []Form

type formOpt struct {
	undef   uint64
	regMask uint16
	fswMask uint16
	fault   int
}

// add appends a form whose generator runs body on a fresh gen and, if body
// set it, post on the assembled code (for values that depend on the
// instruction length).
func (l *formList) add(name string, o formOpt, body func(g *gen)) {
	*l = append(*l, Form{
		Name:     name,
		FlagMask: o.undef,
		RegMask:  o.regMask,
		FSWMask:  o.fswMask,
		Fault:    o.fault,
		Gen: func(rng *rand.Rand) ([]byte, State) {
			g := newGen(rng)
			body(g)
			code := g.code()
			if g.post != nil {
				g.post(code)
			}
			return code, g.st
		},
	})
}

func ok(undef uint64) formOpt { return formOpt{undef: undef, fault: FaultNone} }

var sizes = []int{8, 16, 32, 64}

func rName(size int) string  { return fmt.Sprintf("r%d", size) }
func rmName(size int) string { return fmt.Sprintf("r/m%d", size) }
func accName(size int) string {
	return map[int]string{8: "AL", 16: "AX", 32: "EAX", 64: "RAX"}[size]
}
func immName(size int) string {
	if size == 64 {
		return "imm32"
	}
	return fmt.Sprintf("imm%d", size)
}

// w1 is the opcode's w bit: 0 for byte operands.
func w1(size int) byte {
	if size == 8 {
		return 0
	}
	return 1
}

// regOperand picks a register for an operand of size bits (not in avoid)
// and gives it an interesting value.
func (g *gen) regOperand(size int, avoid uint16) int {
	n := g.pickReg(size, avoid)
	g.setReg(n, size, g.val(size))
	return n
}

// rmOperand makes the r/m operand a register or (half the time) a memory
// operand in the data region, with an interesting value. For memory, lock
// says whether a LOCK prefix may be added. Registers in avoid are used
// neither as the register operand nor for addressing.
func (g *gen) rmOperand(size int, avoid uint16, lock bool) {
	if g.rng.IntN(2) == 0 {
		g.rmReg(g.pickReg(size, avoid))
	} else {
		g.memData(size/8, 1, avoid)
		if lock && g.rng.IntN(4) == 0 {
			g.pfx = append([]byte{0xF0}, g.pfx...)
		}
	}
	g.setRM(size, g.val(size))
}

// ---- ALU ----

func (l *formList) alu() {
	ops := []struct {
		name  string
		ext   byte
		undef uint64
	}{
		{"ADD", 0, undefNone}, {"OR", 1, undefLogic}, {"ADC", 2, undefNone}, {"SBB", 3, undefNone},
		{"AND", 4, undefLogic}, {"SUB", 5, undefNone}, {"XOR", 6, undefLogic}, {"CMP", 7, undefNone},
	}
	for _, op := range ops {
		lock := op.name != "CMP"
		for _, size := range sizes {
			base := op.ext * 8
			l.add(fmt.Sprintf("%s %s, %s", op.name, rmName(size), rName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{base + w1(size)}
				g.regField(g.regOperand(size, 0))
				g.rmOperand(size, 0, lock)
			})
			l.add(fmt.Sprintf("%s %s, %s", op.name, rName(size), rmName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{base + 2 + w1(size)}
				g.regField(g.regOperand(size, 0))
				g.rmOperand(size, 0, false)
			})
			l.add(fmt.Sprintf("%s %s, %s", op.name, accName(size), immName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{base + 4 + w1(size)}
				g.setReg(RAX, size, g.val(size))
				g.immZ(size, g.val(size))
			})
			if size == 8 {
				l.add(fmt.Sprintf("%s r/m8, imm8", op.name), ok(op.undef), func(g *gen) {
					g.setSize(8)
					g.op = []byte{0x80}
					g.regField(int(op.ext))
					g.rmOperand(8, 0, lock)
					g.imm8(g.val(8))
				})
				continue
			}
			l.add(fmt.Sprintf("%s %s, %s", op.name, rmName(size), immName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x81}
				g.regField(int(op.ext))
				g.rmOperand(size, 0, lock)
				g.immZ(size, g.val(size))
			})
			l.add(fmt.Sprintf("%s %s, imm8", op.name, rmName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x83}
				g.regField(int(op.ext))
				g.rmOperand(size, 0, lock)
				g.imm8(g.val(8))
			})
		}
	}
	for _, size := range sizes {
		l.add(fmt.Sprintf("TEST %s, %s", rmName(size), rName(size)), ok(undefLogic), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x84 + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("TEST %s, %s", accName(size), immName(size)), ok(undefLogic), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0xA8 + w1(size)}
			g.setReg(RAX, size, g.val(size))
			g.immZ(size, g.val(size))
		})
		l.add(fmt.Sprintf("TEST %s, %s", rmName(size), immName(size)), ok(undefLogic), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0xF6 + w1(size)}
			g.regField(0)
			g.rmOperand(size, 0, false)
			g.immZ(size, g.val(size))
		})
	}
}

// ---- INC / DEC / NEG / NOT ----

func (l *formList) unary() {
	ops := []struct {
		name string
		op   byte // byte-size opcode
		ext  int
	}{{"INC", 0xFE, 0}, {"DEC", 0xFE, 1}, {"NOT", 0xF6, 2}, {"NEG", 0xF6, 3}}
	for _, op := range ops {
		for _, size := range sizes {
			l.add(fmt.Sprintf("%s %s", op.name, rmName(size)), ok(undefNone), func(g *gen) {
				g.setSize(size)
				g.op = []byte{op.op + w1(size)}
				g.regField(op.ext)
				g.rmOperand(size, 0, true)
			})
		}
	}
}

// ---- shifts and rotates ----

type countClass struct {
	lo, hi int // masked count range
}

func (c countClass) String() string {
	if c.lo == c.hi {
		return fmt.Sprintf("count %d", c.lo)
	}
	return fmt.Sprintf("count %d..%d", c.lo, c.hi)
}

// rawCount returns a random unmasked count (CL or imm8 value) whose masked
// value (count & cmask) lies in c: the bits above the mask are random.
func (c countClass) rawCount(rng *rand.Rand, cmask int) uint64 {
	masked := c.lo + rng.IntN(c.hi-c.lo+1)
	return uint64(masked + (cmask+1)*rng.IntN(256/(cmask+1)))
}

func countMask(size int) int {
	if size == 64 {
		return 63
	}
	return 31
}

func (l *formList) shifts() {
	ops := []struct {
		name   string
		ext    int
		rotate bool
	}{
		{"ROL", 0, true}, {"ROR", 1, true}, {"RCL", 2, true}, {"RCR", 3, true},
		{"SHL", 4, false}, {"SHR", 5, false}, {"SAR", 7, false},
	}
	for _, op := range ops {
		for _, size := range sizes {
			cm := countMask(size)
			var classes []countClass
			if op.rotate {
				classes = []countClass{{0, 0}, {1, 1}, {2, cm}}
			} else {
				classes = []countClass{{0, 0}, {1, 1}, {2, size - 1}}
				if size < 32 {
					classes = append(classes, countClass{size, cm})
				}
			}
			undef := func(c countClass) uint64 {
				if op.rotate {
					return rotateUndef(c.lo, c.hi)
				}
				return shiftUndef(op.name == "SAR", size, c.lo, c.hi)
			}
			l.add(fmt.Sprintf("%s %s, 1", op.name, rmName(size)), ok(undef(countClass{1, 1})), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0xD0 + w1(size)}
				g.regField(op.ext)
				g.rmOperand(size, 0, false)
			})
			for _, c := range classes {
				l.add(fmt.Sprintf("%s %s, CL [%v]", op.name, rmName(size), c), ok(undef(c)), func(g *gen) {
					g.setSize(size)
					g.op = []byte{0xD2 + w1(size)}
					g.regField(op.ext)
					g.rmOperand(size, 1<<RCX, false) // CL must stay the count
					g.setReg(RCX, 8, c.rawCount(g.rng, cm))
				})
				l.add(fmt.Sprintf("%s %s, imm8 [%v]", op.name, rmName(size), c), ok(undef(c)), func(g *gen) {
					g.setSize(size)
					g.op = []byte{0xC0 + w1(size)}
					g.regField(op.ext)
					g.rmOperand(size, 0, false)
					g.imm8(c.rawCount(g.rng, cm))
				})
			}
		}
	}
}

func (l *formList) doubleShifts() {
	ops := []struct {
		name string
		op   byte // imm8 form; CL form is op+1
	}{{"SHLD", 0xA4}, {"SHRD", 0xAC}}
	for _, op := range ops {
		for _, size := range sizes[1:] {
			cm := countMask(size)
			hi := cm
			if size == 16 {
				hi = 16 // counts > 16 leave result and flags undefined: not generated
			}
			for _, c := range []countClass{{0, 0}, {1, 1}, {2, hi}} {
				u := ok(shldUndef(size, c.lo, c.hi))
				l.add(fmt.Sprintf("%s %s, %s, CL [%v]", op.name, rmName(size), rName(size), c), u, func(g *gen) {
					g.setSize(size)
					g.op = []byte{0x0F, op.op + 1}
					g.regField(g.regOperand(size, 0))
					g.rmOperand(size, 1<<RCX, false)
					g.setReg(RCX, 8, c.rawCount(g.rng, cm))
				})
				l.add(fmt.Sprintf("%s %s, %s, imm8 [%v]", op.name, rmName(size), rName(size), c), u, func(g *gen) {
					g.setSize(size)
					g.op = []byte{0x0F, op.op}
					g.regField(g.regOperand(size, 0))
					g.rmOperand(size, 0, false)
					g.imm8(c.rawCount(g.rng, cm))
				})
			}
		}
	}
}

// ---- MUL / IMUL / DIV / IDIV ----

func (l *formList) mulDiv() {
	for _, size := range sizes {
		for _, op := range []struct {
			name  string
			ext   int
			undef uint64
		}{{"MUL", 4, undefMUL}, {"IMUL", 5, undefIMUL}} {
			l.add(fmt.Sprintf("%s %s", op.name, rmName(size)), ok(op.undef), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0xF6 + w1(size)}
				g.regField(op.ext)
				g.setReg(RAX, size, g.val(size))
				g.rmOperand(size, 0, false)
			})
		}
	}
	for _, size := range sizes[1:] {
		l.add(fmt.Sprintf("IMUL %s, %s", rName(size), rmName(size)), ok(undefIMUL), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x0F, 0xAF}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("IMUL %s, %s, imm8", rName(size), rmName(size)), ok(undefIMUL), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x6B}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
			g.imm8(g.val(8))
		})
		l.add(fmt.Sprintf("IMUL %s, %s, %s", rName(size), rmName(size), immName(size)), ok(undefIMUL), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x69}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
			g.immZ(size, g.val(size))
		})
	}
	type divClass struct {
		name  string
		fault int
	}
	classes := []divClass{{"", FaultNone}, {" [#DE divide by zero]", FaultDE}, {" [#DE quotient overflow]", FaultDE}}
	for _, signed := range []bool{false, true} {
		name, ext := "DIV", 6
		if signed {
			name, ext = "IDIV", 7
		}
		for _, size := range sizes {
			for ci, c := range classes {
				l.add(name+" "+rmName(size)+c.name, formOpt{undef: undefDIV, fault: c.fault}, func(g *gen) {
					g.setSize(size)
					g.op = []byte{0xF6 + w1(size)}
					g.regField(ext)
					// The divisor must not alias the dividend.
					g.rmOperand(size, 1<<RAX|1<<RDX, false)
					d, hi, lo := divOperands(g, size, signed, ci)
					g.setRM(size, d)
					if size == 8 {
						g.setReg(RAX, 16, hi<<8|lo)
					} else {
						g.setReg(RDX, size, hi)
						g.setReg(RAX, size, lo)
					}
				})
			}
		}
	}
}

// divOperands returns a divisor and a double-width dividend (hi:lo) for a
// size-bit DIV/IDIV: class 0 divides cleanly, class 1 divides by zero,
// class 2 overflows the quotient.
func divOperands(g *gen, size int, signed bool, class int) (d, hi, lo uint64) {
	r := g.rng
	m := mask(size)
	split := func(x *big.Int) (uint64, uint64) {
		// two's complement of x in 2*size bits
		mod := new(big.Int).Lsh(big.NewInt(1), uint(2*size))
		y := new(big.Int).Mod(x, mod)
		lo := new(big.Int).And(y, new(big.Int).SetUint64(m)).Uint64()
		hi := new(big.Int).Rsh(y, uint(size)).Uint64()
		return hi, lo
	}
	nonzero := func(v uint64) uint64 {
		if v&m == 0 {
			return 1
		}
		return v & m
	}
	switch class {
	case 1:
		return 0, g.val(size), g.val(size)
	case 0:
		if !signed {
			d = nonzero(g.val(size))
			return d, r.Uint64N(d), g.val(size)
		}
		d = nonzero(g.val(size))
		ds := big.NewInt(int64(signExt(d, size)))
		q := big.NewInt(int64(signExt(g.val(size), size)))
		hi, lo = split(signedDividend(r, q, ds))
		return d, hi, lo
	default:
		if !signed {
			d = nonzero(g.val(size))
			return d, d + r.Uint64N(m-d+1), g.val(size)
		}
		if r.IntN(4) == 0 { // most negative dividend / -1
			x := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), uint(2*size-1)))
			hi, lo = split(x)
			return m, hi, lo
		}
		// |quotient| >= 2^(size-1) (+1 if negative), |divisor| < 2^(size-2)
		dm := int64(r.Uint64N(1<<uint(size-2)-1) + 1)
		if r.IntN(2) == 0 {
			dm = -dm
		}
		qm := new(big.Int).Lsh(big.NewInt(1), uint(size-1))
		qm.Add(qm, new(big.Int).SetUint64(r.Uint64N(1<<uint(size-1))))
		if r.IntN(2) == 0 {
			qm.Neg(qm)
			qm.Sub(qm, big.NewInt(1))
		}
		hi, lo = split(signedDividend(r, qm, big.NewInt(dm)))
		return uint64(dm) & m, hi, lo
	}
}

// signedDividend returns q*d + rem with |rem| < |d| and rem having the sign
// of the dividend, so that truncating division gives exactly q and rem.
func signedDividend(r *rand.Rand, q, d *big.Int) *big.Int {
	prod := new(big.Int).Mul(q, d)
	ad := new(big.Int).Abs(d) // |d| <= 2^63 fits a uint64
	var rv uint64
	if ad.Cmp(big.NewInt(1)) > 0 {
		rv = r.Uint64N(ad.Uint64())
	}
	rb := new(big.Int).SetUint64(rv)
	switch prod.Sign() {
	case -1:
		rb.Neg(rb)
	case 0:
		if r.IntN(2) == 0 {
			rb.Neg(rb)
		}
	}
	return prod.Add(prod, rb)
}

// ---- BT / BTS / BTR / BTC, BSF / BSR, BSWAP ----

func (l *formList) bitOps() {
	bts := []struct {
		name string
		op   byte // register-offset opcode (0F xx)
		ext  int  // 0F BA /ext ib
		lock bool
	}{{"BT", 0xA3, 4, false}, {"BTS", 0xAB, 5, true}, {"BTR", 0xB3, 6, true}, {"BTC", 0xBB, 7, true}}
	for _, op := range bts {
		for _, size := range sizes[1:] {
			l.add(fmt.Sprintf("%s %s, %s", op.name, rmName(size), rName(size)), ok(undefBT), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x0F, op.op}
				off := g.pickReg(size, 0)
				g.regField(off)
				if g.rng.IntN(2) == 0 {
					g.rmReg(g.pickReg(size, 0))
					g.setReg(off, size, g.val(size))
					g.setRM(size, g.val(size))
					return
				}
				// Memory: the register is a signed bit offset from the
				// operand's address (bit-string addressing); keep the
				// addressed byte within ±256 of it.
				g.setReg(off, size, uint64(g.rng.IntN(4096)-2048))
				addr := DataAddr + 512 + uint64(g.rng.IntN(DataSize-1024))
				g.mem(addr, 1<<uint(off))
				if op.lock && g.rng.IntN(4) == 0 {
					g.pfx = append([]byte{0xF0}, g.pfx...)
				}
			})
			l.add(fmt.Sprintf("%s %s, imm8", op.name, rmName(size)), ok(undefBT), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x0F, 0xBA}
				g.regField(op.ext)
				g.rmOperand(size, 0, op.lock)
				g.imm8(g.rng.Uint64())
			})
		}
	}
	for _, op := range []struct {
		name string
		op   byte
	}{{"BSF", 0xBC}, {"BSR", 0xBD}} {
		for _, size := range sizes[1:] {
			l.add(fmt.Sprintf("%s %s, %s", op.name, rName(size), rmName(size)), ok(undefBSF), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x0F, op.op}
				g.regField(g.regOperand(size, 0))
				g.rmOperand(size, 0, false)
				if g.getRM(size) == 0 {
					g.setRM(size, 1<<uint(g.rng.IntN(size)))
				}
			})
			// Zero source: the destination is undefined (Intel) /
			// unchanged (AMD). It is fixed to RBX so RegMask can name it.
			l.add(fmt.Sprintf("%s %s, %s [source 0]", op.name, rName(size), rmName(size)),
				formOpt{undef: undefBSF, regMask: 1 << RBX, fault: FaultNone}, func(g *gen) {
					g.setSize(size)
					g.op = []byte{0x0F, op.op}
					g.regField(RBX)
					g.rmOperand(size, 0, false)
					g.setRM(size, 0)
				})
		}
	}
	for _, size := range []int{32, 64} {
		l.add(fmt.Sprintf("BSWAP %s", rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x0F, 0xC8}
			g.opReg = g.rng.IntN(16)
		})
	}
}

// ---- XADD / XCHG / CMPXCHG ----

func (l *formList) exchange() {
	for _, size := range sizes {
		l.add(fmt.Sprintf("XADD %s, %s", rmName(size), rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x0F, 0xC0 + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, true)
		})
		l.add(fmt.Sprintf("XCHG %s, %s", rmName(size), rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x86 + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, true)
		})
		l.add(fmt.Sprintf("CMPXCHG %s, %s", rmName(size), rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x0F, 0xB0 + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 1<<RAX, true)
			if g.rng.IntN(2) == 0 { // make the comparison succeed
				g.setReg(RAX, size, g.getRM(size))
			}
		})
		if size == 8 {
			continue
		}
		// 90+r; XCHG eAX, eAX (plain 0x90) is NOP and does not
		// zero-extend, unlike 87 C0.
		l.add(fmt.Sprintf("XCHG %s, %s", accName(size), rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x90}
			g.opReg = g.rng.IntN(16)
		})
	}
}

// ---- CMOVcc / SETcc ----

var ccNames = []string{"O", "NO", "B", "AE", "E", "NE", "BE", "A", "S", "NS", "P", "NP", "L", "GE", "LE", "G"}

func (l *formList) conditional() {
	for cc, ccn := range ccNames {
		for _, size := range sizes[1:] {
			l.add(fmt.Sprintf("CMOV%s %s, %s", ccn, rName(size), rmName(size)), ok(undefNone), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x0F, 0x40 + byte(cc)}
				g.regField(g.regOperand(size, 0))
				g.rmOperand(size, 0, false)
			})
		}
		l.add(fmt.Sprintf("SET%s r/m8", ccn), ok(undefNone), func(g *gen) {
			g.setSize(8)
			g.op = []byte{0x0F, 0x90 + byte(cc)}
			g.regField(0)
			g.rmOperand(8, 0, false)
		})
	}
}

// ---- MOV, MOVZX / MOVSX / MOVSXD, LEA, CBW..CQO ----

func (l *formList) moves() {
	for _, size := range sizes {
		l.add(fmt.Sprintf("MOV %s, %s", rmName(size), rName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x88 + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("MOV %s, %s", rName(size), rmName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0x8A + w1(size)}
			g.regField(g.regOperand(size, 0))
			g.rmOperand(size, 0, false)
		})
		imm := immName(size)
		if size == 64 {
			imm = "imm64"
		}
		l.add(fmt.Sprintf("MOV %s, %s", rName(size), imm), ok(undefNone), func(g *gen) {
			g.setSize(size)
			if size == 8 {
				g.op = []byte{0xB0}
			} else {
				g.op = []byte{0xB8}
			}
			g.opReg = g.pickReg(size, 0)
			if size == 64 {
				g.imm64(g.val(64))
			} else {
				g.immZ(size, g.val(size))
			}
		})
		l.add(fmt.Sprintf("MOV %s, %s", rmName(size), immName(size)), ok(undefNone), func(g *gen) {
			g.setSize(size)
			g.op = []byte{0xC6 + w1(size)}
			g.regField(0)
			g.rmOperand(size, 0, false)
			g.immZ(size, g.val(size))
		})
		for _, store := range []bool{false, true} {
			name := fmt.Sprintf("MOV %s, moffs%d", accName(size), size)
			if store {
				name = fmt.Sprintf("MOV moffs%d, %s", size, accName(size))
			}
			l.add(name, ok(undefNone), func(g *gen) {
				g.setSize(size)
				op := byte(0xA0) + w1(size)
				if store {
					op += 2
				}
				g.op = []byte{op}
				addr := DataAddr + g.dataOff(size/8, 1)
				if g.rng.IntN(4) == 0 {
					g.pfx = append([]byte{0x67}, g.pfx...)
					g.imm32(addr)
				} else {
					g.imm64(addr)
				}
				g.setReg(RAX, size, g.val(size))
			})
		}
	}
	type ext struct {
		name     string
		op       byte
		dst, src int
	}
	var exts []ext
	for _, n := range []struct {
		name string
		op   byte
	}{{"MOVZX", 0xB6}, {"MOVSX", 0xBE}} {
		exts = append(exts,
			ext{n.name, n.op, 16, 8}, ext{n.name, n.op, 32, 8}, ext{n.name, n.op, 64, 8},
			ext{n.name, n.op + 1, 32, 16}, ext{n.name, n.op + 1, 64, 16})
	}
	for _, e := range exts {
		l.add(fmt.Sprintf("%s %s, %s", e.name, rName(e.dst), rmName(e.src)), ok(undefNone), func(g *gen) {
			g.setSize(e.dst)
			if e.src == 8 && e.dst != 64 {
				g.noRex = g.rng.IntN(3) == 0
			}
			g.op = []byte{0x0F, e.op}
			g.regField(g.regOperand(e.dst, 0))
			g.rmOperand(e.src, 0, false)
		})
	}
	l.add("MOVSXD r64, r/m32", ok(undefNone), func(g *gen) {
		g.setSize(64)
		g.op = []byte{0x63}
		g.regField(g.regOperand(64, 0))
		g.rmOperand(32, 0, false)
	})

	for _, size := range sizes[1:] {
		for _, a32 := range []bool{false, true} {
			as := 64
			if a32 {
				as = 32
			}
			l.add(fmt.Sprintf("LEA %s, m [addr%d]", rName(size), as), ok(undefNone), func(g *gen) {
				g.setSize(size)
				g.op = []byte{0x8D}
				g.regField(g.pickReg(size, 0))
				g.a32 = a32Off
				if a32 {
					g.a32 = a32On
				}
				g.leaMem()
			})
		}
	}

	for _, c := range []struct {
		name string
		op   byte
		size int
	}{{"CBW", 0x98, 16}, {"CWDE", 0x98, 32}, {"CDQE", 0x98, 64}, {"CWD", 0x99, 16}, {"CDQ", 0x99, 32}, {"CQO", 0x99, 64}} {
		l.add(c.name, ok(undefNone), func(g *gen) {
			g.setSize(c.size)
			g.op = []byte{c.op}
			g.setReg(RAX, c.size, g.val(c.size))
		})
	}
}

// ---- string instructions ----

func (l *formList) strings() {
	ops := []struct {
		name string
		op   byte
		cmp  bool // CMPS/SCAS: REPE/REPNE instead of REP
		src  bool // reads [RSI]
		dst  bool // uses [RDI]
	}{
		{"MOVS", 0xA4, false, true, true}, {"CMPS", 0xA6, true, true, true},
		{"STOS", 0xAA, false, false, true}, {"LODS", 0xAC, false, true, false},
		{"SCAS", 0xAE, true, false, true},
	}
	suffix := map[int]string{8: "B", 16: "W", 32: "D", 64: "Q"}
	for _, op := range ops {
		reps := []string{"", "REP "}
		if op.cmp {
			reps = []string{"", "REPE ", "REPNE "}
		}
		for _, rep := range reps {
			for _, size := range sizes {
				l.add(rep+op.name+suffix[size], ok(undefNone), func(g *gen) {
					switch rep {
					case "REP ", "REPE ":
						g.pfx = append(g.pfx, 0xF3)
					case "REPNE ":
						g.pfx = append(g.pfx, 0xF2)
					}
					g.setSize(size)
					g.noRex = false
					g.op = []byte{op.op + w1(size)}
					stringCase(g, size, rep != "", op.cmp, op.src, op.dst)
				})
			}
		}
	}
}

// stringCase sets RSI/RDI/RCX/DF and the memory for a string instruction:
// small counts, pointers well inside the data region (sometimes
// overlapping), and for compares data that matches for a while.
func stringCase(g *gen, size int, rep, cmp, src, dst bool) {
	r := g.rng
	es := size / 8
	a32 := r.IntN(8) == 0
	if a32 {
		g.pfx = append([]byte{0x67}, g.pfx...)
	}
	setPtr := func(reg int, v uint64) {
		if a32 {
			g.st.GPR[reg] = g.st.GPR[reg]&^mask(32) | v
		} else {
			g.st.GPR[reg] = v
		}
	}
	si := DataAddr + 128 + uint64(r.IntN(DataSize-256))
	di := DataAddr + 128 + uint64(r.IntN(DataSize-256))
	if r.IntN(4) == 0 {
		di = si + uint64((r.IntN(7)-3)*es)
	}
	setPtr(RSI, si)
	setPtr(RDI, di)
	n := 1
	if rep {
		n = r.IntN(9)
		setPtr(RCX, uint64(n))
	}
	down := g.st.RFLAGS&FlagDF != 0
	if !cmp {
		g.setReg(RAX, size, g.val(size))
		return
	}
	// Make elements equal with probability pEq (in 1/8ths), so REPE and
	// REPNE both run for a while sometimes.
	pEq := []int{1, 4, 7}[r.IntN(3)]
	acc := g.val(size)
	g.setReg(RAX, size, acc)
	for k := 0; k < 9; k++ {
		step := uint64(k * es)
		sa, da := si+step, di+step
		if down {
			sa, da = si-step, di-step
		}
		if r.IntN(8) >= pEq {
			continue
		}
		if src {
			g.writeData(da, size, g.readData(sa, size))
		} else {
			g.writeData(da, size, acc)
		}
	}
}

// ---- PUSH / POP ----

// setStack points RSP into the data region (usually 8-aligned).
func (g *gen) setStack() {
	off := 256 + g.rng.IntN(DataSize-512)
	if g.rng.IntN(8) != 0 {
		off &^= 7
	}
	g.st.GPR[RSP] = DataAddr + uint64(off)
}

func (l *formList) stack() {
	for _, size := range []int{16, 64} {
		pfx := func(g *gen) {
			if size == 16 {
				g.pfx = append(g.pfx, 0x66)
			}
		}
		l.add(fmt.Sprintf("PUSH %s", rName(size)), ok(undefNone), func(g *gen) {
			pfx(g)
			g.op = []byte{0x50}
			g.opReg = g.rng.IntN(16)
			g.setStack()
		})
		l.add(fmt.Sprintf("POP %s", rName(size)), ok(undefNone), func(g *gen) {
			pfx(g)
			g.op = []byte{0x58}
			g.opReg = g.rng.IntN(16)
			g.setStack()
		})
		l.add(fmt.Sprintf("PUSH %s", rmName(size)), ok(undefNone), func(g *gen) {
			pfx(g)
			g.op = []byte{0xFF}
			g.regField(6)
			g.setStack()
			g.rmOperand(size, 1<<RSP, false)
		})
		l.add(fmt.Sprintf("POP %s", rmName(size)), ok(undefNone), func(g *gen) {
			pfx(g)
			g.op = []byte{0x8F}
			g.regField(0)
			g.setStack()
			g.rmOperand(size, 1<<RSP, false)
		})
	}
	l.add("PUSH imm8", ok(undefNone), func(g *gen) {
		g.op = []byte{0x6A}
		g.imm8(g.val(8))
		g.setStack()
	})
	l.add("PUSH imm32", ok(undefNone), func(g *gen) {
		g.op = []byte{0x68}
		g.imm32(g.val(32))
		g.setStack()
	})
	l.add("PUSH imm16", ok(undefNone), func(g *gen) {
		g.pfx = []byte{0x66}
		g.op = []byte{0x68}
		g.imm16(g.val(16))
		g.setStack()
	})
}

// ---- control transfer (forward only, into the int3 fill) ----

func (l *formList) control() {
	fwd := func(g *gen) uint64 { return uint64(g.rng.IntN(40)) }
	l.add("JMP rel8", ok(undefNone), func(g *gen) {
		g.op = []byte{0xEB}
		g.imm8(fwd(g))
	})
	l.add("JMP rel32", ok(undefNone), func(g *gen) {
		g.op = []byte{0xE9}
		g.imm32(fwd(g))
	})
	for cc, ccn := range ccNames {
		l.add(fmt.Sprintf("J%s rel8", ccn), ok(undefNone), func(g *gen) {
			g.op = []byte{0x70 + byte(cc)}
			g.imm8(1 + fwd(g))
		})
		l.add(fmt.Sprintf("J%s rel32", ccn), ok(undefNone), func(g *gen) {
			g.op = []byte{0x0F, 0x80 + byte(cc)}
			g.imm32(1 + fwd(g))
		})
	}
	smallCount := func(g *gen) {
		if g.rng.IntN(2) == 0 {
			g.st.GPR[RCX] = uint64(g.rng.IntN(3))
			if g.rng.IntN(2) == 0 {
				g.st.GPR[RCX] |= g.rng.Uint64() << 32
			}
		}
	}
	for _, j := range []struct {
		name string
		op   byte
	}{{"LOOPNE", 0xE0}, {"LOOPE", 0xE1}, {"LOOP", 0xE2}, {"JRCXZ", 0xE3}} {
		for _, a32 := range []bool{false, true} {
			name := j.name + " rel8"
			if a32 {
				name += " [addr32]"
			}
			l.add(name, ok(undefNone), func(g *gen) {
				if a32 {
					g.pfx = []byte{0x67}
				}
				g.op = []byte{j.op}
				g.imm8(1 + fwd(g))
				smallCount(g)
			})
		}
	}
	l.add("CALL rel32", ok(undefNone), func(g *gen) {
		g.op = []byte{0xE8}
		g.imm32(fwd(g))
		g.setStack()
	})
	for _, c := range []struct {
		name string
		ext  int
	}{{"CALL", 2}, {"JMP", 4}} {
		l.add(c.name+" r/m64", ok(undefNone), func(g *gen) {
			g.op = []byte{0xFF}
			g.regField(c.ext)
			g.setStack()
			g.rmOperand(64, 1<<RSP, false)
			k := fwd(g)
			g.post = func(code []byte) { g.setRM(64, CodeAddr+uint64(len(code))+k) }
		})
	}
	l.add("RET", ok(undefNone), func(g *gen) {
		g.op = []byte{0xC3}
		g.setStack()
		g.post = func(code []byte) { g.writeData(g.st.GPR[RSP], 64, CodeAddr+uint64(len(code))+fwd(g)) }
	})
	l.add("RET imm16", ok(undefNone), func(g *gen) {
		g.op = []byte{0xC2}
		if g.rng.IntN(2) == 0 {
			g.imm16(uint64(g.rng.IntN(64)))
		} else {
			g.imm16(g.val(16))
		}
		g.setStack()
		g.post = func(code []byte) { g.writeData(g.st.GPR[RSP], 64, CodeAddr+uint64(len(code))+fwd(g)) }
	})
}

// ---- SSE / SSE2 ----

type xkind int

const (
	xInt xkind = iota // packed integer / raw bits
	xSD               // scalar double in the low qword
	xSS               // scalar single in the low dword
	xPS               // four singles
	xPD               // two doubles
)

// setXMM gives XMM n a value of the given kind (the other lanes keep their
// random bits).
func (g *gen) setXMM(n int, k xkind) {
	switch k {
	case xSD:
		g.st.XMM[n][0] = g.f64()
	case xSS:
		g.st.XMM[n][0] = g.st.XMM[n][0]&^0xffffffff | uint64(g.f32())
	case xPS:
		g.st.XMM[n] = g.ps()
	case xPD:
		g.st.XMM[n] = [2]uint64{g.f64(), g.f64()}
	}
}

func (g *gen) ps() [2]uint64 {
	return [2]uint64{uint64(g.f32()) | uint64(g.f32())<<32, uint64(g.f32()) | uint64(g.f32())<<32}
}

// xmmRM makes the r/m operand an XMM register or a memory operand of
// msize bytes with the given alignment, holding a value of kind k. For
// packed integer sources it sometimes copies (most of) dst, so compares
// find equal lanes.
func (g *gen) xmmRM(dst int, msize, align int, k xkind, memOnly bool) {
	var v [2]uint64
	if !memOnly && g.rng.IntN(2) == 0 {
		n := g.rng.IntN(16)
		g.rmReg(n)
		g.setXMM(n, k)
		if k == xInt && dst >= 0 && n != dst && g.rng.IntN(2) == 0 {
			g.st.XMM[n] = g.st.XMM[dst]
			g.st.XMM[n][g.rng.IntN(2)] ^= 0xff << (8 * uint(g.rng.IntN(8)))
		}
		return
	}
	g.memData(msize, align, 0)
	switch k {
	case xSD:
		v[0] = g.f64()
	case xSS:
		v[0] = uint64(g.f32())
	case xPS:
		v = g.ps()
	case xPD:
		v = [2]uint64{g.f64(), g.f64()}
	default:
		v = [2]uint64{g.rng.Uint64(), g.rng.Uint64()}
		if dst >= 0 && g.rng.IntN(2) == 0 {
			v = g.st.XMM[dst]
			v[g.rng.IntN(2)] ^= 0xff << (8 * uint(g.rng.IntN(8)))
		}
	}
	for i := 0; i < msize; i += 8 {
		n := msize - i
		if n > 8 {
			n = 8
		}
		g.writeData(g.memAddr+uint64(i), 8*n, v[i/8])
	}
}

func (l *formList) sse() {
	type sseOp struct {
		name  string
		pfx   byte // mandatory prefix or 0
		op    byte // after 0F
		msize int
		align int
		k     xkind
		store bool // r/m is the destination
	}
	ops := []sseOp{
		{"MOVQ xmm, xmm/m64", 0xF3, 0x7E, 8, 1, xInt, false},
		{"MOVQ xmm/m64, xmm", 0x66, 0xD6, 8, 1, xInt, true},
		{"MOVDQA xmm, xmm/m128", 0x66, 0x6F, 16, 16, xInt, false},
		{"MOVDQA xmm/m128, xmm", 0x66, 0x7F, 16, 16, xInt, true},
		{"MOVDQU xmm, xmm/m128", 0xF3, 0x6F, 16, 1, xInt, false},
		{"MOVDQU xmm/m128, xmm", 0xF3, 0x7F, 16, 1, xInt, true},
		{"MOVAPS xmm, xmm/m128", 0, 0x28, 16, 16, xInt, false},
		{"MOVAPS xmm/m128, xmm", 0, 0x29, 16, 16, xInt, true},
		{"MOVUPS xmm, xmm/m128", 0, 0x10, 16, 1, xInt, false},
		{"MOVUPS xmm/m128, xmm", 0, 0x11, 16, 1, xInt, true},
	}
	for _, p := range []struct {
		name string
		op   byte
	}{
		{"PADDB", 0xFC}, {"PADDW", 0xFD}, {"PADDD", 0xFE}, {"PADDQ", 0xD4},
		{"PSUBB", 0xF8}, {"PSUBW", 0xF9}, {"PSUBD", 0xFA}, {"PSUBQ", 0xFB},
		{"PAND", 0xDB}, {"POR", 0xEB}, {"PXOR", 0xEF},
		{"PCMPEQB", 0x74}, {"PCMPEQW", 0x75}, {"PCMPEQD", 0x76},
		{"PUNPCKLBW", 0x60}, {"PUNPCKLWD", 0x61}, {"PUNPCKLDQ", 0x62}, {"PUNPCKLQDQ", 0x6C},
		{"PUNPCKHBW", 0x68}, {"PUNPCKHWD", 0x69}, {"PUNPCKHDQ", 0x6A}, {"PUNPCKHQDQ", 0x6D},
	} {
		ops = append(ops, sseOp{p.name + " xmm, xmm/m128", 0x66, p.op, 16, 16, xInt, false})
	}
	for _, p := range []struct {
		name string
		pfx  byte
		op   byte
	}{
		{"ADDSS", 0xF3, 0x58}, {"ADDSD", 0xF2, 0x58}, {"SUBSD", 0xF2, 0x5C},
		{"MULSD", 0xF2, 0x59}, {"DIVSD", 0xF2, 0x5E}, {"SQRTSD", 0xF2, 0x51},
		{"CVTSD2SS", 0xF2, 0x5A}, {"UCOMISD", 0x66, 0x2E}, {"COMISD", 0x66, 0x2F},
	} {
		k, ms, suffix := xSD, 8, "m64"
		if p.name == "ADDSS" {
			k, ms, suffix = xSS, 4, "m32"
		}
		ops = append(ops, sseOp{p.name + " xmm, xmm/" + suffix, p.pfx, p.op, ms, 1, k, false})
	}
	for _, o := range ops {
		l.add(o.name, ok(undefNone), func(g *gen) {
			if o.pfx != 0 {
				g.pfx = append(g.pfx, o.pfx)
			}
			g.op = []byte{0x0F, o.op}
			x := g.rng.IntN(16)
			g.regField(x)
			g.setXMM(x, o.k)
			dst := x
			if o.store {
				dst = -1
			}
			g.xmmRM(dst, o.msize, o.align, o.k, false)
		})
	}
	l.add("PSHUFD xmm, xmm/m128, imm8", ok(undefNone), func(g *gen) {
		g.pfx = []byte{0x66}
		g.op = []byte{0x0F, 0x70}
		g.regField(g.rng.IntN(16))
		g.xmmRM(-1, 16, 16, xInt, false)
		g.imm8(g.rng.Uint64())
	})
	// Misaligned m128 operand of a legacy-SSE aligned access: #GP(0).
	l.add("MOVDQA xmm, m128 [misaligned]", formOpt{fault: FaultGP}, func(g *gen) {
		g.pfx = []byte{0x66}
		g.op = []byte{0x0F, 0x6F}
		g.regField(g.rng.IntN(16))
		off := g.dataOff(16, 16) + 1 + uint64(g.rng.IntN(15))
		if off+16 > DataSize {
			off -= 16
		}
		g.mem(DataAddr+off, 0)
	})

	// GPR <-> XMM moves.
	for _, size := range []int{32, 64} {
		mn := map[int]string{32: "MOVD", 64: "MOVQ"}[size]
		l.add(fmt.Sprintf("%s xmm, %s", mn, rmName(size)), ok(undefNone), func(g *gen) {
			g.pfx = []byte{0x66}
			g.w = size == 64
			g.op = []byte{0x0F, 0x6E}
			g.regField(g.rng.IntN(16))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("%s %s, xmm", mn, rmName(size)), ok(undefNone), func(g *gen) {
			g.pfx = []byte{0x66}
			g.w = size == 64
			g.op = []byte{0x0F, 0x7E}
			g.regField(g.rng.IntN(16))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("CVTSI2SD xmm, %s", rmName(size)), ok(undefNone), func(g *gen) {
			g.pfx = []byte{0xF2}
			g.w = size == 64
			g.op = []byte{0x0F, 0x2A}
			g.regField(g.rng.IntN(16))
			g.rmOperand(size, 0, false)
		})
		l.add(fmt.Sprintf("CVTTSD2SI %s, xmm/m64", rName(size)), ok(undefNone), func(g *gen) {
			g.pfx = []byte{0xF2}
			g.w = size == 64
			g.op = []byte{0x0F, 0x2C}
			g.regField(g.pickReg(size, 0))
			g.xmmRM(-1, 8, 1, xSD, false)
		})
	}
}
