package devices

import (
	"strings"
	"testing"

	"glassbox/memmap"
)

// initPC programs the pair the way a PC BIOS does: vectors 0x08/0x70,
// cascade on IR2, 8086 mode, optionally auto-EOI, nothing masked.
func initPC(p *PIC, icw4 uint8) {
	out8(p, 0x20, 0x11)
	out8(p, 0x21, 0x08)
	out8(p, 0x21, 0x04)
	out8(p, 0x21, icw4)
	out8(p, 0xA0, 0x11)
	out8(p, 0xA1, 0x70)
	out8(p, 0xA1, 0x02)
	out8(p, 0xA1, icw4)
	out8(p, 0x21, 0x00)
	out8(p, 0xA1, 0x00)
}

func pulse(p *PIC, line int) {
	p.SetIRQ(line, true)
	p.SetIRQ(line, false)
}

func readISR(p *PIC, port uint16) uint8 {
	out8(p, port, 0x0B)
	v := in8(p, port)
	out8(p, port, 0x0A)
	return v
}

func TestPICBasicInitAckEOI(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	if p.Pending() {
		t.Fatal("pending after init")
	}
	pulse(p, 1)
	if !p.Pending() {
		t.Fatal("IRQ1 not pending")
	}
	expect8(t, "IRR", in8(p, 0x20), 0x02)
	expect8(t, "vector", p.Ack(), 0x09)
	expect8(t, "IRR after ack", in8(p, 0x20), 0x00)
	expect8(t, "ISR", readISR(p, 0x20), 0x02)
	if p.Pending() {
		t.Fatal("still pending after ack")
	}
	out8(p, 0x20, 0x20) // non-specific EOI
	expect8(t, "ISR after EOI", readISR(p, 0x20), 0x00)
	expect8(t, "IMR", in8(p, 0x21), 0x00)
}

func TestPICVectorBaseLowBitsMasked(t *testing.T) {
	p := NewPIC()
	out8(p, 0x20, 0x13) // single mode, ICW4 needed
	out8(p, 0x21, 0x27) // low 3 bits ignored -> 0x20
	out8(p, 0x21, 0x01) // ICW4 (no ICW3 in single mode)
	out8(p, 0x21, 0xFE) // OCW1
	expect8(t, "IMR", in8(p, 0x21), 0xFE)
	pulse(p, 0)
	expect8(t, "vector", p.Ack(), 0x20)
}

func TestPICICW4Optional(t *testing.T) {
	// Cascade mode without ICW4: ICW2, ICW3, then the next data write is OCW1.
	p := NewPIC()
	out8(p, 0x20, 0x10)
	out8(p, 0x21, 0x40)
	out8(p, 0x21, 0x04)
	out8(p, 0x21, 0x5A)
	expect8(t, "IMR", in8(p, 0x21), 0x5A)
	// Single mode without ICW4: only ICW2.
	out8(p, 0x20, 0x12)
	expect8(t, "IMR cleared by ICW1", in8(p, 0x21), 0x00)
	out8(p, 0x21, 0x50)
	out8(p, 0x21, 0x33)
	expect8(t, "IMR", in8(p, 0x21), 0x33)
	// Without ICW4 auto-EOI is off even if it was on before.
	out8(p, 0x20, 0x13)
	out8(p, 0x21, 0x08)
	out8(p, 0x21, 0x03) // AEOI
	out8(p, 0x20, 0x12) // re-init, no ICW4
	out8(p, 0x21, 0x08)
	pulse(p, 3)
	p.Ack()
	expect8(t, "ISR (no AEOI)", readISR(p, 0x20), 0x08)
}

func TestPICMaskLatchesRequest(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	out8(p, 0x21, 0x10) // mask IRQ4
	pulse(p, 4)
	if p.Pending() {
		t.Fatal("masked IRQ pending")
	}
	expect8(t, "IRR", in8(p, 0x20), 0x10)
	out8(p, 0x21, 0x00)
	if !p.Pending() {
		t.Fatal("unmasked IRQ not pending")
	}
	expect8(t, "vector", p.Ack(), 0x0C)
}

