package devices

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"

	"glassbox/vclock"
)

// LAPIC is one processor's local APIC (Intel SDM Vol. 3, chapter 11). In
// xAPIC mode it is seen through its 4 KiB register page (architecturally at
// 0xFEE00000; offsets given to ReadMMIO/WriteMMIO are relative to it);
// x2APIC mode and the TSC-deadline timer are described in x2apic.go.
//
// # Registers
//
//	0x020 ID            read/write, bits 24-31 (writable, as on P4/Xeon and QEMU)
//	0x030 version       0x00050014: version 0x14, max LVT entry 5
//	0x080 TPR           bits 0-7
//	0x090 APR           computed (read-only)
//	0x0A0 PPR           computed (read-only)
//	0x0B0 EOI           write-only
//	0x0C0 RRD           reads 0 (remote read is not supported)
//	0x0D0 LDR           bits 24-31
//	0x0E0 DFR           bits 28-31 (bits 0-27 read as ones)
//	0x0F0 SVR           bits 0-9 (vector, APIC software enable, focus)
//	0x100-0x170 ISR, 0x180-0x1F0 TMR, 0x200-0x270 IRR   read-only
//	0x280 ESR           write-then-read
//	0x2F0 LVT CMCI      stored only (nothing raises a CMCI)
//	0x300/0x310 ICR     writing the low half sends; delivery status reads 0
//	0x320 LVT timer, 0x330 thermal, 0x340 perf, 0x350 LINT0, 0x360 LINT1, 0x370 error
//	0x380 timer initial count, 0x390 current count (computed), 0x3E0 divide config
//
// Every register is 32 bits wide at the start of a 16-byte slot. Reads of
// any size at any offset return the bytes of that view (the other 12 bytes
// of a slot, and unimplemented registers, read as 0). Writes are honoured
// only when they are 4 or 8 bytes wide and 16-byte aligned (the low 32 bits
// are written); other writes are dropped, as KVM does. An access to an
// unimplemented register sets ESR bit 7 (illegal register address), as on
// P4/Xeon. The CMCI entry exists although the version register reports 5 as
// the highest LVT entry (so guests do not use it).
//
// # Interrupt acceptance and priority
//
// Fixed interrupts (from the bus, the LVT entries or self IPIs) are accepted
// into the IRR only while the APIC is software enabled (SVR bit 8, as KVM
// does); vectors 0-15 are refused with ESR bit 6. Pending reports the highest
// IRR vector whose priority class (bits 4-7) is above the PPR's class, where
// PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV & 0xF0. While software
// disabled the IRR is held (not delivered), as in QEMU.
//
// # ExtINT and virtual wire mode
//
// When AcceptPIC(true) was called (the BSP) and LINT0 is unmasked with
// delivery mode ExtINT (virtual wire mode, MP spec 3.6.2.2), Pending also
// reports the 8259 PIC's INTR and Ack runs the PIC's acknowledge cycle. An
// ExtINT message from the I/O APIC does the same for one Ack. ExtINT
// interrupts are delivered directly to the core, bypassing IRR/ISR and the
// TPR/PPR priority scheme (SDM 11.6.1/11.8.1): they are taken BEFORE any
// pending fixed APIC interrupt (as KVM does; QEMU gives the APIC's vectors
// precedence). Only NMI, which the machine injects through the NMI hook,
// beats them. When the APIC is globally disabled (IA32_APIC_BASE bit 11
// clear) the PIC's INTR goes straight to the core: Pending and Ack forward
// to the PIC (if AcceptPIC) and nothing else is delivered.
//
// The LVT mask bit is the only gate of the LINT pins: software disabling the
// APIC sets every LVT mask bit (and keeps them set on LVT writes), but
// [LAPIC.ConfigureVirtualWire] programs LINT0/LINT1 directly, as QEMU's reset
// of the BSP does, so the PIC reaches the BSP before the guest enables its
// APIC. The machine must kick the BSP's vCPU itself when the PIC's INTR
// rises: the LAPIC only polls the PIC.
//
// # Timer
//
// The timer counts on virtual time with a 1 GHz bus clock: one count per
// divisor nanoseconds (divide by 1 .. 128 from the divide configuration
// register). A count of N therefore expires N*divisor ns after the initial
// count was written; periodic mode reloads at exactly those multiples.
// Writing the initial count (re)starts the timer, writing 0 stops it.
// Changing the divisor while counting continues from the current count with
// the new divisor (the fraction of the running count is dropped). One-shot
// <-> periodic changes take effect at the next expiry. A masked timer keeps
// counting (and reloading) without interrupting. TSC-deadline mode (LVT
// timer mode 2, IA32_TSC_DEADLINE) is in x2apic.go; in it the initial count
// is ignored and the current count reads 0. The reserved mode 3 disarms the
// timer like a one-shot timer that never fires.
//
// # Not supported
//
// Relocating the register page, directed EOI / EOI-broadcast suppression,
// remote read, SMI (SMI messages and LVT entries are ignored), thermal,
// performance-counter and CMCI events (their LVT entries are storage only),
// the LVT polarity bits (inputs are given as asserted/deasserted, as with
// IRQSink) and the focus processor bit (stored only).
type LAPIC struct {
	id    uint8
	clk   *vclock.Clock
	bus   *APICBus
	hooks LAPICHooks
	pic   interface {
		Pending() bool
		Ack() uint8
	}
	acceptPIC bool
	bsp       bool

	base      uint64 // IA32_APIC_BASE address bits
	hwEnabled bool   // IA32_APIC_BASE bit 11

	tpr           uint8
	ldr, dfr, svr uint32
	isr, irr, tmr [8]uint32
	lvt           [lvtCount]uint32
	esr, esrAcc   uint32 // visible ESR; errors detected since the last ESR write
	icrLo, icrHi  uint32
	extInt        bool    // an ExtINT message awaits its Ack
	lint          [2]bool // LINT0/LINT1 input levels (asserted)

	timer    *vclock.Timer
	tInitial uint32
	dcr      uint32
	tRunning bool
	tStart   int64  // virtual ns at which the count was tCount
	tCount   uint32 // count at tStart (>= 1 while running)

	inError bool // an error interrupt is being raised (recursion guard)

	x2          bool   // x2APIC mode (IA32_APIC_BASE bits 10 and 11), x2apic.go
	tscDeadline uint64 // IA32_TSC_DEADLINE while armed (timer mode 2)
}

