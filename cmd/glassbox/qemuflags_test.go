package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/internal/guestbuild"
)

// exitROM returns a ROM that writes 5 to port `port` (mov dx, port;
// mov al, 5; out dx, al) and then halts with interrupts off.
func exitROM(t *testing.T, port uint16) string {
	return writeFile(t, "exit.rom", rom64k(0xBA, byte(port), byte(port>>8), 0xB0, 0x05, 0xEE, 0xFA, 0xF4))
}

// TestQEMUFlagErrors: flags glassbox cannot honour are refused with one
// line and status 2, never skipped silently.
func TestQEMUFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-enable-kvm"}, "KVM is not available"},
		{[]string{"-accel", "kvm"}, "KVM is not available"},
		{[]string{"-accel", "frob"}, "unknown accelerator"},
		{[]string{"-machine", "accel=kvm"}, "KVM is not available"},
		{[]string{"-machine", "q35"}, "only the pc machine"},
		{[]string{"-machine", "pc,type=q35"}, "only the pc machine"},
		{[]string{"-machine", "pc,junk"}, "not PROP=VALUE"},
		{[]string{"-cpu", "Haswell"}, "unknown CPU model"},
		{[]string{"-cpu", "qemu64,+x2apic"}, "feature changes are not supported"},
		{[]string{"-vga", "std"}, "no VGA"},
		{[]string{"-device", "e1000"}, "unknown device"},
		{[]string{"-device", "isa-debug-exit,iobase=zz"}, "bad iobase"},
		{[]string{"-device", "isa-debug-exit,iosize=0"}, "bad iosize"},
		{[]string{"-device", "isa-debug-exit,iobase=0xffff,iosize=4"}, "past 0xFFFF"},
		{[]string{"-device", "isa-debug-exit,color=red"}, "no property"},
		{[]string{"-device", "isa-debug-exit", "-device", "isa-debug-exit"}, "only one"},
		{[]string{"-device", "pc-testdev,x=1"}, "no properties"},
		{[]string{"-device", "pc-testdev", "-device", "pc-testdev"}, "only one"},
		{[]string{"-device", "pci-testdev,membar=4096"}, "not supported"},
		{[]string{"-device", "pci-testdev,"}, "not PROP=VALUE"},
	}
	for _, c := range cases {
		st, _, errs := runMain(t, append([]string{"run"}, c.args...)...)
		if st != 2 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: status %d stderr %q, want status 2 and one line with %q", c.args, st, errs, c.want)
		}
	}
}

// TestQEMUFlagsAccepted: the flags harnesses pass run the guest; those
// without effect leave a one-line note each.
func TestQEMUFlagsAccepted(t *testing.T) {
	rom := exitROM(t, 0xF4)
	cases := []struct {
		args  []string
		notes []string
	}{
		{[]string{"-nodefaults", "-no-reboot", "-display", "none", "-vga", "none", "-nographic", "-machine", "accel=tcg", "-accel", "tcg", "-cpu", "qemu64"}, nil},
		{[]string{"-machine", "pc,accel=kvm:tcg", "-M", "pc-i440fx-7.2"}, nil},
		{[]string{"-machine", "pc,usb=off"}, []string{"-machine usb=off ignored"}},
		{[]string{"-global", "PIIX4_PM.disable_s3=1", "-global", "kvm-pit.lost_tick_policy=discard"},
			[]string{"-global PIIX4_PM.disable_s3=1 ignored", "-global kvm-pit.lost_tick_policy=discard ignored"}},
		{[]string{"-name", "guest"}, []string{"-name ignored"}},
		{[]string{"-cpu", "max"}, []string{"-cpu max: glassbox has one CPU model"}},
		{[]string{"-cpu", "host"}, []string{"-cpu host: glassbox has one CPU model"}},
		{[]string{"-display", "gtk", "-vnc", ":1"}, []string{"-display gtk ignored", "-vnc :1 ignored"}},
		{[]string{"-vnc", "none"}, nil},
	}
	for _, c := range cases {
		st, _, errs := runMain(t, append([]string{"run", "-bios", rom}, c.args...)...)
		if st != 11 {
			t.Errorf("%v: status %d, want 11 (stderr %q)", c.args, st, errs)
			continue
		}
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if errs == "" {
			lines = nil
		}
		if len(lines) != len(c.notes) {
			t.Errorf("%v: stderr %q, want %d note(s)", c.args, errs, len(c.notes))
			continue
		}
		for i, n := range c.notes {
			if !strings.HasPrefix(lines[i], "glassbox: note: ") || !strings.Contains(lines[i], n) {
				t.Errorf("%v: note %q, want %q", c.args, lines[i], n)
			}
		}
	}
}

