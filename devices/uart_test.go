package devices

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
	"testing"

	"glassbox/memmap"
)

const com1 = COM1Base

func newTestUART() (*UART, *bytes.Buffer, *fakeIRQ) {
	var out bytes.Buffer
	irq := &fakeIRQ{}
	u := NewUART("com1", com1, COM1IRQ, irq, &out)
	return u, &out, irq
}

func iir(u *UART) uint8 { return in8(u, com1+2) }

func TestUARTTransmitAndScratch(t *testing.T) {
	u, out, irq := newTestUART()
	for _, b := range []byte("hello\n") {
		out8(u, com1, b)
	}
	if out.String() != "hello\n" {
		t.Fatalf("out %q", out.String())
	}
	expect8(t, "LSR", in8(u, com1+5), 0x60)
	out8(u, com1+7, 0xA5)
	expect8(t, "SCR", in8(u, com1+7), 0xA5)
	out8(u, com1+3, 0x1B)
	expect8(t, "LCR", in8(u, com1+3), 0x1B)
	expect8(t, "MCR reset value (QEMU: OUT2)", in8(u, com1+4), 0x08)
	expect8(t, "MSR", in8(u, com1+6), 0xB0)
	expect8(t, "IIR idle", iir(u), 0x01)
	if len(irq.events) != 0 {
		t.Fatalf("unexpected IRQs %v", irq.events)
	}
	// A word write is two byte writes: THR then IER.
	u.Out(com1, 2, 0x0021)
	if out.String() != "hello\n!" {
		t.Fatalf("out %q", out.String())
	}
	expect8(t, "IER from word write", in8(u, com1+1), 0x00)
}

func TestUARTDivisorLatch(t *testing.T) {
	u, out, _ := newTestUART()
	out8(u, com1+1, 0x05) // IER
	out8(u, com1+3, 0x83) // DLAB, 8N1
	expect8(t, "DLL reset", in8(u, com1), 12)
	expect8(t, "DLM reset", in8(u, com1+1), 0)
	out8(u, com1, 0x01)
	out8(u, com1+1, 0x02)
	expect8(t, "DLL", in8(u, com1), 0x01)
	expect8(t, "DLM", in8(u, com1+1), 0x02)
	out8(u, com1+3, 0x03)
	expect8(t, "IER intact", in8(u, com1+1), 0x05)
	if out.Len() != 0 {
		t.Fatal("divisor write transmitted")
	}
	if !strings.Contains(u.String(), "divisor=513") {
		t.Fatalf("info: %s", u.String())
	}
}

func TestUARTTHREInterruptSemantics(t *testing.T) {
	u, _, irq := newTestUART()
	out8(u, com1+1, 0x02)
	if !irq.levels[4] {
		t.Fatal("enabling ETBEI with THR empty must raise the IRQ")
	}
	expect8(t, "IIR THRE", iir(u), 0x02)
	if irq.levels[4] {
		t.Fatal("reading IIR should clear the THRE interrupt")
	}
	expect8(t, "IIR after", iir(u), 0x01)
	// Writing THR clears and (after the instant transmit) re-raises it:
	// the line pulses so an edge-triggered PIC sees a new interrupt.
	irq.reset()
	out8(u, com1, 'x')
	if want := []irqEvent{{4, true, 0}}; !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events %v want %v", irq.events, want)
	}
	expect8(t, "IIR", iir(u), 0x02)
	irq.reset()
	out8(u, com1, 'y')
	out8(u, com1, 'z')
	if want := []irqEvent{{4, true, 0}, {4, false, 0}, {4, true, 0}}; !reflect.DeepEqual(irq.events, want) {
		t.Fatalf("events %v want %v", irq.events, want)
	}
	// Toggling ETBEI re-raises it (Windows relies on that).
	iir(u)
	out8(u, com1+1, 0x00)
	out8(u, com1+1, 0x02)
	expect8(t, "IIR after IER toggle", iir(u), 0x02)
	// Writing the same IER value does not.
	out8(u, com1+1, 0x02)
	expect8(t, "IIR", iir(u), 0x01)
}

func TestUARTReceiveNoFIFO(t *testing.T) {
	u, _, irq := newTestUART()
	out8(u, com1+1, 0x01)
	u.Feed([]byte("hi"))
	expect8(t, "LSR before Poll", in8(u, com1+5), 0x60)
	u.Poll()
	if u.Queued() != 1 {
		t.Fatalf("queued %d", u.Queued())
	}
	expect8(t, "LSR", in8(u, com1+5), 0x61)
	expect8(t, "IIR", iir(u), 0x04)
	if !irq.levels[4] {
		t.Fatal("RX IRQ not raised")
	}
	expect8(t, "RBR", in8(u, com1), 'h')
	if irq.levels[4] {
		t.Fatal("RX IRQ not lowered")
	}
	expect8(t, "LSR empty", in8(u, com1+5), 0x60)
	expect8(t, "RBR stale", in8(u, com1), 'h')
	u.Poll()
	expect8(t, "RBR", in8(u, com1), 'i')
	if u.Queued() != 0 {
		t.Fatal("queue not drained")
	}
}