// LAPICHooks are the local APIC's connections to its processor. Any hook
// may be nil. They run synchronously inside the LAPIC call that caused them.
type LAPICHooks struct {
	// INIT: the vCPU must reset to the wait-for-SIPI state (for an AP; the
	// machine decides what INIT means for the BSP). The LAPIC has already
	// reset itself, keeping its ID.
	INIT func()
	// SIPI: start the vCPU in real mode at CS:IP = vector<<8:0, i.e.
	// physical address vector<<12, if it is in the wait-for-SIPI state
	// (the machine decides; the LAPIC always calls the hook).
	SIPI func(vector uint8)
	// NMI: an NMI was delivered (LINT1/LVT with NMI delivery, or an NMI
	// message); the machine calls cpu.InjectNMI and wakes the vCPU.
	NMI func()
	// Kick: an interrupt became pending for this vCPU (wake it from HLT).
	Kick func()
	// TSC reads the vCPU's time-stamp counter (the TSC-deadline timer);
	// NSPerTSC is how many virtual ns one TSC tick is at most (default 1).
	TSC      func() uint64
	NSPerTSC int64
}

// LVT entry indices.
const (
	lvtTimer = iota
	lvtThermal
	lvtPerf
	lvtLINT0
	lvtLINT1
	lvtError
	lvtCMCI
	lvtCount
)

var lvtNames = [lvtCount]string{"LVTT", "LVTTHMR", "LVTPC", "LVT0", "LVT1", "LVTERR", "LVTCMCI"}

// Writable bits of each LVT entry: vector 0-7, delivery mode 8-10, polarity
// 13, trigger mode 15, mask 16, timer mode 17-18.
var lvtWritable = [lvtCount]uint32{
	lvtTimer:   0x000700FF,
	lvtThermal: 0x000107FF,
	lvtPerf:    0x000107FF,
	lvtLINT0:   0x0001A7FF,
	lvtLINT1:   0x0001A7FF,
	lvtError:   0x000100FF,
	lvtCMCI:    0x000107FF,
}

const (
	lvtMasked    = 1 << 16
	lvtLevelTrig = 1 << 15
	lvtRemoteIRR = 1 << 14
	lvtActiveLow = 1 << 13

	svrEnable = 1 << 8

	lapicVersion = 0x00050014

	esrSendIllegalVector = 1 << 5
	esrRecvIllegalVector = 1 << 6
	esrIllegalRegister   = 1 << 7

	icrWritable = 0x000CCFFF

	apicBaseEnable = 1 << 11
	apicBaseBSP    = 1 << 8
	apicBaseAddr   = 0x000FFFFFFFFFF000

	timerOneShot  = 0
	timerPeriodic = 1
)

// NewLAPIC returns the local APIC with the given ID in its power-on state:
// globally enabled at 0xFEE00000 (the BSP flag set when id is 0, see
// SetBSP), software disabled, every LVT masked. It is attached to bus (a
// private bus is made when bus is nil). pic is the 8259 pair reached through
// LINT0 in virtual wire mode and by ExtINT messages; it may be nil. clk may
// be nil (a private clock is made; the timer then never fires).
func NewLAPIC(id uint8, clk *vclock.Clock, bus *APICBus, h LAPICHooks, pic interface {
	Pending() bool
	Ack() uint8
}) *LAPIC {
	if clk == nil {
		clk = vclock.New()
	}
	if bus == nil {
		bus = NewAPICBus()
	}
	l := &LAPIC{id: id, clk: clk, bus: bus, hooks: h, pic: pic, bsp: id == 0}
	l.timer = clk.NewTimer(fmt.Sprintf("lapic%d-timer", id), l.timerFired)
	l.base = LAPICDefaultBase
	l.hwEnabled = true
	l.Reset()
	bus.Add(l)
	return l
}

