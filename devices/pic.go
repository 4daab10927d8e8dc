package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
)

// PIC is the cascaded pair of Intel 8259A programmable interrupt
// controllers of a PC/AT: the master at ports 0x20/0x21 (IRQ 0-7), the slave
// at 0xA0/0xA1 (IRQ 8-15) whose INT output drives the master's IR2, and the
// PIIX-style edge/level control registers (ELCR) at 0x4D0/0x4D1.
//
// Modelled from the 8259A datasheet:
//
//   - ICW1..ICW4 initialisation (ICW3 only in cascade mode, ICW4 only when
//     ICW1.IC4 is set; without ICW4 all ICW4 functions are zero). ICW1 clears
//     IMR, ISR and edge-latched requests, resets priority (IR7 lowest),
//     special mask mode and the read-register select (IRR).
//   - OCW1 (IMR), OCW2 (non-specific/specific EOI, rotate on non-specific /
//     specific EOI, set/clear rotate in automatic-EOI mode, set priority),
//     OCW3 (read IRR/ISR select, poll command, special mask mode).
//   - Edge vs level triggering: ELCR (or ICW1.LTIM, which makes all of a
//     chip's inputs level sensitive). Edge: a rising edge latches the request
//     in IRR until it is acknowledged. Level: IRR follows the line.
//   - Automatic EOI, fully nested priority with rotation, special fully
//     nested mode on the master.
//   - Spurious interrupts: when the request that made INTR pending is gone
//     at INTA time (line dropped, masked, ...), the chip answers with vector
//     base+7 and does not set ISR. For a spurious slave interrupt the master
//     still sets ISR bit 2, as on real hardware, so the handler of the
//     spurious IRQ 15 must EOI the master.
//
// The slave's INT output is latched into the master's IR2 on its rising
// edge. When the slave still requests service right after an acknowledge
// (automatic EOI, or a level-triggered input that stays high) the master's
// IR2 is re-latched, as the slave's INT output would pulse on real hardware.
// Whether IR2 is the cascade input is decided by the master's single-mode
// bit (ICW1.SNGL); the wiring is fixed to IR2 as on every PC.
type PIC struct {
	chips [2]pic8259 // 0 = master, 1 = slave
}

type pic8259 struct {
	irr, isr, imr uint8
	level         uint8 // current input line levels
	elcr          uint8
	elcrMask      uint8
	base          uint8 // ICW2 & 0xF8
	icw1, icw3    uint8
	icw4          uint8
	initStep      int // 0: ready; 2, 3, 4: expecting ICW2, ICW3, ICW4
	single        bool
	ltim          bool
	autoEOI       bool
	rotateAEOI    bool
	sfnm          bool
	readISR       bool
	poll          bool
	smm           bool
	prioAdd       uint8 // IR with the highest priority
}

// NewPIC returns the PIC pair in its power-on state (all zero, as after
// QEMU's reset: vectors 0x00/0x00, nothing masked, everything edge
// triggered). The BIOS or OS must initialise it with ICW1..ICW4.
func NewPIC() *PIC {
	p := &PIC{}
	p.chips[0].elcrMask = 0xF8 // IRQ 0, 1, 2 are always edge (PIIX)
	p.chips[1].elcrMask = 0xDE // IRQ 8 and 13 are always edge
	p.Reset()
	return p
}

// Reset returns both chips to the power-on state. Input line levels and the
// ELCR are kept (they belong to the board, not to the chip's programming).
func (p *PIC) Reset() {
	for i := range p.chips {
		c := &p.chips[i]
		lvl, elcr, mask := c.level, c.elcr, c.elcrMask
		*c = pic8259{level: lvl, elcr: elcr, elcrMask: mask}
		c.irr = c.level & c.levelMask()
	}
	p.update()
}

// Register maps the PIC ports 0x20-0x21, 0xA0-0xA1 and the ELCR 0x4D0-0x4D1.
func (p *PIC) Register(s *memmap.Space) {
	s.AddPorts("pic-master", 0x20, 2, p)
	s.AddPorts("pic-slave", 0xA0, 2, p)
	s.AddPorts("elcr", 0x4D0, 2, p)
}

// SetIRQ sets the level of ISA IRQ line 0..15. Other lines are ignored.
// Line 2 is the master's cascade input: it is driven by the slave, so
// setting it from outside has no effect unless the master is in single mode.
func (p *PIC) SetIRQ(line int, level bool) {
	if line < 0 || line > 15 {
		return
	}
	if line == 2 {
		// IRQ 2 on the ISA bus is wired to IRQ 9 on an AT; the master's IR2
		// input belongs to the slave.
		if !p.chips[0].single {
			return
		}
	}
	p.chips[line>>3].setLine(line&7, level)
	p.update()
}

// Pending reports whether the master's INT output (the CPU's INTR line) is
// asserted: some unmasked request has a higher priority than every
// in-service interrupt.
func (p *PIC) Pending() bool { return p.chips[0].pendingIRQ(true) >= 0 }

