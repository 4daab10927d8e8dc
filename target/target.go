// Package target is the one narrow interface through which debuggers see
// and drive a machine: the gdb stub, the REPL and scripts all use it and
// none of them imports cpu, tb or tlb internals (delve's service layer
// plays the same role).
//
// # Concurrency
//
// A Target serialises everything with one mutex. The guest runs only
// inside Continue/Step (all-stop): while it runs, the mutex is held by the
// running call, and other goroutines may only call Pause (which is
// lock-free) and Running. Every inspection call must be made while the
// machine is stopped; called while it runs, it waits for the stop.
package target

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"glassbox/cpu"
	"glassbox/devices"
	"glassbox/hoststack"
	"glassbox/machine"
	"glassbox/memmap"
	"glassbox/symbols"
	"glassbox/tb"
	"glassbox/tlb"
)

// Target wraps a started machine.
type Target struct {
	mu      sync.Mutex
	m       *machine.Machine
	running atomic.Bool
	bps     map[int]Breakpoint
	wps     map[int]Watchpoint
	catches map[int]int // target ID -> machine catchpoint ID
	syms    *symbols.Table
	nextID  int
	last    *Stop
	exited  bool
	run     runner
}

// New wraps m, which must have been started. An ELF kernel's own symbols
// and DWARF are loaded automatically when its file is readable.
func New(m *machine.Machine) *Target {
	t := &Target{m: m, bps: map[int]Breakpoint{}, wps: map[int]Watchpoint{}, catches: map[int]int{}, nextID: 1}
	if m.Image != nil && m.Image.Symbols != "" {
		t.LoadSymbols(m.Image.Symbols, 0) // best effort: a kernel without DWARF still has its symtab
	}
	return t
}

// Machine returns the wrapped machine (for wiring, not for consumers).
func (t *Target) Machine() *machine.Machine { return t.m }

// Stop describes why the guest stopped.
type Stop struct {
	Reason string // "breakpoint", "watchpoint", "step", "paused", "exited", "shutdown", "halted", "error", "catchpoint", "watchdog"
	CPU    int
	// ExitStatus is the process status for "exited"/"shutdown"/"halted".
	ExitStatus int
	Watch      *WatchHit
	Err        error
	// PC is the stopped vCPU's linear PC.
	PC uint64
	// Catch describes a fired catchpoint ("catchpoint" stops).
	Catch *CatchHit
}

// CatchHit describes a fired catchpoint.
type CatchHit struct {
	ID     int
	Kind   string
	Detail string
}

// WatchHit describes a data watchpoint trigger.
type WatchHit struct {
	ID    int
	Addr  uint64
	Write bool
}

// Terminal reports whether the guest cannot run any more.
func (s *Stop) Terminal() bool {
	switch s.Reason {
	case "exited", "shutdown", "halted", "error":
		return true
	}
	return false
}

func (s *Stop) String() string {
	switch s.Reason {
	case "exited":
		return fmt.Sprintf("guest exited with status %d", s.ExitStatus)
	case "watchpoint":
		if s.Watch != nil {
			return fmt.Sprintf("watchpoint %d hit on CPU %d (%#x, write=%v) at pc %#x", s.Watch.ID, s.CPU, s.Watch.Addr, s.Watch.Write, s.PC)
		}
	case "error":
		return fmt.Sprintf("emulator error: %v", s.Err)
	case "watchdog":
		return fmt.Sprintf("watchdog on CPU %d at pc %#x: %v", s.CPU, s.PC, s.Err)
	case "catchpoint":
		if s.Catch != nil {
			return fmt.Sprintf("catchpoint %d (%s) on CPU %d: %s", s.Catch.ID, s.Catch.Kind, s.CPU, s.Catch.Detail)
		}
	}
	return fmt.Sprintf("%s on CPU %d at pc %#x", s.Reason, s.CPU, s.PC)
}

