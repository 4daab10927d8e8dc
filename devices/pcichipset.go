package devices

import "sort"

// The functions QEMU's pc machine (i440FX + PIIX3) has on bus 0 with
// -nodefaults: 00:00.0 host bridge, 00:01.0 ISA bridge, 00:01.1 IDE,
// 00:01.3 ACPI/power management. Only their configuration space is
// modelled: the IDE function's BAR4 decodes nothing, and the chipset's
// device-specific registers (PAM, SMRAM, PIRQ routing, PMBA, SMBus base)
// are stored without effect (the ACPI PM block stays at port 0x600).

// pciFirmwareReg is one device-specific register value as QEMU 7.2 with
// SeaBIOS leaves it for a -kernel guest (recorded from QEMU by the
// guests/pcplat32 dump; see README "QEMU compatibility").
type pciFirmwareReg struct {
	off int
	val uint8
}

// chipset makes a function whose device-specific registers (0x40-0xFF) are
// writable and hold the given values.
func chipset(name string, vendor, device uint16, class uint32, rev uint8, status uint16, regs []pciFirmwareReg) *PCIFunction {
	f := NewPCIFunction(name, vendor, device, class, rev)
	f.set16(0x06, status)
	for o := 0x40; o < 0x100; o++ {
		f.WMask[o] = 0xFF
	}
	for _, r := range regs {
		f.Config[r.off] = r.val
	}
	return f
}

// NewI440FXHost returns the i440FX host bridge function (8086:1237 rev 02,
// class 060000) with PAM0-6 and SMRAM as SeaBIOS leaves them.
func NewI440FXHost() *PCIFunction {
	return chipset("i440FX", 0x8086, 0x1237, 0x060000, 0x02, 0x0000, []pciFirmwareReg{
		{0x57, 0x10}, {0x59, 0x10}, {0x5A, 0x11}, {0x5B, 0x11}, {0x5C, 0x11}, {0x5D, 0x11}, {0x5E, 0x11}, {0x5F, 0x33},
		{0x72, 0x0A},
	})
}

// NewPIIX3ISA returns the PIIX3 PCI-to-ISA bridge (8086:7000, class 060100,
// multi-function header) with the PIRQ routing 10,10,11,11 SeaBIOS sets.
func NewPIIX3ISA() *PCIFunction {
	f := chipset("PIIX3", 0x8086, 0x7000, 0x060100, 0x00, 0x0200, []pciFirmwareReg{
		{0x4C, 0x4D}, {0x4E, 0x03}, {0x60, 0x0A}, {0x61, 0x0A}, {0x62, 0x0B}, {0x63, 0x0B},
		{0x69, 0x02}, {0x70, 0x80}, {0x76, 0x0C}, {0x77, 0x0C}, {0x78, 0x02}, {0xA0, 0x08}, {0xA8, 0x0F},
	})
	f.Config[0x0E] = 0x80 // multi-function
	return f
}

// NewPIIX3IDE returns the PIIX3 IDE function (8086:7010, class 010180) with
// its 16-byte bus-master I/O BAR4 (configuration only: nothing decodes it).
func NewPIIX3IDE() *PCIFunction {
	f := chipset("PIIX3 IDE", 0x8086, 0x7010, 0x010180, 0x00, 0x0280, []pciFirmwareReg{
		{0x41, 0x80}, {0x43, 0x80}, // IDETIM: both channels decode
	})
	f.SetBAR(4, 16, true, nil)
	return f
}

// NewPIIX4PM returns the PIIX4 ACPI/power-management function (8086:7113
// rev 03, class 068000, INTA# routed to IRQ 9 = the SCI) with PMBA 0x600
// and the SMBus base 0x700.
func NewPIIX4PM() *PCIFunction {
	f := chipset("PIIX4 PM", 0x8086, 0x7113, 0x068000, 0x03, 0x0280, []pciFirmwareReg{
		{0x3C, 0x09}, {0x3D, 0x01},
		{0x40, 0x01}, {0x41, 0x06}, {0x5B, 0x02}, {0x5F, 0x10}, {0x63, 0x60}, {0x67, 0x08},
		{0x80, 0x01}, {0x90, 0x01}, {0x91, 0x07}, {0xD2, 0x09},
	})
	f.WMask[0x3D] = 0
	return f
}

// AssignLikeSeaBIOS does to bus 0 what SeaBIOS does before it boots a
// -kernel under QEMU: I/O BARs are packed upwards from 0xC000 and memory
// BARs downwards so that they end at 0xFEC00000, both largest first (ties in
// bus order), and every function's command register gets I/O, memory and
// SERR enabled.
func (h *PCIHost) AssignLikeSeaBIOS() {
	type ent struct {
		f   *PCIFunction
		bar int
	}
	var ios, mems []ent
	for d := range h.funcs {
		for _, f := range h.funcs[d] {
			if f == nil {
				continue
			}
			for i, b := range f.BARs {
				switch {
				case b.Size == 0:
				case b.IO:
					ios = append(ios, ent{f, i})
				default:
					mems = append(mems, ent{f, i})
				}
			}
			f.Config[4] |= PCICommandIO | PCICommandMemory
			f.Config[5] |= 0x01 // SERR
		}
	}
	bySize := func(l []ent) {
		sort.SliceStable(l, func(i, j int) bool { return l[i].f.BARs[l[i].bar].Size > l[j].f.BARs[l[j].bar].Size })
	}
	bySize(ios)
	bySize(mems)
	addr := uint32(0xC000)
	for _, e := range ios {
		e.f.setBARReg(e.bar, addr|1)
		addr += e.f.BARs[e.bar].Size
	}
	var sum, align uint32
	for _, e := range mems {
		sum += e.f.BARs[e.bar].Size
		if s := e.f.BARs[e.bar].Size; s > align {
			align = s
		}
	}
	if len(mems) > 0 {
		base := (0xFEC00000 - sum) &^ (align - 1)
		for _, e := range mems {
			e.f.setBARReg(e.bar, base)
			base += e.f.BARs[e.bar].Size
		}
	}
}
