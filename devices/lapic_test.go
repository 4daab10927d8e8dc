package devices

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"glassbox/vclock"
)

// apicRig is a machine's worth of LAPICs on one bus and one clock, with
// their hook calls recorded as "cpuN:EVENT" strings.
type apicRig struct {
	clk    *vclock.Clock
	bus    *APICBus
	l      []*LAPIC
	events []string
}

func newAPICRig(n int) *apicRig {
	r := &apicRig{clk: vclock.New(), bus: NewAPICBus()}
	for i := 0; i < n; i++ {
		r.add(uint8(i), nil)
	}
	return r
}

func (r *apicRig) add(id uint8, pic interface {
	Pending() bool
	Ack() uint8
}) *LAPIC {
	name := fmt.Sprintf("cpu%d", id)
	h := LAPICHooks{
		INIT: func() { r.events = append(r.events, name+":INIT") },
		SIPI: func(v uint8) { r.events = append(r.events, fmt.Sprintf("%s:SIPI 0x%02x", name, v)) },
		NMI:  func() { r.events = append(r.events, name+":NMI") },
	}
	l := NewLAPIC(id, r.clk, r.bus, h, pic)
	r.l = append(r.l, l)
	return l
}

func (r *apicRig) take() []string {
	e := r.events
	r.events = nil
	return e
}

func lw(l *LAPIC, off uint64, v uint32) { l.WriteMMIO(off, 4, uint64(v)) }
func lr(l *LAPIC, off uint64) uint32    { return uint32(l.ReadMMIO(off, 4)) }
func swEnable(l *LAPIC)                 { lw(l, 0xF0, 0x1FF) }

func expect32(t *testing.T, what string, got, want uint32) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %#08x, want %#08x", what, got, want)
	}
}

func expectEvents(t *testing.T, r *apicRig, want ...string) {
	t.Helper()
	got := r.take()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("hook events = %q, want %q", got, want)
	}
}

// irrHas reports whether vector v is set in the LAPIC's IRR register page.
func irrHas(l *LAPIC, v uint8) bool {
	return lr(l, 0x200+uint64(v>>5)*0x10)&(1<<(v&31)) != 0
}
func isrHas(l *LAPIC, v uint8) bool {
	return lr(l, 0x100+uint64(v>>5)*0x10)&(1<<(v&31)) != 0
}
func tmrHas(l *LAPIC, v uint8) bool {
	return lr(l, 0x180+uint64(v>>5)*0x10)&(1<<(v&31)) != 0
}

// irrVectors lists the vectors set in the IRR.
func irrVectors(l *LAPIC) []int {
	var out []int
	for v := 0; v < 256; v++ {
		if irrHas(l, uint8(v)) {
			out = append(out, v)
		}
	}
	return out
}

// fixed delivers a fixed edge interrupt to LAPIC l only.
func fixed(l *LAPIC, vec uint8) {
	l.bus.Deliver(Message{Dest: uint32(l.ID()), Mode: DeliveryFixed, Vector: vec, Level: true, Source: -1})
}

func eoi(l *LAPIC) { lw(l, 0xB0, 0) }

type fakePIC struct {
	pend bool
	vec  uint8
	acks int
}

func (p *fakePIC) Pending() bool { return p.pend }
func (p *fakePIC) Ack() uint8 {
	p.acks++
	if !p.pend {
		return 0x0F // spurious IRQ 7 with base 8
	}
	p.pend = false
	return p.vec
}

func TestLAPICResetValues(t *testing.T) {
	r := newAPICRig(2)
	for i, l := range r.l {
		expect32(t, "ID", lr(l, 0x20), uint32(i)<<24)
		expect32(t, "version", lr(l, 0x30), 0x00050014)
		for _, off := range []uint64{0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0x280, 0x300, 0x310, 0x380, 0x390, 0x3E0} {
			expect32(t, fmt.Sprintf("reg %#x", off), lr(l, off), 0)
		}
		expect32(t, "DFR", lr(l, 0xE0), 0xFFFFFFFF)
		expect32(t, "SVR", lr(l, 0xF0), 0xFF)
		for _, off := range []uint64{0x2F0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370} {
			expect32(t, fmt.Sprintf("LVT %#x", off), lr(l, off), 0x10000)
		}
		for off := uint64(0x100); off < 0x280; off += 0x10 {
			expect32(t, fmt.Sprintf("ISR/TMR/IRR %#x", off), lr(l, off), 0)
		}
		if l.Pending() {
			t.Fatal("pending after reset")
		}
	}
	if b := r.l[0].Base(); b != 0xFEE00900 {
		t.Fatalf("BSP APIC base = %#x", b)
	}
	if b := r.l[1].Base(); b != 0xFEE00800 {
		t.Fatalf("AP APIC base = %#x", b)
	}
	st := r.l[1].State()
	if st.ID != 1 || st.Version != 0x50014 || st.SVR != 0xFF || st.DFR != 0xFFFFFFFF || st.LVT.LINT0 != 0x10000 ||
		st.LVT.Timer != 0x10000 || !st.Enabled || st.SoftwareEnabled || st.TimerDivisor != 2 || st.TimerDeadline != -1 {
		t.Fatalf("state %+v", st)
	}

	// Dirty everything, then Reset: back to the same values, ID kept.
	l := r.l[1]
	swEnable(l)
	lw(l, 0x20, 0x07000000)
	lw(l, 0x80, 0x55)
	lw(l, 0xD0, 0x12000000)
	lw(l, 0xE0, 0)
	lw(l, 0x320, 0x20040)
	lw(l, 0x3E0, 0xB)
	lw(l, 0x380, 1000)
	fixed(l, 0x40)
	l.Reset()
	if l.ID() != 7 {
		t.Fatalf("ID after reset = %d", l.ID())
	}
	expect32(t, "TPR", lr(l, 0x80), 0)
	expect32(t, "LDR", lr(l, 0xD0), 0)
	expect32(t, "DFR", lr(l, 0xE0), 0xFFFFFFFF)
	expect32(t, "SVR", lr(l, 0xF0), 0xFF)
	expect32(t, "LVTT", lr(l, 0x320), 0x10000)
	expect32(t, "TMICT", lr(l, 0x380), 0)
	expect32(t, "TMCCT", lr(l, 0x390), 0)
	expect32(t, "TDCR", lr(l, 0x3E0), 0)
	expect32(t, "IRR1", lr(l, 0x220), 0)
}

