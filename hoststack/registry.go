package hoststack

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
)

// ThreadLabel is the pprof label that names a glassbox goroutine in CPU
// profiles (and in tracebacks printed with GODEBUG=tracebacklabels=1).
const ThreadLabel = "glassbox.thread"

// Registry names goroutines, like a thread's name in gdb ("CPU 0/TCG"),
// and carries a state note for each ("waiting for the run baton").
//
// Each machine owns its registry, so two machines in one process never see
// each other's names; Default is the command's. All methods may be called
// from any goroutine; a nil *Registry names nothing but still sets the
// pprof label.
type Registry struct {
	mu      sync.Mutex
	threads map[int64]*Thread // by goroutine ID; guarded by mu
	seq     uint64            // registrations so far; guarded by mu
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{threads: map[int64]*Thread{}}
}

// Default is the registry of the glassbox command (cmd/glassbox). Library
// code takes a *Registry from its configuration instead.
var Default = NewRegistry()

// Thread is the registration of one named goroutine. Its state note may be
// set from any goroutine; Set is one atomic store (no allocation), cheap
// enough for every quantum of a vCPU.
type Thread struct {
	reg     *Registry
	name    string
	id      int64
	state   atomic.Pointer[State]
	prev    *Thread // the registration this one shadows (nested Register)
	labeled bool    // Register set the pprof label; Done clears it
	seq     uint64  // registration order (thread numbering)
}

// State is an immutable state note. Make the notes a goroutine switches
// between once (NewState), then Thread.Set them without allocating.
type State struct {
	text string
	// blocks: a goroutine in this state is (about to be) blocked; seen
	// runnable it is in transition (just handed its turn back).
	blocks bool
}

// NewState returns a state note.
func NewState(text string) *State { return &State{text: text} }

func blockingState(text string) *State { return &State{text: text, blocks: true} }

func (s *State) String() string {
	if s == nil {
		return ""
	}
	return s.text
}

// State notes of glassbox's goroutines. They are never modified.
var (
	StateRunningGuest = NewState("running guest code")
	StateWaitBaton    = blockingState("waiting for the run baton")
	StateHalted       = blockingState("parked at guest HLT")
	StateWaitSIPI     = blockingState("waiting for SIPI")
	StateCatchpoint   = blockingState("parked in a catchpoint")
	StatePaused       = NewState("paused")
)

// CurrentID returns the calling goroutine's ID, parsed from the header
// runtime.Stack prints ("goroutine 123 [running]:").
func CurrentID() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	b := buf[:n]
	const prefix = "goroutine "
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0
	}
	var id int64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// Go starts fn in a new goroutine named name.
func (r *Registry) Go(name string, fn func()) {
	go func() {
		t := r.Register(name)
		defer t.Done()
		fn()
	}()
}

// Do runs fn on the calling goroutine named name, like pprof.Do: the
// pprof labels of ctx are kept and the "glassbox.thread" label is added
// for the duration of fn, then the goroutine's labels are restored.
func (r *Registry) Do(ctx context.Context, name string, fn func(context.Context)) {
	pprof.Do(ctx, pprof.Labels(ThreadLabel, name), func(ctx context.Context) {
		t := r.add(name, false)
		defer r.remove(t)
		fn(ctx)
	})
}

// Name names the calling goroutine until done is called (on the same
// goroutine). It replaces the goroutine's pprof labels with
// {"glassbox.thread": name}; done removes the name and restores the
// label of an enclosing Name, or clears the labels. Use Do to keep labels
// inherited from a context.
func (r *Registry) Name(name string) (done func()) {
	return r.Register(name).Done
}

// Register is Name returning the registration, whose state note can then
// be set cheaply.
func (r *Registry) Register(name string) *Thread {
	t := r.add(name, true)
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(ThreadLabel, name)))
	return t
}

func (r *Registry) add(name string, labeled bool) *Thread {
	t := &Thread{reg: r, name: name, id: CurrentID(), labeled: labeled}
	if r != nil {
		r.mu.Lock()
		t.prev = r.threads[t.id]
		r.threads[t.id] = t
		r.seq++
		t.seq = r.seq
		r.mu.Unlock()
	}
	return t
}

func (r *Registry) remove(t *Thread) {
	if r == nil {
		return
	}
	r.mu.Lock()
	if r.threads[t.id] == t {
		if t.prev != nil {
			r.threads[t.id] = t.prev
		} else {
			delete(r.threads, t.id)
		}
	}
	r.mu.Unlock()
}

// Done ends the registration. Called on the registered goroutine it also
// restores the pprof label (see Name); from another goroutine it only
// removes the name.
func (t *Thread) Done() {
	t.reg.remove(t)
	if !t.labeled || CurrentID() != t.id {
		return
	}
	ctx := context.Background()
	if t.prev != nil {
		ctx = pprof.WithLabels(ctx, pprof.Labels(ThreadLabel, t.prev.name))
	}
	pprof.SetGoroutineLabels(ctx)
}

// Name returns the goroutine's name.
func (t *Thread) Name() string { return t.name }

// ID returns the goroutine's ID.
func (t *Thread) ID() int64 { return t.id }

// Set sets the state note (nil clears it). It does not allocate.
func (t *Thread) Set(s *State) { t.state.Store(s) }

// SetState sets a state note from text; it allocates one State. Prefer Set
// with a note made once when calling it often.
func (t *Thread) SetState(text string) { t.Set(NewState(text)) }

// State returns the current state note, "" if none.
func (t *Thread) State() string { return t.state.Load().String() }

// SetState sets the state note of every goroutine registered as name and
// reports whether there was one. It takes the registry lock; hot paths keep
// their *Thread and call Set.
func (r *Registry) SetState(name, text string) bool {
	if r == nil {
		return false
	}
	s := NewState(text)
	found := false
	r.mu.Lock()
	for _, t := range r.threads {
		if t.name == name {
			t.Set(s)
			found = true
		}
	}
	r.mu.Unlock()
	return found
}

// state returns the state note of a registered goroutine.
func (r *Registry) state(id int64) *State {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	t := r.threads[id]
	r.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.state.Load()
}

// Lookup returns the name and state note registered for a goroutine ID.
func (r *Registry) Lookup(id int64) (name, state string, ok bool) {
	if r == nil {
		return "", "", false
	}
	r.mu.Lock()
	t := r.threads[id]
	r.mu.Unlock()
	if t == nil {
		return "", "", false
	}
	return t.name, t.State(), true
}

// order returns when the goroutine's registration was made (1 = first).
func (r *Registry) order(id int64) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.threads[id]; t != nil {
		return t.seq, true
	}
	return 0, false
}

// Threads returns the current registrations, by goroutine ID.
func (r *Registry) Threads() []*Thread {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]*Thread, 0, len(r.threads))
	for _, t := range r.threads {
		out = append(out, t)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
