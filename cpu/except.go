package cpu

// Exception and interrupt delivery (SDM Vol. 3 ch. 6): the real-mode IVT,
// protected-mode and IA-32e IDT gates, privilege-changing stack switches,
// virtual-8086 frames, and the double-fault / triple-fault rules (§6.15,
// Table 6-5).

func contributory(v int) bool { return v == VecDE || (v >= VecTS && v <= VecGP) }

// softInt delivers INT n / INT3 / INTO / ICEBP from inside an instruction
// handler; EIP already points past the instruction. checkDPL applies the
// gate-DPL check that INT n, INT3 and INTO get and ICEBP does not.
func (c *CPU) softInt(vec int, checkDPL bool) {
	if c.flags&FLAG_VM != 0 && checkDPL && int(c.flags>>12)&3 != 3 {
		c.gp(0)
	}
	c.deliverFrom(Exception{Vector: vec, Soft: checkDPL}, false)
	c.softIntRan = true // INT n / INT3 / INTO clear TF on entry: no single-step trap after them
	c.stopTB = true
}

// deliver delivers an exception or external interrupt at an instruction
// boundary, turning faults during delivery into #DF and a fault during #DF
// delivery into shutdown.
func (c *CPU) deliver(e Exception, external bool) {
	c.deliverFrom(e, external)
}

func (c *CPU) deliverFrom(e Exception, external bool) {
	c.ExcChain = c.ExcChain[:0]
	faultEIP := c.EIP
	if t := c.curTB; t != nil && e.Soft {
		faultEIP = t.Ops[c.curOp].EIP
	}
	for {
		e.EIP = c.EIP
		if e.Vector == VecPF {
			e.CR2 = c.CR2
		}
		c.ExcChain = append(c.ExcChain, e)
		if e.Vector < 32 && !e.Soft && !external {
			// Count identical faults in quick succession (an exception
			// loop: the handler returns to the faulting instruction).
			if l := c.LastExc; l.Vector == e.Vector && l.EIP == e.EIP && l.Code == e.Code && c.ICount-c.excAt < excLoopGap {
				c.ExcRepeat++
			} else {
				c.ExcRepeat = 1
			}
			c.excAt = c.ICount
			c.LastExc = e
			if c.firstExc < 0 {
				c.firstExc = e.Vector
			}
			if h := c.sh.Hooks; h != nil && h.Exception != nil {
				h.Exception(c, &e)
			}
		}
		nested, ok := c.tryDeliver(e, external)
		if ok {
			return
		}
		if e.Soft {
			c.EIP = faultEIP
		}
		switch {
		case e.Vector == VecDF:
			c.shutdown = true
			c.ExcChain = append(c.ExcChain, Exception{Vector: -1})
			if h := c.sh.Hooks; h != nil && h.Shutdown != nil {
				h.Shutdown(c)
			}
			return
		case (contributory(e.Vector) && contributory(nested.Vector)) ||
			(e.Vector == VecPF && (contributory(nested.Vector) || nested.Vector == VecPF)):
			e = Exception{Vector: VecDF, HasCode: true}
		default:
			e = nested
		}
		external = false
		if len(c.ExcChain) > 8 {
			c.shutdown = true
			return
		}
	}
}

func (c *CPU) tryDeliver(e Exception, external bool) (nested Exception, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if r != errGuestFault {
				panic(r)
			}
			nested, ok = c.exc, false
		}
	}()
	c.Halted = false
	if c.CR0&CR0_PE == 0 {
		c.deliverReal(e)
	} else if c.EFER&EFER_LMA != 0 {
		c.deliverLong(e, external)
	} else {
		c.deliverProt(e, external)
	}
	return Exception{}, true
}

func (c *CPU) deliverReal(e Exception) {
	v := uint64(e.Vector)
	if v*4+3 > uint64(c.IDTR.Limit) {
		c.gp(0)
	}
	ip := c.sysRead(c.IDTR.Base+v*4, 2)
	cs := c.sysRead(c.IDTR.Base+v*4+2, 2)
	m := c.spMask()
	sp := c.R[RSP] & m
	f := c.getFlags()
	for _, w := range [...]uint64{f & 0xFFFF, uint64(c.Seg[CS].Sel), c.EIP & 0xFFFF} {
		sp = (sp - 2) & m
		c.wr16(c.linW(SS, sp, 2), uint16(w))
	}
	c.R[RSP] = c.R[RSP]&^m | sp
	c.setFlagsRaw(f &^ (FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF))
	c.realFar(uint16(cs), ip)
}

