package devices

import (
	"testing"

	"glassbox/memmap"
)

// pcBus builds QEMU's -nodefaults pc bus 0, optionally with a pci-testdev
// at 00:02.0, and maps it into a fresh space (configuration ports, I/O
// catch-all, hole from 128 MiB to 0xFEC00000).
func pcBus(t *testing.T, testdev bool) (*PCIHost, *PCITestDev, *memmap.Space) {
	t.Helper()
	s := memmap.New(1 << 32)
	h := NewPCIHost()
	h.RegisterIO(s)
	for _, x := range []struct {
		d, f int
		fn   *PCIFunction
	}{{0, 0, NewI440FXHost()}, {1, 0, NewPIIX3ISA()}, {1, 1, NewPIIX3IDE()}, {1, 3, NewPIIX4PM()}} {
		if err := h.Add(x.d, x.f, x.fn); err != nil {
			t.Fatal(err)
		}
	}
	var td *PCITestDev
	if testdev {
		td = NewPCITestDev()
		if err := h.Add(h.FreeSlot(), 0, td.Func); err != nil {
			t.Fatal(err)
		}
	}
	h.Register(s)
	h.RegisterHole(s, 128<<20, 0xFEC00000)
	return h, td, s
}

func cfgAddr(dev, fn, off int) uint32 {
	return 1<<31 | uint32(dev)<<11 | uint32(fn)<<8 | uint32(off&0xFC)
}

func cfgRead(s *memmap.Space, dev, fn, off, size int) uint32 {
	s.Out(0xCF8, 4, cfgAddr(dev, fn, off))
	return s.In(uint16(0xCFC+off&3), size)
}

func cfgWrite(s *memmap.Space, dev, fn, off, size int, v uint32) {
	s.Out(0xCF8, 4, cfgAddr(dev, fn, off))
	s.Out(uint16(0xCFC+off&3), size, v)
}

// TestPCIConfigMechanism: CONFIG_ADDRESS latching, the enable bit, partial
// accesses to CONFIG_DATA, absent functions and buses, read-only IDs.
func TestPCIConfigMechanism(t *testing.T) {
	_, _, s := pcBus(t, false)
	s.Out(0xCF8, 4, 0x80000000)
	if got := s.In(0xCF8, 4); got != 0x80000000 {
		t.Fatalf("CONFIG_ADDRESS reads %#x", got)
	}
	s.Out(0xCF8, 1, 0x08) // only 4-byte writes latch
	s.Out(0xCF9, 2, 0x1234)
	if got := s.In(0xCF8, 4); got != 0x80000000 {
		t.Fatalf("narrow write changed CONFIG_ADDRESS: %#x", got)
	}
	if got := s.In(0xCFC, 4); got != 0x12378086 {
		t.Fatalf("00:00.0 id %#x", got)
	}
	for i, want := range []uint32{0x86, 0x80, 0x37, 0x12} {
		if got := s.In(uint16(0xCFC+i), 1); got != want {
			t.Errorf("byte %d = %#x, want %#x", i, got, want)
		}
	}
	if s.In(0xCFC, 2) != 0x8086 || s.In(0xCFE, 2) != 0x1237 {
		t.Error("word reads")
	}
	s.Out(0xCF8, 4, 0x00000000) // enable bit clear
	if got := s.In(0xCFC, 4); got != 0xFFFFFFFF {
		t.Errorf("disabled read %#x", got)
	}
	if got := s.In(0xCFE, 2); got != 0xFFFF {
		t.Errorf("disabled word read %#x", got)
	}
	if got := cfgRead(s, 31, 7, 0, 4); got != 0xFFFFFFFF {
		t.Errorf("absent 00:1f.7 reads %#x", got)
	}
	if got := cfgRead(s, 1, 2, 0, 4); got != 0xFFFFFFFF {
		t.Errorf("absent 00:01.2 reads %#x", got)
	}
	s.Out(0xCF8, 4, 1<<31|1<<16)
	if got := s.In(0xCFC, 4); got != 0xFFFFFFFF {
		t.Errorf("bus 1 reads %#x", got)
	}
	cfgWrite(s, 0, 0, 0, 4, 0x12345678)
	cfgWrite(s, 1, 0, 8, 4, 0)
	if cfgRead(s, 0, 0, 0, 4) != 0x12378086 || cfgRead(s, 1, 0, 8, 4) != 0x06010000 {
		t.Error("read-only ID/class registers changed")
	}
	cfgWrite(s, 1, 3, 0x3C, 1, 0x5A)
	cfgWrite(s, 1, 3, 0x3D, 1, 0x07)
	if cfgRead(s, 1, 3, 0x3C, 1) != 0x5A || cfgRead(s, 1, 3, 0x3D, 1) != 0x01 {
		t.Error("interrupt line must be writable, interrupt pin read-only")
	}
	if got := cfgRead(s, 1, 0, 0x0C, 4); got != 0x00800000 {
		t.Errorf("PIIX3 header type dword %#x, want multi-function 0x80", got)
	}
}

