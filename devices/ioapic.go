package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
)

// IOAPICPins is the number of interrupt inputs of the I/O APIC.
const IOAPICPins = 24

const (
	ioapicVersion = 0x00170011 // version 0x11, max redirection entry 23

	redirMasked    = 1 << 16
	redirLevelTrig = 1 << 15
	redirRemoteIRR = 1 << 14
	redirActiveLow = 1 << 13
	redirLogical   = 1 << 11
	redirWritable  = 0x0001AFFF // vector, delivery mode, dest mode, polarity, trigger, mask
)

// IOAPIC is an Intel 82093AA I/O APIC with 24 input pins, mapped at
// 0xFEC00000 (see Register): IOREGSEL at offset 0x00 (8 bits), IOWIN at
// 0x10 (32 bits) and, as on the later version 0x20 parts, an EOI register
// at 0x40 (writing a vector there has the effect of a LAPIC EOI broadcast
// of that vector). The version register reads 0x00170011 as asked for; a
// guest that trusts it does not use the EOI register.
//
// Indirect registers: 0x00 ID (bits 24-27), 0x01 version, 0x02 arbitration
// ID (reads as the ID), 0x10-0x3F the redirection table, each 64-bit entry
// as two 32-bit halves (low at 0x10+2n). Other indices read 0 and ignore
// writes.
//
// Redirection entries: vector (0-7), delivery mode (8-10: fixed, lowest
// priority, SMI, NMI, INIT, ExtINT), destination mode (11), delivery status
// (12, always reads 0: delivery is immediate), polarity (13, stored but not
// applied: SetIRQ's level means asserted, as for every IRQSink and as in
// QEMU), remote IRR (14, read-only), trigger mode (15), mask (16) and the
// destination (bits 56-63). Reset: every entry masked (0x10000).
//
// Edge-triggered pins send a message on each rising edge while unmasked;
// an edge on a masked pin is lost (82093AA datasheet). Level-triggered pins
// send a message while asserted, unmasked and with remote IRR clear; a
// fixed or lowest-priority message that some LAPIC accepted sets remote
// IRR, which a LAPIC EOI of the entry's vector (EOI, broadcast over the
// APICBus) clears, re-sending the message if the pin is still asserted.
// Writing an entry with edge trigger mode clears its remote IRR (what
// Linux relies on for IOAPICs without an EOI register). Messages are sent
// synchronously through the APICBus with Level=true.
//
// Access sizes: reads of any size return the bytes of the 16-byte-slot view
// (register in the first 4 bytes, zeros elsewhere); IOREGSEL takes the low
// byte of any write at offset 0, IOWIN takes writes of 4 or 8 bytes at
// offset 0x10 (others are dropped, as in QEMU), the EOI register takes the
// low byte of any write at offset 0x40.
type IOAPIC struct {
	id    uint8 // ID at construction (and after Reset)
	regID uint8 // ID register bits 24-27
	bus   *APICBus
	sel   uint8
	redir [IOAPICPins]uint64
	lines uint32 // asserted inputs
}

// NewIOAPIC returns the I/O APIC with the given 4-bit ID (bits 4-7 are
// dropped) in its reset state, attached to bus (for interrupt messages and
// EOI broadcasts). bus may be nil: messages are then dropped.
func NewIOAPIC(id uint8, bus *APICBus) *IOAPIC {
	a := &IOAPIC{id: id & 0x0F, bus: bus}
	if bus != nil {
		bus.addIOAPIC(a)
	}
	a.Reset()
	return a
}

// Reset masks every redirection entry (clearing remote IRR), restores the
// ID given to NewIOAPIC and clears IOREGSEL. Input levels are kept.
func (a *IOAPIC) Reset() {
	a.regID = a.id
	a.sel = 0
	for i := range a.redir {
		a.redir[i] = redirMasked
	}
}

