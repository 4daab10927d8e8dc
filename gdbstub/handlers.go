package gdbstub

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"glassbox/target"
)

// Error replies.
const (
	errMalformed = "E01" // the packet could not be parsed
	errThread    = "E02" // no such thread (vCPU)
	errBadValue  = "E16" // a register or value the target refuses
	errFault     = "E14" // EFAULT: memory not mapped / not accessible
	errInvalid   = "E22" // EINVAL: bad argument (length, kind, ...)
)

// dispatch handles one decoded packet. It returns false when the session
// ends (detach, kill).
func (cn *conn) dispatch(p []byte) bool {
	if len(p) == 0 {
		cn.sendString("")
		return true
	}
	cmd := string(p)
	switch p[0] {
	case '?':
		cn.sendString(cn.haltReason())
	case 'g':
		cn.readRegs()
	case 'G':
		cn.writeRegs(cmd[1:])
	case 'p':
		cn.readReg(cmd[1:])
	case 'P':
		cn.writeReg(cmd[1:])
	case 'm':
		cn.readMem(cmd[1:])
	case 'M':
		cn.writeMem(cmd[1:])
	case 'X':
		cn.writeMemBinary(p[1:])
	case 'c', 'C', 's', 'S':
		return cn.resumeLegacy(cmd)
	case 'v':
		return cn.vPacket(cmd)
	case 'H':
		cn.setThread(cmd[1:])
	case 'T':
		id, err := parseThreadID(cmd[1:])
		if err != nil {
			cn.sendString(errMalformed)
		} else if id < 1 || id > cn.t.NumCPUs() {
			cn.sendString(errThread)
		} else {
			cn.sendString("OK")
		}
	case 'q':
		cn.query(cmd)
	case 'Q':
		cn.setQuery(cmd)
	case 'Z', 'z':
		cn.breakpoint(cmd)
	case 'D':
		cn.sendString("OK")
		return false
	case 'k':
		// no reply: gdb closes the connection
		cn.killed = true
		return false
	case '!':
		cn.sendString("") // extended mode is not supported
	default:
		cn.sendString("") // unsupported
	}
	return true
}

func (cn *conn) haltReason() string {
	if cn.exited {
		status := 0
		if cn.lastStop != nil {
			status = cn.lastStop.ExitStatus
		}
		return fmt.Sprintf("W%02x", status&0xff)
	}
	// the stop that handed control to gdb: report a plain SIGTRAP
	return fmt.Sprintf("T05thread:%x;", cn.stopCPU+1)
}

// cpuG is the vCPU index for register and memory access (Hg).
func (cn *conn) cpuG() int { return cn.curG }

func (cn *conn) regs() (target.Regs, bool) {
	r, err := cn.t.Regs(cn.cpuG())
	if err != nil {
		cn.sendString(errThread)
		return r, false
	}
	return r, true
}

func (cn *conn) readRegs() {
	r, ok := cn.regs()
	if !ok {
		return
	}
	cn.send(cn.lay.encodeAll(&r))
}

func (cn *conn) readReg(arg string) {
	n, err := parseHex(arg)
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	if n >= uint64(len(cn.lay.regs)) {
		cn.sendString(errInvalid)
		return
	}
	r, ok := cn.regs()
	if !ok {
		return
	}
	cn.send(cn.lay.appendReg(nil, int(n), &r))
}

// setRegValue writes register i. Registers without a setter accept and
// ignore writes; read-only ones accept a write of their current value;
// x87/SSE registers ("fpu" setter) take their raw bytes.
func (cn *conn) setRegValue(i int, raw []byte, cur *target.Regs) error {
	d := &cn.lay.regs[i]
	v := decodeLE(raw)
	switch d.set {
	case "":
		return nil
	case "fpu":
		if string(cn.lay.appendReg(nil, i, cur)) == hexText(raw) {
			return nil // unchanged (a G packet rewrites every register)
		}
		return cn.t.SetFPUReg(cn.cpuG(), d.name, raw)
	case "-":
		if v != cn.lay.value(i, cur) {
			return fmt.Errorf("register %s is read-only", d.name)
		}
		return nil
	}
	if v == cn.lay.value(i, cur) {
		return nil
	}
	return cn.t.SetReg(cn.cpuG(), d.set, v)
}

