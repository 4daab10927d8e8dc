package hoststack

import (
	"bytes"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scene is a small machine-like set of named goroutines, each blocked in
// its own way.
type scene struct {
	reg     *Registry
	turn    chan uint64 // the run baton: the vCPUs wait on it
	mu      sync.Mutex  // held by the test: "main-loop" blocks on it
	condMu  sync.Mutex
	cond    *sync.Cond // "gdbstub" waits on it
	quit    chan struct{}
	stopped sync.WaitGroup
}

//go:noinline
func vcpuLoop(turn chan uint64) {
	for range turn {
	}
}

//go:noinline
func unnamedWorker(quit chan struct{}) { <-quit }

func startScene(t *testing.T) *scene {
	t.Helper()
	s := &scene{reg: NewRegistry(), turn: make(chan uint64), quit: make(chan struct{})}
	s.cond = sync.NewCond(&s.condMu)
	s.mu.Lock()
	for i := 0; i < 3; i++ {
		s.stopped.Add(1)
		name := "CPU " + strconv.Itoa(i) + "/TCG"
		s.reg.Go(name, func() {
			defer s.stopped.Done()
			vcpuLoop(s.turn)
		})
	}
	s.stopped.Add(3)
	s.reg.Go("main-loop", func() {
		defer s.stopped.Done()
		s.mu.Lock()
		s.mu.Unlock()
	})
	s.reg.Go("gdbstub", func() {
		defer s.stopped.Done()
		s.condMu.Lock()
		for {
			select {
			case <-s.quit:
				s.condMu.Unlock()
				return
			default:
			}
			s.cond.Wait()
		}
	})
	go func() {
		defer s.stopped.Done()
		unnamedWorker(s.quit)
	}()
	// Wait until every goroutine is registered and blocked.
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap, err := Capture(s.reg)
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, name := range []string{"CPU 0/TCG", "CPU 1/TCG", "CPU 2/TCG", "main-loop", "gdbstub"} {
			if g := snap.Find(name); g != nil && g.Status != "running" && g.Status != "runnable" {
				ready++
			}
		}
		if ready == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines did not block:\n%s", dumpString(t, s.reg, Options{}))
		}
		time.Sleep(time.Millisecond)
	}
	for _, th := range s.reg.Threads() {
		if strings.HasPrefix(th.Name(), "CPU ") {
			th.Set(StateWaitBaton)
		}
	}
	t.Cleanup(func() {
		close(s.turn)
		s.mu.Unlock()
		close(s.quit)
		s.condMu.Lock()
		s.cond.Broadcast()
		s.condMu.Unlock()
		s.stopped.Wait()
	})
	return s
}

