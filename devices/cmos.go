package devices

import (
	"fmt"
	"io"
	"strings"
	"time"

	"glassbox/memmap"
	"glassbox/vclock"
)

// CMOS register indices.
const (
	CMOSSeconds      = 0x00
	CMOSAlarmSeconds = 0x01
	CMOSMinutes      = 0x02
	CMOSAlarmMinutes = 0x03
	CMOSHours        = 0x04
	CMOSAlarmHours   = 0x05
	CMOSWeekday      = 0x06
	CMOSDay          = 0x07
	CMOSMonth        = 0x08
	CMOSYear         = 0x09
	CMOSStatusA      = 0x0A
	CMOSStatusB      = 0x0B
	CMOSStatusC      = 0x0C
	CMOSStatusD      = 0x0D
	CMOSCentury      = 0x32
)

// Status register bits.
const (
	rtcAUIP = 0x80

	rtcBSET  = 0x80
	rtcBPIE  = 0x40
	rtcBAIE  = 0x20
	rtcBUIE  = 0x10
	rtcBSQWE = 0x08
	rtcBDM   = 0x04 // 1 = binary, 0 = BCD
	rtcB24   = 0x02 // 1 = 24 hour
	rtcBDSE  = 0x01

	rtcCIRQF = 0x80
	rtcCPF   = 0x40
	rtcCAF   = 0x20
	rtcCUF   = 0x10

	rtcDVRT = 0x80
)

const (
	rtcIRQ   = 8
	rtcHz    = 32768
	uipNs    = 244000 // UIP is set this long before each update
	secondNs = int64(time.Second)
)

// CMOS is the MC146818A-compatible real-time clock and 128 bytes of CMOS
// RAM behind index port 0x70 and data port 0x71.
//
// Port 0x70: bits 0-6 select the register, bit 7 is the board's NMI-disable
// bit (kept, see NMIDisabled); reading 0x70 returns 0xFF (QEMU).
//
// The clock shows base + virtual time, in base's time.Location, so a
// machine started with a fixed base is fully deterministic. Guest writes to
// the time registers move the clock (an offset is kept); while SET (register
// B bit 7) is 1, or the divider bits of register A hold the chain in reset,
// the time registers are plain RAM that the guest can load, and clearing
// SET starts the clock from them. Register A: UIP (set during the last
// 244 µs before each once-a-second update while the clock runs), divider
// and rate select. Register B: SET, PIE, AIE, UIE (cleared when SET is
// written 1), SQWE, DM (binary/BCD), 24/12 (12-hour mode: bit 7 of the hour
// is PM), DSE (stored, no DST handling). Register C: IRQF, PF, AF, UF; the
// flags are set whether or not their interrupt is enabled, reading C clears
// them and lowers IRQ 8. Register D: VRT=1.
//
// The periodic (rate from register A), alarm (with 0xC0-0xFF "don't care"
// alarm bytes) and update-ended interrupts raise IRQ 8 at exact virtual
// times through one vclock.Timer. Interrupt flags are computed lazily, so no
// timer runs while the corresponding interrupt is disabled or IRQ 8 is
// already asserted.
type CMOS struct {
	clk *vclock.Clock
	irq IRQSink
	loc *time.Location

	baseSec  int64 // base, unix seconds
	baseFrac int64 // base, nanoseconds within the second
	adjSec   int64 // guest adjustment: seconds ...
	adjNs    int64 // ... plus [0, 1e9) nanoseconds

	ram   [128]byte
	index uint8
	nmi   bool // NMI disabled (port 0x70 bit 7)

	flags     uint8 // PF|AF|UF, sticky until register C is read
	lastCheck int64 // virtual ns up to which flags are computed
	divStart  int64 // virtual ns the divider chain last left reset
	irqLevel  bool
	timer     *vclock.Timer
}

// NewCMOS returns an RTC on clk raising IRQ 8 on irq whose time is base plus
// the virtual time. Registers start as after a BIOS's usual setup: A=0x26
// (32.768 kHz, 1024 Hz periodic rate), B=0x02 (24-hour, BCD), C=0, D=0x80.
func NewCMOS(clk *vclock.Clock, irq IRQSink, base time.Time) *CMOS {
	if clk == nil {
		clk = vclock.New()
	}
	c := &CMOS{clk: clk, irq: sinkOrNop(irq), loc: base.Location()}
	if c.loc == nil {
		c.loc = time.UTC
	}
	c.baseSec = base.Unix()
	c.baseFrac = int64(base.Nanosecond())
	c.timer = clk.NewTimer("rtc", func(int64) {
		c.refresh()
		c.updateIRQ()
	})
	c.ram[CMOSStatusA] = 0x26
	c.ram[CMOSStatusB] = rtcB24
	c.ram[CMOSStatusD] = rtcDVRT
	now := clk.Now()
	c.lastCheck = now
	c.divStart = now
	c.updateIRQ()
	return c
}

