package loader

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"glassbox/memmap"
)

// Multiboot constants (Multiboot 0.6.96).
const (
	MultibootHeaderMagic = 0x1BADB002 // in the kernel's header
	MultibootBootMagic   = 0x2BADB002 // in EAX at entry
	MultibootSearch      = 8192       // the header lies wholly within this many bytes

	mbFlagPageAlign = 1 << 0
	mbFlagMemInfo   = 1 << 1
	mbFlagVideo     = 1 << 2
	mbFlagAOut      = 1 << 16
	mbRequiredMask  = 0xFFFF

	// Information structure flags QEMU sets.
	InfoFlagMem            = 1 << 0
	InfoFlagBootDevice     = 1 << 1
	InfoFlagCmdline        = 1 << 2
	InfoFlagMods           = 1 << 3
	InfoFlagMmap           = 1 << 6
	InfoFlagBootLoaderName = 1 << 9
	InfoFlags              = InfoFlagMem | InfoFlagBootDevice | InfoFlagCmdline | InfoFlagMods | InfoFlagMmap | InfoFlagBootLoaderName // 0x24F

	BootDevice     = 0x8000FFFF // QEMU: first BIOS disk, no partition
	BootLoaderName = "qemu"     // QEMU's value; kept for compatibility
	MemLowerKiB    = 639        // INT 12h under SeaBIOS (EBDA takes the 640th KiB)
	InfoSize       = 88
	ModEntrySize   = 16
	MmapEntrySize  = 24 // 4-byte size field (=20) + 20-byte e820 entry

	E820RAM      = 1
	E820Reserved = 2
)

// Fixed low-memory layout (see the package documentation).
const (
	PML4Addr     = 0x1000
	PDPTAddr     = 0x2000
	PDAddr       = 0x3000 // four PDs, 0x3000-0x6FFF
	StackBottom  = 0x8000 // multiboot stack page; ELF64 uses 0x7000-0x8FFF
	StackTop     = 0x9000
	MmapAddr     = 0x9000 // QEMU: ADDR_E820_MAP
	InfoAddr     = 0x9500 // QEMU: ADDR_MBI
	GDTAddr      = 0x9600
	HaltStubAddr = 0x9700
	lowAreaEnd   = 0xA000

	multibootReservedStart = StackBottom
	elf64ReservedStart     = PML4Addr
	elf64StackBottom       = 0x7000
)

// RAM size limits.
const (
	MinLowRAM        = 2 << 20
	MaxLowRAM        = 0xE0000000 // QEMU pc: RAM below 4 GiB never exceeds 3.5 GiB
	MaxHighRAM       = 1<<40 - fourGiB
	MaxCPUs          = 255
	seabiosHighTable = 128 << 10 // SeaBIOS reserves the top 128 KiB of low RAM
	ebdaStart        = 0x9FC00
	biosAreaStart    = 0xF0000
	oneMiB           = 0x100000
	biosROMStart     = 0xFFFC0000 // SeaBIOS reserves its 256 KiB ROM below 4 GiB
)

// Module is a multiboot module (QEMU: one element of -initrd "file args,...").
type Module struct {
	Name    string // file name, the first word of the module's string
	Data    []byte
	Cmdline string // arguments after the name ("" for none)
}

// Options are LoadKernelOpts's inputs besides the kernel file.
type Options struct {
	Cmdline string   // -append text
	Modules []Module // -initrd modules, in order
	CPUs    int      // number of CPUs (0 means 1)
	HighRAM uint64   // bytes of RAM mapped from 4 GiB up (reported in the memory map)
	// AMDHole reserves [0xFD00000000, 1 TiB) in the memory map, as QEMU
	// does for CPU models whose vendor is AMD — its default qemu64 CPU
	// included (not for -cpu qemu32, whose layout the golden tests use).
	AMDHole bool
}

// LoadKernel loads a multiboot kernel or an ELF64 image into RAM. ram is
// the guest RAM starting at physical 0 (its length is the RAM below the
// 4 GiB hole); it must already be mapped in s. See LoadKernelOpts.
func LoadKernel(s *memmap.Space, ram []byte, file []byte, name string, cmdline string, modules []Module, cpus int) (*Image, error) {
	return LoadKernelOpts(s, ram, file, name, Options{Cmdline: cmdline, Modules: modules, CPUs: cpus})
}

