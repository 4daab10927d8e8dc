package repl

import (
	"fmt"
	"strconv"
	"strings"
)

func cmdBT(ctx *Context, args []string) error {
	max := 0
	if v, ok := ctx.Value("n"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("bt -n %q: want a positive number", v)
		}
		max = n
	}
	if len(args) == 1 {
		if args[0] != "all" {
			return fmt.Errorf("bt %s: want `bt` or `bt all`", args[0])
		}
		for i := 0; i < ctx.T.NumCPUs(); i++ {
			ctx.Printf("CPU %d:\n", i)
			if err := ctx.T.Backtrace(ctx.Out, i, max); err != nil {
				return err
			}
		}
		return nil
	}
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	return ctx.T.Backtrace(ctx.Out, cpu, max)
}

func cmdSymbolsLoad(ctx *Context, args []string) error {
	var off uint64
	if len(args) == 2 {
		v, err := strconv.ParseUint(args[1], 0, 64)
		if err != nil {
			return fmt.Errorf("symbols load: offset %q is not a number", args[1])
		}
		off = v
	}
	if err := ctx.T.LoadSymbols(args[0], off); err != nil {
		return err
	}
	ctx.Printf("Loaded symbols from %s (offset %#x).\n", args[0], off)
	return nil
}

func cmdInfoSymbol(ctx *Context, args []string) error {
	tab := ctx.T.Symbols()
	if tab == nil {
		return fmt.Errorf("no symbols loaded")
	}
	a, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return err
	}
	if ctx.Has("json") {
		name, off, ok := tab.Symbol(a)
		return ctx.EmitJSON(map[string]any{"addr": a, "symbol": name, "offset": off, "found": ok, "text": tab.InfoSymbol(a)})
	}
	ctx.Printf("%s\n", tab.InfoSymbol(a))
	return nil
}

func cmdInfoLine(ctx *Context, args []string) error {
	tab := ctx.T.Symbols()
	if tab == nil {
		return fmt.Errorf("no symbols loaded")
	}
	a, err := ctx.R.evalAddr(strings.TrimPrefix(args[0], "*"))
	if err != nil {
		return err
	}
	if ctx.Has("json") {
		file, line, fn, ok := tab.Line(a)
		return ctx.EmitJSON(map[string]any{"addr": a, "file": file, "line": line, "function": fn, "found": ok, "text": tab.InfoLine(a)})
	}
	ctx.Printf("%s\n", tab.InfoLine(a))
	return nil
}

func cmdList(ctx *Context, args []string) error {
	tab := ctx.T.Symbols()
	if tab == nil {
		return fmt.Errorf("no symbols loaded")
	}
	var file string
	var line int
	if len(args) == 1 {
		i := strings.LastIndexByte(args[0], ':')
		if i < 0 {
			return fmt.Errorf("list %s: want FILE:LINE", args[0])
		}
		n, err := strconv.Atoi(args[0][i+1:])
		if err != nil {
			return fmt.Errorf("list %s: bad line number", args[0])
		}
		file, line = args[0][:i], n
	} else {
		_, r, err := ctx.CPURegs()
		if err != nil {
			return err
		}
		f, l, _, ok := tab.Line(r.PC)
		if !ok {
			return fmt.Errorf("no line information for %#x", r.PC)
		}
		file, line = f, l
	}
	return tab.ListSource(file, line, 5, ctx.Out)
}
