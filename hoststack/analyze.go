package hoststack

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// VCPUState is a vCPU's run state as the machine sees it.
type VCPUState int

const (
	VCPURunning    VCPUState = iota // executing guest code (possibly spinning)
	VCPUHalted                      // stopped at HLT until an interrupt
	VCPUPaused                      // stopped by the machine or the user (pause, gdb stop)
	VCPUWaitSIPI                    // an AP in wait-for-SIPI state
	VCPUCatchpoint                  // parked inside a catchpoint, waiting for the debugger
)

var vcpuStateNames = [...]string{"running", "halted", "paused", "waiting for SIPI", "parked in a catchpoint"}

func (s VCPUState) String() string {
	if int(s) < len(vcpuStateNames) {
		return vcpuStateNames[s]
	}
	return "?"
}

// VCPU is what the machine knows about one vCPU over the observation
// window (Facts.Window).
type VCPU struct {
	ID int
	// Thread is the name of the goroutine that runs it; "" means
	// "CPU <ID>/TCG".
	Thread string
	State  VCPUState
	IF     bool   // EFLAGS.IF
	PC     uint64 // current guest PC (linear)
	// RecentPCs are the PCs of the last translation blocks executed,
	// oldest first (a ring the machine keeps).
	RecentPCs []uint64
	// Spinning says the last TBs all stayed within a few bytes of code; the
	// analysis also derives it from RecentPCs (see SpinRange).
	Spinning bool
	Pauses   uint64 // PAUSE instructions executed in the window
	Retired  uint64 // instructions retired in the window
	// IRQPending: an interrupt is pending for this vCPU (it would leave HLT
	// as soon as IF=1).
	IRQPending bool
	// SpinOn is the memory word the vCPU spins on, if the machine found it
	// (e.g. the operand of the CMP/XCHG inside the spin range).
	SpinOn *SpinWord
}

// SpinWord is a guest memory word a vCPU spins on.
type SpinWord struct {
	Addr  uint64 // guest physical address
	Value uint64 // its current value
	Size  int    // bytes
	// LastWriter is the vCPU that wrote the word last (for a spinlock: the
	// one that took it, i.e. the holder), valid if LastWriterKnown.
	LastWriter      int
	LastWriterKnown bool
}

// Lock is a host lock of the machine (a sync.Mutex the machine tracks, the
// run baton...).
type Lock struct {
	Name    string
	Holder  string   // goroutine name of the holder; "" if free
	Waiters []string // goroutine names blocked acquiring it
}

// Dependency is any other "From waits for To" relation the machine knows
// (a channel handoff, a condition). Several dependencies with one From
// mean From waits for any one of them. Names are goroutine names, or
// "CPU n" for a vCPU.
type Dependency struct {
	From, To string
	Why      string // "the run baton"
}

// Facts is what the machine reports for a hang analysis. Every field may
// be left zero; the analysis then says less.
type Facts struct {
	// RunState is the machine's run state: "running", "paused",
	// "stopped at breakpoint"... "" if unknown.
	RunState string
	// Window is the time the per-vCPU counters cover.
	Window time.Duration
	VCPUs  []VCPU
	Locks  []Lock
	Waits  []Dependency
	// TimerArmed: some timer (PIT, LAPIC timer, RTC) will raise an
	// interrupt, so a vCPU halted with IF=1 wakes up.
	TimerArmed bool
	// InputIRQ: a device raises an interrupt on host input (UART receive
	// interrupt enabled, keyboard), so a halted vCPU may be waiting for the
	// user.
	InputIRQ bool
}

// Spin detection defaults: at least MinSpinTBs recent TBs, all within
// MaxSpinSpan bytes of code.
const (
	MinSpinTBs  = 8
	MaxSpinSpan = 256
)

// SpinRange reports whether pcs (the last TB PCs) stay within MaxSpinSpan
// bytes, and the range.
func SpinRange(pcs []uint64) (lo, hi uint64, ok bool) {
	if len(pcs) < MinSpinTBs {
		return 0, 0, false
	}
	lo, hi = pcs[0], pcs[0]
	for _, pc := range pcs {
		lo, hi = min(lo, pc), max(hi, pc)
	}
	return lo, hi, hi-lo <= MaxSpinSpan
}

