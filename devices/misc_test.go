package devices

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"glassbox/memmap"
	"glassbox/vclock"
)

func TestPort92(t *testing.T) {
	var a20 []bool
	resets := 0
	p := NewPort92(func(on bool) { a20 = append(a20, on) }, func() { resets++ }, false)
	expect8(t, "initial", in8(p, 0x92), 0x00)
	out8(p, 0x92, 0x02)
	if !reflect.DeepEqual(a20, []bool{true}) || !p.A20() {
		t.Fatalf("A20 calls %v", a20)
	}
	expect8(t, "readback", in8(p, 0x92), 0x02)
	out8(p, 0x92, 0x02) // every write drives the A20 line (QEMU port92_write)
	if !reflect.DeepEqual(a20, []bool{true, true}) {
		t.Fatalf("A20 calls %v", a20)
	}
	out8(p, 0x92, 0x03) // fast reset, A20 stays on
	if resets != 1 || !reflect.DeepEqual(a20, []bool{true, true, true}) {
		t.Fatalf("resets %d a20 %v", resets, a20)
	}
	expect8(t, "reset bit self-clears", in8(p, 0x92), 0x02)
	out8(p, 0x92, 0x03)
	if resets != 2 || p.Resets() != 2 {
		t.Fatalf("second reset: %d", resets)
	}
	out8(p, 0x92, 0x00)
	if !reflect.DeepEqual(a20, []bool{true, true, true, true, false}) {
		t.Fatalf("A20 calls %v", a20)
	}
	// Initially enabled, nil callbacks.
	q := NewPort92(nil, nil, true)
	expect8(t, "initial A20", in8(q, 0x92), 0x02)
	out8(q, 0x92, 0x01)
	out8(q, 0x92, 0x00)
	if q.A20() || q.Resets() != 1 {
		t.Fatal("nil callbacks")
	}
	if v := q.In(0x92, 2); v != 0xFF00 {
		t.Fatalf("word read %#x", v)
	}
	if !strings.Contains(p.String(), "port92: value=00 a20=0 fast_resets=2") {
		t.Fatalf("info %q", p.String())
	}
}

func TestDebugExit(t *testing.T) {
	var got []int
	d := NewDebugExit(DebugExitDefaultBase, DebugExitDefaultSize, func(s int) { got = append(got, s) })
	s := memmap.New(0)
	d.Register(s)
	for p := uint16(0xF4); p < 0xF8; p++ {
		if s.PortName(p) != "isa-debug-exit" {
			t.Fatalf("port %#x not mapped", p)
		}
	}
	if s.PortName(0xF8) != "unassigned" {
		t.Fatal("too many ports")
	}
	s.Out(0xF4, 1, 0x10)
	s.Out(0xF4, 1, 0x00)
	s.Out(0xF4, 2, 0x1234)
	s.Out(0xF4, 4, 0xDEADBEEF)
	s.Out(0xF6, 1, 0x01)
	d.Out(0xF4, 1, 0x1FF) // value masked to the access width
	d.Out(0xF4, 2, 0x12345)
	want := []int{0x21, 1, 0x2469, 0x1BD5B7DDF, 3, 0x1FF, 0x468B}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#x want %#x", got, want)
	}
	if st, ok := d.Exited(); !ok || st != 0x468B {
		t.Fatal("Exited")
	}
	for _, size := range []int{1, 2, 4} {
		if v := s.In(0xF4, size); v != 0 {
			t.Fatalf("read size %d = %#x (QEMU returns 0)", size, v)
		}
	}
	// QEMU's property defaults and degenerate sizes.
	e := NewDebugExit(0x501, 2, nil)
	e.Out(0x501, 2, 0xFFFF) // nil exit: recorded only
	if st, _ := e.Exited(); st != 0x1FFFF {
		t.Fatalf("status %#x", st)
	}
	f := NewDebugExit(0xFFFF, 8, nil)
	f.Register(memmap.New(0))
	g := NewDebugExit(0x10, 0, nil)
	g.Register(memmap.New(0))
	if !strings.Contains(d.String(), "iobase=0xf4 iosize=4 exit_status=18059") {
		t.Fatalf("info %q", d.String())
	}
}

