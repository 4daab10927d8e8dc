package machine

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"glassbox/cpu"
	"glassbox/hoststack"
)

// Two watchdogs, both printing the hang analysis (package hoststack):
//
//   - The spin watchdog (Config.SpinWatchdog, deterministic): every vCPU
//     that is not halted has been spinning — its recent TBs stay within a
//     few bytes of code and its general registers did not change between
//     samples a million instructions apart — for that many instructions,
//     and none of them waits with IF=1 for a timer or a pending interrupt
//     or polls an I/O port (a UART or keyboard waiting for host input).
//     Run returns StopWatchdog; the analysis then finds who spins on which
//     lock word and who holds it.
//   - The host watchdog (StartHostWatchdog, wall clock): Run is executing
//     but no vCPU turn has completed for a while — the emulator itself is
//     stuck (a device handler blocked, a lost wakeup). It cannot stop the
//     machine at an instruction boundary, so it prints the goroutine
//     analysis without touching vCPU state.

// spinSample is how many instructions apart the spin watchdog samples.
const spinSample = 1_000_000

// excLoopLimit is how many identical faults in a row the spin watchdog
// calls an exception loop.
const excLoopLimit = 100_000

type spinState struct {
	loop    string       // set when the watchdog fired for an exception loop
	since   uint64       // instructions since the last sample
	stuck   uint64       // instructions every vCPU has been stuck for
	last    [][16]uint64 // each vCPU's registers at the previous sample
	sampled bool         // last holds a sample
}

// spinCheck runs after a round in which ran instructions retired. It
// reports whether the spin watchdog fires, and the first stuck vCPU.
func (m *Machine) spinCheck(ran uint64) (int, bool) {
	s := &m.spin
	s.since += ran
	if s.since < spinSample {
		return 0, false
	}
	elapsed := s.since
	s.since = 0
	if len(s.last) != len(m.CPUs) {
		s.last = make([][16]uint64, len(m.CPUs))
	}
	for i, c := range m.CPUs {
		if c.ExcRepeat >= excLoopLimit {
			s.loop = fmt.Sprintf("exception loop on CPU %d: %s at %#x delivered %d times in a row", c.ID,
				cpu.VectorNames[c.LastExc.Vector], c.LastExc.EIP, c.ExcRepeat)
			c.ExcRepeat = 0
			return i, true
		}
	}
	_, timer := m.Clock.NextDeadline()
	first, stuck, any := -1, true, false
	for i, c := range m.CPUs {
		same := s.sampled && s.last[i] == c.R
		s.last[i] = c.R
		if c.Halted || c.WaitingForSIPI() {
			continue
		}
		if c.Flags()&cpu.FLAG_IF != 0 && (timer || c.IntController().Pending()) {
			stuck = false // waiting for an interrupt that will come
			continue
		}
		if !same { // cheap test first: the TB lookups below are not
			stuck = false
			continue
		}
		lo, hi, spin := hoststack.SpinRange(m.recentPCs(c))
		if !spin || m.pollsDevice(c, lo, hi) {
			stuck = false
			continue
		}
		any = true
		if first < 0 {
			first = i
		}
	}
	s.sampled = true
	if !stuck || !any {
		s.stuck = 0
		return 0, false
	}
	s.stuck += elapsed
	if s.stuck < m.cfg.SpinWatchdog {
		return 0, false
	}
	s.stuck = 0
	return first, true
}

// Progress counts completed vCPU turns (the host watchdog's heartbeat).
func (m *Machine) Progress() uint64 { return m.progress.Load() }

// Running reports whether Run is executing.
func (m *Machine) Running() bool { return m.inRun.Load() }

// StartHostWatchdog starts the "watchdog" goroutine: when Run has been
// executing for timeout without completing a vCPU turn, it writes the hang
// analysis to w (once per stall). The returned function stops it.
func (m *Machine) StartHostWatchdog(timeout time.Duration, w io.Writer) func() {
	done := make(chan struct{})
	var stopped atomic.Bool
	ready := make(chan struct{})
	go func() {
		// Registered before StartHostWatchdog returns, so thread numbers
		// are the same in every run.
		th := m.Threads.Register("watchdog")
		defer th.Done()
		close(ready)
		tick := timeout / 4
		if tick < 10*time.Millisecond {
			tick = 10 * time.Millisecond
		}
		t := time.NewTicker(tick)
		defer t.Stop()
		last, since, reported := m.Progress(), time.Now(), false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			p := m.Progress()
			if p != last || !m.Running() {
				last, since, reported = p, time.Now(), false
				continue
			}
			if reported || time.Since(since) < timeout {
				continue
			}
			reported = true
			snap, err := hoststack.Capture(m.Threads)
			if err != nil {
				fmt.Fprintf(w, "glassbox: watchdog: no vCPU finished a turn for %v; capturing stacks failed: %v\n", timeout, err)
				continue
			}
			// vCPU state cannot be read while a vCPU goroutine may be
			// running: report them as running, and let the goroutine
			// evidence speak.
			f := hoststack.Facts{RunState: "running", Window: timeout} // Retired: 0 for every vCPU
			for _, c := range m.CPUs {
				f.VCPUs = append(f.VCPUs, hoststack.VCPU{ID: c.ID, State: hoststack.VCPURunning})
			}
			if i := int(m.turn.Load()); i >= 0 && i < len(m.CPUs) {
				f.Waits = append(f.Waits, hoststack.Dependency{From: "main-loop", To: fmt.Sprintf("CPU %d/TCG", m.CPUs[i].ID),
					Why: "the end of the vCPU's turn"})
			}
			fmt.Fprintf(w, "glassbox: watchdog: no vCPU finished a turn for %v (the emulator is stuck, not the guest)\n%s",
				timeout, hoststack.Analyze(snap, f).String())
		}
	}()
	<-ready
	return func() {
		if stopped.CompareAndSwap(false, true) {
			close(done)
		}
	}
}

// pollsDevice reports whether the spin loop of c (its recent TBs within
// [lo, hi]) reads an I/O port: waiting for a device (a UART's receiver,
// the keyboard controller) that host input may satisfy at any time.
func (m *Machine) pollsDevice(c *cpu.CPU, lo, hi uint64) bool {
	for _, id := range c.History() {
		if t := m.TBs.ByID(id); t != nil && t.Key.PC >= lo && t.Key.PC <= hi && cpu.ReadsPorts(t) {
			return true
		}
	}
	return false
}