// Reset performs what the MC146818's RESET pin does: PIE, AIE, UIE and SQWE
// are cleared, the interrupt flags are cleared and IRQ 8 is lowered. Time,
// RAM and the index register are kept.
func (c *CMOS) Reset() {
	c.refresh()
	c.ram[CMOSStatusB] &^= rtcBPIE | rtcBAIE | rtcBUIE | rtcBSQWE
	c.flags = 0
	c.updateIRQ()
}

// Register maps ports 0x70-0x71.
func (c *CMOS) Register(s *memmap.Space) { s.AddPorts("rtc", 0x70, 2, c) }

// NMIDisabled reports bit 7 of the last write to port 0x70.
func (c *CMOS) NMIDisabled() bool { return c.nmi }

// Byte returns raw CMOS RAM byte i (i is taken modulo 128), without side
// effects. Time registers hold the value of the last read or update.
func (c *CMOS) Byte(i int) byte { return c.ram[i&0x7F] }

// SetByte stores raw CMOS RAM byte i (modulo 128) for board setup, e.g.
// boot order or equipment bytes. It bypasses register semantics.
func (c *CMOS) SetByte(i int, v byte) { c.ram[i&0x7F] = v }

// SetMemory fills the memory-size bytes the PC BIOS (and SeaBIOS) read:
// 0x15/0x16 base memory in KiB (640), 0x17/0x18 and 0x30/0x31 extended
// memory above 1 MiB in KiB (capped at 0xFFFF), 0x34/0x35 memory above
// 16 MiB in 64 KiB units (capped at 0xFFFF), 0x5B-0x5D memory above 4 GiB in
// 64 KiB units (capped at 0xFFFFFF).
func (c *CMOS) SetMemory(ramBelow4G, ramAbove4G uint64) {
	const kib, mib = 1024, 1024 * 1024
	put16 := func(i int, v uint64) {
		if v > 0xFFFF {
			v = 0xFFFF
		}
		c.ram[i] = byte(v)
		c.ram[i+1] = byte(v >> 8)
	}
	put16(0x15, 640)
	var ext uint64
	if ramBelow4G > mib {
		ext = (ramBelow4G - mib) / kib
	}
	put16(0x17, ext)
	put16(0x30, ext)
	var hi uint64
	if ramBelow4G > 16*mib {
		hi = (ramBelow4G - 16*mib) / (64 * kib)
	}
	put16(0x34, hi)
	above := ramAbove4G / (64 * kib)
	if above > 0xFFFFFF {
		above = 0xFFFFFF
	}
	c.ram[0x5B] = byte(above)
	c.ram[0x5C] = byte(above >> 8)
	c.ram[0x5D] = byte(above >> 16)
}

// SetCPUs stores the number of CPUs minus one in byte 0x5F (QEMU/SeaBIOS).
func (c *CMOS) SetCPUs(n int) {
	if n < 1 {
		n = 1
	}
	if n > 256 {
		n = 256
	}
	c.ram[0x5F] = byte(n - 1)
}

// Time returns the time the RTC currently shows (while the clock is
// stopped, the time held in its registers).
func (c *CMOS) Time() time.Time {
	if c.running() {
		sec, frac := c.rtcTime(c.clk.Now())
		return time.Unix(sec, frac).In(c.loc)
	}
	return time.Unix(c.parseRegs(), 0).In(c.loc)
}

// In implements memmap.PortIO.
func (c *CMOS) In(port uint16, size int) uint32 { return inBytes(c, port, size) }

// Out implements memmap.PortIO.
func (c *CMOS) Out(port uint16, size int, v uint32) { outBytes(c, port, size, v) }

func (c *CMOS) owns(port uint16) bool { return port == 0x70 || port == 0x71 }

func (c *CMOS) in8(port uint16) uint8 {
	if port == 0x70 {
		return 0xFF
	}
	return c.readReg(c.index)
}

func (c *CMOS) out8(port uint16, v uint8) {
	if port == 0x70 {
		c.index = v & 0x7F
		c.nmi = v&0x80 != 0
		return
	}
	c.writeReg(c.index, v)
}

