package hoststack

import (
	"fmt"
	"strconv"
	"strings"
)

// The evidence sections of a Report.

func vcpuEvidence(f Facts, g *graph) []string {
	var out []string
	for i := range f.VCPUs {
		v := &f.VCPUs[i]
		n := g.nodes[vcpuName(v.ID)]
		var b strings.Builder
		fmt.Fprintf(&b, "CPU %d: %s, IF=%d, PC=%#x", v.ID, v.State, b2i(v.IF), v.PC)
		if lo, hi, ok := SpinRange(v.RecentPCs); ok {
			fmt.Fprintf(&b, ", last %d TBs all in %#x-%#x", len(v.RecentPCs), lo, hi)
		} else if len(v.RecentPCs) > 0 {
			fmt.Fprintf(&b, ", last %d TBs in %d distinct blocks", len(v.RecentPCs), distinct(v.RecentPCs))
		}
		if v.Pauses > 0 {
			fmt.Fprintf(&b, ", %d PAUSEs", v.Pauses)
		}
		if w := v.SpinOn; w != nil {
			fmt.Fprintf(&b, ", spins on [%#x]=%#x", w.Addr, w.Value)
			if w.LastWriterKnown {
				fmt.Fprintf(&b, " (last written by CPU %d)", w.LastWriter)
			}
		}
		if f.Window > 0 {
			fmt.Fprintf(&b, ", %d instructions in %s", v.Retired, f.Window)
		}
		if v.IRQPending {
			b.WriteString(", interrupt pending")
		}
		if n != nil && !n.live {
			b.WriteString(": STUCK")
		}
		out = append(out, b.String())
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func distinct(pcs []uint64) int {
	m := map[uint64]bool{}
	for _, pc := range pcs {
		m[pc] = true
	}
	return len(m)
}

// lockEvidence lists the machine's locks, then the locks the stacks name:
// who waits to acquire each and who released it to wait on a condition.
func lockEvidence(snap Snapshot, waits []Wait, f Facts) []string {
	var out []string
	for _, l := range f.Locks {
		holder := "free"
		if l.Holder != "" {
			holder = fmt.Sprintf("held by %q", l.Holder)
		}
		s := l.Name + ": " + holder
		if len(l.Waiters) > 0 {
			s += fmt.Sprintf("; waiters: %s", quoteAll(l.Waiters))
		}
		out = append(out, s)
	}
	acquire := map[string][]string{}
	released := map[string][]string{}
	var names []string
	add := func(m map[string][]string, k, v string) {
		if _, a := acquire[k]; !a {
			if _, b := released[k]; !b {
				names = append(names, k)
			}
		}
		m[k] = append(m[k], v)
	}
	for i := range snap.Goroutines {
		w := waits[i]
		name := snap.Goroutines[i].Name
		// Go's "sync.Mutex" names a type, not a lock: leave those to the
		// thread evidence and the machine's Facts.Locks.
		if w.Kind == WaitLock && w.Object != "" && !strings.HasPrefix(w.Object, "sync.") {
			add(acquire, w.Object, name)
		}
		if w.Releases != "" {
			add(released, w.Releases, name)
		}
	}
	for _, k := range names {
		var parts []string
		if a := acquire[k]; len(a) > 0 {
			parts = append(parts, fmt.Sprintf("%s to acquire it: %s", count(len(a), "thread waits", "threads wait"), quoteAll(a)))
		} else {
			parts = append(parts, "no thread waits to acquire it")
		}
		if rel := released[k]; len(rel) > 0 {
			parts = append(parts, fmt.Sprintf("%s it to wait on a condition: %s", count(len(rel), "thread released", "threads released"), quoteAll(rel)))
		}
		title := k
		if alias, ok := lockAliases[k]; ok {
			title += " (" + alias + ")"
		}
		out = append(out, title+": "+strings.Join(parts, "; "))
	}
	return out
}

// lockAliases are the common names of well-known locks.
var lockAliases = map[string]string{
	"qemu_global_mutex": "the BQL, QEMU's big lock",
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// threadEvidence describes each thread, highest number first, folding
// threads that wait alike into one line.
func threadEvidence(snap Snapshot, waits []Wait) []string {
	type group struct {
		threads []*Goroutine
		objects map[string]bool
		w       Wait
	}
	groups := map[string]*group{}
	var order []string
	for i := len(snap.Goroutines) - 1; i >= 0; i-- {
		t := &snap.Goroutines[i]
		w := waits[i]
		where := ""
		if w.Where != nil {
			where = w.Where.Func
		}
		key := fmt.Sprintf("%d|%s|%s|%s|%s", w.Kind, where, w.Releases, w.Meaning, t.Status)
		gr, ok := groups[key]
		if !ok {
			gr = &group{objects: map[string]bool{}, w: w}
			groups[key] = gr
			order = append(order, key)
		}
		gr.threads = append(gr.threads, t)
		gr.objects[w.Object] = true
	}
	idWord := "goroutine"
	if snap.Source == "gdb" {
		idWord = "LWP"
	}
	var out []string
	for _, k := range order {
		gr := groups[k]
		var b strings.Builder
		if len(gr.threads) == 1 {
			t := gr.threads[0]
			fmt.Fprintf(&b, "Thread %d %q (%s %d): ", t.Thread, t.Name, idWord, t.ID)
		} else {
			names := make([]string, len(gr.threads))
			for i, t := range gr.threads {
				names[i] = strconv.Quote(t.Name)
			}
			fmt.Fprintf(&b, "Threads %d-%d %s: ", gr.threads[len(gr.threads)-1].Thread, gr.threads[0].Thread, strings.Join(names, ", "))
		}
		w := gr.w
		t := gr.threads[0]
		switch w.Kind {
		case WaitRunning:
			b.WriteString("running")
		case WaitUnknown:
			b.WriteString("blocked")
		default:
			b.WriteString(w.Kind.String() + " wait")
		}
		if t.Status != "" {
			b.WriteString(" [" + t.Status + "]")
		}
		if len(gr.objects) == 1 && w.Object != "" {
			b.WriteString(" on " + w.Object)
		} else if len(gr.objects) > 1 {
			b.WriteString(" (each on its own object)")
		}
		if w.Releases != "" {
			b.WriteString(", releasing " + w.Releases)
		}
		if f := w.Where; f != nil {
			b.WriteString(" in " + f.Func)
			if len(gr.threads) == 1 && f.Args != "" && len(f.Args) <= 60 {
				b.WriteString("(" + f.Args + ")")
			}
			if f.File != "" {
				fmt.Fprintf(&b, " (%s:%d)", baseFile(f.File), f.Line)
			}
		}
		if w.Meaning != "" {
			b.WriteString(": " + w.Meaning)
		}
		out = append(out, b.String())
	}
	return out
}
