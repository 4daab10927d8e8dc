package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// String instructions (SDM Vol. 2 MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS) with
// REP/REPE/REPNE. Each iteration commits its register updates, so a fault
// in the middle leaves a restartable state. A long REP yields after
// repChunk iterations (EIP stays on the instruction) so interrupts and the
// instruction quantum are honoured.

const repChunk = 4096

func (c *CPU) stringOp(op *tb.Op, k x86asm.Op) {
	var sz uint8
	switch k {
	case x86asm.MOVSB, x86asm.STOSB, x86asm.LODSB, x86asm.CMPSB, x86asm.SCASB, x86asm.INSB, x86asm.OUTSB:
		sz = 1
	case x86asm.MOVSW, x86asm.STOSW, x86asm.LODSW, x86asm.CMPSW, x86asm.SCASW, x86asm.INSW, x86asm.OUTSW:
		sz = 2
	case x86asm.MOVSD, x86asm.STOSD, x86asm.LODSD, x86asm.CMPSD, x86asm.SCASD, x86asm.INSD, x86asm.OUTSD:
		sz = 4
	default:
		sz = 8
	}
	am := sizeMask(op.ASize)
	step := uint64(sz)
	if c.flags&FLAG_DF != 0 {
		step = -step
	}
	rep := op.Prefix&(pfxRep|pfxRepne) != 0
	src := int(op.Seg)
	if op.Prefix&pfxSeg == 0 {
		src = DS
	}
	if k == x86asm.INSB || k == x86asm.INSW || k == x86asm.INSD || k == x86asm.OUTSB || k == x86asm.OUTSW || k == x86asm.OUTSD {
		port := uint16(c.R[RDX])
		c.checkIO(port, int(sz))
	}
	n := 0
	for {
		if rep {
			if c.R[RCX]&am == 0 {
				break
			}
			if n == repChunk {
				// Yield: re-execute this instruction later.
				c.EIP = op.EIP
				c.stopTB = true
				c.repYield = true
				return
			}
		}
		si, di := c.R[RSI]&am, c.R[RDI]&am
		switch k {
		case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
			v := c.rdN(c.linR(src, si, int(sz)), sz)
			c.wrN(c.linW(ES, di, int(sz)), sz, v)
			c.setAddrReg(RSI, am, si+step)
			c.setAddrReg(RDI, am, di+step)
		case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
			c.wrN(c.linW(ES, di, int(sz)), sz, c.R[RAX]&sizeMask(sz))
			c.setAddrReg(RDI, am, di+step)
		case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
			v := c.rdN(c.linR(src, si, int(sz)), sz)
			c.setGPR(RAX, sz, v)
			c.setAddrReg(RSI, am, si+step)
		case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ:
			a := c.rdN(c.linR(src, si, int(sz)), sz)
			b := c.rdN(c.linR(ES, di, int(sz)), sz)
			c.setSub(sz, a, b, a-b, 0)
			c.setAddrReg(RSI, am, si+step)
			c.setAddrReg(RDI, am, di+step)
		case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
			a := c.R[RAX] & sizeMask(sz)
			b := c.rdN(c.linR(ES, di, int(sz)), sz)
			c.setSub(sz, a, b, a-b, 0)
			c.setAddrReg(RDI, am, di+step)
		case x86asm.INSB, x86asm.INSW, x86asm.INSD:
			la := c.linW(ES, di, int(sz))
			c.probeWrite(la, c.mmuIdx)
			v := c.ioIn(uint16(c.R[RDX]), int(sz))
			c.wrN(la, sz, uint64(v))
			c.setAddrReg(RDI, am, di+step)
		case x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
			v := c.rdN(c.linR(src, si, int(sz)), sz)
			c.ioOut(uint16(c.R[RDX]), int(sz), uint32(v))
			c.setAddrReg(RSI, am, si+step)
		}
		if !rep {
			return
		}
		c.setAddrReg(RCX, am, c.R[RCX]-1)
		n++
		switch k {
		case x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
			x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
			if op.Prefix&pfxRepne != 0 {
				if c.zf() {
					return
				}
			} else if !c.zf() {
				return
			}
		}
		if c.stopTB {
			// A store hit code in the running TB (self-modifying REP):
			// finish the remaining iterations after retranslation.
			if c.R[RCX]&am != 0 {
				c.EIP = op.EIP
				c.repYield = true
			}
			return
		}
	}
}

// checkIO applies the IOPL and TSS I/O-permission-bitmap checks (SDM Vol. 1
// §19.5): in protected mode with CPL > IOPL, and always in virtual-8086
// mode, every port byte must be allowed by the bitmap.
// setAddrReg updates an address-sized register (SI, DI, CX under the
// address-size attribute): 16-bit updates merge, 32-bit ones zero-extend
// like every 32-bit register write.
func (c *CPU) setAddrReg(n int, am uint64, v uint64) {
	if am == 0xFFFF {
		c.R[n] = c.R[n]&^0xFFFF | v&0xFFFF
	} else {
		c.R[n] = v & am
	}
}

func (c *CPU) checkIO(port uint16, size int) {
	if c.CR0&CR0_PE == 0 {
		return
	}
	iopl := int(c.flags>>12) & 3
	if c.flags&FLAG_VM == 0 && c.CPL() <= iopl {
		return
	}
	// 32-bit TSS only (type 9/11); a 16-bit TSS has no bitmap.
	if c.TR.Attr&0xF != 9 && c.TR.Attr&0xF != 11 || c.TR.Limit < 0x67 {
		c.gp(0)
	}
	base := uint64(c.sysRead(c.TR.Base+0x66, 2))
	off := base + uint64(port>>3)
	if off+1 > uint64(c.TR.Limit) {
		c.gp(0)
	}
	w := c.sysRead(c.TR.Base+off, 2)
	mask := uint64(1)<<uint(size) - 1
	if w>>(port&7)&mask != 0 {
		c.gp(0)
	}
}

func (c *CPU) ioIn(port uint16, size int) uint32 {
	if h := c.sh.Hooks; h != nil && h.IO != nil {
		h.IO(c, port, size, false, 0)
	}
	if c.hwIO != 0 {
		c.hwCheckIO(port, size)
	}
	return c.IO.In(port, size)
}

func (c *CPU) ioOut(port uint16, size int, v uint32) {
	if h := c.sh.Hooks; h != nil && h.IO != nil {
		h.IO(c, port, size, true, v)
	}
	if c.hwIO != 0 {
		c.hwCheckIO(port, size)
	}
	c.IO.Out(port, size, v)
}

func (c *CPU) in(op *tb.Op) {
	var port uint16
	if op.Args[1].Kind == okImm {
		port = uint16(op.Imm & 0xFF)
	} else {
		port = uint16(c.R[RDX])
	}
	sz := op.Args[0].Size
	c.checkIO(port, int(sz))
	v := c.ioIn(port, int(sz))
	c.setReg(&op.Args[0], uint64(v))
}

func (c *CPU) out(op *tb.Op) {
	var port uint16
	if op.Args[0].Kind == okImm {
		port = uint16(op.Imm & 0xFF)
	} else {
		port = uint16(c.R[RDX])
	}
	sz := op.Args[1].Size
	c.checkIO(port, int(sz))
	c.ioOut(port, int(sz), uint32(c.getReg(&op.Args[1])))
	c.stopTB = true // a device may have raised an interrupt or stopped the machine
}