func (t *Target) convert(st *machine.Stop) *Stop {
	s := &Stop{CPU: st.CPU, ExitStatus: st.Status, Err: st.Err}
	switch st.Kind {
	case machine.StopDebugExit, machine.StopPowerOff:
		s.Reason = "exited"
	case machine.StopShutdown:
		s.Reason = "shutdown"
	case machine.StopHaltedForever:
		s.Reason = "halted"
	case machine.StopPaused, machine.StopCanceled:
		s.Reason = "paused"
	case machine.StopInternalError:
		s.Reason = "error"
	case machine.StopBreakpoint:
		s.Reason = "breakpoint"
	case machine.StopWatchpoint:
		s.Reason = "watchpoint"
		if st.Watch != nil {
			s.Watch = &WatchHit{Addr: st.Watch.Addr, Write: st.Watch.Write, ID: t.watchID(st.Watch.WP)}
		}
	case machine.StopStep:
		s.Reason = "step"
	case machine.StopWatchdog:
		s.Reason = "watchdog"
	case machine.StopCatch:
		s.Reason = "catchpoint"
		if st.Catch != nil {
			s.Catch = &CatchHit{ID: t.catchID(st.Catch.ID), Kind: st.Catch.Kind, Detail: st.Catch.Detail}
		}
	}
	if s.CPU >= 0 && s.CPU < len(t.m.CPUs) {
		s.PC = t.m.CPUs[s.CPU].PC()
	}
	if s.Terminal() {
		t.exited = true
	}
	return s
}

func (t *Target) watchID(w cpu.Watchpoint) int {
	for id, x := range t.wps {
		if x.Addr == w.Addr && x.Len == w.Len && x.Phys == w.Phys && x.Kind == watchKindString(w.Kind) {
			return id
		}
	}
	return 0
}

// Continue runs the guest until it stops and returns why. ctx cancels the
// run like Pause.
func (t *Target) Continue(ctx context.Context) *Stop {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return t.last
	}
	t.m.ClearPause()
	return t.continueLocked(ctx)
}

// continueLocked runs the guest; t.mu is held. A breakpoint at a vCPU's
// current PC does not stop it again immediately (resuming from it).
func (t *Target) continueLocked(ctx context.Context) *Stop {
	return t.runLocked(func() *machine.Stop { return t.m.Run(ctx) })
}

// runLocked resumes every vCPU past a breakpoint at its PC, runs the
// machine with run and records the stop; t.mu is held.
func (t *Target) runLocked(run func() *machine.Stop) *Stop {
	for _, c := range t.m.CPUs {
		c.SkipBreakpointOnce()
	}
	t.running.Store(true)
	st := run()
	t.running.Store(false)
	t.last = t.convert(st)
	return t.last
}

// Step executes n instructions on one vCPU (the others stay stopped, as in
// gdb's all-stop stepi) and returns why it stopped.
func (t *Target) Step(cpuID int, n int) *Stop {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return t.last
	}
	c, err := t.cpu(cpuID)
	if err != nil {
		return &Stop{Reason: "error", Err: err}
	}
	var s *Stop
	t.m.SetCurrentCPU(cpuID)
	for i := 0; i < n; i++ {
		c.SkipBreakpointOnce()
		c.SetSingleStep(true)
		ex := c.Exec(1)
		c.SetSingleStep(false)
		switch ex.Reason {
		case cpu.ExitStep, cpu.ExitBudget, cpu.ExitBreakpoint:
			s = &Stop{Reason: "step", CPU: cpuID}
		case cpu.ExitHalt:
			s = &Stop{Reason: "step", CPU: cpuID}
		case cpu.ExitShutdown:
			s = &Stop{Reason: "shutdown", CPU: cpuID, ExitStatus: 2}
		case cpu.ExitInternalError:
			s = &Stop{Reason: "error", CPU: cpuID, Err: ex.Err, ExitStatus: 2}
		case cpu.ExitWatchpoint:
			s = &Stop{Reason: "watchpoint", CPU: cpuID}
			if ex.Watch != nil {
				s.Watch = &WatchHit{Addr: ex.Watch.Addr, Write: ex.Watch.Write, ID: t.watchID(ex.Watch.WP)}
			}
		case cpu.ExitRequest:
			// a device stopped the machine (debug exit) during the step
			s = &Stop{Reason: "step", CPU: cpuID}
		default:
			s = &Stop{Reason: "step", CPU: cpuID}
		}
		if st, ok := t.m.DebugExit.Exited(); ok {
			s = &Stop{Reason: "exited", CPU: cpuID, ExitStatus: st}
		}
		if ev := t.m.TakePendingCatch(); ev != nil {
			s = &Stop{Reason: "catchpoint", CPU: cpuID, Catch: &CatchHit{ID: t.catchID(ev.ID), Kind: ev.Kind, Detail: ev.Detail}}
		}
		if s.Reason != "step" {
			break
		}
	}
	s.PC = c.PC()
	if s.Terminal() {
		t.exited = true
	}
	t.last = s
	return s
}

