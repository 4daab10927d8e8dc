package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
)

// ---------------------------------------------------------------------------
// Port 0x92: system control port A

// Port92 is the PS/2 "system control port A" (fast A20 and fast reset), as
// found on every PC chipset and in QEMU's port92 device.
//
// Bit 1 is the A20 gate: writing it calls setA20 when it changes and it
// reads back as written. Bit 0 is the fast-reset (INIT) bit: writing 1 when
// it was 0 calls reset. As QEMU's device reset does, the bit then clears
// itself (the system reset resets it), so a following write of 1 resets the
// machine again. The other bits are stored and read back (QEMU keeps the
// whole byte too).
type Port92 struct {
	setA20  func(bool)
	reset   func()
	initial uint8
	val     uint8
	resets  int
}

// NewPort92 returns port 0x92. setA20 and reset may be nil. initialA20 is
// the board's A20 state at power on (bit 1's initial value; setA20 is not
// called for it).
func NewPort92(setA20 func(bool), reset func(), initialA20 bool) *Port92 {
	p := &Port92{setA20: setA20, reset: reset}
	if initialA20 {
		p.initial = 0x02
	}
	p.val = p.initial
	return p
}

// Reset clears the fast-reset bit (QEMU's port92 reset). A20 is kept.
func (p *Port92) Reset() { p.val &^= 1 }

// A20 reports the A20 gate bit.
func (p *Port92) A20() bool { return p.val&2 != 0 }

// Resets counts the fast resets requested through the port.
func (p *Port92) Resets() int { return p.resets }

// Register maps port 0x92.
func (p *Port92) Register(s *memmap.Space) { s.AddPorts("port92", 0x92, 1, p) }

// In implements memmap.PortIO.
func (p *Port92) In(port uint16, size int) uint32 { return inBytes(p, port, size) }

// Out implements memmap.PortIO.
func (p *Port92) Out(port uint16, size int, v uint32) { outBytes(p, port, size, v) }

func (p *Port92) owns(port uint16) bool { return port == 0x92 }

func (p *Port92) in8(uint16) uint8 { return p.val }

func (p *Port92) out8(_ uint16, v uint8) {
	old := p.val
	p.val = v
	// Every write drives the A20 line, as QEMU's port92 does (the power-on
	// value of the port need not match the line: QEMU reads 0 with A20 on).
	if p.setA20 != nil {
		p.setA20(v&2 != 0)
	}
	if v&1 != 0 && old&1 == 0 {
		p.resets++
		if p.reset != nil {
			p.reset()
		}
		p.val &^= 1
	}
}

// Info writes the port's state.
func (p *Port92) Info(w io.Writer) {
	fmt.Fprintf(w, "port92: value=%02x a20=%d fast_resets=%d\n", p.val, b2u(p.A20()), p.resets)
}

func (p *Port92) String() string {
	var b strings.Builder
	p.Info(&b)
	return b.String()
}

// ---------------------------------------------------------------------------
// isa-debug-exit

// Defaults commonly used with QEMU's isa-debug-exit
// (-device isa-debug-exit,iobase=0xf4,iosize=0x04). QEMU's own property
// defaults are iobase 0x501, iosize 2.
const (
	DebugExitDefaultBase = 0xF4
	DebugExitDefaultSize = 4
)

// DebugExit behaves exactly like QEMU's isa-debug-exit device
// (hw/misc/debugexit.c): any write of value V to any of its ports, of any
// width 1, 2 or 4 (V is masked to the access width), calls
// exit((V << 1) | 1); reads return 0 (QEMU's debug_exit_read returns 0).
type DebugExit struct {
	base   uint16
	size   int
	exit   func(status int)
	status int
	exited bool
}

// NewDebugExit returns a debug-exit device covering iosize ports from
// iobase (iosize < 1 means 1). exit may be nil.
func NewDebugExit(iobase uint16, iosize int, exit func(status int)) *DebugExit {
	if iosize < 1 {
		iosize = 1
	}
	if int(iobase)+iosize > 65536 {
		iosize = 65536 - int(iobase)
	}
	return &DebugExit{base: iobase, size: iosize, exit: exit}
}

// Register maps the device's ports.
func (d *DebugExit) Register(s *memmap.Space) {
	s.AddPorts("isa-debug-exit", d.base, d.size, d)
}

// Exited returns the status of the last exit request, if any.
func (d *DebugExit) Exited() (status int, ok bool) { return d.status, d.exited }

// In implements memmap.PortIO: reads return 0.
func (d *DebugExit) In(uint16, int) uint32 { return 0 }