// readGate reads IDT entry vec (8 or 16 bytes), checking the IDT limit.
func (c *CPU) readGate(vec int, size uint64, ext uint32) descriptor {
	off := uint64(vec) * size
	if off+size-1 > uint64(c.IDTR.Limit) {
		c.raise(VecGP, uint32(vec)*8+2+ext, true)
	}
	d := decodeDesc(c.sysRead(c.IDTR.Base+off, 8))
	d.raw = c.sysRead(c.IDTR.Base+off, 8)
	if size == 16 {
		d.raw2 = c.sysRead(c.IDTR.Base+off+8, 8)
	}
	return d
}

func (c *CPU) deliverProt(e Exception, external bool) {
	ext := uint32(0)
	if external {
		ext = 1 // EXT bit of error codes raised while delivering an external event
	}
	vec := e.Vector
	g := c.readGate(vec, 8, ext)
	t := g.typ()
	if g.s() || (t != 5 && t != 6 && t != 7 && t != 0xE && t != 0xF) {
		c.raise(VecGP, uint32(vec)*8+2+ext, true)
	}
	cpl := c.CPL()
	if e.Soft && g.dpl() < cpl {
		c.raise(VecGP, uint32(vec)*8+2, true)
	}
	if !g.p() {
		c.raise(VecNP, uint32(vec)*8+2+ext, true)
	}
	if t == 5 {
		c.taskSwitch(c.taskGateTarget(&g), taskInt, c.EIP, e.Code, e.HasCode)
		return
	}
	gsz := uint8(2)
	if t >= 0xE {
		gsz = 4
	}
	sel := g.gateSel()
	if sel&^3 == 0 {
		c.raise(VecGP, ext, true)
	}
	d, addr := c.readDesc(sel, VecGP)
	if !d.code() || d.dpl() > cpl {
		c.raise(VecGP, uint32(sel&^3)+ext, true)
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3)+ext, true)
	}
	off := g.gateOff()
	if gsz == 2 {
		off &= 0xFFFF
	}
	if off > uint64(d.limit) {
		c.raise(VecGP, ext, true)
	}
	f := c.getFlags()
	v86 := f&FLAG_VM != 0
	var frame [10]uint64
	n := 0
	push := func(v uint64) { frame[n] = v; n++ }
	ncpl := cpl
	if !d.conforming() && d.dpl() < cpl {
		ncpl = d.dpl()
		if v86 && ncpl != 0 {
			c.raise(VecGP, uint32(sel&^3)+ext, true)
		}
		nss, nsp := c.tssStack(ncpl)
		if nss&^3 == 0 {
			c.raise(VecTS, ext, true)
		}
		sd, saddr := c.readDesc(nss, VecTS)
		if int(nss&3) != ncpl || sd.dpl() != ncpl || !sd.s() || sd.code() || sd.attr&attrWrite == 0 {
			c.raise(VecTS, uint32(nss&^3)+ext, true)
		}
		if !sd.p() {
			c.raise(VecSS, uint32(nss&^3)+ext, true)
		}
		if v86 {
			push(uint64(c.Seg[GS].Sel))
			push(uint64(c.Seg[FS].Sel))
			push(uint64(c.Seg[DS].Sel))
			push(uint64(c.Seg[ES].Sel))
		}
		push(uint64(c.Seg[SS].Sel))
		push(c.R[RSP])
		push(f)
		push(uint64(c.Seg[CS].Sel))
		push(c.EIP)
		if e.HasCode {
			push(uint64(e.Code))
		}
		oldSS := c.Seg[SS]
		oldH := c.hflags
		c.setAccessed(saddr, &sd)
		c.loadFromDesc(SS, nss, &sd)
		c.hflags = c.hflags&^(hfCPL|hfSS32) | uint32(ncpl)
		if sd.attr&attrDB != 0 {
			c.hflags |= hfSS32
		}
		c.mmuIdx = 0
		m := sizeMask(2)
		if sd.attr&attrDB != 0 {
			m = 0xFFFFFFFF
		}
		sp := nsp & m
		func() {
			defer func() {
				if r := recover(); r != nil {
					c.Seg[SS] = oldSS
					c.hflags = oldH
					c.updateHflags()
					panic(r)
				}
			}()
			for i := 0; i < n; i++ {
				sp = (sp - uint64(gsz)) & m
				c.wrN(c.linW(SS, sp, int(gsz)), gsz, frame[i]&sizeMask(gsz))
			}
		}()
		c.R[RSP] = c.R[RSP]&^m | sp
		if v86 {
			for _, s := range [...]int{ES, DS, FS, GS} {
				c.Seg[s] = Segment{}
				c.Seg[s].refresh()
			}
		}
	} else {
		if v86 {
			c.raise(VecGP, uint32(sel&^3)+ext, true)
		}
		push(f)
		push(uint64(c.Seg[CS].Sel))
		push(c.EIP)
		if e.HasCode {
			push(uint64(e.Code))
		}
		m := c.spMask()
		sp := c.R[RSP] & m
		for i := 0; i < n; i++ {
			sp = (sp - uint64(gsz)) & m
			c.wrN(c.linW(SS, sp, int(gsz)), gsz, frame[i]&sizeMask(gsz))
		}
		c.R[RSP] = c.R[RSP]&^m | sp
	}
	nf := f &^ (FLAG_TF | FLAG_NT | FLAG_VM | FLAG_RF)
	if t == 6 || t == 0xE {
		nf &^= FLAG_IF
	}
	c.setFlagsRaw(nf)
	c.setAccessed(addr, &d)
	c.loadCS(sel, &d, ncpl)
	c.EIP = off
}