// Kind classifies a verdict.
type Kind int

const (
	KindUnknown    Kind = iota // not enough facts
	KindHealthy                // vCPUs make progress
	KindStopped                // not a hang: the VM is stopped, paused or not started
	KindSpinning               // vCPUs spin, but whoever they wait for can still run
	KindDeadlock               // a cycle in the waits-for graph
	KindDead                   // every vCPU halted and nothing can wake any
	KindLostWakeup             // a vCPU waits for an IPI/SIPI no vCPU will send
	KindStuck                  // waits for something that can never happen, without a cycle
)

var kindNames = [...]string{"unknown", "healthy", "stopped", "spinning", "deadlock", "dead", "lost wakeup", "stuck"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

// Report is the result of Analyze: a one-line verdict first, then the
// evidence.
type Report struct {
	Kind    Kind
	Verdict string
	Why     []string   // the reasoning that leads to the verdict
	Cycles  [][]string // each deadlock cycle as steps ("CPU 0 spins on lock 0x1000 held by CPU 1")
	VCPUs   []string   // per vCPU: state and PC summary
	Locks   []string   // per lock: holder, waiters, who released it to wait
	Threads []string   // per thread (or group of alike threads): what it waits on
}

// String renders the report: verdict, reasoning, then the evidence.
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(r.Verdict + "\n")
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		b.WriteString("\n" + title + ":\n")
		for _, l := range lines {
			b.WriteString("  " + l + "\n")
		}
	}
	section("Why", r.Why)
	for i, c := range r.Cycles {
		section(fmt.Sprintf("Cycle %d", i+1), c)
	}
	section("vCPUs", r.VCPUs)
	section("Locks", r.Locks)
	section("Threads", r.Threads)
	return b.String()
}

// The waits-for graph. A node is a vCPU ("CPU 0") or a host thread (its
// name). A node waits on groups of edges: it can progress when every group
// has at least one target that can progress (a lock wait is a group of one
// edge to the holder; "woken by an IPI" is a group of edges to every other
// vCPU). A node without groups progresses by itself. Nodes that cannot
// progress are stuck; a cycle through stuck nodes is a deadlock.
type edgeKind int

const (
	edgeLock   edgeKind = iota // waits for a host lock held by the target
	edgeSpin                   // spins on a guest word held by the target vCPU
	edgeDep                    // a Dependency from the facts
	edgeRunsOn                 // a vCPU cannot run while its thread is stuck
	edgeWake                   // needs an interrupt (IPI, NMI, SIPI) the target vCPU could send
)

type edge struct {
	from string
	to   string
	kind edgeKind
	why  string // the whole step: `CPU 0 spins on lock 0x1000 held by CPU 1`
}

type node struct {
	name   string
	vcpu   *VCPU
	groups [][]edge
	state  string // what it does, for "..., which is halted with interrupts disabled"
	live   bool
}

type graph struct {
	nodes map[string]*node
	order []string
}

func (g *graph) node(name string) *node {
	if n, ok := g.nodes[name]; ok {
		return n
	}
	n := &node{name: name}
	g.nodes[name] = n
	g.order = append(g.order, name)
	return n
}

func vcpuName(id int) string { return "CPU " + strconv.Itoa(id) }

