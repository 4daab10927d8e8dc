package devices

import (
	"strings"
	"testing"
	"time"

	"glassbox/memmap"
	"glassbox/vclock"
)

// 2024-03-15 13:45:30 UTC, a Friday.
var testBase = time.Date(2024, 3, 15, 13, 45, 30, 0, time.UTC)

func newTestCMOS() (*CMOS, *vclock.Clock, *fakeIRQ) {
	clk := vclock.New()
	irq := &fakeIRQ{clk: clk}
	return NewCMOS(clk, irq, testBase), clk, irq
}

func rd(c *CMOS, idx uint8) uint8 {
	out8(c, 0x70, idx)
	return in8(c, 0x71)
}

func wr(c *CMOS, idx, v uint8) {
	out8(c, 0x70, idx)
	out8(c, 0x71, v)
}

type timeRegs struct{ sec, min, hour, wday, day, mon, year, cent uint8 }

func readTime(c *CMOS) timeRegs {
	return timeRegs{rd(c, 0), rd(c, 2), rd(c, 4), rd(c, 6), rd(c, 7), rd(c, 8), rd(c, 9), rd(c, 0x32)}
}

func TestCMOSReadTimeBCD24(t *testing.T) {
	c, clk, _ := newTestCMOS()
	want := timeRegs{0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20}
	if got := readTime(c); got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
	clk.Advance(90 * int64(time.Second))
	want = timeRegs{0x00, 0x47, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20}
	if got := readTime(c); got != want {
		t.Fatalf("after 90s got %+v want %+v", got, want)
	}
	// Just before the next second nothing changes.
	clk.Advance(int64(time.Second) - 1)
	expect8(t, "sec", rd(c, 0), 0x00)
	clk.Advance(1)
	expect8(t, "sec", rd(c, 0), 0x01)
	if !c.Time().Equal(testBase.Add(91 * time.Second)) {
		t.Fatalf("Time() = %v", c.Time())
	}
}

func TestCMOSBinaryAnd12Hour(t *testing.T) {
	c, _, _ := newTestCMOS()
	wr(c, 0x0B, 0x06) // binary, 24h
	want := timeRegs{30, 45, 13, 6, 15, 3, 24, 20}
	if got := readTime(c); got != want {
		t.Fatalf("binary got %+v want %+v", got, want)
	}
	wr(c, 0x0B, 0x00) // BCD, 12h
	expect8(t, "12h BCD 1 PM", rd(c, 4), 0x81)
	wr(c, 0x0B, 0x04) // binary, 12h
	expect8(t, "12h binary 1 PM", rd(c, 4), 0x81)

	for _, tc := range []struct {
		hour    int
		bcd12   uint8
		bin12   uint8
		bcd24   uint8
		binary4 uint8
	}{
		{0, 0x12, 12, 0x00, 0},
		{11, 0x11, 11, 0x11, 11},
		{12, 0x92, 0x8C, 0x12, 12},
		{23, 0x91, 0x8B, 0x23, 23},
	} {
		clk := vclock.New()
		base := time.Date(2030, 1, 1, tc.hour, 0, 0, 0, time.UTC)
		c := NewCMOS(clk, nil, base)
		wr(c, 0x0B, 0x00)
		expect8(t, "bcd12", rd(c, 4), tc.bcd12)
		wr(c, 0x0B, 0x04)
		expect8(t, "bin12", rd(c, 4), tc.bin12)
		wr(c, 0x0B, 0x02)
		expect8(t, "bcd24", rd(c, 4), tc.bcd24)
		wr(c, 0x0B, 0x06)
		expect8(t, "bin24", rd(c, 4), tc.binary4)
	}
}