func isTimeReg(i uint8) bool {
	switch i {
	case CMOSSeconds, CMOSMinutes, CMOSHours, CMOSWeekday, CMOSDay, CMOSMonth, CMOSYear, CMOSCentury:
		return true
	}
	return false
}

func (c *CMOS) readReg(i uint8) uint8 {
	i &= 0x7F
	switch {
	case isTimeReg(i):
		if c.running() {
			sec, _ := c.rtcTime(c.clk.Now())
			c.encodeRegs(sec)
		}
		return c.ram[i]
	case i == CMOSStatusA:
		v := c.ram[i] & 0x7F
		if c.running() {
			if _, frac := c.rtcTime(c.clk.Now()); frac >= secondNs-uipNs {
				v |= rtcAUIP
			}
		}
		return v
	case i == CMOSStatusC:
		c.refresh()
		v := c.flags
		if c.irqf() {
			v |= rtcCIRQF
		}
		c.flags = 0
		c.updateIRQ()
		return v
	case i == CMOSStatusD:
		return rtcDVRT
	}
	return c.ram[i]
}

func (c *CMOS) writeReg(i uint8, v uint8) {
	i &= 0x7F
	switch {
	case isTimeReg(i):
		c.refresh()
		if c.running() {
			now := c.clk.Now()
			sec, frac := c.rtcTime(now)
			c.encodeRegs(sec)
			c.ram[i] = v
			c.setTime(now, c.parseRegs(), frac)
		} else {
			c.ram[i] = v
		}
		c.updateIRQ()
	case i == CMOSAlarmSeconds || i == CMOSAlarmMinutes || i == CMOSAlarmHours:
		c.refresh()
		c.ram[i] = v
		c.updateIRQ()
	case i == CMOSStatusA:
		c.refresh()
		oldDiv, oldRun := c.divOK(), c.running()
		if oldRun && !divOKBits(v) {
			c.snapshot()
		}
		c.ram[i] = v & 0x7F
		if !oldDiv && c.divOK() {
			c.divStart = c.clk.Now()
		}
		if !oldRun && c.running() {
			// Leaving divider reset: the first update comes 500 ms later.
			c.setTime(c.clk.Now(), c.parseRegs(), secondNs/2)
		}
		c.updateIRQ()
	case i == CMOSStatusB:
		c.refresh()
		oldRun := c.running()
		if v&rtcBSET != 0 {
			v &^= rtcBUIE
			if oldRun {
				c.snapshot() // registers freeze in the current format
			}
		}
		c.ram[i] = v
		if !oldRun && c.running() {
			c.setTime(c.clk.Now(), c.parseRegs(), 0)
		}
		c.updateIRQ()
	case i == CMOSStatusC || i == CMOSStatusD:
		// read-only
	default:
		c.ram[i] = v
	}
}

// --- time keeping ---

func divOKBits(a uint8) bool { return (a>>4)&7 <= 2 }

// divOK reports whether the divider chain runs (DV = 000, 001 or 010; 11x
// holds it in reset), as QEMU does.
func (c *CMOS) divOK() bool { return divOKBits(c.ram[CMOSStatusA]) }

// running reports whether the time registers are updated once a second.
func (c *CMOS) running() bool { return c.ram[CMOSStatusB]&rtcBSET == 0 && c.divOK() }

// rtcTime returns the RTC time at virtual time t as unix seconds and
// nanoseconds within the second.
func (c *CMOS) rtcTime(t int64) (int64, int64) {
	if t < 0 {
		t = 0
	}
	total := t + c.baseFrac + c.adjNs
	return c.baseSec + c.adjSec + total/secondNs, total % secondNs
}

// setTime makes the clock show (sec, frac) at virtual time t.
func (c *CMOS) setTime(t, sec, frac int64) {
	if t < 0 {
		t = 0
	}
	x := t + c.baseFrac
	adj := (frac - x%secondNs) % secondNs
	if adj < 0 {
		adj += secondNs
	}
	c.adjNs = adj
	c.adjSec = sec - c.baseSec - (x+adj)/secondNs
}

// snapshot stores the current time into the time registers.
func (c *CMOS) snapshot() {
	sec, _ := c.rtcTime(c.clk.Now())
	c.encodeRegs(sec)
}

func (c *CMOS) binary() bool { return c.ram[CMOSStatusB]&rtcBDM != 0 }

func (c *CMOS) enc(v int) uint8 {
	if c.binary() {
		return uint8(v)
	}
	v %= 100
	if v < 0 {
		v += 100
	}
	return uint8(v/10<<4 | v%10)
}

