// Package vclock is the machine's deterministic virtual time base.
//
// Guest-visible time is derived from executed instructions, never from the
// host's wall clock: the machine loop calls [Clock.Advance] as the vCPU
// retires instructions, and every timer-driven device (PIT, RTC, ...) arms
// [Timer]s on this clock. Given the same guest inputs the same interrupts
// arrive at the same virtual nanosecond on every run.
//
// # Concurrency
//
// A Clock and its Timers are NOT goroutine-safe. Every call (Now, Advance,
// Reset, Stop, ...) must come from the goroutine that currently holds the
// machine's run baton; timer callbacks run on that goroutine, inside
// Advance/AdvanceTo.
//
// # Semantics
//
// Advance(ns) fires every armed timer whose deadline is <= the new time, in
// deadline order; timers with equal deadlines fire in the order of their
// Reset calls. While a callback runs, Now() equals that timer's deadline, so
// a periodic timer re-arms precisely with Reset(now+period). Callbacks may
// Reset or Stop any timer (including their own, or one that is due in the
// same Advance). A timer armed with a deadline that is already in the past
// fires on the next Advance/AdvanceTo (even Advance(0)) with Now() equal to
// the current time: time never goes backwards.
//
// Advance does not allocate when no timer fires: armed timers live in a
// binary min-heap ordered by (deadline, reset sequence).
package vclock

import (
	"math"
	"sort"
)

// Clock is a virtual clock counting nanoseconds since machine start.
// Create it with [New].
type Clock struct {
	now    int64
	heap   []*Timer
	seq    uint64
	timers []*Timer // every timer ever created, for Timers()
}

// Timer calls a function when the virtual clock reaches its deadline.
// Create it with [Clock.NewTimer]; it starts stopped.
type Timer struct {
	c        *Clock
	name     string
	fn       func(now int64)
	deadline int64
	seq      uint64
	index    int // position in c.heap; -1 when not armed
}

// TimerInfo describes one timer, for introspection listings.
type TimerInfo struct {
	Name     string
	Deadline int64 // absolute virtual ns; meaningful when Armed
	Armed    bool
}

// New returns a clock at virtual time 0 with no timers.
func New() *Clock { return &Clock{} }

// Now returns the virtual nanoseconds since machine start.
func (c *Clock) Now() int64 { return c.now }

// Advance moves time forward by ns nanoseconds (negative ns is treated as
// 0), firing every timer that becomes due, in deadline order. Afterwards
// Now() == old Now() + ns (saturating at math.MaxInt64).
func (c *Clock) Advance(ns int64) {
	if ns < 0 {
		ns = 0
	}
	target := c.now + ns
	if target < c.now { // overflow
		target = math.MaxInt64
	}
	c.runUntil(target)
}

// AdvanceTo moves time forward to the absolute virtual time t, firing due
// timers as Advance does. A t in the past only fires timers that are
// already due; time never goes backwards.
func (c *Clock) AdvanceTo(t int64) {
	if t < c.now {
		t = c.now
	}
	c.runUntil(t)
}

func (c *Clock) runUntil(target int64) {
	for len(c.heap) > 0 {
		t := c.heap[0]
		if t.deadline > target {
			break
		}
		c.remove(t)
		if t.deadline > c.now {
			c.now = t.deadline
		}
		if t.fn != nil {
			t.fn(c.now)
		}
	}
	if target > c.now {
		c.now = target
	}
}

// NextDeadline returns the earliest deadline of any armed timer.
func (c *Clock) NextDeadline() (int64, bool) {
	if len(c.heap) == 0 {
		return 0, false
	}
	return c.heap[0].deadline, true
}

// NewTimer creates a stopped timer that calls fn(now) when it fires. name
// is only used for introspection. fn may be nil.
func (c *Clock) NewTimer(name string, fn func(now int64)) *Timer {
	t := &Timer{c: c, name: name, fn: fn, index: -1}
	c.timers = append(c.timers, t)
	return t
}

// Timers lists every timer created on the clock: armed timers first in
// firing order, then stopped ones in creation order.
func (c *Clock) Timers() []TimerInfo {
	ts := append([]*Timer(nil), c.timers...)
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if a.Armed() != b.Armed() {
			return a.Armed()
		}
		if !a.Armed() {
			return false
		}
		return a.before(b)
	})
	out := make([]TimerInfo, len(ts))
	for i, t := range ts {
		out[i] = TimerInfo{Name: t.name, Deadline: t.deadline, Armed: t.Armed()}
	}
	return out
}

// Reset arms (or re-arms) the timer to fire at the absolute virtual time
// deadline. Among timers with equal deadlines, the one Reset first fires
// first.
func (t *Timer) Reset(deadline int64) {
	c := t.c
	t.deadline = deadline
	t.seq = c.seq
	c.seq++
	if t.index >= 0 {
		c.fix(t.index)
		return
	}
	t.index = len(c.heap)
	c.heap = append(c.heap, t)
	c.up(t.index)
}

// Stop disarms the timer. Stopping a stopped timer does nothing.
func (t *Timer) Stop() {
	if t.index >= 0 {
		t.c.remove(t)
	}
}

// Armed reports whether the timer is waiting to fire.
func (t *Timer) Armed() bool { return t.index >= 0 }

// Deadline returns the deadline given to the last Reset.
func (t *Timer) Deadline() int64 { return t.deadline }

// Name returns the timer's name.
func (t *Timer) Name() string { return t.name }

// --- heap ---

func (t *Timer) before(u *Timer) bool {
	if t.deadline != u.deadline {
		return t.deadline < u.deadline
	}
	return t.seq < u.seq
}

func (c *Clock) swap(i, j int) {
	h := c.heap
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (c *Clock) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.heap[i].before(c.heap[p]) {
			break
		}
		c.swap(i, p)
		i = p
	}
}

func (c *Clock) down(i int) bool {
	start := i
	n := len(c.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && c.heap[r].before(c.heap[l]) {
			m = r
		}
		if !c.heap[m].before(c.heap[i]) {
			break
		}
		c.swap(i, m)
		i = m
	}
	return i > start
}

func (c *Clock) fix(i int) {
	if !c.down(i) {
		c.up(i)
	}
}

func (c *Clock) remove(t *Timer) {
	i := t.index
	last := len(c.heap) - 1
	if i != last {
		c.swap(i, last)
	}
	c.heap[last] = nil
	c.heap = c.heap[:last]
	t.index = -1
	if i != last {
		c.fix(i)
	}
}