func TestDebugCon(t *testing.T) {
	var buf bytes.Buffer
	d := NewDebugCon(&buf)
	s := memmap.New(0)
	d.Register(s)
	for _, b := range []byte("Hello, world\n") {
		s.Out(0xE9, 1, uint32(b))
	}
	s.Out(0xE9, 2, 0x6968) // "hi"
	if buf.String() != "Hello, world\nhi" {
		t.Fatalf("output %q", buf.String())
	}
	if v := s.In(0xE9, 1); v != 0xE9 {
		t.Fatalf("readback %#x", v)
	}
	if v := s.In(0xE9, 2); v != 0xE9E9 {
		t.Fatalf("word readback %#x", v)
	}
	d.SetOutput(nil)
	s.Out(0xE9, 1, 'x')
	if !strings.Contains(d.String(), "bytes_written=16") {
		t.Fatalf("info %q", d.String())
	}
}

func TestPOST(t *testing.T) {
	p := NewPOST()
	s := memmap.New(0)
	p.Register(s)
	if _, ok := p.Last(); ok {
		t.Fatal("written before any write")
	}
	if v := s.In(0x80, 1); v != 0xFF {
		t.Fatalf("unwritten read %#x", v)
	}
	if !strings.Contains(p.String(), "no code") {
		t.Fatal(p.String())
	}
	s.Out(0x80, 1, 0x55)
	s.Out(0x80, 1, 0xAA)
	s.Out(0x80, 2, 0x1234)
	if code, ok := p.Last(); !ok || code != 0x34 || p.Writes() != 3 {
		t.Fatalf("last %#x %v writes %d", code, ok, p.Writes())
	}
	if v := s.In(0x80, 1); v != 0x34 {
		t.Fatalf("read %#x", v)
	}
	if v := s.In(0x80, 4); v != 0xFFFFFF34 {
		t.Fatalf("dword read %#x", v)
	}
	if !strings.Contains(p.String(), "last=34 writes=3") {
		t.Fatal(p.String())
	}
}

// machine wires every device into one space the way a PC does.
type machine struct {
	clk  *vclock.Clock
	s    *memmap.Space
	pic  *PIC
	pit  *PIT
	rtc  *CMOS
	uart *UART
	all  []interface{ Info(w io.Writer) }
}

func newMachine() *machine {
	m := &machine{clk: vclock.New(), s: memmap.New(0)}
	m.pic = NewPIC()
	m.pit = NewPIT(m.clk, m.pic)
	m.rtc = NewCMOS(m.clk, m.pic, testBase)
	m.uart = NewUART("com1", COM1Base, COM1IRQ, m.pic, io.Discard)
	p92 := NewPort92(func(bool) {}, func() {}, true)
	dx := NewDebugExit(DebugExitDefaultBase, DebugExitDefaultSize, func(int) {})
	dc := NewDebugCon(io.Discard)
	post := NewPOST()
	u2 := NewUART("com2", COM2Base, COM2IRQ, m.pic, io.Discard)
	u2.SetOUT2Gating(false)
	m.pic.Register(m.s)
	m.pit.Register(m.s)
	m.rtc.Register(m.s)
	m.uart.Register(m.s)
	u2.Register(m.s)
	p92.Register(m.s)
	dx.Register(m.s)
	dc.Register(m.s)
	post.Register(m.s)
	m.all = []interface{ Info(w io.Writer) }{m.pic, m.pit, m.rtc, m.uart, u2, p92, dx, dc, post}
	return m
}

var devicePorts = func() []uint16 {
	var ps []uint16
	add := func(start uint16, n int) {
		for i := 0; i < n; i++ {
			ps = append(ps, start+uint16(i))
		}
	}
	add(0x20, 2)
	add(0xA0, 2)
	add(0x4D0, 2)
	add(0x40, 4)
	add(0x61, 1)
	add(0x70, 2)
	add(0x80, 1)
	add(0x92, 1)
	add(0xE9, 1)
	add(0xF4, 4)
	add(COM1Base, 8)
	add(COM2Base, 8)
	return ps
}()

