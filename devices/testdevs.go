package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
)

// ---------------------------------------------------------------------------
// pci-testdev

// PCITestDev is QEMU's pci-testdev (1b36:0005, class 00ff00, rev 0, no
// interrupt pin): BAR0 is 4 KiB of memory, BAR1 256 I/O ports. Both BARs
// hold the same six tests (mmio and portio × no-eventfd, wildcard-eventfd,
// datamatch-eventfd). Writing n to offset 0 of BAR0 selects mmio test n,
// of BAR1 portio test n (n >= 3 selects none); every read returns bytes of
// the selected test's header (test, width, offset, data, count, name; 0
// when none is selected or past the header's last byte but one), from
// either BAR. A byte written at the test's offset (2048+n in BAR0, 128+n in
// BAR1) increments count when it equals the test's data byte (no-eventfd
// and datamatch) or whatever it is (wildcard).
//
// QEMU under TCG emulates the eventfd tests' ioeventfds: an access of the
// eventfd's size (1 byte) at its offset (with its data, for datamatch) is
// consumed before the device sees it, so only wider accesses, which the
// memory core splits into bytes, reach the counter. Port accesses that are
// not naturally aligned are dropped (reads give 0); unaligned memory
// stores are split into single bytes (TCG's store path for I/O), each
// subject to the eventfd check. guests/pcplat32 checks all of this against
// QEMU 7.2.
type PCITestDev struct {
	Func    *PCIFunction
	current int
	tests   [6]pciTest
}

type pciTest struct {
	hdr      []byte // test, width, pad[2], offset (LE32), data, pad[3], count (LE32), name, NUL
	eventfd  bool
	match    bool
	offset   uint64
	dataByte uint8
}

// NewPCITestDev returns the device with BAR0/BAR1 unassigned.
func NewPCITestDev() *PCITestDev {
	d := &PCITestDev{current: -1}
	d.Func = NewPCIFunction("pci-testdev", 0x1B36, 0x0005, 0x00FF00, 0x00)
	d.Func.SetBAR(0, 4096, false, d)
	d.Func.SetBAR(1, 256, true, d)
	kinds := []string{"no-eventfd", "wildcard-eventfd", "datamatch-eventfd"}
	for i := range d.tests {
		t := &d.tests[i]
		kind := kinds[i%3]
		name := "mmio-" + kind
		t.offset = 2048 + uint64(i)
		if i >= 3 {
			name = "portio-" + kind
			t.offset = 128 + uint64(i)
		}
		t.eventfd = kind != "no-eventfd"
		t.match = kind != "wildcard-eventfd"
		t.dataByte = 0xCE
		if t.match {
			t.dataByte = 0xFA
		}
		t.hdr = make([]byte, 16+len(name)+1)
		t.hdr[0] = uint8(i)
		t.hdr[1] = 1
		for k := 0; k < 4; k++ {
			t.hdr[4+k] = uint8(t.offset >> (8 * k))
		}
		t.hdr[8] = t.dataByte
		copy(t.hdr[16:], name)
	}
	return d
}

// Count returns the count of test i (0..5).
func (d *PCITestDev) Count(i int) uint32 {
	if i < 0 || i >= len(d.tests) {
		return 0
	}
	h := d.tests[i].hdr
	return uint32(h[12]) | uint32(h[13])<<8 | uint32(h[14])<<16 | uint32(h[15])<<24
}

// Reset deselects the current test (QEMU's device reset).
func (d *PCITestDev) Reset() { d.current = -1 }

// ReadBAR implements PCIBARSpace.
func (d *PCITestDev) ReadBAR(bar int, off uint64, size int) uint64 {
	if bar == 1 && size > 1 && off%uint64(size) != 0 {
		return 0 // not naturally aligned: an invalid port access
	}
	var v uint64
	for i := 0; i < size && i < 8; i++ {
		v |= uint64(d.readByte(off+uint64(i))) << (8 * i)
	}
	return v
}