// Out implements memmap.PortIO.
func (d *DebugExit) Out(_ uint16, size int, v uint32) {
	size = clampSize(size)
	if size < 4 {
		v &= 1<<(8*uint(size)) - 1
	}
	d.status = int(v)<<1 | 1
	d.exited = true
	if d.exit != nil {
		d.exit(d.status)
	}
}

// Info writes the device's state.
func (d *DebugExit) Info(w io.Writer) {
	fmt.Fprintf(w, "isa-debug-exit: iobase=%#x iosize=%d", d.base, d.size)
	if d.exited {
		fmt.Fprintf(w, " exit_status=%d", d.status)
	}
	fmt.Fprintln(w)
}

func (d *DebugExit) String() string {
	var b strings.Builder
	d.Info(&b)
	return b.String()
}

// ---------------------------------------------------------------------------
// Debug console (port 0xE9)

// DebugCon is the Bochs/QEMU debug console at port 0xE9: bytes written go to
// the writer; reads return the readback value 0xE9, which guests use to
// detect it. A 2- or 4-byte write emits its bytes in little-endian order and
// a wide read returns 0xE9 in every byte, as QEMU's byte-wide implementation
// does when it splits wider accesses.
type DebugCon struct {
	w     io.Writer
	buf   [4]byte
	count uint64
}

// DebugConPort is the debug console's conventional port.
const DebugConPort = 0xE9

// NewDebugCon returns a debug console writing to w (nil discards).
func NewDebugCon(w io.Writer) *DebugCon { return &DebugCon{w: w} }

// SetOutput replaces the output writer (nil discards).
func (d *DebugCon) SetOutput(w io.Writer) { d.w = w }

// Register maps port 0xE9.
func (d *DebugCon) Register(s *memmap.Space) { s.AddPorts("debugcon", DebugConPort, 1, d) }

// In implements memmap.PortIO.
func (d *DebugCon) In(_ uint16, size int) uint32 {
	size = clampSize(size)
	var v uint32
	for i := 0; i < size; i++ {
		v |= DebugConPort << (8 * i)
	}
	return v
}

// Out implements memmap.PortIO.
func (d *DebugCon) Out(_ uint16, size int, v uint32) {
	size = clampSize(size)
	for i := 0; i < size; i++ {
		d.buf[i] = byte(v >> (8 * i))
	}
	d.count += uint64(size)
	if d.w != nil {
		_, _ = d.w.Write(d.buf[:size])
	}
}

// Info writes the device's state.
func (d *DebugCon) Info(w io.Writer) {
	fmt.Fprintf(w, "debugcon: port=%#x bytes_written=%d\n", DebugConPort, d.count)
}

func (d *DebugCon) String() string {
	var b strings.Builder
	d.Info(&b)
	return b.String()
}

// ---------------------------------------------------------------------------
// POST code port 0x80

// POST is the POST diagnostic port 0x80: it keeps the last byte written and
// counts writes. Reads return the last value, or 0xFF if it was never
// written. Only the low byte of a wider write is kept; the upper bytes of a
// wider read are 0xFF (nothing else decodes them here).
type POST struct {
	last   uint8
	writes uint64
}

// NewPOST returns the POST code port.
func NewPOST() *POST { return &POST{} }

// Register maps port 0x80.
func (p *POST) Register(s *memmap.Space) { s.AddPorts("post", 0x80, 1, p) }

// Last returns the last POST code and whether any was written.
func (p *POST) Last() (code byte, written bool) { return p.last, p.writes > 0 }

// Writes returns how many writes the port received.
func (p *POST) Writes() uint64 { return p.writes }

// In implements memmap.PortIO.
func (p *POST) In(_ uint16, size int) uint32 {
	size = clampSize(size)
	v := uint32(0xFF)
	if p.writes > 0 {
		v = uint32(p.last)
	}
	for i := 1; i < size; i++ {
		v |= 0xFF << (8 * i)
	}
	return v
}

// Out implements memmap.PortIO.
func (p *POST) Out(_ uint16, _ int, v uint32) {
	p.last = uint8(v)
	p.writes++
}

// Info writes the device's state.
func (p *POST) Info(w io.Writer) {
	if p.writes == 0 {
		fmt.Fprintln(w, "post: no code written")
		return
	}
	fmt.Fprintf(w, "post: last=%02x writes=%d\n", p.last, p.writes)
}

func (p *POST) String() string {
	var b strings.Builder
	p.Info(&b)
	return b.String()
}