// Pause asks a running guest to stop at the next quantum boundary. Safe
// from any goroutine.
func (t *Target) Pause() { t.m.Pause() }

// SetStepIRQ chooses whether single steps may take pending interrupts
// (default: no, as QEMU).
func (t *Target) SetStepIRQ(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.m.CPUs {
		c.SetStepIRQ(on)
	}
}

// Running reports whether Continue is executing the guest.
func (t *Target) Running() bool { return t.running.Load() }

// Exited reports whether the guest has terminated.
func (t *Target) Exited() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.exited
}

// LastStop is the most recent stop (nil before the first run).
func (t *Target) LastStop() *Stop {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// NumCPUs is the number of vCPUs.
func (t *Target) NumCPUs() int { return len(t.m.CPUs) }

func (t *Target) cpu(i int) (*cpu.CPU, error) {
	if i < 0 || i >= len(t.m.CPUs) {
		return nil, fmt.Errorf("no CPU %d (the machine has %d)", i, len(t.m.CPUs))
	}
	return t.m.CPUs[i], nil
}

// Breakpoint is an instruction breakpoint on a linear (or, with Phys, a
// guest-physical) address.
type Breakpoint struct {
	ID   int
	Addr uint64
	Phys bool
	Hits uint64
}

// AddBreakpoint sets a breakpoint on linear address addr and returns its ID.
func (t *Target) AddBreakpoint(addr uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, b := range t.bps {
		if !b.Phys && b.Addr == addr {
			return id
		}
	}
	id := t.nextID
	t.nextID++
	t.bps[id] = Breakpoint{ID: id, Addr: addr}
	t.m.CPUs[0].AddBreakpoint(addr)
	return id
}

// RemoveBreakpoint deletes breakpoint id.
func (t *Target) RemoveBreakpoint(id int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.bps[id]
	if !ok {
		return fmt.Errorf("no breakpoint %d", id)
	}
	delete(t.bps, id)
	if b.Phys {
		t.m.CPUs[0].RemovePhysBreakpoint(b.Addr)
	} else {
		t.m.CPUs[0].RemoveBreakpoint(b.Addr)
	}
	return nil
}

// RemoveBreakpointAt deletes the breakpoint at addr.
func (t *Target) RemoveBreakpointAt(addr uint64) error {
	t.mu.Lock()
	var found = -1
	for id, b := range t.bps {
		if b.Addr == addr {
			found = id
		}
	}
	t.mu.Unlock()
	if found < 0 {
		return fmt.Errorf("no breakpoint at %#x", addr)
	}
	return t.RemoveBreakpoint(found)
}

// Watchpoint watches Len bytes at Addr (linear unless Phys).
type Watchpoint struct {
	ID   int
	Addr uint64
	Len  uint64
	Kind string // "w", "r" or "a"
	Phys bool
}

func watchKind(k string) (int, error) {
	switch k {
	case "w", "write":
		return cpu.WatchWrite, nil
	case "r", "read":
		return cpu.WatchRead, nil
	case "a", "access", "rw":
		return cpu.WatchAccess, nil
	}
	return 0, fmt.Errorf("watchpoint kind %q: want w, r or a", k)
}

func watchKindString(k int) string {
	switch k {
	case cpu.WatchWrite:
		return "w"
	case cpu.WatchRead:
		return "r"
	}
	return "a"
}

// AddWatchpoint sets a data watchpoint and returns its ID.
func (t *Target) AddWatchpoint(addr, length uint64, kind string, phys bool) (int, error) {
	k, err := watchKind(kind)
	if err != nil {
		return 0, err
	}
	if length == 0 || length > 1<<20 {
		return 0, fmt.Errorf("watchpoint length %d: want 1..1048576", length)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.nextID
	t.nextID++
	t.wps[id] = Watchpoint{ID: id, Addr: addr, Len: length, Kind: watchKindString(k), Phys: phys}
	t.m.CPUs[0].AddWatchpoint(cpu.Watchpoint{Addr: addr, Len: length, Kind: k, Phys: phys})
	return id, nil
}

// RemoveWatchpoint deletes watchpoint id.
func (t *Target) RemoveWatchpoint(id int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.wps[id]
	if !ok {
		return fmt.Errorf("no watchpoint %d", id)
	}
	delete(t.wps, id)
	k, _ := watchKind(w.Kind)
	t.m.CPUs[0].RemoveWatchpoint(cpu.Watchpoint{Addr: w.Addr, Len: w.Len, Kind: k, Phys: w.Phys})
	return nil
}

// Breakpoints lists breakpoints and watchpoints by ID.
func (t *Target) Breakpoints() ([]Breakpoint, []Watchpoint) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var bs []Breakpoint
	for _, b := range t.bps {
		bs = append(bs, b)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
	var ws []Watchpoint
	for _, w := range t.wps {
		ws = append(ws, w)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
	return bs, ws
}

// Catchpoint is an armed catchpoint inside the emulator.
type Catchpoint struct {
	ID     int
	Kind   string
	Arg    uint64
	HasArg bool
	Hits   uint64
}

// CatchKinds maps each catchpoint kind to what its optional argument
// filters on ("" when it takes none).
func CatchKinds() map[string]string { return machine.CatchKinds }

// AddCatch arms a catchpoint: when it fires the vCPU goroutine stays
// parked inside the emulator code path until the guest is resumed.
func (t *Target) AddCatch(kind string, arg uint64, hasArg bool) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cp, err := t.m.AddCatch(kind, arg, hasArg)
	if err != nil {
		return 0, err
	}
	id := t.nextID
	t.nextID++
	t.catches[id] = cp.ID
	return id, nil
}

// DeleteCatch removes a catchpoint.
func (t *Target) DeleteCatch(id int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	mid, ok := t.catches[id]
	if !ok {
		return fmt.Errorf("no catchpoint %d", id)
	}
	delete(t.catches, id)
	return t.m.DeleteCatch(mid)
}

func (t *Target) catchID(mid int) int {
	for id, m := range t.catches {
		if m == mid {
			return id
		}
	}
	return 0
}

// Catchpoints lists the armed catchpoints.
func (t *Target) Catchpoints() []Catchpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Catchpoint
	for _, c := range t.m.Catchpoints() {
		out = append(out, Catchpoint{ID: t.catchID(c.ID), Kind: c.Kind, Arg: c.Arg, HasArg: c.HasArg, Hits: c.Hits})
	}
	return out
}

// Mtree writes the memory map.
func (t *Target) Mtree(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.Mem.WriteMtree(w)
}

// ReadPhys copies guest-physical memory (MMIO/unassigned read as 0xFF).
func (t *Target) ReadPhys(pa uint64, buf []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.Mem.ReadDebug(memmap.PhysAddr(pa), buf)
}

// WritePhys stores into guest RAM/ROM, invalidating translated code.
func (t *Target) WritePhys(pa uint64, buf []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writePhys(pa, buf)
}

func (t *Target) writePhys(pa uint64, buf []byte) error {
	n := t.m.Mem.WriteDebug(memmap.PhysAddr(pa), buf)
	for p := pa &^ 0xFFF; p < pa+uint64(len(buf)); p += 0x1000 {
		if t.m.TBs.InvalidatePage(p, "debugger write") > 0 {
			t.m.Mem.SetDirty(memmap.PhysAddr(p), memmap.ClientCode)
		}
	}
	if n < len(buf) {
		return fmt.Errorf("%d of %d bytes at %#x are not RAM/ROM", len(buf)-n, len(buf), pa)
	}
	return nil
}

// ReadLinear reads memory at a linear address through the vCPU's page
// tables without side effects (no A/D bits, no TLB fill). It returns the
// number of bytes read before the first unmapped page.
func (t *Target) ReadLinear(cpuID int, la uint64, buf []byte) (int, error) {
	return t.linearPages(cpuID, la, len(buf), func(pa uint64, off, n int) error {
		t.m.Mem.ReadDebug(memmap.PhysAddr(pa), buf[off:off+n])
		return nil
	})
}

// WriteLinear writes memory at a linear address (no A/D side effects).
func (t *Target) WriteLinear(cpuID int, la uint64, buf []byte) (int, error) {
	return t.linearPages(cpuID, la, len(buf), func(pa uint64, off, n int) error {
		return t.writePhys(pa, buf[off:off+n])
	})
}

// linearPages splits [la, la+size) at page boundaries, translates each
// piece through vCPU cpuID's page tables (side-effect free) and calls fn
// with the physical address, the offset into the access and the piece's
// length. It returns how many bytes were handled before the first
// unmapped page or error.
func (t *Target) linearPages(cpuID int, la uint64, size int, fn func(pa uint64, off, n int) error) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(cpuID)
	if err != nil {
		return 0, err
	}
	done := 0
	for done < size {
		a := la + uint64(done)
		pa, ok := c.Translate(a)
		if !ok {
			return done, fmt.Errorf("linear address %#x is not mapped", a)
		}
		n := min(int(0x1000-a&0xFFF), size-done)
		if err := fn(pa, done, n); err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// WalkStep is one paging-structure entry read by Translate.
type WalkStep struct {
	Level string
	Addr  uint64
	Entry uint64
}

// Walk is the result of a page walk.
type Walk struct {
	Linear   uint64
	Steps    []WalkStep
	Phys     uint64
	PageSize uint64
	Fault    string // "" when mapped
	Paging   bool
}

// Translate walks the page tables for la (no side effects).
func (t *Target) Translate(cpuID int, la uint64) (Walk, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(cpuID)
	if err != nil {
		return Walk{}, err
	}
	tr := c.TranslateTrace(la)
	w := Walk{Linear: la, Phys: tr.PA, PageSize: tr.PageSize, Fault: tr.Fault, Paging: c.CR0&cpu.CR0_PG != 0}
	for _, s := range tr.Steps {
		w.Steps = append(w.Steps, WalkStep{s.Level, s.Addr, s.Entry})
	}
	return w, nil
}

// TBInfo is a snapshot of one translation block.
type TBInfo struct {
	ID        uint64
	PC        uint64
	CSBase    uint64
	Flags     uint32
	PhysPC    uint64
	Pages     []uint64
	Size      int
	Bytes     []byte
	NInsns    int
	Mode      int
	ExecCount uint64
	Invalid   bool
	Why       string
	Gen       uint64
	// Chaining: the exits whose target is fixed at translation, and the
	// TBs that jump here directly.
	Exits      []TBExit
	LinkedFrom []uint64
}

// TBExit is one exit of a TB with a translation-time target.
type TBExit struct {
	PC uint64 // linear address of the target
	To uint64 // ID of the TB it is linked to, 0 if not linked
}

func tbInfo(x *tb.TB) TBInfo {
	i := TBInfo{ID: x.ID, PC: x.Key.PC, CSBase: x.Key.CSBase, Flags: x.Key.Flags, PhysPC: x.Key.PhysPC,
		Pages: x.Pages(), Size: x.Size, Bytes: append([]byte(nil), x.Bytes...), NInsns: x.NInsns, Mode: x.Mode,
		ExecCount: x.ExecCount, Invalid: x.Invalid, Why: x.InvalidatedBy, Gen: x.Gen}
	for j, eip := range x.JmpEIP {
		if eip == tb.NoJmp {
			continue
		}
		e := TBExit{PC: x.Key.CSBase + eip}
		if x.Mode != 64 {
			e.PC &= 0xFFFFFFFF
		}
		if to := x.Jmp[j]; to != nil {
			e.To = to.ID
		}
		i.Exits = append(i.Exits, e)
	}
	for _, f := range x.JmpFrom {
		i.LinkedFrom = append(i.LinkedFrom, f.ID)
	}
	return i
}

// TBs lists valid TBs and (with dead) the recently invalidated ones.
func (t *Target) TBs(dead bool) []TBInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []TBInfo
	for _, x := range t.m.TBs.All() {
		out = append(out, tbInfo(x))
	}
	if dead {
		for _, x := range t.m.TBs.Dead() {
			out = append(out, tbInfo(x))
		}
	}
	return out
}

// TB returns one TB by ID (valid or recently invalidated).
func (t *Target) TB(id uint64) (TBInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.m.TBs.ByID(id)
	if x == nil {
		return TBInfo{}, false
	}
	return tbInfo(x), true
}

// TBStats returns the translation statistics.
func (t *Target) TBStats() (tb.Stats, int, []uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m.TBs.Stats, t.m.TBs.Len(), t.m.TBs.CodePages()
}

// FlushTBs drops all translated code.
func (t *Target) FlushTBs() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.TBs.Flush()
}

