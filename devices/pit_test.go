package devices

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"glassbox/memmap"
	"glassbox/vclock"
)

func newTestPIT() (*PIT, *vclock.Clock, *fakeIRQ) {
	clk := vclock.New()
	irq := &fakeIRQ{clk: clk}
	p := NewPIT(clk, irq)
	irq.reset()
	return p, clk, irq
}

// tickNs is the virtual time of PIT tick k.
func tickNs(k int64) int64 { return timeOfTick(k, PITHz) }

func readCount16(p *PIT, ch int) uint16 {
	port := uint16(0x40 + ch)
	lo := in8(p, port)
	hi := in8(p, port)
	return uint16(hi)<<8 | uint16(lo)
}

func TestTickMath(t *testing.T) {
	for _, hz := range []uint64{PITHz, rtcHz, 1, 1e9, 3} {
		for _, k := range []int64{1, 2, 3, 1000, 65536, 1 << 40, 123456789012} {
			ns := timeOfTick(k, hz)
			if ns == math.MaxInt64 {
				continue // saturated: k*1e9/hz does not fit
			}
			if got := ticksAt(ns, hz); got != k {
				t.Fatalf("hz=%d k=%d: ticksAt(timeOfTick)=%d", hz, k, got)
			}
			if ns > 0 && ticksAt(ns-1, hz) >= k {
				t.Fatalf("hz=%d k=%d: timeOfTick not minimal", hz, k)
			}
		}
	}
	if ticksAt(-5, PITHz) != 0 || timeOfTick(-5, PITHz) != 0 {
		t.Fatal("negative inputs")
	}
	if ticksAt(math.MaxInt64, PITHz) <= 0 || timeOfTick(math.MaxInt64, PITHz) != math.MaxInt64 {
		t.Fatal("saturation")
	}
}

func TestPITMode2RateGeneratorIRQTimes(t *testing.T) {
	p, clk, irq := newTestPIT()
	const n = 1193
	out8(p, 0x43, 0x34) // ch0, lo/hi, mode 2, binary
	out8(p, 0x40, n&0xFF)
	out8(p, 0x40, n>>8)
	irq.reset()
	clk.Advance(tickNs(3*n) + 1)
	// OUT goes low at count 1 (tick n-1) and back high on reload (tick n).
	var want []irqEvent
	for k := int64(1); k <= 3; k++ {
		want = append(want, irqEvent{0, false, tickNs(k*n - 1)}, irqEvent{0, true, tickNs(k * n)})
	}
	if !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events\n got %v\nwant %v", irq.events, want)
	}
	// Counter readback: at tick 3n+d the count is n-d.
	clk.AdvanceTo(tickNs(3*n + 100))
	out8(p, 0x43, 0x00) // latch ch0
	if c := readCount16(p, 0); c != n-100 {
		t.Fatalf("count = %d, want %d", c, n-100)
	}
	// With a PIC: rising edges become interrupts.
	pic := NewPIC()
	initPC(pic, 0x01)
	p2 := NewPIT(clk, pic)
	out8(p2, 0x43, 0x34)
	out8(p2, 0x40, 0)
	out8(p2, 0x40, 0) // 65536
	for pic.Pending() {
		pic.Ack()
		out8(pic, 0x20, 0x20)
	}
	start := ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(start+65536) - 1)
	if pic.Pending() {
		t.Fatal("IRQ0 early")
	}
	clk.AdvanceTo(tickNs(start + 65536))
	if !pic.Pending() || pic.Ack() != 0x08 {
		t.Fatal("IRQ0 not delivered at the end of the period")
	}
}

