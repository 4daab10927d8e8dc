package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
	"glassbox/vclock"
)

// PITHz is the 8254's input clock on a PC: 14.31818 MHz / 12.
const PITHz = 1193182

// RefreshToggleNs is the period after which port 0x61 bit 4 (the DRAM
// refresh request toggle) flips: 15.085 µs.
const RefreshToggleNs = 15085

// PIT is the Intel 8254 programmable interval timer (ports 0x40-0x43) plus
// the PC's NMI status and control port 0x61, which holds channel 2's gate
// and reads back channel 2's OUT.
//
// The counters are not ticked: their values and OUT levels are computed
// from vclock virtual time at PITHz. Channel 0's OUT drives IRQ 0 through a
// vclock.Timer armed for the exact virtual time of its next transition.
//
// Supported: channels 0-2; modes 0-5 (6 and 7 alias 2 and 3); access modes
// latch, LSB, MSB, LSB-then-MSB (with the read/write flip-flops); the counter
// latch command; the read-back command (status and/or count latching,
// status-first ordering); BCD counting; reload value 0 meaning 65536 (10000
// in BCD); gate semantics per mode (channels 0 and 1 have their gate tied
// high, channel 2's gate is port 0x61 bit 0); the null-count status bit.
//
// Simplifications: a count is loaded at the virtual time of the write (the
// real chip loads it on the next CLK edge); in mode 3 a count written while
// counting takes effect at the end of the current full period rather than
// half period; counts 1 in modes 2/3 (illegal on the real chip) keep OUT high.
//
// Power-on state follows QEMU's reset: every channel in mode 3, LSB/MSB
// access, count 0 (65536) running, so IRQ 0 toggles at ~18.2 Hz until the
// BIOS reprograms channel 0.
type PIT struct {
	clk   *vclock.Clock
	irq   IRQSink
	ch    [3]pitChannel
	timer *vclock.Timer
	irq0  bool // level currently driven on IRQ 0

	port61 uint8 // writable bits 0-3 of port 0x61
}

type pitChannel struct {
	mode    uint8 // effective mode 0..5
	rawMode uint8 // mode bits as programmed (for read-back status)
	rw      uint8 // 1 LSB, 2 MSB, 3 LSB then MSB
	bcd     bool
	gate    bool

	cr      uint16 // count register as written
	crValid bool   // a complete count has been written since the control word
	wHi     bool   // LSB written, MSB expected

	n         int64 // period of the running count, in ticks (1..65536)
	loaded    bool  // counting element holds a count (modes 1/5: triggered)
	start     int64 // absolute tick at which the elapsed count d was 0
	frozen    bool  // counting suspended by the gate
	frozenD   int64
	pend      bool // modes 2/3: a new count waits for the end of the period
	pendN     int64
	pendAt    int64
	nullCount bool
	outIdle   bool // OUT while no count is loaded

	latched    bool
	latch      uint16
	statusLat  bool
	statusByte uint8
	rHi        bool // read flip-flop: next byte read is the MSB
}

// NewPIT returns a PIT on clk whose channel 0 drives IRQ 0 of irq.
func NewPIT(clk *vclock.Clock, irq IRQSink) *PIT {
	if clk == nil {
		clk = vclock.New()
	}
	p := &PIT{clk: clk, irq: sinkOrNop(irq)}
	p.timer = clk.NewTimer("pit-ch0", func(int64) { p.updateIRQ0() })
	p.Reset()
	return p
}

// Reset returns the PIT and port 0x61 to the power-on state.
func (p *PIT) Reset() {
	now := p.tick()
	for i := range p.ch {
		c := &p.ch[i]
		*c = pitChannel{gate: i != 2}
		c.control(3, 3, false)
		c.writeCount(now, 0)
	}
	p.port61 = 0
	p.updateIRQ0()
}

// Register maps ports 0x40-0x43 and 0x61.
func (p *PIT) Register(s *memmap.Space) {
	s.AddPorts("pit", 0x40, 4, p)
	s.AddPorts("port61", 0x61, 1, p)
}

func (p *PIT) tick() int64 { return ticksAt(p.clk.Now(), PITHz) }

// In implements memmap.PortIO.
func (p *PIT) In(port uint16, size int) uint32 { return inBytes(p, port, size) }

// Out implements memmap.PortIO.
func (p *PIT) Out(port uint16, size int, v uint32) { outBytes(p, port, size, v) }