// TestQEMUDebugExitPlacement: iobase/iosize move the exit port.
func TestQEMUDebugExitPlacement(t *testing.T) {
	rom := exitROM(t, 0x502)
	if st, _, errs := runMain(t, "run", "-bios", rom, "-device", "isa-debug-exit,iobase=0x501,iosize=2"); st != 11 {
		t.Errorf("iobase=0x501,iosize=2: status %d (stderr %q)", st, errs)
	}
	// Only one port at 0x501: the write to 0x502 goes nowhere and the guest halts.
	if st, _, errs := runMain(t, "run", "-bios", rom, "-device", "isa-debug-exit,iobase=0x501,iosize=1"); st != 0 || !strings.Contains(errs, "halted") {
		t.Errorf("iosize=1: status %d (stderr %q), want a halt", st, errs)
	}
	// QEMU's defaults when the properties are absent: 0x501, 2 ports.
	if st, _, _ := runMain(t, "run", "-bios", rom, "-device", "isa-debug-exit"); st != 11 {
		t.Errorf("default properties: status %d", st)
	}
	// The default board keeps its exit port at 0xF4.
	if st, _, _ := runMain(t, "run", "-bios", exitROM(t, 0xF4)); st != 11 {
		t.Errorf("default board: status %d", st)
	}
}

// TestQEMUDeviceHelp: harnesses probe the device list.
func TestQEMUDeviceHelp(t *testing.T) {
	for _, arg := range []string{"help", "?"} {
		st, out, _ := runMain(t, "run", "-device", arg)
		if st != 0 || !strings.Contains(out, `name "pci-testdev"`) || !strings.Contains(out, `name "pc-testdev"`) ||
			strings.Contains(out, `"testdev"`) {
			t.Errorf("-device %s: status %d out %q", arg, st, out)
		}
	}
}

// TestQEMUCommandLine runs guests/pcplat32 with exactly the command line
// internal/guestbuild gives QEMU and requires QEMU's recorded output.
func TestQEMUCommandLine(t *testing.T) {
	img := guestbuild.Build(t, "pcplat32")
	args := append(append([]string{}, guestbuild.BaseQEMUArgs...), guestbuild.QEMUArgs(t, "pcplat32", img)...)
	st, out, errs := runMain(t, args...)
	want, wantStatus := guestbuild.Expected(t, "pcplat32")
	if out != string(want) || st != wantStatus || errs != "" {
		t.Fatalf("status %d (want %d), stderr %q, diff:\n%s", st, wantStatus, errs, guestbuild.Diff(want, []byte(out)))
	}
}

// TestQEMUWrapper invokes bin/qemu-system-x86_64 the way kvm-unit-tests'
// x86/run does (its argument order and flags) on guests/pcplat32.
func TestQEMUWrapper(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	img := guestbuild.Build(t, "pcplat32")
	bin := filepath.Join(t.TempDir(), "glassbox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wrapper := filepath.Join(guestbuild.Root(t), "bin", "qemu-system-x86_64")
	cmd := exec.Command(wrapper, "-nodefaults", "-device", "pc-testdev", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4",
		"-vnc", "none", "-serial", "stdio", "-device", "pci-testdev", "-machine", "accel=tcg", "-kernel", img, "-smp", "1", "-m", "128")
	cmd.Env = append(os.Environ(), "GLASSBOX="+bin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	st := 0
	if ee, ok := err.(*exec.ExitError); ok {
		st = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	want, wantStatus := guestbuild.Expected(t, "pcplat32")
	if !bytes.Equal(out.Bytes(), want) || st != wantStatus {
		t.Fatalf("status %d (want %d), stderr %q, diff:\n%s", st, wantStatus, errb.String(), guestbuild.Diff(want, out.Bytes()))
	}
}