func TestPITMode3SquareWave(t *testing.T) {
	p, clk, irq := newTestPIT()
	out8(p, 0x43, 0x36) // ch0 lo/hi mode 3
	out8(p, 0x40, 100)
	out8(p, 0x40, 0)
	irq.reset()
	clk.AdvanceTo(tickNs(200))
	want := []irqEvent{
		{0, false, tickNs(50)}, {0, true, tickNs(100)},
		{0, false, tickNs(150)}, {0, true, tickNs(200)},
	}
	if !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events\n got %v\nwant %v", irq.events, want)
	}
	// Even count decrements by two in each half.
	clk.AdvanceTo(tickNs(210))
	if c := readCount16(p, 0); c != 80 {
		t.Fatalf("count = %d, want 80", c)
	}
	clk.AdvanceTo(tickNs(260)) // low half, 10 ticks in
	out8(p, 0x43, 0x00)
	if c := readCount16(p, 0); c != 80 {
		t.Fatalf("count = %d, want 80", c)
	}
	// Odd count: high for (n+1)/2, low for (n-1)/2.
	out8(p, 0x43, 0x36)
	start := ticksAt(clk.Now(), PITHz)
	out8(p, 0x40, 5)
	out8(p, 0x40, 0)
	irq.reset()
	clk.AdvanceTo(tickNs(start + 10))
	want = []irqEvent{
		{0, false, tickNs(start + 3)}, {0, true, tickNs(start + 5)},
		{0, false, tickNs(start + 8)}, {0, true, tickNs(start + 10)},
	}
	if !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("odd events\n got %v\nwant %v", irq.events, want)
	}
	var seq []uint16
	for i := int64(0); i < 5; i++ {
		clk.AdvanceTo(tickNs(start + 10 + i))
		out8(p, 0x43, 0x00)
		seq = append(seq, readCount16(p, 0))
	}
	if !reflect.DeepEqual(seq, []uint16{5, 4, 2, 5, 2}) {
		t.Fatalf("odd count sequence %v", seq)
	}
}

func TestPITMode0InterruptOnTerminalCount(t *testing.T) {
	p, clk, irq := newTestPIT()
	out8(p, 0x43, 0x30) // ch0 lo/hi mode 0
	if p.OutLevel(0) {
		t.Fatal("mode 0 OUT must go low on the control word")
	}
	out8(p, 0x40, 0x00)
	out8(p, 0x40, 0x10) // 4096
	irq.reset()
	clk.AdvanceTo(tickNs(1000))
	if c := readCount16(p, 0); c != 4096-1000 {
		t.Fatalf("count = %d", c)
	}
	clk.AdvanceTo(tickNs(10000))
	want := []irqEvent{{0, true, tickNs(4096)}}
	if !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events %v want %v", irq.events, want)
	}
	// The counter wraps and keeps counting; OUT stays high.
	out8(p, 0x43, 0x00)
	if c := readCount16(p, 0); c != uint16(4096-10000+65536) {
		t.Fatalf("wrapped count = %#x", c)
	}
	if _, ok := clk.NextDeadline(); ok {
		t.Fatal("a one-shot should leave no timer armed")
	}
	// Rewriting: first byte stops counting and drops OUT.
	out8(p, 0x40, 0x10)
	if p.OutLevel(0) {
		t.Fatal("OUT should be low after the first byte")
	}
	if irq.levels[0] {
		t.Fatal("IRQ0 should follow OUT low")
	}
	now := ticksAt(clk.Now(), PITHz)
	out8(p, 0x40, 0x00) // count 0x0010
	clk.AdvanceTo(tickNs(now + 16))
	if !irq.levels[0] {
		t.Fatal("second terminal count not signalled")
	}
}

func TestPITLatchCommand(t *testing.T) {
	p, clk, _ := newTestPIT()
	out8(p, 0x43, 0x34)
	out8(p, 0x40, 0x00)
	out8(p, 0x40, 0x80) // 32768
	clk.AdvanceTo(tickNs(1000))
	out8(p, 0x43, 0x00) // latch
	clk.AdvanceTo(tickNs(2000))
	out8(p, 0x43, 0x00) // ignored: previous latch not read yet
	expect8(t, "lo", in8(p, 0x40), uint8((32768-1000)&0xFF))
	clk.AdvanceTo(tickNs(3000))
	expect8(t, "hi", in8(p, 0x40), uint8((32768-1000)>>8))
	// Latch released: live reads again.
	if c := readCount16(p, 0); c != 32768-3000 {
		t.Fatalf("live count %d", c)
	}
}

