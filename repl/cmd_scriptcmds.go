package repl

import (
	"fmt"
	"strconv"
	"strings"
)

// Script helper commands: set, source, on, echo, send-serial, expect bt.

func cmdSet(ctx *Context, args []string) error {
	if len(args) == 0 {
		for _, k := range sortedKeys(ctx.R.vars) {
			ctx.Printf("%s = %s\n", k, ctx.R.vars[k])
		}
		return nil
	}
	if len(args) == 1 && strings.Contains(args[0], "=") { // set NAME=VALUE
		i := strings.Index(args[0], "=")
		args = append([]string{args[0][:i], "=", args[0][i+1:]}, args[1:]...)
	}
	if len(args) == 3 && args[1] == "=" && strings.HasPrefix(args[0], "$") { // set $REG = VALUE (gdb)
		cpu, err := ctx.CPU()
		if err != nil {
			return err
		}
		v, err := ctx.R.evalAddr(args[2])
		if err != nil {
			return fmt.Errorf("set %s: %v", args[0], err)
		}
		if err := ctx.T.SetReg(cpu, args[0][1:], v); err != nil {
			return fmt.Errorf("set %s: %v", args[0], err)
		}
		return nil
	}
	if len(args) < 2 || args[1] != "=" || !isIdent(args[0]) {
		return fmt.Errorf("usage: set NAME = VALUE (NAME: letters, digits, _)")
	}
	ctx.R.vars[args[0]] = strings.Join(args[2:], " ")
	return nil
}

func cmdSource(ctx *Context, args []string) error {
	// Interactive `source`; scripts resolve the path relative to
	// themselves before they get here (see script.one).
	if _, err := readScript(args[0]); err != nil {
		return fmt.Errorf("source: %v", err)
	}
	return ctx.R.RunScriptFile(args[0])
}

func cmdOn(*Context, []string) error {
	return fmt.Errorf("on: only scripts have `on crash { ... }` / `on exit { ... }` blocks")
}

func cmdEcho(ctx *Context, args []string) error {
	s, err := unescape(strings.Join(args, " "))
	if err != nil {
		return fmt.Errorf("echo: %v", err)
	}
	ctx.Printf("%s\n", s)
	return nil
}

func cmdSendSerial(ctx *Context, args []string) error {
	s, err := unescape(strings.Join(args, " "))
	if err != nil {
		return fmt.Errorf("send-serial: %v", err)
	}
	ctx.T.SendSerial([]byte(s))
	ctx.Printf("queued %d bytes for COM1\n", len(s))
	return nil
}

// unescape processes \n \r \t \\ \" \xNN.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '\\', '"':
			b.WriteByte(s[i])
		case 'x':
			if i+2 >= len(s) {
				return "", fmt.Errorf(`\x wants two hex digits`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`\x%s: want two hex digits`, s[i+1:i+3])
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return b.String(), nil
}

// btFunctions returns the function of each frame of a gdb-style
// backtrace, innermost first.
func btFunctions(bt string) []string {
	var fns []string
	for _, l := range strings.Split(bt, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := f[1]
		if strings.HasPrefix(name, "0x") && len(f) >= 4 && f[2] == "in" {
			name = f[3]
		}
		fns = append(fns, name)
	}
	return fns
}

// expectBT checks that the selected vCPU's backtrace starts with want.
func expectBT(ctx *Context, want []string) error {
	if len(want) == 0 {
		return fmt.Errorf("usage: expect bt FUNC [FUNC...] (innermost first)")
	}
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	out, err := ctx.R.captureExec(fmt.Sprintf("bt -cpu %d", cpu))
	if err != nil {
		return expectf("expect bt: %v", err)
	}
	got := btFunctions(out)
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			return expectf("expect bt %s: the backtrace of CPU %d is %s", strings.Join(want, " "), cpu, strings.Join(got, " <- "))
		}
	}
	return nil
}
