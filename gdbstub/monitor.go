package gdbstub

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"glassbox/target"
)

// Monitor commands (qRcmd, gdb's `monitor CMD`).
//
// The stub always handles its own settings: phys, wp-phys, sstep. Every
// other command goes to Config.Monitor (the REPL) when there is one;
// without it the stub has fallbacks for help, info registers and
// info mode. Output reaches gdb as O packets, then the command is
// answered with OK (errors are printed, not turned into protocol errors,
// so that gdb shows the message).

// consoleWriter streams writes to gdb as O packets.
type consoleWriter struct{ cn *conn }

func (w consoleWriter) Write(p []byte) (int, error) {
	w.cn.console(string(p))
	return len(p), nil
}

func (cn *conn) rcmd(arg string) {
	if !strings.HasPrefix(arg, ",") {
		cn.sendString(errMalformed)
		return
	}
	raw, err := hexBytes(arg[1:])
	if err != nil {
		cn.sendString(errMalformed)
		return
	}
	w := consoleWriter{cn}
	if err := cn.monitor(strings.TrimSpace(string(raw)), w); err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
	}
	cn.sendString("OK")
}

const stubHelp = `gdb stub commands (monitor CMD):
  help                      this text
  info registers            all registers of the current vCPU, with CS:IP
  info mode                 the current vCPU's mode (real, v8086, protected16,
                            protected32, compat16, compat32, long64)
  phys on|off               m/M/X packets (gdb's x, set {int}ADDR = ...) use
                            physical instead of linear addresses
  wp-phys ADDR LEN [w|r|a]  watch physical memory (default w); gdb shows the
                            hit as SIGTRAP with a console message
  wp-phys-del ID            delete a physical watchpoint
  sstep irq on|off          whether single-steps may take interrupts
`

func (cn *conn) monitor(cmd string, w io.Writer) error {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		f = []string{"help"}
	}
	switch f[0] {
	case "phys":
		if len(f) == 1 {
			fmt.Fprintf(w, "phys is %s\n", onOff(cn.phys))
			return nil
		}
		v, err := parseOnOff(f)
		if err != nil {
			return err
		}
		cn.phys = v
		if v {
			fmt.Fprintln(w, "memory packets now use PHYSICAL addresses (monitor phys off to go back to linear)")
		} else {
			fmt.Fprintln(w, "memory packets now use linear addresses")
		}
		return nil
	case "wp-phys":
		return cn.wpPhys(f[1:], w)
	case "wp-phys-del":
		if len(f) != 2 {
			return fmt.Errorf("usage: wp-phys-del ID")
		}
		id, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("wp-phys-del %q: want a watchpoint number", f[1])
		}
		if _, ok := cn.physWPs[id]; !ok {
			return fmt.Errorf("no physical watchpoint %d", id)
		}
		delete(cn.physWPs, id)
		return cn.t.RemoveWatchpoint(id)
	case "sstep":
		if len(f) == 1 {
			fmt.Fprintf(w, "sstep irq %s\n", onOff(cn.s.sstepIRQ))
			return nil
		}
		if len(f) != 3 || f[1] != "irq" {
			return fmt.Errorf("usage: sstep irq on|off")
		}
		v, err := parseOnOff(f[1:])
		if err != nil {
			return err
		}
		cn.s.sstepIRQ = v
		cn.t.SetStepIRQ(v)
		fmt.Fprintf(w, "sstep irq %s\n", onOff(v))
		return nil
	}
	if cn.s.cfg.Monitor != nil {
		if f[0] == "help" {
			io.WriteString(w, stubHelp)
			fmt.Fprintln(w, "\nREPL commands:")
		}
		return cn.s.cfg.Monitor(cmd, w)
	}
	switch {
	case f[0] == "help":
		io.WriteString(w, stubHelp)
		return nil
	case f[0] == "info" && len(f) == 2 && (f[1] == "registers" || f[1] == "reg" || f[1] == "regs"):
		r, err := cn.t.Regs(cn.cpuG())
		if err != nil {
			return err
		}
		writeRegs(w, &r)
		return nil
	case f[0] == "info" && len(f) == 2 && f[1] == "mode":
		r, err := cn.t.Regs(cn.cpuG())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n", r.Mode)
		return nil
	}
	return fmt.Errorf("unknown monitor command %q (monitor help lists them)", cmd)
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