func TestPITAccessModes(t *testing.T) {
	p, clk, _ := newTestPIT()
	// LSB only.
	out8(p, 0x43, 0x50|0x04) // ch1, lsb, mode 2
	out8(p, 0x41, 200)
	clk.AdvanceTo(clk.Now() + tickNs(50) + 1)
	v := in8(p, 0x41)
	if v > 150 || v < 148 {
		t.Fatalf("lsb count %d", v)
	}
	// MSB only: count 0x0300 = 768.
	out8(p, 0x43, 0x60|0x04) // ch1, msb, mode 2
	start := ticksAt(clk.Now(), PITHz)
	out8(p, 0x41, 0x03)
	clk.AdvanceTo(tickNs(start + 256))
	expect8(t, "msb", in8(p, 0x41), 0x02)
	expect8(t, "msb again", in8(p, 0x41), 0x02)
	// LSB/MSB flip-flop with latch in the middle of a live read.
	out8(p, 0x43, 0x74) // ch1, lo/hi, mode 2
	start = ticksAt(clk.Now(), PITHz)
	out8(p, 0x41, 0x34)
	out8(p, 0x41, 0x12) // 0x1234
	clk.AdvanceTo(tickNs(start + 0x34))
	expect8(t, "lo", in8(p, 0x41), 0x00)
	expect8(t, "hi", in8(p, 0x41), 0x12)
	// Control word read-back of 0x43 is not possible.
	expect8(t, "port 0x43", in8(p, 0x43), 0x00)
}

func TestPITReadBack(t *testing.T) {
	p, clk, _ := newTestPIT()
	out8(p, 0x43, 0x34) // ch0 lo/hi mode 2
	// Status before the count is written: OUT high, null count.
	out8(p, 0x43, 0xE2) // read-back status only, ch0
	expect8(t, "status (null)", in8(p, 0x40), 0xF4)
	out8(p, 0x40, 0x00)
	out8(p, 0x40, 0x01) // 256
	clk.AdvanceTo(tickNs(10))
	// Status and count, ch0 and ch2: status first, then count.
	out8(p, 0x43, 0xC0|0x02|0x08)
	expect8(t, "status", in8(p, 0x40), 0xB4)
	clk.AdvanceTo(tickNs(20))
	if c := readCount16(p, 0); c != 256-10 {
		t.Fatalf("latched count %d", c)
	}
	// Channel 2 after reset: mode 3, lsb/msb, gate low, count loaded.
	expect8(t, "ch2 status", in8(p, 0x42), 0xB6)
	// Count-only read-back.
	out8(p, 0x43, 0xD2)
	clk.AdvanceTo(tickNs(30))
	if c := readCount16(p, 0); c != 256-20 {
		t.Fatalf("count-only read-back %d", c)
	}
	// Mode 6 reads back as 6 in the status but behaves as mode 2.
	out8(p, 0x43, 0x7C) // ch1 lo/hi mode 6
	out8(p, 0x43, 0xE4)
	expect8(t, "mode 6 status", in8(p, 0x41), 0xFC)
}

func TestPITBCD(t *testing.T) {
	p, clk, _ := newTestPIT()
	out8(p, 0x43, 0x31) // ch0 lo/hi mode 0 BCD
	out8(p, 0x40, 0x00)
	out8(p, 0x40, 0x10) // 1000 decimal
	clk.AdvanceTo(tickNs(10))
	if c := readCount16(p, 0); c != 0x0990 {
		t.Fatalf("bcd count %#x", c)
	}
	clk.AdvanceTo(tickNs(1001)) // wrapped past 0 -> 9999
	if c := readCount16(p, 0); c != 0x9999 {
		t.Fatalf("bcd wrap %#x", c)
	}
	// BCD count 0 is 10000.
	out8(p, 0x43, 0x35) // mode 2 BCD
	start := ticksAt(clk.Now(), PITHz)
	out8(p, 0x40, 0)
	out8(p, 0x40, 0)
	clk.AdvanceTo(tickNs(start + 1))
	if c := readCount16(p, 0); c != 0x9999 {
		t.Fatalf("bcd 10000-1 = %#x", c)
	}
	if _, ok := clk.NextDeadline(); !ok {
		t.Fatal("no timer")
	}
	dl, _ := clk.NextDeadline()
	if dl != tickNs(start+9999) {
		t.Fatalf("bcd period: next event %d want %d", dl, tickNs(start+9999))
	}
}