// Analyze finds out why a machine (or, from a gdb snapshot, a QEMU
// process) does not make progress. It builds a waits-for graph from the
// facts: host lock waits (Facts.Locks), dependencies (Facts.Waits), vCPUs
// spinning on a word another vCPU holds, vCPUs that need an interrupt
// another vCPU would have to send, and each vCPU's dependency on its
// thread. It marks what can still progress, then searches the stuck part
// for cycles. Threads of snap are classified (Classify) for the evidence;
// with no vCPU facts, the vCPU threads of the snapshot ("CPU n/...") are
// judged from their stacks, which is how the seed is analysed.
func Analyze(snap Snapshot, facts Facts) Report {
	var r Report
	g := &graph{nodes: map[string]*node{}}
	waits := make([]Wait, len(snap.Goroutines))
	for i := range snap.Goroutines {
		waits[i] = Classify(&snap.Goroutines[i])
		g.node(snap.Goroutines[i].Name)
	}

	// Host locks and dependencies.
	for _, l := range facts.Locks {
		if l.Holder == "" {
			continue
		}
		g.node(l.Holder)
		for _, w := range l.Waiters {
			g.node(w).groups = append(g.node(w).groups, []edge{{from: w, to: l.Holder, kind: edgeLock,
				why: fmt.Sprintf("%q waits for lock %s held by %q", w, l.Name, l.Holder)}})
		}
	}
	deps := map[string][]edge{}
	var depFrom []string
	for _, d := range facts.Waits {
		if _, ok := deps[d.From]; !ok {
			depFrom = append(depFrom, d.From)
		}
		why := fmt.Sprintf("%q waits for %q", d.From, d.To)
		if d.Why != "" {
			why += " (" + d.Why + ")"
		}
		deps[d.From] = append(deps[d.From], edge{from: d.From, to: d.To, kind: edgeDep, why: why})
		g.node(d.To)
	}
	for _, from := range depFrom {
		n := g.node(from)
		n.groups = append(n.groups, deps[from])
	}

	// vCPUs.
	var vcpus []*node
	for i := range facts.VCPUs {
		v := &facts.VCPUs[i]
		n := g.node(vcpuName(v.ID))
		n.vcpu = v
		vcpus = append(vcpus, n)
	}
	for _, n := range vcpus {
		v := n.vcpu
		thread := v.Thread
		if thread == "" {
			thread = fmt.Sprintf("CPU %d/TCG", v.ID)
		}
		if t, ok := g.nodes[thread]; ok && len(t.groups) > 0 {
			n.groups = append(n.groups, []edge{{from: n.name, to: thread, kind: edgeRunsOn,
				why: fmt.Sprintf("%s runs on %q", n.name, thread)}})
		}
		others := func(why string) []edge {
			var es []edge
			for _, o := range vcpus {
				if o != n {
					es = append(es, edge{from: n.name, to: o.name, kind: edgeWake, why: fmt.Sprintf("%s waits for %s from %s", n.name, why, o.name)})
				}
			}
			return es
		}
		_, _, spinPCs := SpinRange(v.RecentPCs)
		switch {
		case v.State == VCPURunning && (v.Spinning || spinPCs):
			n.state = "spinning"
			if w := v.SpinOn; w != nil && w.LastWriterKnown {
				if h, ok := g.nodes[vcpuName(w.LastWriter)]; ok && h.vcpu != nil {
					n.groups = append(n.groups, []edge{{from: n.name, to: h.name, kind: edgeSpin,
						why: fmt.Sprintf("%s spins on lock %#x held by %s", n.name, w.Addr, h.name)}})
				}
			}
		case v.State == VCPURunning:
			n.state = "running"
		case v.State == VCPUHalted && v.IF && (v.IRQPending || facts.TimerArmed || facts.InputIRQ):
			n.state = "halted with interrupts enabled, and " + wakeSource(v, facts)
		case v.State == VCPUHalted && v.IF:
			n.state = "halted waiting for an interrupt that no timer or device will raise"
			n.groups = append(n.groups, others("an IPI"))
		case v.State == VCPUHalted:
			n.state = "halted with interrupts disabled"
			n.groups = append(n.groups, others("an NMI or INIT IPI"))
		case v.State == VCPUWaitSIPI:
			n.state = "waiting for SIPI"
			n.groups = append(n.groups, others("a SIPI"))
		default: // paused, catchpoint: resumes when the user or debugger says so
			n.state = v.State.String()
		}
	}

	g.propagate()
	cycles := g.cycles()
	r.VCPUs = vcpuEvidence(facts, g)
	r.Locks = lockEvidence(snap, waits, facts)
	r.Threads = threadEvidence(snap, waits)
	g.verdict(&r, cycles, facts, snap, waits)
	return r
}