func parseOnOff(f []string) (bool, error) {
	if len(f) == 2 {
		switch f[1] {
		case "on", "1", "yes":
			return true, nil
		case "off", "0", "no":
			return false, nil
		}
	}
	return false, fmt.Errorf("usage: %s on|off", f[0])
}

func (cn *conn) wpPhys(args []string, w io.Writer) error {
	if len(args) < 2 || len(args) > 3 {
		return fmt.Errorf("usage: wp-phys ADDR LEN [w|r|a]")
	}
	addr, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(args[0]), "0x"), 16, 64)
	if err != nil {
		return fmt.Errorf("wp-phys: bad address %q (hex)", args[0])
	}
	n, err := strconv.ParseUint(args[1], 0, 64)
	if err != nil {
		return fmt.Errorf("wp-phys: bad length %q", args[1])
	}
	kind := "w"
	if len(args) == 3 {
		kind = args[2]
	}
	id, err := cn.t.AddWatchpoint(addr, n, kind, true)
	if err != nil {
		return err
	}
	desc := fmt.Sprintf("%s %#x+%d", kind, addr, n)
	cn.physWPs[id] = desc
	fmt.Fprintf(w, "physical watchpoint %d: %s (delete with monitor wp-phys-del %d)\n", id, desc, id)
	return nil
}

// writeRegs prints a register dump in the style of QEMU's info registers,
// plus the real-mode CS:IP and the linear PC.
func writeRegs(w io.Writer, r *target.Regs) {
	fmt.Fprintf(w, "CPU#%d mode=%s CPL=%d%s\n", r.CPU, r.Mode, r.CPL, map[bool]string{true: " HALTED", false: ""}[r.Halted])
	g := r.GPR
	if r.Mode == "long64" {
		names := []string{"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI", "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15"}
		for i := 0; i < 16; i += 4 {
			fmt.Fprintf(w, "%s=%016x %s=%016x %s=%016x %s=%016x\n", names[i], g[i], names[i+1], g[i+1], names[i+2], g[i+2], names[i+3], g[i+3])
		}
		fmt.Fprintf(w, "RIP=%016x RFL=%08x\n", r.RIP, r.RFLAGS)
	} else {
		fmt.Fprintf(w, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", g[0], g[3], g[1], g[2])
		fmt.Fprintf(w, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", g[6], g[7], g[5], g[4])
		fmt.Fprintf(w, "EIP=%08x EFL=%08x\n", r.RIP, r.RFLAGS)
	}
	cs := r.Seg[segCS]
	if r.Bits == 16 {
		fmt.Fprintf(w, "CS:IP=%04x:%04x linear PC=%#x\n", cs.Sel, r.RIP&0xffff, r.PC)
	} else {
		fmt.Fprintf(w, "CS:EIP=%04x:%08x linear PC=%#x\n", cs.Sel, r.RIP, r.PC)
	}
	for i, n := range []string{"ES", "CS", "SS", "DS", "FS", "GS"} {
		s := r.Seg[i]
		fmt.Fprintf(w, "%s =%04x %016x %08x %04x\n", n, s.Sel, s.Base, s.Limit, s.Attr)
	}
	fmt.Fprintf(w, "LDT=%04x %016x %08x %04x\n", r.LDTR.Sel, r.LDTR.Base, r.LDTR.Limit, r.LDTR.Attr)
	fmt.Fprintf(w, "TR =%04x %016x %08x %04x\n", r.TR.Sel, r.TR.Base, r.TR.Limit, r.TR.Attr)
	fmt.Fprintf(w, "GDT=     %016x %08x\n", r.GDTBase, r.GDTLim)
	fmt.Fprintf(w, "IDT=     %016x %08x\n", r.IDTBase, r.IDTLim)
	fmt.Fprintf(w, "CR0=%08x CR2=%016x CR3=%016x CR4=%08x CR8=%x\n", r.CR0, r.CR2, r.CR3, r.CR4, r.CR8)
	fmt.Fprintf(w, "EFER=%016x KERNEL_GS_BASE=%016x A20=%v\n", r.EFER, r.KGSBase, r.A20)
	fmt.Fprintf(w, "DR0=%016x DR1=%016x DR2=%016x DR3=%016x\n", r.DR[0], r.DR[1], r.DR[2], r.DR[3])
	fmt.Fprintf(w, "DR6=%016x DR7=%016x\n", r.DR[6], r.DR[7])
	fmt.Fprintf(w, "instructions retired: %d\n", r.ICount)
}