func TestPITGateAndPort61(t *testing.T) {
	p, clk, _ := newTestPIT()
	expect8(t, "port61", in8(p, 0x61)&0x0F, 0x00)
	// Typical TSC calibration: gate on, speaker off, ch2 mode 0.
	out8(p, 0x61, 0x00)
	out8(p, 0x43, 0xB0) // ch2 lo/hi mode 0
	out8(p, 0x42, 0xFF)
	out8(p, 0x42, 0xFF)
	clk.Advance(tickNs(1000))
	out8(p, 0x43, 0x80)
	if c := readCount16(p, 2); c != 0xFFFF {
		t.Fatalf("gate low but counted: %#x", c)
	}
	out8(p, 0x61, 0x01) // gate high
	g := ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 0xFFFF - 1))
	if in8(p, 0x61)&0x20 != 0 {
		t.Fatal("OUT2 high early")
	}
	clk.AdvanceTo(tickNs(g + 0xFFFF))
	if in8(p, 0x61)&0x20 == 0 {
		t.Fatal("OUT2 not high at terminal count")
	}
	// Gate low suspends mode 0 counting.
	out8(p, 0x43, 0xB0)
	out8(p, 0x42, 100)
	out8(p, 0x42, 0)
	g = ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 40))
	out8(p, 0x61, 0x00)
	clk.AdvanceTo(tickNs(g + 500))
	out8(p, 0x43, 0x80)
	if c := readCount16(p, 2); c != 60 {
		t.Fatalf("suspended count %d", c)
	}
	out8(p, 0x61, 0x01)
	g = ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 59))
	if p.OutLevel(2) {
		t.Fatal("early")
	}
	clk.AdvanceTo(tickNs(g + 60))
	if !p.OutLevel(2) {
		t.Fatal("terminal count after resume")
	}
	// Speaker bits read back, bits 4-7 are read-only.
	out8(p, 0x61, 0xFF)
	if v := in8(p, 0x61); v&0x0F != 0x0F {
		t.Fatalf("port61 = %#x", v)
	}
	on, _ := p.Speaker()
	if !on || !p.Gate2() {
		t.Fatal("speaker should be on")
	}
}

func TestPITMode1And5HardwareTrigger(t *testing.T) {
	p, clk, _ := newTestPIT()
	out8(p, 0x43, 0xB2) // ch2 lo/hi mode 1
	out8(p, 0x42, 50)
	out8(p, 0x42, 0)
	clk.Advance(tickNs(100))
	if !p.OutLevel(2) {
		t.Fatal("mode 1 OUT high until triggered")
	}
	out8(p, 0x61, 0x01) // trigger
	g := ticksAt(clk.Now(), PITHz)
	if p.OutLevel(2) {
		t.Fatal("mode 1 OUT low after trigger")
	}
	clk.AdvanceTo(tickNs(g + 50))
	if !p.OutLevel(2) {
		t.Fatal("mode 1 OUT high at terminal count")
	}
	// Retrigger.
	out8(p, 0x61, 0x00)
	out8(p, 0x61, 0x01)
	if p.OutLevel(2) {
		t.Fatal("retrigger")
	}
	// Mode 5: strobe one tick after the count expires.
	out8(p, 0x61, 0x00)
	out8(p, 0x43, 0xBA) // ch2 lo/hi mode 5
	out8(p, 0x42, 20)
	out8(p, 0x42, 0)
	out8(p, 0x61, 0x01)
	g = ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 19))
	if !p.OutLevel(2) {
		t.Fatal("mode 5 early strobe")
	}
	clk.AdvanceTo(tickNs(g + 20))
	if p.OutLevel(2) {
		t.Fatal("mode 5 strobe missing")
	}
	clk.AdvanceTo(tickNs(g + 21))
	if !p.OutLevel(2) {
		t.Fatal("mode 5 strobe longer than a tick")
	}
}