func (cn *conn) writeReg(arg string) {
	ns, val, ok := strings.Cut(arg, "=")
	if !ok {
		cn.sendString(errMalformed)
		return
	}
	n, err := parseHex(ns)
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	if n >= uint64(len(cn.lay.regs)) {
		cn.sendString(errInvalid)
		return
	}
	raw, err := hexBytes(val)
	if err != nil || len(raw) != cn.lay.regs[n].bits/8 {
		cn.sendString(errMalformed)
		return
	}
	r, ok := cn.regs()
	if !ok {
		return
	}
	if err := cn.setRegValue(int(n), raw, &r); err != nil {
		cn.sendString(errBadValue)
		return
	}
	cn.sendString("OK")
}

func (cn *conn) writeRegs(arg string) {
	raw, err := hexBytes(arg)
	if err != nil || len(raw) == 0 || len(raw) > cn.lay.size {
		cn.sendString(errMalformed)
		return
	}
	r, ok := cn.regs()
	if !ok {
		return
	}
	off := 0
	failed := false
	for i, d := range cn.lay.regs {
		n := d.bits / 8
		if off+n > len(raw) {
			break // a short G writes the leading registers only
		}
		if err := cn.setRegValue(i, raw[off:off+n], &r); err != nil {
			failed = true
		}
		off += n
	}
	if failed {
		cn.sendString(errBadValue)
		return
	}
	cn.sendString("OK")
}

// parseAddrLen parses "ADDR,LEN".
func parseAddrLen(s string) (uint64, uint64, error) {
	a, l, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, fmt.Errorf("want ADDR,LEN")
	}
	addr, err := parseHex(a)
	if err != nil {
		return 0, 0, err
	}
	n, err := parseHex(l)
	if err != nil {
		return 0, 0, err
	}
	return addr, n, nil
}

// maxMem is the most memory one m packet returns (hex doubles it).
const maxMem = PacketSize/2 - 16

func (cn *conn) readMem(arg string) {
	addr, n, err := parseAddrLen(arg)
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	if n > maxMem {
		n = maxMem // a partial read is allowed
	}
	if !cn.lay.wide {
		addr &= 0xFFFFFFFF
	}
	buf := make([]byte, n)
	got := int(n)
	if cn.phys {
		cn.t.ReadPhys(addr, buf)
	} else {
		got, err = cn.t.ReadLinear(cn.cpuG(), addr, buf)
		if got == 0 && n > 0 {
			cn.sendString(errFault)
			return
		}
	}
	cn.sendString(hex.EncodeToString(buf[:got]))
}

func (cn *conn) writeBytes(addr uint64, data []byte) {
	if !cn.lay.wide {
		addr &= 0xFFFFFFFF
	}
	if len(data) == 0 {
		cn.sendString("OK")
		return
	}
	var err error
	if cn.phys {
		err = cn.t.WritePhys(addr, data)
	} else {
		_, err = cn.t.WriteLinear(cn.cpuG(), addr, data)
	}
	if err != nil {
		cn.sendString(errFault)
		return
	}
	cn.sendString("OK")
}

func (cn *conn) writeMem(arg string) {
	al, hx, ok := strings.Cut(arg, ":")
	if !ok {
		cn.sendString(errMalformed)
		return
	}
	addr, n, err := parseAddrLen(al)
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	data, err := hexBytes(hx)
	if err != nil || uint64(len(data)) != n {
		cn.sendString(errMalformed)
		return
	}
	cn.writeBytes(addr, data)
}

func (cn *conn) writeMemBinary(p []byte) {
	i := bytes.IndexByte(p, ':')
	if i < 0 {
		cn.sendString(errMalformed)
		return
	}
	addr, n, err := parseAddrLen(string(p[:i]))
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	data, err := unescape(p[i+1:])
	if err != nil || uint64(len(data)) != n {
		cn.sendString(errMalformed)
		return
	}
	cn.writeBytes(addr, data)
}

