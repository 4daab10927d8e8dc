package firmware

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"glassbox/memmap"
)

// fw_cfg ports, keys and DMA control bits (QEMU
// include/standard-headers/linux/qemu_fw_cfg.h, hw/nvram/fw_cfg.c).
const (
	FwCfgPortSel  = 0x510 // 16-bit write: select; 8-bit read: data
	FwCfgPortData = 0x511 // 8-bit read: data
	FwCfgPortDMA  = 0x514 // 0x514 high half, 0x518 low half (big-endian) of the FWCfgDmaAccess address

	KeySignature    = 0x00
	KeyID           = 0x01
	KeyUUID         = 0x02
	KeyRAMSize      = 0x03
	KeyNoGraphic    = 0x04
	KeyNbCPUs       = 0x05
	KeyKernelAddr   = 0x07
	KeyKernelSize   = 0x08
	KeyInitrdAddr   = 0x0A
	KeyInitrdSize   = 0x0B
	KeyNUMA         = 0x0D
	KeyBootMenu     = 0x0E
	KeyMaxCPUs      = 0x0F
	KeyKernelEntry  = 0x10
	KeyKernelData   = 0x11
	KeyInitrdData   = 0x12
	KeyFileDir      = 0x19
	KeyFileFirst    = 0x20
	KeyArchLocal    = 0x8000
	KeyWriteChannel = 0x4000
	keyEntryMask    = 0x3FFF
	KeyInvalid      = 0xFFFF

	// x86 arch-local keys (hw/i386/fw_cfg.h).
	KeyACPITables   = KeyArchLocal + 0
	KeyIRQ0Override = KeyArchLocal + 2
	KeyE820Table    = KeyArchLocal + 3

	fileSlots = 0x20 // QEMU's default number of file slots
	maxEntry  = KeyFileFirst + fileSlots
	maxPath   = 56

	IDTraditional = 1 << 0
	IDDMA         = 1 << 1

	DMAError  = 0x01
	DMARead   = 0x02
	DMASkip   = 0x04
	DMASelect = 0x08
	DMAWrite  = 0x10

	dmaSignature = "QEMU CFG"
	dmaChunk     = 64 << 10
)

// Mem is guest-physical memory as the fw_cfg DMA engine sees it. WritePhys
// must behave as a device store (in glassbox: discard translated code on
// the written pages).
type Mem interface {
	ReadPhys(pa uint64, b []byte)
	WritePhys(pa uint64, b []byte)
}

// MemChecker may be implemented by a Mem: a DMA whose descriptor or buffer
// is not accessible fails with the error bit, as QEMU's dma_memory_* fail
// on unassigned memory. Without it every address is accessible.
type MemChecker interface {
	Accessible(pa, n uint64, write bool) bool
}

// E820Entry is one entry of QEMU's etc/e820 file: {addr LE64, len LE64,
// type LE32}.
type E820Entry struct {
	Addr, Len uint64
	Type      uint32
}

// e820 types and QEMU's AMD HyperTransport hole.
const (
	E820RAM      = 1
	E820Reserved = 2
	AMDHoleStart = 0xFD_0000_0000
	AMDHoleEnd   = 0x100_0000_0000
)

// File is a named fw_cfg item listed in the file directory.
type File struct {
	Name string
	Data []byte
}

// Multiboot holds the items QEMU's multiboot loader (hw/i386/multiboot.c)
// passes to its option ROM through fw_cfg; see [MultibootFromImage].
type Multiboot struct {
	Entry    uint32 // FW_CFG_KERNEL_ENTRY (0x10)
	LoadAddr uint32 // FW_CFG_KERNEL_ADDR (0x07)
	// Image is FW_CFG_KERNEL_DATA (0x11): everything from LoadAddr on as
	// placed before the kernel runs (kernel, bss, module list, command
	// lines, loader name, modules), page aligned; its length is
	// FW_CFG_KERNEL_SIZE (0x08).
	Image    []byte
	InfoAddr uint32 // FW_CFG_INITRD_ADDR (0x0a): 0x9500
	// Info is FW_CFG_INITRD_DATA (0x12), 88 bytes: the multiboot
	// information as QEMU builds it, before its option ROM fills in
	// mem_lower, mem_upper and mmap_length. Its length is
	// FW_CFG_INITRD_SIZE (0x0b).
	Info []byte
}

