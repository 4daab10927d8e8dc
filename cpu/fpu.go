package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// Minimal x87 state: enough for FPU detection code (FNINIT, FNSTSW,
// FNSTCW, FLDCW, FNCLEX) and #NM with CR0.EM/TS. Arithmetic is the
// long-mode issue's work; other x87 instructions raise #UD... no: #NM/#UD
// per CR0 (see execFPU).

type fpuState struct {
	cw, sw, tw uint16
}

func (f *fpuState) reset() { f.cw, f.sw, f.tw = 0x37F, 0, 0xFFFF }

func (c *CPU) execFPU(op *tb.Op, k x86asm.Op) bool {
	switch k {
	case x86asm.FNINIT, x86asm.FNSTSW, x86asm.FNSTCW, x86asm.FLDCW, x86asm.FNCLEX:
	default:
		return false
	}
	if c.CR0&(CR0_EM|CR0_TS) != 0 {
		c.raise(VecNM, 0, false)
	}
	switch k {
	case x86asm.FNINIT:
		c.fpu.reset()
	case x86asm.FNCLEX:
		c.fpu.sw &^= 0x80FF
	case x86asm.FNSTSW:
		if op.Args[0].Kind == okMem {
			c.wr16(c.linW(int(op.Seg), c.ea(op), 2), c.fpu.sw)
		} else {
			c.setGPR(RAX, 2, uint64(c.fpu.sw))
		}
	case x86asm.FNSTCW:
		c.wr16(c.linW(int(op.Seg), c.ea(op), 2), c.fpu.cw)
	case x86asm.FLDCW:
		c.fpu.cw = c.rd16(c.linR(int(op.Seg), c.ea(op), 2))
	}
	return true
}
