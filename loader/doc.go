// Package loader places a guest image into guest-physical memory and
// describes the CPU state it must start in, as QEMU's -bios and -kernel
// options do. It does not run anything: the machine copies [EntryState]
// into the boot CPU.
//
// # Firmware (-bios)
//
// [LoadBIOS] maps a ROM image (a multiple of 64 KiB, 64 KiB to 16 MiB) so
// that it ends at 4 GiB, and aliases its last 128 KiB (all of it if smaller)
// below 1 MiB so that it ends at 0xFFFFF, at priority 1 over RAM (QEMU's
// "isa-bios" alias). Both regions share one backing copy of the image. The
// entry state is the architectural reset state as QEMU's -cpu qemu32 reports
// it: real mode, CS=F000 base FFFF0000 limit FFFF attr 9B, EIP=FFF0, other
// segments 0/0/FFFF attr 93, EFLAGS=2, CR0=60000010, GDTR/IDTR base 0 limit
// FFFF, EDX=0x663 (family 6 model 6 stepping 3: the CPUID signature of
// QEMU's qemu32 CPU model, which QEMU puts in EDX at reset).
//
// # Multiboot (-kernel, Multiboot 0.6.96)
//
// [LoadKernel] looks for a multiboot header (magic 0x1BADB002, 4-byte
// aligned, wholly inside the first 8192 bytes, magic+flags+checksum = 0;
// the first valid one wins, a magic with a bad checksum is skipped). QEMU
// only looks at offsets below 8144 (it always reads 48 header bytes); we
// follow the spec, so a header in the last 48 bytes of the window is found
// here but not by QEMU.
// With flag bit 16 the a.out kludge addresses are used (even if the file is
// also an ELF); otherwise the file must be an ELF32 (EM_386) whose PT_LOAD
// segments are loaded at p_paddr with p_memsz-p_filesz zeroed. An ELF64 with
// a multiboot header but no a.out kludge is refused, as QEMU refuses it
// ("Cannot load x86-64 image, give a 32bit one"). When e_entry lies in an
// executable segment whose p_vaddr differs from p_paddr, it is translated to
// the physical address (QEMU's ELF loader does the same). Flag bits 0 and 1
// are always honoured (modules are always page aligned, memory information
// is always given). Flag bit 2 (video mode) and the undefined required bits
// 3-15 are ignored with a warning in [Image.Warnings], as QEMU 7.2 does (it
// prints "multiboot knows VBE. we don't" and boots anyway).
//
// Everything below was confirmed by booting a probe kernel that dumps its
// registers and multiboot information over the serial port under QEMU 7.2
// (qemu-system-x86_64 -cpu qemu32 -kernel k.elf -initrd "m1 a b,m2" -append
// ...; see the qemu72 golden test), and by reading the registers at the
// kernel entry through QEMU's gdb stub ("monitor info registers").
//
// The layout after the kernel image [low, high) is QEMU's:
//
//	PageAlign(high)      module list (16 bytes each: start, end (exclusive), string, 0)
//	then                 module command lines "<name>[ <args>]", in module order
//	then                 kernel command line "<kernel name> <append>"; with an
//	                     empty append it is "<kernel name> " (trailing space)
//	then                 boot loader name "qemu"
//	PageAlign(...)       each module, page aligned, in order
//
// Fixed low memory (QEMU puts the memory map and the information structure
// at the same addresses; its GDT lives in its option ROM, ours in RAM):
//
//	0x8000-0x8FFF  initial stack: ESP/RSP points at a return address (0x9700)
//	0x9000         memory map (multiboot mmap: size=20 + e820 entry)
//	0x9500         multiboot information structure (88 bytes)
//	0x9600         GDT
//	0x9700         halt stub (cli; hlt; jmp .-1): an entry function that
//	               returns stops cleanly
//
// The multiboot information: flags 0x24F = MEM | BOOT_DEVICE | CMDLINE |
// MODS | MMAP | BOOT_LOADER_NAME; boot_device 0x8000FFFF; mods_addr is set
// even when mods_count is 0. mem_lower and mem_upper are what a guest sees
// under QEMU, not the 640/(RAM-1MiB) that QEMU's loader first writes: its
// option ROM overwrites them with INT 12h (639 KiB, the EBDA takes the last
// KiB) and with the length of the e820 RAM entry at 1 MiB. The memory map is
// SeaBIOS's e820 table on a QEMU pc machine with an Intel-vendor CPU, with
// L = RAM below 4 GiB and H = RAM above it:
//
//	[0, 0x9FC00)             available
//	[0x9FC00, 0xA0000)       reserved (EBDA)
//	[0xF0000, 0x100000)      reserved (BIOS)
//	[0x100000, L-128KiB)     available   (mem_upper = its length / 1024)
//	[L-128KiB, L)            reserved    (SeaBIOS tables)
//	[0xFFFC0000, 4GiB)       reserved    (BIOS ROM)
//	[4GiB, 4GiB+H)           available   (only when H > 0)
//
// QEMU with its default qemu64 CPU (AMD vendor) adds a reserved entry for
// the AMD HyperTransport hole [0xFD_0000_0000, 0x100_0000_0000); we do not,
// matching -cpu qemu32 (whose signature we use at reset).
//
// Entry state (Multiboot spec plus QEMU's choices): protected mode, paging
// off, A20 on, EAX=0x2BADB002, EBX=0x9500, EIP=entry, CS=0x08 (base 0,
// limit 4 GiB, attr C09A: 32-bit execute/read, G=1, D=1, not yet accessed,
// exactly as QEMU's cached CS), DS=ES=FS=GS=SS=0x10 (attr C093), CR0=0x11
// (PE|ET), EFLAGS=2, GDTR=0x9600/0x27 holding QEMU's multiboot ROM GDT
// (null, 32-bit code, 32-bit data, 16-bit code, 16-bit data), IDTR=0/0x3FF.
// ESP=0x8FFC ([ESP]=0x9700). QEMU leaves option ROM scratch values in ECX,
// EDX, EDI and ESP and EFLAGS=6; the spec says these are undefined and we
// give zero, 2 and our own stack instead. The kernel image, its modules and
// the structures after it must not overlap 0x8000-0x9FFF.
//
// # ELF64 (no multiboot header): glassbox's long-mode entry
//
// The file must be an ELF64 EM_X86_64 executable (ET_EXEC, or ET_DYN loaded
// as is, without relocation). PT_LOAD segments are loaded at p_paddr (below
// 4 GiB), p_memsz-p_filesz and the gaps between segments are zeroed, and
// e_entry is translated to a physical address as above; it must lie in the
// loaded image. The same
// multiboot information structure, memory map, command line, module list and
// modules are built as for a multiboot kernel. The CPU starts in 64-bit long
// mode:
//
//	0x1000          PML4: entry 0 -> PDPT
//	0x2000          PDPT: entries 0-3 -> the four PDs
//	0x3000-0x6FFF   four PDs of 2 MiB pages identity-mapping [0, 4 GiB)
//	                (present, writable, supervisor, cacheable)
//	0x7000-0x8FFF   stack, RSP=0x8FF8, [RSP]=0x9700 (halt stub), so RSP+8 is
//	                16-byte aligned as at a SysV function entry
//	0x9600          GDT: null, 0x08 64-bit code (attr A09B), 0x10 data
//	                (attr C093); GDTR limit 0x17
//
// CR0=0x80010011 (PG|WP|ET|PE), CR3=0x1000, CR4=0x20 (PAE), EFER=0x500
// (LME|LMA), CS=0x08, DS=ES=FS=GS=SS=0x10, EFLAGS=2, IDTR=0/0 (no IDT: any
// exception before the kernel loads its own triple-faults), RIP=entry,
// RAX=RDI=0x2BADB002 and RBX=RSI=0x9500 (the multiboot information), so
// both an assembly entry written for multiboot (EAX/EBX) and a C function
// entry(uint64_t magic, struct multiboot_info *mbi) see them. All other
// general registers are 0. The kernel must not overlap 0x1000-0x9FFF.
//
// # Safety
//
// LoadKernel's ram argument gives the size of the RAM below 4 GiB (it must
// already be mapped in the space); stores go through the space. Every byte
// the loader writes is checked first to be inside guest RAM (a
// RAM region of the space, below len(ram)); all checks run before the first
// write, so a failed load leaves guest memory untouched. Bad input returns
// an error; the loader never panics. Writes go through
// [memmap.Space.WriteDebug], which marks pages dirty for the MIGRATION and
// DISPLAY clients; a caller reloading a running machine must also discard
// translated code.
package loader