// LoadKernelOpts loads a multiboot kernel (ELF32 or a.out kludge) or, when
// the file has no multiboot header, an ELF64 entered in long mode. name is
// the kernel file name as the user gave it: it starts the multiboot command
// line and is the Symbols path for ELF files. See the package documentation
// for the exact memory layout and entry state.
func LoadKernelOpts(s *memmap.Space, ram []byte, file []byte, name string, opt Options) (*Image, error) {
	if s == nil {
		return nil, fmt.Errorf("load kernel: no address space")
	}
	low := uint64(len(ram))
	switch {
	case low < MinLowRAM:
		return nil, fmt.Errorf("load kernel: %d bytes of RAM below 4 GiB; need at least %d", low, MinLowRAM)
	case low > MaxLowRAM:
		return nil, fmt.Errorf("load kernel: %#x bytes of RAM below 4 GiB; a pc machine has at most %#x", low, uint64(MaxLowRAM))
	case low%memmap.PageSize != 0:
		return nil, fmt.Errorf("load kernel: RAM size %#x is not a multiple of 4 KiB", low)
	}
	if opt.HighRAM > MaxHighRAM || opt.HighRAM%memmap.PageSize != 0 {
		return nil, fmt.Errorf("load kernel: bad RAM size above 4 GiB %#x (a multiple of 4 KiB up to %#x)", opt.HighRAM, uint64(MaxHighRAM))
	}
	cpus := opt.CPUs
	if cpus == 0 {
		cpus = 1
	}
	if cpus < 1 || cpus > MaxCPUs {
		return nil, fmt.Errorf("load kernel: %d CPUs; want 1..%d", opt.CPUs, MaxCPUs)
	}
	if hasNUL(name) || hasNUL(opt.Cmdline) {
		return nil, fmt.Errorf("load kernel: the kernel name and command line must not contain NUL bytes")
	}
	for i, m := range opt.Modules {
		if m.Name == "" {
			return nil, fmt.Errorf("load kernel: module %d has no name", i)
		}
		if hasNUL(m.Name) || hasNUL(m.Cmdline) {
			return nil, fmt.Errorf("load kernel: module %d (%s): name and arguments must not contain NUL bytes", i, m.Name)
		}
		if uint64(len(m.Data)) > low {
			return nil, fmt.Errorf("load kernel: module %d (%s) is %d bytes, more than the RAM below 4 GiB", i, m.Name, len(m.Data))
		}
	}
	if len(file) == 0 {
		return nil, fmt.Errorf("not a multiboot kernel or ELF64 image: %q is empty", name)
	}

	g := &guest{s: s, lowTop: low}
	im := &Image{CPUs: cpus, InfoAddr: InfoAddr}
	var k *kernel
	var err error
	hdr := findMultiboot(file)
	switch {
	case hdr.found:
		im.Kind = KindMultiboot
		k, err = planMultiboot(g, file, hdr, im)
	case elfClass(file) == elf.ELFCLASS64:
		im.Kind = KindELF64
		k, err = planELF(g, file, true)
	default:
		return nil, fmt.Errorf("not a multiboot kernel or ELF64 image: %s", whyUnknown(file, hdr))
	}
	if err != nil {
		return nil, err
	}
	if isELF(file) {
		im.Symbols = name
		im.ELF32 = elfClass(file) == elf.ELFCLASS32
	}
	if k.entry < k.low || k.entry >= k.high {
		return nil, fmt.Errorf("load kernel: entry point %#x is outside the loaded image [%#x,%#x)", k.entry, k.low, k.high)
	}
	im.Regions = append(im.Regions, k.regions...)

	// The multiboot module list, strings and modules after the image.
	if err := planInfo(g, im, k, name, opt, low); err != nil {
		return nil, err
	}
	reservedStart := uint64(multibootReservedStart)
	if im.Kind == KindELF64 {
		reservedStart = elf64ReservedStart
	}
	if overlaps(k.low, k.end-k.low, reservedStart, lowAreaEnd-reservedStart) {
		return nil, fmt.Errorf("load kernel: the image and its modules [%#x,%#x) overlap the loader's low-memory area [%#x,%#x)", k.low, k.end, reservedStart, uint64(lowAreaEnd))
	}

	if im.Kind == KindELF64 {
		err = planLongMode(g, im, k)
	} else {
		err = planProtected(g, im, k)
	}
	if err != nil {
		return nil, err
	}
	if err := g.apply(); err != nil {
		return nil, err
	}
	im.sortRegions()
	return im, nil
}

