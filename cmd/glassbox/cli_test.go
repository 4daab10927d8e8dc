package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	st := Main(args, nil, &out, &errb)
	return st, out.String(), errb.String()
}

// rom64k returns a 64 KiB ROM whose reset vector (offset 0xFFF0) holds code.
func rom64k(code ...byte) []byte {
	rom := make([]byte, 64<<10)
	copy(rom[0xFFF0:], code)
	return rom
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIErrors: every bad command line is one line on stderr and status 2.
func TestCLIErrors(t *testing.T) {
	garbage := writeFile(t, "garbage.bin", []byte("this is not a kernel"))
	tiny := writeFile(t, "tiny.rom", make([]byte, 100))
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run", "-nosuchflag"}, "flag provided but not defined"},
		{[]string{"run", "-kernel", "/nonexistent/k.elf"}, "no such file"},
		{[]string{"run", "-bios", "/nonexistent/b.rom"}, "no such file"},
		{[]string{"run", "-kernel", garbage}, "not a multiboot kernel or ELF64"},
		{[]string{"run", "-bios", tiny}, "-bios"},
		{[]string{"run", "-kernel", garbage, "-bios", tiny}, "mutually exclusive"},
		{[]string{"run", "-m", "lots"}, "-m"},
		{[]string{"run", "-m", "0"}, "-m"},
		{[]string{"run", "-m", "1"}, "at least 2 MiB"},
		{[]string{"run", "-smp", "0"}, "-smp"},
		{[]string{"run", "-smp", "65"}, "-smp"},
		{[]string{"run", "-serial", "tcp:1"}, "-serial"},
		{[]string{"run", "-serial", "file:/nonexistent/dir/x"}, "-serial"},
		{[]string{"run", "-debugcon", "stdio"}, "-debugcon"},
		{[]string{"run", "-append", "x"}, "need -kernel"},
		{[]string{"run", "-initrd", "x"}, "need -kernel"},
		{[]string{"run", "-S"}, "-S needs"},
		{[]string{"run", "-s", "-gdb", "tcp::1"}, "mutually exclusive"},
		{[]string{"run", "-reboot", "-no-reboot"}, "mutually exclusive"},
		{[]string{"run", "-script", "/nonexistent/s.gb"}, "no such file"},
		{[]string{"run", "-script", "x", "-repl"}, "mutually exclusive"},
		{[]string{"run", "-d", "exec"}, "-d exec: not supported"},
		{[]string{"run", "-d", "in_asm,bogus"}, "-d bogus: unknown log item"},
		{[]string{"run", "-d", "int", "-D", "/nonexistent/dir/log"}, "-D: open /nonexistent/dir/log"},
		{[]string{"run", "extra"}, "unexpected argument"},
		{[]string{"run", "-symbols", "/nonexistent/k.elf"}, "-symbols"},
		{[]string{"run", "-symbols", garbage}, "-symbols"},
		{[]string{"run", "-symbols", "k.elf@zz"}, "bad offset"},
	}
	for _, c := range cases {
		st, _, errs := runMain(t, c.args...)
		if st != 2 {
			t.Errorf("%v: status %d, want 2 (stderr %q)", c.args, st, errs)
		}
		if !strings.Contains(errs, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errs, c.want)
		}
		if strings.Contains(errs, "goroutine") || strings.Contains(errs, "panic") {
			t.Errorf("%v: looks like a Go panic: %s", c.args, errs)
		}
		if strings.Count(strings.TrimSpace(errs), "\n") > 0 && !strings.Contains(errs, "Usage") && !strings.Contains(errs, "-nosuchflag") {
			t.Errorf("%v: want a one-line error, got:\n%s", c.args, errs)
		}
	}
}