func TestPICFixedPriorityAndNesting(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	pulse(p, 5)
	pulse(p, 3)
	expect8(t, "first", p.Ack(), 0x0B) // IRQ3 beats IRQ5
	if p.Pending() {
		t.Fatal("IRQ5 must wait for IRQ3's EOI")
	}
	pulse(p, 1) // higher priority nests
	if !p.Pending() {
		t.Fatal("IRQ1 should preempt IRQ3")
	}
	expect8(t, "nested", p.Ack(), 0x09)
	expect8(t, "ISR", readISR(p, 0x20), 0x0A)
	out8(p, 0x20, 0x20) // EOI clears IRQ1 (highest in service)
	expect8(t, "ISR after EOI", readISR(p, 0x20), 0x08)
	if p.Pending() {
		t.Fatal("IRQ5 still blocked by IRQ3")
	}
	out8(p, 0x20, 0x63) // specific EOI IRQ3
	expect8(t, "ISR after specific EOI", readISR(p, 0x20), 0x00)
	expect8(t, "next", p.Ack(), 0x0D)
	// Specific EOI of a level not in service changes nothing else.
	out8(p, 0x20, 0x61)
	expect8(t, "ISR", readISR(p, 0x20), 0x20)
	out8(p, 0x20, 0x20)
	// Non-specific EOI with nothing in service is harmless.
	out8(p, 0x20, 0x20)
	expect8(t, "ISR", readISR(p, 0x20), 0x00)
}

func TestPICRotation(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	// Rotate on non-specific EOI: the serviced level becomes lowest.
	pulse(p, 3)
	expect8(t, "v", p.Ack(), 0x0B)
	out8(p, 0x20, 0xA0)
	pulse(p, 2+0) // line 2 is the cascade: ignored in cascade mode
	pulse(p, 1)
	pulse(p, 4)
	// Priority now 4 > 5 > 6 > 7 > 0 > 1 > 2 > 3.
	expect8(t, "after rotate", p.Ack(), 0x0C)
	out8(p, 0x20, 0x20)
	expect8(t, "then", p.Ack(), 0x09)
	out8(p, 0x20, 0x20)

	// Set priority: IRQ6 lowest -> IRQ7 highest.
	out8(p, 0x20, 0xC6)
	pulse(p, 0)
	pulse(p, 7)
	expect8(t, "set priority", p.Ack(), 0x0F)
	// Rotate on specific EOI for IRQ7 -> IRQ0 highest again.
	out8(p, 0x20, 0xE7)
	expect8(t, "ISR", readISR(p, 0x20), 0x00)
	pulse(p, 6)
	expect8(t, "rotated", p.Ack(), 0x08)
	out8(p, 0x20, 0x20)
	expect8(t, "last", p.Ack(), 0x0E)
	out8(p, 0x20, 0x20)
}

func TestPICAutoEOIAndRotate(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x03)
	pulse(p, 2+1)
	expect8(t, "v", p.Ack(), 0x0B)
	expect8(t, "ISR (AEOI)", readISR(p, 0x20), 0x00)
	// Rotate in auto-EOI mode.
	out8(p, 0x20, 0x80)
	pulse(p, 3)
	p.Ack() // IRQ3 becomes lowest
	pulse(p, 1)
	pulse(p, 4)
	expect8(t, "rotated", p.Ack(), 0x0C)
	out8(p, 0x20, 0x00) // clear rotate in AEOI
	pulse(p, 5)
	expect8(t, "v", p.Ack(), 0x0D) // 5 > ... > 1 after rotation to 4
	expect8(t, "v", p.Ack(), 0x09)
}

func TestPICReadRegisterSelect(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	pulse(p, 6)
	pulse(p, 0)
	p.Ack()
	out8(p, 0x20, 0x0B)
	expect8(t, "ISR", in8(p, 0x20), 0x01)
	expect8(t, "ISR again", in8(p, 0x20), 0x01)
	out8(p, 0x20, 0x08) // RR=0: selection unchanged
	expect8(t, "still ISR", in8(p, 0x20), 0x01)
	out8(p, 0x20, 0x0A)
	expect8(t, "IRR", in8(p, 0x20), 0x40)
}

func TestPICPollMode(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	out8(p, 0x20, 0x0C)
	expect8(t, "poll nothing", in8(p, 0x20), 0x00)
	pulse(p, 5)
	out8(p, 0x20, 0x0C)
	expect8(t, "poll", in8(p, 0x20), 0x85)
	expect8(t, "ISR after poll", readISR(p, 0x20), 0x20)
	expect8(t, "poll ends", in8(p, 0x20), 0x00) // back to IRR
	out8(p, 0x20, 0x20)
	// Slave poll.
	p.SetIRQ(11, true)
	out8(p, 0xA0, 0x0C)
	expect8(t, "slave poll", in8(p, 0xA0), 0x83)
}

