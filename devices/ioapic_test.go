package devices

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func iow(a *IOAPIC, idx uint8, v uint32) {
	a.WriteMMIO(0x00, 4, uint64(idx))
	a.WriteMMIO(0x10, 4, uint64(v))
}

func ior(a *IOAPIC, idx uint8) uint32 {
	a.WriteMMIO(0x00, 4, uint64(idx))
	return uint32(a.ReadMMIO(0x10, 4))
}

// setRedir programs pin's redirection entry (high half first, as OSes do).
func setRedir(a *IOAPIC, pin int, e uint64) {
	iow(a, uint8(0x10+2*pin+1), uint32(e>>32))
	iow(a, uint8(0x10+2*pin), uint32(e))
}

func TestIOAPICRegisters(t *testing.T) {
	a := NewIOAPIC(0x12, NewAPICBus())
	expect32(t, "ID", ior(a, 0), 0x02000000)
	expect32(t, "version", ior(a, 1), 0x00170011)
	expect32(t, "arbitration", ior(a, 2), 0x02000000)
	for pin := 0; pin < IOAPICPins; pin++ {
		expect32(t, fmt.Sprintf("redir %d low", pin), ior(a, uint8(0x10+2*pin)), 0x10000)
		expect32(t, fmt.Sprintf("redir %d high", pin), ior(a, uint8(0x11+2*pin)), 0)
	}
	for _, idx := range []uint8{3, 0x0F, 0x40, 0xFF} {
		expect32(t, fmt.Sprintf("index %#x", idx), ior(a, idx), 0)
	}
	a.WriteMMIO(0, 1, 0x23)
	if v := a.ReadMMIO(0, 4); v != 0x23 {
		t.Fatalf("IOREGSEL = %#x", v)
	}
	iow(a, 0, 0xFFFFFFFF)
	expect32(t, "ID written", ior(a, 0), 0x0F000000)
	iow(a, 1, 0)
	expect32(t, "version is read-only", ior(a, 1), 0x00170011)
	iow(a, 0x10, 0xFFFFFFFF) // remote IRR and delivery status are read-only
	expect32(t, "redir 0 low", ior(a, 0x10), 0x1AFFF)
	iow(a, 0x11, 0xFFFFFFFF)
	expect32(t, "redir 0 high", ior(a, 0x11), 0xFF000000)
	iow(a, 0x3F, 0x05000000)
	expect32(t, "redir 23 high", ior(a, 0x3F), 0x05000000)
	// Sub-dword reads of IOWIN; sub-dword IOWIN writes are dropped.
	a.WriteMMIO(0, 4, 0x01)
	if v := a.ReadMMIO(0x12, 1); v != 0x17 {
		t.Fatalf("byte 2 of version = %#x", v)
	}
	if v := a.ReadMMIO(0x10, 8); v != 0x00170011 {
		t.Fatalf("qword at IOWIN = %#x", v)
	}
	a.WriteMMIO(0, 4, 0x12)
	a.WriteMMIO(0x10, 2, 0x1234)
	expect32(t, "redir 1 low after a 2-byte write", ior(a, 0x12), 0x10000)
	a.Reset()
	expect32(t, "ID after reset", ior(a, 0), 0x02000000)
	expect32(t, "redir 0 after reset", ior(a, 0x10), 0x10000)
	st := a.State()
	if st.ID != 2 || st.Version != 0x170011 || st.Redir[5] != 0x10000 {
		t.Fatalf("state %+v", st)
	}
}

// ioRig is two LAPICs (IDs 0 and 1, software enabled, LDR 0x01/0x02 flat)
// and an I/O APIC on one bus.
func ioRig() (*apicRig, *IOAPIC) {
	r := newAPICRig(2)
	for i, l := range r.l {
		swEnable(l)
		lw(l, 0xD0, uint32(1)<<(24+i))
	}
	return r, NewIOAPIC(2, r.bus)
}

