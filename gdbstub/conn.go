package gdbstub

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime/pprof"
	"sync"
	"time"

	"glassbox/target"
)

// conn is one gdb client session. All protocol handling happens on the
// goroutine running loop; a reader goroutine turns bytes into events.
type conn struct {
	s   *Server
	t   *target.Target
	c   net.Conn
	lay *layout
	xml string // the target description of this connection

	events chan event

	wmu      sync.Mutex
	w        *bufio.Writer
	lastSent []byte

	noAck   bool
	swbreak bool // client accepts swbreak stop reasons
	hwbreak bool
	phys    bool // monitor phys on: m/M/X on physical addresses

	curG     int // cpu index for g/G/p/P/m/M (Hg)
	curC     int // cpu index for s/c (Hc), -1 = all/any
	lastStop *target.Stop
	stopCPU  int
	// terminal is set after the guest stopped for good (shutdown,
	// halted, emulator error) and that stop was reported as a signal;
	// the next resume reports the exit.
	terminal bool
	exited   bool

	bps     map[uint64]bpKinds // linear address -> Z0/Z1 set
	wps     map[wpKey]int      // Z2/Z3/Z4 -> target watchpoint id
	wpByID  map[int]wpKey      // reverse
	physWPs map[int]string     // monitor wp-phys ids -> description
	xfer    map[string][]byte  // qXfer snapshots by object:annex

	killed bool
}

type bpKinds struct{ sw, hw bool }

type wpKey struct {
	kind byte // '2' write, '3' read, '4' access
	addr uint64
	len  uint64
}

func newConn(s *Server, c net.Conn) *conn {
	cn := &conn{s: s, t: s.t, c: c, lay: s.lay, events: make(chan event, 64),
		w: bufio.NewWriter(c), curC: -1,
		bps: map[uint64]bpKinds{}, wps: map[wpKey]int{}, wpByID: map[int]wpKey{}, physWPs: map[int]string{},
		xfer: map[string][]byte{}}
	return cn
}

// read is the reader goroutine: it parses bytes into events and closes
// the channel at EOF.
func (cn *conn) read() {
	defer close(cn.events)
	var p parser
	br := bufio.NewReader(cn.c)
	for {
		b, err := br.ReadByte()
		if err != nil {
			return
		}
		if ev, ok := p.feed(b); ok {
			cn.events <- ev
		}
	}
}

// attach takes control of the guest: background running stops and the
// guest is quiescent when attach returns.
func (cn *conn) attach() {
	cn.t.Hold()
	quiesce(cn.t)
	if ls := cn.t.LastStop(); ls != nil && ls.Terminal() {
		cn.lastStop = ls
		cn.exited = ls.Reason == "exited"
		cn.stopCPU = ls.CPU
	}
	cn.curG = cn.stopCPU
	cn.xml = cn.lay.xml
	if !cn.lay.wide {
		if r, err := cn.t.Regs(cn.stopCPU); cn.s.force16 || err == nil && r.Bits == 16 {
			cn.xml = cn.lay.xml16
		}
	}
	if r, err := cn.t.Regs(cn.stopCPU); err == nil && !cn.lay.fits(&r) {
		cn.s.logf("the CPU is in %s mode but the gdb connection uses the %s register layout: gdb sees the low 32 bits of each register (use -gdb ...,arch=x86-64)", r.Mode, cn.lay.arch)
	}
}

// quiesce waits until the guest is really stopped after Hold. Hold only
// asks for a pause; a pause requested just before the background runner
// enters Continue is lost (machine.Run clears its stop request when it
// starts), so keep asking until the target is idle for a while.
func quiesce(t *target.Target) {
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			t.Pause()
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	idle := 0
	for idle < 3 {
		t.LastStop() // takes the target lock: waits for a running Continue
		if t.Running() {
			idle = 0
		} else {
			idle++
		}
		time.Sleep(time.Millisecond)
	}
	close(done)
}

// detach gives the guest back: our breakpoints and watchpoints go away and
// background running resumes (unless gdb killed the emulator).
func (cn *conn) detach() {
	cn.dropDebugState()
	s := cn.s
	if cn.killed {
		s.mu.Lock()
		s.killed = true
		s.mu.Unlock()
		return
	}
	cn.t.Release()
	s.mu.Lock()
	if s.adopted {
		s.adopted = false
		s.mu.Unlock()
		cn.t.Release()
	} else {
		s.mu.Unlock()
	}
	cn.t.Wake()
}

