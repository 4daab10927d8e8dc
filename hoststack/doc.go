// Package hoststack shows glassbox's own goroutines the way gdb's `thread
// apply all bt` shows QEMU's threads, and finds out why a machine hangs.
//
// It answers the second seed (../shared/seeds/001_*.txt): a gdb backtrace
// of every thread of a "hung" QEMU whose analysis was left as TODO. The
// same three steps apply to glassbox itself:
//
//  1. Naming. A Registry maps goroutine IDs to names ("CPU 0/TCG",
//     "main-loop", "gdbstub") and state notes ("waiting for the run
//     baton"), and sets the pprof label "glassbox.thread" so CPU profiles
//     name the goroutines too. Each machine owns its registry (two
//     machines in one process never see each other's names); Default is the
//     command's.
//  2. Dumping. Capture parses runtime.Stack(all) into goroutines and frames
//     (Parse reads any Go traceback; ParseGDB reads gdb's), Write and Dump
//     print them like gdb, highest thread number first, optionally grouped
//     (panicparse style), filtered and truncated.
//  3. Analysis. Analyze builds a waits-for graph from Facts the machine
//     fills (vCPU states, spin detection, lock holders) and the classified
//     stacks, marks what can still progress, searches the rest for cycles
//     and states a verdict first: DEADLOCK, DEAD, LOST WAKEUP, STUCK,
//     STOPPED, SPINNING, or "no hang".
//
// # Contract
//
// Registry methods and Thread.Set/State may be called from any goroutine;
// Name's done and Thread.Done restore pprof labels only when called on the
// registered goroutine. Thread.Set is one atomic store of a *State made
// once with NewState (zero allocations, tested), so a vCPU loop may call it
// every quantum. Capture stops the world for the duration of
// runtime.Stack; call it from a debugger command or a watchdog, not from
// the run loop. Parse, ParseGDB, Write and Analyze are pure functions of
// their inputs. Nothing here keeps mutable package state except Default
// and a process-wide, read-only cache of the executable's function table.
//
// # Design notes
//
// Why a registry and not only the pprof label: runtime.Stack does not print
// labels (Go 1.26 can, with GODEBUG=tracebacklabels=1, and Parse then
// names goroutines from the label too), and the runtime gives no way to
// read another goroutine's labels. The goroutine ID is parsed from the
// calling goroutine's own traceback header, the one place Go exposes it.
//
// Absolute PCs: Go prints "+0x1f" (return address minus function entry),
// not addresses. Capture adds the entry of each function, found by name in
// the executable's .gopclntab (debug/gosym over debug/elf or debug/macho,
// present even in stripped binaries), after measuring the load slide on a
// function whose in-memory entry runtime.FuncForPC gives (PIE binaries).
// If the file cannot be read or does not match, PCs print as
// 0x????????????????. Inlined frames have no PC of their own, as in gdb.
// runtime.Stack hides runtime frames (runtime.gopark, runtime.chanrecv), so
// a blocked goroutine's first frame is the call that blocked:
// sync.(*Mutex).Lock, sync.(*Cond).Wait, or the function doing `<-ch`; its
// status says why ("chan receive", "sync.Mutex.Lock").
//
// Deadlock detection works on facts, not on stacks: Go mutexes do not
// record their owner, and a spinning vCPU looks like a running goroutine.
// The graph's edges are: a goroutine waiting for a lock -> its holder
// (Facts.Locks); any Dependency (Facts.Waits, several from one goroutine
// meaning "any of them"); a vCPU spinning on a word -> the vCPU that wrote
// it last (VCPU.SpinOn); a vCPU that only an interrupt from another vCPU
// can wake (halted with IF=1 and no timer, halted with IF=0, waiting for
// SIPI) -> every other vCPU; a vCPU -> its goroutine when that goroutine
// waits on something. A node progresses if it waits on nothing or, for each
// thing it waits on, one target progresses. Cycles among the stuck nodes,
// ignoring the "any other vCPU" wake-up edges, are deadlocks.
//
// # The seed, analysed
//
// testdata/qemu-seed-001.md is the worked example; its short form: the 17
// threads of the QEMU 8.2 (LoongArch, KVM) migration destination are all
// blocked, and none is blocked acquiring a lock. The 8 vCPU threads ("CPU
// n/KVM") sleep in qemu_wait_io_event on their own halt_cond; the
// condition wait releases qemu_global_mutex (the BQL). The main loop sleeps
// in ppoll with a 1 s timeout, the BQL released around the poll; the four
// iothreads sit in aio_poll with no request in flight, the monitor iothread
// in its glib loop, RCU waits for callbacks, the VNC worker for jobs, the
// thread-context for a preallocation request. No thread waits for the BQL
// or any other lock, so no waits-for cycle exists: this is not a deadlock.
// vCPUs park there only while cpu_thread_is_idle(), here because
// cpu_is_stopped(): qemu_init_vcpu creates every vCPU stopped and only
// vm_start -> resume_all_vcpus clears it (with KVM a guest-halted vCPU would
// wait inside KVM_RUN instead). The VM has not been started: the incoming
// migration has not completed, or it completed and nobody issued `cont`
// (libvirt starts destinations with -S). Verdict: STOPPED, not a deadlock;
// look at query-status / query-migrate on both sides, not at QEMU's locks.
// TestSeedAnalysis keeps the analysis (testdata/qemu-seed-001.analysis.golden)
// reproducible.
//
// # What the machine provides
//
// For `analyze hang` and a watchdog, the machine fills Facts: per vCPU its
// ID, goroutine name, State (running, halted, paused, waiting for SIPI,
// parked in a catchpoint), IF, PC, a ring of the last TB PCs (SpinRange
// decides spinning: at least MinSpinTBs within MaxSpinSpan bytes), PAUSE
// and retired-instruction counts over Facts.Window, a pending interrupt,
// and the word it spins on with its last writer when known; machine-wide,
// whether a timer is armed and whether a device interrupts on input; its
// host locks with holders and waiters, and other dependencies such as the
// run baton (main-loop waits for the vCPU that holds it).
package hoststack
