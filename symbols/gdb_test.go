package symbols

// The oracle test: the test guests in testdata/ are built at -O0, -O1 and
// -O2, with DWARF and without any (no debug info, no unwind tables, frame
// pointers kept), stopped at several points by real gdb (the multiboot ELF32
// kernel under QEMU's gdbstub, the 64-bit user-style program natively), and
// at every stop gdb's "bt" is compared with FormatGDB(Backtrace(...))
// computed from the registers and memory gdb captured at the same stop.

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: skipping (needs %s)", tool, strings.Join(tools, ", "))
		}
	}
}

// guest describes one build of the test program.
type guest struct {
	name  string
	bits  int
	flags []string
	srcs  []string
	strip bool
	// stops drives gdb (the kernel.c stops when nil).
	stops []stop
	// prebuilt, when set, builds the guest instead of gcc in testdata/.
	prebuilt func(t *testing.T, dir string) string
	// resolve, when set, rewrites a gdb command for the built ELF file.
	resolveCmd func(t *testing.T, elf, cmd string) string
}

func (g guest) resolve(t *testing.T, elf, cmd string) string {
	if g.resolveCmd == nil {
		return cmd
	}
	return g.resolveCmd(t, elf, cmd)
}

func guestBuild(kind string, opt int) guest {
	if strings.HasSuffix(kind, "-nodwarf") {
		// No DWARF at all (debug info stripped, no unwind tables), frame
		// pointers kept: only the ELF symbol table and the frame-pointer
		// chain are left.
		g := guestBuild(strings.TrimSuffix(kind, "-nodwarf"), opt)
		g.name += "-nodwarf"
		g.flags = append(g.flags, "-fno-omit-frame-pointer", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables")
		g.strip = true
		return g
	}
	common := []string{"-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-fno-pie", "-no-pie",
		"-fno-stack-protector", "-g", fmt.Sprintf("-O%d", opt), "-Wl,--build-id=none"}
	if kind == "k32" {
		return guest{name: fmt.Sprintf("k32-O%d", opt), bits: 32,
			flags: append([]string{"-m32", "-T", "kernel.ld", "-Wl,--no-warn-rwx-segments"}, common...),
			srcs:  []string{"boot32.S", "kernel.c"}}
	}
	return guest{name: fmt.Sprintf("u64-O%d", opt), bits: 64,
		flags: append([]string{"-m64"}, common...), srcs: []string{"start64.S", "kernel.c"}}
}

// build compiles the guest in testdata/ (so the debug info names
// "kernel.c" relative to it) into dir.
func (g guest) build(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	if g.prebuilt != nil {
		return g.prebuilt(t, dir)
	}
	out := filepath.Join(dir, g.name+".elf")
	args := append(append(append([]string{}, g.flags...), extra...), "-o", out)
	args = append(args, g.srcs...)
	cmd := exec.Command("gcc", args...)
	cmd.Dir = "testdata"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	if g.strip {
		if b, err := exec.Command("objcopy", "--strip-debug", "--remove-section=.eh_frame", out).CombinedOutput(); err != nil {
			t.Fatalf("objcopy: %v\n%s", err, b)
		}
	}
	return out
}

// stop is one gdb stop: the commands that reach it.
type stop struct {
	cmds []string
	// notStep: the stop is not a single step or a breakpoint at an
	// address (a watchpoint, a breakpoint on a function name), so gdb
	// does not enter inlined calls starting at the pc.
	notStep bool
}

var stops = []stop{
	{cmds: []string{"break *level2", "continue"}},
	{cmds: []string{"break *in_regs", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"break deep_function", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"stepi 3"}},
	{cmds: []string{"break *bump", "continue"}},
	{cmds: []string{"break tick", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"finish"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"finish"}},
	{cmds: []string{"break square", "continue"}},
	{cmds: []string{"stepi 2"}},
	{cmds: []string{"finish"}},
}

func (g guest) stopList() []stop {
	if g.stops != nil {
		return g.stops
	}
	return stops
}

// capture is what gdb reported at one stop.
type capture struct {
	bt   string
	regs map[string]uint64
	mem  []chunk
}

type chunk struct {
	addr uint64
	data []byte
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runGDB drives gdb through the stops and returns one capture per stop.
func runGDB(t *testing.T, g guest, elf, dir string) []capture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ranges := imageRanges(t, elf)
	if g.bits == 32 {
		// Low memory (real-mode IVT, BIOS data): gdb reads there when
		// a garbage frame chain wraps around.
		ranges = append(ranges, [2]uint64{0, 0x1000})
	}
	var script strings.Builder
	script.WriteString("set pagination off\nset confirm off\nset width 0\n")
	if g.bits == 32 {
		port := freePort(t)
		qemu := exec.CommandContext(ctx, "qemu-system-i386", "-cpu", "qemu32", "-kernel", elf,
			"-display", "none", "-nodefaults", "-serial", "none", "-S", "-gdb", fmt.Sprintf("tcp:127.0.0.1:%d", port))
		var qerr bytes.Buffer
		qemu.Stderr = &qerr
		if err := qemu.Start(); err != nil {
			t.Skipf("cannot start qemu: %v", err)
		}
		defer func() {
			qemu.Process.Kill()
			qemu.Wait()
		}()
		// Wait for the gdbstub to listen.
		for i := 0; ; i++ {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
				break
			}
			if i > 100 {
				t.Fatalf("qemu gdbstub did not come up: %s", qerr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(&script, "target remote 127.0.0.1:%d\n", port)
	} else {
		script.WriteString("starti\n")
	}
	for i, s := range g.stopList() {
		for _, c := range s.cmds {
			script.WriteString(g.resolve(t, elf, c) + "\n")
		}
		fmt.Fprintf(&script, "echo @@BT %d@@\\n\nbt\necho @@REGS@@\\n\ninfo registers\n", i)
		for j, r := range ranges {
			memFile := filepath.Join(dir, fmt.Sprintf("%s-mem%d-%d.bin", g.name, i, j))
			fmt.Fprintf(&script, "dump binary memory %s %#x %#x\n", memFile, r[0], r[1])
		}
	}
	script.WriteString("echo @@DONE@@\\n\nkill\n")
	gf := filepath.Join(dir, g.name+".gdb")
	os.WriteFile(gf, []byte(script.String()), 0o644)
	cmd := exec.CommandContext(ctx, "gdb", "-batch", "-nx", "-x", gf, elf)
	out, err := cmd.CombinedOutput()
	if !bytes.Contains(out, []byte("@@DONE@@")) {
		if g.bits == 64 && bytes.Contains(out, []byte("ptrace")) {
			t.Skipf("gdb cannot run programs here (ptrace): %s", out)
		}
		t.Fatalf("gdb failed (%v):\n%s", err, out)
	}
	return parseCaptures(t, g, string(out), dir, ranges)
}

// imageRanges returns the address ranges of the ELF file's allocated
// sections.
func imageRanges(t *testing.T, path string) [][2]uint64 {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]uint64
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC != 0 && s.Size > 0 {
			out = append(out, [2]uint64{s.Addr, s.Addr + s.Size})
		}
	}
	return out
}

var regLine = regexp.MustCompile(`^([a-z0-9_]+)\s+0x([0-9a-f]+)\s`)

func parseCaptures(t *testing.T, g guest, out, dir string, ranges [][2]uint64) []capture {
	var caps []capture
	var cur *capture
	mode := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "@@BT "):
			caps = append(caps, capture{regs: map[string]uint64{}})
			cur = &caps[len(caps)-1]
			mode = "bt"
			continue
		case line == "@@REGS@@":
			mode = "regs"
			continue
		case line == "@@DONE@@":
			mode = ""
			continue
		}
		switch mode {
		case "bt":
			cur.bt += line + "\n"
		case "regs":
			if m := regLine.FindStringSubmatch(line); m != nil {
				v, _ := strconv.ParseUint(m[2], 16, 64)
				cur.regs[m[1]] = v
			}
		}
	}
	for i := range caps {
		for j, r := range ranges {
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s-mem%d-%d.bin", g.name, i, j)))
			if err != nil {
				t.Fatalf("stop %d: memory dump missing: %v", i, err)
			}
			caps[i].mem = append(caps[i].mem, chunk{r[0], b})
		}
	}
	return caps
}

