package gdbstub

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/guests"
	"glassbox/loader"
	"glassbox/machine"
	"glassbox/target"
)

// An in-repo RSP client for protocol tests, and helpers that start a
// machine with a stub on a loopback port.

const ioTimeout = 5 * time.Second

type client struct {
	t     testing.TB
	c     net.Conn
	r     *bufio.Reader
	noAck bool
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	return cl
}

func (c *client) close() { c.c.Close() }

// raw writes bytes as they are.
func (c *client) raw(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func pkt(data string) string { return string(frame([]byte(data))) }

// readByte reads one byte with the I/O timeout.
func (c *client) readByte() (byte, error) {
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	return c.r.ReadByte()
}

// expectAck reads the '+' for a packet we sent (ack mode only).
func (c *client) expectAck() {
	c.t.Helper()
	if c.noAck {
		return
	}
	b, err := c.readByte()
	if err != nil {
		c.t.Fatalf("waiting for ack: %v", err)
	}
	if b != '+' {
		c.t.Fatalf("want ack '+', got %q", b)
	}
}

// send sends one packet and consumes its ack.
func (c *client) send(data string) {
	c.t.Helper()
	c.raw(pkt(data))
	c.expectAck()
}

// recvRaw reads one packet (skipping stray acks), checks its checksum and
// acknowledges it. It returns the packet data, still escaped.
func (c *client) recvRaw() (string, error) {
	for {
		b, err := c.readByte()
		if err != nil {
			return "", err
		}
		if b == '+' || b == '-' {
			continue
		}
		if b != '$' {
			return "", fmt.Errorf("unexpected byte %q outside a packet", b)
		}
		var data []byte
		for {
			b, err := c.readByte()
			if err != nil {
				return "", err
			}
			if b == '#' {
				break
			}
			data = append(data, b)
		}
		var cs [2]byte
		for i := range cs {
			if cs[i], err = c.readByte(); err != nil {
				return "", err
			}
		}
		if fmt.Sprintf("%02x", checksum(data)) != string(cs[:]) {
			return "", fmt.Errorf("bad checksum on %q: %s", data, cs)
		}
		if !c.noAck {
			c.raw("+")
		}
		return string(data), nil
	}
}

func (c *client) recv() string {
	c.t.Helper()
	s, err := c.recvRaw()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return s
}

// cmd sends a packet and returns the reply.
func (c *client) cmd(data string) string {
	c.t.Helper()
	c.send(data)
	return c.recv()
}

// cmdConsole sends a packet and collects O console packets until the
// final reply.
func (c *client) cmdConsole(data string) (console, reply string) {
	c.t.Helper()
	c.send(data)
	return c.collect()
}

// collect reads O packets until a non-O packet arrives.
func (c *client) collect() (console, reply string) {
	c.t.Helper()
	var out strings.Builder
	for {
		r := c.recv()
		if len(r) > 1 && r[0] == 'O' && r != "OK" {
			b, err := hex.DecodeString(r[1:])
			if err != nil {
				c.t.Fatalf("bad O packet %q", r)
			}
			out.Write(b)
			continue
		}
		return out.String(), r
	}
}

// expectEOF checks that the stub closed the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	for {
		b, err := c.readByte()
		if err == io.EOF {
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "reset") {
				return
			}
			c.t.Fatalf("want EOF, got %v", err)
		}
		_ = b
	}
}

// handshake does what gdb does first: qSupported and ?.
func (c *client) handshake() string {
	c.t.Helper()
	c.raw("+")
	c.cmd("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+")
	return c.cmd("?")
}

// syncBuffer is a goroutine-safe bytes.Buffer for serial output and logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stub is a machine with a gdb stub listening on a loopback port.
type stub struct {
	t      *target.Target
	srv    *Server
	addr   string
	serial *syncBuffer
	log    *syncBuffer
	kills  chan struct{}
}

type guestKind int