func dumpString(t *testing.T, r *Registry, opt Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Dump(&b, r, opt); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func frameFuncs(g *Goroutine) []string {
	var out []string
	for _, f := range g.Frames {
		out = append(out, f.Func)
	}
	return out
}

func hasFunc(g *Goroutine, fn string) bool {
	for _, f := range g.Frames {
		if f.Func == fn {
			return true
		}
	}
	return false
}

func TestCaptureNamesStatesAndBlockingFrames(t *testing.T) {
	s := startScene(t)
	snap, err := Capture(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		name := "CPU " + strconv.Itoa(i) + "/TCG"
		g := snap.Find(name)
		if g == nil || !g.Named {
			t.Fatalf("%s missing or unnamed", name)
		}
		if g.Status != "chan receive" || g.State != "waiting for the run baton" {
			t.Errorf("%s: status %q, state %q", name, g.Status, g.State)
		}
		if g.Frames[0].Func != "glassbox/hoststack.vcpuLoop" {
			t.Errorf("%s: innermost frame %s, want the channel receive in vcpuLoop", name, g.Frames[0].Func)
		}
	}
	ml := snap.Find("main-loop")
	if ml == nil || ml.Status != "sync.Mutex.Lock" || !hasFunc(ml, "sync.(*Mutex).Lock") {
		t.Errorf("main-loop: %+v", ml)
	}
	if w := Classify(ml); w.Kind != WaitLock || w.Where == nil || !strings.HasPrefix(w.Where.Func, "glassbox/hoststack.") {
		t.Errorf("main-loop classified %+v", w)
	}
	gs := snap.Find("gdbstub")
	if gs == nil || gs.Status != "sync.Cond.Wait" || !hasFunc(gs, "sync.(*Cond).Wait") {
		t.Errorf("gdbstub: %+v", gs)
	}
	if w := Classify(gs); w.Kind != WaitCond {
		t.Errorf("gdbstub classified %v", w.Kind)
	}
	// Unnamed goroutines are named after their entry function.
	worker := 0
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		if hasFunc(g, "glassbox/hoststack.unnamedWorker") {
			worker++
			entry := g.Frames[len(g.Frames)-1].Func
			if g.Named || g.Name != strings.TrimPrefix(entry, "glassbox/") || !strings.HasPrefix(g.Name, "hoststack.startScene.func") {
				t.Errorf("unnamed worker named %q (named %v), entry %s", g.Name, g.Named, entry)
			}
		}
	}
	if worker != 1 {
		t.Errorf("%d unnamed workers found", worker)
	}
	if g := snap.Find("main"); g == nil || g.ID != 1 || g.Thread != 1 {
		t.Errorf("goroutine 1 should be Thread 1 \"main\": %+v", g)
	}
	// Threads are numbered from 1: goroutine 1, then named goroutines in
	// registration order, then unnamed ones by goroutine ID.
	lastSeq, lastID, named := uint64(0), int64(0), true
	for i, g := range snap.Goroutines {
		if g.Thread != i+1 {
			t.Fatalf("thread %d at index %d", g.Thread, i)
		}
		if i == 0 {
			continue
		}
		seq, ok := s.reg.order(g.ID)
		switch {
		case ok && !named:
			t.Fatalf("named goroutine %d (%q) after unnamed ones", g.ID, g.Name)
		case ok && seq <= lastSeq:
			t.Fatalf("thread %d (%q) registered before the previous thread", g.Thread, g.Name)
		case ok:
			lastSeq = seq
		case named:
			named, lastID = false, g.ID
		case g.ID <= lastID:
			t.Fatalf("unnamed goroutines not in ID order at thread %d", g.Thread)
		default:
			lastID = g.ID
		}
	}
}

