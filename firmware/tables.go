package firmware

import (
	"encoding/binary"
	"fmt"
	"strings"

	"glassbox/memmap"
)

// Fixed platform facts the tables describe (QEMU pc / i440FX + PIIX4).
const (
	LAPICAddr    = 0xFEE00000 // local APIC MMIO base
	IOAPICAddr   = 0xFEC00000 // I/O APIC MMIO base
	LAPICVersion = 0x14       // QEMU's local APIC version register (MP processor entries)
	IOAPICVer    = 0x11       // SeaBIOS's MP I/O APIC entry version

	PM1aEvtBlk = 0x600 // PM1a event block (status + enable), 4 bytes
	PM1aCntBlk = 0x604 // PM1a control, 2 bytes
	PMTmrBlk   = 0x608 // ACPI PM timer, 4 bytes, 24-bit, 3.579545 MHz
	SCIIRQ     = 9     // SCI_INT

	// SLP_TYP values of QEMU's PIIX4 PM (hw/acpi/core.c acpi_pm1_cnt_write):
	// 0 powers off, 1 suspends (S3), 2 is S4 (also a power off).
	SlpTypS5 = 0
	SlpTypS3 = 1
	SlpTypS4 = 2
)

// Layout of the table area: offsets from Config.Base (0xF0000 by default).
// The offsets do not depend on the number of CPUs.
const (
	DefaultBase = 0xF0000

	OffRSDP     = 0x000 // ACPI 2.0 RSDP, 36 bytes (16-byte aligned: found by a scan)
	OffMPFloat  = 0x030 // MP floating pointer "_MP_", 16 bytes (16-byte aligned)
	OffFACS     = 0x040 // FACS, 64 bytes (64-byte aligned)
	OffRSDT     = 0x080 // RSDT, 44 bytes (FACP, APIC)
	OffXSDT     = 0x0C0 // XSDT, 52 bytes (FACP, APIC)
	OffFADT     = 0x100 // FADT revision 3 (ACPI 2.0), 244 bytes
	OffDSDT     = 0x200 // DSDT: header + _S5 (+ _S3, _S4), at most 0x100 bytes
	OffMADT     = 0x300 // MADT, 44 + 8*MaxCPUs + 12 + 5*10 + 6 bytes (at most 2152)
	OffMPConfig = 0xC00 // MP configuration table "PCMP", 44 + 20*packages + 8*18 bytes
	areaEnd     = 0x10000
	maxAPICID   = 254 // xAPIC IDs 0..254 (255 is the broadcast ID); QEMU switches to x2APIC entries above
	tableAreaLo = 0xF0000
	tableAreaHi = 0x100000
)

// QEMU's OEM identifiers (every table QEMU builds carries them; SeaBIOS's
// MP table has its own).
const (
	DefaultOEMID      = "BOCHS "
	DefaultOEMTableID = "BXPC    "
	CreatorID         = "GLBX" // QEMU: "BXPC"; ours tells the tables apart
	CreatorRevision   = 1
	MPOEMID           = "BOCHSCPU"
	MPProductID       = "0.1         "
)

// The CPUID leaf 1 values of QEMU's default qemu64 CPU, which the MP table's
// processor entries copy (SeaBIOS reads them from the boot CPU).
const (
	QEMU64Signature = 0x00060FB1 // EAX: family 15, model 107, stepping 1
	QEMU64Features  = 0x078BFBFD // EDX without HTT (bit 28)
	cpuidHTT        = 1 << 28
)

