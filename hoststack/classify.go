package hoststack

import (
	"strings"
)

// WaitKind says how a thread is blocked.
type WaitKind int

const (
	WaitUnknown WaitKind = iota
	WaitRunning          // executing or ready to run
	WaitLock             // blocked acquiring a lock
	WaitCond             // condition variable, semaphore, event, WaitGroup: it holds nothing while it waits
	WaitChan             // Go channel operation or select
	WaitPoll             // waiting for I/O readiness: a poll loop, Go's netpoller
	WaitSleep            // timed sleep
	WaitSyscall          // in a system call
	WaitRuntime          // Go runtime housekeeping (GC workers, finalizers)
)

var waitKindNames = [...]string{"unknown", "running", "lock", "condition", "channel", "poll", "sleep", "syscall", "runtime"}

func (k WaitKind) String() string {
	if int(k) < len(waitKindNames) {
		return waitKindNames[k]
	}
	return "?"
}

// Role is what a thread is, as far as a hang is concerned.
type Role int

const (
	RoleOther         Role = iota
	RoleVCPURunning        // a vCPU thread executing guest code
	RoleVCPUWaitBaton      // a glassbox vCPU goroutine between quanta
	RoleVCPUHalted         // a vCPU thread parked at guest HLT
	RoleVCPUWaitSIPI       // an AP waiting for INIT/SIPI
	RoleVCPUParked         // a vCPU thread stopped by the VMM: VM paused, catchpoint, QEMU's qemu_wait_io_event
	RoleIdle               // a service thread waiting for work (event loops, workers)
)

// Wait is what one thread waits for, derived from its stack, status and
// state note.
type Wait struct {
	Kind WaitKind
	// Where is the innermost frame of the program's own code (not libc, not
	// a lock primitive, not the Go standard library); nil if none.
	Where *Frame
	// Object is the lock, condition, event or channel when the stack names
	// it ("qemu_global_mutex", "cond 0x55557a42c910", "sync.Mutex").
	Object string
	// Releases is the mutex a condition wait released ("qemu_global_mutex").
	Releases string
	Role     Role
	// Meaning is the state note, or what the known place means.
	Meaning string
}

// place is a function whose presence on a stack says what the thread is.
type place struct {
	fn      string // exact name, or a Go function whose closures also match
	role    Role
	meaning string
}

// places is the knowledge Classify uses, innermost match first. QEMU's
// entries let Analyze read gdb backtraces of QEMU (the seeds); glassbox's
// own goroutines say what they do through state notes instead.
var places = []place{
	// QEMU vCPU threads (system/cpus.c, accel/*).
	{"qemu_wait_io_event", RoleVCPUParked, "vCPU parked in qemu_wait_io_event: it sleeps on its halt_cond while cpu_thread_is_idle() (vCPU stopped, VM not running, or halted without in-kernel HLT) and releases the BQL while it waits"},
	{"kvm_cpu_exec", RoleVCPURunning, "vCPU running guest code (KVM_RUN)"},
	{"cpu_exec", RoleVCPURunning, "vCPU executing guest code (TCG)"},
	// QEMU service threads.
	{"os_host_main_loop_wait", RoleIdle, "main loop idle in ppoll; the BQL is released around the poll"},
	{"main_loop_wait", RoleIdle, "main loop idle in ppoll; the BQL is released around the poll"},
	{"call_rcu_thread", RoleIdle, "RCU thread: waits for call_rcu callbacks (none queued)"},
	{"vnc_worker_thread_loop", RoleIdle, "VNC worker: waits for jobs (queue empty)"},
	{"thread_context_run", RoleIdle, "thread-context object: waits for a thread-creation request (memory-backend preallocation)"},
	{"aio_poll", RoleIdle, "iothread idle in aio_poll (blocking, no request in flight)"},
	{"g_main_loop_run", RoleIdle, "glib event loop idle in poll (monitor iothread)"},
	{"process_incoming_migration_co", RoleOther, "incoming migration: loading the VM state"},
	{"migration_thread", RoleOther, "outgoing migration thread"},
	{"multifd_recv_thread", RoleOther, "multifd receive thread"},
	{"postcopy_ram_listen_thread", RoleOther, "postcopy listen thread"},
	// glassbox.
	{"glassbox/machine.(*Machine).Run", RoleOther, "machine main loop: hands the run baton to the vCPUs in turn"},
}