// FwCfgConfig configures the fw_cfg device.
type FwCfgConfig struct {
	CPUs int // FW_CFG_NB_CPUS: CPUs at boot
	// MaxCPUs is FW_CFG_MAX_CPUS, which QEMU sets to the APIC ID limit
	// (Config.APICIDLimit()); 0 means CPUs. FW_CFG_NUMA holds 1+MaxCPUs
	// zero 64-bit words (no NUMA nodes).
	MaxCPUs int
	// RAMBelow4G and RAMAbove4G give FW_CFG_RAM_SIZE (their sum) and the
	// default etc/e820: RAM [0, below), RAM [4 GiB, 4 GiB+above) when
	// above > 0, preceded by the reserved AMD HyperTransport hole when
	// AMDHole is set (QEMU adds it for AMD-vendor CPU models with at least
	// 40 physical address bits, its default qemu64 included).
	RAMBelow4G, RAMAbove4G uint64
	AMDHole                bool
	// E820, when not nil, replaces the computed etc/e820.
	E820 []E820Entry
	UUID [16]byte
	// Mem is guest memory for the DMA interface. Without it (or with
	// NoDMA) there is no DMA: FW_CFG_ID is 1 and ports 0x514-0x51B are not
	// registered.
	Mem   Mem
	NoDMA bool
	// Tables, when not nil, adds etc/acpi/rsdp (the RSDP as installed),
	// etc/acpi/tables (Tables.ACPIImage) and etc/system-states.
	Tables *Tables
	// Multiboot, when not nil, provides keys 0x07, 0x08, 0x0a, 0x0b, 0x10,
	// 0x11 and 0x12 as QEMU's multiboot loader does.
	Multiboot *Multiboot
	// Files are added to the file directory (at most 32 files in all;
	// names up to 55 bytes).
	Files []File
}

type entry struct {
	data []byte
}

// FwCfg is QEMU's fw_cfg device (I/O port interface with DMA), read-only:
// no item accepts writes.
type FwCfg struct {
	mu      sync.Mutex
	entries [2][maxEntry]entry // [arch-local][key & mask]
	files   []fileEntry
	cur     uint16 // selected key, KeyInvalid when none
	off     uint32
	dmaAddr uint64
	dma     bool
	mem     Mem
	check   MemChecker
}

type fileEntry struct {
	name string
	size uint32
	key  uint16
}

// NewFwCfg builds the device. It panics only on a programming error in cfg
// (more than 32 files, a name too long, a duplicate name): those are
// checked by [FwCfgConfig.Validate].
func NewFwCfg(cfg FwCfgConfig) *FwCfg {
	f, err := newFwCfg(cfg)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return f
}

// Validate reports whether NewFwCfg accepts cfg.
func (cfg FwCfgConfig) Validate() error {
	_, err := newFwCfg(cfg)
	return err
}

