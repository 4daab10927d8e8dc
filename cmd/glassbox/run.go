package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"glassbox/guests"
	"glassbox/loader"
	"glassbox/machine"
	"glassbox/target"
)

// oneP: main sets it unless GOMAXPROCS is in the environment; then a run
// without a REPL, script or gdb stub uses one P (runtime.GOMAXPROCS(1)).
// The vCPUs take turns holding the baton with the main loop, so at most
// one goroutine runs guest code at a time and nothing needs a second core;
// with a second P idle, every turn handoff (a channel send to a parked
// goroutine) also wakes an OS thread to look for work (a futex wake and a
// spinning thread), with one P it is a plain goroutine switch: the bench
// guest runs about 9% faster (README, "Measured performance"). Not with a
// REPL or gdb: a vCPU goroutine preempted just after handing the baton
// back would show as runnable in their host-thread listings. Guest
// behaviour does not depend on it: vCPU turns count instructions.
var oneP bool

// options are the parsed `glassbox run` flags.
type options struct {
	kernel, bios, appendS, initrd string
	mem                           string
	smp                           int
	serial, debugcon              string
	gdb                           string
	gdbDefault, startPaused       bool
	repl                          bool
	script, report                string
	debugItems, debugFile         string
	logItems                      map[string]bool
	stats                         bool
	cpuProfile                    string
	reboot, noReboot              bool
	demo                          bool
	symbols                       []string
	qemu                          qemuOpts // QEMU compatibility flags (qemuflags.go)
	watchdog                      string
	hangTimeout                   time.Duration
}

// Main runs the command with args and returns the process exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		args = append([]string{"run"}, args...)
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdin, stdout, stderr)
	case "script":
		return scriptCmd(args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, "usage: glassbox [run] [flags]          (glassbox run -help lists the flags)\n"+
			"       glassbox script FILE [flags]   (flags also from the script's `# glassbox:` header)")
		return 0
	}
	fmt.Fprintf(stderr, "glassbox: unknown command %q (want run or script)\n", args[0])
	return 2
}

func runCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "glassbox: %v\n", err)
		return 2
	}
	if o.qemu.help != "" {
		fmt.Fprint(stdout, o.qemu.help)
		return 0
	}
	if oneP && !o.repl && o.script == "" && o.gdb == "" {
		runtime.GOMAXPROCS(1)
	}
	status, err := run(o, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "glassbox: %v\n", err)
		return 2
	}
	return status
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("glassbox run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.kernel, "kernel", "", "multiboot ELF32 / a.out-kludge kernel, or ELF64 `FILE`")
	fs.StringVar(&o.bios, "bios", "", "raw firmware ROM `FILE` (64 KiB..16 MiB, mapped to end at 4 GiB)")
	fs.StringVar(&o.appendS, "append", "", "kernel command line")
	fs.StringVar(&o.initrd, "initrd", "", "multiboot modules `FILE[ args],FILE2...`")
	fs.StringVar(&o.mem, "m", "128", "RAM `SIZE` in MiB (suffixes M, G accepted)")
	fs.IntVar(&o.smp, "smp", 1, "number of vCPUs")
	fs.StringVar(&o.serial, "serial", "stdio", "COM1 backend: stdio, none or file:PATH")
	fs.StringVar(&o.debugcon, "debugcon", "", "port 0xE9 output: file:PATH (default: the serial stream)")
	fs.StringVar(&o.gdb, "gdb", "", "gdb stub: tcp:[HOST]:PORT or unix:PATH")
	fs.BoolVar(&o.gdbDefault, "s", false, "shorthand for -gdb tcp::1234")
	fs.BoolVar(&o.startPaused, "S", false, "start paused (wait for the debugger)")
	fs.BoolVar(&o.repl, "repl", false, "interactive REPL")
	fs.StringVar(&o.script, "script", "", "run REPL commands from `FILE`")
	fs.StringVar(&o.report, "report", "", "on a triple fault or emulator error, write the crash report to `FILE` (JSON if it ends in .json)")
	fs.StringVar(&o.debugItems, "d", "", "log `ITEMS` (comma separated)")
	fs.StringVar(&o.debugFile, "D", "", "log to `FILE`")
	fs.BoolVar(&o.stats, "stats", false, "print execution statistics at exit")
	fs.StringVar(&o.watchdog, "watchdog", "1G", "stop with the hang analysis when every running vCPU has spun in place for `N` instructions (K/M/G suffixes; 0: off)")
	fs.DurationVar(&o.hangTimeout, "hang-timeout", 10*time.Second, "print the hang analysis when no vCPU finishes a turn for `DURATION` (the emulator is stuck; 0: off)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the emulator to `FILE` (go tool pprof)")
	fs.BoolVar(&o.reboot, "reboot", false, "reset the machine on a triple fault (PC behaviour) instead of stopping")
	fs.BoolVar(&o.noReboot, "no-reboot", false, "QEMU compatibility: a triple fault stops the run with status 0 (QEMU's -no-reboot exit) instead of 2")
	fs.Func("symbols", "load guest symbols/DWARF from `FILE[@OFFSET]` (repeatable; an ELF kernel's own are loaded automatically)",
		func(v string) error { o.symbols = append(o.symbols, v); return nil })
	addQEMUFlags(fs, &o.qemu)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := o.qemu.check(stderr); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if o.smp < 1 || o.smp > 64 {
		return nil, errorf("-smp %d: must be between 1 and 64", o.smp)
	}
	if o.kernel != "" && o.bios != "" {
		return nil, errorf("-kernel and -bios are mutually exclusive")
	}
	if o.kernel == "" && o.bios == "" {
		o.demo = true
	}
	if o.kernel == "" && (o.appendS != "" || o.initrd != "") {
		return nil, errorf("-append and -initrd need -kernel")
	}
	if o.reboot && o.noReboot {
		return nil, errorf("-reboot and -no-reboot are mutually exclusive")
	}
	if o.gdbDefault {
		if o.gdb != "" {
			return nil, errorf("-s and -gdb are mutually exclusive")
		}
		o.gdb = "tcp::1234"
	}
	if o.startPaused && o.gdb == "" && !o.repl {
		return nil, errorf("-S needs -gdb/-s or -repl (something must resume the guest)")
	}
	if o.script != "" && o.repl {
		return nil, errorf("-script and -repl are mutually exclusive")
	}
	items, err := parseLogItems(o.debugItems)
	if err != nil {
		return nil, err
	}
	o.logItems = items
	return o, nil
}

