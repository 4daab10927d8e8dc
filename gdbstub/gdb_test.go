package gdbstub

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"glassbox/guests"
	"glassbox/machine"
	"glassbox/target"
)

// Tests that drive the real gdb (gdb -batch -nx) against the stub on a
// loopback port. They skip when gdb is not installed.

const gdbTimeout = 15 * time.Second

func gdbPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed: skipping the tests that drive the real gdb")
	}
	return p
}

// gdbArgs builds a batch command line: -ex for each command.
func gdbArgs(cmds ...string) []string {
	args := append(gdbBase(), "-ex", "set pagination off", "-ex", "set confirm off", "-ex", "set width 0")
	for _, c := range cmds {
		args = append(args, "-ex", c)
	}
	return args
}

// gdbBase: batch mode, no .gdbinit, and no core dump on an internal error.
func gdbBase() []string {
	return []string{"-batch", "-nx", "-iex", "maint set internal-error corefile no",
		"-iex", "maint set internal-error quit yes"}
}

// gdbCommand builds a gdb command running in a scratch directory.
func gdbCommand(ctx context.Context, t *testing.T, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, gdbPath(t), args...)
	cmd.Dir = t.TempDir()
	return cmd
}

// runGDB runs gdb in batch mode and returns its combined output.
func runGDB(t *testing.T, cmds ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), gdbTimeout)
	defer cancel()
	cmd := gdbCommand(ctx, t, gdbArgs(cmds...))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("gdb timed out; output:\n%s", out)
	}
	if err != nil {
		t.Logf("gdb: %v", err)
	}
	if strings.Contains(string(out), "internal-error") || strings.Contains(string(out), "Remote 'g' packet reply is too long") {
		t.Fatalf("gdb failed:\n%s", out)
	}
	return string(out)
}

// expect checks that out matches every regexp, in order.
func expect(t *testing.T, out string, res ...string) {
	t.Helper()
	rest := out
	for _, re := range res {
		loc := regexp.MustCompile(re).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("gdb output lacks %q (in order); output:\n%s", re, out)
		}
		rest = rest[loc[1]:]
	}
}

func scriptPath(t *testing.T) string {
	p, err := filepath.Abs("../gdb/glassbox.gdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gdb script: %v", err)
	}
	return p
}