// History returns the IDs of the last TBs a vCPU executed, oldest first.
func (t *Target) History(cpuID int) ([]uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(cpuID)
	if err != nil {
		return nil, err
	}
	return c.History(), nil
}

// TLBEntry is a snapshot of one valid software-TLB entry.
type TLBEntry struct {
	MMUIdx   int // 0 supervisor, 1 user
	Slot     int
	VPage    uint64
	PPage    uint64
	Host     string // "ram", "rom" or "mmio"
	Read     bool
	Write    bool
	Exec     bool
	Flags    string // NOTDIRTY|MMIO|WATCH of the write tag, or "-"
	PageSize uint64
	Global   bool
	User     bool
	Hits     uint64
}

// TLB lists a vCPU's valid TLB entries.
func (t *Target) TLB(cpuID int) ([]TLBEntry, tlb.Stats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(cpuID)
	if err != nil {
		return nil, tlb.Stats{}, err
	}
	tl := c.TLB()
	var out []TLBEntry
	for idx := range tl.E {
		for slot := range tl.E[idx] {
			e := &tl.E[idx][slot]
			if !e.Valid() {
				continue
			}
			host := "ram"
			if e.Host == nil {
				host = "mmio"
			} else if r := t.m.Mem.Find(memmap.PhysAddr(e.Phys)); r != nil && r.Kind == memmap.KindROM {
				host = "rom"
			}
			flags := tlb.FlagString(e.Write | e.Read&tlb.FlagMask)
			if e.Write == tlb.Invalid {
				flags = tlb.FlagString(e.Read)
			}
			out = append(out, TLBEntry{MMUIdx: idx, Slot: slot, VPage: e.VPage(), PPage: e.Phys, Host: host,
				Read: e.Read != tlb.Invalid, Write: e.Write != tlb.Invalid, Exec: e.Code != tlb.Invalid,
				Flags: flags, PageSize: e.PageSize, Global: e.Global, User: e.User, Hits: e.Hits})
		}
	}
	st := tl.Stats
	st.Hits = tl.TotalHits()
	return out, st, nil
}