// TestHaltForever: a guest that halts with interrupts disabled ends the run
// with a report and status 0 instead of hanging.
func TestHaltForever(t *testing.T) {
	rom := writeFile(t, "halt.rom", rom64k(0xFA, 0xF4)) // cli; hlt
	st, _, errs := runMain(t, "run", "-bios", rom)
	if st != 0 {
		t.Fatalf("status %d, want 0; stderr:\n%s", st, errs)
	}
	for _, want := range []string{"every vCPU is halted", "last POST code: none", "EIP=0000fff2", "halted=true"} {
		if !strings.Contains(errs, want) {
			t.Errorf("report lacks %q:\n%s", want, errs)
		}
	}
}

// TestTripleFault: a real-mode guest with an empty IVT raises an exception
// it cannot deliver: #GP, then #DF, then shutdown; the run stops with a
// report (registers, mode, exception chain) and status 2.
func TestTripleFault(t *testing.T) {
	// out 0x80, al (POST 0x42); lidt [0x0000] (limit 0); int3
	rom := writeFile(t, "tf.rom", rom64k(0xB0, 0x42, 0xE6, 0x80, 0x0F, 0x01, 0x1E, 0x00, 0x00, 0xCC))
	st, _, errs := runMain(t, "run", "-bios", rom)
	if st != 2 {
		t.Fatalf("status %d, want 2; stderr:\n%s", st, errs)
	}
	for _, want := range []string{"triple fault", "last POST code: 0x42", "mode=real", "exception chain: #BP -> #GP(0x0) -> #DF(0x0) -> triple fault"} {
		if !strings.Contains(errs, want) {
			t.Errorf("report lacks %q:\n%s", want, errs)
		}
	}
}

// TestReboot: with -reboot a triple fault resets the machine; a guest that
// counts its boots in RAM (which survives the reset) exits on the second.
func TestReboot(t *testing.T) {
	// inc byte [0x500]; cmp byte [0x500], 2; jne +2; out 0xf4, al (al=0x11); lidt [0]; int3
	code := []byte{0xFE, 0x06, 0x00, 0x05, 0x80, 0x3E, 0x00, 0x05, 0x02, 0x75, 0x04, 0xB0, 0x11, 0xE6, 0xF4,
		0x0F, 0x01, 0x1E, 0x00, 0x00, 0xCC}
	rom := make([]byte, 64<<10)
	copy(rom[0xFF00:], code)
	copy(rom[0xFFF0:], []byte{0xE9, 0x0D, 0xFF}) // jmp near 0xFF00 (relative to 0xFFF3)
	p := writeFile(t, "reboot.rom", rom)
	if st, _, errs := runMain(t, "run", "-bios", p); st != 2 {
		t.Fatalf("without -reboot: status %d, want 2 (triple fault); stderr:\n%s", st, errs)
	}
	if st, _, errs := runMain(t, "run", "-reboot", "-bios", p); st != 0x23 {
		t.Fatalf("with -reboot: status %d, want 0x23 (debug exit 0x11 on the second boot); stderr:\n%s", st, errs)
	}
}

// TestDemoDefault: no arguments runs the embedded demo, which exits 0.
func TestDemoDefault(t *testing.T) {
	st, out, errs := runMain(t)
	if st != 0 || !strings.Contains(out, "demo: PASS") {
		t.Fatalf("status %d, output:\n%s\nstderr:\n%s", st, out, errs)
	}
}

// TestStats: -stats reports execution counters after the run.
func TestStats(t *testing.T) {
	st, _, errs := runMain(t, "run", "-stats")
	if st != 0 {
		t.Fatalf("status %d", st)
	}
	for _, want := range []string{"instructions", "MIPS", "TBs generated", "jump-cache hit rate", "CPU 0 TLB", "peak RSS"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stats lack %q:\n%s", want, errs)
		}
	}
}

// TestCPUProfile: -cpuprofile writes a pprof profile (gzip-compressed
// protobuf) of the run; an unwritable path is a clear error.
func TestCPUProfile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cpu.prof")
	if st, _, errs := runMain(t, "run", "-cpuprofile", p); st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("profile is not gzip data (%d bytes)", len(data))
	}
	st, _, errs := runMain(t, "run", "-cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "p"))
	if st != 2 || !strings.Contains(errs, "-cpuprofile") {
		t.Fatalf("unwritable profile: status %d, stderr %q", st, errs)
	}
}

