// Package repl is glassbox's command interpreter: the interactive REPL
// (`glassbox run -repl`), script runner and gdb `monitor` back end. It sees
// the machine only through the debug interface in package target.
//
// Every command lives in one table (see Commands): `help`, tab completion
// and docs/commands.md are generated from it. Exec runs one command line
// and writes its output to the REPL's writer; the same call serves the
// interactive front end (Run), scripts (RunScript) and gdb's monitor.
//
// # Output conventions
//
// Addresses and other machine values print in hex with a 0x prefix,
// counts in decimal; tables are aligned and fit 80 columns. Every `info`
// and dump command accepts -json and then prints exactly one JSON
// document (numbers are plain JSON numbers, 64-bit exact). On any error
// nothing is printed and Exec returns the error, whose text is a single
// line.
package repl

//go:generate go test -run TestDocs -update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"glassbox/target"
)

// ErrQuit is returned by Exec for `quit`.
var ErrQuit = errors.New("quit")

// REPL is a command interpreter bound to one target.
type REPL struct {
	t   *target.Target
	out io.Writer
	cpu int // selected vCPU

	quit bool

	// x/xp state: gdb remembers the last format and the next address.
	lastX xState

	// runWait waits for a guest run started by continue/stepi/until. The
	// interactive front end replaces it to handle Ctrl-C and Ctrl-D while
	// the guest runs; the default just waits.
	runWait func(done <-chan *target.Stop, cancel func()) *target.Stop

	// createFile opens dump-memory's output (tests replace it).
	createFile func(name string) (io.WriteCloser, error)
	// createCore opens dump-guest-memory's output (tests replace it).
	createCore func(name string) (coreFile, error)
	// dumpLimit bounds dump-memory's LEN.
	dumpLimit uint64

	// vars are the ${NAME} values `set NAME = VALUE` defined (scripts).
	vars map[string]string
	// lastOut is the output of the last command other than expect
	// (`expect output REGEX` checks it).
	lastOut string
}

type xState struct {
	count  int
	format byte
	unit   int
	next   uint64
	valid  bool
	phys   bool
}

// New returns a REPL driving t that writes command output to out. The
// guest is not touched until a command runs it.
func New(t *target.Target, out io.Writer) *REPL {
	r := &REPL{t: t, out: out, lastX: xState{count: 1, format: 'x', unit: 4}, dumpLimit: 1 << 32, vars: map[string]string{}}
	r.runWait = func(done <-chan *target.Stop, _ func()) *target.Stop { return <-done }
	r.createFile = func(name string) (io.WriteCloser, error) { return os.Create(name) }
	r.createCore = func(name string) (coreFile, error) { return os.Create(name) }
	return r
}

// SetOutput redirects command output.
func (r *REPL) SetOutput(w io.Writer) { r.out = w }

// CPU is the selected vCPU.
func (r *REPL) CPU() int { return r.cpu }

// Quitting reports whether `quit` was executed.
func (r *REPL) Quitting() bool { return r.quit }

// ExitStatus is the process status to exit with: the guest's status when
// it terminated, else 0.
func (r *REPL) ExitStatus() int {
	if st := r.t.LastStop(); st != nil && st.Terminal() {
		return st.ExitStatus
	}
	return 0
}

// Context is what a command handler gets besides its positional arguments.
type Context struct {
	R   *REPL
	T   *target.Target
	Out io.Writer
	// JSON is set when -json was given: print exactly one JSON document.
	JSON bool
	// Suffix is the text after '/' in the command word (x/4xw -> "4xw").
	Suffix string
	Cmd    *Command
	flags  map[string]string
}

// Has reports whether flag -name was given.
func (c *Context) Has(name string) bool { _, ok := c.flags[name]; return ok }

// Value returns the argument of flag -name.
func (c *Context) Value(name string) (string, bool) { v, ok := c.flags[name]; return v, ok }

// Printf writes formatted output.
func (c *Context) Printf(format string, a ...any) { fmt.Fprintf(c.Out, format, a...) }

