package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"glassbox/cpu"
	"glassbox/machine"
	"glassbox/tb"

	"golang.org/x/arch/x86/x86asm"
)

// QEMU's -d/-D: log items written from the emulator's cold paths (TB
// generation, exception delivery, mode switches), so they cost nothing on
// the hot path. Items that would need a hook per executed TB (QEMU's exec,
// cpu, op) are refused with a pointer to the REPL's exec-history.
var logItems = map[string]string{
	"in_asm":      "each translation block as it is translated (QEMU's IN: blocks)",
	"int":         "each exception delivered (vector, error code, CS:IP, SS:SP, CR2), with the registers",
	"cpu_reset":   "the registers of every vCPU at power-on and at each reset",
	"mode_switch": "each change of operating mode (real, protected, long...)",
}

var logRefused = map[string]string{
	"exec": "per-TB execution logging", "cpu": "per-TB register dumps", "op": "TCG ops", "op_opt": "TCG ops",
	"out_asm": "host code (glassbox is an interpreter)", "nochain": "TB chaining control",
}

// parseLogItems checks -d ITEMS.
func parseLogItems(spec string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, it := range strings.Split(spec, ",") {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
		case it == "help":
			fmt.Fprintf(os.Stderr, "log items (-d ITEM,ITEM...; -D FILE, default stderr):\n  %s\n",
				strings.ReplaceAll(logItemHelp(), "; ", "\n  "))
			return nil, flag.ErrHelp
		case logItems[it] != "":
			set[it] = true
		case logRefused[it] != "":
			return nil, errorf("-d %s: not supported: %s would cost on every executed TB; use -repl/-script with `info exec-history` and catchpoints", it, logRefused[it])
		default:
			return nil, errorf("-d %s: unknown log item (want %s)", it, logItemHelp())
		}
	}
	return set, nil
}

func logItemHelp() string {
	var names []string
	for k, v := range logItems {
		names = append(names, k+" ("+v+")")
	}
	sort.Strings(names)
	return strings.Join(names, "; ")
}

// openLog returns the -D file, or stderr.
func openLog(path string, stderr io.Writer) (io.Writer, func(), error) {
	if path == "" {
		return stderr, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, errorf("-D: %v", err)
	}
	return f, func() { f.Close() }, nil
}

// logHooks returns the CPU hooks writing the -d items to w.
func logHooks(items map[string]bool, w io.Writer) *cpu.Hooks {
	if len(items) == 0 {
		return nil
	}
	h := &cpu.Hooks{}
	if items["in_asm"] {
		h.TBGen = func(c *cpu.CPU, t *tb.TB) { logTB(w, t) }
	}
	if items["int"] {
		h.Exception = func(c *cpu.CPU, e *cpu.Exception) { logException(w, c, e) }
	}
	if items["mode_switch"] {
		h.ModeSwitch = func(c *cpu.CPU, from, to cpu.Mode) {
			fmt.Fprintf(w, "CPU %d: mode switch %s -> %s at pc %#x (icount %d)\n", c.ID, from, to, c.PC(), c.ICount)
		}
	}
	return h
}

// logTB prints a translated block like QEMU's in_asm log.
func logTB(w io.Writer, t *tb.TB) {
	fmt.Fprintf(w, "----------------\nIN: (tb %d, phys %#x)\n", t.ID, t.Key.PhysPC)
	pc := t.Key.PC
	for off := 0; off < len(t.Bytes); {
		inst, err := x86asm.Decode(t.Bytes[off:], t.Mode)
		if err != nil || inst.Len == 0 {
			fmt.Fprintf(w, "0x%08x:  (bad)\n", pc+uint64(off))
			break
		}
		fmt.Fprintf(w, "0x%08x:  %s\n", pc+uint64(off), x86asm.GNUSyntax(inst, pc+uint64(off), nil))
		off += inst.Len
	}
	fmt.Fprintln(w)
}

// logException prints a delivered exception like QEMU's int log.
func logException(w io.Writer, c *cpu.CPU, e *cpu.Exception) {
	name := cpu.VectorNames[e.Vector]
	fmt.Fprintf(w, "%6d: v=%02x %s e=%04x cpl=%d IP=%04x:%016x pc=%016x SP=%04x:%016x", c.ICount, e.Vector, name,
		e.Code, c.CPL(), c.Seg[cpu.CS].Sel, c.EIP, c.PC(), c.Seg[cpu.SS].Sel, c.R[cpu.RSP])
	if e.Vector == cpu.VecPF {
		fmt.Fprintf(w, " CR2=%016x", c.CR2)
	}
	fmt.Fprintln(w)
	machine.WriteRegs(w, c)
}