// Ack performs the CPU's interrupt acknowledge cycle and returns the vector.
// It updates IRR/ISR of the master and, for the cascade input, the slave.
// If nothing is pending it returns the master's spurious vector (base+7).
func (p *PIC) Ack() uint8 {
	m, s := &p.chips[0], &p.chips[1]
	irq := m.pendingIRQ(true)
	if irq < 0 {
		// Spurious IRQ 7: ISR untouched.
		p.update()
		return m.base | 7
	}
	m.ack(irq)
	var vec uint8
	if irq == 2 && !m.single {
		irq2 := s.pendingIRQ(false)
		if irq2 < 0 {
			vec = s.base | 7 // spurious IRQ 15
		} else {
			s.ack(irq2)
			vec = s.base + uint8(irq2)
		}
		p.update()
		if s.pendingIRQ(false) >= 0 {
			// The slave still requests service: its INT output pulses,
			// re-latching IR2 on the master.
			m.irr |= 1 << 2
		}
		return vec
	}
	vec = m.base + uint8(irq)
	p.update()
	return vec
}

// update propagates the slave's INT output to the master's IR2.
func (p *PIC) update() {
	m, s := &p.chips[0], &p.chips[1]
	if !m.single {
		m.setLine(2, s.pendingIRQ(false) >= 0)
	}
}

// In implements memmap.PortIO.
func (p *PIC) In(port uint16, size int) uint32 { return inBytes(p, port, size) }

// Out implements memmap.PortIO.
func (p *PIC) Out(port uint16, size int, v uint32) { outBytes(p, port, size, v) }

func (p *PIC) owns(port uint16) bool {
	switch port {
	case 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1:
		return true
	}
	return false
}

func (p *PIC) in8(port uint16) uint8 {
	switch port {
	case 0x4D0, 0x4D1:
		return p.chips[port&1].elcr
	}
	idx := 0
	if port&0x80 != 0 {
		idx = 1
	}
	c := &p.chips[idx]
	if port&1 == 1 {
		return c.imr
	}
	if c.poll {
		c.poll = false
		irq := c.pendingIRQ(idx == 0)
		if irq < 0 {
			return 0
		}
		c.ack(irq)
		p.update()
		return 0x80 | uint8(irq)
	}
	if c.readISR {
		return c.isr
	}
	return c.irr
}

func (p *PIC) out8(port uint16, v uint8) {
	switch port {
	case 0x4D0, 0x4D1:
		c := &p.chips[port&1]
		c.elcr = v & c.elcrMask
		c.relevel()
		p.update()
		return
	}
	idx := 0
	if port&0x80 != 0 {
		idx = 1
	}
	c := &p.chips[idx]
	if port&1 == 0 {
		switch {
		case v&0x10 != 0:
			c.writeICW1(v)
		case v&0x08 != 0:
			c.writeOCW3(v)
		default:
			c.writeOCW2(v)
		}
	} else {
		c.writeData(v)
	}
	p.update()
}

// --- one 8259A ---

func (c *pic8259) levelMask() uint8 {
	if c.ltim {
		return 0xFF
	}
	return c.elcr
}

// relevel makes IRR follow the lines of level-triggered inputs.
func (c *pic8259) relevel() {
	lm := c.levelMask()
	c.irr = c.irr&^lm | c.level&lm
}

func (c *pic8259) setLine(line int, hi bool) {
	bit := uint8(1) << uint(line&7)
	if c.levelMask()&bit != 0 {
		if hi {
			c.irr |= bit
		} else {
			c.irr &^= bit
		}
	} else if hi && c.level&bit == 0 {
		c.irr |= bit // rising edge
	}
	if hi {
		c.level |= bit
	} else {
		c.level &^= bit
	}
}

// priority returns the priority rank (0 = highest) of the highest-priority
// bit set in mask, or 8 if mask is empty.
func (c *pic8259) priority(mask uint8) int {
	if mask == 0 {
		return 8
	}
	for i := 0; i < 8; i++ {
		if mask&(1<<((uint(i)+uint(c.prioAdd))&7)) != 0 {
			return i
		}
	}
	return 8
}

func (c *pic8259) rankToIRQ(rank int) int { return (rank + int(c.prioAdd)) & 7 }

// pendingIRQ returns the IR input that would be acknowledged now, or -1 if
// the chip's INT output is inactive.
func (c *pic8259) pendingIRQ(master bool) int {
	req := c.irr &^ c.imr
	if req == 0 {
		return -1
	}
	if c.smm {
		// Special mask mode: every unmasked level that is not itself in
		// service may interrupt, lower priorities included.
		req &^= c.isr
		if req == 0 {
			return -1
		}
		return c.rankToIRQ(c.priority(req))
	}
	prio := c.priority(req)
	cur := c.priority(c.isr)
	if prio < cur {
		return c.rankToIRQ(prio)
	}
	if master && c.sfnm && !c.single && prio == cur && c.rankToIRQ(prio) == 2 {
		// Special fully nested mode: the slave may interrupt again while one
		// of its requests is in service.
		return 2
	}
	return -1
}