// Register maps the I/O APIC's 4 KiB page at 0xFEC00000.
func (a *IOAPIC) Register(s *memmap.Space) {
	s.AddMMIO("ioapic", IOAPICDefaultBase, 0x1000, a, 0)
}

// SetIRQ sets the level of input pin line (0..23; other lines are ignored).
// level true means asserted. The pin number is the line number: routing
// ISA IRQ 0 to pin 2 is the machine's business.
func (a *IOAPIC) SetIRQ(line int, level bool) {
	if line < 0 || line >= IOAPICPins {
		return
	}
	bit := uint32(1) << uint(line)
	old := a.lines&bit != 0
	if level {
		a.lines |= bit
	} else {
		a.lines &^= bit
	}
	if !level {
		return
	}
	if a.redir[line]&redirLevelTrig != 0 {
		a.service(line)
	} else if !old {
		a.send(line)
	}
}

// Assert drives pin line high and, unlike SetIRQ, sends an edge-triggered
// pin's message even when the line was already high: QEMU's I/O APIC does
// no edge detection (ioapic_set_irq), which a guest sees through devices
// that may set a line to 1 twice (pc-testdev's IRQ-line ports).
func (a *IOAPIC) Assert(line int) {
	if line < 0 || line >= IOAPICPins {
		return
	}
	a.lines &^= 1 << uint(line)
	a.SetIRQ(line, true)
}

// service sends the message of a level-triggered pin if it is due.
func (a *IOAPIC) service(pin int) {
	e := a.redir[pin]
	if e&redirLevelTrig == 0 || a.lines&(1<<uint(pin)) == 0 || e&(redirMasked|redirRemoteIRR) != 0 {
		return
	}
	a.send(pin)
}

// send delivers the message of pin (when unmasked).
func (a *IOAPIC) send(pin int) {
	e := a.redir[pin]
	if e&redirMasked != 0 {
		return
	}
	mode := int(e>>8) & 7
	if mode == DeliveryStartup {
		return // reserved for the I/O APIC
	}
	level := e&redirLevelTrig != 0
	m := Message{
		Dest:      uint32(e >> 56),
		Logical:   e&redirLogical != 0,
		Mode:      mode,
		Vector:    uint8(e),
		Level:     true,
		LevelTrig: level,
		Source:    -1,
	}
	n := a.bus.deliver(m, nil)
	if level && n > 0 && (mode == DeliveryFixed || mode == DeliveryLowestPriority) {
		a.redir[pin] |= redirRemoteIRR
	}
}

// EOI handles the EOI of a level-triggered vector (a LAPIC EOI broadcast
// or a write of the EOI register): every level-triggered pin with that
// vector and remote IRR set has remote IRR cleared and, if still asserted
// and unmasked, sends its message again.
func (a *IOAPIC) EOI(vector uint8) {
	for pin := range a.redir {
		e := a.redir[pin]
		if e&redirLevelTrig == 0 || e&redirRemoteIRR == 0 || uint8(e) != vector {
			continue
		}
		a.redir[pin] &^= redirRemoteIRR
		a.service(pin)
	}
}

// ReadMMIO implements memmap.MMIO.
func (a *IOAPIC) ReadMMIO(off uint64, size int) uint64 {
	return assembleRead(off, size, 0x1000, func(slot uint64) uint32 {
		switch slot {
		case 0x00:
			return uint32(a.sel)
		case 0x10:
			return a.readReg(a.sel)
		}
		return 0
	})
}

// WriteMMIO implements memmap.MMIO.
func (a *IOAPIC) WriteMMIO(off uint64, size int, v uint64) {
	switch off {
	case 0x00:
		a.sel = uint8(v)
	case 0x10:
		if size == 4 || size == 8 {
			a.writeReg(a.sel, uint32(v))
		}
	case 0x40:
		a.EOI(uint8(v))
	}
}