// echoROM echoes COM1 input bytes until it reads 'q', then exits with 5.
func echoROM() []byte {
	echo := []byte{
		0xba, 0xfd, 0x03, // 0: mov dx, 0x3fd
		0xec,       // in al, dx
		0xa8, 0x01, // test al, 1
		0x74, 0xf8, // jz 0
		0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0xec,       // in al, dx
		0x3c, 0x71, // cmp al, 'q'
		0x74, 0x03, // je done
		0xee,       // out dx, al
		0xeb, 0xed, // jmp 0
		0xb0, 0x05, 0xe6, 0xf4, // done: mov al, 5; out 0xf4, al
	}
	rom := make([]byte, 64<<10)
	copy(rom[0xFF00:], echo)
	copy(rom[0xFFF0:], []byte{0xE9, 0x0D, 0xFF})
	return rom
}

// TestSerialInput: with -serial stdio, stdin reaches the guest's COM1
// receiver.
func TestSerialInput(t *testing.T) {
	p := writeFile(t, "echo.rom", echoROM())
	var out, errb bytes.Buffer
	st := Main([]string{"run", "-bios", p}, strings.NewReader("hi there\nq"), &out, &errb)
	if st != 11 || out.String() != "hi there\n" {
		t.Fatalf("status %d output %q stderr %s", st, out.String(), errb.String())
	}
}

// TestScript: -script runs REPL commands; errors name file:line.
func TestScript(t *testing.T) {
	good := writeFile(t, "ok.gb", []byte("# demo to its first page fault\ninfo mode\nstepi 3\ninfo registers\ncontinue\n"))
	st, out, errs := runMain(t, "run", "-script", good)
	if st != 0 || !strings.Contains(out, "(glassbox) info mode") || !strings.Contains(out, "real") || !strings.Contains(out, "demo: PASS") {
		t.Fatalf("status %d\nout:\n%s\nerr:\n%s", st, out, errs)
	}
	bad := writeFile(t, "bad.gb", []byte("info mode\n\nfrobnicate 1\n"))
	st, _, errs = runMain(t, "run", "-script", bad)
	if st != 2 || !strings.Contains(errs, "bad.gb:3:") {
		t.Fatalf("status %d stderr %q", st, errs)
	}
}

// TestScriptExpect: run-until/expect make a script a check: 0 when every
// expectation holds, 1 when one fails, 2 on a script error.
func TestScriptExpect(t *testing.T) {
	ok := writeFile(t, "ok.gb", []byte("run-until serial \"read cafebabe\"\nexpect serial \"#PF err=00000000\"\nrun-until exit\nexpect exit 1\n"))
	if st, out, errs := runMain(t, "run", "-script", ok); st != 0 {
		t.Fatalf("passing script: status %d\n%s\n%s", st, out, errs)
	}
	bad := writeFile(t, "bad.gb", []byte("run-until exit\nexpect exit 7\n"))
	if st, _, errs := runMain(t, "run", "-script", bad); st != 1 || !strings.Contains(errs, "bad.gb:2: expect exit 7: the guest exited with status 1") {
		t.Fatalf("failing expectation: status %d stderr %q", st, errs)
	}
	never := writeFile(t, "never.gb", []byte("run-until serial NEVER-PRINTED -max 5000\n"))
	if st, _, errs := runMain(t, "run", "-script", never); st != 1 || !strings.Contains(errs, "not reached within 5000 instructions") {
		t.Fatalf("bound: status %d stderr %q", st, errs)
	}
}