// EmitJSON prints v as the command's one JSON document.
func (c *Context) EmitJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	c.Out.Write(append(b, '\n'))
	return nil
}

// CPU is the vCPU a command works on: -cpu N if given, else the selected one.
func (c *Context) CPU() (int, error) {
	if v, ok := c.flags["cpu"]; ok {
		n, err := parseCount(v)
		if err != nil {
			return 0, fmt.Errorf("-cpu %q: %v", v, err)
		}
		if n >= uint64(c.T.NumCPUs()) {
			return 0, fmt.Errorf("-cpu %d: no such CPU (the machine has %d)", n, c.T.NumCPUs())
		}
		return int(n), nil
	}
	return c.R.cpu, nil
}

// CPURegs resolves the selected vCPU (see CPU) and reads its registers.
func (c *Context) CPURegs() (int, target.Regs, error) {
	cpu, err := c.CPU()
	if err != nil {
		return 0, target.Regs{}, err
	}
	r, err := c.T.Regs(cpu)
	return cpu, r, err
}

// IntFlag parses a numeric flag, with a default.
func (c *Context) IntFlag(name string, def uint64) (uint64, error) {
	v, ok := c.flags[name]
	if !ok {
		return def, nil
	}
	n, err := c.R.evalAddr(v)
	if err != nil {
		return 0, fmt.Errorf("-%s %q: %v", name, v, err)
	}
	return n, nil
}

// Exec runs one command line. Output goes to the REPL's writer; on error
// nothing is printed and the error (one line) is returned. `quit` returns
// ErrQuit. Exec never panics.
func (r *REPL) Exec(line string) (err error) {
	// gdb's spelling of the host-stack dump.
	if f := strings.Fields(line); len(f) >= 4 && f[0] == "thread" && f[1] == "apply" && f[2] == "all" && f[3] == "bt" {
		line = "threads bt " + strings.Join(f[4:], " ")
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
		if err != nil && err != ErrQuit && strings.ContainsAny(err.Error(), "\n\r") {
			err = errors.New(strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(err.Error()))
		}
	}()
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return nil
	}
	toks, err := tokenize(line)
	if err != nil {
		return err
	}
	cmd, suffix, rest, err := lookup(toks)
	if err != nil {
		return err
	}
	if suffix != "" && !cmd.Suffix {
		return fmt.Errorf("%s: unexpected '/%s'", cmd.Name, suffix)
	}
	ctx := &Context{R: r, T: r.t, Out: r.out, Suffix: suffix, Cmd: cmd, flags: map[string]string{}}
	args, err := parseFlags(cmd, rest, ctx.flags)
	if err != nil {
		return err
	}
	if _, ok := ctx.flags["json"]; ok {
		ctx.JSON = true
	}
	if len(args) < cmd.MinArgs || cmd.MaxArgs >= 0 && len(args) > cmd.MaxArgs {
		return fmt.Errorf("usage: %s", cmd.Usage())
	}
	if cmd.NeedsStopped && r.t.Running() {
		return fmt.Errorf("%s: the guest is running (Ctrl-C or `pause` stops it)", cmd.Name)
	}
	// Buffer the output so that an error prints nothing.
	var buf bytes.Buffer
	ctx.Out = &buf
	if cmd.Streams {
		ctx.Out = r.out
	}
	err = cmd.Run(ctx, args)
	if !cmd.Streams {
		if err == nil || err == ErrQuit {
			r.out.Write(buf.Bytes())
		}
	}
	if cmd.Name != "expect" {
		if cmd.Streams {
			r.lastOut = "" // not captured
		} else {
			r.lastOut = buf.String()
		}
	}
	return err
}

// Prompt is the interactive prompt.
const Prompt = "(glassbox) "

// Tokenize splits a line into words the way command lines are split:
// blanks separate, double quotes group words; an unterminated quote is an
// error.
func Tokenize(line string) ([]string, error) { return tokenize(line) }

