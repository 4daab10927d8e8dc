package repl

import (
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"glassbox/target"
)

// Script commands: run-until and expect. They work interactively too.

// ExpectFailed is returned when an expectation does not hold or a
// run-until bound is reached; scripts exit with status 1 for it (2 for
// other errors).
type ExpectFailed struct{ Msg string }

func (e *ExpectFailed) Error() string { return e.Msg }

func expectf(format string, a ...any) error { return &ExpectFailed{fmt.Sprintf(format, a...)} }

// runChunk is how many instructions run-until executes between checks of
// its condition (deterministic: runs stop at quantum boundaries).
const runChunk = 1_000_000

func cmdRunUntil(ctx *Context, args []string) error {
	if st := ctx.T.LastStop(); st != nil && st.Terminal() {
		switch {
		case args[0] == "stop", args[0] == "exit" && st.Reason == "exited", args[0] == "halt" && st.Reason == "halted",
			args[0] == "fault" && st.Reason == "shutdown":
			ctx.Printf("already stopped: %s\n", describeStop(st))
			return nil
		}
	}
	if err := ctx.R.checkRunnable(); err != nil {
		return err
	}
	max, err := ctx.IntFlag("max", 1_000_000_000)
	if err != nil {
		return err
	}
	kind := args[0]
	arg := ""
	if len(args) > 1 {
		arg = args[1]
	}
	var check func(st *target.Stop) (bool, error)
	var cleanup func()
	var icountTarget uint64
	var serialRE *regexp.Regexp
	startOut, startTotal := ctx.T.SerialOutput()
	_ = startOut
	switch kind {
	case "serial":
		if arg == "" {
			return fmt.Errorf("run-until serial: want a regular expression")
		}
		re, err := regexp.Compile(arg)
		if err != nil {
			return fmt.Errorf("run-until serial: %v", err)
		}
		serialRE = re
		check = func(*target.Stop) (bool, error) {
			buf, total := ctx.T.SerialOutput()
			n := total - startTotal
			if n > uint64(len(buf)) {
				n = uint64(len(buf))
			}
			return re.Match(buf[uint64(len(buf))-n:]), nil
		}
	case "pc":
		addr, err := ctx.R.evalAddr(arg)
		if err != nil {
			return fmt.Errorf("run-until pc: %v", err)
		}
		id := ctx.T.AddBreakpoint(addr)
		cleanup = func() { ctx.T.RemoveBreakpoint(id) }
		check = func(st *target.Stop) (bool, error) {
			return st.Reason == "breakpoint" && st.PC == addr, nil
		}
	case "icount":
		n, err := strconv.ParseUint(arg, 0, 64)
		if err != nil {
			return fmt.Errorf("run-until icount: %q is not a number", arg)
		}
		icountTarget = n
		check = func(*target.Stop) (bool, error) { return ctx.T.ICount() >= n, nil }
	case "catch":
		check = func(st *target.Stop) (bool, error) { return st.Reason == "catchpoint", nil }
	case "stop", "exit", "halt", "fault", "watchdog":
		check = func(st *target.Stop) (bool, error) {
			switch kind {
			case "watchdog":
				return st.Reason == "watchdog", nil
			case "exit":
				return st.Reason == "exited", nil
			case "halt":
				return st.Reason == "halted", nil
			case "fault":
				return st.Reason == "shutdown" || st.Reason == "catchpoint" && st.Catch != nil && st.Catch.Kind == "exception", nil
			}
			return st.Terminal() || st.Reason == "watchdog", nil
		}
	default:
		return fmt.Errorf("run-until %s: want serial REGEX, pc ADDR, icount N, catch, exit, halt, fault, watchdog or stop", kind)
	}
	if cleanup != nil {
		defer cleanup()
	}
	start := ctx.T.ICount()
	for {
		done := ctx.T.ICount() - start
		if done >= max {
			return expectf("run-until %s %s: not reached within %d instructions", kind, arg, max)
		}
		chunk := uint64(runChunk)
		if max-done < chunk {
			chunk = max - done
		}
		if now := ctx.T.ICount(); icountTarget > 0 {
			if now >= icountTarget {
				ctx.Printf("instruction count %d already reached (%d)\n", icountTarget, now)
				return nil
			}
			if icountTarget-now < chunk {
				chunk = icountTarget - now
			}
		}
		st := ctx.R.runGuest(func(c context.Context) *target.Stop {
			if serialRE != nil {
				st, _ := ctx.T.ContinueUntilSerial(c, serialRE, chunk)
				return st
			}
			return ctx.T.ContinueFor(c, chunk)
		})
		ok, err := check(st)
		if err != nil {
			return err
		}
		if ok {
			ctx.R.printStop(ctx.Out, st)
			return nil
		}
		if st.Terminal() || st.Reason == "watchdog" {
			ctx.R.printStop(ctx.Out, st)
			return expectf("run-until %s %s: the guest stopped first (%s)", kind, arg, st.Reason)
		}
		if st.Reason != "paused" {
			ctx.R.printStop(ctx.Out, st)
			if st.Err != nil {
				return st.Err
			}
		}
	}
}

