package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// System instructions: descriptor-table registers, control/debug
// registers, MSRs, LAR/LSL/VERR/VERW/ARPL, fast system calls.

// msrState holds the model-specific registers the CPU model has.
type msrState struct {
	apicBase                  uint64
	sysenterCS, sysenterESP   uint64
	sysenterEIP               uint64
	star, lstar, cstar, fmask uint64
	kernelGSBase              uint64
	pat                       uint64
	tscAux                    uint64
	miscEnable                uint64
	mtrrDefType               uint64
	tscAdjust                 uint64
}

// MSR numbers (SDM Vol. 4).
const (
	MSR_TSC            = 0x10
	MSR_APIC_BASE      = 0x1B
	MSR_MTRRCAP        = 0xFE
	MSR_SYSENTER_CS    = 0x174
	MSR_SYSENTER_ESP   = 0x175
	MSR_SYSENTER_EIP   = 0x176
	MSR_MISC_ENABLE    = 0x1A0
	MSR_PAT            = 0x277
	MSR_MTRR_DEF_TYPE  = 0x2FF
	MSR_EFER           = 0xC0000080
	MSR_STAR           = 0xC0000081
	MSR_LSTAR          = 0xC0000082
	MSR_CSTAR          = 0xC0000083
	MSR_FMASK          = 0xC0000084
	MSR_FS_BASE        = 0xC0000100
	MSR_GS_BASE        = 0xC0000101
	MSR_KERNEL_GS_BASE = 0xC0000102
	MSR_TSC_AUX        = 0xC0000103
)

// TSC returns the time-stamp counter, derived from retired instructions
// (deterministic virtual time).
func (c *CPU) TSC() uint64 { return c.ICount + c.tsc0 }

func (c *CPU) requireCPL0() {
	if c.CR0&CR0_PE != 0 && c.CPL() != 0 {
		c.gp(0)
	}
}

