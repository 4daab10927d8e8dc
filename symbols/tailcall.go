package symbols

// Tail-call frames, as gdb shows them ("Tail Call Frames" in the gdb
// manual). When a function leaves through a tail call (a jmp to the next
// function), its frame is gone: the callee returns straight to the
// function's caller. gdb puts the lost functions back as artificial frames
// when the DWARF says unambiguously which they were: the caller's call
// site (found by the return address) names the function it called, and
// the DW_TAG_call_site entries marked DW_AT_call_tail_call name the
// functions each of those can tail-call, so every path of tail calls from
// the caller's target to the frame's function is a candidate. The frames
// shown are those all the candidate paths agree on: their common start
// (next to the caller) and their common end (next to the callee). A
// direct call, no path, an unknown target on the way or paths with
// neither end in common show no tail-call frames.
//
// A tail-call frame's pc is its tail call site's return address (the
// address after the jmp); its registers are the caller's as unwound from
// the callee, except the stack pointer, which is the callee's CFA less the
// CFA offset at the callee's entry (the stack pointer before the call, as
// far as one can tell), and its CFA is the callee's.

// maxTailSteps bounds the search for tail-call paths (the number of paths
// can grow exponentially with the call sites involved).
const maxTailSteps = 10000

// tailChain returns the tail call sites between a caller whose return
// address is callerPC and the function starting at callee, ordered from
// the callee's side: the first one is the tail call into callee. It
// returns nil when gdb would show no tail-call frames.
func (t *Table) tailChain(ev *evaluator, callerPC, callee uint64) []*callSite {
	if callee == 0 {
		return nil
	}
	cs := t.callSiteFor(callerPC)
	if cs == nil {
		return nil
	}
	start, err := ev.callTarget(cs, nil)
	if err != nil || start == callee {
		return nil
	}
	s := tailSearch{t: t, ev: ev, callee: callee, onPath: map[*callSite]bool{}}
	s.visit(start)
	if s.failed || s.ambiguous || !s.found || len(s.first) == 0 {
		return nil
	}
	n := len(s.first)
	var out []*callSite
	if s.callers == n && s.callees == n {
		// One path: all of it.
		for i := n - 1; i >= 0; i-- {
			out = append(out, s.first[i])
		}
		return out
	}
	callees := min(s.callees, n)
	callers := min(s.callers, n-callees)
	for i := 0; i < callees; i++ {
		out = append(out, s.first[n-1-i])
	}
	for i := callers - 1; i >= 0; i-- {
		out = append(out, s.first[i])
	}
	return out
}

// tailSearch enumerates the paths of tail calls (each call site at most
// once on a path) from a function to the callee and keeps what they
// have in common.
type tailSearch struct {
	t      *Table
	ev     *evaluator
	callee uint64

	path   []*callSite
	onPath map[*callSite]bool
	steps  int

	found   bool
	first   []*callSite // the first path found
	callers int         // length of the start common to all paths
	callees int         // length of the end common to all paths

	ambiguous bool
	failed    bool
}

func (s *tailSearch) visit(target uint64) {
	if s.failed || s.ambiguous {
		return
	}
	if target == s.callee {
		s.candidate()
		return
	}
	fn := s.t.funcFor(target)
	if fn == nil || fn.entry != target {
		// gdb gives up when a function on the way is unknown.
		s.failed = true
		return
	}
	for _, c := range fn.tailCalls {
		if s.onPath[c] {
			continue
		}
		if s.steps++; s.steps > maxTailSteps {
			s.failed = true
			return
		}
		next, err := s.ev.callTarget(c, nil)
		if err != nil {
			s.failed = true
			return
		}
		s.onPath[c] = true
		s.path = append(s.path, c)
		s.visit(next)
		s.path = s.path[:len(s.path)-1]
		delete(s.onPath, c)
		if s.failed || s.ambiguous {
			return
		}
	}
}

// candidate merges the current path into the common start and end.
func (s *tailSearch) candidate() {
	if !s.found {
		s.found = true
		s.first = append([]*callSite(nil), s.path...)
		s.callers, s.callees = len(s.path), len(s.path)
		return
	}
	p, f := s.path, s.first
	n := 0
	for n < s.callers && n < len(p) && p[n] == f[n] {
		n++
	}
	m := 0
	for m < s.callees && m < len(p) && p[len(p)-1-m] == f[len(f)-1-m] {
		m++
	}
	s.callers, s.callees = n, m
	if n == 0 && m == 0 {
		s.ambiguous = true
	}
}

// tailFrames builds the tail-call frames between u, unwound with CFI, and
// its caller prev (gdb makes them only for frames its DWARF unwinder
// handles). Malformed call-site DWARF only costs the tail-call frames, as
// in gdb.
func (t *Table) tailFrames(ev *evaluator, u, prev *uframe) (out []*uframe) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
		}
	}()
	if !u.viaCFI || prev == nil {
		return nil
	}
	sites := t.tailChain(ev, prev.regs.pc(), u.funcStart)
	for i, cs := range sites {
		tf := &uframe{level: u.level + 1 + i, regs: prev.regs, tail: true, cfa: u.cfa, hasCFA: u.hasCFA}
		tf.regs.set(tf.regs.pcReg(), cs.returnPC)
		if u.hasCFA && u.hasEntrySP {
			tf.regs.set(tf.regs.spReg(), u.cfa-uint64(u.entrySPOff))
		}
		t.describe(tf)
		out = append(out, tf)
	}
	return out
}
