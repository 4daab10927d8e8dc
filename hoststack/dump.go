package hoststack

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options select what Dump and Write print.
type Options struct {
	// Group folds threads with identical stacks (same functions, lines and
	// offsets, same status, same creator) into one listing, as panicparse
	// does: each member's header is printed, then "N goroutines with this
	// stack: IDs", then the frames once. Arguments that differ between the
	// members print as "...".
	Group bool
	// Filter keeps only threads whose name contains it ("" keeps all).
	Filter string
	// MaxFrames limits the frames printed per thread (0: all), like gdb's
	// `bt N`.
	MaxFrames int
}

// Capture takes a snapshot of every goroutine of the process: it calls
// runtime.Stack(buf, true) with a growing buffer, parses the text, names
// goroutines from r (then from their "glassbox.thread" label if the
// runtime printed it, then after their entry function), attaches r's state
// notes and computes absolute PCs from the executable's function table
// (see symbols.go). r may be nil.
//
// runtime.Stack stops the world while it writes; it omits runtime frames
// (runtime.gopark, runtime.chanrecv...) unless a goroutine has nothing
// else, so a blocked goroutine's innermost frame is the call that blocked
// (sync.(*Mutex).Lock, sync.(*Cond).Wait, or the function doing `<-ch`).
func Capture(r *Registry) (Snapshot, error) {
	// A goroutine whose state note says it blocks (waiting for the baton,
	// parked at HLT...) but which the runtime shows runnable is between
	// handing its turn back and blocking again: capture again (briefly), so
	// that a stopped machine's dump does not depend on that race.
	for try := 0; ; try++ {
		s, err := capture(r)
		if err != nil || try == 100 || !inTransition(r, &s) {
			return s, err
		}
		time.Sleep(time.Millisecond)
	}
}

// inTransition reports a registered goroutine in a blocking state that the
// runtime shows running or runnable.
func inTransition(r *Registry, s *Snapshot) bool {
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if !g.Named || (g.Status != "runnable" && g.Status != "running") {
			continue
		}
		if st := r.state(g.ID); st != nil && st.blocks {
			return true
		}
	}
	return false
}

func capture(r *Registry) (Snapshot, error) {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		if len(buf) >= 1<<30 {
			break // 1 GiB of stacks: print what fits
		}
		buf = make([]byte, 2*len(buf))
	}
	s, err := Parse(buf)
	if err != nil {
		return s, err
	}
	loadSymbols().resolvePCs(&s)
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if name, state, ok := r.Lookup(g.ID); ok {
			g.Name, g.Named, g.State = name, true, state
		}
	}
	// Number threads like gdb (1 = oldest), but by registration order for
	// named goroutines: goroutine IDs come from per-P batches, so their
	// order varies between runs while registration order does not.
	// Goroutine 1 (main) stays first; unnamed ones follow by ID.
	key := func(g *Goroutine) (int, uint64) {
		if g.ID == 1 {
			return 0, 0
		}
		if seq, ok := r.order(g.ID); ok {
			return 1, seq
		}
		return 2, uint64(g.ID)
	}
	sort.SliceStable(s.Goroutines, func(i, j int) bool {
		ci, ki := key(&s.Goroutines[i])
		cj, kj := key(&s.Goroutines[j])
		if ci != cj {
			return ci < cj
		}
		return ki < kj
	})
	for i := range s.Goroutines {
		s.Goroutines[i].Thread = i + 1
	}
	return s, nil
}

// Dump writes every goroutine of the process like gdb's `thread apply all
// bt`, named from r (which may be nil):
//
//	Thread 3 (goroutine 18) "CPU 0/TCG" [chan receive, 2 minutes] (waiting for the run baton):
//	#0  0x00000000004f1c2a in glassbox/machine.startWorker.func1.1(...) at /work/main/machine/machine.go:430
//	...
//	    created by glassbox/machine.startWorker in goroutine 1 at /work/main/machine/machine.go:425
func Dump(w io.Writer, r *Registry, opt Options) error {
	s, err := Capture(r)
	if err != nil {
		return err
	}
	return Write(w, s, opt)
}

// Write prints a snapshot like Dump, highest thread number first (gdb's
// order); snapshots parsed from gdb print in gdb's own form.
func Write(w io.Writer, s Snapshot, opt Options) error {
	bw := bufio.NewWriter(w)
	var sel []*Goroutine
	for i := len(s.Goroutines) - 1; i >= 0; i-- {
		g := &s.Goroutines[i]
		if opt.Filter == "" || strings.Contains(g.Name, opt.Filter) {
			sel = append(sel, g)
		}
	}
	if !opt.Group {
		for i, g := range sel {
			if i > 0 {
				bw.WriteString("\n")
			}
			bw.WriteString(header(g, s.Source) + ":\n")
			writeStack(bw, g, g.Frames, opt)
		}
		return bw.Flush()
	}
	groups := map[string][]*Goroutine{}
	var order []string
	for _, g := range sel {
		k := stackKey(g)
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], g)
	}
	for i, k := range order {
		members := groups[k]
		if i > 0 {
			bw.WriteString("\n")
		}
		for j, g := range members {
			bw.WriteString(header(g, s.Source))
			if j == len(members)-1 {
				bw.WriteString(":")
			}
			bw.WriteString("\n")
		}
		if len(members) > 1 {
			ids := make([]string, len(members))
			for j := range members {
				ids[len(members)-1-j] = strconv.FormatInt(members[j].ID, 10)
			}
			fmt.Fprintf(bw, "%d %s with this stack: %s\n", len(members), plural(len(members), s.Source), strings.Join(ids, ", "))
		}
		writeStack(bw, members[0], mergedFrames(members), opt)
	}
	return bw.Flush()
}