func (c *CPU) execSystem(op *tb.Op, k x86asm.Op) {
	switch k {
	case kMovToCR:
		c.requireCPL0()
		c.writeCR(int(op.Args[0].Reg), c.getReg(&op.Args[1]))
	case kMovFromCR:
		c.requireCPL0()
		var v uint64
		switch op.Args[1].Reg {
		case 0:
			v = c.CR0
		case 2:
			v = c.CR2
		case 3:
			v = c.CR3
		case 4:
			v = c.CR4
		case 8:
			v = c.CR8
		default:
			c.ud()
		}
		c.setReg(&op.Args[0], v)
	case kMovToDR:
		c.requireCPL0()
		r := c.drIndex(op.Args[0].Reg)
		c.hwGeneralDetect()
		c.movToDR(r, c.getReg(&op.Args[1]))
	case kMovFromDR:
		c.requireCPL0()
		r := c.drIndex(op.Args[1].Reg)
		c.hwGeneralDetect()
		c.setReg(&op.Args[0], c.DR[r])
	case x86asm.LGDT, x86asm.LIDT:
		c.requireCPL0()
		if op.Args[0].Kind != okMem {
			c.ud()
		}
		lim := uint32(c.rd16(c.memLinR(op, 0, 2)))
		var base uint64
		if c.hflags&hfCS64 != 0 {
			base = c.rd64(c.memLinR(op, 2, 8))
		} else {
			base = uint64(c.rd32(c.memLinR(op, 2, 4)))
			if op.Size == 2 {
				base &= 0xFFFFFF
			}
		}
		if k == x86asm.LGDT {
			c.GDTR = DTable{Base: base, Limit: lim}
		} else {
			c.IDTR = DTable{Base: base, Limit: lim}
		}
	case x86asm.SGDT, x86asm.SIDT:
		if op.Args[0].Kind != okMem {
			c.ud()
		}
		t := c.GDTR
		if k == x86asm.SIDT {
			t = c.IDTR
		}
		la := c.memLinW(op, 0, 2)
		c.wr16(la, uint16(t.Limit))
		if c.hflags&hfCS64 != 0 {
			c.wr64(c.memLinW(op, 2, 8), t.Base)
		} else {
			c.wr32(c.memLinW(op, 2, 4), uint32(t.Base))
		}
	case x86asm.LLDT:
		c.protOnly()
		c.requireCPL0()
		c.loadLDT(uint16(c.rd(op, 0)))
	case x86asm.LTR:
		c.protOnly()
		c.requireCPL0()
		c.loadTR(uint16(c.rd(op, 0)))
	case x86asm.SLDT, x86asm.STR:
		c.protOnly()
		v := uint64(c.LDTR.Sel)
		if k == x86asm.STR {
			v = uint64(c.TR.Sel)
		}
		if op.Args[0].Kind == okMem {
			c.wr16(c.linW(int(op.Seg), c.ea(op), 2), uint16(v))
		} else {
			c.setReg(&op.Args[0], v)
		}
	case x86asm.LMSW:
		c.requireCPL0()
		v := c.rd(op, 0) & 0xF
		// LMSW can set PE but not clear it.
		nv := c.CR0&^0xE | v
		c.writeCR(0, nv)
	case x86asm.SMSW:
		v := c.CR0 & 0xFFFF
		if op.Args[0].Kind == okMem {
			c.wr16(c.linW(int(op.Seg), c.ea(op), 2), uint16(v))
		} else {
			c.setReg(&op.Args[0], c.CR0&sizeMask(op.Args[0].Size))
		}
	case x86asm.CLTS:
		c.requireCPL0()
		c.CR0 &^= CR0_TS
	case x86asm.INVLPG:
		c.requireCPL0()
		if op.Args[0].Kind != okMem {
			c.ud()
		}
		la := c.wrapLin(c.Seg[op.Seg].Base + c.ea(op))
		if c.hflags&hfCS64 != 0 && op.Seg < FS {
			la = c.ea(op)
		}
		c.tlb.FlushPage(la)
		c.jc.Clear()
	case x86asm.INVD, x86asm.WBINVD:
		c.requireCPL0()
	case x86asm.RDMSR:
		c.requireCPL0()
		v, ok := c.readMSR(uint32(c.R[RCX]))
		if !ok {
			c.gp(0)
		}
		c.R[RAX], c.R[RDX] = v&0xFFFFFFFF, v>>32
	case x86asm.WRMSR:
		c.requireCPL0()
		if !c.writeMSR(uint32(c.R[RCX]), c.R[RDX]<<32|c.R[RAX]&0xFFFFFFFF) {
			c.gp(0)
		}
	case x86asm.LAR, x86asm.LSL:
		c.larLsl(op, k == x86asm.LAR)
	case x86asm.VERR, x86asm.VERW:
		c.verrw(op, k == x86asm.VERW)
	case x86asm.ARPL:
		if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
			c.ud()
		}
		d, la := c.rmw(op)
		s := c.getReg(&op.Args[1])
		f := c.getFlags()
		if d&3 < s&3 {
			c.rmwStore(op, la, d&^3|s&3)
			c.setArith(f | FLAG_ZF)
		} else {
			c.setArith(f &^ FLAG_ZF)
		}
	case x86asm.SYSENTER:
		c.sysenter()
	case x86asm.SYSEXIT:
		c.sysexit(op)
	case x86asm.SYSCALL:
		c.syscall(op)
	case x86asm.SYSRET:
		c.sysret(op)
	case x86asm.SWAPGS:
		if c.hflags&hfCS64 == 0 {
			c.ud()
		}
		c.requireCPL0()
		c.Seg[GS].Base, c.msr.kernelGSBase = c.msr.kernelGSBase, c.Seg[GS].Base
	case x86asm.RDTSCP:
		t := c.TSC()
		c.R[RAX], c.R[RDX] = t&0xFFFFFFFF, t>>32
		c.R[RCX] = c.msr.tscAux & 0xFFFFFFFF
	default:
		if c.execFPU(op, k) {
			return
		}
		c.ud()
	}
}

func (c *CPU) protOnly() {
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		c.ud()
	}
}

