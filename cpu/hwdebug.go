package cpu

import "glassbox/tb"

// The guest's own debug registers (SDM Vol. 3 ch. 18, "Debug Registers"):
// instruction breakpoints, data breakpoints, I/O breakpoints, DR6 status
// and DR7.GD general detect. These are the guest's breakpoints, separate
// from the debugger's (debug.go), which the guest cannot see.
//
// Cost when the guest has nothing enabled (DR7 bits 0-7 clear and
// EFLAGS.RF clear): none on the hot paths. hwSlow is recomputed when DR7,
// DR0-DR3 or CR4 are written, on task switches (which clear L0-L3) and
// whenever EFLAGS is loaded with RF set; only while it is set does runSome
// take the per-TB path that checks breakpoints:
//
//   - instruction breakpoints: before each TB, a #DB fault if the next
//     instruction is a breakpoint address (unless EFLAGS.RF suppresses it),
//     and the TB runs only up to the next breakpoint address inside it;
//   - data breakpoints: TLB entries of pages holding a breakpoint range
//     get the WATCH flag (as the debugger's watchpoints), so only accesses
//     to those pages take the slow path that compares ranges; a hit ends
//     the TB after the instruction and raises a trap-class #DB;
//   - I/O breakpoints (R/W=10 with CR4.DE): IN/OUT/INS/OUTS compare ports.
//
// DR6 choices (the SDM allows either; both as QEMU): a breakpoint #DB
// replaces B0-B3 with the breakpoints that matched ("certain debug
// exceptions may clear bits 0-3"); an instruction-breakpoint #DB also
// reports instruction breakpoints (R/W=00) at the same address that are
// not enabled ("B0-B3 may be set even if not enabled"), data and I/O
// breakpoints report only enabled ones; BS, BD and the other bits are
// sticky until the guest clears them. A single-step trap leaves B0-B3 as
// they are.

// DR6 and DR7 bits.
const (
	dr6BD = 1 << 13
	dr6BS = 1 << 14
	dr7GD = 1 << 13
)

// drLen is the length of breakpoint n's range from DR7.LENn (00=1, 01=2,
// 10=8, 11=4 bytes).
func drLen(dr7 uint64, n int) uint64 {
	return [4]uint64{1, 2, 8, 4}[dr7>>(18+4*uint(n))&3]
}

// drRW is DR7.R/Wn: 00 execution, 01 data writes, 10 I/O, 11 data reads
// and writes.
func drRW(dr7 uint64, n int) int { return int(dr7>>(16+4*uint(n))) & 3 }

// updateHWBP recomputes which guest breakpoints are armed after DR0-DR3,
// DR7 or CR4 changed. Data breakpoints mark TLB entries, so the TLB is
// flushed when they were or become armed.
func (c *CPU) updateHWBP() {
	oldData := c.hwData
	c.hwExec, c.hwData, c.hwIO = 0, 0, 0
	dr7 := c.DR[7]
	for n := 0; n < 4; n++ {
		if dr7>>(2*uint(n))&3 == 0 {
			continue
		}
		switch drRW(dr7, n) {
		case 0:
			c.hwExec |= 1 << n
		case 1, 3:
			c.hwData |= 1 << n
		case 2:
			if c.CR4&CR4_DE != 0 {
				c.hwIO |= 1 << n
			}
		}
	}
	c.hwSlow = dr7&0xFF != 0 || c.flags&FLAG_RF != 0
	if oldData != 0 || c.hwData != 0 {
		c.tlb.FlushAll()
	}
}

// SetDR writes debug register n (0-7) directly (debuggers, loaders) and
// re-arms the guest's breakpoints.
func (c *CPU) SetDR(n int, v uint64) {
	if n < 0 || n > 7 {
		return
	}
	c.DR[n] = v
	c.updateHWBP()
}

// hwBPAddr is breakpoint n's address as the current mode compares it.
func (c *CPU) hwBPAddr(n int) uint64 { return c.wrapLin(c.DR[n]) }

// hwExecMatch returns the enabled instruction breakpoints at linear
// address la, as a B0-B3 mask.
func (c *CPU) hwExecMatch(la uint64) uint64 {
	var m uint64
	for n := 0; n < 4; n++ {
		if c.hwExec&(1<<n) != 0 && c.hwBPAddr(n) == la {
			m |= 1 << n
		}
	}
	return m
}