func TestIOAPICEdge(t *testing.T) {
	r, a := ioRig()
	l := r.l[0]
	setRedir(a, 1, 0x31) // edge, fixed, physical dest 0, unmasked
	a.SetIRQ(1, true)
	if !irrHas(l, 0x31) || tmrHas(l, 0x31) || irrHas(r.l[1], 0x31) {
		t.Fatal("edge pin not delivered to LAPIC 0")
	}
	if l.Ack() != 0x31 {
		t.Fatal("ack")
	}
	eoi(l)
	a.SetIRQ(1, true) // no new edge
	if irrHas(l, 0x31) {
		t.Fatal("delivered without an edge")
	}
	if ior(a, 0x12)&redirRemoteIRR != 0 {
		t.Fatal("remote IRR set on an edge pin")
	}
	a.SetIRQ(1, false)
	a.SetIRQ(1, true)
	if !irrHas(l, 0x31) {
		t.Fatal("second edge lost")
	}
	l.Ack()
	eoi(l)
	// Masked: the edge is lost, unmasking does not deliver it.
	a.SetIRQ(1, false)
	setRedir(a, 1, 0x10031)
	a.SetIRQ(1, true)
	setRedir(a, 1, 0x31)
	if irrHas(l, 0x31) {
		t.Fatal("masked edge delivered")
	}
	// Out-of-range lines are ignored.
	a.SetIRQ(-1, true)
	a.SetIRQ(24, true)
	a.SetIRQ(1<<30, true)
}

func TestIOAPICLevel(t *testing.T) {
	r, a := ioRig()
	l := r.l[1]
	setRedir(a, 10, 1<<56|redirLevelTrig|redirActiveLow|0x3A)
	a.SetIRQ(10, true)
	if !irrHas(l, 0x3A) || !tmrHas(l, 0x3A) {
		t.Fatal("level pin not delivered with TMR")
	}
	if ior(a, 0x10+20)&redirRemoteIRR == 0 {
		t.Fatal("remote IRR not set")
	}
	if l.Ack() != 0x3A {
		t.Fatal("ack")
	}
	eoi(l) // still asserted: remote IRR cleared, message sent again
	if !irrHas(l, 0x3A) || ior(a, 0x24)&redirRemoteIRR == 0 {
		t.Fatal("still-asserted level pin not redelivered after EOI")
	}
	a.SetIRQ(10, false)
	if l.Ack() != 0x3A {
		t.Fatal("ack")
	}
	eoi(l)
	if irrHas(l, 0x3A) || ior(a, 0x24)&redirRemoteIRR != 0 {
		t.Fatal("deasserted pin redelivered, or remote IRR left set")
	}
	if s := a.State(); s.RemoteIRR != 0 || s.Lines != 0 {
		t.Fatalf("state %+v", s)
	}

	// Re-assert while remote IRR is set: nothing until the EOI.
	a.SetIRQ(10, true)
	l.Ack()
	a.SetIRQ(10, false)
	a.SetIRQ(10, true)
	if irrHas(l, 0x3A) {
		t.Fatal("delivered while remote IRR set")
	}
	// The EOI register (0x40) has the effect of an EOI broadcast.
	a.WriteMMIO(0x40, 4, 0x3A)
	if !irrHas(l, 0x3A) {
		t.Fatal("EOI register did not redeliver")
	}
	// The LAPIC's own EOI now clears its ISR; a wrong-vector EOI register
	// write does not clear remote IRR.
	eoi(l)
	a.WriteMMIO(0x40, 4, 0x3B)
	if ior(a, 0x24)&redirRemoteIRR == 0 {
		t.Fatal("EOI of another vector cleared remote IRR")
	}
	// Switching the entry to edge clears remote IRR (Linux's trick for
	// IOAPICs without an EOI register).
	setRedir(a, 10, 1<<56|redirMasked|0x3A)
	if ior(a, 0x24)&redirRemoteIRR != 0 {
		t.Fatal("edge mode kept remote IRR")
	}
	l.Ack()
	eoi(l)

	// Masked level pin: delivered when unmasked while asserted.
	a.SetIRQ(10, false)
	setRedir(a, 10, 1<<56|redirMasked|redirLevelTrig|0x3A)
	a.SetIRQ(10, true)
	if irrHas(l, 0x3A) {
		t.Fatal("masked level pin delivered")
	}
	setRedir(a, 10, 1<<56|redirLevelTrig|0x3A)
	if !irrHas(l, 0x3A) {
		t.Fatal("unmasking an asserted level pin did not deliver")
	}
	l.Ack()
	a.SetIRQ(10, false)
	eoi(l)

	// A level message that no LAPIC accepts leaves remote IRR clear.
	lw(l, 0xF0, 0xFF)
	a.SetIRQ(10, true)
	if ior(a, 0x24)&redirRemoteIRR != 0 {
		t.Fatal("remote IRR set without an acceptor")
	}
}