// ID returns the APIC ID (ID register bits 24-31).
func (l *LAPIC) ID() uint8 { return l.id }

// AcceptPIC sets whether this LAPIC takes ExtINT interrupts from the PIC
// through LINT0 (virtual wire mode) and, while globally disabled, passes
// the PIC's INTR to its processor. Only the BSP's LAPIC should.
func (l *LAPIC) AcceptPIC(b bool) { l.acceptPIC = b }

// SetBSP sets the IA32_APIC_BASE BSP flag (bit 8) reported by Base. The
// default is id == 0.
func (l *LAPIC) SetBSP(b bool) { l.bsp = b }

// ConfigureVirtualWire programs LINT0 as ExtINT (unmasked, edge) and LINT1
// as NMI (unmasked, edge), as SeaBIOS does for the BSP: the virtual wire
// mode of the MP specification. The entries are written directly, even
// while the APIC is software disabled (as QEMU's BSP reset does).
func (l *LAPIC) ConfigureVirtualWire() {
	l.lvt[lvtLINT0] = DeliveryExtINT << 8
	l.lvt[lvtLINT1] = DeliveryNMI << 8
	l.kickIfPending()
}

// Reset puts the LAPIC in its power-on / INIT state (SDM 11.4.7.1): the ID,
// IA32_APIC_BASE and the LINT input levels are kept; TPR, ISR, IRR, TMR,
// LDR, ESR, ICR and the timer are 0, DFR is all ones, SVR is 0xFF (software
// disabled) and every LVT entry is masked (0x00010000).
func (l *LAPIC) Reset() {
	l.tpr = 0
	l.isr, l.irr, l.tmr = [8]uint32{}, [8]uint32{}, [8]uint32{}
	l.ldr = 0
	l.dfr = 0xFFFFFFFF
	l.svr = 0xFF
	for i := range l.lvt {
		l.lvt[i] = lvtMasked
	}
	l.esr, l.esrAcc = 0, 0
	l.icrLo, l.icrHi = 0, 0
	l.extInt = false
	l.timer.Stop()
	l.tRunning = false
	l.tInitial, l.tCount, l.tStart = 0, 0, 0
	l.dcr = 0
	l.tscDeadline = 0
}

// SetBase handles a write of the IA32_APIC_BASE MSR. Bit 11 is the global
// enable: clearing it resets the LAPIC (software disabled, LVTs masked) and
// makes it invisible (its page reads as all ones, writes are dropped, it
// receives no messages, the PIC's INTR bypasses it); setting it again
// re-enables the LAPIC in that reset state. The address bits are stored
// and read back by Base, but the register page is NOT relocated: only
// 0xFEE00000 is supported (the machine maps the page there). The BSP flag
// (bit 8) is read-only (ignored); bit 10 with bit 11 selects x2APIC mode.
// Checking reserved bits and mode transitions (#GP, APICBaseValid) is the
// caller's business.
func (l *LAPIC) SetBase(msr uint64) {
	l.base = msr & apicBaseAddr
	en := msr&apicBaseEnable != 0
	switch {
	case l.hwEnabled && !en:
		l.Reset()
		l.hwEnabled = false
	case !l.hwEnabled && en:
		l.hwEnabled = true
	}
	l.x2 = en && msr&apicBaseExtd != 0 // transitions were checked by APICBaseValid
}

// Base returns the IA32_APIC_BASE MSR value.
func (l *LAPIC) Base() uint64 {
	v := l.base
	if l.hwEnabled {
		v |= apicBaseEnable
	}
	if l.x2 {
		v |= apicBaseExtd
	}
	if l.bsp {
		v |= apicBaseBSP
	}
	return v
}

// Enabled reports whether the LAPIC is globally enabled (IA32_APIC_BASE
// bit 11).
func (l *LAPIC) Enabled() bool { return l.hwEnabled }

func (l *LAPIC) swEnabled() bool { return l.svr&svrEnable != 0 }

// --- priority helpers ---

func highestVec(r *[8]uint32) int {
	for i := 7; i >= 0; i-- {
		if r[i] != 0 {
			return i*32 + 31 - bits.LeadingZeros32(r[i])
		}
	}
	return -1
}

func setVec(r *[8]uint32, v uint8)       { r[v>>5] |= 1 << (v & 31) }
func clearVec(r *[8]uint32, v uint8)     { r[v>>5] &^= 1 << (v & 31) }
func testVec(r *[8]uint32, v uint8) bool { return r[v>>5]&(1<<(v&31)) != 0 }