func TestPITMode4SoftwareStrobe(t *testing.T) {
	p, clk, irq := newTestPIT()
	out8(p, 0x43, 0x38) // ch0 lo/hi mode 4
	out8(p, 0x40, 10)
	irq.reset()
	out8(p, 0x40, 0)
	clk.AdvanceTo(tickNs(100))
	want := []irqEvent{{0, false, tickNs(10)}, {0, true, tickNs(11)}}
	if !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events %v want %v", irq.events, want)
	}
}

func TestPITMode2NewCountAtPeriodEnd(t *testing.T) {
	p, clk, irq := newTestPIT()
	out8(p, 0x43, 0x34)
	out8(p, 0x40, 100)
	out8(p, 0x40, 0)
	clk.AdvanceTo(tickNs(30))
	out8(p, 0x40, 50)
	out8(p, 0x40, 0)
	out8(p, 0x43, 0xE2)
	expect8(t, "null count while pending", in8(p, 0x40)&0x40, 0x40)
	irq.reset()
	clk.AdvanceTo(tickNs(200))
	got := irq.rises(0)
	want := []int64{tickNs(100), tickNs(150), tickNs(200)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rises %v want %v", got, want)
	}
}

func TestPITMode2GateOnChannel2(t *testing.T) {
	p, clk, _ := newTestPIT()
	out8(p, 0x43, 0xB4) // ch2 lo/hi mode 2
	out8(p, 0x42, 10)
	out8(p, 0x42, 0)
	out8(p, 0x61, 0x01)
	g := ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 9))
	if p.OutLevel(2) {
		t.Fatal("mode 2 OUT low at count 1")
	}
	out8(p, 0x61, 0x00) // gate low forces OUT high
	if !p.OutLevel(2) {
		t.Fatal("gate low must force OUT high")
	}
	clk.Advance(tickNs(1000))
	out8(p, 0x61, 0x01) // rising gate reloads
	g = ticksAt(clk.Now(), PITHz)
	clk.AdvanceTo(tickNs(g + 3))
	out8(p, 0x43, 0x80)
	if c := readCount16(p, 2); c != 7 {
		t.Fatalf("count after gate reload %d", c)
	}
}

func TestPITRefreshToggle(t *testing.T) {
	p, clk, _ := newTestPIT()
	b0 := in8(p, 0x61) & 0x10
	clk.AdvanceTo(RefreshToggleNs - 1)
	if in8(p, 0x61)&0x10 != b0 {
		t.Fatal("toggled early")
	}
	clk.AdvanceTo(RefreshToggleNs)
	if in8(p, 0x61)&0x10 == b0 {
		t.Fatal("refresh bit did not toggle")
	}
	clk.AdvanceTo(2 * RefreshToggleNs)
	if in8(p, 0x61)&0x10 != b0 {
		t.Fatal("refresh bit did not toggle back")
	}
}

func TestPITPowerOnState(t *testing.T) {
	clk := vclock.New()
	irq := &fakeIRQ{clk: clk}
	p := NewPIT(clk, irq)
	// QEMU-like reset: ch0 mode 3 with 65536 running.
	clk.AdvanceTo(tickNs(65536))
	if got := irq.rises(0); !reflect.DeepEqual(got, []int64{0, tickNs(65536)}) {
		t.Fatalf("power-on rises %v", got)
	}
	s := memmap.New(0)
	p.Register(s)
	if s.PortName(0x40) != "pit" || s.PortName(0x61) != "port61" {
		t.Fatal("ports not registered")
	}
	info := p.String()
	if !strings.Contains(info, "ch0: mode=3") || !strings.Contains(info, "port61=") {
		t.Fatalf("info:\n%s", info)
	}
}