func TestUARTFIFO(t *testing.T) {
	u, _, _ := newTestUART()
	out8(u, com1+1, 0x01)
	out8(u, com1+2, 0xC7) // enable, clear both, trigger 14
	expect8(t, "IIR FIFO bits", iir(u), 0xC1)
	msg := []byte("0123456789abcdefghij") // 20 bytes
	u.Feed(msg)
	u.Poll()
	if u.Queued() != 4 {
		t.Fatalf("queued %d, want 4", u.Queued())
	}
	expect8(t, "IIR RDA", iir(u), 0xC4)
	for i := 0; i < 3; i++ {
		expect8(t, "RBR", in8(u, com1), msg[i])
	}
	// 13 left, below trigger 14: no RDA until the next Poll's timeout.
	expect8(t, "IIR below trigger", iir(u), 0xC1)
	u.Poll() // refills to 16
	expect8(t, "IIR RDA again", iir(u), 0xC4)
	var got []byte
	for in8(u, com1+5)&1 != 0 {
		got = append(got, in8(u, com1))
	}
	u.Poll()
	for in8(u, com1+5)&1 != 0 {
		got = append(got, in8(u, com1))
	}
	if string(got) != string(msg[3:]) {
		t.Fatalf("got %q", got)
	}
	// Trigger level 4 and the character timeout.
	out8(u, com1+2, 0x41)
	u.Feed([]byte("ab"))
	u.Poll()
	expect8(t, "IIR CTI", iir(u), 0xCC)
	in8(u, com1)
	expect8(t, "CTI cleared by RBR read", iir(u), 0xC1)
	u.Poll()
	expect8(t, "CTI again", iir(u), 0xCC)
	// Clear RX FIFO.
	out8(u, com1+2, 0x43)
	expect8(t, "LSR after clear", in8(u, com1+5), 0x60)
	expect8(t, "IIR after clear", iir(u), 0xC1)
	// Trigger levels 8 and 1.
	out8(u, com1+2, 0x81)
	u.Feed([]byte("1234567"))
	u.Poll()
	expect8(t, "7 < 8", iir(u), 0xCC)
	u.Feed([]byte("8"))
	u.Poll()
	expect8(t, "8 >= 8", iir(u), 0xC4)
	out8(u, com1+2, 0x00) // disable: FIFO cleared, IIR bits 7-6 clear
	expect8(t, "IIR no FIFO", iir(u), 0x01)
	expect8(t, "LSR", in8(u, com1+5), 0x60)
	// FCR bits other than bit 0 are ignored while bit 0 is clear.
	out8(u, com1+2, 0xC6)
	expect8(t, "still no FIFO", iir(u), 0x01)
}

func TestUARTPrioritiesAndLoopback(t *testing.T) {
	u, out, irq := newTestUART()
	out8(u, com1+4, 0x1B) // loopback, OUT2, RTS, DTR
	out8(u, com1+1, 0x0F)
	expect8(t, "MSR loopback", in8(u, com1+6)&0xF0, 0xB0) // DCD(OUT2) DSR(DTR) CTS(RTS)
	// Two bytes into the one-byte holding register: overrun.
	out8(u, com1, 'A')
	out8(u, com1, 'B')
	if out.Len() != 0 {
		t.Fatal("loopback leaked to output")
	}
	out8(u, com1+4, 0x1F) // OUT1 -> RI
	out8(u, com1+4, 0x1B) // RI falls -> TERI
	if irq.levels[4] {
		t.Fatal("IRQ must stay off in loopback (OUT2 pin forced inactive)")
	}
	expect8(t, "IIR line status", iir(u), 0x06)
	expect8(t, "LSR", in8(u, com1+5), 0x63) // DR|OE|THRE|TEMT
	expect8(t, "IIR RX data", iir(u), 0x04)
	expect8(t, "RBR (overwritten)", in8(u, com1), 'B')
	expect8(t, "IIR THRE", iir(u), 0x02)
	expect8(t, "IIR modem status", iir(u), 0x00)
	expect8(t, "MSR", in8(u, com1+6), 0xB4) // lines + TERI
	expect8(t, "IIR none", iir(u), 0x01)
	expect8(t, "MSR deltas cleared", in8(u, com1+6), 0xB0)
	// Host input waits while in loopback.
	u.Feed([]byte("z"))
	u.Poll()
	expect8(t, "LSR", in8(u, com1+5), 0x60)
	// Leaving loopback: lines change back to CTS|DSR|DCD (no change here
	// since they match), input flows.
	out8(u, com1+4, 0x08)
	u.Poll()
	expect8(t, "RBR", in8(u, com1), 'z')
	// Loopback with everything low, then leave: all deltas.
	out8(u, com1+4, 0x10)
	expect8(t, "MSR", in8(u, com1+6), 0x0B)
	out8(u, com1+4, 0x08)
	expect8(t, "MSR", in8(u, com1+6), 0xBB)
}