func plural(n int, source string) string {
	what := "goroutine"
	if source == "gdb" {
		what = "thread"
	}
	if n != 1 {
		what += "s"
	}
	return what
}

// header is `Thread 3 (goroutine 18) "CPU 0/TCG" [chan receive, 2 minutes] (note)`.
func header(g *Goroutine, source string) string {
	var b strings.Builder
	if source == "gdb" {
		fmt.Fprintf(&b, "Thread %d (LWP %d) %q", g.Thread, g.ID, g.Name)
	} else {
		fmt.Fprintf(&b, "Thread %d (goroutine %d) %q", g.Thread, g.ID, g.Name)
	}
	var st []string
	if g.Status != "" {
		st = append(st, g.Status)
	}
	if g.Minutes > 0 {
		st = append(st, fmt.Sprintf("%d minutes", g.Minutes))
	}
	if g.LockedToThread {
		st = append(st, "locked to thread")
	}
	if len(st) > 0 {
		b.WriteString(" [" + strings.Join(st, ", ") + "]")
	}
	if g.State != "" {
		b.WriteString(" (" + g.State + ")")
	}
	return b.String()
}

func writeStack(w *bufio.Writer, g *Goroutine, frames []Frame, opt Options) {
	if g.Unavailable {
		w.WriteString("    (running on another thread: stack unavailable)\n")
	}
	for i := range frames {
		if g.Elided != 0 && i == g.ElidedAt {
			writeElided(w, g.Elided)
		}
		if opt.MaxFrames > 0 && i >= opt.MaxFrames {
			w.WriteString("(More stack frames follow...)\n")
			return
		}
		writeFrame(w, i, &frames[i])
	}
	if g.Elided != 0 && g.ElidedAt >= len(frames) {
		writeElided(w, g.Elided)
	}
	if c := g.CreatedBy; c != nil {
		fmt.Fprintf(w, "    created by %s", c.Func)
		if g.CreatorID != 0 {
			fmt.Fprintf(w, " in goroutine %d", g.CreatorID)
		}
		if c.File != "" {
			fmt.Fprintf(w, " at %s:%d", c.File, c.Line)
		}
		w.WriteString("\n")
	}
}

func writeElided(w *bufio.Writer, n int) {
	if n < 0 {
		w.WriteString("    (more frames elided by the Go runtime)\n")
	} else {
		fmt.Fprintf(w, "    (%d frames elided by the Go runtime)\n", n)
	}
}

// writeFrame prints one frame as gdb does; inlined frames have no address.
func writeFrame(w *bufio.Writer, i int, f *Frame) {
	fmt.Fprintf(w, "#%-2d ", i)
	switch {
	case f.Inlined:
	case f.PC != 0:
		fmt.Fprintf(w, "0x%016x in ", f.PC)
	default:
		w.WriteString("0x???????????????? in ")
	}
	fmt.Fprintf(w, "%s (%s)", f.Func, f.Args)
	switch {
	case f.File != "":
		fmt.Fprintf(w, " at %s:%d", f.File, f.Line)
	case f.Lib != "":
		fmt.Fprintf(w, " from %s", f.Lib)
	}
	w.WriteString("\n")
}

// stackKey identifies a stack for grouping: functions, positions and
// offsets, the status and the creator, but not the arguments.
func stackKey(g *Goroutine) string {
	var b strings.Builder
	b.WriteString(g.Status)
	for _, f := range g.Frames {
		fmt.Fprintf(&b, "|%s %s:%d +%x %v", f.Func, f.File, f.Line, f.Offset, f.Inlined)
	}
	fmt.Fprintf(&b, "|elided %d@%d", g.Elided, g.ElidedAt)
	if c := g.CreatedBy; c != nil {
		fmt.Fprintf(&b, "|created by %s %s:%d", c.Func, c.File, c.Line)
	}
	return b.String()
}

// mergedFrames returns the group's frames, with "..." for arguments that
// differ between members.
func mergedFrames(members []*Goroutine) []Frame {
	out := append([]Frame(nil), members[0].Frames...)
	for _, g := range members[1:] {
		for i := range out {
			if i < len(g.Frames) && g.Frames[i].Args != out[i].Args {
				out[i].Args = "..."
			}
		}
	}
	return out
}
