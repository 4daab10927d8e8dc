package devices

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// apicWorld is a full APIC system for the no-panic tests: a BSP with a PIC
// in virtual wire mode, two APs, an I/O APIC, and hooks that re-enter the
// devices the way a machine would.
type apicWorld struct {
	r   *apicRig
	pic *fakePIC
	io  *IOAPIC
}

func newAPICWorld() *apicWorld {
	w := &apicWorld{r: newAPICRig(0), pic: &fakePIC{vec: 0x20}}
	bsp := w.r.add(0, w.pic)
	bsp.AcceptPIC(true)
	bsp.ConfigureVirtualWire()
	w.r.add(1, nil)
	w.r.add(2, w.pic)
	for _, l := range w.r.l {
		l := l
		l.hooks.INIT = func() { l.Reset() } // the machine may reset again
		l.hooks.Kick = func() {
			if l.Pending() && l.ID()&1 == 0 {
				l.Ack()
			}
		}
	}
	w.io = NewIOAPIC(3, w.r.bus)
	return w
}

// check verifies invariants that must hold whatever the guest did.
func (w *apicWorld) check(t *testing.T) {
	t.Helper()
	for _, l := range w.r.l {
		if l.irr[0]&0xFFFF != 0 || l.isr[0]&0xFFFF != 0 {
			t.Fatalf("illegal vector in IRR/ISR of LAPIC %d: irr0=%#x isr0=%#x", l.ID(), l.irr[0], l.isr[0])
		}
		if !l.swEnabled() {
			for i, e := range l.lvt {
				if e&lvtMasked == 0 && i != lvtLINT0 && i != lvtLINT1 {
					t.Fatalf("LVT %d unmasked while software disabled", i)
				}
			}
		}
		if l.tRunning && !l.timer.Armed() {
			t.Fatalf("LAPIC %d timer running but not armed", l.ID())
		}
	}
}

var sweepSizes = []int{-1, 0, 1, 2, 3, 4, 5, 7, 8, 9, 16}
var sweepValues = []uint64{0, ^uint64(0), 0x5555555555555555, 0xAAAAAAAAAAAAAAAA, 0x000C4500, 0x00004620}

func TestAPICNoPanicSweep(t *testing.T) {
	w := newAPICWorld()
	for round := 0; round < 2; round++ {
		for _, l := range w.r.l {
			if round == 1 {
				swEnable(l)
			}
			for off := uint64(0); off < 0x1010; off++ {
				for _, size := range sweepSizes {
					for _, v := range sweepValues {
						l.WriteMMIO(off, size, v)
						l.ReadMMIO(off, size)
						if off == 0xF0 || off == 0x20 {
							swEnable(l)
							lw(l, 0x20, uint32(l.ID())<<24)
						}
					}
				}
				w.r.clk.Advance(int64(off & 7))
			}
			for _, off := range []uint64{^uint64(0), ^uint64(0) - 3, 1 << 63, 0x10000} {
				l.WriteMMIO(off, 8, ^uint64(0))
				l.ReadMMIO(off, 8)
			}
			l.Pending()
			l.Ack()
			l.Info(io.Discard)
			l.State()
			w.check(t)
		}
	}
	a := w.io
	for sel := 0; sel < 256; sel++ {
		a.WriteMMIO(0, 1, uint64(sel))
		for off := uint64(0); off < 0x1010; off += 1 {
			for _, size := range sweepSizes {
				for _, v := range sweepValues {
					a.WriteMMIO(0, 1, uint64(sel))
					a.WriteMMIO(off, size, v)
					a.ReadMMIO(off, size)
				}
			}
			if off > 0x50 {
				off += 0x3F
			}
		}
		a.SetIRQ(sel%30-3, sel&1 == 0)
	}
	for _, off := range []uint64{^uint64(0), ^uint64(0) - 3, 1 << 63} {
		a.WriteMMIO(off, 8, ^uint64(0))
		a.ReadMMIO(off, 8)
	}
	a.Info(io.Discard)
	a.State()
	w.check(t)
}

// apicOp runs one operation chosen by the bytes of b (at least 10 bytes).
func (w *apicWorld) op(b []byte) {
	l := w.r.l[int(b[0]>>4)%len(w.r.l)]
	x := binary.LittleEndian.Uint64(b[2:10])
	size := []int{1, 2, 4, 8, 4, 4, 3, 0}[b[1]>>5]
	// Offsets biased towards the register slots.
	off := uint64(b[1]&0x1F)<<4 | uint64(b[0]&0xC)>>2
	if b[0]&0x3 == 0 {
		off = x >> 52
	}
	if off>>4 >= 0x10 && off>>4 < 0x28 {
		off = 0x300 // ICR: the busiest register
	}
	switch b[0] & 0xF {
	case 0, 1, 2, 3:
		l.WriteMMIO(off, size, x)
	case 4:
		l.ReadMMIO(off, size)
	case 5:
		w.io.WriteMMIO(0, 4, uint64(b[1]))
		w.io.WriteMMIO(0x10, 4, x)
	case 6:
		w.io.SetIRQ(int(b[1]%28)-2, x&1 != 0)
	case 7:
		w.io.WriteMMIO(uint64(b[1])&0x7F, size, x)
		w.io.ReadMMIO(uint64(b[1])&0x7F, size)
	case 8:
		if l.Pending() {
			l.Ack()
		}
	case 9:
		lw(l, 0xB0, 0)
	case 10:
		w.r.clk.Advance(int64(x & 0xFFFFF))
	case 11:
		l.SetLINT(int(b[1]%4)-1, x&1 != 0)
	case 12:
		if x&0xF == 0 {
			l.SetBase(x)
		} else {
			l.SetBase(LAPICDefaultBase | 1<<11)
		}
	case 13:
		w.r.bus.Deliver(Message{Dest: uint32(x), Logical: x&(1<<8) != 0, Mode: int(b[1]%10) - 1,
			Vector: uint8(x >> 16), Level: x&(1<<9) != 0, LevelTrig: x&(1<<10) != 0,
			Shorthand: int(b[1]>>4%6) - 1, Source: int(x>>24%6) - 2})
	case 14:
		w.pic.pend = x&1 != 0
		w.pic.vec = uint8(x >> 8)
		l.AcceptPIC(x&2 != 0)
		w.io.EOI(uint8(x >> 16))
	case 15:
		swEnable(l)
		l.Info(io.Discard)
		l.State()
	}
}

func TestAPICRandomOps(t *testing.T) {
	w := newAPICWorld()
	rng := rand.New(rand.NewPCG(1, 2))
	var b [10]byte
	for i := 0; i < 300000; i++ {
		for j := range b {
			b[j] = uint8(rng.Uint32())
		}
		w.op(b[:])
		if i%64 == 0 {
			w.check(t)
		}
	}
	w.check(t)
}

func FuzzAPIC(f *testing.F) {
	f.Add([]byte{0x00, 0xF0, 0xFF, 0x01, 0, 0, 0, 0, 0, 0, 0x0D, 0x61, 0x00, 0x45, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x03, 0x60, 0x40, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0x0A, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("\x05\x14\x3a\x80\x00\x00\x00\x00\x00\x00\x06\x0c\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := newAPICWorld()
		for len(data) >= 10 {
			w.op(data[:10])
			data = data[10:]
		}
		w.check(t)
	})
}
