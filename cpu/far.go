package cpu

import "glassbox/tb"

// Far JMP/CALL/RET and IRET.

func (c *CPU) farJump(sel uint16, off uint64, op *tb.Op) {
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		c.realFar(sel, off)
		return
	}
	if sel&^3 == 0 {
		c.gp(0)
	}
	d, addr := c.readDesc(sel, VecGP)
	if d.s() {
		if !d.code() {
			c.gp(uint32(sel &^ 3))
		}
		c.checkCodeTarget(sel, &d)
		c.checkOffsetInCS(off, &d)
		c.setAccessed(addr, &d)
		c.loadCS(sel, &d, c.CPL())
		c.EIP = off
		return
	}
	switch d.typ() {
	case 4, 0xC: // call gate
		cpl := c.CPL()
		if d.dpl() < cpl || d.dpl() < int(sel&3) {
			c.gp(uint32(sel &^ 3))
		}
		if !d.p() {
			c.raise(VecNP, uint32(sel&^3), true)
		}
		if d.typ() == 0xC && c.EFER&EFER_LMA != 0 {
			d.raw2 = c.sysRead(addr+8, 8)
		}
		tsel := d.gateSel()
		if tsel&^3 == 0 {
			c.gp(0)
		}
		td, taddr := c.readDesc(tsel, VecGP)
		if !td.code() || (td.conforming() && td.dpl() > cpl) || (!td.conforming() && td.dpl() != cpl) {
			c.gp(uint32(tsel &^ 3))
		}
		if !td.p() {
			c.raise(VecNP, uint32(tsel&^3), true)
		}
		toff := d.gateOff()
		if d.typ() == 4 {
			toff &= 0xFFFF
		}
		c.checkOffsetInCS(toff, &td)
		c.setAccessed(taddr, &td)
		c.loadCS(tsel, &td, cpl)
		c.EIP = toff
	case 5, 1, 9:
		c.taskFromDescriptor(sel, &d, taskJmp, op.Next)
	default:
		c.gp(uint32(sel &^ 3))
	}
}