func newFwCfg(cfg FwCfgConfig) (*FwCfg, error) {
	f := &FwCfg{cur: KeyInvalid, mem: cfg.Mem}
	f.dma = cfg.Mem != nil && !cfg.NoDMA
	if c, ok := cfg.Mem.(MemChecker); ok {
		f.check = c
	}
	cpus := cfg.CPUs
	if cpus <= 0 {
		cpus = 1
	}
	maxc := cfg.MaxCPUs
	if maxc < cpus {
		maxc = cpus
	}
	id := uint32(IDTraditional)
	if f.dma {
		id |= IDDMA
	}
	f.set(KeySignature, []byte("QEMU"))
	f.set(KeyID, le32(id))
	f.set(KeyUUID, cfg.UUID[:])
	f.set(KeyRAMSize, le64(cfg.RAMBelow4G+cfg.RAMAbove4G))
	f.set(KeyNoGraphic, le16(0))
	f.set(KeyNbCPUs, le16(uint16(cpus)))
	f.set(KeyBootMenu, le16(0))
	f.set(KeyMaxCPUs, le16(uint16(maxc)))
	f.set(KeyNUMA, make([]byte, 8*(1+maxc)))
	f.set(KeyACPITables, le16(0)) // no -acpitable tables
	f.set(KeyIRQ0Override, le32(1))
	f.set(KeyE820Table, le32(0)) // legacy reserved-entry table: empty
	if mb := cfg.Multiboot; mb != nil {
		f.set(KeyKernelEntry, le32(mb.Entry))
		f.set(KeyKernelAddr, le32(mb.LoadAddr))
		f.set(KeyKernelSize, le32(uint32(len(mb.Image))))
		f.set(KeyKernelData, mb.Image)
		f.set(KeyInitrdAddr, le32(mb.InfoAddr))
		f.set(KeyInitrdSize, le32(uint32(len(mb.Info))))
		f.set(KeyInitrdData, mb.Info)
	}

	e820 := cfg.E820
	if e820 == nil {
		if cfg.AMDHole {
			e820 = append(e820, E820Entry{AMDHoleStart, AMDHoleEnd - AMDHoleStart, E820Reserved})
		}
		e820 = append(e820, E820Entry{0, cfg.RAMBelow4G, E820RAM})
		if cfg.RAMAbove4G > 0 {
			e820 = append(e820, E820Entry{1 << 32, cfg.RAMAbove4G, E820RAM})
		}
	}
	eb := make([]byte, 0, 20*len(e820))
	for _, e := range e820 {
		eb = binary.LittleEndian.AppendUint64(eb, e.Addr)
		eb = binary.LittleEndian.AppendUint64(eb, e.Len)
		eb = binary.LittleEndian.AppendUint32(eb, e.Type)
	}
	files := []File{
		{"etc/boot-fail-wait", le32(0xFFFFFFFF)}, // QEMU: -boot reboot-timeout, default -1
		{"etc/e820", eb},
	}
	if t := cfg.Tables; t != nil {
		if b, ok := t.Blob("RSDP"); ok {
			files = append(files, File{"etc/acpi/rsdp", b.Data})
		}
		files = append(files, File{"etc/acpi/tables", t.ACPIImage()})
		if t.SleepStates != nil {
			files = append(files, File{"etc/system-states", t.SleepStates})
		}
	}
	files = append(files, cfg.Files...)
	if len(files) > fileSlots {
		return nil, fmt.Errorf("fw_cfg: %d files; at most %d", len(files), fileSlots)
	}
	// QEMU keeps the directory sorted by name; select keys follow.
	sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	dir := be32(uint32(len(files)))
	for i, fl := range files {
		if len(fl.Name) == 0 || len(fl.Name) >= maxPath {
			return nil, fmt.Errorf("fw_cfg: file name %q: want 1..%d bytes", fl.Name, maxPath-1)
		}
		if i > 0 && files[i-1].Name == fl.Name {
			return nil, fmt.Errorf("fw_cfg: duplicate file %q", fl.Name)
		}
		if uint64(len(fl.Data)) > 0xFFFFFFFF {
			return nil, fmt.Errorf("fw_cfg: file %q too large", fl.Name)
		}
		key := uint16(KeyFileFirst + i)
		f.set(key, fl.Data)
		f.files = append(f.files, fileEntry{fl.Name, uint32(len(fl.Data)), key})
		e := make([]byte, 64)
		binary.BigEndian.PutUint32(e[0:], uint32(len(fl.Data)))
		binary.BigEndian.PutUint16(e[4:], key)
		copy(e[8:], fl.Name)
		dir = append(dir, e...)
	}
	f.set(KeyFileDir, dir)
	return f, nil
}