// demoPCAfter returns the linear PC of the demo ROM after n single steps
// from the reset vector (on a scratch machine).
func demoPCAfter(t *testing.T, n int) uint64 {
	t.Helper()
	m, err := machine.New(machine.Config{RAM: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m.LoadBIOS(guests.DemoROM)
	m.Start()
	tg := target.New(m)
	st := tg.Step(0, n)
	if st.Reason != "step" {
		t.Fatalf("stepping the demo: %v", st)
	}
	return st.PC
}

// TestGDBResetVector: the demo BIOS paused at the reset vector.
func TestGDBResetVector(t *testing.T) {
	gdbPath(t)
	rm := demoPCAfter(t, 4) // cli; cld; mov %cr0,%ebx after the far jump
	p32 := start32(t)
	s := startStub(t, demoGuest, Config{})
	out := runGDB(t,
		"target remote "+s.addr,
		"info registers",
		"x/2i $pc",
		"stepi",
		"info registers eip",
		fmt.Sprintf("break *%#x", rm),
		"continue",
		"monitor info registers",
		"x/1i $pc",
		fmt.Sprintf("break *%#x", p32),
		"continue",
		"info registers eip cs",
		"monitor info mode",
		"detach",
	)
	expect(t, out,
		`0xfffffff0 in \?\? \(\)`,
		`eip\s+0xfffffff0\s`,
		`cs\s+0xf000\s`,
		`cs_base\s+0xffff0000\s`,
		`=> 0xfffffff0:\s+ljmp\s+\$0xf000,\$0x0`, // decoded as 16-bit code
		`0x000f0000 in \?\? \(\)`,
		`eip\s+0xf0000\s`,
		fmt.Sprintf(`Breakpoint 1 at %#x`, rm),
		fmt.Sprintf(`Breakpoint 1, 0x%08x in \?\? \(\)`, rm),
		fmt.Sprintf(`CS:IP=f000:%04x linear PC=%#x`, rm-0xf0000, rm),
		fmt.Sprintf(`=> %#x:\s+xor\s+%%ax,%%ax`, rm),
		fmt.Sprintf(`Breakpoint 2, 0x%08x in \?\? \(\)`, p32),
		fmt.Sprintf(`eip\s+%#x\s`, p32),
		`cs\s+0x8\s`,
		`protected32`,
		`\[Inferior 1 \(Remote target\) detached\]`,
	)
}

// TestGDBScriptSwitchesArchitecture: gdb/glassbox.gdb follows the CPU
// from real mode to 32-bit protected mode.
func TestGDBScriptSwitchesArchitecture(t *testing.T) {
	gdbPath(t)
	p32 := start32(t)
	s := startStub(t, demoGuest, Config{})
	args := []string{"-x", scriptPath(t), "-ex", "target remote " + s.addr,
		"-ex", "stepi", "-ex", "x/4i $pc", "-ex", "show architecture",
		"-ex", fmt.Sprintf("break *%#x", p32), "-ex", "continue",
		"-ex", "show architecture", "-ex", "x/1i $pc", "-ex", "glassbox-mode", "-ex", "kill"}
	ctx, cancel := context.WithTimeout(context.Background(), gdbTimeout)
	defer cancel()
	b, _ := gdbCommand(ctx, t, append(gdbBase(), args...)).CombinedOutput()
	out := string(b)
	expect(t, out,
		`The target architecture is set to "i8086"`,
		`0xfffffff0 in \?\? \(\)`,
		`=> 0xf0000:\s+cli`,
		`xor\s+%ax,%ax`,
		`The target architecture is set to "i8086"`, // show architecture
		fmt.Sprintf(`Breakpoint 1 at %#x`, p32),
		`The target architecture is set to "i386"`, // the hook switched
		fmt.Sprintf(`Breakpoint 1, 0x%08x in \?\? \(\)`, p32),
		`The target architecture is set to "i386"`, // show architecture
		`protected32`,
	)
	select {
	case <-s.kills:
	case <-time.After(ioTimeout):
		t.Error("kill did not reach OnKill")
	}
}

// TestGDBx8664Layout: the x86-64 register layout (-gdb ...,arch=x86-64).
func TestGDBx8664Layout(t *testing.T) {
	gdbPath(t)
	s := startStub(t, demoGuest, Config{Arch: ArchX8664})
	cmds := []string{
		"source " + scriptPath(t),
		"target remote " + s.addr,
		"info registers rip cs fs_base gs_base cr0 efer cs_base mode_bits",
		"p $rax",
	}
	if _, err := exec.LookPath("objdump"); err == nil {
		cmds = append(cmds, "glassbox-x 1")
	}
	out := runGDB(t, append(cmds, "detach")...)
	expect(t, out,
		`glassbox: the CPU runs 16-bit code`,
		`rip\s+0xfffffff0\s`,
		`cs\s+0xf000\s`,
		`fs_base\s+0x0\s`,
		`cr0\s+0x60000010\s`,
		`cs_base\s+0xffff0000\s`,
		`mode_bits\s+0x10\s`,
		`\$1 = 0`,
	)
	if _, err := exec.LookPath("objdump"); err == nil {
		expect(t, out, `fffffff0:\s+ea 00 00 00 f0\s+ljmp\s+\$0xf000,\$0x0`)
	}
}

// TestGDBKernel: a multiboot ELF32 kernel with DWARF, loaded in gdb with
// `file` first.
func TestGDBKernel(t *testing.T) {
	gdbPath(t)
	k := buildKernel(t)
	s := startStub(t, kernelGuest, Config{})
	out := runGDB(t,
		"file "+k,
		"target remote "+s.addr,
		"info registers eip",
		"break add if b == 3",
		"continue",
		"bt",
		"next",
		"p local_var",
		"info registers",
		"x/8i $pc",
		"stepi",
		"p $pc",
		"finish",
		"delete",
		"watch global_var",
		"continue",
		"continue",
		"monitor info registers",
		"info threads",
		"detach",
	)
	expect(t, out,
		`_start \(\) at .*entry.S`,
		`eip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <_start>`,
		`Breakpoint 1 at 0x[0-9a-f]+: file .*kernel.c`,
		`Breakpoint 1, add \(a=4, b=3\) at .*kernel.c`,
		`#0  add \(a=4, b=3\)`,
		`#1  0x[0-9a-f]+ in compute \(n=5\)`,
		`#2  0x[0-9a-f]+ in kmain \(\)`,
		`\$1 = 11`,
		`eax\s+0x`,
		`eip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <add\+`,
		`=> 0x[0-9a-f]+ <add\+[0-9]+>:\s+mov`,
		`\$2 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <add\+`,
		`in compute \(n=5\)`,
		`Value returned is \$3 = 11`,
		`Hardware watchpoint 2: global_var`,
		`Old value = 0\s+New value = 42`,
		`set_global \(v=42\)`,
		`Old value = 42\s+New value = 26`,
		`set_global \(v=26\)`,
		`mode=protected32`,
		`CS:EIP=0008:`,
		`\* 1    Thread 1 \(CPU#0 protected32\) set_global`,
		`\[Inferior 1 \(Remote target\) detached\]`,
	)
	if strings.Contains(out, "not compatible") {
		t.Errorf("architecture warning:\n%s", out)
	}
	// re-attach: the guest is where we left it
	out = runGDB(t,
		"file "+k,
		"target remote "+s.addr,
		"p global_var",
		"bt 1",
		"detach",
	)
	expect(t, out, `\$1 = 26`, `#0  .*set_global`, `\[Inferior 1 \(Remote target\) detached\]`)
}

// TestGDBInterrupt: Ctrl-C while the guest runs. gdb gets SIGINT like
// from a terminal and sends 0x03; then the test lets the kernel finish.
func TestGDBInterrupt(t *testing.T) {
	gdbPath(t)
	k := buildKernel(t)
	s := startStub(t, kernelGuest, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), gdbTimeout)
	defer cancel()
	cmd := gdbCommand(ctx, t, gdbArgs(
		"file "+k,
		"target remote "+s.addr,
		"continue",
		"p counter > 0",
		"set var release = 1",
		"continue",
	))
	var out syncBuffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// gdb's output is block-buffered in a pipe: watch the guest instead.
	// Once the kernel spins, "press Ctrl-C".
	deadline := time.Now().Add(ioTimeout)
	for !strings.Contains(s.serial.String(), "spinning") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("gdb timed out:\n%s", out.String())
	}
	expect(t, out.String(),
		`Program received signal SIGINT, Interrupt\.`,
		`spin \(\) at .*kernel.c`,
		`\$1 = 1`,
		`\[Inferior 1 \(Remote target\) exited with code 041\]`,
	)
	if !strings.Contains(s.serial.String(), "kernel: done") {
		t.Errorf("serial: %q", s.serial.String())
	}
}