// dumpMemory serves the bytes gdb dumped at the stop, then the ELF file's
// sections.
type dumpMemory struct {
	chunks   []chunk
	fallback Memory
}

func (m dumpMemory) ReadMemory(addr uint64, buf []byte) (int, error) {
	for _, c := range m.chunks {
		if addr >= c.addr && addr-c.addr+uint64(len(buf)) <= uint64(len(c.data)) {
			return copy(buf, c.data[addr-c.addr:]), nil
		}
	}
	return m.fallback.ReadMemory(addr, buf)
}

func (c capture) regsFor(bits int) Regs {
	r := Regs{Bits: bits}
	if bits == 32 {
		for i, n := range []string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"} {
			r.GPR[i] = c.regs[n]
		}
		r.PC = c.regs["eip"]
		return r
	}
	for i, n := range []string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"} {
		r.GPR[i] = c.regs[n]
	}
	r.PC = c.regs["rip"]
	return r
}

func TestBacktraceMatchesGDB(t *testing.T) {
	needTools(t, "gcc", "gdb")
	for _, kind := range []string{"k32", "u64", "k32-nodwarf", "u64-nodwarf"} {
		for _, opt := range []int{0, 1, 2} {
			g := guestBuild(kind, opt)
			t.Run(g.name, func(t *testing.T) {
				if kind == "u64-nodwarf" && opt == 2 {
					// gdb itself cannot "finish" out of the garbage frames
					// this build produces (its in_regs sets up %rbp late).
					t.Skip("gdb cannot run the stop script on this build")
				}
				compareWithGDB(t, g)
			})
		}
	}
}

