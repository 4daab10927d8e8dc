package gdbstub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/pprof"
	"sync"
	"time"

	"glassbox/target"
)

// Config configures a Server.
type Config struct {
	// Arch is the register layout: ArchI386, ArchX8664, ArchI8086 or ""
	// for the default chosen from the booted image (DefaultArch).
	Arch string
	// Monitor runs `monitor CMD` commands the stub does not handle itself
	// (the REPL provides it). Output written to w reaches gdb as console
	// output. nil: only the built-in commands exist.
	Monitor func(cmd string, w io.Writer) error
	// OnKill is called (on the connection's goroutine, after the
	// connection is closed) when gdb sends k or vKill. The glassbox
	// command exits the process from it. nil: the guest stays stopped and
	// further connections are refused.
	OnKill func()
	// Log receives one-line notices (client connected, refused, ...);
	// nil discards them.
	Log io.Writer
	// AdoptHold makes the server own one extra target.Hold taken by the
	// caller before serving (glassbox -S): it is released when the first
	// client detaches or disconnects, so the guest runs after gdb leaves.
	AdoptHold bool
}

// Server serves the GDB remote protocol for one target, one client at a
// time.
type Server struct {
	t   *target.Target
	cfg Config
	lay *layout
	// force16 declares the i386 layout as i8086 on every connection.
	force16 bool

	mu       sync.Mutex
	active   bool
	adopted  bool // AdoptHold still pending
	killed   bool
	lns      []net.Listener
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup
	sstepIRQ bool
}

// DefaultArch picks the register layout for what the machine booted: an
// ELF64 kernel gets x86-64, a BIOS ROM or an ELF32 / a.out multiboot
// kernel gets i386.
func DefaultArch(t *target.Target) string {
	if m := t.Machine(); m != nil && m.Image != nil {
		if m.Image.Kind == "elf64" {
			return ArchX8664
		}
		if m.Image.Kind == "multiboot" && !m.Image.ELF32 && m.Image.Symbols != "" {
			// an ELF64 file loaded through the a.out kludge: it will
			// most likely switch to long mode.
			return ArchX8664
		}
	}
	return ArchI386
}

// New returns a server for t.
func New(t *target.Target, cfg Config) (*Server, error) {
	a, err := normArch(cfg.Arch)
	if err != nil {
		return nil, err
	}
	if a == "" {
		a = DefaultArch(t)
	}
	force16 := a == ArchI8086
	if force16 {
		a = ArchI386
	}
	s := &Server{t: t, cfg: cfg, lay: layouts[a], force16: force16, conns: map[net.Conn]bool{}, adopted: cfg.AdoptHold,
		sstepIRQ: false}
	return s, nil
}

// Arch is the register layout in use.
func (s *Server) Arch() string { return s.lay.arch }

func (s *Server) logf(format string, a ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, "glassbox: gdb stub: "+format+"\n", a...)
	}
}

// Serve accepts clients on ln until ln is closed or Close is called. Its
// goroutines carry the pprof label glassbox.thread=gdbstub.
func (s *Server) Serve(ln net.Listener) error {
	var err error
	pprof.Do(context.Background(), pprof.Labels("glassbox.thread", "gdbstub"), func(context.Context) {
		err = s.serve(ln)
	})
	return err
}

func (s *Server) serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		go s.admit(c)
	}
}

// admitWait is how long a new connection waits for the previous session
// to wind down (a gdb that disconnects and reconnects at once) before it
// is refused.
const admitWait = 500 * time.Millisecond

// admit starts a session for c, or refuses it while another client is
// connected.
func (s *Server) admit(c net.Conn) {
	deadline := time.Now().Add(admitWait)
	for {
		s.mu.Lock()
		busy, killed, closed := s.active, s.killed, s.closed
		if !busy && !killed && !closed {
			s.active = true
			s.conns[c] = true
			s.wg.Add(1)
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		switch {
		case closed:
			c.Close()
			return
		case killed:
			s.logf("refused a connection from %s: the emulator was killed by gdb", remoteName(c))
			refuse(c, "glassbox: the emulator was killed by gdb")
			return
		case time.Now().After(deadline):
			s.logf("refused a second gdb connection from %s: only one client at a time", remoteName(c))
			refuse(c, "glassbox: another gdb is already connected (one client at a time)")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer s.wg.Done()
	s.handle(c)
	s.mu.Lock()
	delete(s.conns, c)
	s.active = false
	s.mu.Unlock()
}

// refuse turns a connection away cleanly: it waits (briefly) for the
// client's first packet, acknowledges it and answers with an "E.message"
// error, which gdb prints ("Remote failure reply: E.glassbox: ..."), then
// drains and closes the connection (closing with unread input would reset
// it and hide the message).
func refuse(c net.Conn, msg string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	var p parser
	buf := make([]byte, 512)
read:
	for {
		n, err := c.Read(buf)
		for _, b := range buf[:n] {
			if ev, ok := p.feed(b); ok && ev.kind == evPacket {
				break read
			}
		}
		if err != nil {
			break
		}
	}
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(append([]byte("+"), frame([]byte("E."+msg))...))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

// Close stops accepting, disconnects the client (which resumes the guest
// like a detach) and waits for the connection goroutine to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.lns {
		ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// handle runs one client connection.
func (s *Server) handle(c net.Conn) {
	defer c.Close()
	s.logf("gdb connected from %s", remoteName(c))
	cn := newConn(s, c)
	go cn.read()
	cn.attach()
	cn.loop()
	kill, exited := cn.killed, cn.exited
	cn.detach()
	c.Close()
	if kill {
		s.logf("killed by gdb")
		if s.cfg.OnKill != nil {
			s.cfg.OnKill()
		}
	} else if exited {
		s.logf("gdb disconnected")
	} else {
		s.logf("gdb disconnected; the guest resumes")
	}
}

func remoteName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return c.LocalAddr().Network() + " socket"
}