// taskFromDescriptor performs JMP/CALL to a TSS descriptor or task gate
// (SDM JMP/CALL: DPL >= CPL and >= RPL, present).
func (c *CPU) taskFromDescriptor(sel uint16, d *descriptor, source int, next uint64) {
	cpl := c.CPL()
	if d.dpl() < cpl || d.dpl() < int(sel&3) {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	target := sel
	if d.typ() == 5 {
		target = c.taskGateTarget(d)
	}
	c.taskSwitch(target, source, next, 0, false)
}

func (c *CPU) farCall(sel uint16, off uint64, op *tb.Op) {
	osz := op.Size
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		if off > uint64(c.Seg[CS].Limit) {
			c.gp(0)
		}
		m := c.spMask()
		sp := c.R[RSP] & m
		sp1 := (sp - uint64(osz)) & m
		sp2 := (sp1 - uint64(osz)) & m
		c.wrN(c.linW(SS, sp1, int(osz)), osz, uint64(c.Seg[CS].Sel))
		c.wrN(c.linW(SS, sp2, int(osz)), osz, op.Next)
		c.R[RSP] = c.R[RSP]&^m | sp2
		c.realFar(sel, off)
		return
	}
	if sel&^3 == 0 {
		c.gp(0)
	}
	d, addr := c.readDesc(sel, VecGP)
	cpl := c.CPL()
	if c.hflags&hfCS64 != 0 && op.Prefix&pfx66 == 0 && op.Args[0].Kind == okMem && op.Args[0].Size == 10 {
		osz = 8
	}
	if d.s() {
		if !d.code() {
			c.gp(uint32(sel &^ 3))
		}
		c.checkCodeTarget(sel, &d)
		c.checkOffsetInCS(off, &d)
		m := c.spMask()
		sp := c.R[RSP] & m
		sp1 := (sp - uint64(osz)) & m
		sp2 := (sp1 - uint64(osz)) & m
		c.wrN(c.linW(SS, sp1, int(osz)), osz, uint64(c.Seg[CS].Sel))
		c.wrN(c.linW(SS, sp2, int(osz)), osz, op.Next)
		c.setAccessed(addr, &d)
		c.R[RSP] = c.R[RSP]&^m | sp2
		c.loadCS(sel, &d, cpl)
		c.EIP = off
		return
	}
	switch d.typ() {
	case 4, 0xC:
	case 5, 1, 9:
		c.taskFromDescriptor(sel, &d, taskCall, op.Next)
		return
	default:
		c.gp(uint32(sel &^ 3))
	}
	if d.dpl() < cpl || d.dpl() < int(sel&3) {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	long := c.EFER&EFER_LMA != 0
	if long {
		d.raw2 = c.sysRead(addr+8, 8)
	}
	tsel := d.gateSel()
	if tsel&^3 == 0 {
		c.gp(0)
	}
	td, taddr := c.readDesc(tsel, VecGP)
	if !td.code() || td.dpl() > cpl {
		c.gp(uint32(tsel &^ 3))
	}
	if !td.p() {
		c.raise(VecNP, uint32(tsel&^3), true)
	}
	gsz := uint8(2)
	if d.typ() == 0xC {
		gsz = 4
	}
	if long {
		gsz = 8
	}
	toff := d.gateOff() & sizeMask(gsz)
	c.checkOffsetInCS(toff, &td)
	oldCS, oldEIP := c.Seg[CS].Sel, op.Next
	if !td.conforming() && td.dpl() < cpl {
		// Inter-privilege call: switch to the inner stack from the TSS.
		ndpl := td.dpl()
		nss, nsp := c.tssStack(ndpl)
		oldSS, oldSP := c.Seg[SS].Sel, c.R[RSP]
		var ssd descriptor
		var ssaddr uint64
		if !long || nss&^3 != 0 {
			if nss&^3 == 0 {
				c.raise(VecTS, uint32(nss&^3), true)
			}
			ssd, ssaddr = c.readDesc(nss, VecTS)
			if int(nss&3) != ndpl || ssd.dpl() != ndpl || !ssd.s() || ssd.code() || ssd.attr&attrWrite == 0 {
				c.raise(VecTS, uint32(nss&^3), true)
			}
			if !ssd.p() {
				c.raise(VecSS, uint32(nss&^3), true)
			}
		}
		// Copy parameters from the old stack before switching.
		nparam := 0
		if !long {
			nparam = d.gateParams()
		}
		var params [32]uint64
		for i := 0; i < nparam; i++ {
			params[i] = c.peek(uint64(i)*uint64(gsz), gsz)
		}
		frame := []uint64{uint64(oldSS), oldSP}
		for i := nparam - 1; i >= 0; i-- {
			frame = append(frame, params[i])
		}
		frame = append(frame, uint64(oldCS), oldEIP)
		// Build the frame on the new stack with the new SS in place.
		saveSS := c.Seg[SS]
		saveCPLh := c.hflags
		if long && nss&^3 == 0 {
			c.Seg[SS] = Segment{Sel: nss, Attr: attrS | attrWrite | attrP | uint16(ndpl)<<5}
			c.Seg[SS].refresh()
		} else {
			c.setAccessed(ssaddr, &ssd)
			c.loadFromDesc(SS, nss, &ssd)
		}
		c.updateHflags()
		c.hflags = c.hflags&^hfCPL | uint32(ndpl)
		c.mmuIdx = 0
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.Seg[SS] = saveSS
					c.hflags = saveCPLh
					c.updateHflags()
					panic(r)
				}
			}()
			m := c.spMask()
			if long {
				m = ^uint64(0)
			}
			sp := nsp & m
			for _, v := range frame {
				sp = (sp - uint64(gsz)) & m
				c.wrN(c.linW(SS, sp, int(gsz)), gsz, v&sizeMask(gsz))
			}
			c.R[RSP] = c.R[RSP]&^m | sp
		}()
		c.setAccessed(taddr, &td)
		c.loadCS(tsel, &td, ndpl)
		c.EIP = toff
		return
	}
	m := c.spMask()
	sp := c.R[RSP] & m
	sp1 := (sp - uint64(gsz)) & m
	sp2 := (sp1 - uint64(gsz)) & m
	c.wrN(c.linW(SS, sp1, int(gsz)), gsz, uint64(oldCS))
	c.wrN(c.linW(SS, sp2, int(gsz)), gsz, oldEIP)
	c.R[RSP] = c.R[RSP]&^m | sp2
	c.setAccessed(taddr, &td)
	c.loadCS(tsel, &td, cpl)
	c.EIP = toff
}