// setThread handles Hg/Hc.
func (cn *conn) setThread(arg string) {
	if len(arg) < 2 {
		cn.sendString(errMalformed)
		return
	}
	op := arg[0]
	id, err := parseThreadID(arg[1:])
	if err != nil || (op != 'g' && op != 'c') {
		cn.sendString(errMalformed)
		return
	}
	idx := -1
	switch {
	case id == 0:
		idx = cn.stopCPU // any thread: the current one
	case id == -1:
		idx = -1
	case id >= 1 && id <= cn.t.NumCPUs():
		idx = id - 1
	default:
		cn.sendString(errThread)
		return
	}
	if op == 'g' {
		if idx < 0 {
			idx = cn.stopCPU // Hg-1 makes no sense for reads; use the current vCPU
		}
		cn.curG = idx
	} else {
		cn.curC = idx
	}
	cn.sendString("OK")
}

// stepCPU single-steps one vCPU. A step that starts on a breakpoint
// address returns without executing (the CPU reports the breakpoint
// first); it is retried once so that a step always makes progress.
func (cn *conn) stepCPU(c int) *target.Stop {
	before, _ := cn.t.Regs(c)
	st := cn.t.Step(c, 1)
	if st.Reason == "step" {
		after, _ := cn.t.Regs(c)
		if after.ICount == before.ICount && after.PC == before.PC && !after.Halted {
			st = cn.t.Step(c, 1)
		}
	}
	return st
}

// continueAll runs the guest; if the PC of the resuming vCPU sits on one
// of our breakpoints, step over it first (otherwise the CPU would report
// the same breakpoint again without moving).
func (cn *conn) continueAll(ctx context.Context, c int) *target.Stop {
	if r, err := cn.t.Regs(c); err == nil {
		if _, ok := cn.bps[r.PC]; ok {
			st := cn.stepCPU(c)
			if st.Reason != "step" {
				return st
			}
		}
	}
	return cn.t.Continue(ctx)
}

func (cn *conn) resumeCPU() int {
	if cn.curC >= 0 && cn.curC < cn.t.NumCPUs() {
		return cn.curC
	}
	return cn.stopCPU
}

// resumeLegacy handles c/C/s/S [sig;][addr].
func (cn *conn) resumeLegacy(cmd string) bool {
	op := cmd[0]
	arg := cmd[1:]
	if op == 'C' || op == 'S' {
		// signal number, optionally ;addr. Signals cannot be delivered
		// to a bare-metal guest: ignored.
		sig, rest, _ := strings.Cut(arg, ";")
		if _, err := parseHex(sig); err != nil {
			cn.sendString(errMalformed)
			return true
		}
		arg = rest
	}
	c := cn.resumeCPU()
	if arg != "" {
		addr, err := parseHex(arg)
		if err != nil {
			cn.sendString(errMalformed)
			return true
		}
		if err := cn.t.SetReg(c, "pc", addr); err != nil {
			cn.sendString(errBadValue)
			return true
		}
	}
	if op == 's' || op == 'S' {
		return cn.resume(func(context.Context) *target.Stop { return cn.stepCPU(c) })
	}
	return cn.resume(func(ctx context.Context) *target.Stop { return cn.continueAll(ctx, c) })
}

// vPacket handles v packets.
func (cn *conn) vPacket(cmd string) bool {
	switch {
	case cmd == "vCont?":
		cn.sendString("vCont;c;C;s;S;t")
	case strings.HasPrefix(cmd, "vCont;"):
		return cn.vCont(cmd[len("vCont;"):])
	case cmd == "vCont":
		cn.sendString(errMalformed)
	case strings.HasPrefix(cmd, "vKill"):
		cn.sendString("OK")
		cn.killed = true
		return false
	case cmd == "vMustReplyEmpty":
		cn.sendString("")
	default:
		cn.sendString("")
	}
	return true
}