func (l *LAPIC) ppr() uint8 {
	isrv := highestVec(&l.isr)
	if isrv < 0 {
		isrv = 0
	}
	if l.tpr>>4 >= uint8(isrv)>>4 {
		return l.tpr
	}
	return uint8(isrv) & 0xF0
}

// apr computes the arbitration priority (SDM: the P6/Pentium definition).
func (l *LAPIC) apr() uint8 {
	isrv, irrv := highestVec(&l.isr), highestVec(&l.irr)
	if isrv < 0 {
		isrv = 0
	}
	if irrv < 0 {
		irrv = 0
	}
	tc, sc, rc := l.tpr>>4, uint8(isrv)>>4, uint8(irrv)>>4
	if tc >= rc && tc > sc {
		return l.tpr
	}
	return max(tc, sc, rc) << 4
}

// fixedPending returns the IRR vector to deliver now, or -1.
func (l *LAPIC) fixedPending() int {
	if !l.hwEnabled || !l.swEnabled() {
		return -1
	}
	v := highestVec(&l.irr)
	if v < 0 || uint8(v)&0xF0 <= l.ppr()&0xF0 {
		return -1
	}
	return v
}

func (l *LAPIC) virtualWire() bool {
	if !l.acceptPIC || l.pic == nil {
		return false
	}
	lint0 := l.lvt[lvtLINT0]
	return lint0&lvtMasked == 0 && (lint0>>8)&7 == DeliveryExtINT
}

// Pending reports whether an external interrupt is pending for the vCPU
// (cpu.IntController): an ExtINT (PIC) interrupt, or an IRR vector whose
// priority class is above the PPR's.
func (l *LAPIC) Pending() bool {
	if !l.hwEnabled {
		return l.acceptPIC && l.pic != nil && l.pic.Pending()
	}
	if l.extInt {
		return true
	}
	if l.virtualWire() && l.pic.Pending() {
		return true
	}
	return l.fixedPending() >= 0
}

// Ack acknowledges the interrupt Pending reported and returns its vector
// (cpu.IntController): the PIC's vector for ExtINT, else the highest
// deliverable IRR vector, which moves from IRR to ISR. When nothing is
// deliverable any more it returns the spurious vector (SVR bits 0-7)
// without touching ISR.
func (l *LAPIC) Ack() uint8 {
	if !l.hwEnabled {
		if l.acceptPIC && l.pic != nil {
			return l.pic.Ack()
		}
		return uint8(l.svr)
	}
	if l.extInt {
		l.extInt = false
		if l.pic != nil {
			return l.pic.Ack()
		}
	}
	if l.virtualWire() && l.pic.Pending() {
		return l.pic.Ack()
	}
	v := l.fixedPending()
	if v < 0 {
		return uint8(l.svr)
	}
	clearVec(&l.irr, uint8(v))
	setVec(&l.isr, uint8(v))
	return uint8(v)
}

func (l *LAPIC) kickIfPending() {
	if l.hooks.Kick != nil && l.Pending() {
		l.hooks.Kick()
	}
}

// --- acceptance ---

// matchDest reports whether the LAPIC is a target of destination dest.
func (l *LAPIC) matchDest(dest uint8, logical bool) bool {
	if dest == 0xFF {
		return true // broadcast, physical or logical
	}
	if !logical {
		return dest == l.id
	}
	ldr := uint8(l.ldr >> 24)
	if l.dfr>>28 != 0 { // flat model (DFR 1111b; other non-zero models treated as flat)
		return ldr&dest != 0
	}
	// Cluster model: bits 4-7 cluster (15 = all clusters), 0-3 member mask.
	dc, lc := dest>>4, ldr>>4
	return (dc == lc || dc == 0xF) && dest&ldr&0xF != 0
}

// receive accepts a message from the bus; it reports whether it did.
func (l *LAPIC) receive(m Message) bool {
	if !l.hwEnabled {
		return false
	}
	switch m.Mode {
	case DeliveryFixed, DeliveryLowestPriority:
		return l.acceptFixed(m.Vector, m.LevelTrig)
	case DeliveryNMI:
		if l.hooks.NMI != nil {
			l.hooks.NMI()
		}
		return true
	case DeliveryINIT:
		l.init()
		return true
	case DeliveryStartup:
		if l.hooks.SIPI != nil {
			l.hooks.SIPI(m.Vector)
		}
		return true
	case DeliveryExtINT:
		if l.pic == nil {
			return false
		}
		l.extInt = true
		l.kickIfPending()
		return true
	}
	return false
}

func (l *LAPIC) init() {
	l.Reset()
	if l.hooks.INIT != nil {
		l.hooks.INIT()
	}
}

// acceptFixed sets vec in the IRR (and its TMR bit to the trigger mode).
func (l *LAPIC) acceptFixed(vec uint8, level bool) bool {
	if !l.hwEnabled || !l.swEnabled() {
		return false
	}
	if vec < 16 {
		l.signalError(esrRecvIllegalVector)
		return false
	}
	setVec(&l.irr, vec)
	if level {
		setVec(&l.tmr, vec)
	} else {
		clearVec(&l.tmr, vec)
	}
	l.kickIfPending()
	return true
}

