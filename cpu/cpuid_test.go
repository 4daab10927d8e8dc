package cpu

import "testing"

// TestCPUIDAPICBitFollowsAPICBase: CPUID.01H:EDX.APIC (and AMD's
// 80000001H copy) reads 0 while IA32_APIC_BASE.EN is clear and 1 again
// after the APIC is re-enabled through the MSR (SDM Vol. 3 10.4.3; QEMU 7.2
// TCG keeps reporting it, one of kvm-unit-tests' apic failures).
func TestCPUIDAPICBitFollowsAPICBase(t *testing.T) {
	c, _ := testCPU(t, 1<<16, nil)
	apic := func() (bool, bool) {
		_, _, _, d1 := c.CPUIDValues(1, 0)
		_, _, _, d8 := c.CPUIDValues(0x80000001, 0)
		return d1&CPUID_APIC != 0, d8&CPUID_APIC != 0
	}
	if l1, _ := apic(); !l1 {
		t.Fatal("APIC bit clear at reset")
	}
	_, _, _, ext := c.CPUIDValues(0x80000001, 0)
	hasExt := ext&CPUID_APIC != 0
	base, _ := c.readMSR(MSR_APIC_BASE)
	if !c.writeMSR(MSR_APIC_BASE, base&^(1<<11)) {
		t.Fatal("disabling the APIC faulted")
	}
	if l1, l8 := apic(); l1 || l8 {
		t.Errorf("APIC disabled: CPUID still reports it (leaf 1 %v, 80000001 %v)", l1, l8)
	}
	if !c.writeMSR(MSR_APIC_BASE, base) {
		t.Fatal("re-enabling the APIC faulted")
	}
	if l1, l8 := apic(); !l1 || l8 != hasExt {
		t.Errorf("APIC re-enabled: leaf 1 %v, 80000001 %v (was %v)", l1, l8, hasExt)
	}
}

// TestBaseMSRsRejectNonCanonical: WRMSR of a non-canonical address to
// FS_BASE, GS_BASE, KERNEL_GS_BASE, LSTAR or CSTAR faults (#GP) and leaves
// the MSR unchanged (another QEMU 7.2 TCG gap kvm-unit-tests reports).
func TestBaseMSRsRejectNonCanonical(t *testing.T) {
	c, _ := testCPU(t, 1<<16, nil)
	for _, n := range []uint32{MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_CSTAR} {
		if !c.writeMSR(n, 0xFFFF800000001000) {
			t.Fatalf("MSR %#x: canonical value refused", n)
		}
		if c.writeMSR(n, 0x0000800000000000) {
			t.Errorf("MSR %#x: non-canonical 0x0000800000000000 accepted", n)
		}
		if v, _ := c.readMSR(n); v != 0xFFFF800000001000 {
			t.Errorf("MSR %#x = %#x after the refused write", n, v)
		}
	}
}

// fakeX2 is an interrupt controller with MSR-mapped registers.
type fakeX2 struct {
	valid  bool
	wrote  map[uint32]uint64
	regVal uint64
}

func (f *fakeX2) Pending() bool                     { return false }
func (f *fakeX2) Ack() uint8                        { return 0 }
func (f *fakeX2) APICBaseValid(uint64) bool         { return f.valid }
func (f *fakeX2) ReadAPICMSR(uint32) (uint64, bool) { return f.regVal, true }
func (f *fakeX2) WriteAPICMSR(n uint32, v uint64) bool {
	f.wrote[n] = v
	return true
}

// TestAPICBaseX2APIC: IA32_APIC_BASE keeps bit 10 only with an x2APIC
// controller and only for transitions it calls valid (#GP otherwise);
// MSRs 0x800-0x8FF and 0x6E0 go to the controller, other unknown MSRs
// still fault.
func TestAPICBaseX2APIC(t *testing.T) {
	c, _ := testCPU(t, 1<<16, nil)
	base, _ := c.readMSR(MSR_APIC_BASE)
	if c.writeMSR(MSR_APIC_BASE, base|1<<10) {
		t.Fatal("EXTD accepted without an x2APIC-capable controller")
	}
	f := &fakeX2{valid: false, wrote: map[uint32]uint64{}, regVal: 0x1234}
	c.SetIntController(f)
	if c.writeMSR(MSR_APIC_BASE, base|1<<10) {
		t.Fatal("a transition the controller refuses was accepted")
	}
	f.valid = true
	if !c.writeMSR(MSR_APIC_BASE, base|1<<10) {
		t.Fatal("valid x2APIC transition refused")
	}
	if v, _ := c.readMSR(MSR_APIC_BASE); v&(1<<10) == 0 {
		t.Error("EXTD not kept")
	}
	if v, ok := c.readMSR(0x802); !ok || v != 0x1234 {
		t.Errorf("RDMSR 0x802 = %#x, %v", v, ok)
	}
	if !c.writeMSR(MSR_TSC_DEADLINE, 99) || f.wrote[MSR_TSC_DEADLINE] != 99 {
		t.Error("IA32_TSC_DEADLINE not routed to the controller")
	}
	if _, ok := c.readMSR(0x900); ok {
		t.Error("unknown MSR 0x900 readable")
	}
}
