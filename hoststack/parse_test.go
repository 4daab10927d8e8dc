package hoststack

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) Snapshot {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func byID(t *testing.T, s Snapshot, id int64) *Goroutine {
	t.Helper()
	for i := range s.Goroutines {
		if s.Goroutines[i].ID == id {
			return &s.Goroutines[i]
		}
	}
	t.Fatalf("no goroutine %d", id)
	return nil
}

// go-stack.txt is runtime.Stack(buf, true) of testdata/record.
func TestParseRuntimeStack(t *testing.T) {
	s := parseFile(t, "go-stack.txt")
	if len(s.Goroutines) != 13 {
		t.Fatalf("%d goroutines, want 13", len(s.Goroutines))
	}
	main := byID(t, s, 1)
	if main.Status != "running" || main.Thread != 1 || main.Name != "main" || main.CreatedBy != nil {
		t.Errorf("goroutine 1: %+v", main)
	}
	// Generic method.
	g := byID(t, s, 19)
	if f := g.Frames[0]; f.Func != "main.(*Box[...]).Wait" || f.Args != "0x0?, 0x0?" || f.Offset != 0x25 || f.Inlined {
		t.Errorf("generic frame: %+v", f)
	}
	if c := g.CreatedBy; c == nil || c.Func != "main.main" || g.CreatorID != 1 || c.Offset != 0xe5 {
		t.Errorf("created by: %+v in %d", c, g.CreatorID)
	}
	// Deep recursion: inlined frames and "...52 frames elided...".
	g = byID(t, s, 20)
	if g.Elided != 52 || g.ElidedAt != 50 || len(g.Frames) != 100 {
		t.Errorf("elision: %d frames elided at %d of %d", g.Elided, g.ElidedAt, len(g.Frames))
	}
	if f := g.Frames[0]; f.Func != "main.recurse" || !f.Inlined || f.Args != "..." || f.HasOffset || f.Line != 21 {
		t.Errorf("inlined frame: %+v", f)
	}
	if f := g.Frames[1]; f.Inlined || !f.HasOffset || f.Offset != 0x2f {
		t.Errorf("physical frame: %+v", f)
	}
	if g.Name != "main.main.func2" {
		t.Errorf("name %q, want the entry function main.main.func2", g.Name)
	}
	for id, status := range map[int64]string{21: "sync.Mutex.Lock", 22: "sync.Cond.Wait", 23: "select (no cases)",
		24: "chan receive (nil chan)", 25: "sleep", 27: "IO wait", 28: "syscall"} {
		if g := byID(t, s, id); g.Status != status {
			t.Errorf("goroutine %d status %q, want %q", id, g.Status, status)
		}
	}
	if !byID(t, s, 23).LockedToThread || byID(t, s, 22).LockedToThread {
		t.Error("locked to thread")
	}
	if g := byID(t, s, 32); g.CreatorID != 31 || g.CreatedBy.Func != "main.main.func12.1" {
		t.Errorf("nested creator: %+v %d", g.CreatedBy, g.CreatorID)
	}
	for i := range s.Goroutines {
		if i > 0 && s.Goroutines[i].ID <= s.Goroutines[i-1].ID || s.Goroutines[i].Thread != i+1 {
			t.Fatal("goroutines not numbered by ID")
		}
	}
}

func TestParsePanicSystem(t *testing.T) {
	s := parseFile(t, "go-panic-system.txt")
	g := byID(t, s, 1)
	if g.Status != "running" || len(g.Frames) != 4 {
		t.Fatalf("goroutine 1: %+v", g)
	}
	if f := g.Frames[0]; f.Func != "panic" || f.PC != 0x479b8f || f.Offset != 0x16f || f.File != "/usr/local/go/src/runtime/panic.go" || f.Line != 879 {
		t.Errorf("frame with fp/sp/pc: %+v", f)
	}
	if g.Name != "runtime.main" { // runtime.goexit is skipped
		t.Errorf("name %q", g.Name)
	}
	if g := byID(t, s, 2); g.Status != "force gc (idle)" || g.Frames[0].Func != "runtime.gopark" {
		t.Errorf("goroutine 2: %+v", g)
	}
	if w := Classify(byID(t, s, 2)); w.Kind != WaitRuntime {
		t.Errorf("force gc classified %v", w.Kind)
	}
	if s.Find("runtime.forcegchelper") == nil {
		t.Error("goroutine 2 not named after runtime.forcegchelper")
	}
	if g := byID(t, s, 28); g.Status != "syscall" {
		t.Errorf("goroutine 28 status %q", g.Status)
	}
}

func TestParseAncestorsAndLabels(t *testing.T) {
	s := parseFile(t, "go-ancestors-labels.txt")
	g := byID(t, s, 29)
	if !g.Named || g.Name != "CPU 0/TCG" || g.Labels["x"] != `a"b` || g.Status != "chan receive" {
		t.Errorf("labels: name %q named %v labels %q status %q", g.Name, g.Named, g.Labels, g.Status)
	}
	g = byID(t, s, 19)
	if len(g.Ancestors) != 1 || g.Ancestors[0].ID != 1 || len(g.Ancestors[0].Frames) != 1 {
		t.Fatalf("ancestors: %+v", g.Ancestors)
	}
	if f := g.Ancestors[0].Frames[0]; f.Func != "main.main" || f.Args != "..." || f.Inlined || f.Offset != 0xe5 {
		t.Errorf("ancestor frame: %+v", f)
	}
	if len(g.Frames) != 2 || g.CreatedBy == nil {
		t.Errorf("ancestor frames leaked into the goroutine: %d frames", len(g.Frames))
	}
}

func TestParseOddShapes(t *testing.T) {
	s := parseFile(t, "go-odd.txt")
	if g := byID(t, s, 0); g.Status != "idle" || g.Frames[0].PC != 0x46b0e1 || g.Thread != 1 {
		t.Errorf("goroutine 0: %+v", g)
	}
	if g := byID(t, s, 1); g.Status != "chan receive" || g.Minutes != 12 || g.Frames[0].File != "/home/user/my project/main.go" || g.Frames[0].Line != 12 {
		t.Errorf("goroutine 1: %+v", g)
	}
	if g := byID(t, s, 6); !g.Unavailable || len(g.Frames) != 0 || g.CreatorID != 1 || g.Name != "child of main.main" {
		t.Errorf("stack unavailable: %+v", g)
	}
	g := byID(t, s, 7)
	if g.Status != "select" || g.Minutes != 3 || !g.LockedToThread {
		t.Errorf("goroutine 7 header: %+v", g)
	}
	if f := g.Frames[0]; f.Func != "example.com/pkg/v2.(*Server[...]).loop" || f.Args != "0xc000010000, {0xc000012000, 0x3, 0x4}, ..." {
		t.Errorf("generic method with elided args: %+v", f)
	}
	if f := g.Frames[1]; f.Func != "example.com/pkg/v2.Run[...]" || !f.Inlined {
		t.Errorf("inlined generic: %+v", f)
	}
	if g.CreatorID != 0 || g.CreatedBy.Func != "example.com/pkg/v2.Start" || g.Name != "v2.Run[...]" {
		t.Errorf("old-style created by: %+v %d, name %q", g.CreatedBy, g.CreatorID, g.Name)
	}
	g = byID(t, s, 8)
	if g.Elided != -1 || g.ElidedAt != 3 || g.CreatedBy == nil {
		t.Errorf("additional frames elided: %d at %d", g.Elided, g.ElidedAt)
	}
	if w := Classify(g); w.Kind != WaitCond || w.Where == nil || w.Where.Func != "main.deep" {
		t.Errorf("WaitGroup classified %+v", w)
	}
	if g := byID(t, s, 10); g.Status != "chan send (durable)" {
		t.Errorf("synctest status %q", g.Status)
	}
	if g := byID(t, s, 12); g.Status != "runnable" || g.Frames[0].HasOffset || g.Frames[0].Inlined {
		t.Errorf("frame at function entry: %+v", g.Frames[0])
	}
	if w := Classify(byID(t, s, 12)); w.Kind != WaitRunning {
		t.Errorf("runnable classified %v", w.Kind)
	}

	c := parseFile(t, "go-odd-crlf.txt")
	if len(c.Goroutines) != 1 || c.Goroutines[0].Frames[0].Line != 5 || c.Goroutines[0].Frames[0].Offset != 0x1d {
		t.Errorf("CRLF: %+v", c.Goroutines)
	}
}

func TestParseNothing(t *testing.T) {
	for _, in := range []string{"", "panic: boom\n", "goroutine x [running]:\nmain.main()\n", "Thread one (x):\n"} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrNoGoroutines) {
			t.Errorf("Parse(%q) error %v", in, err)
		}
		if _, err := ParseGDB([]byte(in)); !errors.Is(err, ErrNoGoroutines) {
			t.Errorf("ParseGDB(%q) error %v", in, err)
		}
	}
}