// TestPCIChipsetIdentity: what a guest enumerating QEMU's pc machine sees
// (values recorded from QEMU 7.2, guests/pcplat32/expected.txt).
func TestPCIChipsetIdentity(t *testing.T) {
	_, _, s := pcBus(t, true)
	cases := []struct {
		d, f             int
		id, class, subsy uint32
		status           uint32
		pinLine          uint32
	}{
		{0, 0, 0x12378086, 0x06000002, 0x11001AF4, 0x0000, 0},
		{1, 0, 0x70008086, 0x06010000, 0x11001AF4, 0x0200, 0},
		{1, 1, 0x70108086, 0x01018000, 0x11001AF4, 0x0280, 0},
		{1, 3, 0x71138086, 0x06800003, 0x11001AF4, 0x0280, 0x0109},
		{2, 0, 0x00051B36, 0x00FF0000, 0x11001AF4, 0x0000, 0},
	}
	for _, c := range cases {
		if got := cfgRead(s, c.d, c.f, 0, 4); got != c.id {
			t.Errorf("%02x.%x id %#x want %#x", c.d, c.f, got, c.id)
		}
		if got := cfgRead(s, c.d, c.f, 8, 4); got != c.class {
			t.Errorf("%02x.%x class/rev %#x want %#x", c.d, c.f, got, c.class)
		}
		if got := cfgRead(s, c.d, c.f, 0x2C, 4); got != c.subsy {
			t.Errorf("%02x.%x subsystem %#x", c.d, c.f, got)
		}
		if got := cfgRead(s, c.d, c.f, 6, 2); got != c.status {
			t.Errorf("%02x.%x status %#x want %#x", c.d, c.f, got, c.status)
		}
		if got := cfgRead(s, c.d, c.f, 0x3C, 2); got != c.pinLine {
			t.Errorf("%02x.%x pin/line %#x want %#x", c.d, c.f, got, c.pinLine)
		}
	}
}

// TestPCISeaBIOSAssignment: BAR placement as SeaBIOS leaves it under QEMU
// (with and without pci-testdev, both observed in QEMU 7.2).
func TestPCISeaBIOSAssignment(t *testing.T) {
	h, _, s := pcBus(t, true)
	h.AssignLikeSeaBIOS()
	if got := cfgRead(s, 2, 0, 0x10, 4); got != 0xFEBFF000 {
		t.Errorf("testdev BAR0 %#x", got)
	}
	if got := cfgRead(s, 2, 0, 0x14, 4); got != 0xC001 {
		t.Errorf("testdev BAR1 %#x", got)
	}
	if got := cfgRead(s, 1, 1, 0x20, 4); got != 0xC101 {
		t.Errorf("IDE BAR4 %#x", got)
	}
	for _, bdf := range [][2]int{{0, 0}, {1, 0}, {1, 1}, {1, 3}, {2, 0}} {
		if got := cfgRead(s, bdf[0], bdf[1], 4, 2); got != 0x0103 {
			t.Errorf("%02x.%x command %#x want 0x0103", bdf[0], bdf[1], got)
		}
	}
	h2, _, s2 := pcBus(t, false)
	h2.AssignLikeSeaBIOS()
	if got := cfgRead(s2, 1, 1, 0x20, 4); got != 0xC001 {
		t.Errorf("IDE BAR4 without testdev %#x", got)
	}
}