// tokenize splits a line into words; double quotes group words.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quoted && ch == '"':
			quoted = false
		case quoted:
			cur.WriteByte(ch)
		case ch == '"':
			quoted, in = true, true
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f':
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// lookup finds the command a tokenized line names.
func lookup(toks []string) (cmd *Command, suffix string, rest []string, err error) {
	if len(toks) == 0 {
		return nil, "", nil, fmt.Errorf("empty command")
	}
	word := toks[0]
	if i := strings.IndexByte(word, '/'); i > 0 {
		word, suffix = word[:i], word[i+1:]
	}
	word = strings.ToLower(word)
	idx := index()
	if g, ok := idx.groupAlias[word]; ok {
		word = g
	}
	if subs, isGroup := idx.groups[word]; isGroup && len(toks) > 1 && !strings.HasPrefix(toks[1], "-") {
		sub := strings.ToLower(toks[1])
		if c, ok := idx.byName[word+" "+sub]; ok {
			return c, suffix, toks[2:], nil
		}
		var matches []*Command
		for _, c := range subs {
			if strings.HasPrefix(c.sub(), sub) {
				matches = append(matches, c)
			}
		}
		if len(matches) == 1 {
			return matches[0], suffix, toks[2:], nil
		}
		if len(matches) > 1 {
			return nil, "", nil, fmt.Errorf("ambiguous command %q: %s", word+" "+sub, names(matches))
		}
		if c, ok := idx.byName[word]; ok { // "dirty 0x1000": the group is a command too
			return c, suffix, toks[1:], nil
		}
		return nil, "", nil, fmt.Errorf("unknown command %q (`help %s` lists the %s commands)", word+" "+sub, word, word)
	}
	if c, ok := idx.byName[word]; ok {
		return c, suffix, toks[1:], nil
	}
	if subs, isGroup := idx.groups[word]; isGroup {
		if len(subs) > 6 {
			return nil, "", nil, fmt.Errorf("%s needs a sub-command (`help %s` lists them)", word, word)
		}
		return nil, "", nil, fmt.Errorf("%s needs a sub-command: %s", word, names(subs))
	}
	// unique prefix of a top-level word
	var cands []string
	for _, w := range idx.topWords {
		if strings.HasPrefix(w, word) {
			cands = append(cands, w)
		}
	}
	if len(cands) == 1 {
		t2 := append([]string{cands[0]}, toks[1:]...)
		if suffix != "" {
			t2[0] += "/" + suffix
		}
		return lookup(t2)
	}
	if len(cands) > 1 {
		return nil, "", nil, fmt.Errorf("ambiguous command %q: %s", word, strings.Join(cands, ", "))
	}
	return nil, "", nil, fmt.Errorf("unknown command %q (type `help` for the list)", toks[0])
}

func names(cs []*Command) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name)
	}
	return strings.Join(s, ", ")
}

// parseFlags separates -flags from positional arguments.
func parseFlags(cmd *Command, toks []string, out map[string]string) ([]string, error) {
	var args []string
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		if len(tk) < 2 || tk[0] != '-' {
			args = append(args, tk)
			continue
		}
		name := strings.TrimLeft(tk, "-")
		f := cmd.flag(name)
		if f == nil && tk[1] >= '0' && tk[1] <= '9' { // a negative number
			args = append(args, tk)
			continue
		}
		if f == nil {
			return nil, fmt.Errorf("%s: unknown flag %s (usage: %s)", cmd.Name, tk, cmd.Usage())
		}
		if f.Arg == "" {
			out[f.Name] = ""
			continue
		}
		if i+1 >= len(toks) {
			return nil, fmt.Errorf("%s: flag -%s needs %s", cmd.Name, f.Name, f.Arg)
		}
		i++
		v := toks[i]
		if len(f.Values) > 0 {
			ok := false
			for _, x := range f.Values {
				if strings.EqualFold(x, v) {
					v, ok = x, true
				}
			}
			if !ok {
				return nil, fmt.Errorf("%s: -%s %q: want %s", cmd.Name, f.Name, v, strings.Join(f.Values, ", "))
			}
		}
		out[f.Name] = v
	}
	return args, nil
}

