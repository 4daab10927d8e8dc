package target

import (
	"context"
	"sync"
)

// Background running. With no debugger in charge, the guest runs from
// RunUntilExit. A debugger that takes charge (a gdb client attaching, the
// REPL) calls Hold: the background runner pauses the guest and waits;
// Release lets it run again. A breakpoint or watchpoint hit while running
// in the background leaves the guest stopped until a debugger resumes it
// (Release, or its own Continue/Step).

type runner struct {
	once    sync.Once
	mu      sync.Mutex
	cond    *sync.Cond
	holds   int
	active  bool // RunUntilExit is executing the guest
	stopped bool // stopped at an event with nobody attached
	onStop  []func(*Stop)
}

func (t *Target) r() *runner {
	t.run.once.Do(func() { t.run.cond = sync.NewCond(&t.run.mu) })
	return &t.run
}

// Hold stops background running until the matching Release. It returns
// once the background runner has stopped the guest.
func (t *Target) Hold() {
	r := t.r()
	r.mu.Lock()
	r.holds++
	for r.active {
		t.Pause()
		r.cond.Wait()
	}
	r.mu.Unlock()
}

// Release undoes one Hold and lets background running resume.
func (t *Target) Release() {
	r := t.r()
	r.mu.Lock()
	if r.holds > 0 {
		r.holds--
	}
	r.stopped = false
	r.cond.Broadcast()
	r.mu.Unlock()
}

// OnBackgroundStop registers fn to be called (on the runner goroutine)
// when background running stops at a breakpoint, watchpoint or catchpoint.
func (t *Target) OnBackgroundStop(fn func(*Stop)) {
	r := t.r()
	r.mu.Lock()
	r.onStop = append(r.onStop, fn)
	r.mu.Unlock()
}

// RunUntilExit runs the guest whenever no debugger holds it, until the
// guest terminates or ctx is canceled, and returns the final stop.
func (t *Target) RunUntilExit(ctx context.Context) *Stop {
	r := t.r()
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	for {
		r.mu.Lock()
		for (r.holds > 0 || r.stopped) && ctx.Err() == nil && !t.Exited() {
			r.cond.Wait()
		}
		if t.Exited() || ctx.Err() != nil {
			r.mu.Unlock()
			if ctx.Err() != nil && !t.Exited() {
				return &Stop{Reason: "paused", Err: ctx.Err()}
			}
			return t.LastStop()
		}
		r.active = true
		r.mu.Unlock()
		st := t.runBackground(ctx)
		r.mu.Lock()
		r.active = false
		r.cond.Broadcast()
		r.mu.Unlock()
		if st.Terminal() || st.Reason == "watchdog" {
			return st // a watchdog stop ends an unattended run
		}
		if st.Reason != "paused" {
			r.mu.Lock()
			r.stopped = true
			fns := append([]func(*Stop){}, r.onStop...)
			r.mu.Unlock()
			for _, fn := range fns {
				fn(st)
			}
		}
	}
}

// runBackground is Continue for the background runner: it keeps a pause
// requested by Hold between the hold check and the start of the run.
func (t *Target) runBackground(ctx context.Context) *Stop {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.exited {
		return t.last
	}
	return t.continueLocked(ctx)
}

// Wake makes RunUntilExit re-check its state (after the guest exited
// under a debugger's Continue, for instance).
func (t *Target) Wake() {
	r := t.r()
	r.mu.Lock()
	r.cond.Broadcast()
	r.mu.Unlock()
}