// FlushTLB flushes one vCPU's TLB entirely (all=true) or one page.
func (t *Target) FlushTLB(cpuID int, addr uint64, all bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(cpuID)
	if err != nil {
		return err
	}
	if all {
		c.TLB().FlushAll()
	} else {
		c.TLB().FlushPage(addr)
	}
	c.JumpCache().Clear()
	return nil
}

// DirtyPage is the dirty state of one physical page.
type DirtyPage struct {
	Addr                     uint64
	Code, Migration, Display bool // true = dirty (for Code: not write-protected)
	HasTBs                   bool
}

// Dirty lists the pages in [pa, pa+length) that are not dirty for every
// client (or all pages with all=true).
func (t *Target) Dirty(pa, length uint64, all bool) []DirtyPage {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []DirtyPage
	mem := t.m.Mem
	for p := pa &^ 0xFFF; p < pa+length && p < uint64(mem.BitmapLimit()); p += 0x1000 {
		if mem.Find(memmap.PhysAddr(p)) == nil {
			continue
		}
		d := DirtyPage{Addr: p,
			Code:      mem.IsDirty(memmap.PhysAddr(p), memmap.ClientCode),
			Migration: mem.IsDirty(memmap.PhysAddr(p), memmap.ClientMigration),
			Display:   mem.IsDirty(memmap.PhysAddr(p), memmap.ClientDisplay),
			HasTBs:    t.m.TBs.HasCode(p)}
		if all || !d.Code || !d.Migration || !d.Display {
			out = append(out, d)
		}
	}
	return out
}