const (
	demoGuest guestKind = iota
	kernelGuest
)

type fmtWriter = io.Writer

func regsWithMode(m string) target.Regs { return target.Regs{Mode: m} }

// startStub boots a guest and serves it on 127.0.0.1:0. OnKill defaults
// to a hook that signals s.kills.
func startStub(t testing.TB, g guestKind, cfg Config) *stub {
	t.Helper()
	return startStubKill(t, g, cfg, true)
}

func startStubKill(t testing.TB, g guestKind, cfg Config, killHook bool) *stub {
	t.Helper()
	serial := &syncBuffer{}
	m, err := machine.New(machine.Config{RAM: 128 << 20, Serial: serial})
	if err != nil {
		t.Fatal(err)
	}
	switch g {
	case demoGuest:
		if err := m.LoadBIOS(guests.DemoROM); err != nil {
			t.Fatal(err)
		}
	case kernelGuest:
		k := buildKernel(t)
		data, err := os.ReadFile(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.LoadKernel(data, k, loader.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	tg := target.New(m)
	s := &stub{t: tg, serial: serial, log: &syncBuffer{}, kills: make(chan struct{}, 4)}
	cfg.Log = s.log
	if cfg.OnKill == nil && killHook {
		cfg.OnKill = func() { s.kills <- struct{}{} }
	}
	srv, err := New(tg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

var (
	kernelOnce sync.Once
	kernelPath string
	kernelErr  error
	kernelDir  string
)

// buildKernel compiles testdata/kernel once per test binary.
func buildKernel(t testing.TB) string {
	t.Helper()
	kernelOnce.Do(func() {
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			kernelErr = fmt.Errorf("gcc not found: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "gdbstub-kernel")
		if err != nil {
			kernelErr = err
			return
		}
		kernelDir = dir
		src, _ := filepath.Abs("testdata/kernel")
		out := filepath.Join(dir, "kernel.elf")
		args := []string{"-m32", "-g", "-O0", "-ffreestanding", "-nostdlib", "-static",
			"-fno-pic", "-fno-pie", "-no-pie", "-fno-stack-protector", "-fcf-protection=none",
			"-mgeneral-regs-only", "-fno-asynchronous-unwind-tables",
			"-Wl,-T," + filepath.Join(src, "link.ld"), "-Wl,--build-id=none",
			"-Wl,-z,noexecstack", "-Wl,--no-warn-rwx-segments",
			"-o", out, filepath.Join(src, "entry.S"), filepath.Join(src, "kernel.c")}
		cmd := exec.Command(gcc, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			kernelErr = fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
			return
		}
		kernelPath = out
	})
	if kernelErr != nil {
		t.Skipf("cannot build the test kernel: %v", kernelErr)
	}
	return kernelPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if kernelDir != "" {
		os.RemoveAll(kernelDir)
	}
	os.Exit(code)
}

// kernelSym returns the address of a symbol of the test kernel (from nm).
func kernelSym(t testing.TB, name string) uint64 {
	t.Helper()
	k := buildKernel(t)
	out, err := exec.Command("nm", k).Output()
	if err != nil {
		t.Skipf("nm: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == name {
			v, err := parseHex(f[0])
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("symbol %s not found in the test kernel", name)
	return 0
}

// le32 formats v as 8 little-endian hex digits.
func le32(v uint32) string {
	return fmt.Sprintf("%02x%02x%02x%02x", byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// regAt decodes register name from a g reply with layout l.
func regAt(t testing.TB, l *layout, g, name string) uint64 {
	t.Helper()
	off := 0
	for _, d := range l.regs {
		n := d.bits / 4
		if d.name == name {
			b, err := hex.DecodeString(g[off : off+n])
			if err != nil {
				t.Fatal(err)
			}
			return decodeLE(b)
		}
		off += n
	}
	t.Fatalf("no register %s", name)
	return 0
}