func (d *PCITestDev) readByte(off uint64) uint8 {
	if d.current < 0 {
		return 0
	}
	h := d.tests[d.current].hdr
	if off+1 >= uint64(len(h)) {
		return 0
	}
	return h[off]
}

// WriteBAR implements PCIBARSpace.
func (d *PCITestDev) WriteBAR(bar int, off uint64, size int, v uint64) {
	if size > 1 && off%uint64(size) != 0 {
		if bar == 1 {
			return // invalid port access
		}
		for i := 0; i < size; i++ { // TCG stores unaligned I/O byte by byte
			d.WriteBAR(bar, off+uint64(i), 1, v>>(8*i))
		}
		return
	}
	if d.current >= 0 {
		t := &d.tests[d.current]
		typ := 0
		if bar == 1 {
			typ = 1
		}
		// The emulated ioeventfd sits on the selected test's region.
		if t.eventfd && typ == d.current/3 && off == t.offset && size == 1 && (!t.match || uint8(v) == t.dataByte) {
			return
		}
	}
	for i := 0; i < size; i++ {
		d.writeByte(bar, off+uint64(i), uint8(v>>(8*i)))
	}
}

func (d *PCITestDev) writeByte(bar int, off uint64, b uint8) {
	if off == 0 {
		d.current = -1
		if b >= 3 {
			return
		}
		t := int(b)
		if bar == 1 {
			t += 3
		}
		d.current = t
		h := d.tests[t].hdr
		h[12], h[13], h[14], h[15] = 0, 0, 0, 0
		return
	}
	if d.current < 0 {
		return
	}
	t := &d.tests[d.current]
	if off != t.offset || (t.match && b != t.dataByte) {
		return
	}
	c := d.Count(d.current) + 1
	for k := 0; k < 4; k++ {
		t.hdr[12+k] = uint8(c >> (8 * k))
	}
}

// ---------------------------------------------------------------------------
// pc-testdev

// PC-testdev port and memory ranges.
const (
	PCTestDevScratch   = 0xE0       // 4 ports: 32-bit scratch register
	PCTestDevFlush     = 0xE4       // 4 ports: flush page (4-byte writes)
	PCTestDevScratchB  = 0xE8       // 4 ports: the scratch register, byte-wise
	PCTestDevIRQ       = 0x2000     // 24 ports: IRQ line n at 0x2000+n
	PCTestDevIRQLines  = 24         //
	PCTestDevIOMem     = 0xFF000000 // 64 KiB of scratch memory
	PCTestDevIOMemSize = 0x10000
)

// PCTestDev is QEMU's pc-testdev (hw/misc/pc-testdev.c), the ISA device
// kvm-unit-tests uses:
//
//   - 0xE0-0xE3: a 32-bit scratch register. An access of size s at 0xE0+o
//     reads/writes bytes o..o+s-1 of it; accesses that are not naturally
//     aligned are invalid (reads 0, writes dropped).
//   - 0xE4: a 4-byte write of a physical address flushes that page (calls
//     flush; QEMU re-protects the host page, which no guest can observe);
//     reads give 0; other sizes are invalid.
//   - 0xE8-0xEB: the same scratch register through byte accesses.
//   - 0x2000+n, n < 24: a byte write sets IRQ line n to (value != 0); reads
//     give 0; 2- and 4-byte accesses are invalid. QEMU 7.2 aborts on lines
//     16-23 (isa_get_irq asserts); here they drive I/O APIC pins 16-23.
//   - 0xFF000000: 64 KiB of memory-mapped scratch RAM.
type PCTestDev struct {
	scratch uint32
	iomem   [PCTestDevIOMemSize]byte
	irq     func(line int, level bool)
	flush   func(pa uint64)
	lines   uint32
	flushes int
}

