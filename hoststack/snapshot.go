package hoststack

import (
	"path"
	"sort"
	"strconv"
	"strings"
)

// Snapshot is every goroutine (or, from gdb, every thread) of one process
// at one moment, sorted by thread number.
type Snapshot struct {
	// Source says what the snapshot was parsed from: "go" (a
	// runtime.Stack / panic traceback) or "gdb" (`thread apply all bt`).
	Source     string
	Goroutines []Goroutine
}

// Goroutine is one goroutine of a Go traceback, or one thread of a gdb
// backtrace.
type Goroutine struct {
	ID     int64 // goroutine ID; for gdb, the thread's LWP (0 if not printed)
	Thread int   // gdb-style thread number: 1 is the oldest (lowest goroutine ID)
	// Name is the registry name, the "glassbox.thread" pprof label, or the
	// gdb thread name; when none is known it is derived from the
	// goroutine's entry function and Named is false.
	Name  string
	Named bool
	// State is the registry's state note ("waiting for the run baton").
	State string

	// Go traceback header fields.
	Status         string            // "chan receive", "running", "sync.Mutex.Lock"...
	Minutes        int               // how long it has been blocked (Go prints it from 1 minute on)
	LockedToThread bool              // ", locked to thread"
	Labels         map[string]string // pprof labels (printed with GODEBUG=tracebacklabels=1)

	Frames []Frame // innermost first
	// Elided counts frames the runtime left out at index ElidedAt of
	// Frames: n for "...n frames elided...", -1 for
	// "...additional frames elided..." (count unknown), 0 for none.
	Elided    int
	ElidedAt  int
	CreatedBy *Frame // the go statement that created it
	CreatorID int64  // "created by ... in goroutine N"; 0 if not printed
	// Unavailable is set for "goroutine running on other thread; stack
	// unavailable".
	Unavailable bool
	// Ancestors are the "[originating from goroutine N]" sections
	// (GODEBUG=tracebackancestors=N): ID, Frames, Elided and CreatedBy only.
	Ancestors []Goroutine
}

// Frame is one stack frame.
type Frame struct {
	Func string // "glassbox/machine.startWorker.func1.1", "sync.(*Mutex).Lock", gdb "??"
	Args string // the argument list exactly as printed, without the parentheses
	File string
	Line int
	// Offset is the return address (or, innermost, the PC) minus the
	// function's entry: Go's "+0x1f". HasOffset says it was printed.
	Offset    uint64
	HasOffset bool
	// PC is the absolute program counter (0: unknown). From gdb it is
	// printed; for Go it is the function entry plus Offset (see Capture).
	PC uint64
	// Inlined frames have no PC of their own: Go prints their args as
	// "..." and no offset, gdb prints no address.
	Inlined bool
	Lib     string // gdb "from LIB"
}

// number sorts goroutines by ID and numbers them like gdb numbers threads:
// 1 for the oldest. (Capture renumbers glassbox's own goroutines by
// registration order, which unlike goroutine IDs is stable across runs.)
func (s *Snapshot) number() {
	sort.SliceStable(s.Goroutines, func(i, j int) bool { return s.Goroutines[i].ID < s.Goroutines[j].ID })
	for i := range s.Goroutines {
		s.Goroutines[i].Thread = i + 1
	}
}

// Find returns the goroutine with the given name (the first, by thread
// number), or nil.
func (s *Snapshot) Find(name string) *Goroutine {
	for i := range s.Goroutines {
		if s.Goroutines[i].Name == name {
			return &s.Goroutines[i]
		}
	}
	return nil
}

// entryName derives a thread name for an unnamed goroutine from its entry
// function (the outermost frame): the function without its import path
// directory ("gdbstub.(*Server).serve"), and "main" for main.main.
func entryName(g *Goroutine) string {
	frames := g.Frames
	if n := len(frames); n > 0 && frames[n-1].Func == "runtime.goexit" { // GOTRACEBACK=system
		frames = frames[:n-1]
	}
	if len(frames) == 0 {
		if g.CreatedBy != nil {
			return "child of " + shortFunc(g.CreatedBy.Func)
		}
		return "goroutine " + strconv.FormatInt(g.ID, 10)
	}
	f := frames[len(frames)-1].Func
	if f == "main.main" {
		return "main"
	}
	return shortFunc(f)
}

// shortFunc strips the import path directory from a Go function name:
// "glassbox/machine.startWorker.func1" -> "machine.startWorker.func1".
func shortFunc(f string) string {
	// The package path ends at the last '/' before the first '.' that
	// follows it; function names never contain '/' except inside [...].
	cut := f
	if i := strings.IndexByte(cut, '['); i >= 0 {
		cut = cut[:i]
	}
	if i := strings.LastIndexByte(cut, '/'); i >= 0 {
		return f[i+1:]
	}
	return f
}

// pkgOf returns the import path of a Go function name, "" if it has none.
func pkgOf(f string) string {
	cut := f
	if i := strings.IndexByte(cut, '['); i >= 0 {
		cut = cut[:i]
	}
	slash := strings.LastIndexByte(cut, '/')
	dot := strings.IndexByte(cut[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return cut[:slash+1+dot]
}

// isStd reports whether a Go function belongs to the standard library: its
// import path's first element has no dot and it is not package main.
func isStd(f string) bool {
	p := pkgOf(f)
	if p == "" || p == "main" {
		return false
	}
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".") && !strings.HasPrefix(p, "glassbox")
}

// baseFile is the last element of a source path, for short evidence lines.
func baseFile(file string) string {
	return path.Base(strings.ReplaceAll(file, "\\", "/"))
}
