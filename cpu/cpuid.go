package cpu

// The CPUID model ("GlassBoxEmul", family 6 model 6 stepping 3): FPU, DE,
// PSE, PSE-36, TSC, MSR, PAE, CX8, APIC, SEP, PGE, CMOV, FXSR, SSE, SSE2
// (leaf 1 EDX), CX16 (leaf 1 ECX), SYSCALL, NX, LM (leaf 0x80000001 EDX),
// 40 physical / 48 linear address bits. Each bit is something the emulator
// implements; MMX, SSE3 and later are not reported (not implemented).

// CPUIDModel holds the values returned by CPUID.
type CPUIDModel struct {
	Vendor   [12]byte
	Brand    [48]byte
	MaxLeaf  uint32
	MaxExt   uint32
	Sig      uint32 // leaf 1 EAX
	Feat1EDX uint32
	Feat1ECX uint32
	Ext1EDX  uint32
	Ext1ECX  uint32
}

// Feature bits (SDM Vol. 2 CPUID, Table 3-11/3-10).
const (
	CPUID_FPU   = 1 << 0
	CPUID_VME   = 1 << 1
	CPUID_DE    = 1 << 2
	CPUID_PSE   = 1 << 3
	CPUID_TSC   = 1 << 4
	CPUID_MSR   = 1 << 5
	CPUID_PAE   = 1 << 6
	CPUID_CX8   = 1 << 8
	CPUID_APIC  = 1 << 9
	CPUID_SEP   = 1 << 11
	CPUID_PGE   = 1 << 13
	CPUID_CMOV  = 1 << 15
	CPUID_PSE36 = 1 << 17
	CPUID_FXSR  = 1 << 24
	CPUID_SSE   = 1 << 25
	CPUID_SSE2  = 1 << 26

	CPUID_EXT_SYSCALL = 1 << 11
	CPUID_EXT_NX      = 1 << 20
	CPUID_EXT_LM      = 1 << 29

	CPUID_ECX_CX16        = 1 << 13
	CPUID_ECX_X2APIC      = 1 << 21
	CPUID_ECX_TSCDEADLINE = 1 << 24
)

func defaultCPUID() CPUIDModel {
	m := CPUIDModel{MaxLeaf: 1, MaxExt: 0x80000008, Sig: 0x663}
	copy(m.Vendor[:], "GlassBoxEmul")
	copy(m.Brand[:], "glassbox virtual CPU")
	m.Feat1EDX = CPUID_FPU | CPUID_FXSR | CPUID_SSE | CPUID_SSE2 | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 | CPUID_APIC |
		CPUID_SEP | CPUID_PGE | CPUID_CMOV | CPUID_PSE36
	m.Feat1ECX = CPUID_ECX_CX16 | CPUID_ECX_X2APIC | CPUID_ECX_TSCDEADLINE
	m.Ext1EDX = CPUID_EXT_NX | CPUID_EXT_SYSCALL | CPUID_EXT_LM
	return m
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// CPUIDValues returns the registers CPUID leaf/subleaf yields.
func (c *CPU) CPUIDValues(leaf, sub uint32) (a, b, cc, d uint32) {
	m := &c.cpuid
	if leaf >= 0x80000000 {
		if leaf > m.MaxExt {
			leaf = m.MaxLeaf
		}
	} else if leaf > m.MaxLeaf {
		leaf = m.MaxLeaf
	}
	switch leaf {
	case 0:
		return m.MaxLeaf, le32(m.Vendor[0:]), le32(m.Vendor[8:]), le32(m.Vendor[4:])
	case 1:
		d := m.Feat1EDX
		if c.msr.apicBase&(1<<11) == 0 {
			d &^= CPUID_APIC // APIC globally disabled (IA32_APIC_BASE.EN = 0): SDM Vol. 3 10.4.3
		}
		return m.Sig, uint32(c.ID)<<24 | 1<<16, m.Feat1ECX, d
	case 0x80000000:
		return m.MaxExt, le32(m.Vendor[0:]), le32(m.Vendor[8:]), le32(m.Vendor[4:])
	case 0x80000001:
		d := m.Ext1EDX
		if c.msr.apicBase&(1<<11) == 0 {
			d &^= CPUID_APIC // AMD mirrors the APIC bit here
		}
		return 0, 0, m.Ext1ECX, d
	case 0x80000002, 0x80000003, 0x80000004:
		o := (leaf - 0x80000002) * 16
		br := m.Brand[o:]
		return le32(br), le32(br[4:]), le32(br[8:]), le32(br[12:])
	case 0x80000008:
		return MaxPhysBits | 48<<8, 0, 0, 0
	}
	return 0, 0, 0, 0
}

func (c *CPU) doCPUID() {
	a, b, cc, d := c.CPUIDValues(uint32(c.R[RAX]), uint32(c.R[RCX]))
	c.R[RAX], c.R[RBX], c.R[RCX], c.R[RDX] = uint64(a), uint64(b), uint64(cc), uint64(d)
}
