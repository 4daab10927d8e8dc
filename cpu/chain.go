package cpu

import (
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// TB chaining. A TB whose last instruction is a direct branch knows its
// exits' targets at translation (tb.TB.JmpEIP). When such an exit is taken
// and the next TB lies on the same linear and physical page, the two are
// linked (tb.Cache.Link) and later runs enter the next TB through the link
// instead of looking it up. Runs never follow a link past anything the
// executor must check between TBs: runSome (and runTBs, which follows
// links without leaving the dispatch loop) only follows one after a TB ran
// to its end with none of the stop conditions (exit request, halt, pending
// interrupt, breakpoint at the next PC, budget end, single step, TF, an
// interrupt shadow) holding, and the linked TB must still be valid and
// match the current CS base and mode flags. Invalidating either TB drops
// the link (tb.Cache.invalidate), so SMC stays precise. Code-changing
// instructions (CR0/CR3/CR4 writes, INVLPG, far transfers, task switches)
// end a TB with an exit that has no fixed target, so the page mapping a
// link relies on cannot change between leaving one TB and entering the
// next.

// prepareTB finishes a fresh translation: specialised handlers and the
// exits' targets.
func prepareTB(t *tb.TB) {
	selectFast(t)
	t.JmpEIP = [2]uint64{tb.NoJmp, tb.NoJmp}
	if len(t.Ops) == 0 {
		return
	}
	last := &t.Ops[len(t.Ops)-1]
	t.LastBranch = branchKinds[last.Kind]
	t.FallEIP = last.Next
	switch x86asm.Op(last.Kind) {
	case kJcc, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ:
		t.JmpEIP = [2]uint64{last.Imm, last.Next}
	case x86asm.JMP, x86asm.CALL:
		if last.Args[0].Kind == okImm {
			t.JmpEIP[0] = last.Imm
		}
	}
}

// chainNext returns the TB exit of prev (which just ran to its end) leads
// to through a link, or nil.
func (c *CPU) chainNext(prev *tb.TB) *tb.TB {
	var next *tb.TB
	switch c.EIP {
	case prev.JmpEIP[0]:
		next = prev.Jmp[0]
	case prev.JmpEIP[1]:
		next = prev.Jmp[1]
	}
	if next == nil || next.Invalid || prev.Invalid || next.Key.Flags != c.hflags || next.Key.CSBase != c.Seg[CS].Base {
		return nil
	}
	return next
}

// chainLink links prev's taken exit to t (found by lookup) when allowed.
func (c *CPU) chainLink(prev, t *tb.TB) {
	for i := range prev.JmpEIP {
		if prev.JmpEIP[i] == c.EIP && prev.Jmp[i] == nil && tb.CanLink(prev, i, t) {
			c.sh.TBs.Link(prev, i, t)
			return
		}
	}
}