func TestLAPICRegisterMasks(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)
	cases := []struct {
		off       uint64
		v, want   uint32
		writeOnly bool
	}{
		{off: 0x20, v: 0xFFFFFFFF, want: 0xFF000000},
		{off: 0x30, v: 0, want: 0x50014},
		{off: 0x80, v: 0xFFFFFFFF, want: 0xFF},
		{off: 0xD0, v: 0xFFFFFFFF, want: 0xFF000000},
		{off: 0xE0, v: 0, want: 0x0FFFFFFF},
		{off: 0xE0, v: 0xF0000000, want: 0xFFFFFFFF},
		{off: 0xF0, v: 0xFFFFFFFF, want: 0x3FF},
		{off: 0x2F0, v: 0xFFFFFFFF, want: 0x107FF},
		{off: 0x320, v: 0xFFFFFFFF, want: 0x700FF},
		{off: 0x320, v: 0x10000, want: 0x10000},
		{off: 0x330, v: 0xFFFFFFFF, want: 0x107FF},
		{off: 0x340, v: 0xFFFFFFFF, want: 0x107FF},
		{off: 0x350, v: 0xFFFFFFFF, want: 0x1A7FF},
		{off: 0x360, v: 0xFFFFFFFF, want: 0x1A7FF},
		{off: 0x370, v: 0xFFFFFFFF, want: 0x100FF},
		{off: 0x310, v: 0xFFFFFFFF, want: 0xFF000000},
		{off: 0x3E0, v: 0xFFFFFFFF, want: 0xB},
		{off: 0x100, v: 0xFFFFFFFF, want: 0},
		{off: 0x200, v: 0xFFFFFFFF, want: 0},
		{off: 0xA0, v: 0xFFFFFFFF, want: 0xFF}, // PPR follows the TPR written above
		{off: 0x390, v: 0xFFFFFFFF, want: 0},
	}
	for _, c := range cases {
		lw(l, c.off, c.v)
		expect32(t, fmt.Sprintf("reg %#x after writing %#x", c.off, c.v), lr(l, c.off), c.want)
	}
	lw(l, 0x20, 0) // restore the ID
	lw(l, 0x80, 0)

	// Reads of every size and alignment see the 16-byte-slot view.
	if v := l.ReadMMIO(0x30, 1); v != 0x14 {
		t.Fatalf("byte 0 of version = %#x", v)
	}
	if v := l.ReadMMIO(0x32, 1); v != 0x05 {
		t.Fatalf("byte 2 of version = %#x", v)
	}
	if v := l.ReadMMIO(0x32, 2); v != 0x0005 {
		t.Fatalf("word at 0x32 = %#x", v)
	}
	if v := l.ReadMMIO(0x30, 8); v != 0x50014 {
		t.Fatalf("qword at 0x30 = %#x", v)
	}
	if v := l.ReadMMIO(0x2E, 4); v != 0x00140000 {
		t.Fatalf("dword at 0x2E = %#x", v)
	}
	if v := l.ReadMMIO(0x34, 4); v != 0 {
		t.Fatalf("reserved bytes = %#x", v)
	}
	if v := l.ReadMMIO(0xFFC, 8); v != 0 {
		t.Fatalf("read across the page end = %#x", v)
	}

	// Sub-dword and misaligned writes are dropped.
	l.WriteMMIO(0x80, 1, 0x70)
	l.WriteMMIO(0x80, 2, 0x70)
	l.WriteMMIO(0x84, 4, 0x70)
	l.WriteMMIO(0x81, 4, 0x70)
	expect32(t, "TPR after odd writes", lr(l, 0x80), 0)
	l.WriteMMIO(0x80, 8, 0xFFFFFFFF_00000060)
	expect32(t, "TPR after 8-byte write", lr(l, 0x80), 0x60)
}