func (a *IOAPIC) readReg(idx uint8) uint32 {
	switch {
	case idx == 0x00, idx == 0x02:
		return uint32(a.regID) << 24
	case idx == 0x01:
		return ioapicVersion
	case idx >= 0x10 && idx < 0x10+2*IOAPICPins:
		pin := (idx - 0x10) / 2
		if idx&1 == 1 {
			return uint32(a.redir[pin] >> 32)
		}
		return uint32(a.redir[pin])
	}
	return 0
}

func (a *IOAPIC) writeReg(idx uint8, v uint32) {
	switch {
	case idx == 0x00:
		a.regID = uint8(v>>24) & 0x0F
	case idx >= 0x10 && idx < 0x10+2*IOAPICPins:
		pin := (idx - 0x10) / 2
		old := a.redir[pin]
		if idx&1 == 1 {
			a.redir[pin] = uint64(v&0xFF000000)<<32 | old&0xFFFFFFFF
		} else {
			lo := uint64(v&redirWritable) | old&redirRemoteIRR
			if lo&redirLevelTrig == 0 {
				lo &^= redirRemoteIRR
			}
			a.redir[pin] = old&^0xFFFFFFFF | lo
		}
		a.service(int(pin))
	}
}

// ID returns the ID register's value (bits 24-27 of register 0).
func (a *IOAPIC) ID() uint8 { return a.regID }

// IOAPICState is a snapshot of the I/O APIC, for inspection.
type IOAPICState struct {
	ID        uint8              `json:"id"`
	Version   uint32             `json:"version"`
	Sel       uint8              `json:"ioregsel"`
	Redir     [IOAPICPins]uint64 `json:"redir"`
	Lines     uint32             `json:"lines"`      // bit n: pin n asserted
	RemoteIRR uint32             `json:"remote_irr"` // bit n: pin n's remote IRR
}

// State returns a snapshot of the registers and input levels.
func (a *IOAPIC) State() IOAPICState {
	s := IOAPICState{ID: a.regID, Version: ioapicVersion, Sel: a.sel, Redir: a.redir, Lines: a.lines}
	for i, e := range a.redir {
		if e&redirRemoteIRR != 0 {
			s.RemoteIRR |= 1 << uint(i)
		}
	}
	return s
}

func pinList(mask uint32) string {
	var b strings.Builder
	for i := 0; i < IOAPICPins; i++ {
		if mask&(1<<uint(i)) != 0 {
			fmt.Fprintf(&b, " %d", i)
		}
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// Info writes the redirection table in the style of QEMU's `info pic`
// I/O APIC dump.
func (a *IOAPIC) Info(w io.Writer) {
	sel := ""
	if a.sel >= 0x10 && a.sel < 0x10+2*IOAPICPins {
		sel = fmt.Sprintf(" (redir[%d])", (a.sel-0x10)/2)
	}
	fmt.Fprintf(w, "ioapic0: ver=0x%x id=0x%02x sel=0x%02x%s\n", ioapicVersion&0xFF, a.regID, a.sel, sel)
	for pin, e := range a.redir {
		dm := "physical"
		if e&redirLogical != 0 {
			dm = "logical"
		}
		fmt.Fprintf(w, "  pin %-2d 0x%016x dest=%d vec=%-3d %s %-5s %-6s %-6s %s\n", pin, e, uint8(e>>56), uint8(e),
			onOff(e&redirActiveLow != 0, "active-lo", "active-hi"), onOff(e&redirLevelTrig != 0, "level", "edge"),
			onOff(e&redirMasked != 0, "masked", ""), deliveryModeName(int(e>>8)&7), dm)
	}
	var rirr uint32
	for i, e := range a.redir {
		if e&redirRemoteIRR != 0 {
			rirr |= 1 << uint(i)
		}
	}
	fmt.Fprintf(w, "  Lines     %s\n", pinList(a.lines))
	fmt.Fprintf(w, "  Remote IRR%s\n", pinList(rirr))
}

func (a *IOAPIC) String() string {
	var b strings.Builder
	a.Info(&b)
	return b.String()
}