// The roles of glassbox's state notes.
var stateRoles = map[string]Role{
	StateRunningGuest.text: RoleVCPURunning,
	StateWaitBaton.text:    RoleVCPUWaitBaton,
	StateHalted.text:       RoleVCPUHalted,
	StateWaitSIPI.text:     RoleVCPUWaitSIPI,
	StateCatchpoint.text:   RoleVCPUParked,
	StatePaused.text:       RoleVCPUParked,
}

// C blocking primitives, as they appear in gdb backtraces.
var (
	cLock = set("__lll_lock_wait", "__lll_lock_wait_private", "pthread_mutex_lock", "__pthread_mutex_lock",
		"___pthread_mutex_lock", "qemu_mutex_lock_impl", "qemu_rec_mutex_lock_impl", "bql_lock_impl",
		"qemu_mutex_lock_iothread_impl", "pthread_rwlock_rdlock", "pthread_rwlock_wrlock")
	cCond = set("pthread_cond_wait", "__pthread_cond_wait", "___pthread_cond_wait", "pthread_cond_timedwait",
		"__pthread_cond_timedwait", "pthread_cond_clockwait", "qemu_cond_wait_impl", "qemu_cond_timedwait_impl",
		"qemu_sem_wait", "qemu_sem_timedwait", "sem_wait", "sem_timedwait", "qemu_event_wait", "qemu_futex_wait",
		"futex_wait", "qemu_futex_wait_with_timeout")
	cPoll = set("poll", "__poll", "ppoll", "__ppoll", "epoll_wait", "epoll_pwait", "select", "pselect", "pselect6",
		"qemu_poll_ns", "g_main_loop_run", "g_main_context_iteration", "g_poll", "aio_poll", "fdmon_poll_wait",
		"fdmon_epoll_wait", "fdmon_io_uring_wait", "io_uring_enter")
	cSleep   = set("nanosleep", "__nanosleep", "clock_nanosleep", "__clock_nanosleep", "g_usleep", "usleep", "sleep")
	cSyscall = set("syscall", "ioctl", "__ioctl", "read", "__read", "write", "recvmsg", "sendmsg", "accept", "accept4")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Classify says what a thread waits for. Go goroutines are read from their
// status (the runtime's wait reason), C threads from the blocking
// primitives at the top of their stack and the arguments gdb printed
// (mutex=0x... <qemu_global_mutex>).
func Classify(g *Goroutine) Wait {
	var w Wait
	if g.Status != "" || len(g.Labels) > 0 {
		classifyGo(g, &w)
	} else {
		classifyC(g, &w)
	}
	// Role and meaning: the state note first, then the innermost known place.
	if g.State != "" {
		w.Meaning = g.State
		w.Role = stateRoles[g.State]
		return w
	}
	for i := range g.Frames {
		for _, p := range places {
			if f := g.Frames[i].Func; f == p.fn || strings.HasPrefix(f, p.fn+".") {
				w.Role, w.Meaning = p.role, p.meaning
				return w
			}
		}
	}
	return w
}

func classifyGo(g *Goroutine, w *Wait) {
	st := strings.TrimSuffix(g.Status, " (durable)")
	hasFrame := func(prefix string) bool {
		for _, f := range g.Frames {
			if strings.HasPrefix(f.Func, prefix) {
				return true
			}
		}
		return false
	}
	switch {
	case st == "running" || st == "runnable" || st == "preempted":
		w.Kind = WaitRunning
	case st == "sync.Mutex.Lock" || st == "sync.RWMutex.Lock" || st == "sync.RWMutex.RLock":
		w.Kind, w.Object = WaitLock, strings.TrimSuffix(strings.TrimSuffix(st, ".RLock"), ".Lock")
	case st == "semacquire" && (hasFrame("sync.(*Mutex).") || hasFrame("sync.(*RWMutex).")):
		w.Kind, w.Object = WaitLock, "sync.Mutex"
	case st == "sync.Cond.Wait":
		w.Kind, w.Object = WaitCond, "sync.Cond"
	case st == "sync.WaitGroup.Wait":
		w.Kind, w.Object = WaitCond, "sync.WaitGroup"
	case st == "semacquire":
		w.Kind, w.Object = WaitCond, "semaphore"
	case strings.HasPrefix(st, "chan receive") || strings.HasPrefix(st, "chan send") || strings.HasPrefix(st, "select"):
		w.Kind = WaitChan
		switch {
		case strings.Contains(st, "nil chan"):
			w.Object = "nil channel (blocks forever)"
		case strings.Contains(st, "no cases"):
			w.Object = "empty select (blocks forever)"
		}
	case st == "IO wait":
		w.Kind = WaitPoll
	case st == "sleep":
		w.Kind = WaitSleep
	case st == "syscall":
		w.Kind = WaitSyscall
	case strings.HasPrefix(st, "GC ") || strings.Contains(st, "finalizer") || strings.Contains(st, "cleanup") ||
		strings.Contains(st, "(idle)") || strings.HasPrefix(st, "trace ") || st == "wait for GC cycle":
		w.Kind = WaitRuntime
	}
	for i := range g.Frames {
		if !isStd(g.Frames[i].Func) {
			w.Where = &g.Frames[i]
			return
		}
	}
	if len(g.Frames) > 0 {
		w.Where = &g.Frames[0]
	}
}

func classifyC(g *Goroutine, w *Wait) {
	i := 0
	for ; i < len(g.Frames); i++ {
		f := &g.Frames[i]
		kind := WaitUnknown
		switch {
		case cLock[f.Func]:
			kind = WaitLock
		case cCond[f.Func]:
			kind = WaitCond
		case cPoll[f.Func]:
			kind = WaitPoll
		case cSleep[f.Func]:
			kind = WaitSleep
		case cSyscall[f.Func]:
			kind = WaitSyscall
		case f.Func == "??" || f.Func == "":
			continue
		default:
			if w.Kind == WaitUnknown && f.File == "" && f.Lib != "" {
				continue // an unknown library frame above the primitive
			}
		}
		if kind == WaitUnknown {
			break
		}
		if w.Kind == WaitUnknown || (w.Kind == WaitSyscall && kind != WaitSyscall) {
			w.Kind = kind // innermost primitive wins; a raw syscall defers to its wrapper
		}
		// The outermost primitive names the object best (qemu_sem_wait
		// over the qemu_cond_wait_impl it is built on).
		if m := argValue(f.Args, "mutex"); m != "" {
			if w.Kind == WaitCond {
				w.Releases = m
			} else {
				w.Object = m
			}
		}
		for _, k := range []string{"cond", "sem", "ev"} {
			if v := argValue(f.Args, k); v != "" && w.Kind != WaitLock {
				w.Object = map[string]string{"cond": "cond ", "sem": "semaphore ", "ev": "event "}[k] + v
			}
		}
	}
	if i < len(g.Frames) {
		w.Where = &g.Frames[i]
	}
}

// argValue returns the value of "name=..." in a gdb argument list: the
// symbol in <...> if gdb printed one, else the value.
func argValue(args, name string) string {
	for _, a := range splitArgs(args) {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k != name || strings.HasPrefix(v, "<optimized out>") {
			continue
		}
		if _, after, ok := strings.Cut(v, "@entry="); ok {
			v = after
		}
		if i := strings.IndexByte(v, '<'); i >= 0 {
			if j := strings.IndexByte(v[i:], '>'); j > 1 {
				return v[i+1 : i+j]
			}
		}
		if f := strings.Fields(v); len(f) > 0 {
			return f[0]
		}
	}
	return ""
}

// splitArgs splits "a=1, b=0x2 \"x, y\"" at top-level commas.
func splitArgs(args string) []string {
	var out []string
	depth, inStr, start := 0, false, 0
	for i := 0; i < len(args); i++ {
		switch c := args[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(' || c == '{' || c == '<':
			depth++
		case c == ')' || c == '}' || c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(args[start:i]))
			start = i + 1
		}
	}
	if start < len(args) {
		out = append(out, strings.TrimSpace(args[start:]))
	}
	return out
}