// tssStack reads the inner stack for privilege level dpl from the TSS.
func (c *CPU) tssStack(dpl int) (uint16, uint64) {
	if c.EFER&EFER_LMA != 0 {
		off := uint64(4 + 8*dpl)
		if off+7 > uint64(c.TR.Limit) {
			c.raise(VecTS, uint32(c.TR.Sel&^3), true)
		}
		return uint16(dpl), c.sysRead(c.TR.Base+off, 8)
	}
	if c.TR.Attr&0xF == 9 || c.TR.Attr&0xF == 11 {
		off := uint64(4 + 8*dpl)
		if off+5 > uint64(c.TR.Limit) {
			c.raise(VecTS, uint32(c.TR.Sel&^3), true)
		}
		return uint16(c.sysRead(c.TR.Base+off+4, 2)), c.sysRead(c.TR.Base+off, 4)
	}
	off := uint64(2 + 4*dpl)
	if off+3 > uint64(c.TR.Limit) {
		c.raise(VecTS, uint32(c.TR.Sel&^3), true)
	}
	return uint16(c.sysRead(c.TR.Base+off+2, 2)), c.sysRead(c.TR.Base+off, 2)
}

func (c *CPU) farRet(osz uint8, extra uint64) {
	m := c.spMask()
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		off := c.peek(0, osz)
		sel := uint16(c.peek(uint64(osz), osz))
		if off > uint64(c.Seg[CS].Limit) {
			c.gp(0)
		}
		sp := c.R[RSP] & m
		c.R[RSP] = c.R[RSP]&^m | (sp+2*uint64(osz)+extra)&m
		c.realFar(sel, off)
		return
	}
	off := c.peek(0, osz)
	sel := uint16(c.peek(uint64(osz), osz))
	cpl := c.CPL()
	rpl := int(sel & 3)
	d, addr := c.returnCS(sel, cpl)
	if rpl == cpl {
		c.checkOffsetInCS(off, &d)
		sp := c.R[RSP] & m
		c.R[RSP] = c.R[RSP]&^m | (sp+2*uint64(osz)+extra)&m
		c.setAccessed(addr, &d)
		c.loadCS(sel, &d, cpl)
		c.EIP = off
		return
	}
	// Return to an outer privilege level: pop SS:ESP too.
	base := 2*uint64(osz) + extra
	nsp := c.peek(base, osz)
	nss := uint16(c.peek(base+uint64(osz), osz))
	c.checkOffsetInCS(off, &d)
	c.setAccessed(addr, &d)
	c.loadCS(sel, &d, rpl)
	c.EIP = off
	c.loadStackOuter(nss, nsp, osz, rpl)
	c.R[RSP] = c.R[RSP]&^c.spMask() | (c.R[RSP]+extra)&c.spMask()
	c.nullDataSegs(rpl)
}

// loadStackOuter loads SS:ESP when returning to privilege rpl.
func (c *CPU) loadStackOuter(nss uint16, nsp uint64, osz uint8, rpl int) {
	if nss&^3 == 0 && c.hflags&hfCS64 != 0 && rpl != 3 {
		c.Seg[SS] = Segment{Sel: nss, Attr: attrS | attrWrite | attrP | uint16(rpl)<<5}
		c.Seg[SS].refresh()
	} else {
		if nss&^3 == 0 {
			c.gp(0)
		}
		sd, saddr := c.readDesc(nss, VecGP)
		if int(nss&3) != rpl || sd.dpl() != rpl || !sd.s() || sd.code() || sd.attr&attrWrite == 0 {
			c.gp(uint32(nss &^ 3))
		}
		if !sd.p() {
			c.raise(VecSS, uint32(nss&^3), true)
		}
		c.setAccessed(saddr, &sd)
		c.loadFromDesc(SS, nss, &sd)
	}
	c.updateHflags()
	if osz == 8 || c.hflags&hfCS64 != 0 {
		c.R[RSP] = nsp
	} else {
		m := c.spMask()
		c.R[RSP] = c.R[RSP]&^m | nsp&m
	}
}