// dropDebugState removes the breakpoints and watchpoints of the session.
func (cn *conn) dropDebugState() {
	for addr := range cn.bps {
		cn.t.RemoveBreakpointAt(addr)
	}
	for id := range cn.wpByID {
		cn.t.RemoveWatchpoint(id)
	}
	for id := range cn.physWPs {
		cn.t.RemoveWatchpoint(id)
	}
	cn.bps, cn.wps, cn.wpByID, cn.physWPs = map[uint64]bpKinds{}, map[wpKey]int{}, map[int]wpKey{}, map[int]string{}
}

// send writes one packet (data unescaped text; callers escape binary
// parts) and flushes.
func (cn *conn) send(data []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	f := frame(data)
	cn.lastSent = f
	cn.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	cn.w.Write(f)
	return cn.w.Flush()
}

// writeTimeout bounds how long the stub waits for a client that does not
// read its replies.
const writeTimeout = 30 * time.Second

func (cn *conn) sendString(s string) error { return cn.send([]byte(s)) }

func (cn *conn) sendRaw(b []byte) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	cn.w.Write(b)
	cn.w.Flush()
}

// console sends text as an O packet (only legal while a resume or a
// qRcmd is in progress).
func (cn *conn) console(text string) {
	for len(text) > 0 {
		n := len(text)
		if n > PacketSize/2-4 {
			n = PacketSize/2 - 4
		}
		cn.send([]byte("O" + hexText([]byte(text[:n]))))
		text = text[n:]
	}
}

// loop processes events until the client goes away, detaches or kills.
func (cn *conn) loop() {
	for ev := range cn.events {
		if !cn.event(ev) {
			return
		}
	}
}

// event handles one event while the guest is stopped; false ends the
// session.
func (cn *conn) event(ev event) bool {
	switch ev.kind {
	case evAck:
	case evNack:
		if !cn.noAck && cn.lastSent != nil {
			cn.sendRaw(cn.lastSent)
		}
	case evInterrupt:
		// The guest is stopped: nothing to interrupt (gdb only sends
		// 0x03 while the guest runs; a late one after the stop is
		// harmless).
	case evPacket:
		if ev.bad || ev.tooLong {
			if ev.tooLong {
				cn.s.logf("discarded a packet longer than %d bytes", maxPacket)
			}
			if !cn.noAck && !ev.tooLong {
				cn.sendRaw([]byte("-"))
				return true
			}
			if !cn.noAck {
				cn.sendRaw([]byte("+"))
			}
			cn.sendString("E01")
			return true
		}
		if !cn.noAck {
			cn.sendRaw([]byte("+"))
		}
		data, err := decodePacket(ev.data)
		if err != nil {
			cn.sendString("E01")
			return true
		}
		return cn.dispatch(data)
	}
	return true
}

// resume runs the guest (run is t.Continue or t.Step in a goroutine),
// handling 0x03 interrupts and client disconnects meanwhile, then reports
// the stop. It returns false when the client went away.
func (cn *conn) resume(run func(ctx context.Context) *target.Stop) bool {
	if cn.exited || cn.terminal {
		cn.reportExit()
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan *target.Stop, 1)
	go func() {
		// this goroutine is the machine's main loop while the guest runs
		pprof.Do(ctx, pprof.Labels("glassbox.thread", "main-loop"), func(ctx context.Context) {
			res <- run(ctx)
		})
	}()
	alive := true
	for {
		select {
		case st := <-res:
			// after an interrupt the stop may have another reason (a
			// breakpoint hit at the same time): report what happened
			if !alive {
				cn.lastStop = st
				cn.stopCPU = st.CPU
				return false
			}
			cn.reportStop(st)
			return true
		case ev, ok := <-cn.events:
			if !ok {
				// client gone: stop the guest, then clean up
				alive = false
				cancel()
				cn.events = nil
				continue
			}
			switch ev.kind {
			case evInterrupt:
				cancel()
				cn.t.Pause()
			case evNack:
				if !cn.noAck && cn.lastSent != nil {
					cn.sendRaw(cn.lastSent)
				}
			case evPacket:
				// All-stop: gdb sends nothing but 0x03 while the guest
				// runs. Acknowledge and drop anything else.
				if !cn.noAck {
					if ev.bad {
						cn.sendRaw([]byte("-"))
					} else {
						cn.sendRaw([]byte("+"))
					}
				}
				cn.s.logf("ignored a packet received while the guest runs: %.40q", ev.data)
			}
		}
	}
}

