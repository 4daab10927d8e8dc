package main

// QEMU command-line compatibility: the flags QEMU test-kernel harnesses
// (kvm-unit-tests' run_tests.sh through QEMU=..., the guests/ recordings)
// pass to qemu-system-x86_64. Each is honoured, ignored with a one-line note
// on stderr when it cannot change what the guest sees, or refused with a
// clear error (status 2). See README "QEMU compatibility".

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"glassbox/machine"
)

// qemuOpts are the QEMU compatibility flags.
type qemuOpts struct {
	devices   []string
	globals   []string
	machine   []string
	accel     []string
	cpu       string
	display   string
	vga       string
	vnc       string
	name      string
	nodefault bool
	nographic bool
	enableKVM bool

	platform machine.Platform
	// help, when set, is printed to stdout and the command exits 0
	// (-device help, as harnesses probe which devices exist).
	help string
}

// qemuDeviceHelp is the -device help listing, in QEMU's format.
const qemuDeviceHelp = `Misc devices:
name "isa-debug-exit", bus ISA
name "pc-testdev", bus ISA
name "pci-testdev", bus PCI, desc "PCI Test Device"
`

func addQEMUFlags(fs *flag.FlagSet, q *qemuOpts) {
	fs.Func("device", "QEMU device `DRIVER[,PROP=VAL...]`: isa-debug-exit[,iobase=N,iosize=N], pc-testdev, pci-testdev (repeatable; help lists them)",
		func(v string) error { q.devices = append(q.devices, v); return nil })
	fs.Func("global", "QEMU `DRIVER.PROP=VAL` (accepted and ignored with a note)",
		func(v string) error { q.globals = append(q.globals, v); return nil })
	fs.Func("machine", "QEMU machine `TYPE[,PROP=VAL...]`: pc or pc-i440fx-*, accel=tcg",
		func(v string) error { q.machine = append(q.machine, v); return nil })
	fs.Func("M", "shorthand for -machine", func(v string) error { q.machine = append(q.machine, v); return nil })
	fs.Func("accel", "QEMU accelerator `NAME[,PROP=VAL...]`: tcg (kvm is refused)",
		func(v string) error { q.accel = append(q.accel, v); return nil })
	fs.StringVar(&q.cpu, "cpu", "", "QEMU CPU `MODEL`: qemu64, max or host, all glassbox's one CPU model")
	fs.StringVar(&q.display, "display", "", "QEMU display: none (glassbox has no display)")
	fs.StringVar(&q.vga, "vga", "", "QEMU VGA card: none (glassbox has no VGA)")
	fs.StringVar(&q.vnc, "vnc", "", "QEMU VNC display: none")
	fs.StringVar(&q.name, "name", "", "QEMU guest name (accepted and ignored with a note)")
	fs.BoolVar(&q.nodefault, "nodefaults", false, "QEMU: no default devices (glassbox never adds VGA or NIC)")
	fs.BoolVar(&q.nographic, "nographic", false, "QEMU: no display, serial on stdio (glassbox's default)")
	fs.BoolVar(&q.enableKVM, "enable-kvm", false, "QEMU KVM acceleration: refused (glassbox is its own emulator; use -accel tcg)")
}