// parseCount parses a plain non-negative number (decimal or 0x hex).
func parseCount(s string) (uint64, error) {
	s = strings.ReplaceAll(s, "_", "")
	base := 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		s, base = s[2:], 16
	case strings.HasPrefix(s, "0b") || strings.HasPrefix(s, "0B"):
		s, base = s[2:], 2
	case strings.HasPrefix(s, "0o"):
		s, base = s[2:], 8
	}
	if s == "" {
		return 0, fmt.Errorf("not a number")
	}
	n, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("number out of range")
		}
		return 0, fmt.Errorf("not a number")
	}
	return n, nil
}

// evalAddr evaluates an address expression: terms joined by + and -,
// each a number (decimal, 0x hex, 0b binary) or a register ($pc, $eip,
// $esp, $cr3, ...) of the selected vCPU.
func (r *REPL) evalAddr(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty expression")
	}
	var total uint64
	sign := uint64(1)
	i := 0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = ^uint64(0)
		}
		i = 1
	}
	for {
		j := i
		for j < len(s) && s[j] != '+' && s[j] != '-' {
			j++
		}
		term := s[i:j]
		var v uint64
		if strings.HasPrefix(term, "$") {
			x, err := r.regValue(term[1:])
			if err != nil {
				return 0, err
			}
			v = x
		} else if tab := r.t.Symbols(); tab != nil && isIdent(term) {
			// a guest symbol: where gdb's `break NAME` would stop
			a, _, _, ok := tab.BreakpointAddr(term)
			if !ok {
				if a, ok = tab.Lookup(term); !ok {
					return 0, fmt.Errorf("no symbol %q", term)
				}
			}
			v = a
		} else {
			x, err := parseCount(term)
			if err != nil {
				return 0, fmt.Errorf("%q: %v", s, err)
			}
			v = x
		}
		total += sign * v
		if j >= len(s) {
			return total, nil
		}
		sign = 1
		if s[j] == '-' {
			sign = ^uint64(0)
		}
		i = j + 1
		if i >= len(s) {
			return 0, fmt.Errorf("%q: expression ends with an operator", s)
		}
	}
}

var gprNames = [3][16]string{
	{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"},
	{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"},
	{"ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"},
}

var segNames = [6]string{"es", "cs", "ss", "ds", "fs", "gs"}

// regValue reads a register of the selected vCPU by gdb/QEMU name.
func (r *REPL) regValue(name string) (uint64, error) {
	regs, err := r.t.Regs(r.cpu)
	if err != nil {
		return 0, err
	}
	n := strings.ToLower(name)
	for w, set := range gprNames {
		for i, rn := range set {
			if n == rn {
				return regs.GPR[i] & [3]uint64{^uint64(0), 0xFFFFFFFF, 0xFFFF}[w], nil
			}
		}
	}
	for i, sn := range segNames {
		if n == sn {
			return uint64(regs.Seg[i].Sel), nil
		}
		if n == sn+"_base" {
			return regs.Seg[i].Base, nil
		}
	}
	switch n {
	case "pc":
		return regs.PC, nil
	case "rip", "eip", "ip":
		return regs.RIP, nil
	case "rflags", "eflags", "flags":
		return regs.RFLAGS, nil
	case "cr0":
		return regs.CR0, nil
	case "cr2":
		return regs.CR2, nil
	case "cr3":
		return regs.CR3, nil
	case "cr4":
		return regs.CR4, nil
	case "cr8":
		return regs.CR8, nil
	case "efer":
		return regs.EFER, nil
	case "gdtr":
		return regs.GDTBase, nil
	case "idtr":
		return regs.IDTBase, nil
	}
	if len(n) == 3 && strings.HasPrefix(n, "dr") && n[2] >= '0' && n[2] <= '7' {
		return regs.DR[n[2]-'0'], nil
	}
	return 0, fmt.Errorf("unknown register $%s", name)
}

// --- stops --------------------------------------------------------------

// runGuest runs f (a Continue or Step) in a goroutine and waits for it
// through runWait, so that the interactive front end can interrupt it.
func (r *REPL) runGuest(f func(ctx context.Context) *target.Stop) *target.Stop {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *target.Stop, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- &target.Stop{Reason: "error", Err: fmt.Errorf("internal error: %v", p)}
			}
		}()
		done <- f(ctx)
	}()
	return r.runWait(done, func() { cancel(); r.t.Pause() })
}