// TestGDBCommandLine runs the glassbox binary with -gdb and -S and drives
// it with the real gdb: attach at the multiboot entry, continue to exit;
// a second run is killed from gdb.
func TestGDBCommandLine(t *testing.T) {
	gdbPath(t)
	k := buildKernel(t)
	bin := filepath.Join(t.TempDir(), "glassbox")
	build := exec.Command("go", "build", "-o", bin, "glassbox/cmd/glassbox")
	if b, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build cmd/glassbox (outside this package): %v\n%s", err, b)
	}
	start := func(extra ...string) (*exec.Cmd, *syncBuffer, string) {
		t.Helper()
		stderr := &syncBuffer{}
		args := append([]string{"run", "-kernel", k, "-S", "-serial", "none"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		re := regexp.MustCompile(`glassbox: gdb stub listening on (127\.0\.0\.1:\d+)\n`)
		deadline := time.Now().Add(ioTimeout)
		for time.Now().Before(deadline) {
			if m := re.FindStringSubmatch(stderr.String()); m != nil {
				return cmd, stderr, m[1]
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no listening message; stderr:\n%s", stderr.String())
		return nil, nil, ""
	}
	wait := func(cmd *exec.Cmd) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			return cmd.ProcessState.ExitCode()
		case <-time.After(gdbTimeout):
			cmd.Process.Kill()
			t.Fatal("glassbox did not exit")
		}
		return -1
	}

	// -S: paused at the entry; the guest's spin loop needs release=1.
	cmd, stderr, addr := start("-gdb", "tcp:127.0.0.1:0")
	out := runGDB(t, "file "+k, "target remote "+addr, "info registers eip",
		"set var release = 1", "continue")
	expect(t, out, `<_start>`, `exited with code 041`)
	if code := wait(cmd); code != 0x21 {
		t.Errorf("exit status %d, want 33; stderr:\n%s", code, stderr.String())
	}

	// -S then detach: the guest runs on its own (and spins)
	cmd, stderr, addr = start("-gdb", "tcp:127.0.0.1:0,arch=i386")
	out = runGDB(t, "file "+k, "target remote "+addr, "p counter", "detach")
	expect(t, out, `\$1 = 0`, `\[Inferior 1 \(Remote target\) detached\]`)
	time.Sleep(100 * time.Millisecond)
	// a second gdb session sees that it ran, then kills glassbox
	out = runGDB(t, "file "+k, "target remote "+addr, "p counter > 1000", "kill")
	expect(t, out, `\$1 = 1`, `\[Inferior 1 \(Remote target\) killed\]`)
	if code := wait(cmd); code != 0 {
		t.Errorf("exit status after kill %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "killed by gdb") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