func (p *PIT) owns(port uint16) bool { return port >= 0x40 && port <= 0x43 || port == 0x61 }

func (p *PIT) in8(port uint16) uint8 {
	now := p.tick()
	switch port {
	case 0x40, 0x41, 0x42:
		c := &p.ch[port-0x40]
		c.sync(now)
		return c.read(now)
	case 0x61:
		p.ch[2].sync(now)
		return p.read61(now)
	}
	return 0 // 0x43: the control word register is write-only; QEMU reads 0
}

func (p *PIT) out8(port uint16, v uint8) {
	now := p.tick()
	for i := range p.ch {
		p.ch[i].sync(now)
	}
	switch port {
	case 0x40, 0x41, 0x42:
		p.ch[port-0x40].writeByte(now, v)
	case 0x43:
		sc := v >> 6
		if sc == 3 {
			p.readBack(now, v)
			break
		}
		c := &p.ch[sc]
		rw := (v >> 4) & 3
		if rw == 0 {
			c.latchCount(now)
			break
		}
		c.control((v>>1)&7, rw, v&1 != 0)
	case 0x61:
		p.port61 = v & 0x0F
		p.ch[2].setGate(now, v&1 != 0)
	}
	p.updateIRQ0()
}

func (p *PIT) readBack(now int64, v uint8) {
	for i := range p.ch {
		if v&(2<<uint(i)) == 0 {
			continue
		}
		c := &p.ch[i]
		if v&0x20 == 0 {
			c.latchCount(now)
		}
		if v&0x10 == 0 && !c.statusLat {
			c.statusLat = true
			c.statusByte = b2u(c.out(now))<<7 | b2u(c.nullCount)<<6 | c.rw<<4 | c.rawMode<<1 | b2u(c.bcd)
		}
	}
}

// updateIRQ0 drives IRQ 0 from channel 0's OUT and arms the timer for its
// next transition.
func (p *PIT) updateIRQ0() {
	now := p.tick()
	c := &p.ch[0]
	c.sync(now)
	if lvl := c.out(now); lvl != p.irq0 {
		p.irq0 = lvl
		p.irq.SetIRQ(0, lvl)
	}
	if next, ok := c.nextEvent(now); ok {
		p.timer.Reset(timeOfTick(next, PITHz))
	} else {
		p.timer.Stop()
	}
}

// Gate2 reports channel 2's gate (port 0x61 bit 0).
func (p *PIT) Gate2() bool { return p.port61&1 != 0 }

// Speaker reports whether the PC speaker is sounding (gate 2 and speaker
// data enabled) and channel 2's output frequency in Hz (0 when not
// counting periodically).
func (p *PIT) Speaker() (on bool, hz float64) {
	c := &p.ch[2]
	c.sync(p.tick())
	on = p.port61&3 == 3
	if c.loaded && (c.mode == 2 || c.mode == 3) && c.n > 0 {
		hz = float64(PITHz) / float64(c.n)
	}
	return
}

// Count returns channel ch's current counting-element value as the guest
// would read it (BCD-encoded in BCD mode), without side effects.
func (p *PIT) Count(ch int) uint16 {
	if ch < 0 || ch > 2 {
		return 0
	}
	now := p.tick()
	c := &p.ch[ch]
	c.sync(now)
	return c.value(now)
}

// OutLevel reports channel ch's OUT level, without side effects.
func (p *PIT) OutLevel(ch int) bool {
	if ch < 0 || ch > 2 {
		return false
	}
	now := p.tick()
	c := &p.ch[ch]
	c.sync(now)
	return c.out(now)
}

// --- one channel ---

func (c *pitChannel) modulus() int64 {
	if c.bcd {
		return 10000
	}
	return 65536
}

// period decodes a count register value into ticks (0 means the maximum).
func (c *pitChannel) period(cr uint16) int64 {
	var n int64
	if c.bcd {
		n = int64(cr>>12&0xF)*1000 + int64(cr>>8&0xF)*100 + int64(cr>>4&0xF)*10 + int64(cr&0xF)
	} else {
		n = int64(cr)
	}
	if n == 0 {
		n = c.modulus()
	}
	return n
}

func (c *pitChannel) control(mode, rw uint8, bcd bool) {
	c.rawMode = mode & 7
	m := mode & 7
	if m > 5 {
		m -= 4
	}
	c.mode = m
	c.rw = rw & 3
	c.bcd = bcd
	c.wHi = false
	c.rHi = false
	c.latched = false
	c.statusLat = false
	c.loaded = false
	c.crValid = false
	c.frozen = false
	c.pend = false
	c.nullCount = true
	c.outIdle = m != 0
}

