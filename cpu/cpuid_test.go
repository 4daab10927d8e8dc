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
