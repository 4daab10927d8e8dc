package machine

import (
	"context"
	"testing"

	"glassbox/cpu"
)

// TestX2APICThroughMSRs: a guest switches its LAPIC to x2APIC mode with
// WRMSR IA32_APIC_BASE and reads the ID and version registers as MSRs;
// CPUID advertises x2APIC and the TSC-deadline timer.
func TestX2APICThroughMSRs(t *testing.T) {
	rom := make([]byte, 64<<10)
	copy(rom[0xFF00:], []byte{
		0x66, 0xB9, 0x1B, 0x00, 0x00, 0x00, // mov ecx, 0x1b (IA32_APIC_BASE)
		0x0F, 0x32, // rdmsr
		0x66, 0x0D, 0x00, 0x04, 0x00, 0x00, // or eax, 0x400 (EXTD)
		0x0F, 0x30, // wrmsr
		0x66, 0xB9, 0x02, 0x08, 0x00, 0x00, // mov ecx, 0x802 (x2APIC ID)
		0x0F, 0x32, // rdmsr
		0x66, 0x89, 0xC3, // mov ebx, eax
		0x66, 0xB9, 0x03, 0x08, 0x00, 0x00, // mov ecx, 0x803 (version)
		0x0F, 0x32, // rdmsr
		0xF4, // hlt
	})
	copy(rom[0xFFF0:], []byte{0xEA, 0x00, 0xFF, 0x00, 0xF0}) // jmp f000:ff00
	m := startROM(t, Config{}, rom)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if st := m.Run(context.Background()); st.Kind != StopHaltedForever {
		t.Fatalf("stop %v (%v)", st.Kind, st.Err)
	}
	c := m.CPUs[0]
	if c.R[cpu.RAX] != 0x00050014 || c.R[cpu.RBX] != 0 || !m.LAPICs[0].X2APIC() {
		t.Errorf("version %#x, ID %#x, x2APIC %v", c.R[cpu.RAX], c.R[cpu.RBX], m.LAPICs[0].X2APIC())
	}
	_, _, ecx, _ := c.CPUIDValues(1, 0)
	if ecx&cpu.CPUID_ECX_X2APIC == 0 || ecx&cpu.CPUID_ECX_TSCDEADLINE == 0 {
		t.Errorf("CPUID.1:ECX = %#x lacks x2APIC/TSC-deadline", ecx)
	}
}
