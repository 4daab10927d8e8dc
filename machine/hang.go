package machine

import (
	"encoding/binary"
	"strings"

	"glassbox/cpu"
	"glassbox/hoststack"
	"glassbox/memmap"
)

// HangFacts describes the machine for hoststack.Analyze: each vCPU's state,
// IF, PC and the PCs of the last TBs it executed (from the always-on
// execution-history ring). Call it only while the machine is stopped.
func (m *Machine) HangFacts(runState string) hoststack.Facts {
	f := hoststack.Facts{RunState: runState}
	if _, ok := m.Clock.NextDeadline(); ok {
		f.TimerArmed = true
	}
	for i, c := range m.CPUs {
		v := hoststack.VCPU{ID: c.ID, IF: c.Flags()&cpu.FLAG_IF != 0, PC: c.PC(), IRQPending: c.IntController().Pending(),
			RecentPCs: m.recentPCs(c)}
		lo, hi, spinning := hoststack.SpinRange(v.RecentPCs)
		v.Spinning = spinning
		switch {
		case i < len(m.workers) && m.workers[i].parked:
			v.State = hoststack.VCPUCatchpoint
		case c.WaitingForSIPI():
			v.State = hoststack.VCPUWaitSIPI
		case c.Halted:
			v.State = hoststack.VCPUHalted
		case runState == "running" || strings.Contains(runState, "watchdog") || spinning:
			// Running, or stopped (watchdog, pause, breakpoint) while
			// spinning in place: analyse what it was doing, which is
			// what a user pausing a hung guest asks about.
			v.State = hoststack.VCPURunning
		default:
			v.State = hoststack.VCPUPaused
		}
		if spinning && v.State == hoststack.VCPURunning {
			v.SpinOn = m.spinWord(i, lo, hi)
		}
		f.VCPUs = append(f.VCPUs, v)
	}
	return f
}

// spinWord finds the memory word vCPU i polls in its spin loop (the TBs of
// its recent history within [lo, hi]): the target of a locked operation
// there if any (a LOCK CMPXCHG / XCHG spin lock), else the first word the
// loop reads. Its holder is the vCPU whose locked store last changed the
// word to its current value (non-zero: taken) — derived from the vCPUs'
// locked-store logs. Nil when the loop reads no memory.
func (m *Machine) spinWord(i int, lo, hi uint64) *hoststack.SpinWord {
	c := m.CPUs[i]
	seen := map[uint64]bool{}
	var pick *cpu.MemOperand
	for _, id := range c.History() {
		t := m.TBs.ByID(id)
		if t == nil || seen[id] || t.Key.PC < lo || t.Key.PC > hi {
			continue
		}
		seen[id] = true
		for _, o := range c.MemOperands(t) {
			if pick == nil || o.Locked && !pick.Locked {
				pick = &o
			}
		}
	}
	if pick == nil || pick.Size <= 0 || pick.Size > 8 {
		return nil
	}
	pa, ok := c.Translate(pick.Lin)
	if !ok {
		return nil
	}
	var b [8]byte
	m.Mem.ReadDebug(memmap.PhysAddr(pa), b[:pick.Size])
	w := &hoststack.SpinWord{Addr: pa, Value: binary.LittleEndian.Uint64(b[:]), Size: pick.Size}
	if w.Value == 0 {
		return w // free: nobody holds it
	}
	var best cpu.LockedWrite
	holder := -1
	for j, o := range m.CPUs {
		for _, lw := range o.LockedWrites() {
			if lw.Lin == pick.Lin && lw.Seq > best.Seq {
				best, holder = lw, j
			}
		}
	}
	mask := uint64(1)<<(8*uint(pick.Size)) - 1
	if pick.Size == 8 {
		mask = ^uint64(0)
	}
	if holder >= 0 && holder != i && best.Value&mask == w.Value {
		w.LastWriter, w.LastWriterKnown = m.CPUs[holder].ID, true
	}
	return w
}

// recentPCs returns the PCs of the TBs in c's execution-history ring,
// oldest first.
func (m *Machine) recentPCs(c *cpu.CPU) []uint64 {
	var pcs []uint64
	for _, id := range c.History() {
		if t := m.TBs.ByID(id); t != nil {
			pcs = append(pcs, t.Key.PC)
		}
	}
	return pcs
}