func (f *FwCfg) set(key uint16, data []byte) {
	arch := 0
	if key&KeyArchLocal != 0 {
		arch = 1
	}
	if data == nil {
		data = []byte{}
	}
	f.entries[arch][key&keyEntryMask] = entry{data: data}
}

// Register maps the device: ports 0x510-0x511, and 0x514-0x51B when DMA is
// enabled.
func (f *FwCfg) Register(s *memmap.Space) {
	s.AddPorts("fw_cfg", FwCfgPortSel, 2, f)
	if f.dma {
		s.AddPorts("fw_cfg dma", FwCfgPortDMA, 8, f)
	}
}

// FileNames lists the file directory in order (for documentation and
// front ends).
func (f *FwCfg) FileNames() []string {
	var n []string
	for _, e := range f.files {
		n = append(n, e.name)
	}
	return n
}

// Item returns the data of key (nil when the key has no item).
func (f *FwCfg) Item(key uint16) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.entryFor(key); e != nil {
		return e.data
	}
	return nil
}

func (f *FwCfg) entryFor(key uint16) *entry {
	if key == KeyInvalid || int(key&keyEntryMask) >= maxEntry {
		return nil
	}
	arch := 0
	if key&KeyArchLocal != 0 {
		arch = 1
	}
	e := &f.entries[arch][key&keyEntryMask]
	if e.data == nil {
		return nil
	}
	return e
}

// selectKey is QEMU's fw_cfg_select: keys past the last slot select
// nothing (reads give 0); the write-channel bit is ignored.
func (f *FwCfg) selectKey(key uint16) {
	f.off = 0
	if int(key&keyEntryMask) >= maxEntry {
		f.cur = KeyInvalid
		return
	}
	f.cur = key
}

// readByte is QEMU's fw_cfg_data_read for one byte: 0 past the end or
// without an item.
func (f *FwCfg) readByte() byte {
	e := f.entryFor(f.cur)
	if e == nil || f.off >= uint32(len(e.data)) {
		return 0
	}
	b := e.data[f.off]
	f.off++
	return b
}

// In implements memmap.PortIO. Only byte reads of 0x510/0x511 return data
// (QEMU's combined port accepts reads of size 1 only; wider reads return 0
// and do not advance). The DMA registers read as "QEMU CFG" for naturally
// aligned accesses inside 0x514-0x51B, 0 otherwise.
func (f *FwCfg) In(port uint16, size int) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case port == FwCfgPortSel || port == FwCfgPortData:
		if size != 1 {
			return 0
		}
		return uint32(f.readByte())
	case f.dma && port >= FwCfgPortDMA && port < FwCfgPortDMA+8:
		off := int(port - FwCfgPortDMA)
		if size <= 0 || size > 4 || off%size != 0 || off+size > 8 {
			return 0
		}
		var v uint32
		for i := 0; i < size; i++ {
			v |= uint32(dmaSignature[off+i]) << (8 * i)
		}
		return v
	}
	return 0xFFFFFFFF >> (32 - 8*uint(clampSize(size)))
}

// Out implements memmap.PortIO. A 16-bit write to 0x510 selects a key;
// data writes (8-bit) are ignored as in QEMU since 2.4; other widths are
// invalid and ignored. A 32-bit write to 0x514 sets the high half of the
// DMA address (clearing the low half); a 32-bit write to 0x518 ors in the
// low half and starts the transfer. Values are big-endian.
func (f *FwCfg) Out(port uint16, size int, v uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case port == FwCfgPortSel && size == 2:
		f.selectKey(uint16(v))
	case f.dma && port == FwCfgPortDMA && size == 4:
		f.dmaAddr = uint64(bswap32(v)) << 32
	case f.dma && port == FwCfgPortDMA+4 && size == 4:
		f.dmaAddr |= uint64(bswap32(v))
		f.dmaTransfer()
	}
}

func clampSize(size int) int {
	if size < 1 {
		return 1
	}
	if size > 4 {
		return 4
	}
	return size
}