// signalError records an APIC error and raises the error interrupt.
func (l *LAPIC) signalError(bit uint32) {
	l.esrAcc |= bit
	if l.inError {
		return
	}
	l.inError = true
	l.localInterrupt(lvtError)
	l.inError = false
}

// localInterrupt raises the interrupt of LVT entry idx (edge triggered).
func (l *LAPIC) localInterrupt(idx int) {
	if !l.hwEnabled {
		return
	}
	e := l.lvt[idx]
	if e&lvtMasked != 0 {
		return
	}
	mode := DeliveryFixed
	switch idx {
	case lvtThermal, lvtPerf, lvtLINT0, lvtLINT1, lvtCMCI:
		mode = int(e>>8) & 7
	}
	l.deliverLocal(mode, uint8(e), false)
}

func (l *LAPIC) deliverLocal(mode int, vec uint8, level bool) bool {
	switch mode {
	case DeliveryFixed:
		return l.acceptFixed(vec, level)
	case DeliveryNMI:
		if l.hooks.NMI != nil {
			l.hooks.NMI()
		}
		return true
	case DeliveryINIT:
		l.init()
		return true
	case DeliveryExtINT:
		// Virtual wire: the PIC is polled by Pending/Ack.
		l.kickIfPending()
		return true
	}
	return false // SMI, reserved
}

// SetLINT sets the level of the LINT0 (pin 0) or LINT1 (pin 1) input
// (true = asserted; the LVT polarity bit is not applied). An edge-triggered
// entry raises its interrupt on the rising edge; a level-triggered fixed
// entry raises it while asserted and its remote IRR (set on acceptance,
// cleared by the EOI of its vector) is clear. LINT0 in ExtINT mode ignores
// the input: the PIC is polled instead.
func (l *LAPIC) SetLINT(pin int, level bool) {
	if pin < 0 || pin > 1 {
		return
	}
	old := l.lint[pin]
	l.lint[pin] = level
	idx := lvtLINT0 + pin
	if l.lintLevelTrig(idx) {
		l.serviceLevelLINT(idx)
		return
	}
	if level && !old {
		l.localInterrupt(idx)
	}
}

func (l *LAPIC) lintLevelTrig(idx int) bool {
	e := l.lvt[idx]
	return e&lvtLevelTrig != 0 && (e>>8)&7 == DeliveryFixed
}

func (l *LAPIC) serviceLevelLINT(idx int) {
	e := l.lvt[idx]
	if !l.hwEnabled || !l.lint[idx-lvtLINT0] || e&(lvtMasked|lvtRemoteIRR) != 0 {
		return
	}
	if l.acceptFixed(uint8(e), true) {
		l.lvt[idx] |= lvtRemoteIRR
	}
}

// --- timer ---

func (l *LAPIC) timerDivisor() int64 {
	v := l.dcr&3 | (l.dcr>>1)&4
	return 1 << ((v + 1) & 7)
}

func (l *LAPIC) timerMode() uint32 { return (l.lvt[lvtTimer] >> 17) & 3 }

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func (l *LAPIC) currentCount() uint32 {
	if !l.tRunning || l.timerMode() > timerPeriodic {
		return 0
	}
	el := l.clk.Now() - l.tStart
	if el < 0 {
		el = 0
	}
	k := el / l.timerDivisor()
	if k < int64(l.tCount) {
		return l.tCount - uint32(k)
	}
	if l.timerMode() == timerPeriodic && l.tInitial != 0 {
		k -= int64(l.tCount)
		return l.tInitial - uint32(k%int64(l.tInitial))
	}
	return 0
}

func (l *LAPIC) armTimer() {
	l.timer.Reset(satAdd(l.tStart, int64(l.tCount)*l.timerDivisor()))
}

func (l *LAPIC) startTimer(count uint32) {
	if count == 0 {
		l.tRunning = false
		l.timer.Stop()
		return
	}
	l.tRunning = true
	l.tStart = l.clk.Now()
	l.tCount = count
	l.armTimer()
}

func (l *LAPIC) timerFired(now int64) {
	if !l.tRunning {
		return
	}
	if l.timerMode() == timerDeadline {
		l.deadlineFired()
		return
	}
	if l.timerMode() == timerPeriodic && l.tInitial != 0 {
		l.tStart = now
		l.tCount = l.tInitial
		l.armTimer()
	} else {
		l.tRunning = false
	}
	l.localInterrupt(lvtTimer)
}

// --- register access ---

