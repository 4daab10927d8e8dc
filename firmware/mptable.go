package firmware

import "encoding/binary"

// MP specification 1.4 entry types and interrupt types.
const (
	mpProcessor = 0
	mpBus       = 1
	mpIOAPIC    = 2
	mpIntSrc    = 3
	mpLocalInt  = 4

	mpINT    = 0
	mpNMI    = 1
	mpExtINT = 3
)

// mpFloating builds the 16-byte MP floating pointer structure: no default
// configuration (feature byte 1 = 0), IMCR absent (feature byte 2 = 0).
func mpFloating(config uint64) []byte {
	f := make([]byte, 16)
	copy(f, "_MP_")
	binary.LittleEndian.PutUint32(f[4:], uint32(config))
	f[8] = 1 // length in 16-byte units
	f[9] = 4 // MP spec 1.4
	f[10] = checksum(f)
	return f
}

// mpConfig builds the MP configuration table as SeaBIOS's mptable_setup
// does on QEMU's pc machine.
func (c Config) mpConfig() []byte {
	le := binary.LittleEndian
	t := make([]byte, 44)
	copy(t[0:4], "PCMP")
	t[6] = 4 // spec 1.4
	copy(t[8:16], MPOEMID)
	copy(t[16:28], MPProductID)
	le.PutUint32(t[36:], LAPICAddr)
	count := 0

	// Processors: SeaBIOS lists the first logical CPU of each package
	// (APIC IDs 0, pkg, 2*pkg, ... below the APIC ID limit), where pkg is
	// CPUID.1:EBX[23:16] rounded up to a power of two when HTT is set.
	pkg := 1
	if c.CPUFeatures&cpuidHTT != 0 && c.CoresPerSocket > 1 {
		pkg = 1 << bitsFor(c.CoresPerSocket)
	}
	present := map[int]bool{}
	for i := 0; i < c.CPUs; i++ {
		present[c.APICID(i)] = true
	}
	for id := 0; id < c.APICIDLimit(); id += pkg {
		e := make([]byte, 20)
		e[0] = mpProcessor
		e[1] = byte(id)
		e[2] = LAPICVersion
		if present[id] {
			e[3] |= 1 // enabled
		}
		if id == 0 {
			e[3] |= 2 // bootstrap processor
		}
		le.PutUint32(e[4:], c.CPUSignature)
		le.PutUint32(e[8:], c.CPUFeatures)
		t = append(t, e...)
		count++
	}

	// Buses: PCI 0 (when there is PCI), then ISA.
	isa := byte(0)
	if !c.NoPCI {
		t = append(t, mpBus, 0, 'P', 'C', 'I', ' ', ' ', ' ')
		isa = 1
		count++
	}
	t = append(t, mpBus, isa, 'I', 'S', 'A', ' ', ' ', ' ')
	count++

	io := []byte{mpIOAPIC, byte(c.IOAPICID), IOAPICVer, 1 /* enabled */, 0, 0, 0, 0}
	le.PutUint32(io[4:], IOAPICAddr)
	t = append(t, io...)
	count++

	intsrc := func(kind, typ byte, flags uint16, bus, irq, apic, pin byte) {
		e := []byte{kind, typ, 0, 0, bus, irq, apic, pin}
		le.PutUint16(e[2:], flags)
		t = append(t, e...)
		count++
	}
	ioapic := byte(c.IOAPICID)
	if !c.NoPCI {
		// The PCI function with an interrupt pin on QEMU's pc machine
		// under -nodefaults: the PIIX4 power management function 00:01.3,
		// INTA (source "IRQ" = device<<2 | pin-1), on I/O APIC pin 9 (the
		// SCI), polarity active high as SeaBIOS writes it.
		intsrc(mpIntSrc, mpINT, 0x0001, 0, 1<<2|0, ioapic, SCIIRQ)
	}
	for irq := 0; irq < 16; irq++ {
		if isPCIIRQ(irq) || irq == 2 {
			continue // IRQ 2 is the cascade: GSI 2 carries IRQ 0
		}
		pin := byte(irq)
		if irq == 0 {
			pin = 2
		}
		intsrc(mpIntSrc, mpINT, 0, isa, byte(irq), ioapic, pin)
	}
	intsrc(mpLocalInt, mpExtINT, 0, isa, 0, 0, 0) // 8259 -> BSP LINT0
	intsrc(mpLocalInt, mpNMI, 0, isa, 0, 0xFF, 1) // NMI -> every LINT1

	le.PutUint16(t[4:], uint16(len(t)))
	le.PutUint16(t[34:], uint16(count))
	t[7] = checksum(t)
	return t
}

func isPCIIRQ(irq int) bool {
	for _, p := range pciIRQs {
		if p == irq {
			return true
		}
	}
	return false
}