// parseSize parses QEMU's -m: a number of MiB, or with a K/M/G suffix.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := uint64(1 << 20)
	switch {
	case strings.HasSuffix(t, "G"), strings.HasSuffix(t, "GB"), strings.HasSuffix(t, "GIB"):
		mult = 1 << 30
	case strings.HasSuffix(t, "K"), strings.HasSuffix(t, "KB"), strings.HasSuffix(t, "KIB"):
		mult = 1 << 10
	}
	t = strings.TrimRight(t, "KMGIB")
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return 0, errorf("-m %q: want a size like 128, 512M or 2G", s)
	}
	return n * mult, nil
}

func openOutput(spec string, stdout io.Writer, what string) (io.Writer, func(), error) {
	switch {
	case spec == "stdio":
		return stdout, func() {}, nil
	case spec == "none" || spec == "null":
		return io.Discard, func() {}, nil
	case strings.HasPrefix(spec, "file:"):
		f, err := os.Create(strings.TrimPrefix(spec, "file:"))
		if err != nil {
			return nil, nil, errorf("%s %s: %v", what, spec, err)
		}
		return f, func() { f.Close() }, nil
	}
	return nil, nil, errorf("%s %q: want stdio, none or file:PATH", what, spec)
}

func run(o *options, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ram, err := parseSize(o.mem)
	if err != nil {
		return 2, err
	}
	serial, closeSerial, err := openOutput(o.serial, stdout, "-serial")
	if err != nil {
		return 2, err
	}
	defer closeSerial()
	var debugcon io.Writer
	if o.debugcon != "" {
		if !strings.HasPrefix(o.debugcon, "file:") {
			return 2, errorf("-debugcon %q: want file:PATH", o.debugcon)
		}
		w, closeD, err := openOutput(o.debugcon, stdout, "-debugcon")
		if err != nil {
			return 2, err
		}
		defer closeD()
		debugcon = w
	}
	spinWD, err := parseCountSuffix(o.watchdog)
	if err != nil {
		return 2, errorf("-watchdog %q: want an instruction count like 500M or 0", o.watchdog)
	}
	logW, closeLog, err := openLog(o.debugFile, stderr)
	if err != nil {
		return 2, err
	}
	defer closeLog()
	var onReset func(*machine.Machine)
	if o.logItems["cpu_reset"] {
		onReset = func(m *machine.Machine) {
			fmt.Fprintln(logW, "CPU Reset")
			for _, c := range m.CPUs {
				machine.WriteRegs(logW, c)
			}
		}
	}
	m, err := machine.New(machine.Config{Hooks: logHooks(o.logItems, logW), OnReset: onReset, SpinWatchdog: spinWD, RAM: ram, CPUs: o.smp, Serial: serial, DebugCon: debugcon, Reboot: o.reboot,
		Platform: o.qemu.platform})
	if err != nil {
		return 2, err
	}
	switch {
	case o.demo:
		if err := m.LoadBIOS(guests.DemoROM); err != nil {
			return 2, fmt.Errorf("embedded demo: %v", err)
		}
	case o.bios != "":
		rom, err := os.ReadFile(o.bios)
		if err != nil {
			return 2, errorf("-bios: %v", err)
		}
		if err := m.LoadBIOS(rom); err != nil {
			return 2, errorf("-bios %s: %v", o.bios, err)
		}
	default:
		file, err := os.ReadFile(o.kernel)
		if err != nil {
			return 2, errorf("-kernel: %v", err)
		}
		mods, err := readModules(o.initrd)
		if err != nil {
			return 2, err
		}
		if err := m.LoadKernel(file, o.kernel, loader.Options{Cmdline: o.appendS, Modules: mods}); err != nil {
			return 2, errorf("-kernel %s: %v", o.kernel, err)
		}
	}
	if err := m.Start(); err != nil {
		return 2, err
	}
	if onReset != nil {
		onReset(m) // power-on state
	}
	defer m.Close()
	t := target.New(m)
	for _, spec := range o.symbols {
		file, off := spec, uint64(0)
		if i := strings.LastIndexByte(spec, '@'); i >= 0 {
			v, err := strconv.ParseUint(spec[i+1:], 0, 64)
			if err != nil {
				return 2, errorf("-symbols %s: bad offset %q", spec, spec[i+1:])
			}
			file, off = spec[:i], v
		}
		if err := t.LoadSymbols(file, off); err != nil {
			return 2, errorf("-symbols %s: %v", spec, err)
		}
	}
	if o.startPaused {
		t.Hold()
	}
	if o.gdb != "" {
		stop, err := startGDB(t, o, stderr)
		if err != nil {
			return 2, err
		}
		defer stop()
	}
	if o.serial == "stdio" && !o.repl && stdin != nil {
		go feedSerial(m, stdin)
	}
	if o.hangTimeout > 0 {
		defer m.StartHostWatchdog(o.hangTimeout, stderr)()
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return 2, errorf("-cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return 2, errorf("-cpuprofile: %v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	start := time.Now()
	if o.stats {
		defer func() { writeStats(stderr, m, time.Since(start)) }()
	}
	if o.repl {
		return runREPL(t, o, stdin, stdout, stderr), nil
	}
	if o.script != "" {
		return runScript(m, t, o, stdout, stderr)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	st := t.RunUntilExit(ctx)
	if o.report != "" && isCrash(st) {
		if err := writeReport(t, o.report, stderr); err != nil {
			fmt.Fprintf(stderr, "glassbox: %v\n", err)
		}
	}
	return finish(m, t, o, st, stderr), nil
}

// finish reports a final stop and returns the exit status.
func finish(m *machine.Machine, t *target.Target, o *options, st *target.Stop, stderr io.Writer) int {
	switch st.Reason {
	case "exited":
		if o.demo && st.ExitStatus == 1 {
			// The demo signals success by writing 0 to isa-debug-exit
			// (QEMU status 1); as the default command it exits 0.
			return 0
		}
		return st.ExitStatus
	case "paused":
		fmt.Fprintln(stderr, "glassbox: interrupted")
		m.Report(stderr, &machine.Stop{Kind: machine.StopCanceled})
		return 2
	case "shutdown":
		m.Report(stderr, &machine.Stop{Kind: machine.StopShutdown, CPU: st.CPU})
		if o.noReboot {
			return 0 // QEMU -no-reboot: a guest shutdown ends the run normally
		}
		return 2
	case "halted":
		m.Report(stderr, &machine.Stop{Kind: machine.StopHaltedForever})
		printAnalysis(t, stderr)
		return 0
	case "watchdog":
		m.Report(stderr, &machine.Stop{Kind: machine.StopWatchdog, Err: st.Err, CPU: st.CPU})
		printAnalysis(t, stderr)
		return 2
	case "error":
		m.Report(stderr, &machine.Stop{Kind: machine.StopInternalError, Err: st.Err})
		return 2
	}
	fmt.Fprintf(stderr, "glassbox: stopped: %v\n", st)
	return 2
}

// feedSerial copies stdin to COM1's receive queue (the machine loop moves
// it into the UART FIFO between quanta). It ends at EOF.
func feedSerial(m *machine.Machine, stdin io.Reader) {
	pprofLabel("uart-input", func() {
		buf := make([]byte, 256)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				m.UART.Feed(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
}

// readModules reads -initrd "file args,file2 args".
func readModules(spec string) ([]loader.Module, error) {
	if spec == "" {
		return nil, nil
	}
	var mods []loader.Module
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, errorf("-initrd %q: empty module", spec)
		}
		name := part
		if i := strings.IndexByte(part, ' '); i >= 0 {
			name = part[:i]
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, errorf("-initrd: %v", err)
		}
		mods = append(mods, loader.Module{Name: name, Data: data, Cmdline: part})
	}
	return mods, nil
}

// printAnalysis prints `analyze hang` (when every vCPU halted for good or
// the watchdog stopped the guest).
func printAnalysis(t *target.Target, w io.Writer) {
	rep, err := t.AnalyzeHang()
	if err != nil {
		fmt.Fprintf(w, "glassbox: hang analysis failed: %v\n", err)
		return
	}
	fmt.Fprintf(w, "hang analysis:\n%s", rep.String())
}

// parseCountSuffix parses a count with an optional K/M/G suffix (powers
// of 1000).
func parseCountSuffix(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "K"), strings.HasSuffix(s, "k"):
		mult = 1e3
	case strings.HasSuffix(s, "M"):
		mult = 1e6
	case strings.HasSuffix(s, "G"):
		mult = 1e9
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > ^uint64(0)/mult {
		return 0, fmt.Errorf("bad count %q", s)
	}
	return n * mult, nil
}
