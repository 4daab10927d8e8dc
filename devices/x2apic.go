package devices

// x2APIC mode and the TSC-deadline timer (Intel SDM Vol. 3 11.12 and
// 11.5.4.1).
//
// # x2APIC
//
// IA32_APIC_BASE bit 10 (EXTD) with bit 11 switches the LAPIC to x2APIC
// mode: the register page disappears (it reads as all ones, writes are
// dropped, as when globally disabled) and the registers are MSRs
// 0x800 + offset/16. Differences from the xAPIC view:
//
//	0x802 ID      32-bit x2APIC ID (= the xAPIC ID here), read-only
//	0x80D LDR     read-only, derived: (ID>>4)<<16 | 1<<(ID&15) (cluster, member bit)
//	0x80B EOI     write-only, the value must be 0
//	0x828 ESR     write 0 to latch
//	0x830 ICR     one 64-bit register (destination in bits 32-63); writing sends
//	0x83F SELF IPI  write-only: a fixed, edge-triggered self IPI of vector bits 0-7
//
// DFR (0x80E), ICR high (0x831), APR (0x809), remote read (0x80C) and
// unimplemented offsets do not exist: RDMSR/WRMSR of them raises #GP, as do
// writes to read-only registers, reads of write-only ones and writes with
// bits 32-63 set (except ICR). Valid mode transitions (SDM Figure 11-27):
// xAPIC <-> disabled, xAPIC -> x2APIC, x2APIC -> disabled; x2APIC -> xAPIC
// and disabled -> x2APIC raise #GP (APICBaseValid). INIT keeps the mode.
//
// Destinations: an x2APIC sender's ICR carries a 32-bit destination
// (Message.X2): 0xFFFFFFFF is broadcast, physical mode compares with the
// 32-bit ID, logical mode is cluster mode (bits 16-31 cluster, 0-15 member
// mask). An x2APIC receiver of an 8-bit destination (an xAPIC sender or the
// I/O APIC) treats 0xFF as broadcast and matches physical IDs only.
//
// # TSC-deadline timer
//
// LVT timer mode 2 arms the timer by writing an absolute TSC value to
// IA32_TSC_DEADLINE (MSR 0x6E0): the interrupt is raised when the vCPU's TSC
// reaches it, then the MSR reads 0; writing 0 disarms; writes in other
// modes are ignored and it reads 0. In this mode the initial-count register
// is ignored and the current count reads 0. glassbox's TSC counts the vCPU's
// retired instructions while virtual time advances with every vCPU's, so
// the timer is scheduled on virtual time at (deadline - TSC) *
// NSPerTSC ns and, when it expires early (other vCPUs ran), re-armed for
// the remainder: the interrupt is never raised before TSC >= deadline.

const (
	apicBaseExtd  = 1 << 10
	timerDeadline = 2

	x2Base = 0x800
)

// X2APIC reports whether the LAPIC is in x2APIC mode.
func (l *LAPIC) X2APIC() bool { return l.x2 }

// APICBaseValid reports whether writing v to IA32_APIC_BASE is a valid
// mode transition.
func (l *LAPIC) APICBaseValid(v uint64) bool {
	en, ext := v&apicBaseEnable != 0, v&apicBaseExtd != 0
	switch {
	case ext && !en:
		return false // invalid state
	case l.x2 && en && !ext:
		return false // x2APIC -> xAPIC
	case !l.hwEnabled && ext:
		return false // disabled -> x2APIC
	}
	return true
}

func (l *LAPIC) x2LDR() uint32 { return uint32(l.id>>4)<<16 | 1<<(l.id&15) }

// ReadAPICMSR reads an x2APIC register MSR or IA32_TSC_DEADLINE.
func (l *LAPIC) ReadAPICMSR(n uint32) (uint64, bool) {
	if n == 0x6E0 {
		if l.timerMode() != timerDeadline {
			return 0, true
		}
		return l.tscDeadline, true
	}
	if !l.x2 || n < x2Base || n > 0x8FF {
		return 0, false
	}
	slot := uint64(n-x2Base) << 4
	switch slot {
	case 0x20:
		return uint64(l.id), true
	case 0xD0:
		return uint64(l.x2LDR()), true
	case 0x300:
		return uint64(l.icrHi)<<32 | uint64(l.icrLo), true
	case 0x90, 0xB0, 0xC0, 0xE0, 0x310, 0x3F0: // APR, EOI, RRD, DFR, ICR high, SELF IPI
		return 0, false
	}
	v, ok := l.readReg(slot)
	return uint64(v), ok
}

