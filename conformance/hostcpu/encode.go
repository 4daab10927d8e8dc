package hostcpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// gen builds one test case: the instruction encoding and its initial state.
// Form generators create one with newGen, choose operands, set the values
// those operands need, set up at most one memory operand (last, because
// it loads the address registers), and finish with code().
type gen struct {
	rng *rand.Rand
	st  State

	pfx    []byte // legacy prefixes, in emission order
	w      bool   // REX.W
	rexReq bool   // a REX prefix is required (SPL/BPL/SIL/DIL)
	noRex  bool   // AH/CH/DH/BH may be in use: no REX prefix allowed
	op     []byte // opcode bytes (including 0F escapes)
	opReg  int    // register number added to the last opcode byte (+r forms), or -1

	modrm  bool
	mod    byte
	reg    byte // ModRM.reg incl. REX.R (or /digit)
	rm     byte // ModRM.rm incl. REX.B (register operand or non-SIB base)
	sib    bool
	scale  byte
	index  byte // incl. REX.X; 4 = none
	base   byte // incl. REX.B
	disp   []byte
	ripRel bool
	ripTgt uint64
	imm    []byte

	memAddr uint64 // address of the memory operand, once mem was called
	isMem   bool
	a32     a32Mode // address-size choice for mem

	// post, if set, runs on the assembled code (for values that depend on
	// the instruction length, like a branch target after the code).
	post func(code []byte)
}

type a32Mode int

const (
	a32Rand a32Mode = iota // 0x67 prefix 1 time in 8
	a32Off
	a32On
)

