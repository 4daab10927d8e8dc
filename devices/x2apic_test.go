package devices

import (
	"testing"
)

func x2(t *testing.T, l *LAPIC) {
	t.Helper()
	v := l.Base() | apicBaseExtd
	if !l.APICBaseValid(v) {
		t.Fatalf("xAPIC -> x2APIC refused")
	}
	l.SetBase(v)
	if !l.X2APIC() {
		t.Fatal("not in x2APIC mode")
	}
}

func mr(t *testing.T, l *LAPIC, n uint32) uint64 {
	t.Helper()
	v, ok := l.ReadAPICMSR(n)
	if !ok {
		t.Fatalf("RDMSR %#x faulted", n)
	}
	return v
}

func mw(t *testing.T, l *LAPIC, n uint32, v uint64) {
	t.Helper()
	if !l.WriteAPICMSR(n, v) {
		t.Fatalf("WRMSR %#x = %#x faulted", n, v)
	}
}

// TestX2APICModeTransitions: SDM Figure 11-27's valid and invalid
// IA32_APIC_BASE transitions; INIT keeps x2APIC mode.
func TestX2APICModeTransitions(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	base := l.Base()
	dis := base &^ (apicBaseEnable | apicBaseExtd)
	for _, c := range []struct {
		name string
		from func()
		v    uint64
		ok   bool
	}{
		{"xAPIC -> x2APIC", func() { l.SetBase(base) }, base | apicBaseExtd, true},
		{"x2APIC -> xAPIC", func() { l.SetBase(base | apicBaseExtd) }, base, false},
		{"x2APIC -> disabled", func() { l.SetBase(base | apicBaseExtd) }, dis, true},
		{"disabled -> x2APIC", func() { l.SetBase(dis) }, dis | apicBaseEnable | apicBaseExtd, false},
		{"disabled -> xAPIC", func() { l.SetBase(dis) }, base, true},
		{"EXTD without EN", func() { l.SetBase(base) }, dis | apicBaseExtd, false},
	} {
		c.from()
		if got := l.APICBaseValid(c.v); got != c.ok {
			t.Errorf("%s: valid = %v, want %v", c.name, got, c.ok)
		}
	}
	l.SetBase(base)
	x2(t, l)
	if l.Base()&apicBaseExtd == 0 {
		t.Error("IA32_APIC_BASE does not read back EXTD")
	}
	l.init()
	if !l.X2APIC() {
		t.Error("INIT left x2APIC mode")
	}
	l.SetBase(dis)
	if l.X2APIC() {
		t.Error("disabling kept x2APIC mode")
	}
}

// TestX2APICRegisters: the MSR view of the registers, the xAPIC page
// disappearing, and the #GP cases.
func TestX2APICRegisters(t *testing.T) {
	r := newAPICRig(1)
	l := r.l[0]
	if _, ok := l.ReadAPICMSR(0x802); ok {
		t.Fatal("x2APIC MSR readable in xAPIC mode")
	}
	lw(l, 0x20, 0x13<<24) // ID 0x13 (writable in xAPIC mode)
	x2(t, l)
	if v := l.ReadMMIO(0x30, 4); v != 0xFFFFFFFF {
		t.Errorf("xAPIC page readable in x2APIC mode: %#x", v)
	}
	lw(l, 0x80, 0x40) // dropped
	if got := mr(t, l, 0x808); got != 0 {
		t.Errorf("MMIO write reached TPR: %#x", got)
	}
	if got := mr(t, l, 0x802); got != 0x13 {
		t.Errorf("ID = %#x, want 0x13 (32-bit, not shifted)", got)
	}
	if got := mr(t, l, 0x803); got != lapicVersion {
		t.Errorf("version = %#x", got)
	}
	if got := mr(t, l, 0x80D); got != 1<<16|1<<3 {
		t.Errorf("LDR = %#x, want cluster 1, member bit 3", got)
	}
	mw(t, l, 0x808, 0x30)
	if got := mr(t, l, 0x808); got != 0x30 {
		t.Errorf("TPR = %#x", got)
	}
	mw(t, l, 0x80F, 0x1FF) // SVR: software enable
	for _, n := range []uint32{0x802, 0x803, 0x80A, 0x80D, 0x839} {
		if l.WriteAPICMSR(n, 0) {
			t.Errorf("write to read-only %#x accepted", n)
		}
	}
	for _, n := range []uint32{0x809, 0x80B, 0x80C, 0x80E, 0x831, 0x83F, 0x804, 0x8FF} {
		if _, ok := l.ReadAPICMSR(n); ok {
			t.Errorf("read of %#x accepted (absent or write-only)", n)
		}
	}
	if l.WriteAPICMSR(0x80B, 1) {
		t.Error("non-zero EOI accepted")
	}
	if l.WriteAPICMSR(0x808, 1<<32) {
		t.Error("TPR write with bits 32-63 accepted")
	}
}

