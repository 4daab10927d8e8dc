package hoststack

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
)

// profileHasLabel reports whether the goroutine profile (debug=1) shows
// want, printed like `# labels: {"glassbox.thread":"worker"}`.
func profileHasLabel(t *testing.T, want string) bool {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	return strings.Contains(b.String(), want)
}

func TestCurrentID(t *testing.T) {
	buf := make([]byte, 128)
	n := runtime.Stack(buf, false)
	var want int64
	fmt.Sscanf(string(buf[:n]), "goroutine %d ", &want)
	if got := CurrentID(); got != want || got == 0 {
		t.Fatalf("CurrentID() = %d, runtime.Stack says %d", got, want)
	}
	other := make(chan int64)
	go func() { other <- CurrentID() }()
	if id := <-other; id == want || id == 0 {
		t.Fatalf("another goroutine's ID = %d, this one's = %d", id, want)
	}
}

func TestNameRegistersAndLabels(t *testing.T) {
	r := NewRegistry()
	named := make(chan int64)
	release := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		done := r.Name("worker 7")
		named <- CurrentID()
		<-release
		done()
		close(finished)
		<-release
	}()
	id := <-named
	if name, _, ok := r.Lookup(id); !ok || name != "worker 7" {
		t.Fatalf("Lookup(%d) = %q, %v; want worker 7", id, name, ok)
	}
	if !profileHasLabel(t, `"glassbox.thread":"worker 7"`) {
		t.Fatal("the goroutine profile does not show the glassbox.thread label")
	}
	release <- struct{}{}
	<-finished
	if _, _, ok := r.Lookup(id); ok {
		t.Fatal("the name outlived done()")
	}
	if profileHasLabel(t, `"glassbox.thread":"worker 7"`) {
		t.Fatal("done() left the pprof label")
	}
	close(release)
}

func TestNestedNameRestores(t *testing.T) {
	r := NewRegistry()
	doneOuter := r.Name("outer")
	defer doneOuter()
	id := CurrentID()
	doneInner := r.Name("inner")
	if name, _, _ := r.Lookup(id); name != "inner" {
		t.Fatalf("name = %q, want inner", name)
	}
	doneInner()
	if name, _, _ := r.Lookup(id); name != "outer" {
		t.Fatalf("after the inner done, name = %q, want outer", name)
	}
	if !profileHasLabel(t, `"glassbox.thread":"outer"`) {
		t.Fatal("the outer label was not restored")
	}
}

// Two machines in one process must not see each other's names.
func TestRegistriesAreSeparate(t *testing.T) {
	r1, r2 := NewRegistry(), NewRegistry()
	ready := make(chan struct{})
	stop := make(chan struct{})
	r1.Go("machine1 CPU 0/TCG", func() { close(ready); <-stop })
	<-ready
	defer close(stop)
	s1, err := Capture(r1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Capture(r2)
	if err != nil {
		t.Fatal(err)
	}
	if s1.Find("machine1 CPU 0/TCG") == nil {
		t.Fatal("registry 1 does not name its goroutine")
	}
	if s2.Find("machine1 CPU 0/TCG") != nil {
		t.Fatal("registry 2 sees registry 1's name")
	}
	if len(r2.Threads()) != 0 {
		t.Fatalf("registry 2 has threads: %v", r2.Threads())
	}
}

func TestStateNotes(t *testing.T) {
	r := NewRegistry()
	th := r.Register("CPU 0/TCG")
	defer th.Done()
	th.Set(StateWaitBaton)
	if got := th.State(); got != "waiting for the run baton" {
		t.Fatalf("State() = %q", got)
	}
	if !r.SetState("CPU 0/TCG", "running guest code") || th.State() != "running guest code" {
		t.Fatalf("Registry.SetState did not reach the thread: %q", th.State())
	}
	if r.SetState("CPU 9/TCG", "x") {
		t.Fatal("SetState found a thread that is not registered")
	}
	if _, state, _ := r.Lookup(th.ID()); state != "running guest code" {
		t.Fatalf("Lookup state = %q", state)
	}
	th.Set(nil)
	if th.State() != "" {
		t.Fatal("Set(nil) did not clear the note")
	}
}

// The vCPU loop sets its note every quantum: it must not allocate.
func TestSetDoesNotAllocate(t *testing.T) {
	th := NewRegistry().Register("CPU 0/TCG")
	defer th.Done()
	if n := testing.AllocsPerRun(1000, func() {
		th.Set(StateRunningGuest)
		th.Set(StateWaitBaton)
	}); n != 0 {
		t.Fatalf("Thread.Set allocates %v times per call pair", n)
	}
}

func TestDoKeepsContextLabels(t *testing.T) {
	r := NewRegistry()
	ctx := pprof.WithLabels(context.Background(), pprof.Labels("machine", "m1"))
	r.Do(ctx, "CPU 1/TCG", func(ctx context.Context) {
		if v, _ := pprof.Label(ctx, ThreadLabel); v != "CPU 1/TCG" {
			t.Errorf("ctx label = %q", v)
		}
		if !profileHasLabel(t, `"glassbox.thread":"CPU 1/TCG"`) || !profileHasLabel(t, `"machine":"m1"`) {
			t.Error("Do lost a label")
		}
		if name, _, ok := r.Lookup(CurrentID()); !ok || name != "CPU 1/TCG" {
			t.Errorf("Lookup = %q, %v", name, ok)
		}
	})
	if _, _, ok := r.Lookup(CurrentID()); ok {
		t.Fatal("the name outlived Do")
	}
}

func TestNilRegistry(t *testing.T) {
	var r *Registry
	var wg sync.WaitGroup
	wg.Add(1)
	r.Go("x", func() { wg.Done() })
	wg.Wait()
	done := r.Name("y")
	done()
	if _, _, ok := r.Lookup(CurrentID()); ok || r.SetState("y", "z") || r.Threads() != nil {
		t.Fatal("a nil registry remembered something")
	}
}