// ClearDirty clears a dirty client over a range (all memory when length
// is 0) and makes stores to those pages take the slow path again.
func (t *Target) ClearDirty(client string, pa, length uint64) error {
	c, err := memmap.ParseClient(client)
	if err != nil {
		return err
	}
	if c == memmap.ClientCode {
		return fmt.Errorf("the code client is managed by translation; flush TBs instead")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if length == 0 {
		pa, length = 0, uint64(t.m.Mem.BitmapLimit())
	}
	t.m.Mem.ClearRange(memmap.PhysAddr(pa), length, c)
	for _, x := range t.m.CPUs {
		x.TLB().FlushAll()
		x.JumpCache().Clear()
	}
	return nil
}

// PICState is the 8259 pair's state (master first).
type PICState struct {
	Chips [2]devices.PICChipState
	Text  string // QEMU-style `info pic` text
}

// PIC returns the interrupt controller state.
func (t *Target) PIC() PICState {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	t.m.PIC.Info(&b)
	return PICState{Chips: t.m.PIC.State(), Text: b.String()}
}

// POST returns the last value written to port 0x80 and how many writes
// there were.
func (t *Target) POST() (code byte, writes uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, _ := t.m.POST.Last()
	return c, uint64(t.m.POST.Writes())
}

// AddPhysBreakpoint sets a breakpoint on a guest-physical code address.
func (t *Target) AddPhysBreakpoint(pa uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, b := range t.bps {
		if b.Phys && b.Addr == pa {
			return id
		}
	}
	id := t.nextID
	t.nextID++
	t.bps[id] = Breakpoint{ID: id, Addr: pa, Phys: true}
	t.m.CPUs[0].AddPhysBreakpoint(pa)
	return id
}

// HostThreads writes the emulator's own goroutines gdb-style (`thread
// apply all bt`); group folds identical stacks, filter keeps threads whose
// name contains it.
func (t *Target) HostThreads(w io.Writer, group bool, filter string, maxFrames int) error {
	return hoststack.Dump(w, t.m.Threads, hoststack.Options{Group: group, Filter: filter, MaxFrames: maxFrames})
}

// HostSnapshot captures the emulator's goroutines.
func (t *Target) HostSnapshot() (hoststack.Snapshot, error) { return hoststack.Capture(t.m.Threads) }

// AnalyzeHang captures the host goroutines and the vCPUs' states and
// returns the hang analysis (verdict first, then the evidence).
func (t *Target) AnalyzeHang() (hoststack.Report, error) {
	snap, err := hoststack.Capture(t.m.Threads)
	if err != nil {
		return hoststack.Report{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	state := "stopped"
	if t.last != nil {
		state = "stopped (" + t.last.Reason + ")"
	}
	return hoststack.Analyze(snap, t.m.HangFacts(state)), nil
}

// ContinueFor runs the guest like Continue but stops ("paused") after
// about n retired instructions, deterministically (scripts' bounded runs).
func (t *Target) ContinueFor(ctx context.Context, n uint64) *Stop {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return t.last
	}
	t.m.ClearPause()
	return t.runLocked(func() *machine.Stop { return t.m.RunFor(ctx, n) })
}

// SerialOutput returns the tail of the guest's serial output (up to 64
// KiB) and the total number of bytes it has written.
func (t *Target) SerialOutput() ([]byte, uint64) { return t.m.Serial.Bytes() }

// ICount returns the total instructions retired by all vCPUs.
func (t *Target) ICount() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n uint64
	for _, c := range t.m.CPUs {
		n += c.ICount
	}
	return n
}

// ContinueUntilSerial runs until the serial output written from now on
// matches re (stopping right after the instruction that completed the
// match), another stop, or about n instructions.
func (t *Target) ContinueUntilSerial(ctx context.Context, re *regexp.Regexp, n uint64) (*Stop, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return t.last, false
	}
	t.m.ClearPause()
	var ok bool
	s := t.runLocked(func() *machine.Stop {
		st, matched := t.m.RunUntilSerial(ctx, re, n)
		ok = matched
		return st
	})
	return s, ok
}