// Config describes the machine the tables are built for.
type Config struct {
	// CPUs is the number of CPUs present at boot (-smp N), 1..255.
	CPUs int
	// MaxCPUs is the number of possible CPUs (-smp N,maxcpus=M); 0 means
	// CPUs. The MADT lists all of them, those at index >= CPUs disabled,
	// as QEMU does.
	MaxCPUs int
	// CoresPerSocket is the number of CPUs per package; 0 means MaxCPUs
	// (QEMU 7.2 turns -smp N into 1 socket x N cores). It decides the APIC
	// IDs (QEMU's topology: socket << ceil(log2(cores)) | core) and the MP
	// table, which SeaBIOS fills with one processor entry per package.
	CoresPerSocket int
	// RAMBelow4G and RAMAbove4G are the guest RAM sizes. The table area
	// must lie in RAM below 4 GiB.
	RAMBelow4G, RAMAbove4G uint64
	// Base is where the table area starts; 0 means DefaultBase (0xF0000).
	// It must be 16-byte aligned and the whole area (whose size depends
	// on the CPU count) must fit in [0xF0000, 0x100000), the range the
	// e820 map reserves for the BIOS and that both the ACPI RSDP scan
	// (0xE0000-0xFFFFF) and the MP floating pointer scan (0xF0000-0xFFFFF)
	// cover. The 1 KiB EBDA at 0x9FC00 is too small for the tables.
	Base uint64
	// IOAPICID is the I/O APIC's ID in the MADT and the MP table. QEMU uses
	// 0 (ACPI_BUILD_IOAPIC_ID; SeaBIOS's MP table too), the I/O APIC's
	// reset ID; the zero value is QEMU's.
	IOAPICID int
	// CPUSignature and CPUFeatures are CPUID.1 EAX and EDX for the MP
	// processor entries; 0 means QEMU's qemu64 values. HTT (EDX bit 28) is
	// set when a package has more than one CPU, as QEMU's CPUID does.
	CPUSignature, CPUFeatures uint32
	// SleepS3S4 adds QEMU's _S3 (SLP_TYP 1) and _S4 (SLP_TYP 2) packages
	// to the DSDT. Without it only _S5 (SLP_TYP 0) is there: set it only
	// when the PM1a control register implements suspend.
	SleepS3S4 bool
	// NoPCI leaves the PCI bus and its interrupt entry out of the MP table
	// (SeaBIOS lists both on a pc machine: bus 0 "PCI", the ISA bus is 1).
	NoPCI bool
	// OEMID and OEMTableID default to QEMU's "BOCHS " and "BXPC    ".
	OEMID, OEMTableID string
}

// Blob is one table image at its guest-physical address.
type Blob struct {
	Name string
	Addr uint64
	Data []byte
}

// End is one past the blob's last byte.
func (b Blob) End() uint64 { return b.Addr + uint64(len(b.Data)) }

// Tables are the built images, in address order.
type Tables struct {
	Blobs []Blob
	// Addresses of each structure.
	RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT, MPFloat, MPConfig uint64
	// SleepStates is QEMU's etc/system-states fw_cfg file for these
	// tables: one byte per S0..S5, 0x80|SLP_TYP when the state is
	// available.
	SleepStates []byte
}