// kernel is a planned kernel image.
type kernel struct {
	low, high uint64 // the image, bss included: [low, high)
	end       uint64 // end of everything placed after it (modules)
	entry     uint64 // physical entry point
	regions   []Placed
}

type mbHeader struct {
	found    bool
	off      int
	flags    uint32
	badSum   int // offset of a magic with a bad checksum, or -1
	searched int
}

func findMultiboot(file []byte) mbHeader {
	h := mbHeader{badSum: -1}
	n := len(file)
	if n > MultibootSearch {
		n = MultibootSearch
	}
	h.searched = n
	le := binary.LittleEndian
	for off := 0; off+12 <= n; off += 4 {
		if le.Uint32(file[off:]) != MultibootHeaderMagic {
			continue
		}
		flags := le.Uint32(file[off+4:])
		sum := le.Uint32(file[off+8:])
		if MultibootHeaderMagic+flags+sum != 0 {
			if h.badSum < 0 {
				h.badSum = off
			}
			continue
		}
		h.found, h.off, h.flags = true, off, flags
		return h
	}
	return h
}

func whyUnknown(file []byte, h mbHeader) string {
	switch {
	case h.badSum >= 0:
		return fmt.Sprintf("the multiboot magic at file offset %#x has a bad checksum (magic+flags+checksum must be 0)", h.badSum)
	case elfClass(file) == elf.ELFCLASS32:
		return "an ELF32 file without a multiboot header in its first 8192 bytes"
	case isELF(file):
		return "an ELF file of unknown class"
	case len(file) >= 0x206 && string(file[0x202:0x206]) == "HdrS":
		return "this looks like a Linux bzImage; the Linux boot protocol is not supported"
	}
	return "no multiboot header in the first 8192 bytes and no ELF header"
}

// planMultiboot plans loading the kernel of a multiboot file.
func planMultiboot(g *guest, file []byte, h mbHeader, im *Image) (*kernel, error) {
	if h.flags&mbFlagVideo != 0 {
		im.Warnings = append(im.Warnings, "multiboot header requests a video mode (flag bit 2); ignored, as QEMU does (\"multiboot knows VBE. we don't\")")
	}
	if other := h.flags & mbRequiredMask &^ (mbFlagPageAlign | mbFlagMemInfo | mbFlagVideo); other != 0 {
		im.Warnings = append(im.Warnings, fmt.Sprintf("multiboot header sets unknown required flag bits %#x; ignored, as QEMU does", other))
	}
	if h.flags&mbFlagAOut != 0 {
		return planAOut(g, file, h)
	}
	switch {
	case elfClass(file) == elf.ELFCLASS32:
		return planELF(g, file, false)
	case elfClass(file) == elf.ELFCLASS64:
		return nil, fmt.Errorf("multiboot kernel is an ELF64 file: QEMU's multiboot loader takes only ELF32 (\"Cannot load x86-64 image, give a 32bit one\"); set the a.out kludge (flag bit 16) or drop the multiboot header to boot it in long mode")
	case isELF(file):
		_, err := parseELF(file, fourGiB)
		return nil, fmt.Errorf("multiboot kernel: %v", err)
	}
	return nil, fmt.Errorf("multiboot header at file offset %#x has no a.out kludge (flag bit 16), so the file must be an ELF32, and it is not", h.off)
}

