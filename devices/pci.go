package devices

import (
	"fmt"
	"io"
	"strings"

	"glassbox/memmap"
)

// ---------------------------------------------------------------------------
// PCI configuration mechanism #1 and bus 0

// PCI configuration-space ports (configuration mechanism #1).
const (
	PCIConfigAddress = 0xCF8 // CONFIG_ADDRESS: bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2
	PCIConfigData    = 0xCFC // CONFIG_DATA, 0xCFC..0xCFF
)

// PCI command register bits.
const (
	PCICommandIO     = 1 << 0
	PCICommandMemory = 1 << 1
	PCICommandMaster = 1 << 2
)

// QEMU's default subsystem IDs for the devices of its pc machine
// (PCI_SUBVENDOR_ID_REDHAT_QUMRANET / PCI_SUBDEVICE_ID_QEMU).
const (
	PCISubsystemVendorQEMU = 0x1AF4
	PCISubsystemQEMU       = 0x1100
)

// PCIBARSpace implements the address range a base address register decodes.
// off is relative to the BAR's base; io says whether the access came from
// the I/O space (an I/O BAR) or the memory space. Size is 1, 2, 4 (or 8 for
// memory). Implementations must accept any offset and size.
type PCIBARSpace interface {
	ReadBAR(bar int, off uint64, size int) uint64
	WriteBAR(bar int, off uint64, size int, v uint64)
}

// PCIBAR describes one base address register.
type PCIBAR struct {
	Size  uint32      // bytes decoded, a power of two; 0 = not implemented (reads 0)
	IO    bool        // I/O space BAR (bit 0 set); else a 32-bit memory BAR
	Space PCIBARSpace // what the BAR decodes; nil = nothing answers
}

// PCIFunction is the 256-byte configuration space of one PCI function
// with a type 0 header. Config holds the register values; WMask the bits
// a guest write may change. Base address registers are handled apart:
// their writable bits follow from the BAR size (all-ones sizing works),
// their type bits are read-only.
type PCIFunction struct {
	Name   string
	Config [256]byte
	WMask  [256]byte
	BARs   [6]PCIBAR
}

// NewPCIFunction returns a function with the given IDs, class code
// (class<<16 | subclass<<8 | programming interface) and revision, a type 0
// header and QEMU's subsystem IDs. The command register's I/O, memory,
// bus-master, parity, SERR and INTx-disable bits, the cache line size and
// the interrupt line are writable (QEMU's pci_init_wmask).
func NewPCIFunction(name string, vendor, device uint16, class uint32, rev uint8) *PCIFunction {
	f := &PCIFunction{Name: name}
	f.set16(0x00, vendor)
	f.set16(0x02, device)
	f.Config[0x08] = rev
	f.Config[0x09] = uint8(class)
	f.Config[0x0A] = uint8(class >> 8)
	f.Config[0x0B] = uint8(class >> 16)
	f.set16(0x2C, PCISubsystemVendorQEMU)
	f.set16(0x2E, PCISubsystemQEMU)
	f.WMask[0x04] = 0x47 // IO, MEM, MASTER, PARITY
	f.WMask[0x05] = 0x05 // SERR, INTX_DISABLE
	f.WMask[0x0C] = 0xFF // cache line size
	f.WMask[0x3C] = 0xFF // interrupt line
	return f
}

func (f *PCIFunction) set16(off int, v uint16) {
	f.Config[off] = uint8(v)
	f.Config[off+1] = uint8(v >> 8)
}

func (f *PCIFunction) get32(off int) uint32 {
	return uint32(f.Config[off]) | uint32(f.Config[off+1])<<8 | uint32(f.Config[off+2])<<16 | uint32(f.Config[off+3])<<24
}

// SetBAR declares base address register i (0..5) with its size (a power of
// two, at least 4 for I/O and 16 for memory) and the space it decodes. The
// register starts unassigned (address 0).
func (f *PCIFunction) SetBAR(i int, size uint32, io bool, space PCIBARSpace) {
	f.BARs[i] = PCIBAR{Size: size, IO: io, Space: space}
	v := uint32(0)
	if io {
		v = 1
	}
	f.setBARReg(i, v)
}

func (f *PCIFunction) setBARReg(i int, v uint32) {
	off := 0x10 + 4*i
	for k := 0; k < 4; k++ {
		f.Config[off+k] = uint8(v >> (8 * k))
	}
}

// Command returns the command register.
func (f *PCIFunction) Command() uint16 { return uint16(f.Config[4]) | uint16(f.Config[5])<<8 }