// ReadMMIO reads the register page (off relative to 0xFEE00000).
func (l *LAPIC) ReadMMIO(off uint64, size int) uint64 {
	if !l.hwEnabled || l.x2 {
		if size < 1 || size >= 8 {
			return ^uint64(0)
		}
		return 1<<(8*uint(size)) - 1
	}
	return assembleRead(off, size, 0x1000, func(slot uint64) uint32 {
		v, ok := l.readReg(slot)
		if !ok {
			l.signalError(esrIllegalRegister)
		}
		return v
	})
}

// WriteMMIO writes the register page (off relative to 0xFEE00000).
func (l *LAPIC) WriteMMIO(off uint64, size int, v uint64) {
	if !l.hwEnabled || l.x2 || off >= 0x1000 || off&0xF != 0 || (size != 4 && size != 8) {
		return
	}
	l.writeReg(off, uint32(v))
}

func lvtIndex(slot uint64) (int, bool) {
	switch {
	case slot == 0x2F0:
		return lvtCMCI, true
	case slot >= 0x320 && slot <= 0x370:
		return int(slot-0x320) >> 4, true
	}
	return 0, false
}

func (l *LAPIC) readReg(slot uint64) (uint32, bool) {
	if i, ok := lvtIndex(slot); ok {
		return l.lvt[i], true
	}
	switch {
	case slot >= 0x100 && slot < 0x180:
		return l.isr[(slot-0x100)>>4], true
	case slot >= 0x180 && slot < 0x200:
		return l.tmr[(slot-0x180)>>4], true
	case slot >= 0x200 && slot < 0x280:
		return l.irr[(slot-0x200)>>4], true
	}
	switch slot {
	case 0x20:
		return uint32(l.id) << 24, true
	case 0x30:
		return lapicVersion, true
	case 0x80:
		return uint32(l.tpr), true
	case 0x90:
		return uint32(l.apr()), true
	case 0xA0:
		return uint32(l.ppr()), true
	case 0xB0, 0xC0: // EOI (write-only), remote read
		return 0, true
	case 0xD0:
		return l.ldr, true
	case 0xE0:
		return l.dfr, true
	case 0xF0:
		return l.svr, true
	case 0x280:
		return l.esr, true
	case 0x300:
		return l.icrLo, true
	case 0x310:
		return l.icrHi, true
	case 0x380:
		return l.tInitial, true
	case 0x390:
		return l.currentCount(), true
	case 0x3E0:
		return l.dcr, true
	}
	return 0, false
}

func (l *LAPIC) writeReg(slot uint64, v uint32) {
	if i, ok := lvtIndex(slot); ok {
		l.writeLVT(i, v)
		return
	}
	if slot >= 0x100 && slot < 0x280 {
		return // ISR, TMR, IRR: read-only
	}
	switch slot {
	case 0x20:
		l.id = uint8(v >> 24)
	case 0x30, 0x90, 0xA0, 0xC0, 0x390: // read-only
	case 0x80:
		l.tpr = uint8(v)
		l.kickIfPending()
	case 0xB0:
		l.eoi()
	case 0xD0:
		l.ldr = v & 0xFF000000
	case 0xE0:
		l.dfr = v | 0x0FFFFFFF
	case 0xF0:
		l.svr = v & 0x3FF
		if !l.swEnabled() {
			for i := range l.lvt {
				l.lvt[i] |= lvtMasked
			}
		}
		l.kickIfPending()
	case 0x280:
		l.esr = l.esrAcc
		l.esrAcc = 0
	case 0x300:
		l.icrLo = v & icrWritable
		l.sendIPI()
	case 0x310:
		l.icrHi = v & 0xFF000000
	case 0x380:
		if l.timerMode() > timerPeriodic {
			return // TSC-deadline / reserved mode: ignored
		}
		l.tInitial = v
		l.startTimer(v)
	case 0x3E0:
		cur := l.currentCount()
		l.dcr = v & 0xB
		if l.tRunning && cur != 0 {
			l.startTimer(cur)
		}
	default:
		l.signalError(esrIllegalRegister)
	}
}

func (l *LAPIC) writeLVT(i int, v uint32) {
	old := l.lvt[i]
	nv := v & lvtWritable[i]
	if !l.swEnabled() {
		nv |= lvtMasked
	}
	if i == lvtLINT0 || i == lvtLINT1 {
		nv |= old & lvtRemoteIRR
		if nv&lvtLevelTrig == 0 || (nv>>8)&7 != DeliveryFixed {
			nv &^= lvtRemoteIRR
		}
	}
	l.lvt[i] = nv
	switch i {
	case lvtTimer:
		nm, om := (nv>>17)&3, (old>>17)&3
		if nm > timerPeriodic && om <= timerPeriodic {
			l.tInitial = 0
			l.startTimer(0)
		}
		if om == timerDeadline && nm != timerDeadline {
			l.setDeadline(0) // leaving TSC-deadline mode disarms it
		}
	case lvtLINT0, lvtLINT1:
		if l.lintLevelTrig(i) {
			l.serviceLevelLINT(i)
		}
		if i == lvtLINT0 {
			l.kickIfPending()
		}
	}
}