// norm fills in defaults and validates.
func (c Config) norm() (Config, error) {
	if c.CPUs < 1 || c.CPUs > maxAPICID+1 {
		return c, fmt.Errorf("firmware: %d CPUs; want 1..%d", c.CPUs, maxAPICID+1)
	}
	if c.MaxCPUs == 0 {
		c.MaxCPUs = c.CPUs
	}
	if c.MaxCPUs < c.CPUs {
		return c, fmt.Errorf("firmware: maxcpus %d is less than the %d CPUs", c.MaxCPUs, c.CPUs)
	}
	if c.CoresPerSocket == 0 {
		c.CoresPerSocket = c.MaxCPUs
	}
	if c.CoresPerSocket < 1 || c.CoresPerSocket > c.MaxCPUs {
		return c, fmt.Errorf("firmware: %d cores per socket for %d CPUs", c.CoresPerSocket, c.MaxCPUs)
	}
	if id := c.APICID(c.MaxCPUs - 1); id > maxAPICID {
		return c, fmt.Errorf("firmware: APIC ID %d of CPU %d is above %d (x2APIC tables are not built)", id, c.MaxCPUs-1, maxAPICID)
	}
	if c.IOAPICID < 0 || c.IOAPICID > 255 {
		return c, fmt.Errorf("firmware: I/O APIC ID %d out of range", c.IOAPICID)
	}
	if c.Base == 0 {
		c.Base = DefaultBase
	}
	if c.Base%16 != 0 {
		return c, fmt.Errorf("firmware: table base %#x is not 16-byte aligned", c.Base)
	}
	if c.Base < tableAreaLo || c.Base >= tableAreaHi {
		return c, fmt.Errorf("firmware: table base %#x is outside [%#x, %#x), the BIOS area that the RSDP and MP scans both cover", c.Base, tableAreaLo, tableAreaHi)
	}
	if c.RAMBelow4G != 0 && c.RAMBelow4G < tableAreaHi {
		return c, fmt.Errorf("firmware: %#x bytes of RAM do not cover the table area below 1 MiB", c.RAMBelow4G)
	}
	if c.CPUSignature == 0 {
		c.CPUSignature = QEMU64Signature
	}
	if c.CPUFeatures == 0 {
		c.CPUFeatures = QEMU64Features
		if c.CoresPerSocket > 1 {
			c.CPUFeatures |= cpuidHTT
		}
	}
	if c.OEMID == "" {
		c.OEMID = DefaultOEMID
	}
	if c.OEMTableID == "" {
		c.OEMTableID = DefaultOEMTableID
	}
	if len(c.OEMID) > 6 || len(c.OEMTableID) > 8 {
		return c, fmt.Errorf("firmware: OEM ID %q (max 6 bytes) or OEM table ID %q (max 8) too long", c.OEMID, c.OEMTableID)
	}
	return c, nil
}

// APICID is the APIC ID of CPU index i under QEMU's topology rules (one
// thread per core, one die per socket): the core number in the low
// ceil(log2(CoresPerSocket)) bits, the socket above. With one socket (the
// default) it is i.
func (c Config) APICID(i int) int {
	cores := c.CoresPerSocket
	if cores == 0 {
		cores = c.MaxCPUs
		if cores == 0 {
			cores = c.CPUs
		}
	}
	if cores <= 1 {
		return i
	}
	return i/cores<<bitsFor(cores) | i%cores
}

// APICIDLimit is one more than the highest possible APIC ID: QEMU's
// fw_cfg FW_CFG_MAX_CPUS ("apic_id_limit").
func (c Config) APICIDLimit() int {
	m := c.MaxCPUs
	if m == 0 {
		m = c.CPUs
	}
	return c.APICID(m-1) + 1
}

// bitsFor is ceil(log2(n)) (QEMU's apicid_bitwidth_for_count).
func bitsFor(n int) uint {
	b := uint(0)
	for 1<<b < n {
		b++
	}
	return b
}

// BuildTables builds the ACPI tables and the MP table for cfg. See the
// package documentation for the layout and contents.
func BuildTables(cfg Config) (Tables, error) {
	c, err := cfg.norm()
	if err != nil {
		return Tables{}, err
	}
	b := c.Base
	t := Tables{
		RSDP: b + OffRSDP, MPFloat: b + OffMPFloat, FACS: b + OffFACS,
		RSDT: b + OffRSDT, XSDT: b + OffXSDT, FADT: b + OffFADT,
		DSDT: b + OffDSDT, MADT: b + OffMADT, MPConfig: b + OffMPConfig,
	}
	facs := buildFACS()
	dsdt := c.header("DSDT", 1, c.dsdtBody())
	fadt := c.header("FACP", 3, c.fadtBody(t.FACS, t.DSDT))
	madt := c.header("APIC", 1, c.madtBody())
	rsdt := c.header("RSDT", 1, le32s(uint32(t.FADT), uint32(t.MADT)))
	xsdt := c.header("XSDT", 1, le64s(t.FADT, t.MADT))
	rsdp := c.rsdp(t.RSDT, t.XSDT)
	mpc := c.mpConfig()
	mpf := mpFloating(t.MPConfig)
	if len(dsdt) > OffMADT-OffDSDT {
		return Tables{}, fmt.Errorf("firmware: BUG: DSDT is %d bytes", len(dsdt))
	}
	if len(madt) > OffMPConfig-OffMADT {
		return Tables{}, fmt.Errorf("firmware: BUG: MADT is %d bytes", len(madt))
	}
	t.Blobs = []Blob{
		{"RSDP", t.RSDP, rsdp},
		{"MP floating pointer", t.MPFloat, mpf},
		{"FACS", t.FACS, facs},
		{"RSDT", t.RSDT, rsdt},
		{"XSDT", t.XSDT, xsdt},
		{"FADT", t.FADT, fadt},
		{"DSDT", t.DSDT, dsdt},
		{"MADT", t.MADT, madt},
		{"MP configuration table", t.MPConfig, mpc},
	}
	if end := t.Blobs[len(t.Blobs)-1].End(); end > tableAreaHi {
		return Tables{}, fmt.Errorf("firmware: the tables [%#x, %#x) for %d CPUs do not fit below %#x; use a lower Base", b, end, c.MaxCPUs, tableAreaHi)
	}
	t.SleepStates = []byte{0x80, 0, 0, 0, 0, 0x80 | SlpTypS5}
	if c.SleepS3S4 {
		t.SleepStates[3] = 0x80 | SlpTypS3
		t.SleepStates[4] = 0x80 | SlpTypS4
	}
	return t, nil
}