// elapsed returns d, the number of ticks counted since the count was loaded.
func (c *pitChannel) elapsed(now int64) int64 {
	if c.frozen {
		return c.frozenD
	}
	d := now - c.start
	if d < 0 {
		return 0
	}
	return d
}

// sync applies a deferred mode 2/3 reload whose time has come.
func (c *pitChannel) sync(now int64) {
	if c.pend && !c.frozen && now >= c.pendAt {
		c.start = c.pendAt
		c.n = c.pendN
		c.pend = false
		c.nullCount = false
	}
}

func (c *pitChannel) out(now int64) bool {
	if !c.loaded {
		return c.outIdle
	}
	d := c.elapsed(now)
	n := c.n
	switch c.mode {
	case 0, 1:
		return d >= n
	case 2:
		if c.frozen || n <= 1 {
			return true
		}
		return d%n != n-1
	case 3:
		if c.frozen || n <= 1 {
			return true
		}
		return d%n < (n+1)/2
	default: // 4, 5
		return d != n
	}
}

// nextEvent returns the absolute tick of the next OUT transition (or of a
// deferred reload), if any.
func (c *pitChannel) nextEvent(now int64) (int64, bool) {
	next, ok := int64(0), false
	if c.loaded && !c.frozen {
		d := c.elapsed(now)
		n := c.n
		base := c.start + d // == now unless the clock is behind start
		switch c.mode {
		case 0, 1:
			if d < n {
				next, ok = c.start+n, true
			}
		case 2:
			if n > 1 {
				p := d % n
				if p < n-1 {
					next, ok = base+(n-1-p), true
				} else {
					next, ok = base+1, true
				}
			}
		case 3:
			if n > 1 {
				h := (n + 1) / 2
				p := d % n
				if p < h {
					next, ok = base+(h-p), true
				} else {
					next, ok = base+(n-p), true
				}
			}
		default:
			if d < n {
				next, ok = c.start+n, true
			} else if d == n {
				next, ok = c.start+n+1, true
			}
		}
	}
	if c.pend && !c.frozen && (!ok || c.pendAt < next) {
		next, ok = c.pendAt, true
	}
	return next, ok
}

// value returns the counting element as the guest reads it.
func (c *pitChannel) value(now int64) uint16 {
	mod := c.modulus()
	var v int64
	if !c.loaded {
		if c.crValid {
			v = c.period(c.cr)
		}
	} else {
		d := c.elapsed(now)
		n := c.n
		switch c.mode {
		case 2:
			v = n - d%n
		case 3:
			p := d % n
			h := (n + 1) / 2
			low := p >= h
			if low {
				p -= h
			}
			switch {
			case p == 0:
				v = n
			case n%2 == 0:
				v = n - 2*p
			case !low:
				v = n + 1 - 2*p
			default:
				v = n - 1 - 2*p
			}
		default: // 0, 1, 4, 5: count down and wrap
			v = (n - d) % mod
		}
	}
	v %= mod
	if v < 0 {
		v += mod
	}
	if c.bcd {
		return uint16(v/1000%10)<<12 | uint16(v/100%10)<<8 | uint16(v/10%10)<<4 | uint16(v%10)
	}
	return uint16(v)
}

func (c *pitChannel) latchCount(now int64) {
	if c.latched {
		return // a second latch before the first is read is ignored
	}
	c.latched = true
	c.latch = c.value(now)
}

func (c *pitChannel) read(now int64) uint8 {
	if c.statusLat {
		c.statusLat = false
		return c.statusByte
	}
	v := c.latch
	if !c.latched {
		v = c.value(now)
	}
	switch c.rw {
	case 1:
		c.latched = false
		return uint8(v)
	case 2:
		c.latched = false
		return uint8(v >> 8)
	default:
		if !c.rHi {
			c.rHi = true
			return uint8(v)
		}
		c.rHi = false
		c.latched = false
		return uint8(v >> 8)
	}
}