// vCont handles vCont;ACTION[:TID];... in all-stop mode: if some action
// steps a thread, that vCPU executes one instruction while the others stay
// stopped; otherwise every vCPU continues. t (stop) has nothing to do in
// all-stop mode and is accepted.
func (cn *conn) vCont(args string) bool {
	stepCPU := -1
	cont := false
	for _, a := range strings.Split(args, ";") {
		act, tid, hasTID := strings.Cut(a, ":")
		if act == "" {
			cn.sendString(errMalformed)
			return true
		}
		idx := -1
		if hasTID {
			id, err := parseThreadID(tid)
			if err != nil {
				cn.sendString(errMalformed)
				return true
			}
			switch {
			case id == -1 || id == 0:
			case id >= 1 && id <= cn.t.NumCPUs():
				idx = id - 1
			default:
				cn.sendString(errThread)
				return true
			}
		}
		switch act[0] {
		case 'c', 'C', 's', 'S':
			if act[0] == 'C' || act[0] == 'S' {
				if _, err := parseHex(act[1:]); err != nil {
					cn.sendString(errMalformed)
					return true
				}
			} else if len(act) != 1 {
				cn.sendString(errMalformed)
				return true
			}
			if act[0] == 's' || act[0] == 'S' {
				if stepCPU < 0 {
					stepCPU = idx
					if idx < 0 {
						stepCPU = cn.resumeCPU()
					}
				}
			} else {
				cont = true
			}
		case 't':
		default:
			cn.sendString(errMalformed)
			return true
		}
	}
	if stepCPU >= 0 {
		c := stepCPU
		return cn.resume(func(context.Context) *target.Stop { return cn.stepCPU(c) })
	}
	if !cont {
		// only t actions: nothing runs
		cn.sendString("OK")
		return true
	}
	c := cn.resumeCPU()
	return cn.resume(func(ctx context.Context) *target.Stop { return cn.continueAll(ctx, c) })
}

// breakpoint handles Z/z packets.
func (cn *conn) breakpoint(cmd string) {
	insert := cmd[0] == 'Z'
	body := cmd[1:]
	if i := strings.IndexByte(body, ';'); i >= 0 {
		body = body[:i] // conditions / commands are evaluated by gdb
	}
	parts := strings.Split(body, ",")
	if len(parts) != 3 || len(parts[0]) != 1 {
		cn.sendString(errMalformed)
		return
	}
	addr, err1 := parseHex(parts[1])
	kind, err2 := parseHex(parts[2])
	if err1 != nil || err2 != nil {
		cn.sendString(errMalformed)
		return
	}
	if !cn.lay.wide {
		addr &= 0xFFFFFFFF
	}
	switch t := parts[0][0]; t {
	case '0', '1':
		k := cn.bps[addr]
		had := k.sw || k.hw
		if insert {
			if t == '0' {
				k.sw = true
			} else {
				k.hw = true
			}
			if !had {
				cn.t.AddBreakpoint(addr)
			}
			cn.bps[addr] = k
		} else {
			if t == '0' {
				k.sw = false
			} else {
				k.hw = false
			}
			if k.sw || k.hw {
				cn.bps[addr] = k
			} else if had {
				delete(cn.bps, addr)
				cn.t.RemoveBreakpointAt(addr)
			}
		}
		cn.sendString("OK")
	case '2', '3', '4':
		key := wpKey{kind: t, addr: addr, len: kind}
		if insert {
			if _, ok := cn.wps[key]; ok {
				cn.sendString("OK")
				return
			}
			mode := map[byte]string{'2': "w", '3': "r", '4': "a"}[t]
			id, err := cn.t.AddWatchpoint(addr, kind, mode, false)
			if err != nil {
				cn.sendString(errInvalid)
				return
			}
			cn.wps[key] = id
			cn.wpByID[id] = key
		} else {
			id, ok := cn.wps[key]
			if ok {
				cn.t.RemoveWatchpoint(id)
				delete(cn.wps, key)
				delete(cn.wpByID, id)
			}
		}
		cn.sendString("OK")
	default:
		cn.sendString("") // unsupported breakpoint type
	}
}

// supported is the qSupported reply.
var supported = strings.Join([]string{
	"PacketSize=" + strconv.FormatInt(PacketSize, 16),
	"QStartNoAckMode+",
	"qXfer:features:read+",
	"qXfer:memory-map:read+",
	"swbreak+",
	"hwbreak+",
	"vContSupported+",
}, ";")

