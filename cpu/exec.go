package cpu

import (
	"fmt"
	"runtime/debug"

	"glassbox/memmap"
	"glassbox/tb"
)

// ExitReason says why Exec returned.
type ExitReason int

const (
	ExitBudget        ExitReason = iota // instruction budget used up
	ExitHalt                            // HLT with nothing to wake it (yet)
	ExitShutdown                        // triple fault
	ExitBreakpoint                      // instruction breakpoint at the PC
	ExitWatchpoint                      // data watchpoint hit
	ExitStep                            // single step completed
	ExitRequest                         // RequestExit was called (pause, device exit)
	ExitCatch                           // a catchpoint fired
	ExitInternalError                   // an emulator bug (never a guest action)
	ExitWaitSIPI                        // an AP waiting for startup
)

var exitNames = [...]string{"budget", "halted", "shutdown (triple fault)", "breakpoint", "watchpoint",
	"step", "request", "catchpoint", "internal error", "wait-for-SIPI"}

func (r ExitReason) String() string {
	if int(r) < len(exitNames) {
		return exitNames[r]
	}
	return fmt.Sprintf("exit(%d)", int(r))
}

// Exit describes why Exec stopped.
type Exit struct {
	Reason ExitReason
	// Err is set for ExitInternalError: the emulator itself failed.
	Err error
	// Watch describes the watchpoint hit (ExitWatchpoint).
	Watch *WatchHit
}

// RequestExit makes Exec return ExitRequest at the next instruction
// boundary. It must be called on the goroutine running the CPU (device
// handlers, hooks); other goroutines use the machine's pause.
func (c *CPU) RequestExit() { c.exitReq = true; c.stopTB = true }

// Exec runs the CPU for up to budget instructions (QEMU: cpu_exec).
func (c *CPU) Exec(budget uint64) (ex Exit) {
	defer func() {
		if r := recover(); r != nil {
			ex = Exit{Reason: ExitInternalError, Err: fmt.Errorf("BUG: cpu %d at %#x: %v\n%s", c.ID, c.PC(), r, debug.Stack())}
		}
	}()
	end := c.ICount + c.yields + budget
	c.turnPauses = 0
	for {
		if c.shutdown {
			return Exit{Reason: ExitShutdown}
		}
		if c.exitReq {
			c.exitReq = false
			return Exit{Reason: c.exitWhyOr(ExitRequest), Watch: c.takeWatchHit()}
		}
		if c.waitSIPI {
			return Exit{Reason: ExitWaitSIPI}
		}
		if !c.inhibit && (!c.singleStep || c.stepIRQ) {
			if c.nmiPend {
				c.nmiPend = false
				c.Halted = false
				c.deliver(Exception{Vector: VecNMI}, false)
				continue
			}
			if c.flags&FLAG_IF != 0 && c.intc != nil && c.intc.Pending() {
				c.Halted = false
				vec := c.intc.Ack()
				c.deliver(Exception{Vector: int(vec)}, true)
				continue
			}
		}
		if c.Halted {
			return Exit{Reason: ExitHalt}
		}
		if c.ICount+c.yields >= end {
			return Exit{Reason: ExitBudget}
		}
		if debugChecks && c.bpActive && !c.bpSkip && c.isBreakpoint(c.PC()) {
			c.bpSkip = true
			return Exit{Reason: ExitBreakpoint}
		}
		c.runSome(end)
		if c.stepDone {
			c.stepDone = false
			return Exit{Reason: ExitStep}
		}
		if c.yieldTurn {
			c.yieldTurn = false
			return Exit{Reason: ExitBudget}
		}
	}
}

func (c *CPU) exitWhyOr(def ExitReason) ExitReason {
	if c.exitWhy != 0 {
		r := c.exitWhy
		c.exitWhy = 0
		return r
	}
	return def
}