// propagate marks the nodes that can progress: those without waits, then,
// until nothing changes, those with a progressing target in every group.
func (g *graph) propagate() {
	for changed := true; changed; {
		changed = false
		for _, name := range g.order {
			n := g.nodes[name]
			if n.live {
				continue
			}
			ok := true
			for _, grp := range n.groups {
				found := false
				for _, e := range grp {
					if g.nodes[e.to].live {
						found = true
						break
					}
				}
				if !found {
					ok = false
					break
				}
			}
			if ok {
				n.live, changed = true, true
			}
		}
	}
}

func wakeSource(v *VCPU, f Facts) string {
	switch {
	case v.IRQPending:
		return "an interrupt is pending"
	case f.TimerArmed:
		return "a timer is armed"
	default:
		return "a device interrupts on input"
	}
}

// cycles returns the distinct cycles among stuck nodes, following every
// edge kind except wake-ups (a vCPU that needs an IPI from any other is not
// in a lock cycle with them). Each cycle is the list of its steps.
func (g *graph) cycles() [][]edge {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []edge
	seen := map[string]bool{}
	var out [][]edge
	var visit func(name string)
	visit = func(name string) {
		color[name] = grey
		for _, grp := range g.nodes[name].groups {
			for _, e := range grp {
				if e.kind == edgeWake || g.nodes[e.to].live {
					continue
				}
				switch color[e.to] {
				case grey: // back edge: the cycle is the path from e.to on, plus e
					start := len(stack) // a self-loop: no step of the path leaves e.to
					for i := len(stack) - 1; i >= 0; i-- {
						if stack[i].from == e.to {
							start = i
							break
						}
					}
					cyc := rotate(append(append([]edge(nil), stack[start:]...), e))
					if key := cycleKey(cyc); !seen[key] {
						seen[key] = true
						out = append(out, cyc)
					}
				case white:
					stack = append(stack, e)
					visit(e.to)
					stack = stack[:len(stack)-1]
				}
			}
		}
		color[name] = black
	}
	for _, name := range g.order {
		if !g.nodes[name].live && color[name] == white {
			visit(name)
		}
	}
	return out
}

// rotate starts a cycle at its least node name, so that a cycle reads the
// same whichever node the search entered it from.
func rotate(cyc []edge) []edge {
	first := 0
	for i, e := range cyc {
		if e.from < cyc[first].from {
			first = i
		}
	}
	return append(cyc[first:len(cyc):len(cyc)], cyc[:first]...)
}

// cycleKey identifies a rotated cycle.
func cycleKey(cyc []edge) string {
	var b strings.Builder
	for _, e := range cyc {
		b.WriteString(e.from + "\x00")
	}
	return b.String()
}

// chain explains why a stuck node is stuck: it follows stuck targets until
// a node that waits for nothing anyone will do.
func (g *graph) chain(name string) string {
	var parts []string
	seen := map[string]bool{}
	for {
		n := g.nodes[name]
		seen[name] = true
		var next *edge
		for _, grp := range n.groups {
			for i := range grp {
				if !g.nodes[grp[i].to].live && grp[i].kind != edgeWake {
					next = &grp[i]
					break
				}
			}
			if next != nil {
				break
			}
		}
		if next == nil || seen[next.to] {
			if len(parts) == 0 {
				if n.state == "" {
					return name + " cannot progress"
				}
				return name + " is " + n.state
			}
			if next == nil && g.nodes[name].state != "" {
				parts[len(parts)-1] += ", which is " + g.nodes[name].state
			}
			return strings.Join(parts, ", ")
		}
		parts = append(parts, next.why)
		name = next.to
	}
}