// BARAddress returns BAR i's base address and whether it currently decodes:
// the matching command bit (I/O or memory space) is set and the address is
// nonzero and does not wrap (an I/O range must end below 0x10000), as
// QEMU's pci_bar_address.
func (f *PCIFunction) BARAddress(i int) (uint64, bool) {
	b := &f.BARs[i]
	if b.Size == 0 {
		return 0, false
	}
	v := f.get32(0x10 + 4*i)
	if b.IO {
		addr := uint64(v &^ 3)
		if f.Command()&PCICommandIO == 0 || addr == 0 || addr+uint64(b.Size)-1 > 0xFFFF {
			return addr, false
		}
		return addr, true
	}
	addr := uint64(v &^ 0xF)
	if f.Command()&PCICommandMemory == 0 || addr == 0 || addr+uint64(b.Size)-1 >= 0xFFFFFFFF {
		return addr, false
	}
	return addr, true
}

// ReadConfig reads size bytes (1, 2 or 4) of configuration space at off;
// bytes past the end read as 0xFF.
func (f *PCIFunction) ReadConfig(off, size int) uint32 {
	var v uint32
	for i := 0; i < clampSize(size); i++ {
		b := uint8(0xFF)
		if o := off + i; o >= 0 && o < 256 {
			b = f.Config[o]
		}
		v |= uint32(b) << (8 * i)
	}
	return v
}

// WriteConfig writes size bytes at off through the write mask; BAR bytes
// keep their type bits and their low address bits below the BAR size.
func (f *PCIFunction) WriteConfig(off, size int, v uint32) {
	for i := 0; i < clampSize(size); i++ {
		o := off + i
		if o < 0 || o >= 256 {
			continue
		}
		b := uint8(v >> (8 * i))
		if o >= 0x10 && o < 0x28 {
			bar := (o - 0x10) / 4
			bf := &f.BARs[bar]
			if bf.Size == 0 {
				continue
			}
			mask := ^(bf.Size - 1) &^ 0xF
			if bf.IO {
				mask = ^(bf.Size - 1) &^ 3
			}
			m := uint8(mask >> (8 * uint(o&3)))
			f.Config[o] = f.Config[o]&^m | b&m
			continue
		}
		m := f.WMask[o]
		f.Config[o] = f.Config[o]&^m | b&m
	}
}

// PCIHost is the i440FX host bridge's configuration mechanism #1 with bus 0
// behind it, and the decoder of the functions' base address registers: it
// serves the PCI memory hole (reads 0 where no BAR decodes, as QEMU's pc
// machine) and the I/O ports from PCIIOWindow up that no ISA device claims
// (all-ones where no BAR decodes).
type PCIHost struct {
	addr  uint32
	funcs [32][8]*PCIFunction
	// HoleBase is where the memory hole served by ReadMMIO/WriteMMIO starts.
	HoleBase uint64
}

// NewPCIHost returns a host bridge with an empty bus 0.
func NewPCIHost() *PCIHost { return &PCIHost{} }

// Add places f at 00:dev.fn.
func (h *PCIHost) Add(dev, fn int, f *PCIFunction) error {
	if dev < 0 || dev >= 32 || fn < 0 || fn >= 8 {
		return fmt.Errorf("pci: bad address 00:%02x.%x", dev, fn)
	}
	if h.funcs[dev][fn] != nil {
		return fmt.Errorf("pci: 00:%02x.%x is taken by %s", dev, fn, h.funcs[dev][fn].Name)
	}
	h.funcs[dev][fn] = f
	return nil
}

// Function returns the function at 00:dev.fn, or nil.
func (h *PCIHost) Function(dev, fn int) *PCIFunction {
	if dev < 0 || dev >= 32 || fn < 0 || fn >= 8 {
		return nil
	}
	return h.funcs[dev][fn]
}

// FreeSlot returns the lowest device number with no function 0, or -1.
func (h *PCIHost) FreeSlot() int {
	for d := 0; d < 32; d++ {
		if h.funcs[d][0] == nil {
			return d
		}
	}
	return -1
}

// Register maps the configuration ports 0xCF8-0xCFF.
func (h *PCIHost) Register(s *memmap.Space) {
	s.AddPorts("pci-conf", PCIConfigAddress, 8, pciConfPorts{h})
}

// PCIIOWindow is the first port I/O BARs decode at: ports below it belong
// to ISA devices (or nothing), as on a PC where I/O BARs live above 0x1000.
const PCIIOWindow = 0x1000

// RegisterIO maps h as the owner of ports PCIIOWindow-0xFFFF (I/O BAR
// decoding). Call it before registering the ISA devices: later port
// mappings win.
func (h *PCIHost) RegisterIO(s *memmap.Space) {
	s.AddPorts("pci-io", PCIIOWindow, 0x10000-PCIIOWindow, pciIOPorts{h})
}

// RegisterHole maps [base, end) of the physical address space as the PCI
// memory hole, below every other region in priority.
func (h *PCIHost) RegisterHole(s *memmap.Space, base, end uint64) {
	if end <= base {
		return
	}
	h.HoleBase = base
	s.AddMMIO("pci-hole", memmap.PhysAddr(base), end-base, pciHole{h}, -1)
}

