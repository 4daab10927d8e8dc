package cpu

import "glassbox/tb"

// Operand access for the executor.

// ea computes the effective address (offset) of the op's memory operand.
func (c *CPU) ea(op *tb.Op) uint64 {
	a := uint64(op.Disp)
	// Registers are below 16 when present; the masks spare bounds checks.
	if op.Base != noReg {
		a += c.R[op.Base&15]
	}
	if op.Index != noReg {
		a += c.R[op.Index&15] << (op.Scale & 3)
	}
	switch op.ASize {
	case 2:
		return a & 0xFFFF
	case 4:
		return a & 0xFFFFFFFF
	}
	return a
}

// getReg reads a register operand.
func (c *CPU) getReg(a *tb.Operand) uint64 {
	if a.Kind == okRegH {
		return c.R[a.Reg] >> 8 & 0xFF
	}
	return c.R[a.Reg] & sizeMask(a.Size)
}

// setReg writes a register operand with x86 merge rules: 8/16-bit writes
// keep the other bits, 32-bit writes zero-extend to 64 bits.
func (c *CPU) setReg(a *tb.Operand, v uint64) {
	r := &c.R[a.Reg]
	switch {
	case a.Kind == okRegH:
		*r = *r&^0xFF00 | (v&0xFF)<<8
	case a.Size == 1:
		*r = *r&^0xFF | v&0xFF
	case a.Size == 2:
		*r = *r&^0xFFFF | v&0xFFFF
	case a.Size == 4:
		*r = v & 0xFFFFFFFF
	default:
		*r = v
	}
}

// setGPR writes general register n with the given operand size.
func (c *CPU) setGPR(n int, size uint8, v uint64) {
	r := &c.R[n]
	switch size {
	case 1:
		*r = *r&^0xFF | v&0xFF
	case 2:
		*r = *r&^0xFFFF | v&0xFFFF
	case 4:
		*r = v & 0xFFFFFFFF
	default:
		*r = v
	}
}

// rd reads operand i.
func (c *CPU) rd(op *tb.Op, i int) uint64 {
	a := &op.Args[i]
	switch a.Kind {
	case okReg:
		return c.R[a.Reg] & sizeMask(a.Size)
	case okRegH:
		return c.R[a.Reg] >> 8 & 0xFF
	case okImm:
		return op.Imm & sizeMask(a.Size)
	case okImm2:
		return op.Imm2 & sizeMask(a.Size)
	case okMem:
		return c.rdN(c.linR(int(op.Seg), c.ea(op), int(a.Size)), a.Size)
	case okSeg:
		return uint64(c.Seg[a.Reg].Sel)
	}
	c.ud()
	return 0
}

// wr writes operand i.
func (c *CPU) wr(op *tb.Op, i int, v uint64) {
	a := &op.Args[i]
	switch a.Kind {
	case okReg, okRegH:
		c.setReg(a, v)
	case okMem:
		c.wrN(c.linW(int(op.Seg), c.ea(op), int(a.Size)), a.Size, v)
	default:
		c.ud()
	}
}

// rmw reads operand 0 for a read-modify-write and returns its value and
// the linear address to store to (unused for registers).
func (c *CPU) rmw(op *tb.Op) (v, la uint64) {
	a := &op.Args[0]
	if a.Kind == okMem {
		la = c.linW(int(op.Seg), c.ea(op), int(a.Size))
		v = c.rdN(la, a.Size)
		if op.Prefix&pfxLock != 0 {
			c.dbg.lockOld = v
		}
		return v, la
	}
	return c.getReg(a), 0
}

// rmwStore completes rmw.
func (c *CPU) rmwStore(op *tb.Op, la, v uint64) {
	a := &op.Args[0]
	if a.Kind == okMem {
		c.wrN(la, a.Size, v)
		if op.Prefix&pfxLock != 0 && v != c.dbg.lockOld {
			c.noteLocked(la, a.Size, v)
		}
		return
	}
	c.setReg(a, v)
}

// memLin returns the linear address of the memory operand for a read of
// size bytes at offset delta from the effective address.
func (c *CPU) memLinR(op *tb.Op, delta uint64, size int) uint64 {
	off := c.maskA(op, c.ea(op)+delta)
	return c.linR(int(op.Seg), off, size)
}

func (c *CPU) memLinW(op *tb.Op, delta uint64, size int) uint64 {
	off := c.maskA(op, c.ea(op)+delta)
	return c.linW(int(op.Seg), off, size)
}

func (c *CPU) maskA(op *tb.Op, a uint64) uint64 {
	switch op.ASize {
	case 2:
		return a & 0xFFFF
	case 4:
		return a & 0xFFFFFFFF
	}
	return a
}

// Stack.

// stackSize is the stack-pointer width in bytes (SS.B, or 8 in 64-bit mode).
func (c *CPU) stackSize() uint8 {
	switch {
	case c.hflags&hfCS64 != 0:
		return 8
	case c.hflags&hfSS32 != 0:
		return 4
	}
	return 2
}

func (c *CPU) spMask() uint64 { return sizeMask(c.stackSize()) }

// push stores v (size bytes) below SP, then commits SP.
func (c *CPU) push(v uint64, size uint8) {
	m := c.spMask()
	nsp := (c.R[RSP] - uint64(size)) & m
	c.wrN(c.linW(SS, nsp, int(size)), size, v)
	c.R[RSP] = c.R[RSP]&^m | nsp
}

// pop reads size bytes at SP, then commits SP.
func (c *CPU) pop(size uint8) uint64 {
	m := c.spMask()
	sp := c.R[RSP] & m
	v := c.rdN(c.linR(SS, sp, int(size)), size)
	c.R[RSP] = c.R[RSP]&^m | (sp+uint64(size))&m
	return v
}

// peek reads size bytes at SP+off without moving SP.
func (c *CPU) peek(off uint64, size uint8) uint64 {
	m := c.spMask()
	return c.rdN(c.linR(SS, (c.R[RSP]+off)&m, int(size)), size)
}
