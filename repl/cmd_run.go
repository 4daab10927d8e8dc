package repl

import (
	"context"
	"fmt"
	"strconv"

	"glassbox/target"
)

func (r *REPL) checkRunnable() error {
	if st := r.t.LastStop(); st != nil && st.Terminal() {
		return fmt.Errorf("the guest is not running any more (%s)", st.String())
	}
	return nil
}

func cmdContinue(ctx *Context, _ []string) error {
	if err := ctx.R.checkRunnable(); err != nil {
		return err
	}
	ctx.Printf("Continuing.\n")
	st := ctx.R.runGuest(func(c context.Context) *target.Stop { return ctx.T.Continue(c) })
	ctx.R.printStop(ctx.Out, st)
	return nil
}

// stepChunk bounds how many instructions one Step call runs, so that a
// long stepi can be interrupted between chunks.
const stepChunk = 4096

func cmdStepi(ctx *Context, args []string) error {
	n := uint64(1)
	if len(args) > 0 {
		v, err := ctx.R.evalAddr(args[0])
		if err != nil {
			return fmt.Errorf("stepi: %v", err)
		}
		if v == 0 {
			return fmt.Errorf("stepi: N must be at least 1")
		}
		n = v
	}
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	if err := ctx.R.checkRunnable(); err != nil {
		return err
	}
	st := ctx.R.runGuest(func(c context.Context) *target.Stop {
		var st *target.Stop
		for left := n; left > 0; {
			k := min(left, stepChunk)
			st = ctx.T.Step(cpu, int(k))
			left -= k
			if st.Reason != "step" {
				return st
			}
			if left > 0 && c.Err() != nil {
				st.Reason = "paused"
				return st
			}
		}
		return st
	})
	ctx.R.printStop(ctx.Out, st)
	return nil
}

func cmdPause(ctx *Context, _ []string) error {
	if !ctx.T.Running() {
		return fmt.Errorf("pause: the guest is not running")
	}
	ctx.T.Pause()
	return nil
}

func cmdUntil(ctx *Context, args []string) error {
	addr, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return fmt.Errorf("until: %v", err)
	}
	if err := ctx.R.checkRunnable(); err != nil {
		return err
	}
	bps, _ := ctx.T.Breakpoints()
	existed := false
	for _, b := range bps {
		existed = existed || b.Addr == addr
	}
	id := ctx.T.AddBreakpoint(addr)
	ctx.Printf("Running until %s.\n", hexAddr(addr))
	st := ctx.R.runGuest(func(c context.Context) *target.Stop { return ctx.T.Continue(c) })
	if !existed {
		ctx.T.RemoveBreakpoint(id)
		if st.Reason == "breakpoint" && st.PC == addr {
			st = &target.Stop{Reason: "step", CPU: st.CPU, PC: st.PC} // just the location
		}
	}
	ctx.R.printStop(ctx.Out, st)
	return nil
}

func cmdCPU(ctx *Context, args []string) error {
	if len(args) == 0 {
		ctx.Printf("current CPU is %d (the machine has %d)\n", ctx.R.cpu, ctx.T.NumCPUs())
		return nil
	}
	n, err := parseCount(args[0])
	if err != nil {
		return fmt.Errorf("cpu %q: %v", args[0], err)
	}
	if n >= uint64(ctx.T.NumCPUs()) {
		return fmt.Errorf("cpu %d: no such CPU (the machine has %d)", n, ctx.T.NumCPUs())
	}
	ctx.R.cpu = int(n)
	ctx.Printf("current CPU is %d\n", n)
	return nil
}

func cmdQuit(ctx *Context, _ []string) error {
	ctx.R.quit = true
	return ErrQuit
}

// --- breakpoints -----------------------------------------------------------

func cmdBreak(ctx *Context, args []string) error {
	addr, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return fmt.Errorf("break: %v", err)
	}
	if ctx.Has("phys") {
		id := ctx.T.AddPhysBreakpoint(addr)
		ctx.Printf("Breakpoint %d at physical %s\n", id, hexAddr(addr))
		return nil
	}
	id := ctx.T.AddBreakpoint(addr)
	ctx.Printf("Breakpoint %d at %s\n", id, hexAddr(addr))
	return nil
}

func cmdWatch(ctx *Context, args []string) error {
	kind, n := "w", 0
	for _, k := range []string{"w", "r", "a"} {
		if ctx.Has(k) {
			kind = k
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("watch: give at most one of -r, -w, -a")
	}
	addr, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return fmt.Errorf("watch: %v", err)
	}
	length := uint64(4)
	if len(args) > 1 {
		if length, err = ctx.R.evalAddr(args[1]); err != nil {
			return fmt.Errorf("watch: LEN: %v", err)
		}
	}
	id, err := ctx.T.AddWatchpoint(addr, length, kind, ctx.Has("phys"))
	if err != nil {
		return fmt.Errorf("watch: %v", err)
	}
	ctx.Printf("Watchpoint %d: %s %s len %d (%s)\n", id, watchKindName(kind), hexAddr(addr), length,
		pick(ctx.Has("phys"), "physical", "linear"))
	return nil
}

func watchKindName(k string) string {
	switch k {
	case "r":
		return "read"
	case "a":
		return "access"
	}
	return "write"
}

