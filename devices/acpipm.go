package devices

import (
	"fmt"
	"io"

	"glassbox/memmap"
	"glassbox/vclock"
)

// ACPIPM is the PIIX4-style ACPI power-management block the FADT built by
// package firmware describes: PM1a event block at 0x600 (status 0x600,
// enable 0x602), PM1a control at 0x604 and the 24-bit PM timer at 0x608
// counting at 3.579545 MHz on virtual time. Writing SLP_EN with SLP_TYP 0
// (the DSDT's _S5 package) powers the machine off, as QEMU's piix4 does.
// There is no SMI command port, so SCI_EN reads as set (ACPI mode).
type ACPIPM struct {
	clk      *vclock.Clock
	powerOff func()
	sts, en  uint16
	cnt      uint16
	off      bool
}

// PM register ports.
const (
	ACPIPMBase  = 0x600
	pmTimerHz   = 3579545
	pm1CntSCIEN = 1 << 0
	pm1CntSlpEn = 1 << 13
)

// NewACPIPM returns the PM block; powerOff is called on an S5 request.
func NewACPIPM(clk *vclock.Clock, powerOff func()) *ACPIPM {
	return &ACPIPM{clk: clk, powerOff: powerOff, cnt: pm1CntSCIEN}
}

// Register maps ports 0x600-0x60B.
func (p *ACPIPM) Register(s *memmap.Space) { s.AddPorts("acpi-pm", ACPIPMBase, 12, p) }

// Timer is the current 24-bit PM timer value.
func (p *ACPIPM) Timer() uint32 {
	return uint32(ticksAt(p.clk.Now(), pmTimerHz)) & 0xFFFFFF
}

// In implements memmap.PortIO.
func (p *ACPIPM) In(port uint16, size int) uint32 {
	switch off := port - ACPIPMBase; {
	case off >= 8 && off < 12:
		v := p.Timer() >> (8 * (off - 8))
		return v & uint32(1<<(8*uint(size))-1)
	case off < 8:
		var regs [8]byte
		regs[0], regs[1] = byte(p.sts), byte(p.sts>>8)
		regs[2], regs[3] = byte(p.en), byte(p.en>>8)
		regs[4], regs[5] = byte(p.cnt), byte(p.cnt>>8)
		var v uint32
		for i := 0; i < size && int(off)+i < 8; i++ {
			v |= uint32(regs[int(off)+i]) << (8 * i)
		}
		return v
	}
	return 0xFFFFFFFF
}

// Out implements memmap.PortIO.
func (p *ACPIPM) Out(port uint16, size int, v uint32) {
	off := port - ACPIPMBase
	for i := 0; i < size; i++ {
		b := uint16(v >> (8 * i) & 0xFF)
		switch int(off) + i {
		case 0: // status: write 1 to clear
			p.sts &^= b
		case 1:
			p.sts &^= b << 8
		case 2:
			p.en = p.en&0xFF00 | b
		case 3:
			p.en = p.en&0x00FF | b<<8
		case 4:
			p.cnt = p.cnt&0xFF00 | b | pm1CntSCIEN
		case 5:
			p.cnt = p.cnt&0x00FF | (b<<8)&^(pm1CntSlpEn)
			if b<<8&pm1CntSlpEn != 0 && (b>>2)&7 == 0 && !p.off {
				p.off = true
				if p.powerOff != nil {
					p.powerOff()
				}
			}
		}
	}
}

// Info writes the block's registers.
func (p *ACPIPM) Info(w io.Writer) {
	fmt.Fprintf(w, "acpi-pm: pm1_sts=%04x pm1_en=%04x pm1_cnt=%04x pm_tmr=%06x powered_off=%v\n",
		p.sts, p.en, p.cnt, p.Timer(), p.off)
}