func (c *pic8259) ack(irq int) {
	bit := uint8(1) << uint(irq&7)
	if c.levelMask()&bit == 0 {
		c.irr &^= bit
	}
	if c.autoEOI {
		if c.rotateAEOI {
			c.prioAdd = uint8(irq+1) & 7
		}
		return
	}
	c.isr |= bit
}

func (c *pic8259) writeICW1(v uint8) {
	c.icw1 = v
	c.ltim = v&0x08 != 0
	c.single = v&0x02 != 0
	c.imr = 0
	c.isr = 0
	c.irr = 0
	c.prioAdd = 0
	c.smm = false
	c.readISR = false
	c.poll = false
	c.autoEOI = false
	c.rotateAEOI = false
	c.sfnm = false
	c.icw4 = 0
	// Edge-sense latches are reset: an input must make a new low-to-high
	// transition. Level-sensitive inputs show their current line.
	c.relevel()
	c.initStep = 2
}

func (c *pic8259) writeData(v uint8) {
	switch c.initStep {
	case 2:
		c.base = v & 0xF8
		switch {
		case !c.single:
			c.initStep = 3
		case c.icw1&0x01 != 0:
			c.initStep = 4
		default:
			c.initStep = 0
		}
	case 3:
		c.icw3 = v
		if c.icw1&0x01 != 0 {
			c.initStep = 4
		} else {
			c.initStep = 0
		}
	case 4:
		c.icw4 = v
		c.autoEOI = v&0x02 != 0
		c.sfnm = v&0x10 != 0
		c.initStep = 0
	default:
		c.imr = v // OCW1
	}
}

func (c *pic8259) writeOCW2(v uint8) {
	level := int(v & 7)
	switch v >> 5 {
	case 0: // clear rotate in automatic EOI mode
		c.rotateAEOI = false
	case 4: // set rotate in automatic EOI mode
		c.rotateAEOI = true
	case 1, 5: // non-specific EOI (5: and rotate)
		rank := c.priority(c.isr)
		if rank == 8 {
			return
		}
		irq := c.rankToIRQ(rank)
		c.isr &^= 1 << uint(irq)
		if v>>5 == 5 {
			c.prioAdd = uint8(irq+1) & 7
		}
	case 3: // specific EOI
		c.isr &^= 1 << uint(level)
	case 7: // rotate on specific EOI
		c.isr &^= 1 << uint(level)
		c.prioAdd = uint8(level+1) & 7
	case 6: // set priority: level becomes the lowest
		c.prioAdd = uint8(level+1) & 7
	case 2: // no operation
	}
}

func (c *pic8259) writeOCW3(v uint8) {
	if v&0x02 != 0 {
		c.readISR = v&0x01 != 0
	}
	c.poll = v&0x04 != 0
	if v&0x40 != 0 {
		c.smm = v&0x20 != 0
	}
}

// Info writes the state of both chips, in the style of QEMU's `info pic`.
func (p *PIC) Info(w io.Writer) {
	for i := range p.chips {
		c := &p.chips[i]
		sel := "irr"
		if c.readISR {
			sel = "isr"
		}
		fmt.Fprintf(w, "pic%d: irr=%02x imr=%02x isr=%02x hprio=%d irq_base=%02x rr_sel=%s elcr=%02x fnm=%d\n",
			i, c.irr, c.imr, c.isr, c.prioAdd, c.base, sel, c.elcr, b2u(c.sfnm))
		fmt.Fprintf(w, "      lines=%02x init=%s ltim=%d single=%d aeoi=%d rot_aeoi=%d smm=%d poll=%d icw3=%02x icw4=%02x int=%d\n",
			c.level, initName(c.initStep), b2u(c.ltim), b2u(c.single), b2u(c.autoEOI), b2u(c.rotateAEOI),
			b2u(c.smm), b2u(c.poll), c.icw3, c.icw4, b2u(c.pendingIRQ(i == 0) >= 0))
	}
}

func initName(step int) string {
	switch step {
	case 2:
		return "icw2"
	case 3:
		return "icw3"
	case 4:
		return "icw4"
	}
	return "done"
}

func (p *PIC) String() string {
	var b strings.Builder
	p.Info(&b)
	return b.String()
}

// PICChipState is one 8259's registers, for inspection.
type PICChipState struct {
	IRR, ISR, IMR, ELCR, Base, Lines uint8
	AutoEOI, Initialised             bool
}

// State returns the master (index 0) and slave registers.
func (p *PIC) State() [2]PICChipState {
	var s [2]PICChipState
	for i := range p.chips {
		c := &p.chips[i]
		s[i] = PICChipState{IRR: c.irr, ISR: c.isr, IMR: c.imr, ELCR: c.elcr, Base: c.base, Lines: c.level,
			AutoEOI: c.autoEOI, Initialised: c.initStep == 0}
	}
	return s
}