// nullDataSegs clears data segment registers the new (outer) privilege
// level may not use (SDM RET/IRET: "segment registers are checked").
func (c *CPU) nullDataSegs(cpl int) {
	for _, s := range [...]int{ES, DS, FS, GS} {
		sg := &c.Seg[s]
		isCode := sg.Attr&attrCode != 0
		conf := isCode && sg.Attr&attrExpDown != 0
		if sg.Sel&^3 != 0 && (!isCode || !conf) && sg.DPL() < cpl {
			*sg = Segment{}
			sg.refresh()
		}
	}
}

func (c *CPU) iret(osz uint8) {
	if c.CR0&CR0_PE == 0 {
		m := c.spMask()
		off := c.peek(0, osz)
		sel := uint16(c.peek(uint64(osz), osz))
		fl := c.peek(2*uint64(osz), osz)
		if off > uint64(c.Seg[CS].Limit) {
			c.gp(0)
		}
		sp := c.R[RSP] & m
		c.R[RSP] = c.R[RSP]&^m | (sp+3*uint64(osz))&m
		c.realFar(sel, off)
		mask := uint64(0x257FD5) // real mode: everything but VM/VIP/VIF
		if osz == 2 {
			mask = 0x7FD5
		}
		c.writeFlags(fl, mask, osz)
		return
	}
	if c.flags&FLAG_VM != 0 {
		iopl := int(c.flags>>12) & 3
		if iopl != 3 {
			c.gp(0)
		}
		m := c.spMask()
		off := c.peek(0, osz)
		sel := uint16(c.peek(uint64(osz), osz))
		fl := c.peek(2*uint64(osz), osz)
		sp := c.R[RSP] & m
		c.R[RSP] = c.R[RSP]&^m | (sp+3*uint64(osz))&m
		c.realFar(sel, off)
		c.writeFlags(fl, ^uint64(FLAG_IOPL|FLAG_VM|FLAG_VIP|FLAG_VIF), osz)
		return
	}
	if c.flags&FLAG_NT != 0 && c.EFER&EFER_LMA == 0 {
		// Return to the previous task through the back link.
		c.taskSwitch(uint16(c.sysRead(c.TR.Base+tssLink, 2)), taskIret, c.EIP, 0, false)
		return
	}
	off := c.peek(0, osz)
	sel := uint16(c.peek(uint64(osz), osz))
	fl := c.peek(2*uint64(osz), osz)
	cpl := c.CPL()
	if fl&FLAG_VM != 0 && cpl == 0 && osz == 4 && c.EFER&EFER_LMA == 0 {
		// Return to virtual-8086 mode (SDM IRET, RETURN-TO-VIRTUAL-8086-MODE).
		nesp := c.peek(12, 4)
		nss := c.peek(16, 4)
		nes := c.peek(20, 4)
		nds := c.peek(24, 4)
		nfs := c.peek(28, 4)
		ngs := c.peek(32, 4)
		c.setFlagsRaw(fl&0x3F7FD7 | 2)
		for i, v := range [...]uint64{nes, uint64(sel), nss, nds, nfs, ngs} {
			s := &c.Seg[i]
			s.Sel = uint16(v)
			s.Base = (v & 0xFFFF) << 4
			s.Limit = 0xFFFF
			s.Attr = attrP | attrS | attrWrite | attrAccessed | 3<<5
			if i == CS {
				s.Attr |= attrCode
			}
			s.refresh()
		}
		c.R[RSP] = nesp & 0xFFFF
		c.EIP = off & 0xFFFF
		c.updateHflags()
		c.stopTB = true
		return
	}
	rpl := int(sel & 3)
	d, addr := c.returnCS(sel, cpl)
	c.checkOffsetInCS(off, &d)
	long := c.EFER&EFER_LMA != 0
	if rpl == cpl && !(long && c.hflags&hfCS64 != 0) {
		m := c.spMask()
		sp := c.R[RSP] & m
		c.R[RSP] = c.R[RSP]&^m | (sp+3*uint64(osz))&m
		c.setAccessed(addr, &d)
		c.loadCS(sel, &d, cpl)
		c.EIP = off
		c.iretFlags(fl, osz, cpl)
		return
	}
	// Outer return (or any 64-bit IRET): SS:RSP follow the frame.
	nsp := c.peek(3*uint64(osz), osz)
	nss := uint16(c.peek(4*uint64(osz), osz))
	c.setAccessed(addr, &d)
	c.loadCS(sel, &d, rpl)
	c.EIP = off
	c.iretFlags(fl, osz, cpl)
	c.loadStackOuter(nss, nsp, osz, rpl)
	if rpl > cpl {
		c.nullDataSegs(rpl)
	}
}