func (g *graph) verdict(r *Report, cycles [][]edge, f Facts, snap Snapshot, waits []Wait) {
	var vcpus, stuck []*node
	for _, name := range g.order {
		n := g.nodes[name]
		if n.vcpu != nil {
			vcpus = append(vcpus, n)
			if !n.live {
				stuck = append(stuck, n)
			}
		}
	}
	sort.SliceStable(vcpus, func(i, j int) bool { return vcpus[i].vcpu.ID < vcpus[j].vcpu.ID })
	sort.SliceStable(stuck, func(i, j int) bool { return stuck[i].vcpu.ID < stuck[j].vcpu.ID })
	for _, c := range cycles {
		steps := make([]string, len(c))
		for i, e := range c {
			steps[i] = e.why
		}
		r.Cycles = append(r.Cycles, steps)
	}

	switch {
	case len(cycles) > 0:
		r.Kind = KindDeadlock
		c := cycles[0]
		guest, host := false, false
		for _, e := range c {
			if e.kind == edgeSpin {
				guest = true
			} else {
				host = true
			}
		}
		where := "host"
		switch {
		case guest && host:
			where = "host and guest"
		case guest:
			where = "guest"
		}
		r.Verdict = fmt.Sprintf("DEADLOCK (%s): %s", where, strings.Join(r.Cycles[0], ", "))
		if len(cycles) > 1 {
			r.Verdict += fmt.Sprintf(" (and %d more cycles)", len(cycles)-1)
		}
		r.Why = append(r.Why, "the waits-for graph has a cycle: every member waits for the next, so none can ever progress")
		for _, n := range stuck {
			if !inCycle(n.name, cycles) {
				r.Why = append(r.Why, "also stuck: "+g.chain(n.name))
			}
		}

	case len(vcpus) > 0 && len(stuck) == len(vcpus) && allState(vcpus, VCPUHalted):
		r.Kind = KindDead
		if allIF(vcpus, false) {
			r.Verdict = "DEAD: all vCPUs halted with interrupts disabled: the guest is dead"
		} else {
			r.Verdict = "DEAD: all vCPUs halted and nothing can wake them (no timer armed, no interrupt pending, no input device): the guest is dead"
		}
		for _, n := range vcpus {
			r.Why = append(r.Why, n.name+" is "+n.state)
		}
		r.Why = append(r.Why, "only a running vCPU could send the IPI/NMI that wakes a halted one, and none runs")

	case len(stuck) > 0 && firstWaiter(stuck) != nil:
		n := firstWaiter(stuck)
		r.Kind = KindLostWakeup
		what := "an IPI"
		if n.vcpu.State == VCPUWaitSIPI {
			what = "a SIPI"
		}
		var why []string
		for _, o := range vcpus {
			if o != n {
				why = append(why, o.name+" "+explainShort(g, o))
			}
		}
		r.Verdict = fmt.Sprintf("LOST WAKEUP: %s waits for %s that no CPU will send", n.name, what)
		if len(why) > 0 {
			r.Verdict += " (" + strings.Join(why, "; ") + ")"
		}
		r.Why = append(r.Why, n.name+" is "+n.state+"; only another vCPU can wake it, and none of them can progress")
		for _, o := range stuck {
			if o != n {
				r.Why = append(r.Why, "stuck: "+g.chain(o.name))
			}
		}

	case len(stuck) > 0 || g.stuckThread() != "":
		r.Kind = KindStuck
		var chains []string
		for _, n := range stuck {
			chains = append(chains, g.chain(n.name))
		}
		if len(chains) == 0 {
			chains = append(chains, g.chain(g.stuckThread()))
		}
		r.Verdict = "STUCK: " + chains[0]
		r.Why = append(r.Why, "no cycle, but the chain of waits ends at something that cannot happen")
		for _, c := range chains[1:] {
			r.Why = append(r.Why, "also stuck: "+c)
		}

	case len(vcpus) > 0 && (f.RunState != "" && f.RunState != "running" || allStopped(vcpus)):
		r.Kind = KindStopped
		state := f.RunState
		if state == "" {
			state = "paused"
		}
		r.Verdict = fmt.Sprintf("STOPPED, not a hang: the machine is %s; the vCPUs run again when it is resumed", state)

	case len(vcpus) > 0 && anySpinning(vcpus):
		r.Kind = KindSpinning
		var parts []string
		for _, n := range vcpus {
			if n.state != "spinning" {
				continue
			}
			s := n.name + " spins"
			if lo, hi, ok := SpinRange(n.vcpu.RecentPCs); ok {
				s += fmt.Sprintf(" in %#x-%#x", lo, hi)
			}
			if len(n.groups) > 0 && len(n.groups[len(n.groups)-1]) == 1 && n.groups[len(n.groups)-1][0].kind == edgeSpin {
				e := n.groups[len(n.groups)-1][0]
				s = e.why + ", which is " + g.nodes[e.to].state + " (lock contention, not a hang yet)"
			} else if w := n.vcpu.SpinOn; w != nil {
				s += fmt.Sprintf(" on %#x = %#x, whose holder is unknown", w.Addr, w.Value)
			} else {
				s += " on a word that is not known"
			}
			parts = append(parts, s)
		}
		r.Verdict = "SPINNING: " + strings.Join(parts, "; ")
		r.Why = append(r.Why, "a vCPU that spins waits for another; when the lock holder is known and can run, this is contention; if it lasts, re-check with the spin word and its last writer")

	case len(vcpus) > 0 && f.Window > 0 && f.RunState == "running" && noneRetired(vcpus):
		// The machine runs but no vCPU retired an instruction in the
		// window: the emulator itself is stuck (host watchdog).
		r.Kind = KindStuck
		var blocked []string
		for i := range snap.Goroutines {
			t := &snap.Goroutines[i]
			if _, ok := vcpuThreadID(t.Name); !ok || waits[i].Kind == WaitRunning {
				continue
			}
			where := "?"
			if w := waits[i].Where; w != nil {
				where = w.Func
			} else if len(t.Frames) > 0 {
				where = t.Frames[0].Func
			}
			blocked = append(blocked, fmt.Sprintf("%q is blocked (%s) in %s", t.Name, waits[i].Kind, where))
		}
		r.Verdict = fmt.Sprintf("STUCK (host): no vCPU retired an instruction in the last %v", f.Window)
		if len(blocked) > 0 {
			r.Verdict += ": " + strings.Join(blocked, "; ")
		}
		r.Why = append(r.Why, "a vCPU goroutine blocked inside the emulator (a device handler, a lock, a channel) keeps its turn forever; the main loop waits for that turn to end")

	case len(vcpus) > 0:
		r.Kind = KindHealthy
		active := 0
		for _, n := range vcpus {
			if n.vcpu.State == VCPURunning && (n.vcpu.Retired > 0 || f.Window == 0) {
				active++
			}
		}
		window := "recently"
		if f.Window > 0 {
			window = "in the last " + f.Window.String()
		}
		r.Verdict = fmt.Sprintf("no hang: %d of %d vCPUs retired instructions %s", active, len(vcpus), window)
		for _, n := range vcpus {
			if n.vcpu.State != VCPURunning {
				r.Why = append(r.Why, n.name+" is "+n.state+" and can be woken")
			}
		}

	default:
		snapshotVerdict(r, snap, waits)
	}
}