// LAPIC returns vCPU i's local APIC state (QEMU-style text and a plain
// struct for JSON).
func (t *Target) LAPIC(i int) (string, devices.LAPICState, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || i >= len(t.m.LAPICs) {
		return "", devices.LAPICState{}, fmt.Errorf("no CPU %d (the machine has %d)", i, len(t.m.LAPICs))
	}
	var b strings.Builder
	t.m.LAPICs[i].Info(&b)
	return b.String(), t.m.LAPICs[i].State(), nil
}

// IOAPIC returns the I/O APIC state.
func (t *Target) IOAPIC() (string, devices.IOAPICState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	t.m.IOAPIC.Info(&b)
	return b.String(), t.m.IOAPIC.State()
}

// SendSerial queues bytes as input on COM1; the guest receives them when
// it runs (the machine moves them into the UART FIFO between quanta, so a
// script's input arrives at the same instruction every run).
func (t *Target) SendSerial(b []byte) { t.m.UART.Feed(b) }

// RAMRange is a guest-physical RAM range.
type RAMRange struct{ Start, Size uint64 }

// RAM lists the guest's RAM regions (not ROM or MMIO).
func (t *Target) RAM() []RAMRange {
	var out []RAMRange
	for _, r := range t.m.Mem.Regions() {
		if r.Kind == memmap.KindRAM {
			out = append(out, RAMRange{uint64(r.Start), r.Size})
		}
	}
	return out
}
