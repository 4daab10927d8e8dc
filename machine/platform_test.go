package machine

import (
	"context"
	"testing"

	"glassbox/tlb"
)

// TestPlatformWiring: -device pci-testdev (twice), pc-testdev and a moved
// isa-debug-exit end up where QEMU puts them; a guest exits through the
// configured port; the flush-page hook drops TBs and TLB entries of the
// page and nothing else.
func TestPlatformWiring(t *testing.T) {
	m, err := New(Config{Platform: Platform{PCITestDevs: 2, PCTestDev: true, DebugExitBase: 0x501, DebugExitSize: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for port, want := range map[uint16]string{0x501: "isa-debug-exit", 0x502: "isa-debug-exit", 0xF4: "unassigned", 0x1234: "pci-io",
		0xE0: "pc-testdev", 0x2017: "pc-testdev-irq", 0xCFC: "pci-conf", 0x3F8: "serial0", 0x600: "acpi-pm"} {
		if got := m.Mem.PortName(port); got != want && !(port == 0x600 && got != "pci-io") {
			t.Errorf("port %#x: %q, want %q", port, got, want)
		}
	}
	for _, d := range []int{2, 3} {
		f := m.PCI.Function(d, 0)
		if f == nil || f.Name != "pci-testdev" {
			t.Fatalf("00:%02x.0 is not a pci-testdev", d)
		}
	}
	if m.PCI.Function(4, 0) != nil || m.PCTestDev == nil || len(m.PCITestDevs) != 2 {
		t.Fatal("device set")
	}
	if r := m.Mem.Find(0xFF000000); r == nil || r.Name != "pc-testdev-iomem" {
		t.Fatalf("0xFF000000: %v", r)
	}
	if r := m.Mem.Find(0xF0000000); r == nil || r.Name != "pci-hole" {
		t.Fatalf("0xF0000000: %v", r)
	}
	// mov dx, 0x501; mov al, 5; out dx, al; hlt
	rom := make([]byte, 64<<10)
	copy(rom[0xFFF0:], []byte{0xBA, 0x01, 0x05, 0xB0, 0x05, 0xEE, 0xF4})
	if err := m.LoadBIOS(rom); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := m.Run(context.Background())
	if st.Kind != StopDebugExit || st.Status != 11 {
		t.Fatalf("stop %v status %d, want debug-exit 11", st.Kind, st.Status)
	}
	if !m.TBs.HasCode(0xFFFFF000) {
		t.Fatal("no TB on the reset page")
	}
	tl := m.CPUs[0].TLB()
	tl.Fill(tlb.IdxSupervisor, 0x7000, tlb.Entry{Read: 0x7000, Write: tlb.Invalid, Code: tlb.Invalid, Phys: 0x5000, PageSize: 4096})
	tl.Fill(tlb.IdxSupervisor, 0x8000, tlb.Entry{Read: 0x8000, Write: tlb.Invalid, Code: tlb.Invalid, Phys: 0x6000, PageSize: 4096})
	m.PCTestDev.Out(0xE4, 4, 0x5123)
	if tl.Slot(tlb.IdxSupervisor, 0x7000).Valid() || !tl.Slot(tlb.IdxSupervisor, 0x8000).Valid() {
		t.Fatal("flush page: wrong TLB entries dropped")
	}
	m.PCTestDev.Out(0xE4, 4, 0xFFFFF000)
	if m.TBs.HasCode(0xFFFFF000) {
		t.Fatal("flush page kept the page's TBs")
	}
}

// TestPlatformErrors: impossible device sets are refused.
func TestPlatformErrors(t *testing.T) {
	if _, err := New(Config{Platform: Platform{PCITestDevs: 30}}); err == nil {
		t.Fatal("30 pci-testdevs accepted")
	}
}
