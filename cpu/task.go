package cpu

// Hardware task switching (SDM Vol. 3 §8.3): JMP/CALL to a TSS descriptor
// or a task gate, an interrupt or exception through a task gate, and IRET
// with EFLAGS.NT, between 32-bit TSSs (types 9/11) and 16-bit TSSs (types
// 1/3, SDM §8.6 figure 8-12) in any combination. The outgoing state is
// saved in the outgoing TSS's format and the incoming one is loaded in its
// own format.
//
// Loading a 16-bit task (the SDM leaves these undefined; QEMU 7.2, the
// reference, was checked with guests/tasks16):
//   - EAX..EDI get the TSS's words in their low halves and keep their
//     upper halves from the outgoing task (Bochs 3.0 sets them to 0xFFFF
//     instead; the SDM says only that they are "not maintained");
//   - FS and GS are loaded with the null selector;
//   - EFLAGS bits 0-15 come from the TSS and bits 16-31 (RF, AC, ID) are
//     kept from the outgoing task, as QEMU's switch_tss does, except VM, which is
//     cleared (QEMU keeps it, but a 16-bit TSS cannot hold a
//     virtual-8086 task);
//   - CR3 is not loaded, and an exception's error code is pushed as a word.

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

// 16-bit TSS offsets.
const (
	tss16IP    = 0x0E
	tss16FLAGS = 0x10
	tss16AX    = 0x12
	tss16ES    = 0x22
	tss16LDT   = 0x2A
)

// tssIs32 reports whether a TSS descriptor type (1, 3, 9 or 11) is 32-bit.
func tssIs32(typ int) bool { return typ&8 != 0 }

// tssMinLimit is the smallest limit of a TSS of the given type.
func tssMinLimit(typ int) uint32 {
	if tssIs32(typ) {
		return 0x67
	}
	return 0x2B
}

// tssState is a task's state as read from its TSS.
type tssState struct {
	cr3, eip, eflags uint32
	regs             [8]uint32
	segs             [NumSeg]uint16
	ldt              uint16
}

// readTSS reads the state of the task whose TSS is at base.
func (c *CPU) readTSS(base uint64, is32 bool) tssState {
	var st tssState
	if is32 {
		st.cr3 = uint32(c.sysRead(base+tssCR3, 4))
		st.eip = uint32(c.sysRead(base+tssEIP, 4))
		st.eflags = uint32(c.sysRead(base+tssEFLAGS, 4))
		for i := range st.regs {
			st.regs[i] = uint32(c.sysRead(base+tssEAX+uint64(4*i), 4))
		}
		for s := range st.segs {
			st.segs[s] = uint16(c.sysRead(base+tssES+uint64(4*s), 2))
		}
		st.ldt = uint16(c.sysRead(base+tssLDT, 2))
		return st
	}
	st.eip = uint32(c.sysRead(base+tss16IP, 2))
	st.eflags = uint32(c.sysRead(base+tss16FLAGS, 2))
	for i := range st.regs {
		st.regs[i] = uint32(c.sysRead(base+tss16AX+uint64(2*i), 2))
	}
	for s := ES; s <= DS; s++ { // ES, CS, SS, DS; FS and GS stay null
		st.segs[s] = uint16(c.sysRead(base+tss16ES+uint64(2*s), 2))
	}
	st.ldt = uint16(c.sysRead(base+tss16LDT, 2))
	return st
}