func TestPICSpecialMaskMode(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	pulse(p, 3)
	p.Ack()
	pulse(p, 5)
	if p.Pending() {
		t.Fatal("IRQ5 must be blocked by IRQ3 in service")
	}
	out8(p, 0x21, 0x08) // mask IRQ3
	out8(p, 0x20, 0x68) // set special mask mode
	if !p.Pending() {
		t.Fatal("special mask mode should let IRQ5 through")
	}
	expect8(t, "v", p.Ack(), 0x0D)
	expect8(t, "ISR", readISR(p, 0x20), 0x28)
	out8(p, 0x20, 0x48) // reset special mask mode
	out8(p, 0x20, 0x65)
	out8(p, 0x20, 0x63)
	out8(p, 0x21, 0x00)
	expect8(t, "ISR", readISR(p, 0x20), 0x00)
}

func TestPICEdgeTriggering(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	p.SetIRQ(4, true)
	expect8(t, "v", p.Ack(), 0x0C)
	out8(p, 0x20, 0x20)
	// Line still high: no new edge, no new interrupt.
	if p.Pending() {
		t.Fatal("edge input retriggered without an edge")
	}
	p.SetIRQ(4, true) // no change
	if p.Pending() {
		t.Fatal("repeated high level retriggered")
	}
	p.SetIRQ(4, false)
	p.SetIRQ(4, true)
	if !p.Pending() {
		t.Fatal("new rising edge not latched")
	}
	// ICW1 resets the edge latch: the line is high but a new edge is needed.
	initPC(p, 0x01)
	if p.Pending() {
		t.Fatal("ICW1 should clear latched requests")
	}
	p.SetIRQ(4, false)
	p.SetIRQ(4, true)
	if !p.Pending() {
		t.Fatal("edge after init not latched")
	}
}

func TestPICLevelTriggeringViaELCR(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	out8(p, 0x4D1, 0x08) // IRQ11 level triggered
	p.SetIRQ(11, true)
	expect8(t, "v", p.Ack(), 0x73)
	// Level still high: after both EOIs it interrupts again.
	out8(p, 0xA0, 0x20)
	out8(p, 0x20, 0x20)
	if !p.Pending() {
		t.Fatal("level input should retrigger while high")
	}
	p.SetIRQ(11, false)
	out8(p, 0xA0, 0x0A)
	expect8(t, "slave IRR follows line", in8(p, 0xA0), 0x00)
	// The master latched the slave's INT edge on IR2; the request is gone
	// by INTA time, so the CPU gets the slave's spurious vector.
	expect8(t, "spurious 15", p.Ack(), 0x77)
	out8(p, 0x20, 0x20)
	if p.Pending() {
		t.Fatal("still pending")
	}
	// Dropping the line before the slave's INT is even seen: nothing.
	p.SetIRQ(11, true)
	out8(p, 0xA1, 0xFF)
	p.SetIRQ(11, false)
	out8(p, 0xA1, 0x00)
	expect8(t, "slave IRR", in8(p, 0xA0), 0x00)
}

func TestPICLevelTriggeringViaLTIM(t *testing.T) {
	p := NewPIC()
	out8(p, 0x20, 0x1B) // LTIM, single, IC4
	out8(p, 0x21, 0x20)
	out8(p, 0x21, 0x01)
	p.SetIRQ(6, true)
	expect8(t, "IRR", in8(p, 0x20), 0x40)
	p.SetIRQ(6, false)
	expect8(t, "IRR follows", in8(p, 0x20), 0x00)
}

func TestPICSpuriousIRQ7(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	out8(p, 0x4D0, 0x20) // IRQ5 level
	p.SetIRQ(5, true)
	if !p.Pending() {
		t.Fatal("not pending")
	}
	p.SetIRQ(5, false) // request vanishes before INTA
	expect8(t, "spurious", p.Ack(), 0x0F)
	expect8(t, "ISR untouched", readISR(p, 0x20), 0x00)
	// Masking after INTR was seen also gives a spurious interrupt.
	pulse(p, 6)
	out8(p, 0x21, 0x40)
	expect8(t, "spurious (masked)", p.Ack(), 0x0F)
	expect8(t, "ISR untouched", readISR(p, 0x20), 0x00)
}

func TestPICSpuriousIRQ15(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	pulse(p, 10)
	if !p.Pending() {
		t.Fatal("slave IRQ not pending on master")
	}
	out8(p, 0xA1, 0x04) // slave masks it before the CPU acknowledges
	expect8(t, "spurious slave vector", p.Ack(), 0x77)
	expect8(t, "slave ISR untouched", readISR(p, 0xA0), 0x00)
	expect8(t, "master ISR has cascade", readISR(p, 0x20), 0x04)
	out8(p, 0x20, 0x20)
	expect8(t, "master ISR after EOI", readISR(p, 0x20), 0x00)
}

