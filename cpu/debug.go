package cpu

import (
	"sync/atomic"

	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// Debug support: instruction breakpoints (checked only at TB boundaries;
// TBs end before a breakpoint address), data watchpoints (TLB WATCH flag
// forces the slow path on watched pages only), single-step, and the
// execution-history ring. None of it costs anything when unused.

type breakpoint struct {
	addr uint64
}

// Watchpoint kinds.
const (
	WatchWrite  = 1
	WatchRead   = 2
	WatchAccess = 3
)

// Watchpoint watches [Addr, Addr+Len) of linear (or physical) memory.
type Watchpoint struct {
	Addr, Len uint64
	Kind      int
	Phys      bool
}

// WatchHit describes a triggered watchpoint.
type WatchHit struct {
	WP    Watchpoint
	Addr  uint64 // accessed address
	Write bool
	Old   uint64
	Value uint64
	PC    uint64
}

type debugState struct {
	hit     *WatchHit
	history [historySize]uint64
	histPos uint
	// The last stores of locked read-modify-writes that changed memory
	// (who took which lock word), for the hang analysis.
	lockLog [lockLogSize]LockedWrite
	lockPos int
	lockOld uint64 // the value the current locked RMW read
}

const lockLogSize = 16

// LockedWrite is a store by a LOCK-prefixed read-modify-write (or XCHG
// with memory) that changed the value in memory: for a spin lock, taking
// or releasing it with an atomic operation.
type LockedWrite struct {
	Lin    uint64 // linear address
	Size   uint8
	Value  uint64 // the value stored
	ICount uint64 // the vCPU's instruction count at the store
	// Seq orders locked writes across all vCPUs (vCPUs run one at a time).
	Seq uint64
}

var lockSeq atomic.Uint64

// noteLocked records a locked store that changed memory (cold path: only
// locked instructions get here).
func (c *CPU) noteLocked(la uint64, size uint8, v uint64) {
	c.dbg.lockLog[c.dbg.lockPos] = LockedWrite{Lin: la, Size: size, Value: v, ICount: c.ICount, Seq: lockSeq.Add(1)}
	c.dbg.lockPos = (c.dbg.lockPos + 1) % lockLogSize
}

// LockedWrites returns the vCPU's recent locked stores, oldest first.
// Call it only while the vCPU is stopped.
func (c *CPU) LockedWrites() []LockedWrite {
	var out []LockedWrite
	for i := 0; i < lockLogSize; i++ {
		if w := c.dbg.lockLog[(c.dbg.lockPos+i)%lockLogSize]; w.Seq != 0 {
			out = append(out, w)
		}
	}
	return out
}

// debugShared is the machine-wide breakpoint and watchpoint set.
type debugShared struct {
	bps     map[uint64]bool // linear
	physBPs map[uint64]bool // guest-physical
	wps     []Watchpoint
}

func (c *CPU) allCPUs() []*CPU {
	if len(c.sh.CPUs) == 0 {
		return []*CPU{c}
	}
	return c.sh.CPUs
}

const historySize = 64

// AddBreakpoint adds a machine-wide instruction breakpoint at linear
// address la. Translated code is flushed so that TBs end before it.
func (c *CPU) AddBreakpoint(la uint64) { c.addBreakpoint(&c.sh.dbg.bps, la) }

// RemoveBreakpoint removes a breakpoint.
func (c *CPU) RemoveBreakpoint(la uint64) { c.removeBreakpoint(c.sh.dbg.bps, la) }

// isBreakpoint reports a breakpoint at linear address la, by its linear
// address or, for physical breakpoints, by the address it maps to now.
func (c *CPU) isBreakpoint(la uint64) bool {
	if c.sh.dbg.bps[la] {
		return true
	}
	if len(c.sh.dbg.physBPs) > 0 {
		if pa, ok := c.Translate(la); ok && c.sh.dbg.physBPs[pa] {
			return true
		}
	}
	return false
}

// AddPhysBreakpoint adds a machine-wide breakpoint on a guest-physical
// code address (it hits whatever linear address maps there).
func (c *CPU) AddPhysBreakpoint(pa uint64) { c.addBreakpoint(&c.sh.dbg.physBPs, pa) }

// RemovePhysBreakpoint removes a physical breakpoint.
func (c *CPU) RemovePhysBreakpoint(pa uint64) { c.removeBreakpoint(c.sh.dbg.physBPs, pa) }

// addBreakpoint puts addr in one of the breakpoint sets, flushes the
// translated code (TBs then end before it) and arms the check on every
// vCPU.
func (c *CPU) addBreakpoint(set *map[uint64]bool, addr uint64) {
	if *set == nil {
		*set = map[uint64]bool{}
	}
	(*set)[addr] = true
	c.sh.TBs.Flush()
	for _, o := range c.allCPUs() {
		o.bpActive = true
		o.jc.Clear()
	}
}

// removeBreakpoint takes addr out of a breakpoint set and disarms the
// check when no breakpoint of either kind is left.
func (c *CPU) removeBreakpoint(set map[uint64]bool, addr uint64) {
	delete(set, addr)
	d := &c.sh.dbg
	for _, o := range c.allCPUs() {
		o.bpActive = len(d.bps)+len(d.physBPs) > 0
	}
}

// AddWatchpoint adds a machine-wide data watchpoint.
func (c *CPU) AddWatchpoint(w Watchpoint) {
	c.sh.dbg.wps = append(c.sh.dbg.wps, w)
	for _, o := range c.allCPUs() {
		o.watchActive = true
		o.tlb.FlushAll()
		o.jc.Clear()
	}
}

// RemoveWatchpoint removes watchpoints equal to w.
func (c *CPU) RemoveWatchpoint(w Watchpoint) {
	d := &c.sh.dbg
	out := d.wps[:0]
	for _, x := range d.wps {
		if x != w {
			out = append(out, x)
		}
	}
	d.wps = out
	for _, o := range c.allCPUs() {
		o.watchActive = len(out) > 0
		o.tlb.FlushAll()
		o.jc.Clear()
	}
}

func (c *CPU) pageWatched(vp, pp uint64) bool {
	for _, w := range c.sh.dbg.wps {
		base := vp
		if w.Phys {
			base = pp
		}
		if w.Addr < base+4096 && w.Addr+w.Len > base {
			return true
		}
	}
	return false
}

func (c *CPU) checkWatch(la, pa uint64, size int, write bool) {
	if c.hwData != 0 {
		c.hwCheckData(la, size, write)
	}
	for _, w := range c.sh.dbg.wps {
		a := la
		if w.Phys {
			a = pa
		}
		if a >= w.Addr+w.Len || a+uint64(size) <= w.Addr {
			continue
		}
		if write && w.Kind&WatchWrite == 0 || !write && w.Kind&WatchRead == 0 {
			continue
		}
		if c.dbg.hit == nil {
			c.dbg.hit = &WatchHit{WP: w, Addr: a, Write: write, PC: c.PC()}
			c.exitWhy = ExitWatchpoint
			c.exitReq = true
			c.stopTB = true
		}
	}
}

func (c *CPU) takeWatchHit() *WatchHit {
	h := c.dbg.hit
	c.dbg.hit = nil
	return h
}

// SetSingleStep makes Exec run one instruction and return ExitStep.
func (c *CPU) SetSingleStep(on bool) { c.singleStep = on }

// SetStepIRQ chooses whether a single step may take a pending interrupt
// (default false, like QEMU's default single-step flags).
func (c *CPU) SetStepIRQ(on bool) { c.stepIRQ = on }

// SkipBreakpointOnce lets the next Exec start at a breakpoint address
// without stopping there (resuming from a breakpoint).
func (c *CPU) SkipBreakpointOnce() { c.bpSkip = true }

func (c *CPU) recordHistory(t *tb.TB) {
	p := c.dbg.histPos % historySize
	c.dbg.history[p] = t.ID
	c.dbg.histPos = p + 1
}

// History returns the IDs of the last TBs executed, oldest first.
func (c *CPU) History() []uint64 {
	var out []uint64
	for i := 0; i < historySize; i++ {
		id := c.dbg.history[(c.dbg.histPos+uint(i))%historySize]
		if id != 0 {
			out = append(out, id)
		}
	}
	return out
}

// MemOperand is a memory operand of a translated instruction, as the
// vCPU's current registers place it.
type MemOperand struct {
	EIP    uint64 // offset of the instruction in CS
	Lin    uint64 // linear address of the operand
	Size   int
	Kind   x86asm.Op
	Locked bool // a LOCK-prefixed RMW or XCHG with memory
}

// MemOperands lists the explicit memory operands of t's instructions
// (not LEA, string or stack accesses), with addresses computed from the
// current registers: for a vCPU spinning in t, the words it polls. Call it
// only while the vCPU is stopped.
func (c *CPU) MemOperands(t *tb.TB) []MemOperand {
	var out []MemOperand
	for i := range t.Ops {
		op := &t.Ops[i]
		k := x86asm.Op(op.Kind)
		if k == x86asm.LEA || int(op.Seg) >= NumSeg {
			continue
		}
		for _, a := range op.Args {
			if a.Kind != okMem {
				continue
			}
			lin := c.Seg[op.Seg].Base + c.ea(op)
			if c.hflags&hfCS64 == 0 {
				lin &= 0xFFFFFFFF
			}
			out = append(out, MemOperand{EIP: op.EIP, Lin: lin, Size: int(a.Size), Kind: k,
				Locked: op.Prefix&pfxLock != 0 || k == x86asm.XCHG})
			break
		}
	}
	return out
}

// ReadsPorts reports whether t contains a port input (IN, INS): a loop
// around one may wait for a device or host input indefinitely without
// being stuck.
func ReadsPorts(t *tb.TB) bool {
	for i := range t.Ops {
		switch x86asm.Op(t.Ops[i].Kind) {
		case x86asm.IN, x86asm.INSB, x86asm.INSW, x86asm.INSD:
			return true
		}
	}
	return false
}