// writeCR implements MOV to CR0/CR2/CR3/CR4/CR8 with the SDM's checks.
func (c *CPU) writeCR(n int, v uint64) {
	switch n {
	case 0:
		if c.hflags&hfCS64 == 0 {
			v &= 0xFFFFFFFF
		}
		if v>>32 != 0 || (v&CR0_PG != 0 && v&CR0_PE == 0) || (v&CR0_NW != 0 && v&CR0_CD == 0) {
			c.gp(0)
		}
		if v&CR0_PG != 0 && c.CR0&CR0_PG == 0 && c.EFER&EFER_LME != 0 {
			if c.CR4&CR4_PAE == 0 {
				c.gp(0)
			}
			c.EFER |= EFER_LMA
		}
		if v&CR0_PG == 0 && c.CR0&CR0_PG != 0 && c.EFER&EFER_LMA != 0 {
			if c.hflags&hfCS64 != 0 {
				c.gp(0)
			}
			c.EFER &^= EFER_LMA
		}
		v |= CR0_ET
		changed := (c.CR0 ^ v) & (CR0_PG | CR0_WP | CR0_PE)
		c.CR0 = v
		if changed&CR0_PE != 0 {
			c.refreshSegs()
		}
		if changed != 0 {
			c.tlb.FlushAll()
			c.jc.Clear()
		}
		c.updateHflags()
	case 2:
		c.CR2 = v
	case 3:
		if c.hflags&hfCS64 == 0 {
			v &= 0xFFFFFFFF
		}
		c.CR3 = v
		c.tlb.FlushNonGlobal()
		c.jc.Clear()
	case 4:
		const valid = CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT
		if v&^uint64(valid) != 0 {
			c.gp(0)
		}
		if c.EFER&EFER_LMA != 0 && v&CR4_PAE == 0 {
			c.gp(0)
		}
		de := (c.CR4 ^ v) & CR4_DE
		c.CR4 = v
		if de != 0 {
			c.updateHWBP() // I/O breakpoints need CR4.DE
		}
		c.tlb.FlushAll()
		c.jc.Clear()
	case 8:
		if v > 15 {
			c.gp(0)
		}
		c.CR8 = v
	default:
		c.ud()
	}
	c.stopTB = true
}