// TestPCIBARSizingAndDecode: all-ones sizing, decode enable through the
// command register, relocation, unassigned hole and ports.
func TestPCIBARSizingAndDecode(t *testing.T) {
	_, td, s := pcBus(t, true)
	cfgWrite(s, 2, 0, 0x10, 4, 0xFFFFFFFF)
	cfgWrite(s, 2, 0, 0x14, 4, 0xFFFFFFFF)
	if a, b := cfgRead(s, 2, 0, 0x10, 4), cfgRead(s, 2, 0, 0x14, 4); a != 0xFFFFF000 || b != 0xFFFFFF01 {
		t.Fatalf("size masks %#x %#x", a, b)
	}
	if got := cfgRead(s, 2, 0, 0x18, 4); got != 0 {
		t.Errorf("unimplemented BAR2 %#x", got)
	}
	cfgWrite(s, 2, 0, 0x18, 4, 0xFFFFFFFF)
	if got := cfgRead(s, 2, 0, 0x18, 4); got != 0 {
		t.Errorf("unimplemented BAR2 after sizing %#x", got)
	}
	cfgWrite(s, 2, 0, 0x10, 4, 0xE0000000)
	cfgWrite(s, 2, 0, 0x14, 4, 0xD000)
	td.WriteBAR(0, 0, 1, 0) // select mmio test 0: offset 2048
	if got := s.Read(0xE0000004, 4); got != 0 {
		t.Fatalf("decode off but BAR answers: %#x", got)
	}
	if got := s.In(0xD004, 4); got != 0xFFFFFFFF {
		t.Fatalf("I/O decode off but BAR answers: %#x", got)
	}
	cfgWrite(s, 2, 0, 4, 2, PCICommandIO)
	if s.Read(0xE0000004, 4) != 0 || s.In(0xD004, 4) != 2048 {
		t.Fatal("I/O decode only")
	}
	cfgWrite(s, 2, 0, 4, 2, PCICommandIO|PCICommandMemory)
	if got := s.Read(0xE0000004, 4); got != 2048 {
		t.Fatalf("memory BAR reads %#x", got)
	}
	cfgWrite(s, 2, 0, 0x10, 4, 0xE0001000)
	if s.Read(0xE0000004, 4) != 0 || s.Read(0xE0001004, 4) != 2048 {
		t.Fatal("relocation")
	}
	cfgWrite(s, 2, 0, 0x10, 4, 0xFFFFFFFF) // sizing state does not decode
	if f := td.Func; func() bool { _, on := f.BARAddress(0); return on }() {
		t.Fatal("BAR at 0xFFFFF000 (wrapping) decodes")
	}
	if got := s.In(0x5555, 4); got != 0xFFFFFFFF {
		t.Errorf("unclaimed port %#x", got)
	}
}

// TestPCITestDev: the test protocol of QEMU's pci-testdev with TCG's
// ioeventfd emulation (the counts guests/pcplat32 recorded from QEMU).
func TestPCITestDev(t *testing.T) {
	d := NewPCITestDev()
	rd32 := func(bar int, off uint64) uint32 { return uint32(d.ReadBAR(bar, off, 4)) }
	if rd32(0, 0) != 0 {
		t.Fatal("no test selected must read 0")
	}
	type step struct {
		off  uint64
		size int
		v    uint64
	}
	run := func(bar, test int, steps []step) uint32 {
		d.WriteBAR(bar, 0, 1, uint64(test))
		for _, s := range steps {
			d.WriteBAR(bar, s.off, s.size, s.v)
		}
		return rd32(bar, 12)
	}
	five := func(off uint64, v uint64) []step {
		var l []step
		for i := 0; i < 5; i++ {
			l = append(l, step{off, 1, v})
		}
		return l
	}
	// mmio no-eventfd: every matching byte counts, words are split.
	if c := run(0, 0, append(five(2048, 0xFA), step{2048, 1, 0xFB}, step{2048, 2, 0xFA}, step{2048, 4, 0xFA})); c != 7 {
		t.Errorf("mmio no-eventfd count %d, want 7", c)
	}
	if rd32(0, 0) != 0x100 || rd32(0, 4) != 2048 || d.ReadBAR(0, 8, 1) != 0xFA {
		t.Errorf("header %#x %#x", rd32(0, 0), rd32(0, 4))
	}
	name := ""
	for i := uint64(16); ; i++ {
		b := d.ReadBAR(1, i, 1)
		if b == 0 {
			break
		}
		name += string(rune(b))
	}
	if name != "mmio-no-eventfd" {
		t.Errorf("name %q (read through BAR1: the header is shared)", name)
	}
	// mmio wildcard: byte writes are eaten by the eventfd; the unaligned
	// word is stored byte by byte, eaten too.
	if c := run(0, 1, append(five(2049, 0x11), step{2049, 2, 0xCE})); c != 0 {
		t.Errorf("mmio wildcard count %d, want 0", c)
	}
	// mmio datamatch: aligned word reaches the device split into bytes.
	if c := run(0, 2, append(five(2050, 0xFA), step{2050, 2, 0xFA}, step{2050, 2, 0xFA}, step{2050, 4, 0xFA})); c != 2 {
		t.Errorf("mmio datamatch count %d, want 2", c)
	}
	// portio no-eventfd at odd offset 131: the word write is unaligned: dropped.
	if c := run(1, 0, append(five(131, 0xFA), step{131, 2, 0xFA})); c != 5 {
		t.Errorf("pio no-eventfd count %d, want 5", c)
	}
	// portio wildcard at 132: aligned word and dword count.
	if c := run(1, 1, append(five(132, 0xCE), step{132, 2, 0xCE}, step{132, 4, 0xCE})); c != 2 {
		t.Errorf("pio wildcard count %d, want 2", c)
	}
	if got := d.ReadBAR(1, 5, 2); got != 0 {
		t.Errorf("unaligned port read %#x, want 0", got)
	}
	d.WriteBAR(1, 0, 1, 3)
	if rd32(1, 0) != 0 {
		t.Error("test 3 selects nothing")
	}
	d.WriteBAR(1, 0, 1, 1) // portio-wildcard-eventfd: 16+24 bytes
	if got := d.ReadBAR(1, 38, 1); got != 'd' {
		t.Errorf("byte 38 %#x", got)
	}
	if d.ReadBAR(1, 39, 1) != 0 || d.ReadBAR(1, 200, 4) != 0 {
		t.Error("past the header must read 0")
	}
	for _, off := range []uint64{0, 1, 7, 4095, 1 << 40} {
		for _, sz := range []int{1, 2, 4, 8} {
			d.ReadBAR(0, off, sz)
			d.WriteBAR(0, off, sz, ^uint64(0))
			d.WriteBAR(1, off, sz, ^uint64(0))
		}
	}
}