func TestIOAPICRouting(t *testing.T) {
	r, a := ioRig()
	who := func(vec uint8) string {
		var got []string
		for i, l := range r.l {
			if irrHas(l, vec) {
				got = append(got, fmt.Sprint(i))
			}
		}
		return strings.Join(got, ",")
	}
	reset := func() {
		for _, l := range r.l {
			for l.Pending() {
				l.Ack()
			}
			for i := 0; i < 8; i++ {
				eoi(l)
			}
		}
	}
	cases := []struct {
		name string
		e    uint64
		want string
	}{
		{"physical 1", 1<<56 | 0x40, "1"},
		{"physical 0", 0<<56 | 0x40, "0"},
		{"physical broadcast", 0xFF<<56 | 0x40, "0,1"},
		{"physical nobody", 5<<56 | 0x40, ""},
		{"logical 0x03", 3<<56 | redirLogical | 0x40, "0,1"},
		{"logical 0x02", 2<<56 | redirLogical | 0x40, "1"},
		{"lowest priority 0x03", 3<<56 | redirLogical | 1<<8 | 0x40, "0"},
		{"SMI ignored", 0<<56 | 2<<8 | 0x40, ""},
	}
	for _, c := range cases {
		reset()
		a.SetIRQ(4, false)
		setRedir(a, 4, c.e)
		a.SetIRQ(4, true)
		if got := who(0x40); got != c.want {
			t.Errorf("%s: delivered to [%s], want [%s]", c.name, got, c.want)
		}
	}
	// Changing the destination half re-routes.
	reset()
	a.SetIRQ(4, false)
	setRedir(a, 4, 0<<56|0x41)
	iow(a, 0x19, 1<<24)
	a.SetIRQ(4, true)
	if who(0x41) != "1" {
		t.Error("destination change ignored")
	}
	// NMI and INIT delivery modes call the target's hooks.
	a.SetIRQ(5, false)
	setRedir(a, 5, 1<<56|4<<8)
	a.SetIRQ(5, true)
	expectEvents(t, r, "cpu1:NMI")
	a.SetIRQ(6, false)
	setRedir(a, 6, 0xFF<<56|5<<8)
	a.SetIRQ(6, true)
	expectEvents(t, r, "cpu0:INIT", "cpu1:INIT")
}

func TestIOAPICExtINT(t *testing.T) {
	r := newAPICRig(0)
	pic := &fakePIC{vec: 0x08}
	bsp := r.add(0, pic)
	ap := r.add(1, nil)
	a := NewIOAPIC(2, r.bus)
	kicks := 0
	bsp.hooks.Kick = func() { kicks++ }
	setRedir(a, 0, 0xFF<<56|DeliveryExtINT<<8) // virtual wire through the IOAPIC
	pic.pend = true
	a.SetIRQ(0, true)
	if !bsp.Pending() || kicks != 1 {
		t.Fatal("ExtINT message not pending on the BSP")
	}
	if ap.Pending() {
		t.Fatal("ExtINT accepted by a LAPIC without a PIC")
	}
	if v := bsp.Ack(); v != 0x08 || pic.acks != 1 {
		t.Fatalf("ack = %#x", v)
	}
	if bsp.Pending() {
		t.Fatal("ExtINT still pending")
	}
}

func TestIOAPICInfoState(t *testing.T) {
	r, a := ioRig()
	setRedir(a, 3, 1<<56|redirLevelTrig|0x33)
	a.SetIRQ(3, true)
	s := a.String()
	for _, want := range []string{"ioapic0: ver=0x11 id=0x02", "pin 3  0x010000000000c033 dest=1 vec=51",
		"level", "Lines      3", "Remote IRR 3"} {
		if !strings.Contains(s, want) {
			t.Errorf("info lacks %q:\n%s", want, s)
		}
	}
	st := a.State()
	if st.Lines != 1<<3 || st.RemoteIRR != 1<<3 || st.Redir[3] != 0x010000000000C033 {
		t.Fatalf("state %+v", st)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	_ = r
}