func TestLAPICESR(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)
	lw(l, 0x300, 0x40005) // self IPI, fixed, illegal vector 5
	expect32(t, "ESR before the write", lr(l, 0x280), 0)
	lw(l, 0x280, 0)
	expect32(t, "ESR (send illegal vector)", lr(l, 0x280), 0x20)
	fixed(l, 3)
	expect32(t, "ESR still latched", lr(l, 0x280), 0x20)
	lw(l, 0x280, 0)
	expect32(t, "ESR (receive illegal vector)", lr(l, 0x280), 0x40)
	lw(l, 0x280, 0)
	expect32(t, "ESR cleared", lr(l, 0x280), 0)
	_ = lr(l, 0x3F0) // unimplemented
	lw(l, 0x280, 0)
	expect32(t, "ESR (illegal register)", lr(l, 0x280), 0x80)

	// With the error LVT unmasked, an error raises its vector.
	lw(l, 0x370, 0xFE)
	lw(l, 0x010, 0)
	if !irrHas(l, 0xFE) {
		t.Fatal("error interrupt not raised")
	}
	// An illegal vector in the error LVT itself does not recurse.
	lw(l, 0x370, 0x02)
	lw(l, 0x000, 0)
	lw(l, 0x280, 0)
	expect32(t, "ESR", lr(l, 0x280), 0xC0)
}

func TestLAPICPriority(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)

	// PPR from TPR and ISRV.
	ppr := []struct {
		tpr  uint32
		isr  uint8 // 0: none
		want uint32
	}{
		{0x00, 0, 0x00},
		{0x2F, 0, 0x2F},
		{0x20, 0x55, 0x50},
		{0x67, 0x55, 0x67},
		{0x5A, 0x55, 0x5A}, // same class: TPR
		{0x4F, 0x55, 0x50},
	}
	for _, c := range ppr {
		l.Reset()
		swEnable(l)
		if c.isr != 0 {
			fixed(l, c.isr)
			if v := l.Ack(); v != c.isr {
				t.Fatalf("ack = %#x", v)
			}
		}
		lw(l, 0x80, c.tpr)
		expect32(t, fmt.Sprintf("PPR (TPR %#x, ISR %#x)", c.tpr, c.isr), lr(l, 0xA0), c.want)
	}

	// TPR masks whole priority classes.
	l.Reset()
	swEnable(l)
	fixed(l, 0x45)
	for _, c := range []struct {
		tpr     uint32
		pending bool
	}{{0x00, true}, {0x3F, true}, {0x40, false}, {0x4F, false}, {0x50, false}, {0x30, true}} {
		lw(l, 0x80, c.tpr)
		if l.Pending() != c.pending {
			t.Fatalf("TPR %#x: pending = %v", c.tpr, l.Pending())
		}
	}
	// APR: TPR when it beats IRRV and ISRV, else the highest class.
	lw(l, 0x80, 0x52)
	expect32(t, "APR", lr(l, 0x90), 0x52)
	lw(l, 0x80, 0x32)
	expect32(t, "APR", lr(l, 0x90), 0x40)

	// A vector that became masked between Pending and Ack: spurious.
	lw(l, 0x80, 0x00)
	if !l.Pending() {
		t.Fatal("not pending")
	}
	lw(l, 0x80, 0xF0)
	if v := l.Ack(); v != 0xFF {
		t.Fatalf("ack of a masked vector = %#x, want the spurious vector", v)
	}
	if isrHas(l, 0x45) || !irrHas(l, 0x45) {
		t.Fatal("spurious ack touched IRR/ISR")
	}
	lw(l, 0xF0, 0x1E7)
	if v := l.Ack(); v != 0xE7 {
		t.Fatalf("spurious vector = %#x", v)
	}
}

func TestLAPICIRRISREOIOrder(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)
	kicks := 0
	l.hooks.Kick = func() { kicks++ }
	for _, v := range []uint8{0x30, 0x80, 0x41, 0x8F} {
		fixed(l, v)
	}
	if kicks != 4 {
		t.Fatalf("kicks = %d", kicks)
	}
	if got := fmt.Sprint(irrVectors(l)); got != "[48 65 128 143]" {
		t.Fatalf("IRR = %s", got)
	}
	ack := func(want uint8) {
		t.Helper()
		if !l.Pending() {
			t.Fatalf("nothing pending, want %#x", want)
		}
		if v := l.Ack(); v != want {
			t.Fatalf("ack = %#x, want %#x", v, want)
		}
		if !isrHas(l, want) || irrHas(l, want) {
			t.Fatalf("vector %#x not moved IRR->ISR", want)
		}
	}
	ack(0x8F)
	// 0x80 is in the same class as 0x8F in service: blocked.
	if l.Pending() {
		t.Fatal("same-class vector delivered while 0x8F in service")
	}
	expect32(t, "PPR", lr(l, 0xA0), 0x80)
	eoi(l)
	if isrHas(l, 0x8F) {
		t.Fatal("EOI did not clear ISR")
	}
	ack(0x80)
	fixed(l, 0x90) // higher class nests
	ack(0x90)
	if !isrHas(l, 0x80) {
		t.Fatal("nested ISR lost")
	}
	eoi(l) // clears 0x90, the highest
	if isrHas(l, 0x90) || !isrHas(l, 0x80) {
		t.Fatal("EOI cleared the wrong ISR bit")
	}
	if l.Pending() {
		t.Fatal("0x41 pending under 0x80 in service")
	}
	eoi(l)
	ack(0x41)
	eoi(l)
	ack(0x30)
	eoi(l)
	if l.Pending() {
		t.Fatal("still pending")
	}
	for off := uint64(0x100); off < 0x280; off += 0x10 {
		if off >= 0x180 && off < 0x200 {
			continue
		}
		expect32(t, fmt.Sprintf("reg %#x", off), lr(l, off), 0)
	}
	eoi(l) // EOI with nothing in service: harmless
	if v := l.Ack(); v != 0xFF {
		t.Fatalf("ack with nothing pending = %#x", v)
	}
	// Two requests of one vector collapse into one IRR bit.
	fixed(l, 0x50)
	fixed(l, 0x50)
	ack(0x50)
	if l.Pending() {
		t.Fatal("duplicate request not collapsed")
	}
	// A request of a vector that is in service is held until its EOI.
	fixed(l, 0x50)
	if l.Pending() {
		t.Fatal("vector delivered while itself in service")
	}
	eoi(l)
	ack(0x50)
}