func (f *FwCfg) accessible(pa, n uint64, write bool) bool {
	if pa+n < pa {
		return false // wraps around the address space
	}
	if f.check == nil {
		return true
	}
	return f.check.Accessible(pa, n, write)
}

// dmaTransfer is QEMU's fw_cfg_dma_transfer.
func (f *FwCfg) dmaTransfer() {
	desc := f.dmaAddr
	f.dmaAddr = 0
	if !f.accessible(desc, 16, false) {
		f.putControl(desc, DMAError)
		return
	}
	var d [16]byte
	f.mem.ReadPhys(desc, d[:])
	control := binary.BigEndian.Uint32(d[0:])
	length := binary.BigEndian.Uint32(d[4:])
	addr := binary.BigEndian.Uint64(d[8:])

	if control&DMASelect != 0 {
		f.selectKey(uint16(control >> 16))
	}
	read, write := false, false
	switch {
	case control&DMARead != 0:
		read = true
	case control&DMAWrite != 0:
		write = true
	case control&DMASkip != 0:
	default:
		length = 0
	}
	status := uint32(0)
	e := f.entryFor(f.cur)
	for length > 0 && status&DMAError == 0 {
		var n uint32
		if e == nil || f.off >= uint32(len(e.data)) {
			n = length
			if read && !f.zeroPhys(addr, uint64(n)) {
				status |= DMAError
			}
			if write {
				status |= DMAError
			}
		} else {
			n = length
			if rest := uint32(len(e.data)) - f.off; n > rest {
				n = rest
			}
			if read && !f.copyPhys(addr, e.data[f.off:f.off+n]) {
				status |= DMAError
			}
			if write {
				status |= DMAError // no item is writable
			}
			f.off += n
		}
		addr += uint64(n)
		length -= n
	}
	f.putControl(desc, status)
}

// putControl stores the control word back (big-endian), if it can.
func (f *FwCfg) putControl(desc uint64, v uint32) {
	if !f.accessible(desc, 4, true) {
		return
	}
	f.mem.WritePhys(desc, be32(v))
}

// copyPhys writes b at pa in chunks; bytes that are not accessible are
// skipped and make it fail, as QEMU's dma_memory_write does.
func (f *FwCfg) copyPhys(pa uint64, b []byte) bool {
	ok := true
	for len(b) > 0 {
		n := len(b)
		if n > dmaChunk {
			n = dmaChunk
		}
		if f.accessible(pa, uint64(n), true) {
			f.mem.WritePhys(pa, b[:n])
		} else {
			ok = false
			f.writeAccessibleBytes(pa, b[:n])
		}
		pa += uint64(n)
		b = b[n:]
	}
	return ok
}

var zeros [dmaChunk]byte

// zeroPhys is dma_memory_set(0).
func (f *FwCfg) zeroPhys(pa, n uint64) bool {
	ok := true
	for n > 0 {
		c := n
		if c > dmaChunk {
			c = dmaChunk
		}
		if pa+c < pa { // wrapped: nothing more is addressable
			return false
		}
		if f.accessible(pa, c, true) {
			f.mem.WritePhys(pa, zeros[:c])
		} else {
			ok = false
			f.writeAccessibleBytes(pa, zeros[:c])
		}
		pa += c
		n -= c
	}
	return ok
}

// writeAccessibleBytes writes the accessible pages of a failed chunk.
func (f *FwCfg) writeAccessibleBytes(pa uint64, b []byte) {
	for len(b) > 0 {
		n := int(memmap.PageSize - pa&memmap.PageMask)
		if n > len(b) {
			n = len(b)
		}
		if pa+uint64(n) >= pa && f.accessible(pa, uint64(n), true) {
			f.mem.WritePhys(pa, b[:n])
		}
		pa += uint64(n)
		b = b[n:]
	}
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func bswap32(v uint32) uint32 {
	return v>>24 | v>>8&0xFF00 | v<<8&0xFF0000 | v<<24
}

var _ memmap.PortIO = (*FwCfg)(nil)