func (l *LAPIC) eoi() {
	v := highestVec(&l.isr)
	if v < 0 {
		return
	}
	vec := uint8(v)
	clearVec(&l.isr, vec)
	if testVec(&l.tmr, vec) {
		for _, idx := range [2]int{lvtLINT0, lvtLINT1} {
			if e := l.lvt[idx]; e&lvtRemoteIRR != 0 && uint8(e) == vec {
				l.lvt[idx] &^= lvtRemoteIRR
				l.serviceLevelLINT(idx)
			}
		}
		l.bus.eoi(vec)
	}
	l.kickIfPending()
}

func (l *LAPIC) sendIPI() {
	lo := l.icrLo
	dest := l.icrHi >> 24
	if l.x2 {
		dest = l.icrHi // 32-bit destination
	}
	m := Message{
		X2:        l.x2,
		Dest:      dest,
		Logical:   lo&(1<<11) != 0,
		Mode:      int(lo>>8) & 7,
		Vector:    uint8(lo),
		Level:     lo&(1<<14) != 0,
		LevelTrig: lo&(1<<15) != 0,
		Shorthand: int(lo>>18) & 3,
		Source:    int(l.id),
	}
	if (m.Mode == DeliveryFixed || m.Mode == DeliveryLowestPriority) && m.Vector < 16 {
		l.signalError(esrSendIllegalVector)
		return
	}
	l.bus.deliver(m, l)
}

// --- introspection ---

// LAPICLVT holds the local vector table entries.
type LAPICLVT struct {
	Timer   uint32 `json:"timer"`
	Thermal uint32 `json:"thermal"`
	Perf    uint32 `json:"perf"`
	LINT0   uint32 `json:"lint0"`
	LINT1   uint32 `json:"lint1"`
	Error   uint32 `json:"error"`
	CMCI    uint32 `json:"cmci"`
}

// LAPICState is a snapshot of the local APIC's registers, for inspection.
type LAPICState struct {
	ID              uint8     `json:"id"`
	Version         uint32    `json:"version"`
	Base            uint64    `json:"apic_base"`
	Enabled         bool      `json:"enabled"`          // IA32_APIC_BASE bit 11
	SoftwareEnabled bool      `json:"software_enabled"` // SVR bit 8
	TPR             uint8     `json:"tpr"`
	APR             uint8     `json:"apr"`
	PPR             uint8     `json:"ppr"`
	LDR             uint32    `json:"ldr"`
	DFR             uint32    `json:"dfr"`
	SVR             uint32    `json:"svr"`
	ISR             [8]uint32 `json:"isr"`
	IRR             [8]uint32 `json:"irr"`
	TMR             [8]uint32 `json:"tmr"`
	LVT             LAPICLVT  `json:"lvt"`
	TimerDivide     uint32    `json:"timer_divide_config"`
	TimerDivisor    int64     `json:"timer_divisor"`
	TimerInitial    uint32    `json:"timer_initial"`
	TimerCurrent    uint32    `json:"timer_current"`
	TimerDeadline   int64     `json:"timer_deadline"` // virtual ns of the next expiry; -1 when not counting
	ICR             uint64    `json:"icr"`            // high half in bits 32-63
	ESR             uint32    `json:"esr"`
	ExtINTPending   bool      `json:"extint_pending"`
	X2APIC          bool      `json:"x2apic"`
	TSCDeadline     uint64    `json:"tsc_deadline"` // armed IA32_TSC_DEADLINE, 0 if none
	AcceptPIC       bool      `json:"accept_pic"`
	LINT            [2]bool   `json:"lint"` // LINT0/LINT1 input levels
}

// State returns a snapshot of the registers.
func (l *LAPIC) State() LAPICState {
	s := LAPICState{
		ID: l.id, Version: lapicVersion, Base: l.Base(), Enabled: l.hwEnabled, SoftwareEnabled: l.swEnabled(),
		TPR: l.tpr, APR: l.apr(), PPR: l.ppr(), LDR: l.ldr, DFR: l.dfr, SVR: l.svr,
		ISR: l.isr, IRR: l.irr, TMR: l.tmr,
		LVT: LAPICLVT{Timer: l.lvt[lvtTimer], Thermal: l.lvt[lvtThermal], Perf: l.lvt[lvtPerf],
			LINT0: l.lvt[lvtLINT0], LINT1: l.lvt[lvtLINT1], Error: l.lvt[lvtError], CMCI: l.lvt[lvtCMCI]},
		TimerDivide: l.dcr, TimerDivisor: l.timerDivisor(), TimerInitial: l.tInitial,
		TimerCurrent: l.currentCount(), TimerDeadline: -1,
		ICR: uint64(l.icrHi)<<32 | uint64(l.icrLo), ESR: l.esr,
		ExtINTPending: l.extInt, AcceptPIC: l.acceptPIC, LINT: l.lint, X2APIC: l.x2, TSCDeadline: l.tscDeadline,
	}
	if l.timer.Armed() {
		s.TimerDeadline = l.timer.Deadline()
	}
	return s
}