// Absolute PCs come from the executable's function table; check them
// against the runtime's own view of the address.
func TestCapturePCs(t *testing.T) {
	s := startScene(t)
	snap, err := Capture(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadSymbols().err; err != nil {
		t.Fatalf("symbol table: %v", err)
	}
	checked := 0
	for _, g := range snap.Goroutines {
		for i, f := range g.Frames {
			switch {
			case f.Inlined:
				if f.PC != 0 {
					t.Errorf("inlined frame %s has PC %#x", f.Func, f.PC)
				}
				continue
			case strings.Contains(f.Func, "[...]"):
				continue
			case f.PC == 0:
				t.Errorf("goroutine %d frame %d %s: no PC", g.ID, i, f.Func)
				continue
			}
			// Every printed PC is a return address (the innermost frames of
			// blocked goroutines return into the hidden runtime frames), so
			// look up PC-1. FuncForPC names the innermost inlined function
			// there but gives the entry of the physical one.
			rf := runtime.FuncForPC(uintptr(f.PC) - 1)
			if rf == nil {
				t.Errorf("%s: PC %#x is in no function", f.Func, f.PC)
				continue
			}
			if phys := funcNameForPrint(runtime.FuncForPC(rf.Entry()).Name()); phys != f.Func {
				t.Errorf("%s: PC %#x is in %s", f.Func, f.PC, phys)
				continue
			}
			if funcNameForPrint(rf.Name()) == f.Func { // no inlined call at this PC
				if file, line := rf.FileLine(uintptr(f.PC) - 1); file != f.File || line != f.Line {
					t.Errorf("%s at %s:%d: PC %#x is at %s:%d", f.Func, f.File, f.Line, f.PC, file, line)
				}
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d PCs checked", checked)
	}
}

var headerRE = regexp.MustCompile(`(?m)^Thread (\d+) \(goroutine (\d+)\) "([^"]*)"`)

func TestDumpGDBStyle(t *testing.T) {
	s := startScene(t)
	out := dumpString(t, s.reg, Options{})
	t.Logf("\n%s", out)
	for _, want := range []string{
		`"CPU 0/TCG" [chan receive] (waiting for the run baton):`,
		`"main-loop" [sync.Mutex.Lock]:`,
		`"gdbstub" [sync.Cond.Wait]:`,
		` in glassbox/hoststack.vcpuLoop (`,
		` in sync.(*Cond).Wait (`,
		`    created by glassbox/hoststack.(*Registry).Go in goroutine `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^#0  0x[0-9a-f]{16} in glassbox/hoststack\.vcpuLoop \(0x[0-9a-f]+\??\) at .*/hoststack/dump_test\.go:\d+$`).MatchString(out) {
		t.Error("no gdb-style frame line for vcpuLoop")
	}
	// Inlined frames (sync.(*Mutex).Lock, unless built with -race or -l)
	// print without an address, like gdb's; all others with one.
	snap, err := Capture(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	inlined := 0
	for _, g := range snap.Goroutines {
		for _, f := range g.Frames {
			if f.Inlined {
				inlined++
			}
		}
	}
	var b bytes.Buffer
	if err := Write(&b, snap, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := len(regexp.MustCompile(`(?m)^#\d+ +[^0 ].* \(\.\.\.\) at `).FindAllString(b.String(), -1)); n != inlined {
		t.Errorf("%d frames printed without address, %d inlined frames", n, inlined)
	}
	// Highest thread number first, every thread once.
	m := headerRE.FindAllStringSubmatch(out, -1)
	for i := 1; i < len(m); i++ {
		a, _ := strconv.Atoi(m[i-1][1])
		b, _ := strconv.Atoi(m[i][1])
		if b != a-1 {
			t.Fatalf("thread %d follows thread %d", b, a)
		}
	}
	if last := m[len(m)-1]; last[1] != "1" || last[3] != "main" {
		t.Fatalf("last thread is %q, want Thread 1 \"main\"", last[0])
	}
}

func TestDumpGroupFilterMaxFrames(t *testing.T) {
	s := startScene(t)
	out := dumpString(t, s.reg, Options{Group: true})
	snap, _ := Capture(s.reg)
	// members are listed in thread order
	var members []*Goroutine
	for i := 0; i < 3; i++ {
		members = append(members, snap.Find("CPU "+strconv.Itoa(i)+"/TCG"))
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Thread < members[j].Thread })
	var ids []string
	for _, g := range members {
		ids = append(ids, strconv.FormatInt(g.ID, 10))
	}
	if want := "3 goroutines with this stack: " + strings.Join(ids, ", ") + "\n"; !strings.Contains(out, want) {
		t.Errorf("grouped dump lacks %q:\n%s", want, out)
	}
	if n := strings.Count(out, "in glassbox/hoststack.vcpuLoop ("); n != 1 {
		t.Errorf("vcpuLoop frame printed %d times in the grouped dump", n)
	}
	for i := 0; i < 3; i++ {
		if !strings.Contains(out, `"CPU `+strconv.Itoa(i)+`/TCG" [chan receive] (waiting for the run baton)`) {
			t.Errorf("group lost CPU %d's header", i)
		}
	}

	out = dumpString(t, s.reg, Options{Filter: "CPU"})
	if m := headerRE.FindAllStringSubmatch(out, -1); len(m) != 3 {
		t.Errorf("Filter CPU printed %d threads:\n%s", len(m), out)
	}

	out = dumpString(t, s.reg, Options{Filter: "main-loop", MaxFrames: 2})
	if n := len(regexp.MustCompile(`(?m)^#`).FindAllString(out, -1)); n != 2 || !strings.Contains(out, "(More stack frames follow...)") {
		t.Errorf("MaxFrames 2:\n%s", out)
	}
}

// The glassbox view of a host deadlock: two named goroutines, each
// waiting for what the other holds, as the machine's lock facts say.
func TestAnalyzeCapturedHostDeadlock(t *testing.T) {
	s := startScene(t)
	snap, err := Capture(s.reg)
	if err != nil {
		t.Fatal(err)
	}
	rep := Analyze(snap, Facts{
		Locks: []Lock{
			{Name: "machine.mu", Holder: "gdbstub", Waiters: []string{"main-loop"}},
			{Name: "target.mu", Holder: "main-loop", Waiters: []string{"gdbstub"}},
		},
		VCPUs: []VCPU{{ID: 0, State: VCPURunning, Retired: 1000}},
	})
	t.Logf("\n%s", rep)
	if rep.Kind != KindDeadlock || !strings.HasPrefix(rep.Verdict, "DEADLOCK (host): ") ||
		!strings.Contains(rep.Verdict, `"main-loop" waits for lock machine.mu held by "gdbstub"`) ||
		!strings.Contains(rep.Verdict, `"gdbstub" waits for lock target.mu held by "main-loop"`) {
		t.Fatalf("verdict %q", rep.Verdict)
	}
	if !strings.Contains(rep.String(), `Thread `) || !strings.Contains(rep.String(), `"main-loop" (goroutine `) {
		t.Errorf("report lacks the thread evidence")
	}
}