func TestParseGDBSeed(t *testing.T) {
	b, err := os.ReadFile("testdata/qemu-seed-001.txt")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseGDB(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Goroutines) != 17 {
		t.Fatalf("%d threads, want 17", len(s.Goroutines))
	}
	for i, g := range s.Goroutines {
		if g.Thread != i+1 {
			t.Fatalf("thread %d at %d", g.Thread, i)
		}
	}
	cpu7 := s.Goroutines[15]
	if cpu7.Name != "CPU 7/KVM" || cpu7.ID != 2463586 || len(cpu7.Frames) != 8 {
		t.Fatalf("thread 16: %q LWP %d, %d frames", cpu7.Name, cpu7.ID, len(cpu7.Frames))
	}
	if f := cpu7.Frames[3]; f.Func != "qemu_wait_io_event" || f.PC != 0x5555592a4d44 || f.File != "../system/cpus.c" || f.Line != 445 || f.Args != "cpu=cpu@entry=0x55557a41b120" {
		t.Errorf("frame #3: %+v", f)
	}
	if f := cpu7.Frames[0]; f.Func != "??" || f.Lib != "target:/usr/lib64/libc.so.6" || f.PC != 0x7ffff17e0bb8 {
		t.Errorf("frame #0: %+v", f)
	}
	// Thread 14's frame #2 was cut by the pager prompt.
	cpu5 := s.Goroutines[13]
	if f := cpu5.Frames[2]; !strings.Contains(f.Args, `file=0x555559736af8 "../system/cpus.c", line=<optimized out>`) || f.Line != 225 {
		t.Errorf("pager-split frame: %+v", f)
	}
	if argValue(cpu5.Frames[2].Args, "mutex") != "qemu_global_mutex" {
		t.Errorf("mutex arg: %q", argValue(cpu5.Frames[2].Args, "mutex"))
	}
	// Thread 1: inlined frames have no address; _start has no source.
	main := s.Goroutines[0]
	if f := main.Frames[2]; f.Func != "qemu_poll_ns" || !f.Inlined || f.PC != 0 || f.Line != 420 {
		t.Errorf("inlined frame: %+v", f)
	}
	if f := main.Frames[9]; f.Func != "_start" || f.File != "" || f.PC != 0x5555590695c0 {
		t.Errorf("_start: %+v", f)
	}
	if w := Classify(&cpu7); w.Kind != WaitCond || w.Releases != "qemu_global_mutex" || w.Role != RoleVCPUParked || w.Where.Func != "qemu_wait_io_event" {
		t.Errorf("vCPU classified %+v", w)
	}
	if w := Classify(&s.Goroutines[1]); w.Object != "event rcu_call_ready_event" || w.Kind != WaitCond {
		t.Errorf("RCU classified %+v", w)
	}
}