// check validates the QEMU flags, fills q.platform and writes notes for
// flags that are accepted without effect.
func (q *qemuOpts) check(stderr io.Writer) error {
	note := func(format string, a ...any) {
		fmt.Fprintf(stderr, "glassbox: note: "+format+"\n", a...)
	}
	kvm := errorf("KVM is not available: glassbox emulates the CPU itself (pass -accel tcg; for kvm-unit-tests set ACCEL=tcg)")
	if q.enableKVM {
		return kvm
	}
	for _, a := range q.accel {
		name, _, _ := strings.Cut(a, ",")
		switch name {
		case "tcg":
		case "kvm", "hvf", "whpx", "xen", "nvmm", "hax":
			return kvm
		case "help":
			q.help = "Accelerators supported in glassbox:\ntcg\n"
		default:
			return errorf("-accel %q: unknown accelerator (want tcg)", a)
		}
	}
	for _, m := range q.machine {
		for i, part := range strings.Split(m, ",") {
			k, v, isProp := strings.Cut(part, "=")
			if i == 0 && !isProp {
				if k == "help" {
					q.help = "Supported machines are:\npc                   Standard PC (i440FX + PIIX, 1996)\n"
					continue
				}
				if k != "pc" && !strings.HasPrefix(k, "pc-i440fx-") {
					return errorf("-machine %q: only the pc machine (i440FX + PIIX3) is modelled", k)
				}
				continue
			}
			if !isProp {
				return errorf("-machine %q: %q is not PROP=VALUE", m, part)
			}
			switch k {
			case "type":
				if v != "pc" && !strings.HasPrefix(v, "pc-i440fx-") {
					return errorf("-machine type=%s: only the pc machine (i440FX + PIIX3) is modelled", v)
				}
			case "accel":
				// QEMU tries a colon-separated list in order.
				ok := false
				for _, a := range strings.Split(v, ":") {
					if a == "tcg" {
						ok = true
						break
					}
				}
				if !ok {
					return kvm
				}
			default:
				note("-machine %s=%s ignored", k, v)
			}
		}
	}
	switch q.cpu {
	case "", "qemu64":
	case "max", "host":
		note("-cpu %s: glassbox has one CPU model; CPUID reports only what it implements (see README)", q.cpu)
	default:
		if strings.Contains(q.cpu, ",") {
			return errorf("-cpu %q: CPUID feature changes are not supported (glassbox reports only what it implements)", q.cpu)
		}
		return errorf("-cpu %q: unknown CPU model (want qemu64, max or host)", q.cpu)
	}
	switch q.display {
	case "", "none":
	default:
		note("-display %s ignored: glassbox has no display", q.display)
	}
	switch q.vga {
	case "", "none":
	default:
		return errorf("-vga %q: glassbox has no VGA device (use -vga none)", q.vga)
	}
	if q.vnc != "" && q.vnc != "none" {
		note("-vnc %s ignored: glassbox has no display", q.vnc)
	}
	if q.name != "" {
		note("-name ignored")
	}
	for _, g := range q.globals {
		note("-global %s ignored", g)
	}
	debugExits := 0
	for _, d := range q.devices {
		parts := strings.Split(d, ",")
		props := map[string]string{}
		for _, p := range parts[1:] {
			k, v, ok := strings.Cut(p, "=")
			if !ok {
				return errorf("-device %q: %q is not PROP=VALUE", d, p)
			}
			props[k] = v
		}
		switch parts[0] {
		case "help", "?":
			q.help = qemuDeviceHelp
		case "isa-debug-exit":
			debugExits++
			if debugExits > 1 {
				return errorf("-device %q: only one isa-debug-exit is supported", d)
			}
			base, size := uint64(0x501), uint64(2) // QEMU's property defaults
			var err error
			for k, v := range props {
				switch k {
				case "iobase":
					base, err = strconv.ParseUint(v, 0, 16)
				case "iosize":
					size, err = strconv.ParseUint(v, 0, 32)
					if err == nil && (size < 1 || size > 0x10000) {
						err = fmt.Errorf("out of range")
					}
				default:
					return errorf("-device %q: isa-debug-exit has no property %q (want iobase, iosize)", d, k)
				}
				if err != nil {
					return errorf("-device %q: bad %s %q", d, k, v)
				}
			}
			if base+size > 0x10000 {
				return errorf("-device %q: ports %#x+%#x run past 0xFFFF", d, base, size)
			}
			if base == 0 {
				return errorf("-device %q: iobase 0 is not supported", d)
			}
			q.platform.DebugExitBase, q.platform.DebugExitSize = uint16(base), int(size)
		case "pc-testdev":
			if len(props) > 0 {
				return errorf("-device %q: pc-testdev has no properties", d)
			}
			if q.platform.PCTestDev {
				return errorf("-device %q: only one pc-testdev is supported", d)
			}
			q.platform.PCTestDev = true
		case "pci-testdev":
			for k := range props {
				return errorf("-device %q: property %q is not supported", d, k)
			}
			q.platform.PCITestDevs++
		default:
			return errorf("-device %q: unknown device (glassbox has isa-debug-exit, pc-testdev, pci-testdev)", parts[0])
		}
	}
	return nil
}
