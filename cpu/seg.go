package cpu

// Descriptors, segment loads and far control transfers (SDM Vol. 3 ch. 3
// and ch. 5; Vol. 2 MOV/POP Sreg, JMP, CALL, RET, IRET).

// descriptor is a decoded segment or gate descriptor.
type descriptor struct {
	raw   uint64
	raw2  uint64 // high 8 bytes of 16-byte system descriptors (long mode)
	base  uint64
	limit uint32
	attr  uint16
}

func decodeDesc(d uint64) descriptor {
	base := (d>>16)&0xFFFFFF | (d>>56&0xFF)<<24
	limit := uint32(d&0xFFFF | (d>>48&0xF)<<16)
	attr := uint16(d>>40&0xFF) | uint16(d>>52&0xF)<<12
	if attr&attrG != 0 {
		limit = limit<<12 | 0xFFF
	}
	return descriptor{raw: d, base: base, limit: limit, attr: attr}
}

func (d *descriptor) typ() int   { return int(d.attr & 0xF) }
func (d *descriptor) s() bool    { return d.attr&attrS != 0 }
func (d *descriptor) dpl() int   { return int(d.attr>>5) & 3 }
func (d *descriptor) p() bool    { return d.attr&attrP != 0 }
func (d *descriptor) code() bool { return d.s() && d.attr&attrCode != 0 }
func (d *descriptor) conforming() bool {
	return d.code() && d.attr&attrExpDown != 0
}

// gate fields
func (d *descriptor) gateSel() uint16 { return uint16(d.raw >> 16) }
func (d *descriptor) gateOff() uint64 {
	off := d.raw&0xFFFF | (d.raw>>48&0xFFFF)<<16
	if d.raw2 != 0 || d.typ() == 0xC || d.typ() == 0xE || d.typ() == 0xF {
		off |= (d.raw2 & 0xFFFFFFFF) << 32
	}
	return off
}
func (d *descriptor) gateParams() int { return int(d.raw>>32) & 0x1F }

// descAddr locates selector sel's descriptor, raising #GP(sel) (or the
// given vector) when it lies outside its table.
func (c *CPU) descAddr(sel uint16, vec int) uint64 {
	idx := uint64(sel &^ 7)
	if sel&4 != 0 {
		if c.LDTR.Attr&attrP == 0 || c.LDTR.Sel&^3 == 0 || idx+7 > uint64(c.LDTR.Limit) {
			c.raise(vec, uint32(sel&^3), true)
		}
		return c.LDTR.Base + idx
	}
	if idx+7 > uint64(c.GDTR.Limit) {
		c.raise(vec, uint32(sel&^3), true)
	}
	return c.GDTR.Base + idx
}

func (c *CPU) readDesc(sel uint16, vec int) (descriptor, uint64) {
	a := c.descAddr(sel, vec)
	d := decodeDesc(c.sysRead(a, 8))
	return d, a
}

// setAccessed sets the descriptor's accessed bit in memory.
func (c *CPU) setAccessed(addr uint64, d *descriptor) {
	if d.attr&attrAccessed == 0 {
		b := c.sysRead(addr+5, 1)
		c.sysWrite(addr+5, 1, b|1)
		d.attr |= attrAccessed
	}
}

func (c *CPU) loadFromDesc(seg int, sel uint16, d *descriptor) {
	s := &c.Seg[seg]
	s.Sel = sel
	s.Base = d.base
	s.Limit = d.limit
	s.Attr = d.attr
	s.refresh()
}

// loadSegData loads DS/ES/FS/GS/SS (MOV, POP, LDS...).
func (c *CPU) loadSegData(seg int, sel uint16) {
	if c.CR0&CR0_PE == 0 || c.flags&FLAG_VM != 0 {
		s := &c.Seg[seg]
		s.Sel = sel
		s.Base = uint64(sel) << 4
		if c.flags&FLAG_VM != 0 {
			s.Limit = 0xFFFF
			s.Attr = attrP | attrS | attrWrite | attrAccessed | 3<<5
		}
		c.refreshSeg(s)
		if seg == SS {
			c.updateHflags()
		}
		return
	}
	cpl := c.CPL()
	rpl := int(sel & 3)
	if sel&^3 == 0 {
		if seg == SS {
			if c.hflags&hfCS64 == 0 || cpl == 3 || rpl != cpl {
				c.gp(0)
			}
		}
		c.Seg[seg] = Segment{Sel: sel}
		if seg == SS {
			// 64-bit null SS keeps a usable flat stack.
			c.Seg[seg].Attr = attrS | attrWrite | attrP | uint16(cpl)<<5
			c.Seg[seg].refresh()
			c.updateHflags()
		} else {
			c.Seg[seg].refresh()
		}
		return
	}
	d, addr := c.readDesc(sel, VecGP)
	if seg == SS {
		if rpl != cpl || d.dpl() != cpl || !d.s() || d.code() || d.attr&attrWrite == 0 {
			c.gp(uint32(sel &^ 3))
		}
		if !d.p() {
			c.raise(VecSS, uint32(sel&^3), true)
		}
	} else {
		if !d.s() || (d.code() && d.attr&attrWrite == 0) {
			c.gp(uint32(sel &^ 3))
		}
		if !d.conforming() && (rpl > d.dpl() || cpl > d.dpl()) {
			c.gp(uint32(sel &^ 3))
		}
		if !d.p() {
			c.raise(VecNP, uint32(sel&^3), true)
		}
	}
	c.setAccessed(addr, &d)
	c.loadFromDesc(seg, sel, &d)
	if seg == SS {
		c.updateHflags()
	}
}

// loadCS installs a code segment at privilege cpl and updates modes.
func (c *CPU) loadCS(sel uint16, d *descriptor, cpl int) {
	c.loadFromDesc(CS, sel&^3|uint16(cpl), d)
	c.updateHflags()
	c.stopTB = true
}

// checkCodeTarget validates a far JMP/CALL to a code segment (SDM JMP).
func (c *CPU) checkCodeTarget(sel uint16, d *descriptor) {
	cpl := c.CPL()
	if d.conforming() {
		if d.dpl() > cpl {
			c.gp(uint32(sel &^ 3))
		}
	} else if int(sel&3) > cpl || d.dpl() != cpl {
		c.gp(uint32(sel &^ 3))
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
}

func (c *CPU) checkOffsetInCS(off uint64, d *descriptor) {
	if c.EFER&EFER_LMA != 0 && d.attr&attrL != 0 {
		if !canonical(off) {
			c.gp(0)
		}
		return
	}
	if off > uint64(d.limit) {
		c.gp(0)
	}
}

func (c *CPU) realFar(sel uint16, off uint64) {
	if off > uint64(c.Seg[CS].Limit) {
		c.gp(0)
	}
	s := &c.Seg[CS]
	s.Sel = sel
	s.Base = uint64(sel) << 4
	if c.flags&FLAG_VM != 0 {
		s.Limit = 0xFFFF
		s.Attr = attrP | attrS | attrCode | attrWrite | attrAccessed | 3<<5
	}
	c.refreshSeg(s)
	c.EIP = off
	c.updateHflags()
	c.stopTB = true
}