// runSome executes TBs until the budget ends or an event needs the outer
// loop. Guest exceptions unwind to here and are delivered.
func (c *CPU) runSome(end uint64) {
	defer func() {
		if r := recover(); r != nil {
			if r != errGuestFault {
				panic(r)
			}
			c.faulted()
		}
	}()
	c.checkNext = true // runTBs checks fully before following its first link
	var prev *tb.TB    // the TB that just ran to its end, for chaining
	// entries through links, added to the shared stats on the way out
	defer func() { c.sh.TBs.Stats.Chained += c.chained; c.chained = 0 }()
	for c.ICount+c.yields < end {
		if c.hwSlow && c.hwBefore() {
			return // an instruction-breakpoint #DB was delivered
		}
		var t *tb.TB
		if prev != nil {
			t = c.chainNext(prev)
		}
		if t != nil {
			if statsOn {
				c.chained++
			}
		} else {
			t = c.findTB()
			if prev != nil {
				c.chainLink(prev, t)
			}
		}
		prev = nil
		limit := len(t.Ops)
		inh := c.inhibit
		if inh || c.singleStep {
			limit = 1
		}
		hw := c.hwSlow || c.rfHeld
		if hw {
			limit = c.hwLimit(t.Ops, limit, t.Key.CSBase)
		}
		tf := c.flags&FLAG_TF != 0 // TBs are one instruction long while TF is set
		c.softIntRan = false
		// Run the TB (QEMU: cpu_tb_exec), written out here rather than
		// called: this loop runs once per TB.
		c.curTB = t
		if statsOn {
			t.ExecCount++
			c.recordHistory(t)
		}
		if c.Trace != nil {
			c.Trace(c, t)
		}
		done := true
		ops := t.Ops[:limit]
		if limit == len(t.Ops) && !inh && !tf && c.Trace == nil && !hw {
			// Nothing to check between this TB and the next but what
			// runTBs checks: it runs the TB and follows links while it can.
			var i int
			if t, i = c.runTBs(t, ops, end); i < len(t.Ops) {
				done = c.leaveTB(&t.Ops[i], i)
			}
			limit = len(t.Ops)
		} else if i := c.runOps(ops); i < limit {
			done = c.leaveTB(&ops[i], i)
		} else {
			c.ICount += uint64(limit)
			if limit == len(t.Ops) {
				if !t.LastBranch {
					c.EIP = t.FallEIP
				}
			} else if last := &ops[limit-1]; !branchKinds[last.Kind] {
				c.EIP = last.Next
			}
			c.curTB = nil
		}
		c.bpSkip = false
		if inh {
			c.inhibit = false
		}
		if hw {
			c.rfHeld = false // the instruction RF let past has completed
			if c.hwHit != 0 {
				// Data or I/O breakpoint trap after the instruction
				// (SDM Vol. 3 §18.3.1.2), with the single-step trap if
				// TF was set too: one #DB reporting both.
				c.DR[6] = c.DR[6]&^0xF | uint64(c.hwHit)
				c.hwHit = 0
				if tf && !c.softIntRan {
					c.DR[6] |= dr6BS
				}
				c.deliver(Exception{Vector: VecDB}, false)
				if c.singleStep {
					c.stepDone = true
				}
				return
			}
		}
		if tf && !c.softIntRan {
			// Single-step trap after an instruction that began with TF=1
			// (SDM Vol. 3 §18.3.1.4): #DB with DR6.BS, EIP at the next one.
			c.DR[6] |= dr6BS
			c.deliver(Exception{Vector: VecDB}, false)
			return
		}
		if c.singleStep {
			c.stepDone = true
			return
		}
		if c.exitReq || c.Halted || c.shutdown || c.needOuter || c.yieldTurn {
			c.needOuter = false
			return
		}
		if c.flags&FLAG_IF != 0 && c.intc != nil && c.intc.Pending() {
			return
		}
		if debugChecks && c.bpActive && c.isBreakpoint(c.PC()) {
			return
		}
		if done && limit == len(t.Ops) && !inh {
			prev = t
		}
	}
}