// NewPCTestDev returns the device. irq receives line levels (it may be
// called with the same level again, as QEMU's qemu_set_irq); flush the
// page addresses written to port 0xE4. Either may be nil.
func NewPCTestDev(irq func(line int, level bool), flush func(pa uint64)) *PCTestDev {
	return &PCTestDev{irq: irq, flush: flush}
}

// Register maps the ports and the iomem window.
func (d *PCTestDev) Register(s *memmap.Space) {
	s.AddPorts("pc-testdev", PCTestDevScratch, 12, d)
	s.AddPorts("pc-testdev-irq", PCTestDevIRQ, PCTestDevIRQLines, d)
	s.AddMMIO("pc-testdev-iomem", PCTestDevIOMem, PCTestDevIOMemSize, pcTestIOMem{d}, 0)
}

// Scratch returns the scratch register.
func (d *PCTestDev) Scratch() uint32 { return d.scratch }

// Lines returns the levels of IRQ lines 0-23 (bit n = line n).
func (d *PCTestDev) Lines() uint32 { return d.lines }

func (d *PCTestDev) scratchIO(off uint16, size int, write bool, v uint32) uint32 {
	o := int(off & 3)
	if o%size != 0 || o+size > 4 {
		return 0
	}
	shift := uint(8 * o)
	mask := uint32(ones32(size)) << shift
	if write {
		d.scratch = d.scratch&^mask | v<<shift&mask
		return 0
	}
	return (d.scratch & mask) >> shift
}

// In implements memmap.PortIO.
func (d *PCTestDev) In(port uint16, size int) uint32 {
	size = clampSize(size)
	switch {
	case port >= PCTestDevScratch && port < PCTestDevScratch+4:
		return d.scratchIO(port-PCTestDevScratch, size, false, 0)
	case port >= PCTestDevScratchB && port < PCTestDevScratchB+4:
		return d.scratchIO(port-PCTestDevScratchB, size, false, 0)
	}
	return 0 // flush page and IRQ lines read 0; invalid accesses too
}

// Out implements memmap.PortIO.
func (d *PCTestDev) Out(port uint16, size int, v uint32) {
	size = clampSize(size)
	switch {
	case port >= PCTestDevScratch && port < PCTestDevScratch+4:
		d.scratchIO(port-PCTestDevScratch, size, true, v)
	case port >= PCTestDevScratchB && port < PCTestDevScratchB+4:
		d.scratchIO(port-PCTestDevScratchB, size, true, v)
	case port == PCTestDevFlush && size == 4:
		d.flushes++
		if d.flush != nil {
			d.flush(uint64(v) &^ 0xFFF)
		}
	case port >= PCTestDevIRQ && port < PCTestDevIRQ+PCTestDevIRQLines && size == 1:
		line := int(port - PCTestDevIRQ)
		level := v&0xFF != 0
		if level {
			d.lines |= 1 << uint(line)
		} else {
			d.lines &^= 1 << uint(line)
		}
		if d.irq != nil {
			d.irq(line, level)
		}
	}
}

type pcTestIOMem struct{ d *PCTestDev }

func (m pcTestIOMem) ReadMMIO(off uint64, size int) uint64 {
	var v uint64
	for i := 0; i < size && i < 8; i++ {
		if o := off + uint64(i); o < PCTestDevIOMemSize {
			v |= uint64(m.d.iomem[o]) << (8 * i)
		}
	}
	return v
}

func (m pcTestIOMem) WriteMMIO(off uint64, size int, v uint64) {
	for i := 0; i < size && i < 8; i++ {
		if o := off + uint64(i); o < PCTestDevIOMemSize {
			m.d.iomem[o] = uint8(v >> (8 * i))
		}
	}
}

// Info writes the device state.
func (d *PCTestDev) Info(w io.Writer) {
	fmt.Fprintf(w, "pc-testdev: scratch=%08x irq_lines=%06x flushes=%d\n", d.scratch, d.lines, d.flushes)
}

func (d *PCTestDev) String() string {
	var b strings.Builder
	d.Info(&b)
	return b.String()
}