func cmdDelete(ctx *Context, args []string) error {
	if len(args) == 0 {
		bps, wps := ctx.T.Breakpoints()
		for _, b := range bps {
			ctx.T.RemoveBreakpoint(b.ID)
		}
		for _, w := range wps {
			ctx.T.RemoveWatchpoint(w.ID)
		}
		cps := ctx.T.Catchpoints()
		for _, c := range cps {
			ctx.T.DeleteCatch(c.ID)
		}
		ctx.Printf("Deleted %s, %s and %s.\n", plural(len(bps), "breakpoint"), plural(len(wps), "watchpoint"),
			plural(len(cps), "catchpoint"))
		return nil
	}
	var ids []int
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 {
			return fmt.Errorf("delete: %q is not a breakpoint ID", a)
		}
		ids = append(ids, n)
	}
	for _, id := range ids {
		if err := ctx.T.RemoveBreakpoint(id); err != nil {
			if err2 := ctx.T.RemoveWatchpoint(id); err2 != nil {
				if err3 := ctx.T.DeleteCatch(id); err3 != nil {
					return fmt.Errorf("delete: no breakpoint, watchpoint or catchpoint %d", id)
				}
			}
		}
	}
	return nil
}

type bpJSON struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	Addr uint64 `json:"addr"`
	Len  uint64 `json:"len"`
	Kind string `json:"access"`
	Phys bool   `json:"phys"`
}

func cmdInfoBreakpoints(ctx *Context, _ []string) error {
	bps, wps := ctx.T.Breakpoints()
	list := []bpJSON{}
	for _, b := range bps {
		list = append(list, bpJSON{ID: b.ID, Type: "breakpoint", Addr: b.Addr, Len: 1, Kind: "x", Phys: b.Phys})
	}
	for _, w := range wps {
		list = append(list, bpJSON{ID: w.ID, Type: "watchpoint", Addr: w.Addr, Len: w.Len, Kind: w.Kind, Phys: w.Phys})
	}
	sortBy(list, func(a, b bpJSON) bool { return a.ID < b.ID })
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			Breakpoints []bpJSON `json:"breakpoints"`
		}{list})
	}
	if len(list) == 0 {
		ctx.Printf("No breakpoints or watchpoints.\n")
		return nil
	}
	ctx.Printf("%-4s %-11s %-10s %6s  %-7s %s\n", "Num", "Type", "Address", "Len", "Access", "Space")
	for _, b := range list {
		ctx.Printf("%-4d %-11s %-10s %6d  %-7s %s\n", b.ID, b.Type, hexAddr(b.Addr), b.Len,
			map[string]string{"x": "exec", "w": "write", "r": "read", "a": "access"}[b.Kind], pick(b.Phys, "physical", "linear"))
	}
	return nil
}

func cmdCatch(ctx *Context, args []string) error {
	kind := args[0]
	var arg uint64
	has := len(args) == 2
	if has {
		v, err := strconv.ParseUint(args[1], 0, 64)
		if err != nil {
			return fmt.Errorf("catch %s: bad argument %q (want a number such as 0x1000 or 14)", kind, args[1])
		}
		arg = v
	}
	id, err := ctx.T.AddCatch(kind, arg, has)
	if err != nil {
		return err
	}
	if has {
		ctx.Printf("Catchpoint %d (%s %#x)\n", id, kind, arg)
	} else {
		ctx.Printf("Catchpoint %d (%s)\n", id, kind)
	}
	return nil
}

type catchJSON struct {
	ID     int    `json:"id"`
	Kind   string `json:"kind"`
	Arg    uint64 `json:"arg"`
	HasArg bool   `json:"has_arg"`
	Hits   uint64 `json:"hits"`
}

func cmdInfoCatchpoints(ctx *Context, _ []string) error {
	cps := ctx.T.Catchpoints()
	if ctx.Has("json") {
		out := []catchJSON{}
		for _, c := range cps {
			out = append(out, catchJSON{c.ID, c.Kind, c.Arg, c.HasArg, c.Hits})
		}
		return ctx.EmitJSON(map[string]any{"catchpoints": out})
	}
	if len(cps) == 0 {
		ctx.Printf("No catchpoints.\n")
		return nil
	}
	ctx.Printf("Num  Kind           Filter              Hits\n")
	for _, c := range cps {
		f := "-"
		if c.HasArg {
			f = fmt.Sprintf("%#x", c.Arg)
		}
		ctx.Printf("%-4d %-14s %-18s %5d\n", c.ID, c.Kind, f, c.Hits)
	}
	return nil
}

func cmdInfoPIC(ctx *Context, _ []string) error {
	st := ctx.T.PIC()
	if ctx.Has("json") {
		out := map[string]any{}
		for i, name := range []string{"master", "slave"} {
			c := st.Chips[i]
			out[name] = map[string]any{"irr": c.IRR, "isr": c.ISR, "imr": c.IMR, "elcr": c.ELCR,
				"base": c.Base, "lines": c.Lines, "auto_eoi": c.AutoEOI, "initialised": c.Initialised}
		}
		return ctx.EmitJSON(out)
	}
	ctx.Printf("%s", st.Text)
	return nil
}

func cmdInfoPOST(ctx *Context, _ []string) error {
	code, n := ctx.T.POST()
	if ctx.Has("json") {
		return ctx.EmitJSON(map[string]any{"code": code, "writes": n})
	}
	if n == 0 {
		ctx.Printf("no POST code written yet\n")
		return nil
	}
	ctx.Printf("last POST code: %#02x (%d writes to port 0x80)\n", code, n)
	return nil
}

func cmdInfoLAPIC(ctx *Context, _ []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	text, st, err := ctx.T.LAPIC(cpu)
	if err != nil {
		return err
	}
	if ctx.Has("json") {
		return ctx.EmitJSON(st)
	}
	ctx.Printf("%s", text)
	return nil
}

func cmdInfoIOAPIC(ctx *Context, _ []string) error {
	text, st := ctx.T.IOAPIC()
	if ctx.Has("json") {
		return ctx.EmitJSON(st)
	}
	ctx.Printf("%s", text)
	return nil
}