func TestLAPICSelfIPI(t *testing.T) {
	r := newAPICRig(2)
	l := r.l[1]
	swEnable(r.l[0])
	swEnable(l)
	lw(l, 0x310, 0) // destination ignored with a shorthand
	lw(l, 0x300, 1<<18|0x4000|0x61)
	expect32(t, "ICR (delivery status idle)", lr(l, 0x300), 0x44061)
	if !irrHas(l, 0x61) || irrHas(r.l[0], 0x61) {
		t.Fatal("self IPI went to the wrong LAPIC")
	}
	if tmrHas(l, 0x61) {
		t.Fatal("edge IPI set TMR")
	}
	if v := l.Ack(); v != 0x61 {
		t.Fatalf("ack = %#x", v)
	}
}

func TestLAPICIPIDestinations(t *testing.T) {
	r := newAPICRig(3)
	for _, l := range r.l {
		swEnable(l)
	}
	clear := func() {
		for _, l := range r.l {
			l.Reset()
			swEnable(l)
		}
	}
	send := func(from int, icrHi, icrLo uint32) string {
		clear()
		lw(r.l[0], 0xD0, 0x01000000)
		lw(r.l[1], 0xD0, 0x02000000)
		lw(r.l[2], 0xD0, 0x04000000)
		lw(r.l[from], 0x310, icrHi)
		lw(r.l[from], 0x300, icrLo)
		var got []string
		for i, l := range r.l {
			if irrHas(l, uint8(icrLo)) {
				got = append(got, fmt.Sprint(i))
			}
		}
		return strings.Join(got, ",")
	}
	const vec = 0x70
	cases := []struct {
		name         string
		from         int
		icrHi, icrLo uint32
		want         string
	}{
		{"physical 2", 0, 2 << 24, vec, "2"},
		{"physical self", 1, 1 << 24, vec, "1"},
		{"physical none", 0, 7 << 24, vec, ""},
		{"physical broadcast", 0, 0xFF << 24, vec, "0,1,2"},
		{"logical flat 0x06", 0, 0x06 << 24, 1<<11 | vec, "1,2"},
		{"logical flat 0x01", 2, 0x01 << 24, 1<<11 | vec, "0"},
		{"logical flat none", 0, 0x08 << 24, 1<<11 | vec, ""},
		{"logical broadcast", 0, 0xFF << 24, 1<<11 | vec, "0,1,2"},
		{"shorthand self", 2, 0, 1<<18 | vec, "2"},
		{"shorthand all incl self", 1, 0, 2<<18 | vec, "0,1,2"},
		{"shorthand all excl self", 1, 0, 3<<18 | vec, "0,2"},
		{"lowest priority", 2, 0x06 << 24, 1<<11 | 1<<8 | vec, "1"},
		{"lowest priority broadcast", 2, 0xFF << 24, 1<<8 | vec, "0"},
		{"fixed de-assert level", 0, 2 << 24, 1<<15 | vec, ""},
		{"fixed assert level", 0, 2 << 24, 1<<15 | 1<<14 | vec, "2"},
		{"SMI ignored", 0, 2 << 24, 2<<8 | vec, ""},
	}
	for _, c := range cases {
		if got := send(c.from, c.icrHi, c.icrLo); got != c.want {
			t.Errorf("%s: delivered to [%s], want [%s]", c.name, got, c.want)
		}
	}
	// Level-triggered fixed IPIs set TMR.
	send(0, 2<<24, 1<<15|1<<14|vec)
	if !tmrHas(r.l[2], vec) {
		t.Error("level IPI did not set TMR")
	}
	expectEvents(t, r)

	// Cluster model.
	clearCluster := func(dest uint32) string {
		clear()
		for i, ldr := range []uint32{0x11, 0x12, 0x21} {
			lw(r.l[i], 0xE0, 0x0FFFFFFF)
			lw(r.l[i], 0xD0, ldr<<24)
		}
		lw(r.l[0], 0x310, dest<<24)
		lw(r.l[0], 0x300, 1<<11|vec)
		var got []string
		for i, l := range r.l {
			if irrHas(l, vec) {
				got = append(got, fmt.Sprint(i))
			}
		}
		return strings.Join(got, ",")
	}
	for _, c := range []struct {
		dest uint32
		want string
	}{{0x13, "0,1"}, {0x12, "1"}, {0x21, "2"}, {0xF1, "0,2"}, {0x22, ""}, {0x31, ""}, {0xFF, "0,1,2"}} {
		if got := clearCluster(c.dest); got != c.want {
			t.Errorf("cluster dest %#02x: delivered to [%s], want [%s]", c.dest, got, c.want)
		}
	}

	// Lowest priority skips software-disabled targets.
	clear()
	lw(r.l[0], 0xF0, 0xFF)
	lw(r.l[1], 0x310, 0xFF<<24)
	lw(r.l[1], 0x300, 1<<8|vec)
	if irrHas(r.l[0], vec) || !irrHas(r.l[1], vec) || irrHas(r.l[2], vec) {
		t.Error("lowest priority: wrong target with LAPIC 0 disabled")
	}

	// Bus.Deliver with a Source resolves the self shorthands by ID.
	clear()
	r.bus.Deliver(Message{Mode: DeliveryFixed, Vector: vec, Shorthand: ShorthandAllExcludingSelf, Source: 2})
	if !irrHas(r.l[0], vec) || !irrHas(r.l[1], vec) || irrHas(r.l[2], vec) {
		t.Error("Deliver all-excluding-self from source 2")
	}
	clear()
	r.bus.Deliver(Message{Mode: DeliveryFixed, Vector: vec, Shorthand: ShorthandSelf, Source: -1})
	for i, l := range r.l {
		if irrHas(l, vec) {
			t.Errorf("self shorthand without a source reached %d", i)
		}
	}
}