func cmdExpect(ctx *Context, args []string) error {
	switch args[0] {
	case "serial":
		re, err := expectRegexp(args)
		if err != nil {
			return err
		}
		buf, _ := ctx.T.SerialOutput()
		if !re.Match(buf) {
			tail := string(buf)
			if len(tail) > 200 {
				tail = "..." + tail[len(tail)-200:]
			}
			return expectf("expect serial %q: not found; serial output ends with %q", args[1], tail)
		}
	case "reg":
		if len(args) != 4 {
			return fmt.Errorf("usage: expect reg NAME ==|!= VALUE")
		}
		got, err := ctx.R.regValue(args[1])
		if err != nil {
			return err
		}
		want, err := ctx.R.evalAddr(args[3])
		if err != nil {
			return err
		}
		if err := compare("reg "+args[1], got, args[2], want); err != nil {
			return err
		}
	case "mem":
		if len(args) != 5 {
			return fmt.Errorf("usage: expect mem ADDR u8|u16|u32|u64 ==|!= VALUE")
		}
		addr, err := ctx.R.evalAddr(args[1])
		if err != nil {
			return err
		}
		size := map[string]int{"u8": 1, "u16": 2, "u32": 4, "u64": 8}[args[2]]
		if size == 0 {
			return fmt.Errorf("expect mem: type %q: want u8, u16, u32 or u64", args[2])
		}
		var b [8]byte
		cpu, _ := ctx.CPU()
		if _, err := ctx.T.ReadLinear(cpu, addr, b[:size]); err != nil {
			return expectf("expect mem %s: %v", args[1], err)
		}
		got := binary.LittleEndian.Uint64(b[:])
		want, err := ctx.R.evalAddr(args[4])
		if err != nil {
			return err
		}
		if err := compare("mem "+args[1]+" "+args[2], got, args[3], want); err != nil {
			return err
		}
	case "stop", "exit":
		st := ctx.T.LastStop()
		if len(args) != 2 {
			return fmt.Errorf("usage: expect %s VALUE", args[0])
		}
		if st == nil {
			return expectf("expect %s %s: the guest has not stopped yet", args[0], args[1])
		}
		if args[0] == "stop" && st.Reason != args[1] {
			return expectf("expect stop %s: the last stop was %q (%s)", args[1], st.Reason, st)
		}
		if args[0] == "exit" {
			want, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("expect exit: %q is not a number", args[1])
			}
			if st.Reason != "exited" || st.ExitStatus != want {
				return expectf("expect exit %d: the guest %s", want, describeStop(st))
			}
		}
	case "bt":
		if err := expectBT(ctx, args[1:]); err != nil {
			return err
		}
	case "output":
		re, err := expectRegexp(args)
		if err != nil {
			return err
		}
		if !re.MatchString(ctx.R.lastOut) {
			out := ctx.R.lastOut
			if len(out) > 300 {
				out = out[:300] + "..."
			}
			return expectf("expect output %q: the last command's output does not match; it was %q", args[1], out)
		}
	default:
		return fmt.Errorf("expect %s: want serial, reg, mem, stop, exit, bt or output", args[0])
	}
	ctx.Printf("ok: expect %s\n", strings.Join(args, " "))
	return nil
}

// expectRegexp compiles the REGEX of `expect serial|output REGEX`.
func expectRegexp(args []string) (*regexp.Regexp, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("usage: expect %s REGEX", args[0])
	}
	re, err := regexp.Compile(args[1])
	if err != nil {
		return nil, fmt.Errorf("expect %s: %v", args[0], err)
	}
	return re, nil
}

func describeStop(st *target.Stop) string {
	if st.Reason == "exited" {
		return fmt.Sprintf("exited with status %d", st.ExitStatus)
	}
	return "stopped: " + st.String()
}

func compare(what string, got uint64, op string, want uint64) error {
	switch op {
	case "==":
		if got != want {
			return expectf("expect %s == %#x: found %#x", what, want, got)
		}
	case "!=":
		if got == want {
			return expectf("expect %s != %#x: found %#x", what, want, got)
		}
	default:
		return fmt.Errorf("expect %s: operator %q: want == or !=", what, op)
	}
	return nil
}