// TestX2APICIPIs: 64-bit ICR with 32-bit destinations (physical, logical
// cluster, broadcast) and the SELF IPI register.
func TestX2APICIPIs(t *testing.T) {
	r := newAPICRig(0)
	for _, id := range []uint8{0, 1, 17} {
		r.add(id, nil)
	}
	for _, l := range r.l {
		swEnable(l)
		x2(t, l)
	}
	src, a, b := r.l[0], r.l[1], r.l[2]
	mw(t, src, 0x830, 17<<32|0x41) // physical, fixed, vector 0x41 to ID 17
	if !irrHas32(t, b, 0x41) || irrHas32(t, a, 0x41) {
		t.Error("physical IPI to ID 17")
	}
	// logical cluster 1 (IDs 16-31), member bit 1 = ID 17
	mw(t, src, 0x830, (1<<16|1<<1)<<32|1<<11|0x42)
	if !irrHas32(t, b, 0x42) || irrHas32(t, a, 0x42) {
		t.Error("logical IPI to cluster 1 member 1")
	}
	mw(t, src, 0x830, 0xFFFFFFFF<<32|0x43) // broadcast
	for _, l := range r.l {
		if !irrHas32(t, l, 0x43) {
			t.Errorf("broadcast missed ID %d", l.ID())
		}
	}
	mw(t, a, 0x83F, 0x44) // SELF IPI
	if !irrHas32(t, a, 0x44) || irrHas32(t, src, 0x44) {
		t.Error("self IPI")
	}
	if v := mr(t, src, 0x830); v != 0xFFFFFFFF<<32|0x43 {
		t.Errorf("ICR reads %#x", v)
	}
	// an 8-bit destination (I/O APIC) reaches an x2APIC by physical ID
	r.bus.Deliver(Message{Dest: 17, Mode: DeliveryFixed, Vector: 0x45, Level: true, Source: -1})
	if !irrHas32(t, b, 0x45) {
		t.Error("8-bit physical destination")
	}
}

func irrHas32(t *testing.T, l *LAPIC, v uint8) bool {
	return mr(t, l, 0x820+uint32(v>>5))&(1<<(v&31)) != 0
}

// TestTSCDeadline: mode 2 fires when the TSC reaches IA32_TSC_DEADLINE,
// never earlier even when virtual time runs ahead of this vCPU's TSC; 0
// disarms; the MSR reads 0 after firing and outside mode 2; the initial
// count is ignored and the current count reads 0.
func TestTSCDeadline(t *testing.T) {
	r := newAPICRig(0)
	var tsc uint64
	l := NewLAPIC(0, r.clk, r.bus, LAPICHooks{TSC: func() uint64 { return tsc }, NSPerTSC: 1}, nil)
	swEnable(l)
	mw(t, l, 0x6E0, 5000) // ignored outside mode 2
	if mr(t, l, 0x6E0) != 0 {
		t.Fatal("IA32_TSC_DEADLINE armed outside TSC-deadline mode")
	}
	lw(l, 0x320, 2<<17|0x50) // TSC-deadline mode, vector 0x50
	lw(l, 0x380, 100)        // ignored in mode 2
	if lr(l, 0x380) != 0 || lr(l, 0x390) != 0 {
		t.Fatal("initial/current count in TSC-deadline mode")
	}
	mw(t, l, 0x6E0, 1000)
	if mr(t, l, 0x6E0) != 1000 {
		t.Fatal("deadline does not read back")
	}
	// Virtual time reaches the estimate while this vCPU's TSC lags (other
	// vCPUs ran): no interrupt, re-armed.
	tsc = 600
	r.clk.Advance(1000)
	if irrHas(l, 0x50) {
		t.Fatal("fired before the TSC reached the deadline")
	}
	tsc = 1000
	r.clk.Advance(400)
	if !irrHas(l, 0x50) {
		t.Fatal("did not fire at the deadline")
	}
	if mr(t, l, 0x6E0) != 0 {
		t.Error("deadline not cleared after firing")
	}
	eoiClear(l)
	// 0 disarms
	mw(t, l, 0x6E0, 2000)
	mw(t, l, 0x6E0, 0)
	tsc = 5000
	r.clk.Advance(10000)
	if irrHas(l, 0x50) {
		t.Error("disarmed deadline fired")
	}
	// leaving mode 2 disarms
	mw(t, l, 0x6E0, 6000)
	lw(l, 0x320, 0x50) // one-shot
	tsc = 7000
	r.clk.Advance(10000)
	if irrHas(l, 0x50) || mr(t, l, 0x6E0) != 0 {
		t.Error("deadline survived leaving TSC-deadline mode")
	}
	// a deadline in the past fires at once (next virtual ns)
	lw(l, 0x320, 2<<17|0x50)
	mw(t, l, 0x6E0, 10)
	r.clk.Advance(1)
	if !irrHas(l, 0x50) {
		t.Error("past deadline did not fire")
	}
}

func eoiClear(l *LAPIC) {
	for l.Pending() {
		l.Ack()
		eoi(l)
	}
}