// Size is the length of the table area, from the first blob to the end of
// the last.
func (t Tables) Size() uint64 {
	if len(t.Blobs) == 0 {
		return 0
	}
	return t.Blobs[len(t.Blobs)-1].End() - t.Blobs[0].Addr
}

// Image returns the table area [lo, hi) as installed (zero between blobs).
func (t Tables) Image(lo, hi uint64) []byte {
	out := make([]byte, hi-lo)
	for _, b := range t.Blobs {
		for i, v := range b.Data {
			if a := b.Addr + uint64(i); a >= lo && a < hi {
				out[a-lo] = v
			}
		}
	}
	return out
}

// ACPIImage is what the fw_cfg file etc/acpi/tables holds: the installed
// ACPI tables area from the FACS to the end of the MADT, byte for byte
// (pointers inside are the final physical addresses).
func (t Tables) ACPIImage() []byte {
	for _, b := range t.Blobs {
		if b.Name == "MADT" {
			return t.Image(t.FACS, b.End())
		}
	}
	return nil
}

// Blob returns the blob with the given name.
func (t Tables) Blob(name string) (Blob, bool) {
	for _, b := range t.Blobs {
		if b.Name == name {
			return b, true
		}
	}
	return Blob{}, false
}

// Install writes every blob into guest RAM with WriteDebug (which marks the
// pages dirty for every client but CODE; call it before any code runs). The
// whole table area must be RAM: it refuses ROM (a -bios image mapped over
// 0xE0000-0xFFFFF) and unassigned or MMIO addresses, writing nothing.
// The gaps between blobs are zeroed.
func (t Tables) Install(s *memmap.Space) error {
	if s == nil {
		return fmt.Errorf("firmware: no address space")
	}
	if len(t.Blobs) == 0 {
		return fmt.Errorf("firmware: no tables to install")
	}
	lo, hi := t.Blobs[0].Addr, t.Blobs[len(t.Blobs)-1].End()
	for a := lo; a < hi; {
		r := s.Find(memmap.PhysAddr(a))
		if r == nil || r.Kind != memmap.KindRAM {
			what := "unassigned"
			if r != nil {
				what = fmt.Sprintf("%s region %q", r.Kind, r.Name)
			}
			return fmt.Errorf("firmware: the table area [%#x, %#x) must be RAM, but %#x is %s (tables are for -kernel boots, not with a BIOS image)", lo, hi, a, what)
		}
		a = uint64(r.End())
	}
	img := t.Image(lo, hi)
	if n := s.WriteDebug(memmap.PhysAddr(lo), img); n != len(img) {
		return fmt.Errorf("firmware: wrote %d of %d table bytes", n, len(img))
	}
	return nil
}