func TestUARTFIFOOverrunInLoopback(t *testing.T) {
	u, _, _ := newTestUART()
	out8(u, com1+2, 0x07)
	out8(u, com1+4, 0x10)
	for i := 0; i < 20; i++ {
		out8(u, com1, byte('a'+i))
	}
	expect8(t, "LSR", in8(u, com1+5), 0x63)
	var got []byte
	for in8(u, com1+5)&1 != 0 {
		got = append(got, in8(u, com1))
	}
	if string(got) != "abcdefghijklmnop" {
		t.Fatalf("got %q", got)
	}
}

func TestUARTOUT2Gating(t *testing.T) {
	u, _, irq := newTestUART()
	out8(u, com1+4, 0x00) // OUT2 off
	out8(u, com1+1, 0x01)
	u.Feed([]byte("x"))
	u.Poll()
	expect8(t, "IIR", iir(u), 0x04)
	if irq.levels[4] {
		t.Fatal("IRQ must be gated by OUT2")
	}
	out8(u, com1+4, 0x08)
	if !irq.levels[4] {
		t.Fatal("setting OUT2 must assert the pending IRQ")
	}
	out8(u, com1+4, 0x00)
	if irq.levels[4] {
		t.Fatal("clearing OUT2 must drop the IRQ")
	}
	u.SetOUT2Gating(false) // QEMU behaviour
	if !irq.levels[4] {
		t.Fatal("ungated IRQ should follow the pending interrupt")
	}
	in8(u, com1)
	if irq.levels[4] {
		t.Fatal("IRQ should drop when nothing is pending")
	}
}

func TestUARTFeedConcurrent(t *testing.T) {
	u, _, _ := newTestUART()
	out8(u, com1+2, 0x01)
	const writers, per = 4, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				u.Feed([]byte{byte(w)})
			}
		}(w)
	}
	counts := make([]int, writers)
	total := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drain := func() {
		u.Poll()
		for in8(u, com1+5)&1 != 0 {
			counts[in8(u, com1)]++
			total++
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			drain()
		}
	}
	for u.Queued() > 0 || in8(u, com1+5)&1 != 0 {
		drain()
	}
	if total != writers*per {
		t.Fatalf("received %d bytes, want %d (%v)", total, writers*per, counts)
	}
	for w, c := range counts {
		if c != per {
			t.Fatalf("writer %d: %d bytes", w, c)
		}
	}
}

func TestUARTRegisterInfoReset(t *testing.T) {
	u, out, _ := newTestUART()
	s := memmap.New(0)
	u.Register(s)
	for p := uint16(com1); p < com1+8; p++ {
		if s.PortName(p) != "com1" {
			t.Fatalf("port %#x = %s", p, s.PortName(p))
		}
	}
	s.Out(com1, 1, 'Q')
	if out.String() != "Q" {
		t.Fatal("no output through the space")
	}
	var out2 bytes.Buffer
	u.SetOutput(&out2)
	s.Out(com1, 1, 'R')
	if out2.String() != "R" || u.Output() != &out2 {
		t.Fatal("SetOutput")
	}
	u.SetOutput(nil)
	s.Out(com1, 1, 'S') // discarded, no panic
	if !strings.Contains(u.String(), "com1: base=0x3f8 irq=4") {
		t.Fatalf("info: %s", u.String())
	}
	out8(u, com1+1, 0x0F)
	u.Reset()
	expect8(t, "IER after reset", in8(u, com1+1), 0)
}

func TestUARTLargeQueueInOrder(t *testing.T) {
	u, _, _ := newTestUART()
	out8(u, com1+2, 0x01)
	want := make([]byte, 100000)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for i := 0; i < len(want); i += 1000 {
		u.Feed(want[i : i+1000])
	}
	u.Feed(nil)
	got := make([]byte, 0, len(want))
	for u.Queued() > 0 || in8(u, com1+5)&1 != 0 {
		u.Poll()
		for in8(u, com1+5)&1 != 0 {
			got = append(got, in8(u, com1))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("received %d bytes, mismatch", len(got))
	}
}