func newGen(rng *rand.Rand) *gen {
	g := &gen{rng: rng, opReg: -1}
	for i := range g.st.GPR {
		g.st.GPR[i] = g.val(64)
	}
	g.st.RFLAGS = rng.Uint64()&InputFlags | 2
	for i := range g.st.XMM {
		g.st.XMM[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	g.st.MXCSR = g.mxcsr()
	g.st.Data = make([]byte, DataSize)
	for i := 0; i < DataSize; i += 8 {
		binary.LittleEndian.PutUint64(g.st.Data[i:], rng.Uint64())
	}
	return g
}

// mxcsr returns a random MXCSR with all exceptions masked: random rounding
// control, sometimes FTZ/DAZ, sometimes sticky exception flags.
func (g *gen) mxcsr() uint32 {
	m := uint32(0x1f80) | uint32(g.rng.IntN(4))<<13
	if g.rng.IntN(4) == 0 {
		m |= 1 << 15 // FTZ
	}
	if g.rng.IntN(4) == 0 {
		m |= 1 << 6 // DAZ
	}
	if g.rng.IntN(2) == 0 {
		m |= uint32(g.rng.IntN(64))
	}
	return m
}

func mask(bits int) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return 1<<uint(bits) - 1
}

func signExt(v uint64, bits int) uint64 {
	s := 64 - uint(bits)
	return uint64(int64(v<<s) >> s)
}

// val returns an "interesting" random value of the given width: zero,
// small, small negative, around the sign boundary, a power of two, or
// uniformly random.
func (g *gen) val(bits int) uint64 {
	r := g.rng
	var v uint64
	switch r.IntN(10) {
	case 0:
		v = 0
	case 1:
		v = uint64(r.IntN(16))
	case 2:
		v = -uint64(r.IntN(16) + 1)
	case 3:
		v = 1<<uint(bits-1) + uint64(r.IntN(5)) - 2
	case 4:
		v = 1<<uint(r.IntN(bits)) + uint64(r.IntN(3)) - 1
	case 5:
		v = r.Uint64() & mask(r.IntN(bits)+1)
	default:
		v = r.Uint64()
	}
	return v & mask(bits)
}

// setSize selects the operand size with a 66 prefix (16) or REX.W (64).
// 8-bit sizes are selected by the opcode; they allow AH..BH unless REX is
// needed, decided here at random.
func (g *gen) setSize(size int) {
	switch size {
	case 8:
		g.noRex = g.rng.IntN(3) == 0
	case 16:
		g.pfx = append(g.pfx, 0x66)
	case 64:
		g.w = true
	}
}

// gpr returns the underlying GPR index of register encoding n at size.
func (g *gen) gpr(n, size int) int {
	if size == 8 && g.noRex && n >= 4 && n < 8 {
		return n - 4
	}
	return n
}

// pickReg chooses a register encoding for an operand of the given size,
// whose underlying GPR is not in avoid (bit i = GPR i).
func (g *gen) pickReg(size int, avoid uint16) int {
	for {
		n := g.rng.IntN(16)
		if g.noRex && n >= 8 {
			continue
		}
		if avoid&(1<<uint(g.gpr(n, size))) != 0 {
			continue
		}
		if size == 8 && !g.noRex && n >= 4 && n < 8 {
			g.rexReq = true
		}
		return n
	}
}

// getReg / setReg access the value of register encoding n at size.
func (g *gen) getReg(n, size int) uint64 {
	if size == 8 && g.noRex && n >= 4 && n < 8 {
		return g.st.GPR[n-4] >> 8 & 0xff
	}
	return g.st.GPR[n] & mask(size)
}

func (g *gen) setReg(n, size int, v uint64) {
	if size == 8 && g.noRex && n >= 4 && n < 8 {
		g.st.GPR[n-4] = g.st.GPR[n-4]&^0xff00 | (v&0xff)<<8
		return
	}
	g.st.GPR[n] = g.st.GPR[n]&^mask(size) | v&mask(size)
}

// regField sets ModRM.reg to register n (or a /digit opcode extension).
func (g *gen) regField(n int) {
	g.modrm = true
	g.reg = byte(n)
}

// rmReg makes the r/m operand register n.
func (g *gen) rmReg(n int) {
	g.modrm = true
	g.mod = 3
	g.rm = byte(n)
}

// dataOff picks the offset in the data region of an access of size bytes
// with the given alignment; unaligned accesses sometimes straddle the page
// boundary in the middle of the region.
func (g *gen) dataOff(size, align int) uint64 {
	if align <= 1 && size > 1 && g.rng.IntN(8) == 0 {
		return uint64(PageSize - 1 - g.rng.IntN(size-1))
	}
	off := g.rng.IntN(DataSize - size + 1)
	if align > 1 {
		off &^= align - 1
	}
	return uint64(off)
}

// memData points the r/m operand at a random place in the data region
// suitable for an access of size bytes with the given alignment.
func (g *gen) memData(size, align int, avoid uint16) {
	g.mem(DataAddr+g.dataOff(size, align), avoid)
}

// mem makes the r/m operand a memory operand whose effective address is
// addr, choosing a random addressing form (RIP-relative, absolute disp32,
// base, base+disp8/32, base+index*scale+disp, index*scale+disp32; 1 in 8
// with a 0x67 address-size prefix) and loading the base/index registers.
// Registers in avoid are not used for addressing. Call it after every
// other register value has been set.
func (g *gen) mem(addr uint64, avoid uint16) {
	r := g.rng
	g.modrm = true
	g.isMem = true
	g.memAddr = addr
	a32 := g.a32 == a32On || g.a32 == a32Rand && r.IntN(8) == 0
	if a32 {
		g.pfx = append([]byte{0x67}, g.pfx...)
	}
	am := mask(64)
	if a32 {
		am = mask(32)
	}
	pick := func(exclude uint16) int {
		for {
			n := r.IntN(16)
			if g.noRex && n >= 8 {
				continue
			}
			if (avoid|exclude)&(1<<uint(n)) == 0 {
				return n
			}
		}
	}
	// set register n so that its (address-size) value is v.
	setAddrReg := func(n int, v uint64) {
		if a32 {
			g.st.GPR[n] = g.st.GPR[n]&^mask(32) | v&mask(32)
		} else {
			g.st.GPR[n] = v
		}
	}
	dispN := func(n int) int64 {
		switch n {
		case 1:
			v := int64(int8(r.Uint32()))
			g.disp = []byte{byte(v)}
			return v
		case 4:
			var v int64
			if r.IntN(2) == 0 {
				v = int64(int32(r.Uint32()))
			} else {
				v = int64(r.IntN(4096)) - 2048
			}
			g.disp = binary.LittleEndian.AppendUint32(nil, uint32(v))
			return v
		}
		g.disp = nil
		return 0
	}
	switch shape := r.IntN(16); {
	case shape == 0: // [rip+disp32]
		g.mod, g.ripRel, g.ripTgt = 0, true, addr
		g.disp = make([]byte, 4)
	case shape == 1: // [disp32] via SIB with no base and no index
		g.mod, g.sib, g.base, g.index, g.scale = 0, true, 5, 4, byte(r.IntN(4))
		g.disp = binary.LittleEndian.AppendUint32(nil, uint32(addr))
	case shape <= 7: // [base + disp]
		b := pick(0)
		dl := []int{0, 1, 4}[r.IntN(3)]
		if dl == 0 && b&7 == 5 {
			dl = 1 // mod=00 rm=101 would be RIP-relative
		}
		d := dispN(dl)
		g.mod = modFor(dl)
		if b&7 == 4 { // RSP/R12 need a SIB byte
			g.sib, g.base, g.index, g.scale = true, byte(b), 4, byte(r.IntN(4))
		} else {
			g.rm = byte(b)
		}
		setAddrReg(b, (addr-uint64(d))&am)
	case shape <= 13: // [base + index*scale + disp]
		b := pick(0)
		i := pick(1<<4 | 1<<uint(b))
		dl := []int{0, 1, 4}[r.IntN(3)]
		if dl == 0 && b&7 == 5 {
			dl = 1
		}
		d := dispN(dl)
		g.mod = modFor(dl)
		g.sib, g.base, g.index, g.scale = true, byte(b), byte(i), byte(r.IntN(4))
		var iv uint64
		switch r.IntN(3) {
		case 0:
			iv = uint64(r.IntN(512)) - 256
		case 1:
			iv = r.Uint64()
		default:
			iv = uint64(r.IntN(64))
		}
		setAddrReg(i, iv&am)
		setAddrReg(b, (addr-uint64(d)-iv<<g.scale)&am)
	default: // [index*scale + disp32], no base
		i := pick(1 << 4)
		g.mod, g.sib, g.base, g.index, g.scale = 0, true, 5, byte(i), byte(r.IntN(4))
		s := uint64(1) << g.scale
		k := uint64(r.IntN(int(addr/s) + 1))
		if r.IntN(4) == 0 {
			k = -uint64(r.IntN(1 << 16)) // negative index, positive disp
		}
		setAddrReg(i, k&am)
		g.disp = binary.LittleEndian.AppendUint32(nil, uint32(addr-k*s))
	}
}

// modFor returns ModRM.mod for a displacement of n bytes.
func modFor(n int) byte {
	switch n {
	case 1:
		return 1
	case 4:
		return 2
	}
	return 0
}

// leaMem makes the r/m operand a random memory operand with arbitrary
// register values (for LEA, which does not access memory).
func (g *gen) leaMem() {
	// Any target below 2^31 keeps RIP-relative and absolute disp32 forms
	// encodable; then scramble the address registers, since LEA computes
	// whatever they give.
	g.mem(uint64(g.rng.Int64N(1<<31)), 0)
	if g.ripRel {
		return
	}
	if g.sib {
		if g.index != 4 && g.rng.IntN(2) == 0 {
			g.st.GPR[g.index] = g.val(64)
		}
		if !(g.mod == 0 && g.base&7 == 5) && g.rng.IntN(2) == 0 {
			g.st.GPR[g.base] = g.val(64)
		}
	} else if g.rng.IntN(2) == 0 {
		g.st.GPR[g.rm] = g.val(64)
	}
}

func (g *gen) imm8(v uint64)  { g.imm = append(g.imm, byte(v)) }
func (g *gen) imm16(v uint64) { g.imm = binary.LittleEndian.AppendUint16(g.imm, uint16(v)) }
func (g *gen) imm32(v uint64) { g.imm = binary.LittleEndian.AppendUint32(g.imm, uint32(v)) }
func (g *gen) imm64(v uint64) { g.imm = binary.LittleEndian.AppendUint64(g.imm, v) }

// immZ appends an immediate of the "iz" kind for the operand size: 8 → ib,
// 16 → iw, 32/64 → id (sign-extended to 64 by the CPU).
func (g *gen) immZ(size int, v uint64) {
	switch size {
	case 8:
		g.imm8(v)
	case 16:
		g.imm16(v)
	default:
		g.imm32(v)
	}
}

func (g *gen) readData(addr uint64, size int) uint64 {
	var b [8]byte
	copy(b[:size/8], g.st.Data[addr-DataAddr:])
	return binary.LittleEndian.Uint64(b[:])
}

func (g *gen) writeData(addr uint64, size int, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	copy(g.st.Data[addr-DataAddr:addr-DataAddr+uint64(size/8)], b[:])
}

// getRM / setRM access the current value of the r/m operand (register or
// memory, whichever was set up).
func (g *gen) getRM(size int) uint64 {
	if g.isMem {
		return g.readData(g.memAddr, size)
	}
	return g.getReg(int(g.rm), size)
}

func (g *gen) setRM(size int, v uint64) {
	if g.isMem {
		g.writeData(g.memAddr, size, v)
		return
	}
	g.setReg(int(g.rm), size, v)
}

// code assembles the instruction.
func (g *gen) code() []byte {
	b := append([]byte(nil), g.pfx...)
	var rex byte
	if g.w {
		rex |= 8
	}
	if g.modrm {
		rex |= g.reg >> 3 << 2
		switch {
		case g.ripRel:
		case g.sib:
			rex |= g.index>>3<<1 | g.base>>3
		default:
			rex |= g.rm >> 3
		}
	}
	if g.opReg >= 0 {
		rex |= byte(g.opReg) >> 3
	}
	spurious := g.modrm && !g.noRex && g.rng.IntN(16) == 0
	if rex != 0 || g.rexReq || spurious {
		if g.noRex {
			panic("hostcpu: generator wants both REX and AH..BH")
		}
		b = append(b, 0x40|rex)
	}
	b = append(b, g.op...)
	if g.opReg >= 0 {
		b[len(b)-1] += byte(g.opReg & 7)
	}
	if !g.modrm {
		return append(b, g.imm...)
	}
	rmf := g.rm & 7
	if g.sib {
		rmf = 4
	}
	if g.ripRel {
		rmf = 5
	}
	b = append(b, g.mod<<6|(g.reg&7)<<3|rmf)
	if g.sib {
		b = append(b, g.scale<<6|(g.index&7)<<3|g.base&7)
	}
	dispAt := len(b)
	b = append(b, g.disp...)
	b = append(b, g.imm...)
	if g.ripRel {
		d := int64(g.ripTgt) - int64(CodeAddr+len(b))
		binary.LittleEndian.PutUint32(b[dispAt:], uint32(d))
	}
	return b
}

// Floating-point operand values.

var interestingF64 = []uint64{
	0x0000000000000000, 0x8000000000000000, // ±0
	0x3ff0000000000000, 0xbff0000000000000, // ±1
	0x4000000000000000, 0x3fe0000000000000, 0x3fd5555555555555,
	0x7fefffffffffffff, 0xffefffffffffffff, // ±max
	0x0010000000000000, 0x8010000000000000, // ±min normal
	0x000fffffffffffff, 0x0000000000000001, 0x8000000000000001, // denormals
	0x7ff0000000000000, 0xfff0000000000000, // ±inf
	0x7ff8000000000000, 0xfff8000000000000, 0x7ff8000000000123, // QNaN
	0x7ff0000000000001, 0x7ff4000000000000, // SNaN
	0x41dfffffffc00000, 0xc1e0000000000000, 0x41e0000000000000, // ±2^31 area
	0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff, // ±2^63 area
	0x4330000000000000, 0x3fe0000000000001, 0x4004000000000000,
}

var interestingF32 = []uint32{
	0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x40000000, 0x3eaaaaab,
	0x7f7fffff, 0xff7fffff, 0x00800000, 0x007fffff, 0x00000001, 0x80000001,
	0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000,
	0x4f000000, 0xcf000000, 0x5f000000, 0x4b000000,
}

func (g *gen) f64() uint64 {
	r := g.rng
	switch r.IntN(4) {
	case 0:
		return interestingF64[r.IntN(len(interestingF64))]
	case 1:
		return r.Uint64()
	case 2: // integer-ish values around the int32/int64 conversion limits
		x := float64(int64(r.Uint64())>>uint(r.IntN(64))) + float64(r.IntN(3)-1)*0.5
		return math.Float64bits(x)
	default: // moderate magnitude, random mantissa
		e := uint64(1023 - 40 + r.IntN(80))
		return uint64(r.IntN(2))<<63 | e<<52 | r.Uint64()&mask(52)
	}
}

func (g *gen) f32() uint32 {
	r := g.rng
	switch r.IntN(4) {
	case 0:
		return interestingF32[r.IntN(len(interestingF32))]
	case 1:
		return r.Uint32()
	case 2:
		return math.Float32bits(float32(int32(r.Uint32())>>uint(r.IntN(32))) + float32(r.IntN(3)-1)*0.5)
	default:
		e := uint32(127 - 20 + r.IntN(40))
		return uint32(r.IntN(2))<<31 | e<<23 | r.Uint32()&0x7fffff
	}
}