// TestScriptFeatures: `glassbox script` takes its flags from the header;
// set/${NAME}, source (relative to the script), send-serial, echo and the
// `on exit` handler all run; the output is identical on a second run.
func TestScriptFeatures(t *testing.T) {
	dir := t.TempDir()
	rom := filepath.Join(dir, "echo.rom")
	os.WriteFile(rom, echoROM(), 0o644)
	os.WriteFile(filepath.Join(dir, "inc.gb"), []byte("echo sourced ${greeting}\nset sourced = yes\n"), 0o644)
	main := filepath.Join(dir, "main.gb")
	os.WriteFile(main, []byte(`#!/usr/bin/env glassbox script
# glassbox: -bios ${ECHO_ROM}
# glassbox: -serial none
set greeting = "hello there"
source inc.gb
echo after source: ${sourced}
on exit {
  echo exit handler ran
  expect exit 11
}
send-serial "${greeting}\nq"
run-until serial "there\n"
expect serial "^hello there\n$"
echo done
`), 0o644)
	t.Setenv("ECHO_ROM", rom)
	st, out, errs := runMain(t, "script", main)
	if st != 0 {
		t.Fatalf("status %d\n%s\n%s", st, out, errs)
	}
	for _, want := range []string{"sourced hello there\n", "after source: yes\n", "queued 13 bytes for COM1",
		"[on exit: exited with status 11]\n(glassbox) echo exit handler ran\nexit handler ran\n", "ok: expect exit 11", "(glassbox) echo done\ndone\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if st2, out2, _ := runMain(t, "script", main); st2 != 0 || out2 != out {
		t.Errorf("second run differs (status %d):\n%s\n---\n%s", st2, out, out2)
	}
}

// TestScriptErrors: bad scripts fail with FILE:LINE and a clear message,
// status 2; a failed expectation inside a handler is status 1.
func TestScriptErrors(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"info mode\nfrobnicate\n", "s.gb:2: unknown command"},
		{"echo ${nope}\n", "s.gb:1: ${nope} is not set"},
		{"source /nonexistent/x.gb\n", "s.gb:1: source: stat /nonexistent/x.gb: no such file"},
		{"on crash {\ninfo mode\n", "s.gb:1: `{` is never closed"},
		{"on reboot { info mode }\n", "s.gb:1: on: want `on crash {` or `on exit {`"},
		{"}\n", "s.gb:1: `}` without"},
		{"run-until serial \"unterminated\n", "s.gb:1: unterminated quote"},
		{"set 9x = 1\n", "s.gb:1: usage: set NAME = VALUE"},
		{"send-serial \"\\q\"\n", "s.gb:1: send-serial: unknown escape"},
		{"expect bt\n", "s.gb:1: usage: expect bt FUNC"},
	} {
		p := writeFile(t, "s.gb", []byte(c.script))
		st, _, errs := runMain(t, "run", "-script", p)
		if st != 2 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%q: status %d stderr %q, want 2 and %q", c.script, st, errs, c.want)
		}
	}
	// source loops are bounded
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.gb")
	os.WriteFile(loop, []byte("source loop.gb\n"), 0o644)
	if st, _, errs := runMain(t, "run", "-script", loop); st != 2 || !strings.Contains(errs, "nested more than 16 deep") {
		t.Errorf("source loop: status %d stderr %q", st, errs)
	}
	// header errors
	hdr := writeFile(t, "h.gb", []byte("# glassbox: -kernel ${GLASSBOX_NO_SUCH_VAR}\ninfo mode\n"))
	if st, _, errs := runMain(t, "script", hdr); st != 2 || !strings.Contains(errs, "h.gb:1: header uses $GLASSBOX_NO_SUCH_VAR") {
		t.Errorf("header: status %d stderr %q", st, errs)
	}
	if st, _, errs := runMain(t, "script", "/nonexistent/s.gb"); st != 2 || !strings.Contains(errs, "no such file") {
		t.Errorf("missing script: status %d stderr %q", st, errs)
	}
	// a failed expectation in a handler: status 1
	h := writeFile(t, "h2.gb", []byte("on exit { expect exit 9 }\ncontinue\n"))
	if st, _, errs := runMain(t, "run", "-script", h); st != 1 || !strings.Contains(errs, "h2.gb:1: expect exit 9: the guest exited with status 1") {
		t.Errorf("handler expectation: status %d stderr %q", st, errs)
	}
}