func TestLAPICINITSIPI(t *testing.T) {
	r := newAPICRig(3)
	bsp, ap := r.l[0], r.l[1]
	swEnable(bsp)
	swEnable(ap)
	lw(ap, 0x80, 0x30)
	lw(ap, 0xD0, 0x02000000)
	lw(ap, 0x380, 12345)
	fixed(ap, 0x44)

	// INIT assert (level, assert) to APIC 1.
	lw(bsp, 0x310, 1<<24)
	lw(bsp, 0x300, 0xC500)
	expectEvents(t, r, "cpu1:INIT")
	if ap.ID() != 1 || lr(ap, 0x80) != 0 || lr(ap, 0xD0) != 0 || lr(ap, 0xF0) != 0xFF || lr(ap, 0x380) != 0 ||
		irrHas(ap, 0x44) || lr(ap, 0x350) != 0x10000 {
		t.Fatalf("AP not reset by INIT:\n%s", ap)
	}
	// INIT de-assert (level, de-assert): ignored.
	lw(bsp, 0x300, 0x8500)
	expectEvents(t, r)
	// SIPI with vector 0x9A, twice as the MP spec says: both reach the hook.
	lw(bsp, 0x300, 0x0600|0x9A)
	lw(bsp, 0x300, 0x4600|0x9A)
	expectEvents(t, r, "cpu1:SIPI 0x9a", "cpu1:SIPI 0x9a")
	// Broadcast INIT/SIPI to all APs (all excluding self); software
	// disabled APs accept them.
	lw(bsp, 0x300, 3<<18|0xC500)
	lw(bsp, 0x300, 3<<18|0x0610)
	expectEvents(t, r, "cpu1:INIT", "cpu2:INIT", "cpu1:SIPI 0x10", "cpu2:SIPI 0x10")
	if !bsp.swEnabled() {
		t.Fatal("BSP reset by an all-excluding-self INIT")
	}
	// Logical destination INIT and SIPI via the bus.
	lw(r.l[2], 0xD0, 0x04000000)
	r.bus.Deliver(Message{Dest: 0x04, Logical: true, Mode: DeliveryStartup, Vector: 0x08, Level: true, Source: 0})
	expectEvents(t, r, "cpu2:SIPI 0x08")
	// Globally disabled LAPICs receive nothing.
	r.l[2].SetBase(0xFEE00000)
	lw(bsp, 0x300, 3<<18|0xC500)
	expectEvents(t, r, "cpu1:INIT")
}

func TestLAPICNMI(t *testing.T) {
	r := newAPICRig(2)
	bsp, ap := r.l[0], r.l[1]
	swEnable(bsp)
	// NMI IPI; the vector is ignored; accepted even when software disabled.
	lw(bsp, 0x310, 1<<24)
	lw(bsp, 0x300, 0x4400)
	expectEvents(t, r, "cpu1:NMI")
	if ap.Pending() {
		t.Fatal("NMI went through the IRR")
	}
	// LINT1 in NMI mode (virtual wire): one NMI per rising edge.
	bsp.ConfigureVirtualWire()
	expect32(t, "LINT0", lr(bsp, 0x350), 0x700)
	expect32(t, "LINT1", lr(bsp, 0x360), 0x400)
	bsp.SetLINT(1, true)
	bsp.SetLINT(1, true)
	expectEvents(t, r, "cpu0:NMI")
	bsp.SetLINT(1, false)
	bsp.SetLINT(1, true)
	expectEvents(t, r, "cpu0:NMI")
	bsp.SetLINT(1, false)
	lw(bsp, 0x360, 0x10400) // masked
	bsp.SetLINT(1, true)
	expectEvents(t, r)
	// Out of range pins are ignored.
	bsp.SetLINT(-1, true)
	bsp.SetLINT(2, true)
	expectEvents(t, r)
}

func TestLAPICLevelLINT(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)
	lw(l, 0x350, 0x8000|0x66) // LINT0 fixed, level, vector 0x66
	l.SetLINT(0, true)
	if !irrHas(l, 0x66) || !tmrHas(l, 0x66) || lr(l, 0x350)&lvtRemoteIRR == 0 {
		t.Fatalf("level LINT0 not accepted:\n%s", l)
	}
	if v := l.Ack(); v != 0x66 {
		t.Fatalf("ack = %#x", v)
	}
	eoi(l) // still asserted: delivered again
	if !irrHas(l, 0x66) {
		t.Fatal("level LINT0 not redelivered after EOI")
	}
	l.SetLINT(0, false)
	l.Ack()
	eoi(l)
	if irrHas(l, 0x66) || lr(l, 0x350)&lvtRemoteIRR != 0 {
		t.Fatal("deasserted level LINT0 redelivered")
	}
}