// header prepends a standard ACPI table header and sets the checksum.
func (c Config) header(sig string, rev byte, body []byte) []byte {
	t := make([]byte, 36, 36+len(body))
	copy(t[0:4], sig)
	binary.LittleEndian.PutUint32(t[4:], uint32(36+len(body)))
	t[8] = rev
	copy(t[10:16], pad(c.OEMID, 6))
	copy(t[16:24], pad(c.OEMTableID, 8))
	binary.LittleEndian.PutUint32(t[24:], 1) // OEM revision (QEMU: 1)
	copy(t[28:32], CreatorID)
	binary.LittleEndian.PutUint32(t[32:], CreatorRevision)
	t = append(t, body...)
	t[9] = checksum(t)
	return t
}

func (c Config) rsdp(rsdt, xsdt uint64) []byte {
	p := make([]byte, 36)
	copy(p, "RSD PTR ")
	copy(p[9:15], pad(c.OEMID, 6))
	p[15] = 2 // ACPI 2.0+: XSDT
	binary.LittleEndian.PutUint32(p[16:], uint32(rsdt))
	binary.LittleEndian.PutUint32(p[20:], 36)
	binary.LittleEndian.PutUint64(p[24:], xsdt)
	p[8] = checksum(p[:20])
	p[32] = checksum(p)
	return p
}

func buildFACS() []byte {
	f := make([]byte, 64)
	copy(f, "FACS")
	binary.LittleEndian.PutUint32(f[4:], 64)
	// Hardware signature, waking vectors, global lock, flags: 0. Version
	// 0 as QEMU's (build_facs).
	return f
}

// fadtBody is the FADT after the header: ACPI 2.0 layout (revision 3,
// 244 bytes), with the ACPI 1.0 fields as QEMU's PIIX4 FADT has them
// except where noted.
func (c Config) fadtBody(facs, dsdt uint64) []byte {
	f := make([]byte, 244)
	le := binary.LittleEndian
	le.PutUint32(f[36:], uint32(facs))
	le.PutUint32(f[40:], uint32(dsdt))
	f[44] = 1 // INT_MODEL (reserved since ACPI 2.0; QEMU writes 1)
	f[45] = 0 // Preferred_PM_Profile: unspecified
	le.PutUint16(f[46:], SCIIRQ)
	// SMI_CMD 0, ACPI_ENABLE/ACPI_DISABLE 0: no SMM; the hardware is in
	// ACPI mode from the start (PM1a_CNT.SCI_EN reads 1). QEMU: 0xB2,
	// 0xF1, 0xF0.
	le.PutUint32(f[56:], PM1aEvtBlk)
	le.PutUint32(f[64:], PM1aCntBlk)
	le.PutUint32(f[76:], PMTmrBlk)
	// GPE0_BLK 0: no general-purpose event block (QEMU: 0xAFE0, 4 bytes).
	f[88] = 4                   // PM1_EVT_LEN
	f[89] = 2                   // PM1_CNT_LEN
	f[91] = 4                   // PM_TMR_LEN
	le.PutUint16(f[96:], 0xFFF) // P_LVL2_LAT: C2 not supported
	le.PutUint16(f[98:], 0xFFF) // P_LVL3_LAT: C3 not supported
	f[108] = 0x32               // CENTURY: CMOS register
	le.PutUint16(f[109:], 1)    // IAPC_BOOT_ARCH: LEGACY_DEVICES (no 8042); QEMU's revision 1 FADT has 0
	// FLAGS as QEMU's: WBINVD, PROC_C1, SLP_BUTTON, RTC_S4,
	// USE_PLATFORM_CLOCK. TMR_VAL_EXT (bit 8) clear: a 24-bit timer.
	le.PutUint32(f[112:], 1<<0|1<<2|1<<5|1<<7|1<<15)
	// RESET_REG (116) and RESET_VALUE (128): none.
	le.PutUint64(f[132:], facs)  // X_FIRMWARE_CTRL
	le.PutUint64(f[140:], dsdt)  // X_DSDT
	gas(f[148:], 32, PM1aEvtBlk) // X_PM1a_EVT_BLK
	gas(f[172:], 16, PM1aCntBlk) // X_PM1a_CNT_BLK
	gas(f[208:], 32, PMTmrBlk)   // X_PM_TMR_BLK
	return f[36:]
}

