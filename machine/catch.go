package machine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"glassbox/cpu"
	"glassbox/hoststack"
	"glassbox/tb"
)

// Catchpoints stop the machine at an event inside the emulator: the vCPU
// goroutine is parked *inside* the code path that produced the event (the
// TLB fill, the TB generation, the code protection...), so a dump of the
// host goroutines taken while stopped shows the real call chain, as the
// seed backtraces of QEMU do. With no catchpoint set, no hook is installed
// and the CPU's slow paths see a nil hook table.

// CatchKinds lists the catchpoint kinds and what their optional argument
// filters on.
var CatchKinds = map[string]string{
	"tlb-fill":     "linear page address",
	"tb-gen":       "linear PC",
	"code-protect": "physical page address",
	"smc":          "physical address",
	"exception":    "vector",
	"triple-fault": "",
	"io":           "port",
	"hlt":          "",
	"mode-switch":  "",
	"sipi":         "target vCPU",
}

// Catchpoint is one armed catchpoint.
type Catchpoint struct {
	ID     int
	Kind   string
	Arg    uint64
	HasArg bool
	Hits   uint64
}

func (cp *Catchpoint) String() string {
	if cp.HasArg {
		return fmt.Sprintf("catch %s %#x", cp.Kind, cp.Arg)
	}
	return "catch " + cp.Kind
}

// CatchEvent describes a fired catchpoint.
type CatchEvent struct {
	ID     int
	Kind   string
	CPU    int
	Detail string // e.g. "tlb fill la=0xfffffff0 pa=0xfffff000"
}

type catchState struct {
	list    []*Catchpoint
	next    int
	events  chan *CatchEvent
	running atomic.Bool // a vCPU turn is in progress under Run (parking allowed)
	pending *CatchEvent // fired outside Run (single step): reported by the caller
}

// AddCatch arms a catchpoint. arg filters the event when hasArg is set.
func (m *Machine) AddCatch(kind string, arg uint64, hasArg bool) (*Catchpoint, error) {
	what, ok := CatchKinds[kind]
	if !ok {
		kinds := make([]string, 0, len(CatchKinds))
		for k := range CatchKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return nil, fmt.Errorf("unknown catchpoint %q (want one of %s)", kind, strings.Join(kinds, ", "))
	}
	if hasArg && what == "" {
		return nil, fmt.Errorf("catch %s takes no argument", kind)
	}
	m.catch.next++
	cp := &Catchpoint{ID: m.catch.next, Kind: kind, Arg: arg, HasArg: hasArg}
	m.catch.list = append(m.catch.list, cp)
	m.installHooks()
	return cp, nil
}

// DeleteCatch removes catchpoint id.
func (m *Machine) DeleteCatch(id int) error {
	for i, cp := range m.catch.list {
		if cp.ID == id {
			m.catch.list = append(m.catch.list[:i], m.catch.list[i+1:]...)
			m.installHooks()
			return nil
		}
	}
	return fmt.Errorf("no catchpoint %d", id)
}

// Catchpoints lists the armed catchpoints.
func (m *Machine) Catchpoints() []Catchpoint {
	out := make([]Catchpoint, len(m.catch.list))
	for i, cp := range m.catch.list {
		out[i] = *cp
	}
	return out
}

// ParseCatchArg parses a catchpoint argument (decimal or 0x hex).
func ParseCatchArg(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("bad catchpoint argument %q: want a number such as 0x1000 or 14", s)
	}
	return v, nil
}