// WriteAPICMSR writes an x2APIC register MSR or IA32_TSC_DEADLINE.
func (l *LAPIC) WriteAPICMSR(n uint32, v uint64) bool {
	if n == 0x6E0 {
		if l.timerMode() == timerDeadline {
			l.setDeadline(v)
		}
		return true
	}
	if !l.x2 || n < x2Base || n > 0x8FF {
		return false
	}
	slot := uint64(n-x2Base) << 4
	if slot != 0x300 && v>>32 != 0 {
		return false
	}
	switch slot {
	case 0x20, 0x30, 0x90, 0xA0, 0xC0, 0xD0, 0xE0, 0x310, 0x390: // read-only or absent
		return false
	case 0xB0:
		if v != 0 {
			return false
		}
		l.eoi()
	case 0x280:
		if v != 0 {
			return false
		}
		l.writeReg(slot, 0)
	case 0x300:
		l.icrHi = uint32(v >> 32)
		l.icrLo = uint32(v) & icrWritable &^ (1 << 12) // no delivery status in x2APIC mode
		l.sendIPI()
	case 0x3F0:
		vec := uint8(v)
		if vec < 16 {
			l.signalError(esrSendIllegalVector)
			return true
		}
		l.bus.deliver(Message{Dest: l.id32(), Mode: DeliveryFixed, Vector: vec, Shorthand: ShorthandSelf,
			Source: int(l.id), X2: true}, l)
	default:
		if _, ok := l.readReg(slot); !ok {
			return false // unimplemented register
		}
		l.writeReg(slot, uint32(v))
	}
	return true
}

func (l *LAPIC) id32() uint32 { return uint32(l.id) }

// matches reports whether the LAPIC is a target of message m's
// destination (no shorthand).
func (l *LAPIC) matches(m Message) bool {
	if !l.x2 {
		dest := uint8(m.Dest)
		if m.X2 && m.Dest == 0xFFFFFFFF {
			dest = 0xFF
		}
		return l.matchDest(dest, m.Logical)
	}
	if !m.X2 {
		return uint8(m.Dest) == 0xFF || uint8(m.Dest) == l.id
	}
	if m.Dest == 0xFFFFFFFF {
		return true
	}
	if !m.Logical {
		return m.Dest == l.id32()
	}
	ldr := l.x2LDR()
	return m.Dest>>16 == ldr>>16 && m.Dest&ldr&0xFFFF != 0
}

// setDeadline arms (or, with 0, disarms) the TSC-deadline timer.
func (l *LAPIC) setDeadline(v uint64) {
	l.tscDeadline = v
	l.tRunning = false
	l.timer.Stop()
	if v == 0 {
		return
	}
	l.armDeadline()
}

// armDeadline schedules the deadline check on virtual time.
func (l *LAPIC) armDeadline() {
	now := uint64(0)
	if l.hooks.TSC != nil {
		now = l.hooks.TSC()
	}
	ns := l.hooks.NSPerTSC
	if ns <= 0 {
		ns = 1
	}
	delta := int64(1)
	if l.tscDeadline > now {
		d := l.tscDeadline - now
		if d > uint64(1<<62)/uint64(ns) {
			d = uint64(1<<62) / uint64(ns)
		}
		delta = int64(d) * ns
	}
	l.tRunning = true
	l.timer.Reset(satAdd(l.clk.Now(), delta))
}

// deadlineFired is timerFired in TSC-deadline mode.
func (l *LAPIC) deadlineFired() {
	if l.tscDeadline == 0 {
		l.tRunning = false
		return
	}
	if l.hooks.TSC != nil && l.hooks.TSC() < l.tscDeadline {
		l.armDeadline() // virtual time ran ahead of this vCPU's TSC
		return
	}
	l.tRunning = false
	l.tscDeadline = 0
	l.localInterrupt(lvtTimer)
}