// step performs one guest-like operation chosen by the bytes.
func (m *machine) step(op, a, b byte, v uint32) {
	port := devicePorts[int(a)%len(devicePorts)]
	if a >= 0xF0 { // sometimes anywhere in the device port neighbourhood
		port = devicePorts[int(b)%len(devicePorts)] + uint16(a&3) - 1
	}
	size := []int{1, 2, 4, 1, 0, 3, -1, 8}[op>>5]
	switch op & 7 {
	case 0, 1, 2:
		m.s.Out(port, clampSize(size), v)
		m.pic.Out(port, size, v) // devices also called directly with odd sizes
	case 3, 4:
		m.s.In(port, clampSize(size))
		m.uart.In(port, size)
	case 5:
		m.clk.Advance(int64(v % 5_000_000))
	case 6:
		if m.pic.Pending() {
			m.pic.Ack()
		}
		m.pic.SetIRQ(int(int8(b)), v&1 != 0)
	case 7:
		m.uart.Feed([]byte{a, b})
		m.uart.Poll()
		m.rtc.Out(port, size, v)
		m.pit.In(port, size)
	}
}

func TestNoPanicRandomPortIO(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	for round := 0; round < 4; round++ {
		m := newMachine()
		for i := 0; i < 100000; i++ {
			m.step(byte(rng.Intn(256)), byte(rng.Intn(256)), byte(rng.Intn(256)), rng.Uint32())
		}
		for _, d := range m.all {
			d.Info(io.Discard)
		}
	}
	// Every byte value to every register of every device, all sizes.
	m := newMachine()
	for _, p := range devicePorts {
		for v := 0; v < 256; v++ {
			for _, size := range []int{1, 2, 4} {
				m.s.Out(p, size, uint32(v)*0x01010101)
				m.s.In(p, size)
				m.clk.Advance(977)
			}
		}
	}
}

func FuzzPortIO(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x11, 0, 0, 0, 0})
	f.Add([]byte("\x05\x10\x20\xff\xff\xff\xff\x00\x03\x04\x05\x06\x07\x08"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMachine()
		for len(data) >= 7 {
			m.step(data[0], data[1], data[2], binary.LittleEndian.Uint32(data[3:7]))
			data = data[7:]
		}
	})
}

// TestPITDrivesPICThroughMachine checks the whole IRQ0 path with the PIC
// initialised, as the BIOS would leave it.
func TestPITDrivesPICThroughMachine(t *testing.T) {
	m := newMachine()
	for _, w := range [][2]uint32{{0x20, 0x11}, {0x21, 0x08}, {0x21, 0x04}, {0x21, 0x01},
		{0xA0, 0x11}, {0xA1, 0x70}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00}} {
		m.s.Out(uint16(w[0]), 1, w[1])
	}
	m.s.Out(0x43, 1, 0x34)
	m.s.Out(0x40, 1, 0x9C) // 0x2E9C = 11932 ticks: 100 Hz (10.0002 ms)
	m.s.Out(0x40, 1, 0x2E)
	start := ticksAt(m.clk.Now(), PITHz)
	n := 0
	var at []int64
	for m.clk.Now() < int64(time.Second) {
		dl, ok := m.clk.NextDeadline()
		if !ok {
			t.Fatal("no timer")
		}
		m.clk.AdvanceTo(dl)
		for m.pic.Pending() {
			if v := m.pic.Ack(); v == 0x08 {
				n++
				at = append(at, m.clk.Now())
			}
			m.s.Out(0x20, 1, 0x20)
		}
	}
	// Rising edges at k*11932 ticks; the 100th falls just after 1 s.
	if n != 99 || at[0] != tickNs(start+11932) {
		t.Fatalf("%d timer interrupts in 1 s", n)
	}
	if at[1]-at[0] != tickNs(start+2*11932)-tickNs(start+11932) {
		t.Fatalf("interval %d", at[1]-at[0])
	}
}