// planAOut plans loading a kernel with the a.out kludge addresses.
func planAOut(g *guest, file []byte, h mbHeader) (*kernel, error) {
	if h.off+32 > h.searched {
		return nil, fmt.Errorf("multiboot header at file offset %#x: the a.out kludge fields run past the end of the file or the first 8192 bytes", h.off)
	}
	le := binary.LittleEndian
	f := file[h.off:]
	headerAddr := uint64(le.Uint32(f[12:]))
	loadAddr := uint64(le.Uint32(f[16:]))
	loadEnd := uint64(le.Uint32(f[20:]))
	bssEnd := uint64(le.Uint32(f[24:]))
	entry := uint64(le.Uint32(f[28:]))
	off := uint64(h.off)
	if headerAddr < loadAddr {
		return nil, fmt.Errorf("a.out kludge: header_addr %#x is below load_addr %#x", headerAddr, loadAddr)
	}
	if headerAddr-loadAddr > off {
		return nil, fmt.Errorf("a.out kludge: header_addr-load_addr = %#x, but the header is at file offset %#x", headerAddr-loadAddr, off)
	}
	textOff := off - (headerAddr - loadAddr) // file offset of load_addr
	var loadSize uint64
	if loadEnd != 0 {
		if loadEnd < loadAddr {
			return nil, fmt.Errorf("a.out kludge: load_end_addr %#x is below load_addr %#x", loadEnd, loadAddr)
		}
		loadSize = loadEnd - loadAddr
		if loadSize > uint64(len(file))-textOff {
			return nil, fmt.Errorf("a.out kludge: [load_addr %#x, load_end_addr %#x) needs %d bytes from file offset %#x, but the file has %d bytes", loadAddr, loadEnd, loadSize, textOff, len(file))
		}
	} else {
		loadSize = uint64(len(file)) - textOff
	}
	if loadSize > fourGiB-loadAddr {
		return nil, fmt.Errorf("a.out kludge: %d bytes at load_addr %#x do not fit below 4 GiB", loadSize, loadAddr)
	}
	kernSize := loadSize
	if bssEnd != 0 {
		if bssEnd < loadAddr+loadSize {
			return nil, fmt.Errorf("a.out kludge: bss_end_addr %#x is below the end of the loaded data %#x", bssEnd, loadAddr+loadSize)
		}
		kernSize = bssEnd - loadAddr
	}
	if kernSize == 0 {
		return nil, fmt.Errorf("a.out kludge: the image is empty")
	}
	k := &kernel{low: loadAddr, high: loadAddr + kernSize, entry: entry}
	if err := g.write(loadAddr, file[textOff:textOff+loadSize], "kernel image (a.out kludge)"); err != nil {
		return nil, err
	}
	if err := g.zero(loadAddr+loadSize, kernSize-loadSize, "kernel bss (a.out kludge)"); err != nil {
		return nil, err
	}
	k.regions = append(k.regions, Placed{Name: "kernel (a.out kludge)", Start: loadAddr, Size: loadSize})
	if kernSize > loadSize {
		k.regions = append(k.regions, Placed{Name: "kernel bss (a.out kludge)", Start: loadAddr + loadSize, Size: kernSize - loadSize})
	}
	return k, nil
}

// planELF plans loading the PT_LOAD segments of an ELF32 (multiboot) or
// ELF64 file at their physical addresses. Gaps between segments are zeroed
// too (QEMU copies the whole [low, high) span).
func planELF(g *guest, file []byte, want64 bool) (*kernel, error) {
	e, err := parseELF(file, fourGiB)
	if err != nil {
		return nil, err
	}
	if e.class64 != want64 {
		return nil, fmt.Errorf("ELF: unexpected class")
	}
	k := &kernel{low: e.low, high: e.high, entry: e.entry}
	if err := g.zero(e.low, e.high-e.low, "kernel image"); err != nil {
		return nil, err
	}
	for _, s := range e.segs {
		what := fmt.Sprintf("kernel segment %d", s.index)
		if err := g.write(s.paddr, file[s.off:s.off+s.filesz], what); err != nil {
			return nil, err
		}
		k.regions = append(k.regions, Placed{Name: fmt.Sprintf("%s (PT_LOAD %s, file %#x, mem %#x)", what, s.flags, s.filesz, s.memsz), Start: s.paddr, Size: s.memsz})
	}
	return k, nil
}