// snapshotVerdict judges from the stacks alone (no vCPU facts): the seed's
// case.
func snapshotVerdict(r *Report, snap Snapshot, waits []Wait) {
	var vcpuThreads, parked, running, lockWaiters []string
	for i := range snap.Goroutines {
		t := &snap.Goroutines[i]
		w := waits[i]
		if w.Kind == WaitLock {
			lockWaiters = append(lockWaiters, fmt.Sprintf("%q (%s)", t.Name, orUnknown(w.Object)))
		}
		if _, ok := vcpuThreadID(t.Name); !ok {
			continue
		}
		vcpuThreads = append(vcpuThreads, t.Name)
		switch w.Role {
		case RoleVCPUParked:
			parked = append(parked, t.Name)
		case RoleVCPURunning:
			running = append(running, t.Name)
		}
	}
	where := "qemu_wait_io_event"
	if snap.Source == "go" {
		where = "a stop state"
	}
	switch {
	case len(vcpuThreads) == 0:
		r.Kind = KindUnknown
		r.Verdict = "NO VERDICT: no vCPU facts and no vCPU threads (\"CPU n/...\") in the snapshot"
	case len(lockWaiters) > 0:
		r.Kind = KindUnknown
		r.Verdict = fmt.Sprintf("BLOCKED ON LOCKS: %d threads wait to acquire a lock (%s); the stacks do not show who holds it: the machine's lock facts are needed to find a cycle",
			len(lockWaiters), strings.Join(lockWaiters, ", "))
	case len(parked) == len(vcpuThreads):
		r.Kind = KindStopped
		r.Verdict = fmt.Sprintf("STOPPED, not a deadlock: all %d vCPU threads are parked in %s and no thread waits to acquire a lock: the VM is not running (paused, stopped, or an incoming migration that has not started it)",
			len(vcpuThreads), where)
		r.Why = append(r.Why,
			"a deadlock needs a cycle of threads each blocked acquiring something another holds; no thread is blocked acquiring a lock, so there is no cycle",
			"vCPU threads park on their halt_cond only while cpu_thread_is_idle(): the vCPU is stopped or the VM's runstate is not running (with KVM, a guest-halted vCPU waits inside KVM_RUN instead)",
			"every other thread is idle, waiting for work or for file descriptors: the process is quiescent, not hung")
	case len(running) > 0:
		r.Kind = KindUnknown
		r.Verdict = fmt.Sprintf("NO HOST-SIDE HANG: %d of %d vCPU threads are executing guest code; whether the guest makes progress needs vCPU facts (PCs, spin detection)",
			len(running), len(vcpuThreads))
	default:
		r.Kind = KindUnknown
		r.Verdict = "NO VERDICT: the vCPU threads are neither all parked nor running guest code"
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "lock not named in the stack"
	}
	return s
}