// query handles q packets.
func (cn *conn) query(cmd string) {
	name, args, _ := strings.Cut(cmd, ":")
	switch {
	case name == "qSupported":
		for _, f := range strings.Split(args, ";") {
			switch f {
			case "swbreak+":
				cn.swbreak = true
			case "hwbreak+":
				cn.hwbreak = true
			}
		}
		cn.sendString(supported)
	case name == "qXfer":
		cn.qXfer(args)
	case cmd == "qC":
		cn.sendString(fmt.Sprintf("QC%x", cn.curG+1))
	case cmd == "qfThreadInfo":
		var ids []string
		for i := 0; i < cn.t.NumCPUs(); i++ {
			ids = append(ids, fmt.Sprintf("%x", i+1))
		}
		cn.sendString("m" + strings.Join(ids, ","))
	case cmd == "qsThreadInfo":
		cn.sendString("l")
	case strings.HasPrefix(cmd, "qThreadExtraInfo,"):
		id, err := parseThreadID(cmd[len("qThreadExtraInfo,"):])
		if err != nil {
			cn.sendString(errMalformed)
			return
		}
		if id < 1 || id > cn.t.NumCPUs() {
			cn.sendString(errThread)
			return
		}
		r, err := cn.t.Regs(id - 1)
		if err != nil {
			cn.sendString(errThread)
			return
		}
		cn.sendString(hexText([]byte(threadInfo(&r))))
	case name == "qAttached":
		cn.sendString("1")
	case cmd == "qOffsets":
		cn.sendString("Text=0;Data=0;Bss=0")
	case strings.HasPrefix(cmd, "qRcmd,"):
		cn.rcmd(cmd[len("qRcmd"):])
	case name == "qSymbol":
		cn.sendString("OK")
	default:
		cn.sendString("")
	}
}

// threadInfo is the qThreadExtraInfo text of a vCPU.
func threadInfo(r *target.Regs) string {
	s := fmt.Sprintf("CPU#%d ", r.CPU)
	if r.Halted {
		s += "[halted] "
	}
	if r.WaitSIPI {
		s += "[waiting for SIPI] "
	}
	return s + r.Mode
}

func (cn *conn) setQuery(cmd string) {
	switch cmd {
	case "QStartNoAckMode":
		cn.sendString("OK")
		cn.noAck = true
	default:
		cn.sendString("")
	}
}

// qXfer handles qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH.
func (cn *conn) qXfer(args string) {
	parts := strings.SplitN(args, ":", 4)
	if len(parts) != 4 {
		cn.sendString(errMalformed)
		return
	}
	object, op, annex, ol := parts[0], parts[1], parts[2], parts[3]
	var doc []byte
	switch object {
	case "features":
		if op != "read" {
			cn.sendString("")
			return
		}
		if annex != "target.xml" {
			cn.sendString("E00")
			return
		}
		doc = []byte(cn.xml)
	case "memory-map":
		if op != "read" {
			cn.sendString("")
			return
		}
		if annex != "" {
			cn.sendString("E00")
			return
		}
		// snapshot at offset 0 so that the chunks are consistent
		key := "memory-map"
		if off, _, err := parseAddrLen(ol); err == nil && off == 0 || cn.xfer[key] == nil {
			cn.xfer[key] = []byte(memoryMap(cn.t, cn.lay.wide))
		}
		doc = cn.xfer[key]
	default:
		cn.sendString("")
		return
	}
	off, n, err := parseAddrLen(ol)
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	if off >= uint64(len(doc)) {
		cn.sendString("l")
		return
	}
	if n > PacketSize-8 {
		n = PacketSize - 8
	}
	chunk := doc[off:]
	if uint64(len(chunk)) > n {
		chunk = chunk[:n]
	}
	// keep the escaped reply within the requested length
	for len(chunk) > 0 && uint64(escapedLen(chunk)) > n {
		chunk = chunk[:len(chunk)-1]
	}
	more := off+uint64(len(chunk)) < uint64(len(doc))
	prefix := byte('l')
	if more {
		prefix = 'm'
	}
	cn.send(append([]byte{prefix}, escape(chunk)...))
}