func TestLAPICSoftwareDisabled(t *testing.T) {
	r := newAPICRig(2)
	l := r.l[0]
	// LVT writes while disabled keep the mask bit.
	lw(l, 0x320, 0x20040)
	expect32(t, "LVTT written while disabled", lr(l, 0x320), 0x30040)
	fixed(l, 0x40)
	if irrHas(l, 0x40) || l.Pending() {
		t.Fatal("fixed interrupt accepted while software disabled")
	}
	swEnable(l)
	lw(l, 0x320, 0x20040)
	lw(l, 0x350, 0x700)
	lw(l, 0x370, 0xFE)
	expect32(t, "LVTT", lr(l, 0x320), 0x20040)
	fixed(l, 0x41)
	// Disable: every LVT masked, IRR held and not delivered.
	lw(l, 0xF0, 0xFF)
	for _, off := range []uint64{0x2F0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370} {
		if lr(l, off)&lvtMasked == 0 {
			t.Fatalf("LVT %#x not masked by software disable", off)
		}
	}
	if !irrHas(l, 0x41) || l.Pending() {
		t.Fatal("IRR not held while software disabled")
	}
	if v := l.Ack(); v != 0xFF {
		t.Fatalf("ack while disabled = %#x", v)
	}
	// The timer keeps counting (masked).
	lw(l, 0x3E0, 0xB) // divide by 1
	lw(l, 0x380, 1000)
	r.clk.Advance(400)
	expect32(t, "TMCCT while disabled", lr(l, 0x390), 600)
	r.clk.Advance(600)
	if irrHas(l, 0x40) {
		t.Fatal("masked timer interrupted")
	}
	// Re-enabling: the held vector is delivered, the LVTs stay masked.
	kicks := 0
	l.hooks.Kick = func() { kicks++ }
	swEnable(l)
	if kicks != 1 || !l.Pending() || l.Ack() != 0x41 {
		t.Fatal("held vector not delivered after enabling")
	}
	expect32(t, "LVTT after enable", lr(l, 0x320), 0x30040)
	// INIT, SIPI and NMI are accepted while software disabled.
	lw(l, 0xF0, 0xFF)
	for _, mode := range []int{DeliveryINIT, DeliveryStartup, DeliveryNMI} {
		r.bus.Deliver(Message{Dest: 0, Mode: mode, Vector: 0x20, Level: true, Source: 1})
	}
	expectEvents(t, r, "cpu0:INIT", "cpu0:SIPI 0x20", "cpu0:NMI")
}

// timerRig runs a LAPIC timer with an interrupt handler on the Kick hook
// that acknowledges and EOIs, recording the virtual time of each interrupt.
func timerRig(t *testing.T) (*apicRig, *LAPIC, *[]int64) {
	r := newAPICRig(1)
	l := r.l[0]
	swEnable(l)
	var fires []int64
	l.hooks.Kick = func() {
		if v := l.Ack(); v != 0x40 {
			t.Errorf("timer vector %#x", v)
		}
		fires = append(fires, r.clk.Now())
		eoi(l)
	}
	return r, l, &fires
}

var dividers = []struct {
	dcr uint32
	div int64
}{{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}}

func TestLAPICTimerOneShot(t *testing.T) {
	for _, d := range dividers {
		r, l, fires := timerRig(t)
		r.clk.Advance(777) // start at a non-zero time
		t0 := r.clk.Now()
		lw(l, 0x3E0, d.dcr)
		lw(l, 0x320, 0x40) // one-shot, vector 0x40
		lw(l, 0x380, 1000)
		expect32(t, "TMICT", lr(l, 0x380), 1000)
		expect32(t, "TMCCT at start", lr(l, 0x390), 1000)
		r.clk.AdvanceTo(t0 + 250*d.div - 1)
		expect32(t, fmt.Sprintf("div %d: TMCCT just before 250 counts", d.div), lr(l, 0x390), 751)
		r.clk.AdvanceTo(t0 + 250*d.div)
		expect32(t, fmt.Sprintf("div %d: TMCCT after 250 counts", d.div), lr(l, 0x390), 750)
		r.clk.AdvanceTo(t0 + 1000*d.div - 1)
		if len(*fires) != 0 {
			t.Fatalf("div %d: fired early at %v", d.div, *fires)
		}
		expect32(t, "TMCCT last count", lr(l, 0x390), 1)
		r.clk.AdvanceTo(t0 + 1000*d.div)
		if fmt.Sprint(*fires) != fmt.Sprint([]int64{t0 + 1000*d.div}) {
			t.Fatalf("div %d: fires %v, want [%d]", d.div, *fires, t0+1000*d.div)
		}
		expect32(t, "TMCCT after expiry", lr(l, 0x390), 0)
		expect32(t, "TMICT after expiry", lr(l, 0x380), 1000)
		r.clk.Advance(100000 * d.div)
		if len(*fires) != 1 {
			t.Fatalf("div %d: one-shot fired again: %v", d.div, *fires)
		}
	}
}