// hwBefore runs before each TB while hwSlow is set: it raises the
// instruction-breakpoint #DB fault for the next instruction, or, when RF
// suppresses it, clears RF "at the start of the instruction after the
// check for code breakpoint" (SDM §18.3.1.1) and remembers that it did
// so: if that instruction faults, the RF image pushed is 1 again and its
// handler's IRET resumes without a breakpoint. It reports whether a #DB
// was delivered.
func (c *CPU) hwBefore() bool {
	if c.flags&FLAG_RF != 0 {
		c.flags &^= FLAG_RF
		c.rfHeld = true
	} else if c.hwExec != 0 {
		if la := c.wrapLin(c.PC()); c.hwExecMatch(la) != 0 {
			// B0-B3 also report instruction breakpoints at this address
			// that are not enabled (the SDM allows it; QEMU does it).
			var m uint64
			for n := 0; n < 4; n++ {
				if drRW(c.DR[7], n) == 0 && c.hwBPAddr(n) == la {
					m |= 1 << n
				}
			}
			c.DR[6] = c.DR[6]&^0xF | m
			c.yields++ // a handler that is itself a breakpoint must not starve Exec
			c.deliver(Exception{Vector: VecDB}, false)
			if c.singleStep {
				c.stepDone = true
			}
			return true
		}
	}
	c.hwSlow = c.DR[7]&0xFF != 0
	return false
}

// hwLimit shortens a TB run (of limit ops) so that it stops before the
// next instruction breakpoint address inside it.
func (c *CPU) hwLimit(ops []tb.Op, limit int, csBase uint64) int {
	if c.hwExec == 0 {
		return limit
	}
	for i := 1; i < limit; i++ {
		if c.hwExecMatch(c.wrapLin(csBase+ops[i].EIP)) != 0 {
			return i
		}
	}
	return limit
}

// hwPageWatched reports whether an enabled data breakpoint covers part of
// the linear page at vp.
func (c *CPU) hwPageWatched(vp uint64) bool {
	for n := 0; n < 4; n++ {
		if c.hwData&(1<<n) == 0 {
			continue
		}
		l := drLen(c.DR[7], n)
		a := c.hwBPAddr(n) &^ (l - 1)
		if a < vp+4096 && a+l > vp {
			return true
		}
	}
	return false
}

// hwCheckData records the data breakpoints a guest access of [la,
// la+size) hits during an instruction; the #DB trap follows when the
// instruction completes. Accesses made while delivering an event are not
// checked.
func (c *CPU) hwCheckData(la uint64, size int, write bool) {
	if c.curTB == nil {
		return
	}
	for n := 0; n < 4; n++ {
		if c.hwData&(1<<n) == 0 || !write && drRW(c.DR[7], n) == 1 {
			continue
		}
		l := drLen(c.DR[7], n)
		a := c.hwBPAddr(n) &^ (l - 1)
		if la < a+l && la+uint64(size) > a {
			c.hwHit |= 1 << n
			c.stopTB = true
		}
	}
}

// hwCheckIO records the I/O breakpoints an access to [port, port+size)
// hits (trap after the instruction, as data breakpoints).
func (c *CPU) hwCheckIO(port uint16, size int) {
	for n := 0; n < 4; n++ {
		if c.hwIO&(1<<n) == 0 {
			continue
		}
		l := drLen(c.DR[7], n)
		a := c.DR[n] & 0xFFFF &^ (l - 1)
		if uint64(port) < a+l && uint64(port)+uint64(size) > a {
			c.hwHit |= 1 << n
			c.stopTB = true
		}
	}
}

// hwGeneralDetect raises the DR7.GD #DB fault for a MOV to or from a debug
// register: DR6.BD is set and GD cleared so that the handler can use the
// debug registers.
func (c *CPU) hwGeneralDetect() {
	if c.DR[7]&dr7GD != 0 {
		c.DR[6] |= dr6BD
		c.DR[7] &^= dr7GD
		c.raise(VecDB, 0, false)
	}
}

// movToDR writes debug register r (already mapped by drIndex).
func (c *CPU) movToDR(r uint8, v uint64) {
	switch r {
	case 6:
		if c.hflags&hfLMA != 0 && v>>32 != 0 {
			c.gp(0)
		}
		v |= 0xFFFF0FF0 // bits 4-11 and 16-31 read as 1
	case 7:
		if c.hflags&hfLMA != 0 && v>>32 != 0 {
			c.gp(0)
		}
		v |= 0x400 // bit 10 reads as 1
	}
	c.DR[r] = v
	c.updateHWBP()
	c.stopTB = true // a breakpoint may now be armed later in this TB
}

// hwClearLocal clears L0-L3 on a task switch (SDM §18.2.4).
func (c *CPU) hwClearLocal() {
	if c.DR[7]&0x55 != 0 {
		c.DR[7] &^= 0x55
		c.updateHWBP()
	}
}
