package cpu

import "testing"

// The hot path allocates nothing: TLB hits, TB lookup hits and TB
// execution (CONVENTIONS: prove zero allocations).

func TestNoAllocTLBHit(t *testing.T) {
	c, _ := testCPU(t, 1<<20, asm32.hlt)
	c.wr32(0x3000, 7)
	n := testing.AllocsPerRun(1000, func() {
		c.wr32(0x3000, c.rd32(0x3000)+1)
		_ = c.rd8(0x3001)
		c.wr16(0x3002, c.rd16(0x3002))
	})
	if n != 0 {
		t.Fatalf("TLB hit allocates %.1f times per run", n)
	}
}

func TestNoAllocTBLookupHit(t *testing.T) {
	c, _ := testCPU(t, 1<<20, aluLoop(1))
	c.findTB()
	if n := testing.AllocsPerRun(1000, func() { c.findTB() }); n != 0 {
		t.Fatalf("TB lookup hit allocates %.1f times per run", n)
	}
}

func TestNoAllocTBExecution(t *testing.T) {
	for name, code := range map[string][]byte{"alu": aluLoop(5000), "mem": memLoop(5000), "sse": sseLoop(5000), "x87": x87Loop(5000)} {
		c, _ := testCPU(t, 1<<20, code)
		c.CR4 |= CR4_OSFXSR
		run := func() {
			c.EIP = 0x1000
			c.Halted = false
			for !c.Halted {
				if ex := c.Exec(1 << 30); ex.Reason != ExitHalt && ex.Reason != ExitBudget {
					t.Fatalf("unexpected exit %v (%v)", ex.Reason, ex.Err)
				}
			}
		}
		run() // translate once
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Errorf("%s: executing translated code allocates %.1f times per run", name, n)
		}
	}
}
