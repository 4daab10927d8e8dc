package cpu

import (
	"testing"

	"glassbox/tb"
)

// chainLoop: a loop whose blocks end in direct jumps on one page.
//
//	0x1000: mov ecx, 3      ; b9 03 00 00 00
//	0x1005: l: jmp b        ; eb 00          (TB ends: JMP to 0x1007)
//	0x1007: b: add eax, 1   ; 83 c0 01       (imm at 0x1009)
//	0x100a: dec ecx         ; 49
//	0x100b: jnz l           ; 75 f8          (TB ends: Jcc to 0x1005 / 0x100d)
//	0x100d: hlt
var chainLoop = []byte{0xb9, 0x03, 0, 0, 0, 0xeb, 0x00, 0x83, 0xc0, 0x01, 0x49, 0x75, 0xf8, 0xf4}

func tbAt(t *testing.T, c *CPU, pc uint64) *tb.TB {
	t.Helper()
	for _, x := range c.sh.TBs.All() {
		if x.Key.PC == pc {
			return x
		}
	}
	t.Fatalf("no TB at %#x", pc)
	return nil
}

// TestChainLinksAndFollows: taken direct exits get linked to the next TB on
// the same page, later runs enter through the links, and the results are
// those of the unchained run.
func TestChainLinksAndFollows(t *testing.T) {
	c, _ := testCPU(t, 1<<20, chainLoop)
	runHalt(t, c)
	if c.R[RAX] != 3 {
		t.Fatalf("eax=%d, want 3", c.R[RAX])
	}
	st := c.sh.TBs.Stats
	if st.Links == 0 || st.Chained == 0 {
		t.Fatalf("no links made or followed: %+v", st)
	}
	jmp := tbAt(t, c, 0x1005)
	body := tbAt(t, c, 0x1007)
	if jmp.JmpEIP[0] != 0x1007 || jmp.Jmp[0] != body {
		t.Fatalf("JMP TB: targets %#x, link %v; want a link to the TB at 0x1007", jmp.JmpEIP, jmp.Jmp[0])
	}
	if body.JmpEIP != [2]uint64{0x1005, 0x100d} || body.Jmp[0] != jmp {
		t.Fatalf("Jcc TB: targets %#x, links %v", body.JmpEIP, body.Jmp)
	}
	if len(jmp.JmpFrom) != 1 || jmp.JmpFrom[0] != body {
		t.Fatalf("JMP TB linked from %v, want the Jcc TB", jmp.JmpFrom)
	}
}

// TestChainSMCDropsLinks: a store into a linked TB invalidates it and drops
// every link into and out of it; the next run executes the new code.
func TestChainSMCDropsLinks(t *testing.T) {
	c, _ := testCPU(t, 1<<20, chainLoop)
	runHalt(t, c)
	jmp := tbAt(t, c, 0x1005)
	old := tbAt(t, c, 0x1007)
	c.wr8(0x1009, 5) // add eax, 5: a guest store into the code page
	if !old.Invalid || jmp.Jmp[0] != nil || old.Jmp[0] != nil || len(old.JmpFrom) != 0 {
		t.Fatalf("after SMC: body invalid=%v, JMP link %v, body links %v from %v", old.Invalid, jmp.Jmp[0], old.Jmp, old.JmpFrom)
	}
	c.EIP, c.R[RAX], c.Halted = 0x1000, 0, false
	runHalt(t, c)
	if c.R[RAX] != 15 {
		t.Fatalf("eax=%d after patching the add to 5, want 15", c.R[RAX])
	}
	if now := tbAt(t, c, 0x1007); now == old || tbAt(t, c, 0x1005).Jmp[0] != now {
		t.Fatal("the JMP TB is not linked to the retranslated body")
	}
}

// TestChainStopsAtBreakpoint: a breakpoint at a link target stops every
// iteration (links are not followed past the between-TB checks), and the
// instruction count equals an unchained single-step count.
func TestChainStopsAtBreakpoint(t *testing.T) {
	c, _ := testCPU(t, 1<<20, chainLoop)
	runHalt(t, c) // translate and link everything
	c.AddBreakpoint(0x1007)
	c.EIP, c.R[RAX], c.Halted = 0x1000, 0, false
	stops := 0
	for !c.Halted {
		ex := c.Exec(1 << 20)
		switch ex.Reason {
		case ExitBreakpoint:
			if c.EIP != 0x1007 {
				t.Fatalf("breakpoint exit at %#x", c.EIP)
			}
			stops++
		case ExitHalt, ExitBudget:
		default:
			t.Fatalf("exit %v", ex.Reason)
		}
		if stops > 10 {
			t.Fatal("too many stops")
		}
	}
	if stops != 3 || c.R[RAX] != 3 {
		t.Fatalf("%d breakpoint stops, eax=%d; want 3 and 3", stops, c.R[RAX])
	}
}