// gas writes an ACPI generic address structure for a system I/O block.
func gas(b []byte, bits byte, port uint64) {
	b[0] = 1 // system I/O
	b[1] = bits
	b[2] = 0 // bit offset
	b[3] = 0 // access size: undefined (ACPI 2.0 reserved)
	binary.LittleEndian.PutUint64(b[4:], port)
}

// dsdtBody is the AML after the DSDT header: Name(_S5, Package(){0,0,0,0})
// as QEMU's, preceded by QEMU's _S3 and _S4 when enabled.
func (c Config) dsdtBody() []byte {
	var a []byte
	if c.SleepS3S4 {
		a = append(a, amlSleep("_S3_", SlpTypS3)...)
		a = append(a, amlSleep("_S4_", SlpTypS4)...)
	}
	return append(a, amlSleep("_S5_", SlpTypS5)...)
}

// amlSleep encodes Name(_Sx, Package(4){typ, typ, 0, 0}) exactly as QEMU's
// AML builder does (aml_int: ZeroOp, OneOp, or BytePrefix n).
func amlSleep(name string, typ byte) []byte {
	elems := append(amlInt(typ), amlInt(typ)...)
	elems = append(elems, 0x00, 0x00)
	pkg := append([]byte{0x04}, elems...)     // NumElements
	out := []byte{0x08}                       // NameOp
	out = append(out, name...)                // NameSeg
	out = append(out, 0x12, byte(len(pkg)+1)) // PackageOp, PkgLength (1 byte)
	return append(out, pkg...)
}

func amlInt(v byte) []byte {
	switch v {
	case 0:
		return []byte{0x00}
	case 1:
		return []byte{0x01}
	}
	return []byte{0x0A, v}
}

// ISA IRQs that QEMU's pc machine routes as PCI interrupts (pci_irq_mask,
// ACPI_BUILD_PCI_IRQS; SeaBIOS's BUILD_PCI_IRQS): level-triggered,
// active-high in the MADT, left out of the MP table's ISA entries.
var pciIRQs = []int{5, 9, 10, 11}

// madtBody is the MADT after the header, in QEMU's order
// (acpi_build_madt).
func (c Config) madtBody() []byte {
	le := binary.LittleEndian
	b := make([]byte, 8)
	le.PutUint32(b[0:], LAPICAddr)
	le.PutUint32(b[4:], 1) // PCAT_COMPAT: dual 8259s
	for i := 0; i < c.MaxCPUs; i++ {
		var flags uint32
		if i < c.CPUs {
			flags = 1 // enabled
		}
		e := []byte{0, 8, byte(i), byte(c.APICID(i)), 0, 0, 0, 0}
		le.PutUint32(e[4:], flags)
		b = append(b, e...)
	}
	io := []byte{1, 12, byte(c.IOAPICID), 0, 0, 0, 0, 0, 0, 0, 0, 0}
	le.PutUint32(io[4:], IOAPICAddr)
	le.PutUint32(io[8:], 0) // GSI base
	b = append(b, io...)
	b = append(b, override(0, 2, 0)...) // IRQ0 -> GSI 2, bus defaults
	for _, irq := range pciIRQs {
		b = append(b, override(irq, irq, 0xD)...) // active high, level
	}
	// Local APIC NMI: all processors, flags 0 (bus defaults), LINT1.
	b = append(b, 4, 6, 0xFF, 0, 0, 1)
	return b
}

func override(irq, gsi int, flags uint16) []byte {
	e := []byte{2, 10, 0 /* ISA */, byte(irq), 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(e[4:], uint32(gsi))
	binary.LittleEndian.PutUint16(e[8:], flags)
	return e
}

func checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

func le32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func le64s(v ...uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}
