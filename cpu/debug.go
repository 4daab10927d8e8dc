package cpu

import (
	"glassbox/tb"
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
	bps     map[uint64]bool
	wps     []Watchpoint
	hit     *WatchHit
	history [historySize]uint64
	histPos int
}

const historySize = 64

// AddBreakpoint adds an instruction breakpoint at linear address la.
func (c *CPU) AddBreakpoint(la uint64) {
	if c.dbg.bps == nil {
		c.dbg.bps = map[uint64]bool{}
	}
	c.dbg.bps[la] = true
	c.bpActive = true
	c.sh.TBs.Flush() // TBs must end before the new breakpoint
	for _, o := range c.sh.CPUs {
		o.jc.Clear()
	}
	c.jc.Clear()
}

// RemoveBreakpoint removes a breakpoint.
func (c *CPU) RemoveBreakpoint(la uint64) {
	delete(c.dbg.bps, la)
	c.bpActive = len(c.dbg.bps) > 0
}

func (c *CPU) isBreakpoint(la uint64) bool { return c.dbg.bps[la] }

// AddWatchpoint adds a data watchpoint.
func (c *CPU) AddWatchpoint(w Watchpoint) {
	c.dbg.wps = append(c.dbg.wps, w)
	c.watchActive = true
	c.tlb.FlushAll()
	c.jc.Clear()
}

// RemoveWatchpoint removes watchpoints equal to w.
func (c *CPU) RemoveWatchpoint(w Watchpoint) {
	out := c.dbg.wps[:0]
	for _, x := range c.dbg.wps {
		if x != w {
			out = append(out, x)
		}
	}
	c.dbg.wps = out
	c.watchActive = len(out) > 0
	c.tlb.FlushAll()
	c.jc.Clear()
}

func (c *CPU) pageWatched(vp, pp uint64) bool {
	for _, w := range c.dbg.wps {
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
	for _, w := range c.dbg.wps {
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

func (c *CPU) recordHistory(t *tb.TB) {
	c.dbg.history[c.dbg.histPos] = t.ID
	c.dbg.histPos = (c.dbg.histPos + 1) % historySize
}

// History returns the IDs of the last TBs executed, oldest first.
func (c *CPU) History() []uint64 {
	var out []uint64
	for i := 0; i < historySize; i++ {
		id := c.dbg.history[(c.dbg.histPos+i)%historySize]
		if id != 0 {
			out = append(out, id)
		}
	}
	return out
}