func TestParseGDBShapes(t *testing.T) {
	in := "Thread 3 (Thread 0x7f (LWP 12) \"worker\"):\n" +
		"#0  __lll_lock_wait (futex=0x5555 <qemu_global_mutex>, private=0) at lowlevellock.c:52\n" +
		"#1  0x00007f in pthread_mutex_lock () from /lib/libc.so.6\n" +
		"#2  0x000055 in qemu_mutex_lock_impl (mutex=0x5555 <qemu_global_mutex>, file=0x1 \"a (b\", line=9) at ../util/qemu-thread-posix.c:94\n" +
		"#3  0x000056 in ns::Foo<int, char>::bar (this=0x1) at foo.cc:3\n" +
		"\n" +
		"Thread 1 (process 77):\n" +
		"#0  main () at m.c:1\n" +
		"Thread 2 (LWP 78):\n" +
		"#0  0x1 in f ()\n"
	s, err := ParseGDB([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Goroutines) != 3 || s.Goroutines[0].ID != 77 || s.Goroutines[0].Name != "LWP 77" || s.Goroutines[1].Name != "LWP 78" {
		t.Fatalf("%+v", s.Goroutines)
	}
	w := s.Goroutines[2]
	if w.Name != "worker" || w.ID != 12 || len(w.Frames) != 4 {
		t.Fatalf("worker: %+v", w)
	}
	if f := w.Frames[2]; f.Args != `mutex=0x5555 <qemu_global_mutex>, file=0x1 "a (b", line=9` || f.Line != 94 {
		t.Errorf("parenthesis inside a string: %+v", f)
	}
	if f := w.Frames[3]; f.Func != "ns::Foo<int, char>::bar" || f.File != "foo.cc" {
		t.Errorf("C++ frame: %+v", f)
	}
	if c := Classify(&w); c.Kind != WaitLock || c.Object != "qemu_global_mutex" {
		t.Errorf("lock wait classified %+v", c)
	}
}