// TestReportFile: -report FILE writes the crash report on a triple fault
// (text, or JSON for .json), without a script.
func TestReportFile(t *testing.T) {
	// lidt cs:[0xff00] (six zero bytes: limit 0); int3 -> #GP -> #DF -> triple fault
	rom := writeFile(t, "tf.rom", rom64k(0x2E, 0x0F, 0x01, 0x1E, 0x00, 0xFF, 0xCC))
	dir := t.TempDir()
	for _, name := range []string{"r.txt", "r.json"} {
		path := filepath.Join(dir, name)
		st, _, errs := runMain(t, "run", "-bios", rom, "-report", path)
		if st != 2 || !strings.Contains(errs, "crash report written to "+path) {
			t.Fatalf("status %d stderr %q", st, errs)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if name == "r.json" {
			var v struct {
				Stop string `json:"stop"`
				CPUs []struct {
					Chain []string `json:"exception_chain"`
				} `json:"cpus"`
			}
			if err := json.Unmarshal(data, &v); err != nil || len(v.CPUs) != 1 || len(v.CPUs[0].Chain) == 0 || !strings.Contains(v.Stop, "shutdown") {
				t.Errorf("JSON report %v: %s", err, data)
			}
		} else if !strings.Contains(string(data), "exception chain:") || !strings.Contains(string(data), "triple fault") {
			t.Errorf("text report:\n%s", data)
		}
	}
	// a guest that exits normally writes no report
	path := filepath.Join(dir, "none.txt")
	if st, _, _ := runMain(t, "run", "-report", path); st != 0 {
		t.Fatalf("demo status %d", st)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("report written for a clean exit")
	}
}

// TestACPIPowerOff: writing SLP_EN with SLP_TYP 0 (the DSDT's _S5) to PM1a
// control at 0x604 powers the machine off: status 0, like QEMU.
func TestACPIPowerOff(t *testing.T) {
	// mov dx, 0x604; mov ax, 0x2000; out dx, ax; hlt (not reached)
	rom := writeFile(t, "s5.rom", rom64k(0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20, 0xEF, 0xF4))
	if st, _, errs := runMain(t, "run", "-bios", rom); st != 0 || strings.Contains(errs, "halted") {
		t.Fatalf("status %d stderr %q", st, errs)
	}
}

// TestDebugLog: -d in_asm,int,cpu_reset,mode_switch -D FILE logs the demo's
// translated blocks (decoded), its exceptions (#PF with CR2, #UD, #GP),
// the power-on registers and its mode switches.
func TestDebugLog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.log")
	if st, _, errs := runMain(t, "run", "-d", "in_asm,int,cpu_reset,mode_switch", "-D", p); st != 0 {
		t.Fatalf("status %d: %s", st, errs)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	for _, want := range []string{
		"CPU Reset\nCPU#0 mode=real", "EIP=0000fff0",
		"IN: (tb 1, phys 0xfffffff0)\n0xfffffff0:  ljmp $0xf000,$0x0\n",
		"v=0e #PF e=0000 cpl=0 IP=0008:00000000000f0237", "CR2=0000000000200000",
		"v=06 #UD", "v=0d #GP",
		"mode switch real -> protected16", "mode switch protected16 -> protected32",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := strings.Count(log, "\nIN: "); n < 50 {
		t.Errorf("%d TBs logged", n)
	}
	// without -D the log goes to stderr; the serial output is unaffected
	st, out, errs := runMain(t, "run", "-d", "int")
	if st != 0 || !strings.Contains(errs, "v=0e #PF") || !strings.Contains(out, "demo: PASS") || strings.Contains(out, "v=0e") {
		t.Errorf("-d int to stderr: status %d", st)
	}
}