// printStop reports a stop like gdb does: why, then the next instruction.
func (r *REPL) printStop(w io.Writer, st *target.Stop) {
	if st == nil {
		return
	}
	switch st.Reason {
	case "exited":
		fmt.Fprintf(w, "[guest exited with status %d]\n", st.ExitStatus)
		return
	case "shutdown":
		fmt.Fprintf(w, "[guest shut down (triple fault) on CPU %d at %s]\n", st.CPU, hexAddr(st.PC))
		return
	case "halted":
		fmt.Fprintf(w, "[guest halted for good: every vCPU is halted with interrupts off]\n")
		return
	case "error":
		fmt.Fprintf(w, "[emulator error: %v]\n", st.Err)
		return
	case "watchdog":
		fmt.Fprintf(w, "[watchdog: %v; stopped with CPU %d at %s; `analyze hang` explains]\n", st.Err, st.CPU, hexAddr(st.PC))
		return
	case "breakpoint":
		bps, _ := r.t.Breakpoints()
		id := 0
		for _, b := range bps {
			if b.Addr == st.PC {
				id = b.ID
			}
		}
		if id > 0 {
			fmt.Fprintf(w, "Breakpoint %d, CPU %d at %s\n", id, st.CPU, hexAddr(st.PC))
		} else {
			fmt.Fprintf(w, "Breakpoint, CPU %d at %s\n", st.CPU, hexAddr(st.PC))
		}
	case "watchpoint":
		if h := st.Watch; h != nil {
			kind := "read"
			if h.Write {
				kind = "write"
			}
			fmt.Fprintf(w, "Watchpoint %d: %s of %s, CPU %d at %s\n", h.ID, kind, hexAddr(h.Addr), st.CPU, hexAddr(st.PC))
		} else {
			fmt.Fprintf(w, "Watchpoint, CPU %d at %s\n", st.CPU, hexAddr(st.PC))
		}
	case "paused":
		fmt.Fprintf(w, "Paused, CPU %d at %s\n", st.CPU, hexAddr(st.PC))
	case "catchpoint":
		if c := st.Catch; c != nil {
			fmt.Fprintf(w, "Catchpoint %d (%s), CPU %d at %s: %s\n", c.ID, c.Kind, st.CPU, hexAddr(st.PC), c.Detail)
		} else {
			fmt.Fprintf(w, "Catchpoint, CPU %d at %s\n", st.CPU, hexAddr(st.PC))
		}
	case "step":
	default:
		fmt.Fprintf(w, "Stopped (%s), CPU %d at %s\n", st.Reason, st.CPU, hexAddr(st.PC))
	}
	if st.CPU >= 0 && st.CPU < r.t.NumCPUs() {
		r.cpu = st.CPU
	}
	fmt.Fprintf(w, "=> %s\n", r.insnLine(r.cpu, 0, false))
}

// insnLine disassembles the instruction at pc (0: the vCPU's PC).
func (r *REPL) insnLine(cpu int, pc uint64, bytesCol bool) string {
	regs, err := r.t.Regs(cpu)
	if err != nil {
		return err.Error()
	}
	if pc == 0 {
		pc = regs.PC
	}
	buf := make([]byte, 16)
	n, _ := r.t.ReadLinear(cpu, pc, buf)
	if n == 0 {
		return fmt.Sprintf("%s:  (not mapped)", hexAddr(pc))
	}
	ins := disasm(buf[:n], pc, regs.Bits)
	if len(ins) == 0 {
		return fmt.Sprintf("%s:  (bad)", hexAddr(pc))
	}
	return fmt.Sprintf("%s:  %s", hexAddr(pc), ins[0].Text)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// isIdent reports a C identifier (a symbol name, not a number).
func isIdent(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