// target returns the function currently addressed by CONFIG_ADDRESS.
func (h *PCIHost) target() *PCIFunction {
	if h.addr&(1<<31) == 0 || (h.addr>>16)&0xFF != 0 {
		return nil
	}
	return h.funcs[(h.addr>>11)&0x1F][(h.addr>>8)&7]
}

type pciConfPorts struct{ h *PCIHost }

// In: CONFIG_ADDRESS reads return the latched value (QEMU returns it for
// any size, truncated); CONFIG_DATA reads the addressed register, all-ones
// when the enable bit is clear or no function answers.
func (p pciConfPorts) In(port uint16, size int) uint32 {
	size = clampSize(size)
	mask := uint32(ones32(size))
	if port < PCIConfigData {
		return p.h.addr & mask
	}
	f := p.h.target()
	if f == nil {
		return mask
	}
	off := int(p.h.addr&0xFC) | int(port&3)
	n := size
	if rest := 4 - int(port&3); n > rest {
		n = rest
	}
	return f.ReadConfig(off, n) | mask&^uint32(ones32(n))
}

// Out: only a 4-byte write to 0xCF8 latches CONFIG_ADDRESS (QEMU's
// pci_host_config_write); CONFIG_DATA writes go to the addressed register.
func (p pciConfPorts) Out(port uint16, size int, v uint32) {
	size = clampSize(size)
	if port < PCIConfigData {
		if port == PCIConfigAddress && size == 4 {
			p.h.addr = v
		}
		return
	}
	f := p.h.target()
	if f == nil {
		return
	}
	n := size
	if rest := 4 - int(port&3); n > rest {
		n = rest
	}
	f.WriteConfig(int(p.h.addr&0xFC)|int(port&3), n, v)
}

func ones32(size int) uint64 { return uint64(1)<<(8*uint(size)) - 1 }

// decode finds the BAR decoding addr in the I/O (io) or memory space.
func (h *PCIHost) decode(addr uint64, io bool) (*PCIBAR, int, uint64) {
	for d := range h.funcs {
		for _, f := range h.funcs[d] {
			if f == nil {
				continue
			}
			for i := range f.BARs {
				b := &f.BARs[i]
				if b.Size == 0 || b.IO != io {
					continue
				}
				base, ok := f.BARAddress(i)
				if ok && addr >= base && addr < base+uint64(b.Size) {
					return b, i, addr - base
				}
			}
		}
	}
	return nil, 0, 0
}

type pciIOPorts struct{ h *PCIHost }

func (p pciIOPorts) In(port uint16, size int) uint32 {
	b, i, off := p.h.decode(uint64(port), true)
	if b == nil || b.Space == nil {
		return uint32(ones32(clampSize(size)))
	}
	return uint32(b.Space.ReadBAR(i, off, clampSize(size)))
}

func (p pciIOPorts) Out(port uint16, size int, v uint32) {
	b, i, off := p.h.decode(uint64(port), true)
	if b != nil && b.Space != nil {
		b.Space.WriteBAR(i, off, clampSize(size), uint64(v))
	}
}

type pciHole struct{ h *PCIHost }

func (p pciHole) ReadMMIO(off uint64, size int) uint64 {
	b, i, o := p.h.decode(p.h.HoleBase+off, false)
	if b == nil || b.Space == nil {
		return 0
	}
	return b.Space.ReadBAR(i, o, size)
}

func (p pciHole) WriteMMIO(off uint64, size int, v uint64) {
	b, i, o := p.h.decode(p.h.HoleBase+off, false)
	if b != nil && b.Space != nil {
		b.Space.WriteBAR(i, o, size, v)
	}
}

// Info writes `info pci`: every function with its IDs, class, command
// register and BARs.
func (h *PCIHost) Info(w io.Writer) {
	fmt.Fprintf(w, "pci: CONFIG_ADDRESS=%08x\n", h.addr)
	for d := range h.funcs {
		for fn, f := range h.funcs[d] {
			if f == nil {
				continue
			}
			c := f.Config
			fmt.Fprintf(w, "  00:%02x.%x %04x:%04x class %02x%02x%02x rev %02x cmd %04x %s\n", d, fn,
				uint16(c[0])|uint16(c[1])<<8, uint16(c[2])|uint16(c[3])<<8, c[0xB], c[0xA], c[9], c[8], f.Command(), f.Name)
			for i, b := range f.BARs {
				if b.Size == 0 {
					continue
				}
				addr, on := f.BARAddress(i)
				kind := "mem"
				if b.IO {
					kind = "io"
				}
				fmt.Fprintf(w, "    BAR%d %s %#x size %#x decoding=%v\n", i, kind, addr, b.Size, on)
			}
		}
	}
}

func (h *PCIHost) String() string {
	var b strings.Builder
	h.Info(&b)
	return b.String()
}