// planInfo plans everything QEMU places after the kernel image (module list,
// command lines, boot loader name, modules) and the memory map and
// information structure in low memory.
func planInfo(g *guest, im *Image, k *kernel, name string, opt Options, low uint64) error {
	le := binary.LittleEndian
	base := pageAlign(k.high)
	nmods := uint64(len(opt.Modules))

	// Module list, module strings, kernel command line, boot loader name.
	var area []byte
	area = make([]byte, nmods*ModEntrySize)
	strAddr := make([]uint64, nmods)
	for i, m := range opt.Modules {
		strAddr[i] = base + uint64(len(area))
		s := m.Name
		if m.Cmdline != "" {
			s += " " + m.Cmdline
		}
		area = append(area, s...)
		area = append(area, 0)
	}
	cmdlineAddr := base + uint64(len(area))
	area = append(area, name+" "+opt.Cmdline...) // QEMU: "%s %s"
	area = append(area, 0)
	nameAddr := base + uint64(len(area))
	area = append(area, BootLoaderName...)
	area = append(area, 0)
	areaEnd := pageAlign(base + uint64(len(area)))
	if areaEnd > low {
		return fmt.Errorf("load kernel: the multiboot module list and command lines [%#x,%#x) do not fit in RAM (ends at %#x)", base, base+uint64(len(area)), low)
	}
	cur := areaEnd
	for i, m := range opt.Modules {
		start := cur
		size := uint64(len(m.Data))
		if size > low || start > low-size {
			return fmt.Errorf("load kernel: module %d (%s, %d bytes) at %#x does not fit in RAM (ends at %#x)", i, m.Name, size, start, low)
		}
		e := area[uint64(i)*ModEntrySize:]
		le.PutUint32(e[0:], uint32(start))
		le.PutUint32(e[4:], uint32(start+size))
		le.PutUint32(e[8:], uint32(strAddr[i]))
		le.PutUint32(e[12:], 0)
		what := fmt.Sprintf("module %d: %s", i, m.Name)
		if err := g.write(start, m.Data, what); err != nil {
			return err
		}
		next := pageAlign(start + size)
		if err := g.zero(start+size, next-start-size, what+" padding"); err != nil {
			return err
		}
		if size > 0 {
			im.Regions = append(im.Regions, Placed{Name: what, Start: start, Size: size})
		}
		cur = next
	}
	// The info area page(s), zero padded.
	if err := g.zero(k.high, base-k.high, "padding after the kernel image"); err != nil {
		return err
	}
	if err := g.write(base, area, "multiboot module list and strings"); err != nil {
		return err
	}
	if err := g.zero(base+uint64(len(area)), areaEnd-base-uint64(len(area)), "multiboot string area padding"); err != nil {
		return err
	}
	im.Regions = append(im.Regions, Placed{Name: "multiboot module list, command lines, loader name", Start: base, Size: uint64(len(area))})
	k.end = cur

	// Memory map.
	mmap := buildMmap(low, opt.HighRAM, opt.AMDHole)
	// Information structure.
	info := make([]byte, InfoSize)
	le.PutUint32(info[0:], InfoFlags)
	le.PutUint32(info[4:], MemLowerKiB)
	le.PutUint32(info[8:], uint32((low-seabiosHighTable-oneMiB)/1024))
	le.PutUint32(info[12:], BootDevice)
	le.PutUint32(info[16:], uint32(cmdlineAddr))
	le.PutUint32(info[20:], uint32(nmods))
	le.PutUint32(info[24:], uint32(base))
	le.PutUint32(info[44:], uint32(len(mmap)))
	le.PutUint32(info[48:], MmapAddr)
	le.PutUint32(info[64:], uint32(nameAddr))

	if err := g.zero(MmapAddr, lowAreaEnd-MmapAddr, "low info page"); err != nil {
		return err
	}
	if err := g.write(MmapAddr, mmap, "multiboot memory map"); err != nil {
		return err
	}
	if err := g.write(InfoAddr, info, "multiboot information"); err != nil {
		return err
	}
	im.Regions = append(im.Regions,
		Placed{Name: "multiboot memory map (e820)", Start: MmapAddr, Size: uint64(len(mmap))},
		Placed{Name: "multiboot information", Start: InfoAddr, Size: InfoSize})
	return nil
}

type e820 struct {
	addr, size uint64
	typ        uint32
}

// memoryMap is the e820 table a guest sees on a QEMU pc machine running
// SeaBIOS (-cpu qemu32) with low bytes of RAM below 4 GiB and high above.
func memoryMap(low, high uint64, amdHole bool) []e820 {
	m := []e820{
		{0, ebdaStart, E820RAM},
		{ebdaStart, 0xA0000 - ebdaStart, E820Reserved},
		{biosAreaStart, oneMiB - biosAreaStart, E820Reserved},
		{oneMiB, low - seabiosHighTable - oneMiB, E820RAM},
		{low - seabiosHighTable, seabiosHighTable, E820Reserved},
		{biosROMStart, fourGiB - biosROMStart, E820Reserved},
	}
	if high > 0 {
		m = append(m, e820{fourGiB, high, E820RAM})
	}
	if amdHole {
		m = append(m, e820{amdHoleStart, amdHoleEnd - amdHoleStart, E820Reserved})
	}
	return m
}

