package hostcpu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Wire protocol between Runner and the helper (all integers little-endian).
//
// On start the helper writes a 32-byte hello:
//
//	u32 "GBXH"  u32 version  u64 CodeAddr  u64 DataAddr  u32 DataSize  u32 MXCSR_MASK
//
// Request batch (parent → helper):
//
//	u32 "GBXQ"  u32 count
//	count × { header[400]  code[codeLen]  data[DataSize] if flags&1 }
//	header: u16 codeLen  u16 flags  u32 MXCSR  u64 RFLAGS  u64 GPR[16]  u64 XMM[16][2]  x87[136]
//
// Response (helper → parent), one per case in order, then a trailer:
//
//	header[552]: i32 fault  u32 MXCSR  u64 faultAddr  u64 RIP  u64 RFLAGS  u64 GPR[16]  u64 XMM[16][2]  x87[136]
//	x87: u16 FCW  u16 FSW  u8 FTW(abridged)  u8 pad[3]  8 × { u64 significand  u16 sign/exponent  u8 pad[6] }
//	runs: { u16 offset  u16 length  bytes[length] }*  u16 0  u16 0
//	...
//	u32 "GBXR"  u32 count
//
// The runs are the bytes of the data region that differ from the input
// (small gaps merged), so unchanged memory costs nothing on the way back.
// The parent streams the request from a goroutine while it reads responses,
// so a batch of any size cannot deadlock on full pipes.
const (
	magicHello = 0x48584247 // "GBXH"
	magicReq   = 0x51584247 // "GBXQ"
	magicResp  = 0x52584247 // "GBXR"
	protoVer   = 2

	inHdrSize  = 536
	outHdrSize = 552

	// readTimeout bounds the wait for any single response. The helper's
	// own watchdog aborts runaway cases after ~150 ms, so hitting this
	// means the helper itself is stuck.
	readTimeout = 20 * time.Second
)

// Runner owns one helper child process. Its methods are safe for concurrent
// use but serialize on the child; use several Runners for parallelism.
type Runner struct {
	mu     sync.Mutex
	closed bool

	cmd    *exec.Cmd
	w      *os.File // child's stdin
	r      *os.File // child's stdout
	br     *bufio.Reader
	stderr *headBuffer
	done   chan struct{} // closed when cmd.Wait returned
	werr   error         // cmd.Wait result
	// MXCSRMask is the host's MXCSR_MASK (from FXSAVE), as reported by
	// the helper.
	mxcsrMask uint32
}

// NewRunner builds the helper if necessary (once per process) and starts a
// child.
func NewRunner() (*Runner, error) {
	if _, err := helperPath(); err != nil {
		return nil, err
	}
	r := &Runner{}
	if err := r.start(); err != nil {
		return nil, err
	}
	return r, nil
}

// MXCSRMask returns the host's MXCSR_MASK: MXCSR bits outside it are cleared
// before the state is loaded.
func (r *Runner) MXCSRMask() uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mxcsrMask
}

func (r *Runner) start() error {
	path, err := helperPath()
	if err != nil {
		return err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("hostcpu: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return fmt.Errorf("hostcpu: %w", err)
	}
	r.stderr = &headBuffer{max: 4096}
	cmd := exec.Command(path)
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return fmt.Errorf("hostcpu: starting helper: %w", err)
	}
	inR.Close()
	outW.Close()
	r.cmd, r.w, r.r = cmd, inW, outR
	r.br = bufio.NewReaderSize(outR, 1<<20)
	r.done = make(chan struct{})
	go func() {
		r.werr = cmd.Wait()
		close(r.done)
	}()

	var hello [32]byte
	r.r.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := io.ReadFull(r.br, hello[:]); err != nil {
		return r.fail("reading helper hello", err)
	}
	le := binary.LittleEndian
	if le.Uint32(hello[0:]) != magicHello || le.Uint32(hello[4:]) != protoVer ||
		le.Uint64(hello[8:]) != CodeAddr || le.Uint64(hello[16:]) != DataAddr ||
		le.Uint32(hello[24:]) != DataSize {
		return r.fail("helper hello", fmt.Errorf("unexpected hello % x", hello))
	}
	r.mxcsrMask = le.Uint32(hello[28:])
	return nil
}