func lvtString(idx int, e uint32) string {
	pol := "active-hi"
	if e&lvtActiveLow != 0 {
		pol = "active-lo"
	}
	trig := "edge"
	if e&lvtLevelTrig != 0 {
		trig = "level"
	}
	masked := ""
	if e&lvtMasked != 0 {
		masked = "masked"
	}
	rirr := ""
	if e&lvtRemoteIRR != 0 {
		rirr = "remote-irr"
	}
	tmode := ""
	mode := DeliveryFixed
	switch idx {
	case lvtTimer:
		tmode = [4]string{"one-shot", "periodic", "tsc-deadline", "reserved"}[(e>>17)&3]
	case lvtError:
	default:
		mode = int(e>>8) & 7
	}
	s := fmt.Sprintf("%s\t 0x%08x %s %-5s %-6s %-10s %-12s %-6s", lvtNames[idx], e, pol, trig, masked, rirr, tmode,
		deliveryModeName(mode))
	if mode != DeliveryNMI {
		s += fmt.Sprintf(" (vec %d)", uint8(e))
	}
	return s
}

func vecList(r *[8]uint32) string {
	var b strings.Builder
	for v := 0; v < 256; v++ {
		if testVec(r, uint8(v)) {
			fmt.Fprintf(&b, " %d", v)
		}
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// Info writes a register dump in the style of QEMU's `info lapic`.
func (l *LAPIC) Info(w io.Writer) {
	fmt.Fprintf(w, "dumping local APIC state for CPU %d\n\n", l.id)
	fmt.Fprintf(w, "APIC_BASE\t 0x%016x %s, base 0x%08x%s%s\n", l.Base(), onOff(l.hwEnabled, "enabled", "disabled"),
		l.base, onOff(l.bsp, ", BSP", ""), onOff(l.x2, ", x2APIC mode", ""))
	for _, idx := range []int{lvtLINT0, lvtLINT1, lvtPerf, lvtError, lvtThermal, lvtCMCI, lvtTimer} {
		fmt.Fprintln(w, strings.TrimRight(lvtString(idx, l.lvt[idx]), " "))
	}
	fmt.Fprintf(w, "Timer\t DCR=0x%x (divide by %d) initial_count = %d current_count = %d",
		l.dcr, l.timerDivisor(), l.tInitial, l.currentCount())
	if l.timerMode() == timerDeadline {
		fmt.Fprintf(w, " TSC-deadline mode, IA32_TSC_DEADLINE = %d", l.tscDeadline)
	}
	if l.timer.Armed() {
		fmt.Fprintf(w, " next expiry at %d ns", l.timer.Deadline())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "SPIV\t 0x%08x APIC %s, focus=%s, spurious vec %d\n", l.svr,
		onOff(l.swEnabled(), "enabled", "disabled"), onOff(l.svr&(1<<9) != 0, "on", "off"), uint8(l.svr))
	lo := l.icrLo
	fmt.Fprintf(w, "ICR\t 0x%08x %s %s %s %s %s (vec %d)\n", lo,
		onOff(lo&(1<<11) != 0, "logical", "physical"), onOff(lo&(1<<15) != 0, "level", "edge"),
		onOff(lo&(1<<14) != 0, "assert", "de-assert"),
		[4]string{"no-shorthand", "self", "all-self", "all"}[(lo>>18)&3], deliveryModeName(int(lo>>8)&7), uint8(lo))
	if lo&(1<<11) != 0 {
		fmt.Fprintf(w, "ICR2\t 0x%08x mask %08b (logical)\n", l.icrHi, uint8(l.icrHi>>24))
	} else {
		fmt.Fprintf(w, "ICR2\t 0x%08x cpu %d (APIC ID)\n", l.icrHi, uint8(l.icrHi>>24))
	}
	fmt.Fprintf(w, "ESR\t 0x%08x (pending 0x%08x)\n", l.esr, l.esrAcc)
	fmt.Fprintf(w, "ISR\t%s\n", vecList(&l.isr))
	fmt.Fprintf(w, "IRR\t%s\n", vecList(&l.irr))
	fmt.Fprintf(w, "TMR\t%s\n", vecList(&l.tmr))
	fmt.Fprintf(w, "\nAPR 0x%02x TPR 0x%02x DFR 0x%02x LDR 0x%02x PPR 0x%02x\n",
		l.apr(), l.tpr, l.dfr>>24, l.ldr>>24, l.ppr())
	fmt.Fprintf(w, "ExtINT: accept_pic=%d virtual_wire=%d extint_pending=%d lint0=%d lint1=%d\n",
		b2u(l.acceptPIC), b2u(l.virtualWire()), b2u(l.extInt), b2u(l.lint[0]), b2u(l.lint[1]))
}

func (l *LAPIC) String() string {
	var b strings.Builder
	l.Info(&b)
	return b.String()
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}