// vcpuThreadID recognises "CPU 3/KVM", "CPU 0/TCG".
func vcpuThreadID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "CPU ")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(num)
	return id, err == nil
}

func (g *graph) stuckThread() string {
	for _, name := range g.order {
		if n := g.nodes[name]; n.vcpu == nil && !n.live {
			return name
		}
	}
	return ""
}

func inCycle(name string, cycles [][]edge) bool {
	for _, c := range cycles {
		for _, e := range c {
			if e.to == name {
				return true
			}
		}
	}
	return false
}

func allState(ns []*node, s VCPUState) bool {
	for _, n := range ns {
		if n.vcpu.State != s {
			return false
		}
	}
	return true
}

func allIF(ns []*node, on bool) bool {
	for _, n := range ns {
		if n.vcpu.IF != on {
			return false
		}
	}
	return true
}

func allStopped(ns []*node) bool {
	for _, n := range ns {
		if s := n.vcpu.State; s != VCPUPaused && s != VCPUCatchpoint {
			return false
		}
	}
	return true
}

func noneRetired(ns []*node) bool {
	for _, n := range ns {
		if n.vcpu.Retired > 0 {
			return false
		}
	}
	return true
}

func anySpinning(ns []*node) bool {
	for _, n := range ns {
		if n.state == "spinning" {
			return true
		}
	}
	return false
}

// firstWaiter is the first stuck vCPU that waits for an IPI or SIPI (not
// one halted with interrupts disabled).
func firstWaiter(stuck []*node) *node {
	for _, n := range stuck {
		if s := n.vcpu.State; s == VCPUWaitSIPI || s == VCPUHalted && n.vcpu.IF {
			return n
		}
	}
	return nil
}

// explainShort says why a vCPU will not send anything.
func explainShort(g *graph, n *node) string {
	if n.live {
		return "is " + n.state
	}
	for _, grp := range n.groups {
		for _, e := range grp {
			if e.kind == edgeSpin {
				return strings.TrimPrefix(e.why, n.name+" ")
			}
		}
	}
	return "is " + n.state
}