// compareWithGDB builds g, runs gdb through its stops and compares gdb's bt
// with glassbox's at each one.
func compareWithGDB(t *testing.T, g guest) {
	t.Helper()
	if g.bits == 32 {
		needTools(t, "qemu-system-i386")
	}
	if g.strip {
		needTools(t, "objcopy")
	}
	dir := t.TempDir()
	elf := g.build(t, dir)
	caps := runGDB(t, g, elf, dir)
	stops := g.stopList()
	if len(caps) != len(stops) {
		t.Fatalf("got %d stops from gdb, want %d", len(caps), len(stops))
	}
	tab, err := Load(elf, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range caps {
		mem := dumpMemory{chunks: c.mem, fallback: tab.FileMemory()}
		frames, err := tab.BacktraceWith(mem, c.regsFor(g.bits), 0, Options{EnterInline: !stops[i].notStep})
		if err != nil {
			t.Fatalf("stop %d: %v", i, err)
		}
		var got strings.Builder
		FormatGDB(&got, frames)
		if got.String() != c.bt {
			t.Errorf("stop %d (%s): backtrace differs from gdb's\n--- gdb:\n%s--- glassbox:\n%s",
				i, strings.Join(stops[i].cmds, "; "), c.bt, got.String())
		} else {
			t.Logf("stop %d (%s): same as gdb:\n%s", i, strings.Join(stops[i].cmds, "; "), c.bt)
		}
	}
}

// tailStops stop testdata/tail.c in functions reached through tail calls.
var tailStops = []stop{
	{cmds: []string{"break leaf1", "continue"}},     // one_hop is a tail-call frame
	{cmds: []string{"stepi"}},                       // same, inside leaf1
	{cmds: []string{"break *two_b", "continue"}},    // two_a, at two_b's first insn
	{cmds: []string{"break *leaf2", "continue"}},    // two_b and two_a
	{cmds: []string{"stepi 2"}},                     // inside leaf2
	{cmds: []string{"break *amb_join", "continue"}}, // ambiguous: amb_top only
	{cmds: []string{"break leaf3", "continue"}},     // ambiguous: amb_join and amb_top only
	{cmds: []string{"break leaf4", "continue"}},     // outer above the real frame inner
	{cmds: []string{"finish"}},                      // in inner, outer above it
	{cmds: []string{"break leaf5", "continue"}},     // two ways to leaf5: no frames; self tail calls
}

// TestTailCallFramesMatchGDB: gdb shows functions that left through a tail
// call as tail-call frames (found from the DW_TAG_call_site entries marked
// DW_AT_call_tail_call); glassbox must show the same ones, with the same
// arguments, for one and two tail calls, a tail call above a real frame,
// and ambiguous chains where gdb keeps only their common ends.
func TestTailCallFramesMatchGDB(t *testing.T) {
	needTools(t, "gcc", "gdb")
	for _, kind := range []string{"k32", "u64"} {
		for _, opt := range []string{"2", "s"} {
			g := guestBuild(kind, 2)
			g.name = fmt.Sprintf("tail-%s-O%s", kind, opt)
			for i, f := range g.flags {
				if f == "-O2" {
					g.flags[i] = "-O" + opt
				}
			}
			g.srcs[len(g.srcs)-1] = "tail.c"
			g.stops = tailStops
			t.Run(g.name, func(t *testing.T) { compareWithGDB(t, g) })
		}
	}
}

// TestCrashGuestMatchesGDB: guests/crash stopped where it faults, under
// QEMU: its load_config left through a tail call to sum_fields (a
// tail-call frame whose arguments are constants), and its sources are
// named relative to a relative DW_AT_comp_dir.
func TestCrashGuestMatchesGDB(t *testing.T) {
	needTools(t, "gcc", "gdb", "bash")
	g := guest{name: "crash", bits: 32, stops: []stop{
		{cmds: []string{"break *'load_config.constprop.0'", "continue"}},
		{cmds: []string{"break *'sum_fields.constprop.0'", "continue"}},
		{cmds: []string{"stepi 4"}},
		{cmds: []string{"break read_field", "continue"}},
	}}
	g.prebuilt = func(t *testing.T, dir string) string {
		cmd := exec.Command("bash", "../guests/crash/build.sh", dir)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building guests/crash: %v\n%s", err, b)
		}
		return filepath.Join(dir, "crash.elf")
	}
	compareWithGDB(t, g)
}