func (c *pitChannel) writeByte(now int64, b uint8) {
	switch c.rw {
	case 1:
		c.writeCount(now, uint16(b))
	case 2:
		c.writeCount(now, uint16(b)<<8)
	default:
		if !c.wHi {
			c.wHi = true
			c.cr = c.cr&0xFF00 | uint16(b)
			if c.mode == 0 {
				// Mode 0: the first byte of a new count stops counting and
				// OUT goes low at once.
				c.loaded = false
				c.outIdle = false
				c.pend = false
			}
			return
		}
		c.wHi = false
		c.writeCount(now, c.cr&0x00FF|uint16(b)<<8)
	}
}

func (c *pitChannel) writeCount(now int64, cr uint16) {
	c.cr = cr
	c.crValid = true
	n := c.period(cr)
	switch c.mode {
	case 0, 4:
		c.n = n
		c.loaded = true
		c.pend = false
		c.nullCount = false
		c.start = now
		c.frozen = !c.gate
		c.frozenD = 0
	case 1, 5:
		// Loaded into the counting element by the next gate trigger.
		c.nullCount = true
	default: // 2, 3
		switch {
		case !c.loaded:
			c.n = n
			c.loaded = true
			c.nullCount = false
			c.start = now
			c.frozen = !c.gate
			c.frozenD = 0
		case c.frozen:
			// Gate low: the count is loaded when the gate rises.
			c.n = n
			c.nullCount = true
		default:
			d := c.elapsed(now)
			c.pend = true
			c.pendN = n
			c.pendAt = c.start + (d/c.n+1)*c.n
			c.nullCount = true
		}
	}
}

func (c *pitChannel) setGate(now int64, g bool) {
	if g == c.gate {
		return
	}
	c.gate = g
	switch c.mode {
	case 0, 4:
		if !c.loaded {
			return
		}
		if !g {
			c.frozenD = c.elapsed(now)
			c.frozen = true
		} else if c.frozen {
			c.start = now - c.frozenD
			c.frozen = false
		}
	case 1, 5:
		if g && c.crValid {
			c.n = c.period(c.cr)
			c.loaded = true
			c.start = now
			c.nullCount = false
		}
	default: // 2, 3
		if !g {
			if c.loaded {
				c.frozenD = c.elapsed(now)
				c.frozen = true
			}
			return
		}
		if c.crValid {
			if c.pend {
				c.n = c.pendN
				c.pend = false
			}
			if !c.loaded {
				c.n = c.period(c.cr)
			}
			c.loaded = true
			c.frozen = false
			c.start = now
			c.nullCount = false
		}
	}
}

var rwNames = [4]string{"latch", "lsb", "msb", "lsb/msb"}

// Info writes the state of the three channels and port 0x61.
func (p *PIT) Info(w io.Writer) {
	now := p.tick()
	fmt.Fprintf(w, "pit: clock=%d Hz tick=%d irq0=%d\n", PITHz, now, b2u(p.irq0))
	for i := range p.ch {
		c := &p.ch[i]
		c.sync(now)
		fmt.Fprintf(w, "  ch%d: mode=%d access=%s bcd=%d gate=%d count_reg=%04x count=%04x out=%d null=%d loaded=%d",
			i, c.rawMode, rwNames[c.rw&3], b2u(c.bcd), b2u(c.gate), c.cr, c.value(now), b2u(c.out(now)),
			b2u(c.nullCount), b2u(c.loaded))
		if c.latched {
			fmt.Fprintf(w, " latched=%04x", c.latch)
		}
		if c.statusLat {
			fmt.Fprintf(w, " status=%02x", c.statusByte)
		}
		if c.loaded && (c.mode == 2 || c.mode == 3) {
			fmt.Fprintf(w, " freq=%.3f Hz", float64(PITHz)/float64(c.n))
		}
		fmt.Fprintln(w)
	}
	on, _ := p.Speaker()
	fmt.Fprintf(w, "  port61=%02x (gate2=%d speaker=%d)\n", p.read61(now), p.port61&1, b2u(on))
	if p.timer.Armed() {
		fmt.Fprintf(w, "  next irq0 event at %d ns\n", p.timer.Deadline())
	}
}

// read61 composes port 0x61: bits 0-3 as written, bit 4 the refresh
// toggle, bit 5 channel 2's OUT; bits 6-7 (IOCHK and parity error) read 0.
func (p *PIT) read61(now int64) uint8 {
	v := p.port61 & 0x0F
	if (p.clk.Now()/RefreshToggleNs)&1 != 0 {
		v |= 0x10
	}
	if p.ch[2].out(now) {
		v |= 0x20
	}
	return v
}

func (p *PIT) String() string {
	var b strings.Builder
	p.Info(&b)
	return b.String()
}
