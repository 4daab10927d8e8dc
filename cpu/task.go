package cpu

// Hardware task switching (SDM Vol. 3 §8.3) for 32-bit TSSs: JMP/CALL to a
// TSS descriptor or a task gate, an interrupt or exception through a task
// gate, and IRET with EFLAGS.NT. 16-bit TSSs raise #TS.

// Task-switch sources.
const (
	taskJmp = iota
	taskCall
	taskInt
	taskIret
)

// 32-bit TSS offsets.
const (
	tssLink   = 0x00
	tssCR3    = 0x1C
	tssEIP    = 0x20
	tssEFLAGS = 0x24
	tssEAX    = 0x28
	tssES     = 0x48
	tssLDT    = 0x60
)

// taskGateTarget resolves a task gate to its TSS selector (the gate's DPL
// was checked by the caller).
func (c *CPU) taskGateTarget(g *descriptor) uint16 {
	sel := g.gateSel()
	if sel&4 != 0 || sel&^3 == 0 {
		c.raise(VecGP, uint32(sel&^3), true)
	}
	return sel
}

// taskSwitch switches to the task whose TSS selector is sel. nextEIP is
// the EIP saved in the outgoing task (the instruction after JMP/CALL/INT,
// or the faulting one for exceptions). errCode, when hasErr, is pushed on
// the new task's stack (exceptions delivered through a task gate).
func (c *CPU) taskSwitch(sel uint16, source int, nextEIP uint64, errCode uint32, hasErr bool) {
	if sel&4 != 0 || sel&^3 == 0 {
		c.raise(VecGP, uint32(sel&^3), true)
	}
	d, addr := c.readDesc(sel, VecGP)
	busy := d.typ() == 0xB
	if d.s() || (d.typ() != 9 && d.typ() != 0xB) {
		if d.typ() == 1 || d.typ() == 3 {
			c.raise(VecTS, uint32(sel&^3), true) // 16-bit TSS: not supported
		}
		c.raise(VecGP, uint32(sel&^3), true)
	}
	if source == taskIret && !busy || source != taskIret && busy {
		c.raise(VecGP, uint32(sel&^3), true)
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	if d.limit < 0x67 {
		c.raise(VecTS, uint32(sel&^3), true)
	}
	if c.TR.Limit < 0x67 || c.TR.Attr&0xF != 0xB {
		c.raise(VecTS, uint32(c.TR.Sel&^3), true)
	}
	newBase := d.base
	// Read the whole incoming state first: a fault here leaves the old
	// task untouched.
	var in [26]uint32
	for i := range in {
		in[i] = uint32(c.sysRead(newBase+uint64(4*i), 4))
	}
	// Save the outgoing task.
	old := c.TR.Base
	flags := c.getFlags()
	if source == taskIret {
		flags &^= FLAG_NT
	}
	c.sysWrite(old+tssEIP, 4, nextEIP&0xFFFFFFFF)
	c.sysWrite(old+tssEFLAGS, 4, flags&0xFFFFFFFF)
	for i := 0; i < 8; i++ {
		c.sysWrite(old+tssEAX+uint64(4*i), 4, c.R[i]&0xFFFFFFFF)
	}
	for s := 0; s < NumSeg; s++ {
		c.sysWrite(old+tssES+uint64(4*s), 2, uint64(c.Seg[s].Sel))
	}
	oldAddr := c.descAddr(c.TR.Sel, VecTS)
	if source == taskJmp || source == taskIret {
		b := c.sysRead(oldAddr+5, 1)
		c.sysWrite(oldAddr+5, 1, b&^2) // old TSS no longer busy
	}
	if source == taskCall || source == taskInt {
		c.sysWrite(newBase+tssLink, 2, uint64(c.TR.Sel))
	}
	if source != taskIret {
		b := c.sysRead(addr+5, 1)
		c.sysWrite(addr+5, 1, b|2)
	}
	// Load the incoming task.
	d.attr |= 2
	c.TR = Segment{Sel: sel, Base: d.base, Limit: d.limit, Attr: d.attr}
	c.CR0 |= CR0_TS
	nflags := uint64(in[tssEFLAGS/4])
	if source == taskCall || source == taskInt {
		nflags |= FLAG_NT
	}
	if c.CR0&CR0_PG != 0 {
		c.CR3 = uint64(in[tssCR3/4])
		c.tlb.FlushNonGlobal()
	}
	c.setFlagsRaw(nflags&0x3F7FD7 | 2)
	c.hwClearLocal()
	for i := 0; i < 8; i++ {
		c.R[i] = uint64(in[tssEAX/4+i])
	}
	c.EIP = uint64(in[tssEIP/4])
	// Segment registers: selectors first, then descriptors (faults now
	// belong to the new task and are reported as #TS).
	ldt := uint16(in[tssLDT/4])
	c.LDTR = Segment{Sel: ldt}
	if ldt&^3 != 0 {
		c.loadLDT(ldt)
	}
	vm := nflags&FLAG_VM != 0
	for s := 0; s < NumSeg; s++ {
		ssel := uint16(in[tssES/4+s])
		if vm {
			c.Seg[s] = Segment{Sel: ssel, Base: uint64(ssel) << 4, Limit: 0xFFFF, Attr: attrP | attrS | attrWrite | attrAccessed | 3<<5}
			if s == CS {
				c.Seg[s].Attr |= attrCode
			}
			c.Seg[s].refresh()
			continue
		}
		if ssel&^3 == 0 {
			if s == CS || s == SS {
				c.raise(VecTS, 0, true)
			}
			c.Seg[s] = Segment{Sel: ssel}
			c.Seg[s].refresh()
			continue
		}
		sd, saddr := c.readDesc(ssel, VecTS)
		if !sd.p() {
			if s == SS {
				c.raise(VecSS, uint32(ssel&^3), true)
			}
			c.raise(VecNP, uint32(ssel&^3), true)
		}
		if s == CS && !sd.code() || s == SS && (sd.code() || sd.attr&attrWrite == 0) {
			c.raise(VecTS, uint32(ssel&^3), true)
		}
		c.setAccessed(saddr, &sd)
		c.loadFromDesc(s, ssel, &sd)
	}
	c.updateHflags() // CPL follows the new CS selector's RPL (3 in virtual-8086 mode)
	c.jc.Clear()
	c.stopTB = true
	if hasErr {
		c.push(uint64(errCode), 4)
	}
	if c.EIP > uint64(c.Seg[CS].Limit) {
		c.gp(0)
	}
}