// The HyperTransport range QEMU reserves below 1 TiB for AMD CPU models.
const (
	amdHoleStart = 0xFD_0000_0000
	amdHoleEnd   = 0x100_0000_0000
)

func buildMmap(low, high uint64, amdHole bool) []byte {
	m := memoryMap(low, high, amdHole)
	b := make([]byte, len(m)*MmapEntrySize)
	for i, e := range m {
		p := b[i*MmapEntrySize:]
		binary.LittleEndian.PutUint32(p[0:], MmapEntrySize-4)
		binary.LittleEndian.PutUint64(p[4:], e.addr)
		binary.LittleEndian.PutUint64(p[12:], e.size)
		binary.LittleEndian.PutUint32(p[20:], e.typ)
	}
	return b
}

// Flat segments.
var (
	flatCode32 = Seg{Selector: 0x08, Base: 0, Limit: 0xFFFFFFFF, Attr: 0xC09A} // as QEMU caches it after the ROM's ljmp
	flatData32 = Seg{Selector: 0x10, Base: 0, Limit: 0xFFFFFFFF, Attr: 0xC093}
	flatCode64 = Seg{Selector: 0x08, Base: 0, Limit: 0xFFFFFFFF, Attr: 0xA09B}
)

// QEMU's multiboot option ROM GDT.
var multibootGDT = []uint64{
	0,
	0x00CF9A000000FFFF, // 0x08: 32-bit code, base 0, limit 4 GiB
	0x00CF93000000FFFF, // 0x10: 32-bit data (accessed: it has been loaded)
	0x00009E000000FFFF, // 0x18: 16-bit code, conforming, limit 64 KiB
	0x000092000000FFFF, // 0x20: 16-bit data, limit 64 KiB
}

var longModeGDT = []uint64{
	0,
	0x00AF9B000000FFFF, // 0x08: 64-bit code (L=1)
	0x00CF93000000FFFF, // 0x10: data
}

// haltStub is "cli; hlt; jmp .-1" (jumps back to the hlt).
var haltStub = []byte{0xFA, 0xF4, 0xEB, 0xFD}

func gdtBytes(gdt []uint64) []byte {
	b := make([]byte, 8*len(gdt))
	for i, d := range gdt {
		binary.LittleEndian.PutUint64(b[8*i:], d)
	}
	return b
}

// planCommon plans the GDT, halt stub and stack and returns the stack
// pointer.
func planCommon(g *guest, im *Image, gdt []uint64, stackBottom uint64, retSize int) (uint64, error) {
	gb := gdtBytes(gdt)
	if err := g.write(GDTAddr, gb, "GDT"); err != nil {
		return 0, err
	}
	if err := g.write(HaltStubAddr, haltStub, "halt stub"); err != nil {
		return 0, err
	}
	if err := g.zero(stackBottom, StackTop-stackBottom, "initial stack"); err != nil {
		return 0, err
	}
	sp := uint64(StackTop - retSize)
	ret := make([]byte, retSize)
	binary.LittleEndian.PutUint32(ret, HaltStubAddr)
	if err := g.write(sp, ret, "initial stack return address"); err != nil {
		return 0, err
	}
	im.Regions = append(im.Regions,
		Placed{Name: "GDT", Start: GDTAddr, Size: uint64(len(gb))},
		Placed{Name: "halt stub (return address of the entry)", Start: HaltStubAddr, Size: uint64(len(haltStub))},
		Placed{Name: "initial stack", Start: stackBottom, Size: StackTop - stackBottom})
	return sp, nil
}

// planProtected sets up the multiboot entry state.
func planProtected(g *guest, im *Image, k *kernel) error {
	sp, err := planCommon(g, im, multibootGDT, StackBottom, 4)
	if err != nil {
		return err
	}
	im.Entry = EntryState{
		Mode:     ModeProtected32,
		RIP:      k.entry,
		RSP:      sp,
		RAX:      MultibootBootMagic,
		RBX:      InfoAddr,
		RFLAGS:   0x2,
		CR0:      0x11, // PE | ET
		CS:       flatCode32,
		DS:       flatData32,
		ES:       flatData32,
		FS:       flatData32,
		GS:       flatData32,
		SS:       flatData32,
		GDTBase:  GDTAddr,
		GDTLimit: uint16(8*len(multibootGDT) - 1),
		IDTBase:  0,
		IDTLimit: 0x3FF, // left over from real mode, as under QEMU
	}
	return nil
}