// saveTSS writes the outgoing task's state into its own TSS at base.
func (c *CPU) saveTSS(base uint64, is32 bool, eip, flags uint64) {
	if is32 {
		c.sysWrite(base+tssEIP, 4, eip&0xFFFFFFFF)
		c.sysWrite(base+tssEFLAGS, 4, flags&0xFFFFFFFF)
		for i := 0; i < 8; i++ {
			c.sysWrite(base+tssEAX+uint64(4*i), 4, c.R[i]&0xFFFFFFFF)
		}
		for s := 0; s < NumSeg; s++ {
			c.sysWrite(base+tssES+uint64(4*s), 2, uint64(c.Seg[s].Sel))
		}
		return
	}
	c.sysWrite(base+tss16IP, 2, eip&0xFFFF)
	c.sysWrite(base+tss16FLAGS, 2, flags&0xFFFF)
	for i := 0; i < 8; i++ {
		c.sysWrite(base+tss16AX+uint64(2*i), 2, c.R[i]&0xFFFF)
	}
	for s := ES; s <= DS; s++ {
		c.sysWrite(base+tss16ES+uint64(2*s), 2, uint64(c.Seg[s].Sel))
	}
}

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
	typ := d.typ()
	busy := typ&2 != 0
	if d.s() || typ&^(8|2) != 1 { // 1, 3, 9, 11
		c.raise(VecGP, uint32(sel&^3), true)
	}
	if source == taskIret && !busy || source != taskIret && busy {
		c.raise(VecGP, uint32(sel&^3), true)
	}
	if !d.p() {
		c.raise(VecNP, uint32(sel&^3), true)
	}
	newIs32 := tssIs32(typ)
	if d.limit < tssMinLimit(typ) {
		c.raise(VecTS, uint32(sel&^3), true)
	}
	oldTyp := int(c.TR.Attr & 0xF)
	oldIs32 := tssIs32(oldTyp)
	if oldTyp&^(8|2) != 1 || oldTyp&2 == 0 || c.TR.Limit < tssMinLimit(oldTyp) {
		c.raise(VecTS, uint32(c.TR.Sel&^3), true)
	}
	// Read the whole incoming state first: a fault here leaves the old
	// task untouched.
	in := c.readTSS(d.base, newIs32)
	// Save the outgoing task in its own TSS format.
	flags := c.getFlags()
	if source == taskIret {
		flags &^= FLAG_NT
	}
	c.saveTSS(c.TR.Base, oldIs32, nextEIP, flags)
	oldAddr := c.descAddr(c.TR.Sel, VecTS)
	if source == taskJmp || source == taskIret {
		b := c.sysRead(oldAddr+5, 1)
		c.sysWrite(oldAddr+5, 1, b&^2) // old TSS no longer busy
	}
	if source == taskCall || source == taskInt {
		c.sysWrite(d.base+tssLink, 2, uint64(c.TR.Sel)) // same offset in both formats
	}
	if source != taskIret {
		b := c.sysRead(addr+5, 1)
		c.sysWrite(addr+5, 1, b|2)
	}
	// Load the incoming task.
	d.attr |= 2
	c.TR = Segment{Sel: sel, Base: d.base, Limit: d.limit, Attr: d.attr}
	c.CR0 |= CR0_TS
	nflags := uint64(in.eflags)
	if !newIs32 {
		// Bits 16-31 are kept from the outgoing task, VM cleared (see above).
		nflags |= flags &^ 0xFFFF &^ FLAG_VM
	}
	if source == taskCall || source == taskInt {
		nflags |= FLAG_NT
	}
	if newIs32 && c.CR0&CR0_PG != 0 {
		c.CR3 = uint64(in.cr3)
		c.tlb.FlushNonGlobal()
	}
	c.setFlagsRaw(nflags&0x3F7FD7 | 2)
	c.hwClearLocal()
	for i := 0; i < 8; i++ {
		if newIs32 {
			c.R[i] = uint64(in.regs[i])
		} else {
			c.R[i] = c.R[i]&0xFFFF0000 | uint64(in.regs[i]) // upper half kept (QEMU)
		}
	}
	c.EIP = uint64(in.eip)
	// Segment registers: selectors first, then descriptors (faults now
	// belong to the new task and are reported as #TS).
	ldt := in.ldt
	c.LDTR = Segment{Sel: ldt}
	if ldt&^3 != 0 {
		c.loadLDT(ldt)
	}
	vm := nflags&FLAG_VM != 0
	for s := 0; s < NumSeg; s++ {
		ssel := in.segs[s]
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
		if newIs32 {
			c.push(uint64(errCode), 4)
		} else {
			c.push(uint64(errCode&0xFFFF), 2)
		}
	}
	if c.EIP > uint64(c.Seg[CS].Limit) {
		c.gp(0)
	}
}