// iretFlags applies IRET's EFLAGS rules for privilege cpl (the old CPL).
func (c *CPU) iretFlags(fl uint64, osz uint8, cpl int) {
	mask := uint64(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF | FLAG_NT)
	if osz >= 4 {
		mask |= FLAG_RF | FLAG_AC | FLAG_ID
		if cpl == 0 {
			mask |= FLAG_VIF | FLAG_VIP
		}
	}
	iopl := int(c.flags>>12) & 3
	if cpl <= iopl {
		mask |= FLAG_IF
	}
	if cpl == 0 {
		mask |= FLAG_IOPL
	}
	c.writeFlags(fl, mask, osz)
}

// writeFlags replaces the EFLAGS bits in mask (limited to the operand size).
func (c *CPU) writeFlags(v, mask uint64, osz uint8) {
	mask &= sizeMask(osz)
	f := c.getFlags()
	nf := f&^mask | v&mask
	c.setFlagsRaw(nf&0x3F7FD7 | 2)
	c.updateHflags()
	c.stopTB = true
}

func (c *CPU) pushf(op *tb.Op) {
	sz := op.Size
	if c.hflags&hfCS64 != 0 && op.Prefix&pfx66 == 0 {
		sz = 8
	}
	if c.flags&FLAG_VM != 0 && int(c.flags>>12)&3 != 3 {
		c.gp(0)
	}
	f := c.getFlags() &^ (FLAG_VM | FLAG_RF)
	c.push(f&sizeMask(sz), sz)
}

func (c *CPU) popf(op *tb.Op) {
	sz := op.Size
	if c.hflags&hfCS64 != 0 && op.Prefix&pfx66 == 0 {
		sz = 8
	}
	cpl := c.CPL()
	iopl := int(c.flags>>12) & 3
	if c.flags&FLAG_VM != 0 && iopl != 3 {
		c.gp(0)
	}
	v := c.peek(0, sz)
	mask := uint64(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_TF | FLAG_DF | FLAG_OF | FLAG_NT | FLAG_AC | FLAG_ID)
	if c.CR0&CR0_PE == 0 || cpl == 0 {
		mask |= FLAG_IOPL
	}
	if c.CR0&CR0_PE == 0 || cpl <= iopl {
		mask |= FLAG_IF
	}
	c.pop(sz)
	c.writeFlags(v, mask, sz)
}

func (c *CPU) cli() {
	if c.CR0&CR0_PE != 0 {
		iopl := int(c.flags>>12) & 3
		if c.flags&FLAG_VM != 0 {
			if iopl != 3 {
				c.gp(0)
			}
		} else if c.CPL() > iopl {
			c.gp(0)
		}
	}
	c.flags &^= FLAG_IF
}

func (c *CPU) sti() {
	if c.CR0&CR0_PE != 0 {
		iopl := int(c.flags>>12) & 3
		if c.flags&FLAG_VM != 0 {
			if iopl != 3 {
				c.gp(0)
			}
		} else if c.CPL() > iopl {
			c.gp(0)
		}
	}
	if c.flags&FLAG_IF == 0 {
		c.flags |= FLAG_IF
		c.inhibit = true
		c.stopTB = true
	}
}

// returnCS reads and checks the code segment a far RET or IRET returns
// to: not null (#GP(0)), a code segment whose RPL is not more privileged
// than CPL and whose DPL matches the RPL (at most the RPL when
// conforming), else #GP(selector); present, else #NP(selector).
func (c *CPU) returnCS(sel uint16, cpl int) (descriptor, uint64) {
	rpl := int(sel & 3)
	if sel&^3 == 0 {
		c.gp(0)
	}
	d, addr := c.readDesc(sel, VecGP)
	if !d.code() || rpl < cpl || (d.conforming() && d.dpl() > rpl) || (!d.conforming() && d.dpl() != rpl) {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	return d, addr
}