func (c *CMOS) dec(b uint8) int {
	if c.binary() {
		return int(b)
	}
	return int(b>>4)*10 + int(b&0xF)
}

func (c *CMOS) encHour(h int) uint8 {
	if c.ram[CMOSStatusB]&rtcB24 != 0 {
		return c.enc(h)
	}
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	v := c.enc(h12)
	if h >= 12 {
		v |= 0x80
	}
	return v
}

func (c *CMOS) decHour(b uint8) int {
	if c.ram[CMOSStatusB]&rtcB24 != 0 {
		return c.dec(b)
	}
	h := c.dec(b&0x7F) % 12
	if b&0x80 != 0 {
		h += 12
	}
	return h
}

func (c *CMOS) encodeRegs(sec int64) {
	tm := time.Unix(sec, 0).In(c.loc)
	c.ram[CMOSSeconds] = c.enc(tm.Second())
	c.ram[CMOSMinutes] = c.enc(tm.Minute())
	c.ram[CMOSHours] = c.encHour(tm.Hour())
	c.ram[CMOSWeekday] = c.enc(int(tm.Weekday()) + 1)
	c.ram[CMOSDay] = c.enc(tm.Day())
	c.ram[CMOSMonth] = c.enc(int(tm.Month()))
	y := tm.Year()
	c.ram[CMOSYear] = c.enc(y % 100)
	c.ram[CMOSCentury] = c.enc(y / 100)
}

// parseRegs interprets the time registers (weekday is ignored, out-of-range
// fields are normalised as time.Date does).
func (c *CMOS) parseRegs() int64 {
	year := c.dec(c.ram[CMOSCentury])*100 + c.dec(c.ram[CMOSYear])
	return time.Date(year, time.Month(c.dec(c.ram[CMOSMonth])), c.dec(c.ram[CMOSDay]),
		c.decHour(c.ram[CMOSHours]), c.dec(c.ram[CMOSMinutes]), c.dec(c.ram[CMOSSeconds]), 0, c.loc).Unix()
}

// --- interrupts ---

// periodTicks returns the periodic interrupt period in 32.768 kHz ticks
// (0: none), per the MC146818 rate-select table.
func (c *CMOS) periodTicks() int64 {
	rs := c.ram[CMOSStatusA] & 0x0F
	switch {
	case rs == 0:
		return 0
	case rs <= 2:
		return 1 << (rs + 6)
	default:
		return 1 << (rs - 1)
	}
}

// PeriodicRate returns the periodic interrupt rate in Hz selected in
// register A (0 when disabled by RS=0).
func (c *CMOS) PeriodicRate() float64 {
	p := c.periodTicks()
	if p == 0 {
		return 0
	}
	return rtcHz / float64(p)
}

// alarmField decodes an alarm byte: -1 = don't care, -2 = never matches.
func (c *CMOS) alarmField(b uint8, hour bool, max int) int {
	if b&0xC0 == 0xC0 {
		return -1
	}
	var v int
	if hour {
		v = c.decHour(b)
	} else {
		v = c.dec(b)
	}
	if v < 0 || v >= max {
		return -2
	}
	return v
}

// nextAlarm returns how many seconds after the wall-clock second of day sod
// the alarm next matches (1..86400).
func (c *CMOS) nextAlarm(sod int64) (int64, bool) {
	ah := c.alarmField(c.ram[CMOSAlarmHours], true, 24)
	am := c.alarmField(c.ram[CMOSAlarmMinutes], false, 60)
	as := c.alarmField(c.ram[CMOSAlarmSeconds], false, 60)
	if ah == -2 || am == -2 || as == -2 {
		return 0, false
	}
	for d := int64(1); d <= 86400; {
		t := (sod + d) % 86400
		h, m, s := int(t/3600), int(t/60%60), int(t%60)
		switch {
		case ah >= 0 && h != ah:
			d += int64(3600 - m*60 - s)
		case am >= 0 && m != am:
			d += int64(60 - s)
		case as >= 0 && s != as:
			d++
		default:
			return d, true
		}
	}
	return 0, false
}

func (c *CMOS) secondOfDay(sec int64) int64 {
	tm := time.Unix(sec, 0).In(c.loc)
	return int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second())
}