// TestPCTestDev: scratch register, flush port, IRQ lines, iomem.
func TestPCTestDev(t *testing.T) {
	type lv struct {
		line  int
		level bool
	}
	var lines []lv
	var flushed []uint64
	d := NewPCTestDev(func(l int, v bool) { lines = append(lines, lv{l, v}) }, func(pa uint64) { flushed = append(flushed, pa) })
	d.Out(0xE0, 4, 0x12345678)
	if d.In(0xE0, 1) != 0x78 || d.In(0xE3, 1) != 0x12 || d.In(0xE2, 2) != 0x1234 {
		t.Error("scratch partial reads")
	}
	if d.In(0xE1, 2) != 0 || d.In(0xE2, 4) != 0 {
		t.Error("unaligned scratch reads must give 0")
	}
	d.Out(0xE2, 1, 0xAA)
	d.Out(0xE1, 2, 0xBBCC) // unaligned: dropped
	if d.Scratch() != 0x12AA5678 {
		t.Errorf("scratch %#x", d.Scratch())
	}
	if d.In(0xE8, 4) != 0x12AA5678 || d.In(0xEA, 2) != 0x12AA {
		t.Error("0xE8 alias")
	}
	d.Out(0xE8, 4, 0xCAFEF00D)
	d.Out(0xEA, 1, 0x11)
	if d.Scratch() != 0xCA11F00D {
		t.Errorf("scratch via 0xE8 %#x", d.Scratch())
	}
	d.Out(0xE4, 2, 0x1000)
	d.Out(0xE4, 4, 0x12345FFF)
	if len(flushed) != 1 || flushed[0] != 0x12345000 || d.In(0xE4, 4) != 0 {
		t.Errorf("flush %v", flushed)
	}
	d.Out(0x200E, 1, 1)
	d.Out(0x200E, 1, 0x80)
	d.Out(0x200E, 2, 0x0000) // invalid size: dropped
	d.Out(0x2017, 1, 1)
	d.Out(0x200E, 1, 0)
	want := []lv{{14, true}, {14, true}, {23, true}, {14, false}}
	if len(lines) != len(want) {
		t.Fatalf("lines %v want %v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("lines %v want %v", lines, want)
		}
	}
	if d.Lines() != 1<<23 || d.In(0x2017, 1) != 0 {
		t.Errorf("line state %#x", d.Lines())
	}
	s := memmap.New(1 << 32)
	d.Register(s)
	s.Write(PCTestDevIOMem, 4, 0x11223344)
	s.Write(PCTestDevIOMem+6, 1, 0x77)
	s.Write(PCTestDevIOMem+0xFFFC, 4, 0xDEADBEEF)
	if s.Read(PCTestDevIOMem+1, 2) != 0x2233 || s.Read(PCTestDevIOMem+4, 4) != 0x770000 || s.Read(PCTestDevIOMem+0xFFFF, 1) != 0xDE {
		t.Error("iomem")
	}
	if s.Read(PCTestDevIOMem+0xFFFE, 4) != 0xFFFFDEAD {
		t.Errorf("iomem read across the end: %#x", s.Read(PCTestDevIOMem+0xFFFE, 4))
	}
}

// TestIOAPICAssert: unlike SetIRQ, Assert sends an edge pin's message again
// when the line is already high (QEMU's I/O APIC has no edge detection).
func TestIOAPICAssert(t *testing.T) {
	r, a := ioRig()
	l := r.l[0]
	setRedir(a, 1, 0x31)
	a.Assert(1)
	if !irrHas(l, 0x31) || l.Ack() != 0x31 {
		t.Fatal("first assertion not delivered")
	}
	eoi(l)
	a.Assert(1)
	if !irrHas(l, 0x31) {
		t.Fatal("second assertion of a high line not delivered")
	}
	a.Assert(-1)
	a.Assert(IOAPICPins)
}