func TestLAPICTimerPeriodic(t *testing.T) {
	for _, d := range dividers {
		r, l, fires := timerRig(t)
		r.clk.Advance(5)
		t0 := r.clk.Now()
		lw(l, 0x3E0, d.dcr)
		lw(l, 0x320, 0x20040) // periodic
		lw(l, 0x380, 100)
		period := 100 * d.div
		r.clk.AdvanceTo(t0 + period + period/2)
		expect32(t, fmt.Sprintf("div %d: TMCCT mid period", d.div), lr(l, 0x390), 50)
		r.clk.AdvanceTo(t0 + 2*period)
		expect32(t, "TMCCT right after reload", lr(l, 0x390), 100)
		r.clk.AdvanceTo(t0 + 5*period + 1)
		want := []int64{t0 + period, t0 + 2*period, t0 + 3*period, t0 + 4*period, t0 + 5*period}
		if fmt.Sprint(*fires) != fmt.Sprint(want) {
			t.Fatalf("div %d: fires %v, want %v", d.div, *fires, want)
		}
		// Stop with a zero initial count.
		lw(l, 0x380, 0)
		r.clk.Advance(10 * period)
		if len(*fires) != 5 || lr(l, 0x390) != 0 {
			t.Fatalf("div %d: timer not stopped", d.div)
		}
	}
}

func TestLAPICTimerReprogram(t *testing.T) {
	r, l, fires := timerRig(t)
	lw(l, 0x320, 0x40)
	lw(l, 0x3E0, 0x0) // /2
	lw(l, 0x380, 1000)
	r.clk.AdvanceTo(500)
	expect32(t, "TMCCT", lr(l, 0x390), 750)
	lw(l, 0x3E0, 0xB) // /1: the remaining 750 counts take 750 ns
	r.clk.AdvanceTo(1249)
	if len(*fires) != 0 {
		t.Fatal("early")
	}
	r.clk.AdvanceTo(1250)
	if fmt.Sprint(*fires) != "[1250]" {
		t.Fatalf("fires %v after divider change", *fires)
	}

	// Rewriting the initial count restarts the count.
	*fires = nil
	lw(l, 0x380, 100)
	r.clk.Advance(60)
	lw(l, 0x380, 100)
	r.clk.Advance(99)
	if len(*fires) != 0 {
		t.Fatal("restart did not restart")
	}
	r.clk.Advance(1)
	if fmt.Sprint(*fires) != "[1410]" {
		t.Fatalf("fires %v after restart", *fires)
	}

	// Periodic -> one-shot while counting: fires once more.
	*fires = nil
	lw(l, 0x320, 0x20040)
	lw(l, 0x380, 100)
	r.clk.Advance(250)
	lw(l, 0x320, 0x40)
	r.clk.Advance(1000)
	if fmt.Sprint(*fires) != "[1510 1610 1710]" {
		t.Fatalf("fires %v", *fires)
	}

	// Masked timer: counts and reloads, never interrupts.
	*fires = nil
	lw(l, 0x320, 0x30040)
	lw(l, 0x380, 100)
	r.clk.Advance(1050)
	expect32(t, "masked periodic TMCCT", lr(l, 0x390), 50)
	if len(*fires) != 0 || irrHas(l, 0x40) {
		t.Fatal("masked timer interrupted")
	}
	// Unmasking: the next expiry interrupts.
	lw(l, 0x320, 0x20040)
	r.clk.Advance(50)
	if len(*fires) != 1 {
		t.Fatalf("fires %v after unmask", *fires)
	}

	// TSC-deadline mode (unsupported): disarms, initial count writes are
	// ignored, the current count reads 0, nothing fires.
	*fires = nil
	lw(l, 0x320, 0x40040)
	expect32(t, "TMICT after switching to TSC-deadline", lr(l, 0x380), 0)
	lw(l, 0x380, 10)
	expect32(t, "TMICT in TSC-deadline mode", lr(l, 0x380), 0)
	expect32(t, "TMCCT in TSC-deadline mode", lr(l, 0x390), 0)
	r.clk.Advance(10000)
	if len(*fires) != 0 {
		t.Fatal("TSC-deadline timer fired")
	}
	// Back to one-shot works normally.
	lw(l, 0x320, 0x40)
	lw(l, 0x380, 10)
	r.clk.Advance(10)
	if len(*fires) != 1 {
		t.Fatal("one-shot after TSC-deadline mode")
	}
}

