// Package firmware provides what a multiboot kernel booted with QEMU's
// -kernel finds of the firmware, without running a BIOS: the ACPI tables
// and the MP table that SeaBIOS leaves in memory on QEMU's pc machine, and
// QEMU's fw_cfg device (ports 0x510-0x511 and the DMA interface at
// 0x514-0x51B). Test kernels (kvm-unit-tests, guests/smp) find the CPUs
// through the MADT, the MP table or fw_cfg's CPU count.
//
// Every fact a kernel reads was checked against QEMU 7.2 (Debian 7.2+dfsg, SeaBIOS 1.16.2) on
// this machine: the kernel testdata/fwdump/fwdump.c prints, over COM1, the
// RSDP and every table it reaches, every MADT entry, the FADT fields, the
// sleep packages of the DSDT, every MP table entry, every well-known fw_cfg
// key (0x00-0x1F, 0x8000-0x8005 and a few unknown ones), the file directory,
// etc/e820, the behaviour of every port width and the DMA interface (reads,
// skips, selects, writes, errors). testdata/qemu_<config>.txt hold its
// output for nine -smp/-m/-cpu configurations; TestOracleComparison prints
// the same lines from this package's tables and device (guest_test.go is a
// transcription of the kernel) and fails on any difference not in its list
// of deliberate ones (knownDiffs, each with its reason). TestQEMUOracle
// re-runs QEMU on the recorded kernel when QEMU is installed;
// testdata/record.sh rebuilds the kernel and records everything again.
//
// # Addresses
//
// The table area starts at Config.Base, 0xF0000 by default, inside
// [0xF0000, 0x100000): the range the e820 map reserves for the BIOS, where
// both the ACPI RSDP scan (0xE0000-0xFFFFF, 16-byte steps) and the MP
// floating pointer scan (0xF0000-0xFFFFF) look. The offsets are fixed
// whatever the number of CPUs:
//
//	0xF0000  RSDP "RSD PTR ", ACPI 2.0 (revision 2), 36 bytes
//	0xF0030  MP floating pointer "_MP_", 16 bytes (MP spec 1.4)
//	0xF0040  FACS, 64 bytes, 64-byte aligned
//	0xF0080  RSDT: FACP, APIC (44 bytes)
//	0xF00C0  XSDT: FACP, APIC (52 bytes)
//	0xF0100  FADT "FACP", revision 3, 244 bytes
//	0xF0200  DSDT: header + Name(_S5, ...) (48 bytes; 74 with _S3/_S4)
//	0xF0300  MADT "APIC": 44 + 8*MaxCPUs + 68 bytes (up to 0xF0B68 for 255 CPUs)
//	0xF0C00  MP configuration table "PCMP": 44 + 20*packages + 136 bytes
//	         (up to 0xF20A0 with 255 single-core sockets)
//
// Nothing else is written: the loader's structures (0x8000-0x9FFF: stack,
// e820 map at 0x9000, multiboot information at 0x9500, GDT at 0x9600) and
// the EBDA at 0x9FC00 are untouched, and the BIOS data area is left zero
// (its EBDA pointer at 0x40E is 0, so scans go straight to the F segment).
// The tables describe, and the machine must provide: the local APIC at
// 0xFEE00000, the I/O APIC at 0xFEC00000 with ID 0, ISA IRQ 0 on I/O APIC
// pin 2, the ACPI PM registers PM1a_EVT 0x600 (4 bytes), PM1a_CNT 0x604
// (2 bytes; SCI_EN reads 1 since there is no SMI_CMD; SLP_TYP 0 with
// SLP_EN powers off) and the 24-bit 3.579545 MHz PM timer at 0x608, and the
// SCI on IRQ 9 (level, active high).
//
// # ACPI tables
//
// OEM ID "BOCHS " and OEM table ID "BXPC    " (revision 1) as QEMU's;
// creator "GLBX" revision 1 (QEMU: "BXPC"), so a dump tells them apart.
//
// MADT (revision 1), exactly QEMU's acpi_build_madt for a pc machine: local
// APIC address 0xFEE00000, flags PCAT_COMPAT; one Processor Local APIC
// entry per possible CPU (UID = index, APIC ID from QEMU's topology: the
// index with one socket, see Config.APICID), enabled for the CPUs present,
// disabled for the others up to maxcpus; one I/O APIC (ID 0, 0xFEC00000,
// GSI base 0); Interrupt Source Overrides ISA IRQ 0 -> GSI 2 flags 0, and
// IRQ 5, 9, 10, 11 -> the same GSI with flags 0xD (active high, level: the
// PCI interrupt lines, QEMU's pci_irq_mask); one Local APIC NMI (all
// processors 0xFF, flags 0, LINT1).
//
// FADT: the ACPI 1.0 part as QEMU's PIIX4 FADT (SCI_INT 9, PM1a_EVT_BLK
// 0x600 length 4, PM1a_CNT_BLK 0x604 length 2, PM_TMR_BLK 0x608 length 4,
// P_LVL2_LAT and P_LVL3_LAT 0xFFF, CENTURY 0x32, INT_MODEL 1, flags 0x80A5:
// WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, USE_PLATFORM_CLOCK; TMR_VAL_EXT
// clear: a 24-bit timer), except: SMI_CMD, ACPI_ENABLE and ACPI_DISABLE are
// 0 (no SMM: the hardware is in ACPI mode from reset; QEMU: 0xB2, 0xF1,
// 0xF0), there is no GPE block (QEMU: 0xAFE0, 4 bytes), and IAPC_BOOT_ARCH
// is 1 (legacy devices, no 8042). Revision 3 (ACPI 2.0, 244 bytes) with
// X_FIRMWARE_CTRL, X_DSDT and the X_PM1a_EVT/X_PM1a_CNT/X_PM_TMR generic
// addresses (system I/O, 32/16/32 bits); QEMU's pc FADT is revision 1.
//
// FACS: 64 bytes, version 0, all zero (as QEMU's). DSDT (revision 1):
// Name(_S5, Package(){0, 0, 0, 0}), byte for byte QEMU's (12 06 04 00 00
// 00 00): PIIX4's S5 SLP_TYP is 0. With Config.SleepS3S4 also QEMU's _S3
// {1, 1, 0, 0} and _S4 {2, 2, 0, 0}. QEMU's DSDT also describes the PCI and
// ISA devices and the CPUs; ours does not, and there are no HPET, WAET,
// SSDT or SRAT tables.
//
// RSDP: revision 2 with both the RSDT and the XSDT (listing the same
// tables); QEMU's pc machine gives a revision 0 RSDP with an RSDT only. A
// kernel that reads the RSDT sees the same tables either way.
//
// # MP table
//
// SeaBIOS's mptable_setup on QEMU's pc machine, byte for byte: floating
// pointer (length 1, spec 1.4, no default configuration, IMCR bit clear);
// configuration table OEM "BOCHSCPU", product "0.1         ", local APIC
// 0xFEE00000, then
//
//   - processor entries: one per package, not per CPU (SeaBIOS lists the
//     first logical CPU of each package: APIC IDs 0, p, 2p, ... below the
//     APIC ID limit, where p is the CPUs per package rounded up to a power
//     of two when CPUID reports HTT). QEMU 7.2 turns -smp N into one socket
//     of N cores, so `-smp 4` has one processor entry; `-smp 4,sockets=4`
//     (Config.CoresPerSocket = 1) has four. Version 0x14, flags enabled (+
//     BSP for APIC ID 0), CPUID signature and features from Config (QEMU's
//     qemu64: 0x00060FB1, 0x078BFBFD plus HTT with more than one CPU per
//     package);
//   - buses: 0 "PCI", 1 "ISA" (only 0 "ISA" with Config.NoPCI);
//   - one I/O APIC: ID 0, version 0x11, enabled, 0xFEC00000;
//   - interrupt entries: PCI bus 0 device 1 INTA (the PIIX4 PM function)
//     -> pin 9, flags 1 (omitted with NoPCI); ISA IRQ 0 -> pin 2, IRQs 1, 3,
//     4, 6, 7, 8, 12, 13, 14, 15 -> the same pin (IRQ 2 is the cascade;
//     5, 9, 10, 11 are PCI lines), flags 0;
//   - local interrupts: ExtINT -> APIC 0 LINT0, NMI -> all (0xFF) LINT1.
//
// # fw_cfg
//
// [FwCfg] is QEMU's fw_cfg (hw/nvram/fw_cfg.c) as the pc machine maps it:
//
//   - 0x510: a 16-bit write selects a key (resetting the offset); byte
//     reads of 0x510 or 0x511 return the next data byte, 0 past the end of
//     the item or for a key without one. Reads of other widths return 0
//     without advancing; byte writes (the old write interface) and other
//     widths are ignored, as in QEMU 7.2. Keys whose low 14 bits are at or
//     above 0x40 (0x20 well-known + 32 file slots) select nothing; the
//     write-channel bit 0x4000 is ignored; 0x8000 selects the x86 keys.
//   - 0x514-0x51B (when a Mem is given): reads return the signature "QEMU
//     CFG" for naturally aligned accesses (0 otherwise); a 32-bit write to
//     0x514 sets the high half of the FWCfgDmaAccess address (clearing the
//     low half), a 32-bit write to 0x518 ors in the low half and runs the
//     transfer; both values big-endian. The descriptor {control, length,
//     address} (big-endian) is processed as fw_cfg_dma_transfer: SELECT
//     (bit 3) selects control>>16; then READ (bit 1) beats WRITE (bit 4)
//     beats SKIP (bit 2); no operation bit means length 0. Reads past the
//     end or of a missing item fill zeros; WRITE always fails (no item is
//     writable); a buffer or descriptor in memory that is not RAM (ROM for
//     reads) fails. The control word is written back as 0, or 1 (error).
//     The address resets to 0 after each transfer.
//
// Keys: 0x00 "QEMU"; 0x01 ID, 32-bit: 3 (traditional + DMA), 1 without DMA;
// 0x02 UUID (16 bytes, zero by default); 0x03 RAM size, 64-bit (QEMU's
// ram_size: all RAM, below and above 4 GiB); 0x04 NOGRAPHIC 0 and 0x0E
// BOOT_MENU 0 (16-bit); 0x05 CPUs at boot (16-bit); 0x0F MAX_CPUS (16-bit),
// QEMU's APIC ID limit (maxcpus with one socket); 0x0D NUMA: 1+MAX_CPUS zero
// 64-bit words; 0x19 the file directory (count BE32, then per file {size
// BE32, select BE16, reserved, name[56]}, sorted by name, selects from
// 0x20); 0x8000 ACPI_TABLES (no -acpitable: 16-bit 0), 0x8002 IRQ0_OVERRIDE
// (32-bit 1), 0x8003 E820_TABLE (the legacy reserved list: count 0).
// Other keys read as zeros (0x06 MACHINE_ID, 0x09 and 0x13-0x18 kernel
// command line/setup, 0x8001 SMBIOS, 0x8004 HPET: there is no HPET).
//
// Key 0x11 is FW_CFG_KERNEL_DATA. With a multiboot -kernel, QEMU's
// multiboot loader (hw/i386/multiboot.c) does not place the kernel itself:
// it hands its option ROM the kernel through fw_cfg and the ROM copies it.
// So the kernel can read the image it was loaded from: 0x07 KERNEL_ADDR
// (the load address), 0x08 KERNEL_SIZE, 0x10 KERNEL_ENTRY, 0x11
// KERNEL_DATA (the kernel with its bss, then the page-aligned module list,
// command lines, loader name "qemu" and modules), and 0x0A INITRD_ADDR
// (0x9500), 0x0B INITRD_SIZE (88), 0x12 INITRD_DATA (the multiboot
// information before the ROM fills in mem_lower, mem_upper and
// mmap_length). [MultibootFromImage] rebuilds these from guest memory after
// loading. QEMU leaves the bytes between the end of the kernel and the
// next page, and after the loader name, uninitialised (heap contents that
// change from run to run); ours are zero.
//
// Files: etc/boot-fail-wait (32-bit 0xFFFFFFFF: no reboot timeout, as
// QEMU's default), etc/e820 (QEMU's table, not SeaBIOS's: {addr LE64, len
// LE64, type LE32} for the AMD HyperTransport hole [0xFD00000000, 1 TiB)
// reserved when the CPU model is AMD's (QEMU's default qemu64), RAM [0,
// below 4 GiB), RAM [4 GiB, 4 GiB+above) when there is some); with Tables:
// etc/acpi/rsdp (our RSDP as installed, 36 bytes), etc/acpi/tables (the
// installed ACPI area from the FACS to the end of the MADT, byte for byte:
// its pointers are final physical addresses, so there is no
// etc/table-loader) and etc/system-states (QEMU's S0-S5 availability
// bytes matching the DSDT: 80 00 00 00 00 80, or 80 00 00 81 82 80 with
// S3/S4). Extra files can be added. Not provided (SeaBIOS's business):
// bootorder, bios-geometry, etc/table-loader, etc/smbios/*, etc/tpm/log,
// genroms/*.
//
// # At boot
//
// For a -kernel boot (not with -bios: Install refuses ROM), before
// Space.Seal, the machine does:
//
//	c := firmware.Config{CPUs: n, RAMBelow4G: low, RAMAbove4G: high}
//	tabs, err := firmware.BuildTables(c)   // errors: bad CPU count, ...
//	err = tabs.Install(m.Mem)              // before loading the kernel: a kernel
//	                                       // placed over the tables wins, as
//	                                       // under QEMU (SeaBIOS runs first)
//	... load the kernel (loader.LoadKernelOpts) ...
//	mb, err := firmware.MultibootFromImage(m.Mem, m.Image) // nil for ELF64
//	fw := firmware.NewFwCfg(firmware.FwCfgConfig{
//		CPUs: n, MaxCPUs: c.APICIDLimit(),
//		RAMBelow4G: low, RAMAbove4G: high, AMDHole: true, // qemu64 is AMD
//		Mem:    firmware.SpaceMem{S: m.Mem, Invalidate: dropTranslatedCode},
//		Tables: &tabs, Multiboot: mb,
//	})
//	fw.Register(m.Mem)
//	m.Mem.Seal()
//
// Install writes with WriteDebug before any code is translated, so no
// translated code needs discarding; DMA stores later do (Invalidate). The
// device locks itself: any vCPU goroutine may access it.
package firmware