func (c *CPU) loadLDT(sel uint16) {
	if sel&^3 == 0 {
		c.LDTR = Segment{Sel: sel}
		return
	}
	if sel&4 != 0 {
		c.gp(uint32(sel &^ 3))
	}
	d, addr := c.readDesc(sel, VecGP)
	if d.s() || d.typ() != 2 {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	if c.EFER&EFER_LMA != 0 {
		d.base |= (c.sysRead(addr+8, 4) & 0xFFFFFFFF) << 32
	}
	c.LDTR = Segment{Sel: sel, Base: d.base, Limit: d.limit, Attr: d.attr}
}

func (c *CPU) loadTR(sel uint16) {
	if sel&^3 == 0 || sel&4 != 0 {
		c.gp(uint32(sel &^ 3))
	}
	d, addr := c.readDesc(sel, VecGP)
	if d.s() || (d.typ() != 1 && d.typ() != 9) {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	if c.EFER&EFER_LMA != 0 {
		d.base |= (c.sysRead(addr+8, 4) & 0xFFFFFFFF) << 32
	}
	// Mark busy.
	b := c.sysRead(addr+5, 1)
	c.sysWrite(addr+5, 1, b|2)
	d.attr |= 2
	c.TR = Segment{Sel: sel, Base: d.base, Limit: d.limit, Attr: d.attr}
}

func (c *CPU) larLsl(op *tb.Op, lar bool) {
	c.protOnly()
	sel := uint16(c.rd(op, 1))
	f := c.getFlags()
	fail := func() { c.setArith(f &^ FLAG_ZF) }
	if sel&^3 == 0 {
		fail()
		return
	}
	idx := uint64(sel &^ 7)
	var tabLimit uint64
	var base uint64
	if sel&4 != 0 {
		tabLimit, base = uint64(c.LDTR.Limit), c.LDTR.Base
	} else {
		tabLimit, base = uint64(c.GDTR.Limit), c.GDTR.Base
	}
	if idx+7 > tabLimit {
		fail()
		return
	}
	d := decodeDesc(c.sysRead(base+idx, 8))
	if !d.s() {
		ok := map[int]bool{1: true, 2: true, 3: true, 9: true, 11: true}
		if lar {
			ok[4], ok[5], ok[0xC] = true, true, true
		}
		if !ok[d.typ()] {
			fail()
			return
		}
	}
	if !d.conforming() && (c.CPL() > d.dpl() || int(sel&3) > d.dpl()) {
		fail()
		return
	}
	if lar {
		c.setReg(&op.Args[0], d.raw>>32&0x00F0FF00&sizeMask(op.Args[0].Size))
	} else {
		c.setReg(&op.Args[0], uint64(d.limit)&sizeMask(op.Args[0].Size))
	}
	c.setArith(f | FLAG_ZF)
}

func (c *CPU) verrw(op *tb.Op, write bool) {
	c.protOnly()
	sel := uint16(c.rd(op, 0))
	f := c.getFlags()
	res := false
	if sel&^3 != 0 {
		idx := uint64(sel &^ 7)
		tabLimit, base := uint64(c.GDTR.Limit), c.GDTR.Base
		if sel&4 != 0 {
			tabLimit, base = uint64(c.LDTR.Limit), c.LDTR.Base
		}
		if idx+7 <= tabLimit {
			d := decodeDesc(c.sysRead(base+idx, 8))
			if d.s() && (d.conforming() || (c.CPL() <= d.dpl() && int(sel&3) <= d.dpl())) {
				if write {
					res = !d.code() && d.attr&attrWrite != 0
				} else {
					res = !d.code() || d.attr&attrWrite != 0
				}
			}
		}
	}
	if res {
		c.setArith(f | FLAG_ZF)
	} else {
		c.setArith(f &^ FLAG_ZF)
	}
}

func (c *CPU) readMSR(n uint32) (uint64, bool) {
	switch n {
	case MSR_TSC:
		return c.TSC(), true
	case MSR_APIC_BASE:
		return c.msr.apicBase, true
	case MSR_MTRRCAP:
		return 0, true
	case MSR_SYSENTER_CS:
		return c.msr.sysenterCS, true
	case MSR_SYSENTER_ESP:
		return c.msr.sysenterESP, true
	case MSR_SYSENTER_EIP:
		return c.msr.sysenterEIP, true
	case MSR_MISC_ENABLE:
		return c.msr.miscEnable | 1, true
	case MSR_PAT:
		if c.msr.pat == 0 {
			return 0x0007040600070406, true
		}
		return c.msr.pat, true
	case MSR_MTRR_DEF_TYPE:
		return c.msr.mtrrDefType, true
	case MSR_EFER:
		return c.EFER, true
	case MSR_STAR:
		return c.msr.star, true
	case MSR_LSTAR:
		return c.msr.lstar, true
	case MSR_CSTAR:
		return c.msr.cstar, true
	case MSR_FMASK:
		return c.msr.fmask, true
	case MSR_FS_BASE:
		return c.Seg[FS].Base, true
	case MSR_GS_BASE:
		return c.Seg[GS].Base, true
	case MSR_KERNEL_GS_BASE:
		return c.msr.kernelGSBase, true
	case MSR_TSC_AUX:
		return c.msr.tscAux, true
	}
	if isAPICMSR(n) {
		if a, ok := c.intc.(APICMSRs); ok {
			return a.ReadAPICMSR(n)
		}
	}
	return 0, false
}

// MSR_TSC_DEADLINE is IA32_TSC_DEADLINE (the local APIC's TSC-deadline
// timer); 0x800-0x8FF are the x2APIC registers.
const MSR_TSC_DEADLINE = 0x6E0

func isAPICMSR(n uint32) bool { return n == MSR_TSC_DEADLINE || n >= 0x800 && n <= 0x8FF }

func (c *CPU) writeMSR(n uint32, v uint64) bool {
	switch n {
	case MSR_TSC:
		c.tsc0 = v - c.ICount
	case MSR_APIC_BASE:
		// BSP flag (bit 8) is read-only; bits 0-7 and 9 reserved; bit 10
		// (x2APIC mode) only with an x2APIC-capable controller, and only
		// for valid mode transitions.
		keep := uint64(0x7FF)
		if a, ok := c.intc.(APICMSRs); ok && c.cpuid.Feat1ECX&CPUID_ECX_X2APIC != 0 {
			if !a.APICBaseValid(v) {
				return false
			}
			keep = 0x3FF
		} else if v&(1<<10) != 0 {
			return false
		}
		c.msr.apicBase = v&^keep | c.msr.apicBase&(1<<8)
		if c.APICBaseHook != nil {
			c.APICBaseHook(c.msr.apicBase)
		}
	case MSR_SYSENTER_CS:
		c.msr.sysenterCS = v & 0xFFFF
	case MSR_SYSENTER_ESP:
		c.msr.sysenterESP = v
	case MSR_SYSENTER_EIP:
		c.msr.sysenterEIP = v
	case MSR_MISC_ENABLE:
		c.msr.miscEnable = v
	case MSR_PAT:
		c.msr.pat = v
	case MSR_MTRR_DEF_TYPE:
		c.msr.mtrrDefType = v
	case MSR_EFER:
		valid := uint64(EFER_SCE | EFER_LME | EFER_NXE)
		if v&^(valid|EFER_LMA) != 0 {
			return false
		}
		if c.CR0&CR0_PG != 0 && (v^c.EFER)&EFER_LME != 0 {
			return false
		}
		c.EFER = v&valid | c.EFER&EFER_LMA
		c.tlb.FlushAll()
		c.jc.Clear()
		c.stopTB = true
	case MSR_STAR:
		c.msr.star = v
	case MSR_LSTAR, MSR_CSTAR, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE:
		if !canonical(v) {
			return false
		}
		switch n {
		case MSR_LSTAR:
			c.msr.lstar = v
		case MSR_CSTAR:
			c.msr.cstar = v
		case MSR_FS_BASE:
			c.Seg[FS].Base = v
		case MSR_GS_BASE:
			c.Seg[GS].Base = v
		default:
			c.msr.kernelGSBase = v
		}
	case MSR_FMASK:
		c.msr.fmask = v & 0xFFFFFFFF
	case MSR_TSC_AUX:
		c.msr.tscAux = v & 0xFFFFFFFF
	default:
		if a, ok := c.intc.(APICMSRs); ok && isAPICMSR(n) {
			return a.WriteAPICMSR(n, v)
		}
		return false
	}
	return true
}

// flat code/data segments used by the fast system-call instructions.
func flatSeg(sel uint16, code bool, dpl int, long bool) Segment {
	a := uint16(attrP|attrS|attrAccessed|attrWrite|attrG) | uint16(dpl)<<5
	if code {
		a |= attrCode
		if long {
			a |= attrL
		} else {
			a |= attrDB
		}
	} else {
		a |= attrDB
	}
	s := Segment{Sel: sel, Base: 0, Limit: 0xFFFFFFFF, Attr: a}
	s.refresh()
	return s
}

func (c *CPU) sysenter() {
	if c.CR0&CR0_PE == 0 || c.msr.sysenterCS&0xFFFC == 0 {
		c.gp(0)
	}
	cs := uint16(c.msr.sysenterCS)
	long := c.EFER&EFER_LMA != 0
	c.flags &^= FLAG_VM | FLAG_IF | FLAG_RF
	c.Seg[CS] = flatSeg(cs&0xFFFC, true, 0, long)
	c.Seg[SS] = flatSeg(cs&0xFFFC+8, false, 0, false)
	c.R[RSP] = c.msr.sysenterESP
	c.EIP = c.msr.sysenterEIP
	if !long {
		c.R[RSP] &= 0xFFFFFFFF
		c.EIP &= 0xFFFFFFFF
	}
	c.updateHflags()
	c.stopTB = true
}

func (c *CPU) sysexit(op *tb.Op) {
	if c.CR0&CR0_PE == 0 || c.msr.sysenterCS&0xFFFC == 0 || c.CPL() != 0 {
		c.gp(0)
	}
	cs := uint16(c.msr.sysenterCS)
	if op.Size == 8 {
		c.Seg[CS] = flatSeg(cs+32|3, true, 3, true)
		c.Seg[SS] = flatSeg(cs+40|3, false, 3, false)
		c.R[RSP] = c.R[RCX]
		c.EIP = c.R[RDX]
	} else {
		c.Seg[CS] = flatSeg(cs+16|3, true, 3, false)
		c.Seg[SS] = flatSeg(cs+24|3, false, 3, false)
		c.R[RSP] = c.R[RCX] & 0xFFFFFFFF
		c.EIP = c.R[RDX] & 0xFFFFFFFF
	}
	c.updateHflags()
	c.stopTB = true
}

func (c *CPU) syscall(op *tb.Op) {
	if c.EFER&EFER_SCE == 0 {
		c.ud()
	}
	cs := uint16(c.msr.star >> 32)
	if c.EFER&EFER_LMA != 0 {
		c.R[RCX] = op.Next
		f := c.getFlags()
		c.R[R11] = f
		c.setFlagsRaw(f &^ c.msr.fmask &^ FLAG_RF)
		c.Seg[CS] = flatSeg(cs&0xFFFC, true, 0, true)
		c.Seg[SS] = flatSeg(cs&0xFFFC+8, false, 0, false)
		if c.hflags&hfCS64 != 0 {
			c.EIP = c.msr.lstar
		} else {
			c.EIP = c.msr.cstar
		}
	} else {
		c.R[RCX] = op.Next & 0xFFFFFFFF
		c.flags &^= FLAG_VM | FLAG_IF | FLAG_RF
		c.Seg[CS] = flatSeg(cs&0xFFFC, true, 0, false)
		c.Seg[SS] = flatSeg(cs&0xFFFC+8, false, 0, false)
		c.EIP = c.msr.star & 0xFFFFFFFF
	}
	c.updateHflags()
	c.stopTB = true
}

func (c *CPU) sysret(op *tb.Op) {
	if c.EFER&EFER_SCE == 0 {
		c.ud()
	}
	if c.CR0&CR0_PE == 0 || c.CPL() != 0 {
		c.gp(0)
	}
	cs := uint16(c.msr.star >> 48)
	if c.EFER&EFER_LMA != 0 {
		if op.Size == 8 {
			if !canonical(c.R[RCX]) {
				c.gp(0)
			}
			c.Seg[CS] = flatSeg(cs+16|3, true, 3, true)
			c.EIP = c.R[RCX]
		} else {
			c.Seg[CS] = flatSeg(cs|3, true, 3, false)
			c.EIP = c.R[RCX] & 0xFFFFFFFF
		}
		c.setFlagsRaw(c.R[R11]&0x3C7FD7 | 2)
	} else {
		c.Seg[CS] = flatSeg(cs|3, true, 3, false)
		c.EIP = c.R[RCX] & 0xFFFFFFFF
		c.flags |= FLAG_IF
	}
	ss := c.Seg[SS]
	ss.Sel = (cs + 8) | 3
	ss.Attr = ss.Attr&^(3<<5) | 3<<5
	ss.refresh()
	c.Seg[SS] = ss
	c.updateHflags()
	c.stopTB = true
}

// drIndex maps a MOV DRn register number to its slot in DR: DR4/DR5 alias
// DR6/DR7 unless CR4.DE is set (then #UD), and numbers above 7 are #UD.
func (c *CPU) drIndex(r uint8) uint8 {
	switch r {
	case 4, 5:
		if c.CR4&CR4_DE != 0 {
			c.ud()
		}
		r += 2
	}
	if r > 7 {
		c.ud()
	}
	return r
}