func TestLAPICVirtualWire(t *testing.T) {
	r := newAPICRig(0)
	pic := &fakePIC{vec: 0x20}
	bsp := r.add(0, pic)
	// Power on: LINT0 masked, the PIC cannot interrupt.
	pic.pend = true
	bsp.AcceptPIC(true)
	if bsp.Pending() {
		t.Fatal("PIC passed through a masked LINT0")
	}
	bsp.ConfigureVirtualWire()
	if !bsp.Pending() {
		t.Fatal("virtual wire: PIC not pending")
	}
	if v := bsp.Ack(); v != 0x20 || pic.acks != 1 {
		t.Fatalf("ack = %#x acks=%d", v, pic.acks)
	}
	if bsp.Pending() {
		t.Fatal("still pending")
	}
	// ExtINT goes before pending fixed interrupts.
	swEnable(bsp)
	lw(bsp, 0x350, 0x700) // the guest's own virtual wire setup
	fixed(bsp, 0x50)
	pic.pend, pic.vec = true, 0x21
	if v := bsp.Ack(); v != 0x21 {
		t.Fatalf("ack = %#x, want the PIC's vector first", v)
	}
	if v := bsp.Ack(); v != 0x50 {
		t.Fatalf("ack = %#x, want the APIC vector", v)
	}
	eoi(bsp)
	// ... and ignores TPR.
	lw(bsp, 0x80, 0xFF)
	pic.pend = true
	if !bsp.Pending() || bsp.Ack() != 0x21 {
		t.Fatal("ExtINT blocked by TPR")
	}
	lw(bsp, 0x80, 0)
	// Not accepting the PIC (an AP): nothing.
	bsp.AcceptPIC(false)
	pic.pend = true
	if bsp.Pending() {
		t.Fatal("PIC reached a LAPIC that does not accept it")
	}
	bsp.AcceptPIC(true)
	// LINT0 masked by the guest, or in fixed mode: nothing.
	lw(bsp, 0x350, 0x10700)
	if bsp.Pending() {
		t.Fatal("PIC passed through a masked LINT0")
	}
	lw(bsp, 0x350, 0x0030)
	if bsp.Pending() {
		t.Fatal("PIC passed through LINT0 in fixed mode")
	}
	// Software disable masks LINT0.
	lw(bsp, 0x350, 0x700)
	lw(bsp, 0xF0, 0xFF)
	if bsp.Pending() {
		t.Fatal("PIC passed through a software-disabled APIC")
	}
	// Globally disabled: the PIC goes straight to the CPU.
	bsp.SetBase(0xFEE00000)
	if bsp.Enabled() || bsp.Base() != 0xFEE00100 {
		t.Fatalf("base = %#x", bsp.Base())
	}
	if !bsp.Pending() || bsp.Ack() != 0x21 {
		t.Fatal("globally disabled APIC blocks the PIC")
	}
	if v := bsp.ReadMMIO(0x30, 4); v != 0xFFFFFFFF {
		t.Fatalf("register page of a disabled APIC reads %#x", v)
	}
	bsp.WriteMMIO(0xF0, 4, 0x1FF)
	bsp.SetBase(0xFEE00800)
	if !bsp.Enabled() || lr(bsp, 0xF0) != 0xFF || lr(bsp, 0x350) != 0x10000 {
		t.Fatalf("re-enabled APIC not in the reset state:\n%s", bsp)
	}
	pic.pend = true
	if bsp.Pending() {
		t.Fatal("PIC pending through a reset LINT0")
	}
}

func TestLAPICSetBase(t *testing.T) {
	r := newAPICRig(2)
	ap := r.l[1]
	swEnable(ap)
	lw(ap, 0x80, 0x20)
	ap.SetBase(0xFEE00000) // disable
	fixed(ap, 0x40)
	r.bus.Deliver(Message{Dest: 1, Mode: DeliveryNMI, Source: -1})
	expectEvents(t, r)
	ap.SetBase(0x12345000 | 1<<11 | 1<<8)
	if ap.Base() != 0x12345800 {
		t.Fatalf("base = %#x (the BSP bit must be ignored)", ap.Base())
	}
	expect32(t, "TPR after disable/enable", lr(ap, 0x80), 0)
	expect32(t, "SVR after disable/enable", lr(ap, 0xF0), 0xFF)
	ap.SetBSP(true)
	if ap.Base()&(1<<8) == 0 {
		t.Fatal("SetBSP")
	}
}

func TestLAPICInfoState(t *testing.T) {
	r := newAPICRig(2)
	l := r.l[1]
	swEnable(l)
	lw(l, 0x320, 0x20040)
	lw(l, 0x380, 1000)
	fixed(l, 0x44)
	l.Ack()
	fixed(l, 0x55)
	s := l.String()
	for _, want := range []string{"dumping local APIC state for CPU 1", "LVT0\t 0x00010000", "LVTT\t 0x00020040",
		"periodic", "SPIV\t 0x000001ff APIC enabled", "ISR\t 68", "IRR\t 85", "DCR=0x0 (divide by 2)", "initial_count = 1000"} {
		if !strings.Contains(s, want) {
			t.Errorf("info lapic lacks %q:\n%s", want, s)
		}
	}
	st := l.State()
	if st.ISR[2] != 1<<4 || st.IRR[2] != 1<<21 || st.TimerInitial != 1000 || st.TimerCurrent != 1000 || st.TimerDeadline != 2000 {
		t.Fatalf("state %+v", st)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}
}

func TestAPICBusAddIdempotent(t *testing.T) {
	r := newAPICRig(1)
	r.bus.Add(r.l[0])
	r.bus.Add(nil)
	if n := len(r.bus.LAPICs()); n != 1 {
		t.Fatalf("%d LAPICs on the bus", n)
	}
	var nilBus *APICBus
	nilBus.Deliver(Message{Mode: DeliveryNMI})
	nilBus.Add(r.l[0])
	// A LAPIC without bus or clock works on its own.
	l := NewLAPIC(3, nil, nil, LAPICHooks{}, nil)
	swEnable(l)
	lw(l, 0x300, 1<<18|0x77)
	if l.Ack() != 0x77 {
		t.Fatal("self IPI on a private bus")
	}
}