// installHooks installs the CPU hooks the armed catchpoints need (or none).
func (m *Machine) installHooks() {
	if m.catch.events == nil {
		m.catch.events = make(chan *CatchEvent)
	}
	if m.shared == nil {
		return
	}
	if len(m.catch.list) == 0 {
		m.shared.Hooks = m.cfg.Hooks
		return
	}
	user := m.cfg.Hooks
	if user == nil {
		user = &cpu.Hooks{}
	}
	h := &cpu.Hooks{
		TLBFill: func(c *cpu.CPU, la, pa uint64) {
			chain(user.TLBFill, c, la, pa)
			m.fire(c, "tlb-fill", la&^0xFFF, fmt.Sprintf("tlb fill la=%#x pa=%#x", la, pa))
		},
		TBGen: func(c *cpu.CPU, t *tb.TB) {
			if user.TBGen != nil {
				user.TBGen(c, t)
			}
			m.fire(c, "tb-gen", t.Key.PC, fmt.Sprintf("tb %d generated pc=%#x phys=%#x insns=%d", t.ID, t.Key.PC, t.Key.PhysPC, t.NInsns))
		},
		CodeProtect: func(c *cpu.CPU, pa uint64) {
			if user.CodeProtect != nil {
				user.CodeProtect(c, pa)
			}
			m.fire(c, "code-protect", pa&^0xFFF, fmt.Sprintf("code page %#x write-protected (CODE dirty bit cleared)", pa))
		},
		SMC: func(c *cpu.CPU, pa uint64) {
			if user.SMC != nil {
				user.SMC(c, pa)
			}
			m.fire(c, "smc", pa, fmt.Sprintf("store to code at %#x", pa))
		},
		Exception: func(c *cpu.CPU, e *cpu.Exception) {
			if user.Exception != nil {
				user.Exception(c, e)
			}
			m.fire(c, "exception", uint64(e.Vector), fmt.Sprintf("exception %s (vector %d) code=%#x", cpu.VectorNames[e.Vector], e.Vector, e.Code))
		},
		IO: func(c *cpu.CPU, port uint16, size int, write bool, v uint32) {
			if user.IO != nil {
				user.IO(c, port, size, write, v)
			}
			dir := "in"
			if write {
				dir = "out"
			}
			m.fire(c, "io", uint64(port), fmt.Sprintf("%s port %#x size %d value %#x", dir, port, size, v))
		},
		HLT: func(c *cpu.CPU) {
			if user.HLT != nil {
				user.HLT(c)
			}
			m.fire(c, "hlt", 0, fmt.Sprintf("hlt at %#x", c.PC()))
		},
		ModeSwitch: func(c *cpu.CPU, from, to cpu.Mode) {
			if user.ModeSwitch != nil {
				user.ModeSwitch(c, from, to)
			}
			m.fire(c, "mode-switch", 0, fmt.Sprintf("mode switch %s -> %s", from, to))
		},
		Shutdown: func(c *cpu.CPU) {
			if user.Shutdown != nil {
				user.Shutdown(c)
			}
			m.fire(c, "triple-fault", 0, "triple fault")
		},
	}
	m.shared.Hooks = h
}

func chain(f func(*cpu.CPU, uint64, uint64), c *cpu.CPU, a, b uint64) {
	if f != nil {
		f(c, a, b)
	}
}

// fire parks the calling vCPU goroutine if a catchpoint matches: it hands
// the event to the main loop and blocks until the next Run resumes it.
func (m *Machine) fire(c *cpu.CPU, kind string, arg uint64, detail string) {
	for _, cp := range m.catch.list {
		if cp.Kind != kind || (cp.HasArg && cp.Arg != arg) {
			continue
		}
		cp.Hits++
		ev := &CatchEvent{ID: cp.ID, Kind: kind, CPU: c.ID, Detail: detail}
		if !m.catch.running.Load() {
			// Not under Run (e.g. a debugger single step): record the
			// event and stop after the instruction instead of parking.
			m.catch.pending = ev
			c.RequestExit()
			return
		}
		w := m.workers[c.ID]
		w.setState(hoststack.StateCatchpoint)
		m.catch.events <- ev
		<-w.resume
		w.setState(hoststack.StateRunningGuest)
		return
	}
}

// TakePendingCatch returns a catchpoint that fired outside Run.
func (m *Machine) TakePendingCatch() *CatchEvent {
	ev := m.catch.pending
	m.catch.pending = nil
	return ev
}

// sipi is the LAPIC's startup-IPI delivery to vCPU c: it starts c, then
// fires `catch sipi` on the sending vCPU's goroutine (the baton holder),
// parked inside the ICR write that sent it.
func (m *Machine) sipi(c *cpu.CPU, vector uint8) {
	waiting := c.WaitingForSIPI()
	c.StartupIPI(vector)
	if len(m.catch.list) == 0 || m.current < 0 || m.current >= len(m.CPUs) {
		return
	}
	detail := fmt.Sprintf("SIPI vector %#02x from CPU %d to CPU %d: starts it at %#x", vector, m.current, c.ID, uint32(vector)<<12)
	if !waiting {
		detail = fmt.Sprintf("SIPI vector %#02x from CPU %d to CPU %d: ignored (not waiting for SIPI)", vector, m.current, c.ID)
	}
	m.fire(m.CPUs[m.current], "sipi", uint64(c.ID), detail)
}
