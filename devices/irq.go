// Package devices implements the basic devices of a PC: the 8259A PIC pair,
// the 8254 PIT (with port 0x61), the MC146818 CMOS/RTC, system control port
// A (0x92), QEMU's isa-debug-exit, the Bochs/QEMU debug console (0xE9), the
// POST code port (0x80), a 16550A UART, PCI configuration mechanism #1 with
// the i440FX/PIIX3 functions, and QEMU's pci-testdev and pc-testdev.
//
// Every device implements [memmap.PortIO] and has a Register method that maps
// its ports into a [memmap.Space], plus Info(w)/String() register dumps for
// the monitor (`info pic`, ...). No guest access can make a device panic:
// every port, access size and value is accepted. Registers that are 8 bits
// wide on the real hardware are accessed a byte at a time: a 2- or 4-byte
// access at port p behaves like byte accesses at p, p+1, ... (bytes outside
// the device read as 0xFF and writes to them are dropped), which is what the
// ISA bus does and what QEMU does for devices with 1-byte implementations.
//
// # Concurrency
//
// Devices are single-threaded: all their methods (port I/O, Ack, Pending,
// Poll, Info, ...) must be called on the goroutine that holds the machine's
// run baton, the same goroutine that drives the vclock.Clock. The only
// exception is [UART.Feed], which may be called from any goroutine.
//
// # Time
//
// Timer devices compute their state from glassbox/vclock virtual time (they never
// tick per instruction) and arm vclock Timers for the moments their outputs
// change, so interrupts arrive at exact, reproducible virtual times.
package devices

import (
	"math"
	"math/bits"
)

// IRQSink receives interrupt request line levels. line is an ISA IRQ number
// 0..15; level true means asserted. Devices only call SetIRQ when their
// output level changes. The PIC implements IRQSink.
type IRQSink interface {
	SetIRQ(line int, level bool)
}

// IRQFunc adapts a function to IRQSink.
type IRQFunc func(line int, level bool)

// SetIRQ calls f(line, level).
func (f IRQFunc) SetIRQ(line int, level bool) { f(line, level) }

type nopSink struct{}

func (nopSink) SetIRQ(int, bool) {}

func sinkOrNop(s IRQSink) IRQSink {
	if s == nil {
		return nopSink{}
	}
	return s
}

// byteRegs is implemented by devices whose registers are all one byte wide.
type byteRegs interface {
	owns(port uint16) bool
	in8(port uint16) uint8
	out8(port uint16, v uint8)
}

func clampSize(size int) int {
	if size < 1 {
		return 1
	}
	if size > 4 {
		return 4
	}
	return size
}

// inBytes performs a size-byte read as consecutive byte reads.
func inBytes(d byteRegs, port uint16, size int) uint32 {
	size = clampSize(size)
	var v uint32
	for i := 0; i < size; i++ {
		p := port + uint16(i)
		b := uint8(0xFF)
		if d.owns(p) {
			b = d.in8(p)
		}
		v |= uint32(b) << (8 * i)
	}
	return v
}

// outBytes performs a size-byte write as consecutive byte writes.
func outBytes(d byteRegs, port uint16, size int, v uint32) {
	size = clampSize(size)
	for i := 0; i < size; i++ {
		p := port + uint16(i)
		if d.owns(p) {
			d.out8(p, uint8(v>>(8*i)))
		}
	}
}

// ticksAt returns how many ticks of an hz clock have elapsed after ns
// nanoseconds: floor(ns*hz/1e9), computed without overflow. ns <= 0 gives 0.
func ticksAt(ns int64, hz uint64) int64 {
	if ns <= 0 || hz == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(ns), hz)
	if hi >= 1e9 {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// timeOfTick returns the first nanosecond at which tick k of an hz clock has
// happened: the smallest t with ticksAt(t, hz) >= k, i.e. ceil(k*1e9/hz).
func timeOfTick(k int64, hz uint64) int64 {
	if k <= 0 || hz == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(k), 1e9)
	lo, carry := bits.Add64(lo, hz-1, 0)
	hi += carry
	if hi >= hz {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, hz)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