// reportStop sends the stop reply for st and records it.
func (cn *conn) reportStop(st *target.Stop) {
	cn.lastStop = st
	if st.CPU >= 0 && st.CPU < cn.t.NumCPUs() {
		cn.stopCPU = st.CPU
	}
	cn.curG = cn.stopCPU
	cn.xml = cn.lay.xml
	if !cn.lay.wide {
		if r, err := cn.t.Regs(cn.stopCPU); cn.s.force16 || err == nil && r.Bits == 16 {
			cn.xml = cn.lay.xml16
		}
	}
	if r, err := cn.t.Regs(cn.stopCPU); err == nil && !cn.lay.fits(&r) {
		cn.console(fmt.Sprintf("glassbox: CPU#%d is in %s mode but this gdb connection uses the 32-bit i386 register layout: "+
			"registers show their low 32 bits only. Reconnect to a glassbox started with -gdb ...,arch=x86-64 to see 64-bit registers.\n", cn.stopCPU, r.Mode))
	}
	switch st.Reason {
	case "exited":
		cn.exited = true
		cn.reportExit()
		return
	case "shutdown":
		cn.terminal = true
		cn.console(fmt.Sprintf("glassbox: CPU#%d triple-faulted: the machine shut down and cannot run any more. "+
			"The registers show the state at the fault; resuming ends the session.\n", st.CPU))
		cn.sendString(cn.stopReply(st, 0x0b)) // SIGSEGV
		return
	case "halted":
		cn.terminal = true
		cn.console("glassbox: every vCPU is halted and nothing can wake them (interrupts disabled, no timer): the guest cannot run any more. Resuming ends the session.\n")
		cn.sendString(cn.stopReply(st, 0x05))
		return
	case "error":
		cn.terminal = true
		cn.console(fmt.Sprintf("glassbox: emulator error: %v\nResuming ends the session.\n", st.Err))
		cn.sendString(cn.stopReply(st, 0x06)) // SIGABRT
		return
	case "paused":
		cn.sendString(cn.stopReply(st, 0x02)) // SIGINT
		return
	case "watchpoint":
		if st.Watch != nil {
			if desc, ok := cn.physWPs[st.Watch.ID]; ok {
				cn.console(fmt.Sprintf("glassbox: physical watchpoint %d (%s) hit: %s at physical %#x, pc %#x\n",
					st.Watch.ID, desc, rw(st.Watch.Write), st.Watch.Addr, st.PC))
			}
		}
	}
	cn.sendString(cn.stopReply(st, 0x05))
}

func rw(write bool) string {
	if write {
		return "write"
	}
	return "read"
}

// reportExit sends W (the process exit status) and lets the background
// runner see that the guest has terminated.
func (cn *conn) reportExit() {
	st := cn.lastStop
	status := 0
	if st != nil {
		status = st.ExitStatus
	}
	cn.exited = true
	cn.sendString(fmt.Sprintf("W%02x", status&0xff))
	cn.t.Wake()
}

// stopReply builds a T packet for st with signal sig.
func (cn *conn) stopReply(st *target.Stop, sig int) string {
	s := fmt.Sprintf("T%02xthread:%x;", sig, cn.stopCPU+1)
	if st == nil {
		return s
	}
	switch st.Reason {
	case "breakpoint":
		k := cn.bps[st.PC]
		switch {
		case k.hw && !k.sw && cn.hwbreak:
			s += "hwbreak:;"
		case cn.swbreak:
			s += "swbreak:;"
		}
	case "watchpoint":
		if st.Watch == nil {
			break
		}
		key, ok := cn.wpByID[st.Watch.ID]
		if !ok {
			break
		}
		addr := st.Watch.Addr
		if addr < key.addr || addr >= key.addr+key.len {
			// an access that starts before the watched range
			addr = key.addr
		}
		name := "watch"
		switch key.kind {
		case '3':
			name = "rwatch"
		case '4':
			name = "awatch"
		}
		s += fmt.Sprintf("%s:%x;", name, addr)
	}
	return s
}