// faulted handles a guest exception raised while running a TB.
func (c *CPU) faulted() {
	first := c.curTB == nil || c.curOp == 0 // the fault belongs to the run's first instruction (or its fetch)
	if t := c.curTB; t != nil {
		op := &t.Ops[c.curOp]
		c.EIP = op.EIP
		c.ICount += uint64(c.curOp)
		c.curTB = nil
	}
	c.inhibit = false
	c.stopTB = false
	c.hwHit = 0 // the instruction did not complete: no data-breakpoint trap
	if c.rfHeld {
		// The instruction RF let past faulted: the RF image pushed is 1
		// (SDM §18.3.1.1), so its IRET resumes it without the breakpoint.
		c.rfHeld = false
		if first {
			c.flags |= FLAG_RF
		}
	}
	c.yields++ // an exception loop (e.g. #PF on every handler fetch) must not starve Exec
	e := c.exc
	if c.singleStep {
		c.stepDone = true
	}
	c.deliver(e, false)
}

// findTB returns the TB for the current CS:EIP (QEMU: tb_find).
func (c *CPU) findTB() *tb.TB {
	csBase := c.Seg[CS].Base
	pc := c.wrapLin(csBase + c.EIP)
	slot := tb.JCHash(pc)
	if t := c.jc[slot]; t != nil && t.Key.PC == pc && t.Key.CSBase == csBase && t.Key.Flags == c.hflags && !t.Invalid {
		if statsOn {
			c.sh.TBs.Stats.JCHits++
		}
		return t
	}
	if statsOn {
		c.sh.TBs.Stats.JCMisses++
	}
	t := c.lookupTB(pc, csBase)
	c.jc[slot] = t
	return t
}

// lookupTB finds or generates the TB for pc in the shared table, keyed by
// the physical address of the code (QEMU: tb_htable_lookup, tb_gen_code).
func (c *CPU) lookupTB(pc, csBase uint64) *tb.TB {
	host, phys := c.fetchPage(pc)
	phys |= pc & 0xFFF
	k := tb.Key{PhysPC: phys, PC: pc, CSBase: csBase, Flags: c.hflags}
	if t := c.sh.TBs.Lookup(k); t != nil {
		if t.Page2 == tb.NoPage || c.page2Matches(t) {
			return t
		}
	}
	return c.genTB(pc, phys, host)
}

func (c *CPU) page2Matches(t *tb.TB) bool {
	la := c.wrapLin((t.Key.PC &^ 0xFFF) + 0x1000)
	r := c.walk(la, accExec, c.mmuIdx == 1, false)
	return !r.fault && r.pa&^0xFFF&c.a20Mask == t.Page2
}

// linkTB inserts t in the table and write-protects its pages for code
// (QEMU: tb_link_page → tb_page_add → tlb_protect_code).
func (c *CPU) linkTB(t *tb.TB) {
	for _, p := range c.sh.TBs.Insert(t) {
		c.protectCode(p)
	}
}

// protectCode clears the page's CODE dirty bit and makes every vCPU's
// write entries for it take the slow path (QEMU: tlb_protect_code →
// cpu_physical_memory_test_and_clear_dirty).
func (c *CPU) protectCode(page uint64) {
	c.mem.TestAndClearDirty(memmap.PhysAddr(page), memmap.ClientCode)
	if h := c.sh.Hooks; h != nil && h.CodeProtect != nil {
		h.CodeProtect(c, page)
	}
	if len(c.sh.CPUs) == 0 {
		c.tlb.MarkNotDirty(page)
	}
	for _, o := range c.sh.CPUs {
		o.tlb.MarkNotDirty(page)
	}
}

// leaveTB finishes a TB that op (its i-th) asked to leave early.
func (c *CPU) leaveTB(op *tb.Op, i int) bool {
	c.stopTB = false
	if c.repYield {
		// A REP string op yields mid-way; EIP still points at it.
		c.repYield = false
		c.ICount += uint64(i)
		c.yields++ // counts against the budget so long REPs can't starve the loop
	} else {
		c.ICount += uint64(i + 1)
		if !branchKinds[op.Kind] {
			c.EIP = op.Next
		}
	}
	c.curTB = nil
	return false
}

// MemSpace returns the physical address space.
func (c *CPU) MemSpace() *memmap.Space { return c.mem }