func TestCMOSSetTimeWithSET(t *testing.T) {
	c, clk, _ := newTestCMOS()
	wr(c, 0x0B, 0x82) // SET, 24h BCD
	clk.Advance(5 * int64(time.Second))
	expect8(t, "frozen seconds", rd(c, 0), 0x30)
	wr(c, 0x00, 0x59)
	wr(c, 0x02, 0x59)
	wr(c, 0x04, 0x23)
	wr(c, 0x07, 0x31)
	wr(c, 0x08, 0x12)
	wr(c, 0x09, 0x99)
	wr(c, 0x32, 0x19)
	clk.Advance(3 * int64(time.Second))
	expect8(t, "still frozen", rd(c, 0), 0x59)
	wr(c, 0x0B, 0x02) // clear SET: clock starts from the registers
	clk.Advance(int64(time.Second))
	want := timeRegs{0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20} // Sat 2000-01-01
	if got := readTime(c); got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

func TestCMOSWriteSingleRegisterWhileRunning(t *testing.T) {
	c, clk, _ := newTestCMOS()
	clk.Advance(int64(time.Second) / 2)
	wr(c, 0x09, 0x25) // year 2025
	expect8(t, "year", rd(c, 9), 0x25)
	expect8(t, "weekday follows date", rd(c, 6), 0x07) // 2025-03-15 is a Saturday
	// The sub-second phase is kept: the next update is 0.5 s later.
	clk.Advance(int64(time.Second)/2 - 1)
	expect8(t, "sec", rd(c, 0), 0x30)
	clk.Advance(1)
	expect8(t, "sec", rd(c, 0), 0x31)
	if got := c.Time(); got.Year() != 2025 || got.Month() != 3 || got.Minute() != 45 {
		t.Fatalf("time %v", got)
	}
}

func TestCMOSStatusRegisters(t *testing.T) {
	c, clk, irq := newTestCMOS()
	expect8(t, "A", rd(c, 0x0A), 0x26)
	expect8(t, "B", rd(c, 0x0B), 0x02)
	expect8(t, "C", rd(c, 0x0C), 0x00)
	expect8(t, "D", rd(c, 0x0D), 0x80)
	wr(c, 0x0D, 0x00)
	wr(c, 0x0C, 0xFF)
	expect8(t, "D read-only", rd(c, 0x0D), 0x80)
	// UIP: set during the last 244 µs before an update.
	clk.AdvanceTo(int64(time.Second) - uipNs - 1)
	expect8(t, "UIP clear", rd(c, 0x0A)&0x80, 0)
	clk.AdvanceTo(int64(time.Second) - uipNs)
	expect8(t, "UIP set", rd(c, 0x0A)&0x80, 0x80)
	clk.AdvanceTo(int64(time.Second))
	expect8(t, "UIP clear after update", rd(c, 0x0A)&0x80, 0)
	wr(c, 0x0A, 0xFF)
	expect8(t, "UIP not writable", rd(c, 0x0A), 0x7F)
	wr(c, 0x0A, 0x26)
	// Flags are set without interrupts enabled; reading C clears them.
	clk.Advance(2 * int64(time.Second))
	expect8(t, "C flags", rd(c, 0x0C), 0x50) // PF|UF, no IRQF
	expect8(t, "C cleared", rd(c, 0x0C), 0x00)
	if len(irq.events) != 0 {
		t.Fatalf("IRQ without enable: %v", irq.events)
	}
	// SET clears UIE.
	wr(c, 0x0B, 0x92)
	expect8(t, "B", rd(c, 0x0B), 0x82)
	// NMI bit and index port.
	out8(c, 0x70, 0x8F)
	if !c.NMIDisabled() {
		t.Fatal("NMI bit not kept")
	}
	expect8(t, "port 0x70", in8(c, 0x70), 0xFF)
	out8(c, 0x71, 0x5A)
	expect8(t, "reg 0x0F", rd(c, 0x0F), 0x5A)
	if c.NMIDisabled() {
		t.Fatal("NMI bit not cleared")
	}
}

func TestCMOSPeriodicInterruptRate(t *testing.T) {
	for _, tc := range []struct {
		rs   uint8
		want int
	}{{0x06, 1024}, {0x0F, 2}, {0x03, 8192}, {0x01, 256}, {0x0A, 64}} {
		c, clk, irq := newTestCMOS()
		wr(c, 0x0A, 0x20|tc.rs)
		rd(c, 0x0C)
		irq.reset()
		start := clk.Now()
		wr(c, 0x0B, 0x42) // PIE
		// Service every interrupt the way an OS does: read C when IRQ 8 rises.
		n := 0
		for {
			dl, ok := clk.NextDeadline()
			if !ok || dl > start+int64(time.Second) {
				break
			}
			clk.AdvanceTo(dl)
			if irq.levels[8] {
				n++
				if v := rd(c, 0x0C); v&0xC0 != 0xC0 {
					t.Fatalf("C = %#x", v)
				}
				if irq.levels[8] {
					t.Fatal("reading C did not lower IRQ 8")
				}
			}
		}
		if n != tc.want {
			t.Fatalf("rs=%d: %d interrupts in 1 s, want %d", tc.rs, n, tc.want)
		}
		if c.PeriodicRate() != float64(tc.want) {
			t.Fatalf("PeriodicRate %v", c.PeriodicRate())
		}
	}
	// Exact time of the first 1024 Hz interrupt: 32 ticks of 32768 Hz.
	c, clk, irq := newTestCMOS()
	wr(c, 0x0B, 0x42)
	clk.Advance(int64(time.Second) / 100)
	if got := irq.rises(8); len(got) != 1 || got[0] != timeOfTick(32, rtcHz) {
		t.Fatalf("first periodic IRQ at %v want %d", got, timeOfTick(32, rtcHz))
	}
	// Not serviced: the line stays high and no timer runs.
	if _, ok := clk.NextDeadline(); ok {
		t.Fatal("timer armed while IRQ 8 is high")
	}
}

func TestCMOSUpdateEndedInterrupt(t *testing.T) {
	c, clk, irq := newTestCMOS()
	wr(c, 0x0B, 0x12) // UIE
	clk.Advance(int64(time.Second) - 1)
	if irq.levels[8] {
		t.Fatal("early update interrupt")
	}
	clk.Advance(1)
	if got := irq.rises(8); len(got) != 1 || got[0] != int64(time.Second) {
		t.Fatalf("update IRQ at %v", got)
	}
	expect8(t, "C", rd(c, 0x0C)&0xB0, 0x90) // IRQF|UF (PF runs too)
	clk.Advance(int64(time.Second))
	if got := irq.rises(8); len(got) != 2 || got[1] != 2*int64(time.Second) {
		t.Fatalf("update IRQs at %v", got)
	}
}

func TestCMOSAlarmInterrupt(t *testing.T) {
	c, clk, irq := newTestCMOS()
	// Alarm at 13:45:35 (BCD).
	wr(c, 0x01, 0x35)
	wr(c, 0x03, 0x45)
	wr(c, 0x05, 0x13)
	wr(c, 0x0B, 0x22) // AIE
	clk.Advance(10 * int64(time.Second))
	if got := irq.rises(8); len(got) != 1 || got[0] != 5*int64(time.Second) {
		t.Fatalf("alarm IRQ at %v", got)
	}
	expect8(t, "C", rd(c, 0x0C)&0xA0, 0xA0)
	// Don't-care hours and minutes: every minute at second 40.
	wr(c, 0x01, 0x40)
	wr(c, 0x03, 0xFF)
	wr(c, 0x05, 0xC0)
	irq.reset()
	clk.Advance(130 * int64(time.Second))
	// The clock was at 13:45:40 (10 s) when the alarm was set, so it
	// matches at 13:46:40 (70 s) and 13:47:40 (130 s); the line stays high
	// after the first until C is read, so there is one rising edge.
	if got := irq.rises(8); len(got) != 1 || got[0] != 70*int64(time.Second) {
		t.Fatalf("don't-care alarm at %v", got)
	}
	rd(c, 0x0C)
	clk.Advance(50 * int64(time.Second)) // to 13:48:40
	if got := irq.rises(8); len(got) != 2 || got[1] != 190*int64(time.Second) {
		t.Fatalf("don't-care alarm at %v", got)
	}
	// An impossible alarm never fires.
	rd(c, 0x0C)
	wr(c, 0x01, 0x75)
	irq.reset()
	clk.Advance(200 * int64(time.Second))
	if len(irq.rises(8)) != 0 {
		t.Fatal("impossible alarm fired")
	}
	// AF is set even without AIE, found lazily.
	c2, clk2, _ := newTestCMOS()
	wr(c2, 0x01, 0xFF)
	wr(c2, 0x03, 0xFF)
	wr(c2, 0x05, 0xFF)
	clk2.Advance(3 * int64(time.Second))
	expect8(t, "AF lazily", rd(c2, 0x0C)&0x20, 0x20)
}

func TestCMOSDividerReset(t *testing.T) {
	c, clk, _ := newTestCMOS()
	wr(c, 0x0A, 0x76) // divider reset
	clk.Advance(10 * int64(time.Second))
	expect8(t, "stopped", rd(c, 0), 0x30)
	expect8(t, "no PF while stopped", rd(c, 0x0C), 0x00)
	wr(c, 0x0A, 0x26)
	clk.Advance(int64(time.Second)/2 - 1)
	expect8(t, "no update yet", rd(c, 0), 0x30)
	clk.Advance(1)
	expect8(t, "first update 500 ms after restart", rd(c, 0), 0x31)
}

func TestCMOSMemoryAndCPUs(t *testing.T) {
	c, _, _ := newTestCMOS()
	c.SetMemory(32<<20, 1<<30)
	check := func(idx int, want byte) {
		t.Helper()
		if got := c.Byte(idx); got != want {
			t.Fatalf("byte %#x = %#x, want %#x", idx, got, want)
		}
	}
	check(0x15, 0x80)
	check(0x16, 0x02)
	check(0x17, 0x00) // 31744 KiB = 0x7C00
	check(0x18, 0x7C)
	check(0x30, 0x00)
	check(0x31, 0x7C)
	check(0x34, 0x00) // 16 MiB / 64 KiB = 0x100
	check(0x35, 0x01)
	check(0x5B, 0x00) // 1 GiB / 64 KiB = 0x4000
	check(0x5C, 0x40)
	check(0x5D, 0x00)
	c.SetMemory(3<<30, 1<<50)
	check(0x17, 0xFF)
	check(0x18, 0xFF)
	check(0x34, 0x00)
	check(0x35, 0xBF) // (3 GiB - 16 MiB) / 64 KiB = 0xBF00
	check(0x5B, 0xFF)
	check(0x5C, 0xFF)
	check(0x5D, 0xFF)
	c.SetMemory(512<<10, 0)
	check(0x17, 0)
	check(0x34, 0)
	c.SetCPUs(4)
	check(0x5F, 3)
	c.SetCPUs(0)
	check(0x5F, 0)
	// The bytes are visible through the ports.
	c.SetByte(0x3D, 0x21)
	expect8(t, "boot order", rd(c, 0x3D), 0x21)
}

func TestCMOSRegisterInfoReset(t *testing.T) {
	c, clk, irq := newTestCMOS()
	s := memmap.New(0)
	c.Register(s)
	if s.PortName(0x70) != "rtc" || s.PortName(0x71) != "rtc" {
		t.Fatal("ports not registered")
	}
	s.Out(0x70, 1, 0x0B)
	s.Out(0x71, 1, 0x52)
	clk.Advance(int64(time.Second))
	if !irq.levels[8] {
		t.Fatal("no IRQ")
	}
	info := c.String()
	if !strings.Contains(info, "time=2024-03-15 13:45:31 UTC running") || !strings.Contains(info, "pie=1") {
		t.Fatalf("info:\n%s", info)
	}
	c.Reset()
	if irq.levels[8] {
		t.Fatal("Reset did not lower IRQ 8")
	}
	expect8(t, "B after reset", rd(c, 0x0B), 0x02)
}