// refresh sets the PF, UF and AF flags for every event between the last
// refresh and now.
func (c *CMOS) refresh() {
	now := c.clk.Now()
	last := c.lastCheck
	if now <= last {
		return
	}
	c.lastCheck = now
	if c.divOK() {
		if p := c.periodTicks(); p > 0 {
			if ticksAt(now-c.divStart, rtcHz)/p > ticksAt(last-c.divStart, rtcHz)/p {
				c.flags |= rtcCPF
			}
		}
	}
	if c.running() {
		s0, _ := c.rtcTime(last)
		s1, _ := c.rtcTime(now)
		if s1 > s0 {
			c.flags |= rtcCUF
			if d, ok := c.nextAlarm(c.secondOfDay(s0)); ok && s0+d <= s1 {
				c.flags |= rtcCAF
			}
		}
	}
}

func (c *CMOS) irqf() bool {
	b := c.ram[CMOSStatusB]
	return (c.flags&rtcCPF != 0 && b&rtcBPIE != 0) ||
		(c.flags&rtcCAF != 0 && b&rtcBAIE != 0) ||
		(c.flags&rtcCUF != 0 && b&rtcBUIE != 0)
}

// updateIRQ drives IRQ 8 from IRQF and arms the timer for the next event
// that could raise it.
func (c *CMOS) updateIRQ() {
	lvl := c.irqf()
	if lvl != c.irqLevel {
		c.irqLevel = lvl
		c.irq.SetIRQ(rtcIRQ, lvl)
	}
	if lvl {
		c.timer.Stop()
		return
	}
	if t, ok := c.nextEvent(); ok {
		c.timer.Reset(t)
	} else {
		c.timer.Stop()
	}
}

// nextEvent returns the virtual time of the next enabled interrupt event.
func (c *CMOS) nextEvent() (int64, bool) {
	now := c.clk.Now()
	b := c.ram[CMOSStatusB]
	best, ok := int64(0), false
	consider := func(t int64) {
		if t > now && (!ok || t < best) {
			best, ok = t, true
		}
	}
	if b&rtcBPIE != 0 && c.divOK() {
		if p := c.periodTicks(); p > 0 {
			k := ticksAt(now-c.divStart, rtcHz)/p + 1
			consider(c.divStart + timeOfTick(k*p, rtcHz))
		}
	}
	if b&(rtcBUIE|rtcBAIE) != 0 && c.running() {
		sec, frac := c.rtcTime(now)
		next := now + (secondNs - frac)
		if b&rtcBUIE != 0 {
			consider(next)
		}
		if b&rtcBAIE != 0 {
			if d, found := c.nextAlarm(c.secondOfDay(sec)); found {
				consider(next + (d-1)*secondNs)
			}
		}
	}
	return best, ok
}

// Info writes the clock state, status registers and a dump of the RAM.
func (c *CMOS) Info(w io.Writer) {
	if c.running() {
		c.snapshot() // show current time registers in the dump
	}
	run := "running"
	switch {
	case c.ram[CMOSStatusB]&rtcBSET != 0:
		run = "stopped (SET)"
	case !c.divOK():
		run = "stopped (divider reset)"
	}
	b := c.ram[CMOSStatusB]
	fmt.Fprintf(w, "rtc: time=%s %s index=%02x nmi_disabled=%d irq8=%d\n",
		c.Time().Format("2006-01-02 15:04:05 MST"), run, c.index, b2u(c.nmi), b2u(c.irqLevel))
	fmt.Fprintf(w, "  A=%02x (rate %.4g Hz) B=%02x (pie=%d aie=%d uie=%d %s %s) flags=%02x D=%02x\n",
		c.ram[CMOSStatusA]&0x7F, c.PeriodicRate(), b,
		b2u(b&rtcBPIE != 0), b2u(b&rtcBAIE != 0), b2u(b&rtcBUIE != 0),
		map[bool]string{true: "binary", false: "bcd"}[b&rtcBDM != 0],
		map[bool]string{true: "24h", false: "12h"}[b&rtcB24 != 0],
		c.flags, rtcDVRT)
	fmt.Fprintf(w, "  alarm=%02x:%02x:%02x\n", c.ram[CMOSAlarmHours], c.ram[CMOSAlarmMinutes], c.ram[CMOSAlarmSeconds])
	if c.timer.Armed() {
		fmt.Fprintf(w, "  next irq8 event at %d ns\n", c.timer.Deadline())
	}
	for i := 0; i < 128; i += 16 {
		fmt.Fprintf(w, "  %02x:", i)
		for j := 0; j < 16; j++ {
			fmt.Fprintf(w, " %02x", c.ram[i+j])
		}
		fmt.Fprintln(w)
	}
}

func (c *CMOS) String() string {
	var b strings.Builder
	c.Info(&b)
	return b.String()
}