// fail kills the child and returns an error that includes whatever the
// child said on stderr and how it exited.
func (r *Runner) fail(what string, err error) error {
	exit := r.kill()
	msg := fmt.Sprintf("hostcpu: %s: %v", what, err)
	if exit != nil {
		msg += fmt.Sprintf(" (helper: %v)", exit)
	} else {
		msg += " (helper exited with status 0)"
	}
	if s := strings.TrimSpace(r.stderr.String()); s != "" {
		msg += "; helper stderr: " + s
	}
	return errors.New(msg)
}

// kill stops the child (if any) and returns its exit status.
func (r *Runner) kill() error {
	if r.cmd == nil {
		return nil
	}
	// If the child already died (typical: it crashed), don't mask its
	// exit status with our SIGKILL.
	select {
	case <-r.done:
	case <-time.After(50 * time.Millisecond):
		r.cmd.Process.Kill()
		<-r.done
	}
	r.w.Close()
	r.r.Close()
	werr := r.werr
	r.cmd, r.w, r.r, r.br = nil, nil, nil, nil
	return werr
}

// Run executes one case. See RunBatch.
func (r *Runner) Run(code []byte, in State) (Result, error) {
	res, err := r.RunBatch([][]byte{code}, []State{in})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// RunBatch executes len(codes) cases; codes[i] runs from state ins[i]. An
// error means the batch as a whole failed (bad input, or the helper died or
// hung — it is then restarted on the next call); per-case faults are
// reported in the Results, not as errors.
func (r *Runner) RunBatch(codes [][]byte, ins []State) ([]Result, error) {
	if len(codes) != len(ins) {
		return nil, fmt.Errorf("hostcpu: RunBatch: %d codes but %d states", len(codes), len(ins))
	}
	for i, c := range codes {
		if len(c) > MaxCodeLen {
			return nil, fmt.Errorf("hostcpu: case %d: code is %d bytes, max %d", i, len(c), MaxCodeLen)
		}
		if d := ins[i].Data; d != nil && len(d) != DataSize {
			return nil, fmt.Errorf("hostcpu: case %d: Data is %d bytes, want 0 or %d", i, len(d), DataSize)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if len(codes) == 0 {
		return []Result{}, nil
	}
	if r.cmd == nil {
		if err := r.start(); err != nil {
			return nil, err
		}
	}
	errc := make(chan error, 1)
	w := r.w
	go func() { errc <- writeBatch(w, codes, ins) }()
	res, err := r.readBatch(ins)
	if err != nil {
		err = r.fail("running batch", err)
		<-errc
		return nil, err
	}
	if werr := <-errc; werr != nil {
		return nil, r.fail("writing batch", werr)
	}
	return res, nil
}

func writeBatch(f *os.File, codes [][]byte, ins []State) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	le := binary.LittleEndian
	var h [inHdrSize]byte
	le.PutUint32(h[0:], magicReq)
	le.PutUint32(h[4:], uint32(len(codes)))
	if _, err := bw.Write(h[:8]); err != nil {
		return err
	}
	for i, code := range codes {
		in := &ins[i]
		var flags uint16
		if in.Data != nil {
			flags |= 1
		}
		le.PutUint16(h[0:], uint16(len(code)))
		le.PutUint16(h[2:], flags)
		le.PutUint32(h[4:], in.MXCSR&0xffff)
		le.PutUint64(h[8:], in.RFLAGS&InputFlags)
		for j, v := range in.GPR {
			le.PutUint64(h[16+8*j:], v)
		}
		for j, x := range in.XMM {
			le.PutUint64(h[144+16*j:], x[0])
			le.PutUint64(h[152+16*j:], x[1])
		}
		putX87(h[400:], in.X87)
		bw.Write(h[:])
		bw.Write(code)
		if in.Data != nil {
			bw.Write(in.Data)
		}
	}
	return bw.Flush()
}

func (r *Runner) readBatch(ins []State) ([]Result, error) {
	le := binary.LittleEndian
	res := make([]Result, len(ins))
	slab := make([]byte, len(ins)*DataSize)
	var h [outHdrSize]byte
	for i := range ins {
		if i%64 == 0 {
			r.r.SetReadDeadline(time.Now().Add(readTimeout))
		}
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			return nil, fmt.Errorf("case %d: %w", i, err)
		}
		o := &res[i]
		o.Fault = int(int32(le.Uint32(h[0:])))
		o.State.MXCSR = le.Uint32(h[4:])
		o.FaultAddr = le.Uint64(h[8:])
		o.RIP = le.Uint64(h[16:])
		o.State.RFLAGS = le.Uint64(h[24:])
		for j := range o.State.GPR {
			o.State.GPR[j] = le.Uint64(h[32+8*j:])
		}
		for j := range o.State.XMM {
			o.State.XMM[j][0] = le.Uint64(h[160+16*j:])
			o.State.XMM[j][1] = le.Uint64(h[168+16*j:])
		}
		o.State.X87 = getX87(h[416:])
		data := slab[i*DataSize : (i+1)*DataSize : (i+1)*DataSize]
		copy(data, ins[i].Data)
		for {
			var run [4]byte
			if _, err := io.ReadFull(r.br, run[:]); err != nil {
				return nil, fmt.Errorf("case %d data: %w", i, err)
			}
			off, n := int(le.Uint16(run[0:])), int(le.Uint16(run[2:]))
			if n == 0 {
				break
			}
			if off+n > DataSize {
				return nil, fmt.Errorf("case %d: bad data run %#x+%#x", i, off, n)
			}
			if _, err := io.ReadFull(r.br, data[off:off+n]); err != nil {
				return nil, fmt.Errorf("case %d data: %w", i, err)
			}
		}
		o.State.Data = data
	}
	var tr [8]byte
	if _, err := io.ReadFull(r.br, tr[:]); err != nil {
		return nil, fmt.Errorf("batch trailer: %w", err)
	}
	if le.Uint32(tr[0:]) != magicResp || int(le.Uint32(tr[4:])) != len(ins) {
		return nil, fmt.Errorf("bad batch trailer % x", tr)
	}
	return res, nil
}

// Close stops the child. The Runner cannot be used afterwards.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cmd == nil {
		return nil
	}
	// Closing stdin makes the helper exit(0) at the next batch header.
	r.w.Close()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	r.r.Close()
	err := r.werr
	r.cmd, r.w, r.r, r.br = nil, nil, nil, nil
	if err != nil {
		return fmt.Errorf("hostcpu: helper exit: %w", err)
	}
	return nil
}

// headBuffer keeps the first max bytes written to it (the helper's stderr).
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		t.b = append(t.b, p[:room]...)
	}
	return len(p), nil
}

func (t *headBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// DefaultX87 is the FNINIT state, used for a zero X87State on input.
var DefaultX87 = X87State{FCW: 0x37F}

func putX87(b []byte, x X87State) {
	le := binary.LittleEndian
	if x.FCW == 0 {
		x = DefaultX87
	}
	clear(b[:136])
	le.PutUint16(b[0:], x.FCW)
	le.PutUint16(b[2:], x.FSW)
	b[4] = x.FTW
	for i, r := range x.ST {
		le.PutUint64(b[8+16*i:], r.M)
		le.PutUint16(b[16+16*i:], r.SE)
	}
}

func getX87(b []byte) (x X87State) {
	le := binary.LittleEndian
	x.FCW = le.Uint16(b[0:])
	x.FSW = le.Uint16(b[2:])
	x.FTW = b[4]
	for i := range x.ST {
		x.ST[i] = F80{SE: le.Uint16(b[16+16*i:]), M: le.Uint64(b[8+16*i:])}
	}
	return x
}
