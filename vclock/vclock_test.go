package vclock

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

type event struct {
	name string
	now  int64
}

func TestAdvanceNoTimers(t *testing.T) {
	c := New()
	if c.Now() != 0 {
		t.Fatalf("Now = %d, want 0", c.Now())
	}
	c.Advance(100)
	c.Advance(-5) // ignored
	if c.Now() != 100 {
		t.Fatalf("Now = %d, want 100", c.Now())
	}
	c.AdvanceTo(50) // in the past: no change
	if c.Now() != 100 {
		t.Fatalf("Now = %d, want 100", c.Now())
	}
	c.AdvanceTo(250)
	if c.Now() != 250 {
		t.Fatalf("Now = %d, want 250", c.Now())
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("NextDeadline reported a timer")
	}
	c.Advance(math.MaxInt64)
	if c.Now() != math.MaxInt64 {
		t.Fatalf("saturating advance: Now = %d", c.Now())
	}
}

func TestOrderingAndNowInCallback(t *testing.T) {
	c := New()
	var got []event
	mk := func(name string) *Timer {
		return c.NewTimer(name, func(now int64) {
			if now != c.Now() {
				t.Errorf("%s: now arg %d != Now() %d", name, now, c.Now())
			}
			got = append(got, event{name, now})
		})
	}
	a, b, d := mk("a"), mk("b"), mk("d")
	d.Reset(300)
	a.Reset(100)
	b.Reset(200)
	if dl, ok := c.NextDeadline(); !ok || dl != 100 {
		t.Fatalf("NextDeadline = %d,%v", dl, ok)
	}
	c.Advance(250)
	want := []event{{"a", 100}, {"b", 200}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if c.Now() != 250 {
		t.Fatalf("Now = %d", c.Now())
	}
	if a.Armed() || b.Armed() || !d.Armed() {
		t.Fatal("armed flags wrong")
	}
	c.Advance(50) // exactly at deadline: fires
	if len(got) != 3 || got[2] != (event{"d", 300}) {
		t.Fatalf("got %v", got)
	}
}

func TestTiesFollowResetOrder(t *testing.T) {
	c := New()
	var got []string
	var ts []*Timer
	for i := 0; i < 6; i++ {
		name := fmt.Sprint(i)
		ts = append(ts, c.NewTimer(name, func(int64) { got = append(got, name) }))
	}
	// Reset in a scrambled order; all at the same deadline.
	order := []int{3, 0, 5, 1, 4, 2}
	for _, i := range order {
		ts[i].Reset(1000)
	}
	// Re-resetting moves a timer to the back of the tie group.
	ts[3].Reset(1000)
	c.Advance(1000)
	want := []string{"0", "5", "1", "4", "2", "3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestPeriodicRearmFromCallback(t *testing.T) {
	c := New()
	var fires []int64
	var tm *Timer
	tm = c.NewTimer("tick", func(now int64) {
		fires = append(fires, now)
		tm.Reset(now + 30)
	})
	tm.Reset(30)
	c.Advance(100)
	want := []int64{30, 60, 90}
	if !reflect.DeepEqual(fires, want) {
		t.Fatalf("fires %v want %v", fires, want)
	}
	if tm.Deadline() != 120 || !tm.Armed() {
		t.Fatalf("deadline %d armed %v", tm.Deadline(), tm.Armed())
	}
	if c.Now() != 100 {
		t.Fatalf("Now = %d", c.Now())
	}
}

func TestInterleavedPeriodicTimers(t *testing.T) {
	c := New()
	var got []event
	var t3, t5 *Timer
	t3 = c.NewTimer("3", func(now int64) { got = append(got, event{"3", now}); t3.Reset(now + 3) })
	t5 = c.NewTimer("5", func(now int64) { got = append(got, event{"5", now}); t5.Reset(now + 5) })
	t5.Reset(5)
	t3.Reset(3)
	c.Advance(15)
	// At 15 both are due: t5 was re-armed (Reset at time 10) before t3
	// (Reset at time 12), so it fires first.
	want := []event{{"3", 3}, {"5", 5}, {"3", 6}, {"3", 9}, {"5", 10}, {"3", 12}, {"5", 15}, {"3", 15}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestStopInsideCallback(t *testing.T) {
	c := New()
	var got []string
	var b *Timer
	a := c.NewTimer("a", func(int64) { got = append(got, "a"); b.Stop() })
	b = c.NewTimer("b", func(int64) { got = append(got, "b") })
	d := c.NewTimer("d", func(int64) { got = append(got, "d") })
	a.Reset(10)
	b.Reset(10) // same deadline, after a: a stops it before it fires
	d.Reset(20)
	c.Advance(30)
	if !reflect.DeepEqual(got, []string{"a", "d"}) {
		t.Fatalf("got %v", got)
	}
	// A callback stopping itself after re-arming.
	var self *Timer
	n := 0
	self = c.NewTimer("self", func(now int64) { n++; self.Reset(now + 1); self.Stop() })
	self.Reset(35)
	c.Advance(100)
	if n != 1 || self.Armed() {
		t.Fatalf("n=%d armed=%v", n, self.Armed())
	}
}

func TestResetOtherTimerFromCallback(t *testing.T) {
	c := New()
	var got []event
	var b *Timer
	a := c.NewTimer("a", func(now int64) {
		got = append(got, event{"a", now})
		b.Reset(now + 5) // postpone b, which was due in this Advance
	})
	b = c.NewTimer("b", func(now int64) { got = append(got, event{"b", now}) })
	a.Reset(10)
	b.Reset(12)
	c.Advance(13)
	if !reflect.DeepEqual(got, []event{{"a", 10}}) {
		t.Fatalf("got %v", got)
	}
	c.Advance(2)
	if !reflect.DeepEqual(got, []event{{"a", 10}, {"b", 15}}) {
		t.Fatalf("got %v", got)
	}
	// Arm a timer earlier than the current one from a callback: it fires
	// in the same Advance, at its own deadline.
	got = nil
	var x, y *Timer
	x = c.NewTimer("x", func(now int64) { got = append(got, event{"x", now}); y.Reset(now + 1) })
	y = c.NewTimer("y", func(now int64) { got = append(got, event{"y", now}) })
	x.Reset(20)
	c.AdvanceTo(30)
	if !reflect.DeepEqual(got, []event{{"x", 20}, {"y", 21}}) {
		t.Fatalf("got %v", got)
	}
}

func TestPastDeadlineFiresAtCurrentTime(t *testing.T) {
	c := New()
	c.Advance(100)
	var at int64 = -1
	tm := c.NewTimer("late", func(now int64) { at = now })
	tm.Reset(40)
	c.Advance(0)
	if at != 100 {
		t.Fatalf("fired at %d, want 100", at)
	}
	if c.Now() != 100 {
		t.Fatalf("time went backwards: %d", c.Now())
	}
}

func TestAdvanceTo(t *testing.T) {
	c := New()
	var got []int64
	tm := c.NewTimer("t", func(now int64) { got = append(got, now) })
	tm.Reset(500)
	c.AdvanceTo(499)
	if len(got) != 0 || c.Now() != 499 {
		t.Fatalf("early fire %v now %d", got, c.Now())
	}
	c.AdvanceTo(500)
	if !reflect.DeepEqual(got, []int64{500}) || c.Now() != 500 {
		t.Fatalf("got %v now %d", got, c.Now())
	}
	tm.Reset(600)
	tm.Stop()
	c.AdvanceTo(1000)
	if len(got) != 1 {
		t.Fatalf("stopped timer fired: %v", got)
	}
}

func TestNestedAdvanceFromCallback(t *testing.T) {
	c := New()
	var got []event
	var b *Timer
	a := c.NewTimer("a", func(now int64) {
		got = append(got, event{"a", now})
		c.Advance(5) // nested: fires b at 12
	})
	b = c.NewTimer("b", func(now int64) { got = append(got, event{"b", now}) })
	a.Reset(10)
	b.Reset(12)
	c.Advance(20)
	if !reflect.DeepEqual(got, []event{{"a", 10}, {"b", 12}}) || c.Now() != 20 {
		t.Fatalf("got %v now %d", got, c.Now())
	}
}

func TestTimersListing(t *testing.T) {
	c := New()
	a := c.NewTimer("a", nil)
	b := c.NewTimer("b", nil)
	c.NewTimer("idle", nil)
	d := c.NewTimer("d", nil)
	b.Reset(50)
	d.Reset(20)
	a.Reset(50)
	got := c.Timers()
	want := []TimerInfo{{"d", 20, true}, {"b", 50, true}, {"a", 50, true}, {"idle", 0, false}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	c.Advance(100) // nil callbacks are fine
	for _, ti := range c.Timers() {
		if ti.Armed {
			t.Fatalf("%s still armed", ti.Name)
		}
	}
}

func TestNoAllocWhenNothingFires(t *testing.T) {
	c := New()
	for i := 0; i < 10; i++ {
		c.NewTimer("t", func(int64) {}).Reset(int64(1e12 + i))
	}
	allocs := testing.AllocsPerRun(1000, func() { c.Advance(1) })
	if allocs != 0 {
		t.Fatalf("Advance allocated %v times", allocs)
	}
}

// TestRandomAgainstModel checks heap order against a sorted reference under
// random Reset/Stop/Advance sequences.
func TestRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	c := New()
	const n = 40
	type ref struct {
		armed    bool
		deadline int64
		seq      int
	}
	refs := make([]ref, n)
	seq := 0
	var fired []int
	timers := make([]*Timer, n)
	for i := range timers {
		i := i
		timers[i] = c.NewTimer(fmt.Sprint(i), func(now int64) {
			if now != refs[i].deadline && refs[i].deadline > 0 && now < refs[i].deadline {
				t.Errorf("timer %d fired early", i)
			}
			fired = append(fired, i)
		})
	}
	for step := 0; step < 5000; step++ {
		i := rng.Intn(n)
		switch rng.Intn(4) {
		case 0, 1:
			dl := c.Now() + int64(rng.Intn(200))
			timers[i].Reset(dl)
			refs[i] = ref{true, dl, seq}
			seq++
		case 2:
			timers[i].Stop()
			refs[i].armed = false
		case 3:
			target := c.Now() + int64(rng.Intn(100))
			// expected firing order
			var due []int
			for j, r := range refs {
				if r.armed && r.deadline <= target {
					due = append(due, j)
				}
			}
			sort.Slice(due, func(a, b int) bool {
				ra, rb := refs[due[a]], refs[due[b]]
				if ra.deadline != rb.deadline {
					return ra.deadline < rb.deadline
				}
				return ra.seq < rb.seq
			})
			fired = nil
			c.AdvanceTo(target)
			if !reflect.DeepEqual(fired, due) && !(len(fired) == 0 && len(due) == 0) {
				t.Fatalf("step %d: fired %v want %v", step, fired, due)
			}
			for _, j := range due {
				refs[j].armed = false
			}
		}
		for j := range refs {
			if timers[j].Armed() != refs[j].armed {
				t.Fatalf("step %d: timer %d armed=%v want %v", step, j, timers[j].Armed(), refs[j].armed)
			}
		}
	}
}
