package devices

import (
	"testing"

	"glassbox/vclock"
)

func TestACPIPM(t *testing.T) {
	clk := vclock.New()
	offs := 0
	p := NewACPIPM(clk, func() { offs++ })
	if v := p.In(0x604, 2); v&1 == 0 {
		t.Fatalf("SCI_EN must read 1 (no SMI port): %#x", v)
	}
	// PM timer: 3.579545 MHz on virtual time, 24 bits.
	if p.In(0x608, 4) != 0 {
		t.Fatal("timer not 0 at t=0")
	}
	clk.Advance(1_000_000_000) // one second
	if v := p.In(0x608, 4); v != 3579545 {
		t.Fatalf("timer after 1 s = %d, want 3579545", v)
	}
	clk.Advance(4_000_000_000) // 5 s: wraps at 2^24
	if v := p.In(0x608, 4); v != (5*3579545)&0xFFFFFF {
		t.Fatalf("timer wrap: %#x", v)
	}
	// S3 (SLP_TYP 1) does not power off; S5 (SLP_TYP 0) does, once.
	p.Out(0x604, 2, 1<<10|1<<13)
	if offs != 0 {
		t.Fatal("SLP_TYP 1 powered off")
	}
	p.Out(0x604, 2, 1<<13)
	p.Out(0x604, 2, 1<<13)
	if offs != 1 {
		t.Fatalf("S5 power-off calls: %d", offs)
	}
	// Status bits are write-1-to-clear; enable is read/write.
	p.sts = 0x0121
	p.Out(0x600, 2, 0x0001)
	p.Out(0x602, 2, 0x0120)
	if p.In(0x600, 2) != 0x0120 || p.In(0x602, 2) != 0x0120 {
		t.Fatalf("sts %#x en %#x", p.In(0x600, 2), p.In(0x602, 2))
	}
	for port := uint16(0x600); port < 0x60C; port++ {
		for _, sz := range []int{1, 2, 4} {
			p.In(port, sz)
			p.Out(port, sz, 0xFFFFFFFF&^(1<<13))
		}
	}
}