func (c *CPU) deliverLong(e Exception, external bool) {
	ext := uint32(0)
	if external {
		ext = 1
	}
	vec := e.Vector
	g := c.readGate(vec, 16, ext)
	t := g.typ()
	if g.s() || (t != 0xE && t != 0xF) {
		c.raise(VecGP, uint32(vec)*8+2+ext, true)
	}
	cpl := c.CPL()
	if e.Soft && g.dpl() < cpl {
		c.raise(VecGP, uint32(vec)*8+2, true)
	}
	if !g.p() {
		c.raise(VecNP, uint32(vec)*8+2+ext, true)
	}
	sel := g.gateSel()
	if sel&^3 == 0 {
		c.raise(VecGP, ext, true)
	}
	d, addr := c.readDesc(sel, VecGP)
	if !d.code() || d.dpl() > cpl || d.attr&attrL == 0 || d.attr&attrDB != 0 {
		c.raise(VecGP, uint32(sel&^3)+ext, true)
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3)+ext, true)
	}
	off := g.gateOff()
	if !canonical(off) {
		c.raise(VecGP, ext, true)
	}
	ist := int(g.raw>>32) & 7
	f := c.getFlags()
	ncpl := cpl
	rsp := c.R[RSP]
	if !d.conforming() && d.dpl() < cpl {
		ncpl = d.dpl()
		_, rsp = c.tssStack(ncpl)
	}
	if ist != 0 {
		o := uint64(0x24 + 8*(ist-1))
		if o+7 > uint64(c.TR.Limit) {
			c.raise(VecTS, uint32(c.TR.Sel&^3)+ext, true)
		}
		rsp = c.sysRead(c.TR.Base+o, 8)
	}
	if !canonical(rsp) {
		c.raise(VecSS, ext, true)
	}
	rsp &^= 15
	frame := [6]uint64{uint64(c.Seg[SS].Sel), c.R[RSP], f, uint64(c.Seg[CS].Sel), c.EIP, uint64(e.Code)}
	n := 5
	if e.HasCode {
		n = 6
	}
	// Frame writes use the new privilege for the access checks.
	oldH, oldIdx := c.hflags, c.mmuIdx
	c.hflags = c.hflags&^hfCPL | uint32(ncpl)
	if ncpl < 3 {
		c.mmuIdx = 0
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.hflags, c.mmuIdx = oldH, oldIdx
				panic(r)
			}
		}()
		sp := rsp
		for i := 0; i < n; i++ {
			sp -= 8
			c.wr64(sp, frame[i])
		}
		rsp = sp
	}()
	c.hflags, c.mmuIdx = oldH, oldIdx
	if ncpl != cpl {
		c.Seg[SS] = Segment{Sel: uint16(ncpl), Attr: attrS | attrWrite | attrP | uint16(ncpl)<<5}
		c.Seg[SS].refresh()
	}
	c.R[RSP] = rsp
	nf := f &^ (FLAG_TF | FLAG_NT | FLAG_VM | FLAG_RF)
	if t == 0xE {
		nf &^= FLAG_IF
	}
	c.setFlagsRaw(nf)
	c.setAccessed(addr, &d)
	c.loadCS(sel, &d, ncpl)
	c.EIP = off
}

// ExcFirst is the vector of the first exception since reset (-1 if none).
func (c *CPU) ExcFirst() int { return c.firstExc }

// InjectNMI makes an NMI pending.
func (c *CPU) InjectNMI() { c.nmiPend = true }

// Shutdown reports whether the CPU is in the shutdown state (triple fault).
func (c *CPU) Shutdown() bool { return c.shutdown }