func TestPICCascade(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	pulse(p, 12)
	pulse(p, 8)
	expect8(t, "IRQ8 first", p.Ack(), 0x70)
	expect8(t, "master ISR", readISR(p, 0x20), 0x04)
	expect8(t, "slave ISR", readISR(p, 0xA0), 0x01)
	if p.Pending() {
		t.Fatal("IRQ12 must wait")
	}
	// A master request below IR2 waits too; one above preempts.
	pulse(p, 3)
	if p.Pending() {
		t.Fatal("IRQ3 must wait for IRQ2 in service")
	}
	pulse(p, 0)
	expect8(t, "IRQ0 preempts", p.Ack(), 0x08)
	out8(p, 0x20, 0x20) // EOI IRQ0
	out8(p, 0xA0, 0x20) // EOI slave IRQ8
	out8(p, 0x20, 0x20) // EOI master IR2
	expect8(t, "IRQ12 next", p.Ack(), 0x74)
	out8(p, 0xA0, 0x20)
	out8(p, 0x20, 0x20)
	expect8(t, "IRQ3 last", p.Ack(), 0x0B)
	out8(p, 0x20, 0x20)
	if p.Pending() {
		t.Fatal("nothing should be left")
	}
}

func TestPICSlaveAutoEOITwoRequests(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x03)
	pulse(p, 9)
	pulse(p, 14)
	expect8(t, "first", p.Ack(), 0x71)
	if !p.Pending() {
		t.Fatal("second slave request lost")
	}
	expect8(t, "second", p.Ack(), 0x76)
	if p.Pending() {
		t.Fatal("spurious pending")
	}
}

func TestPICSpecialFullyNested(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	out8(p, 0x20, 0x11) // re-init master with SFNM
	out8(p, 0x21, 0x08)
	out8(p, 0x21, 0x04)
	out8(p, 0x21, 0x11)
	pulse(p, 12)
	expect8(t, "v", p.Ack(), 0x74)
	pulse(p, 9) // higher priority on the slave
	if !p.Pending() {
		t.Fatal("SFNM should let a higher slave request through")
	}
	expect8(t, "nested slave", p.Ack(), 0x71)
	pulse(p, 5) // lower than IR2 on the master: still blocked
	if p.Pending() {
		t.Fatal("IRQ5 must be blocked by IR2 in service")
	}
}

func TestPICELCRMasksAndWideAccess(t *testing.T) {
	p := NewPIC()
	out8(p, 0x4D0, 0xFF)
	out8(p, 0x4D1, 0xFF)
	expect8(t, "ELCR1", in8(p, 0x4D0), 0xF8)
	expect8(t, "ELCR2", in8(p, 0x4D1), 0xDE)
	p.Out(0x4D0, 2, 0x0C20)
	if v := p.In(0x4D0, 2); v != 0x0C20 {
		t.Fatalf("ELCR word = %#x", v)
	}
	// 4-byte read at 0x4D0 covers two foreign ports: all ones there.
	if v := p.In(0x4D0, 4); v != 0xFFFF0C20 {
		t.Fatalf("ELCR dword = %#x", v)
	}
	// Word write at 0x20/0x21: OCW2/ICW1 byte then IMR byte.
	initPC(p, 0x01)
	p.Out(0x20, 2, 0x5520)
	expect8(t, "IMR via word write", in8(p, 0x21), 0x55)
}

func TestPICLine2AndOutOfRange(t *testing.T) {
	p := NewPIC()
	initPC(p, 0x01)
	p.SetIRQ(2, true) // the cascade input belongs to the slave
	p.SetIRQ(-1, true)
	p.SetIRQ(16, true)
	p.SetIRQ(1000, true)
	if p.Pending() {
		t.Fatal("bogus lines raised an interrupt")
	}
}

func TestPICRegisterAndInfo(t *testing.T) {
	s := memmap.New(0)
	p := NewPIC()
	p.Register(s)
	for _, port := range []uint16{0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1} {
		if s.PortName(port) == "unassigned" {
			t.Fatalf("port %#x not registered", port)
		}
	}
	s.Out(0x20, 1, 0x11)
	s.Out(0x21, 1, 0x08)
	s.Out(0x21, 1, 0x04)
	s.Out(0x21, 1, 0x01)
	p.SetIRQ(1, true)
	info := p.String()
	if !strings.Contains(info, "pic0: irr=02 imr=00 isr=00 hprio=0 irq_base=08") || !strings.Contains(info, "pic1:") {
		t.Fatalf("info:\n%s", info)
	}
	p.Reset()
	if p.Pending() {
		t.Fatal("pending after Reset")
	}
}
