package machine

import (
	"fmt"

	"glassbox/devices"
	"glassbox/memmap"
)

// Platform selects the optional QEMU pc-machine devices (QEMU's -device
// items) and where isa-debug-exit sits. The zero value is the default
// board: PCI bus 0 with the i440FX/PIIX3 functions, isa-debug-exit at
// 0xF4 (4 ports), no test devices.
type Platform struct {
	// PCITestDevs is the number of QEMU pci-testdev functions
	// (-device pci-testdev), placed in the first free slots (00:02.0 ...).
	PCITestDevs int
	// PCTestDev adds QEMU's pc-testdev (-device pc-testdev).
	PCTestDev bool
	// DebugExitBase/DebugExitSize place isa-debug-exit
	// (-device isa-debug-exit,iobase=,iosize=); 0 means 0xF4 / 4.
	DebugExitBase uint16
	DebugExitSize int
}

// pciHoleEnd is where the PCI memory hole ends (the I/O APIC follows).
const pciHoleEnd = 0xFEC00000

// newPCI creates the PCI host and claims ports 0x1000-0xFFFF for I/O BAR
// decoding; it must run before the ISA devices are registered (later port
// mappings win).
func (m *Machine) newPCI() {
	m.PCI = devices.NewPCIHost()
	m.PCI.RegisterIO(m.Mem)
}

// addPlatform adds bus 0's functions, the configuration ports, the memory
// hole and the optional test devices.
func (m *Machine) addPlatform() error {
	p := m.cfg.Platform
	if p.PCITestDevs < 0 || p.PCITestDevs > 29 {
		return fmt.Errorf("%d pci-testdev devices: at most 29 fit on bus 0", p.PCITestDevs)
	}
	fns := []struct {
		dev, fn int
		f       *devices.PCIFunction
	}{
		{0, 0, devices.NewI440FXHost()},
		{1, 0, devices.NewPIIX3ISA()},
		{1, 1, devices.NewPIIX3IDE()},
		{1, 3, devices.NewPIIX4PM()},
	}
	for _, x := range fns {
		if err := m.PCI.Add(x.dev, x.fn, x.f); err != nil {
			return err
		}
	}
	for i := 0; i < p.PCITestDevs; i++ {
		d := devices.NewPCITestDev()
		if err := m.PCI.Add(m.PCI.FreeSlot(), 0, d.Func); err != nil {
			return err
		}
		m.PCITestDevs = append(m.PCITestDevs, d)
	}
	m.PCI.Register(m.Mem)
	m.PCI.RegisterHole(m.Mem, m.Low, pciHoleEnd)
	if p.PCTestDev {
		m.PCTestDev = devices.NewPCTestDev(m.testdevIRQ, m.flushGuestPage)
		m.PCTestDev.Register(m.Mem)
	}
	return nil
}

// testdevIRQ drives an IRQ line from pc-testdev as QEMU's pc machine does:
// ISA lines 0-15 go to the 8259 pair (which detects edges) and to the I/O
// APIC (ISA IRQ0 on pin 2), which takes every assertion as a new edge;
// lines 16-23 reach only the I/O APIC.
func (m *Machine) testdevIRQ(line int, level bool) {
	if line < 16 {
		m.PIC.SetIRQ(line, level)
	}
	pin := line
	if line == 0 {
		pin = 2
	}
	if level {
		m.IOAPIC.Assert(pin)
	} else {
		m.IOAPIC.SetIRQ(pin, false)
	}
}

// flushGuestPage drops the translated code of physical page pa and every
// vCPU's TLB entries that map it (pc-testdev's flush-page port). The
// writing vCPU's OUT ends its translation block, so no stale entry is used.
func (m *Machine) flushGuestPage(pa uint64) {
	page := pa &^ 0xFFF
	m.invalidatePhys(page, 0x1000)
	for _, c := range m.CPUs {
		t := c.TLB()
		var vpages []uint64
		for i := range t.E {
			for j := range t.E[i] {
				if e := &t.E[i][j]; e.Valid() && e.Phys == page {
					vpages = append(vpages, e.VPage())
				}
			}
		}
		for _, vp := range vpages {
			t.FlushPage(vp)
		}
	}
}

// pciFirmwareState applies what SeaBIOS does to PCI before a -kernel boot.
func (m *Machine) pciFirmwareState() { m.PCI.AssignLikeSeaBIOS() }

var _ memmap.PortIO = (*devices.PCTestDev)(nil)
