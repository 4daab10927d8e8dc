package loader

import (
	"fmt"

	"glassbox/memmap"
)

// BIOS size limits and layout.
const (
	BIOSMinSize     = 64 << 10
	BIOSMaxSize     = 16 << 20
	BIOSSizeUnit    = 64 << 10
	ISABIOSMaxSize  = 128 << 10 // QEMU's "isa-bios" alias: the last 128 KiB
	ResetEDX        = 0x663     // CPUID family 6, model 6, stepping 3 (QEMU qemu32)
	resetCR0        = 0x60000010
	fourGiB         = 1 << 32
	isaBIOSPriority = 1
)

// ResetState returns the architectural reset state (as QEMU -cpu qemu32
// reports it at reset).
func ResetState() EntryState {
	data := Seg{Selector: 0, Base: 0, Limit: 0xFFFF, Attr: 0x93} // P, S, data r/w, accessed
	return EntryState{
		Mode:     ModeReal,
		RIP:      0xFFF0,
		RDX:      ResetEDX,
		RFLAGS:   0x2,
		CR0:      resetCR0,
		CS:       Seg{Selector: 0xF000, Base: 0xFFFF0000, Limit: 0xFFFF, Attr: 0x9B}, // P, S, code exec/read, accessed
		DS:       data,
		ES:       data,
		FS:       data,
		GS:       data,
		SS:       data,
		GDTLimit: 0xFFFF,
		IDTLimit: 0xFFFF,
	}
}

// LoadBIOS maps a firmware image so that it ends at 4 GiB and aliases its
// last 128 KiB (all of it if smaller) so that it ends at 0xFFFFF, at
// priority 1 over RAM. Both regions share one private copy of rom. It must
// be called before s.Seal. The entry state is the reset state.
func LoadBIOS(s *memmap.Space, rom []byte) (im *Image, err error) {
	if s == nil {
		return nil, fmt.Errorf("could not load PC BIOS: no address space")
	}
	n := len(rom)
	if n == 0 || n%BIOSSizeUnit != 0 {
		return nil, fmt.Errorf("could not load PC BIOS: size %d bytes is not a multiple of 64 KiB", n)
	}
	if n < BIOSMinSize || n > BIOSMaxSize {
		return nil, fmt.Errorf("could not load PC BIOS: size %d bytes is outside 64 KiB..16 MiB", n)
	}
	isaSize := n
	if isaSize > ISABIOSMaxSize {
		isaSize = ISABIOSMaxSize
	}
	biosStart := uint64(fourGiB - n)
	isaStart := uint64(0x100000 - isaSize)
	for _, r := range s.Regions() {
		if r.Priority == 0 && overlaps(uint64(r.Start), r.Size, biosStart, uint64(n)) {
			return nil, fmt.Errorf("could not load PC BIOS: [%#x,4GiB) overlaps region %q", biosStart, r.Name)
		}
		if r.Priority == isaBIOSPriority && overlaps(uint64(r.Start), r.Size, isaStart, uint64(isaSize)) {
			return nil, fmt.Errorf("could not load PC BIOS: isa-bios alias [%#x,0x100000) overlaps region %q", isaStart, r.Name)
		}
	}
	host := append([]byte(nil), rom...)
	defer func() {
		// memmap panics (BUG) when a region is added after Seal; report
		// that misuse as an error instead.
		if p := recover(); p != nil {
			im, err = nil, fmt.Errorf("could not load PC BIOS: %v (LoadBIOS must be called before Space.Seal)", p)
		}
	}()
	s.AddROM("pc.bios", memmap.PhysAddr(biosStart), host, 0)
	s.AddROM("isa-bios", memmap.PhysAddr(isaStart), host[n-isaSize:], isaBIOSPriority)
	im = &Image{
		Kind:  KindBIOS,
		Entry: ResetState(),
		Regions: []Placed{
			{Name: "isa-bios (alias of the last " + sizeString(uint64(isaSize)) + " of pc.bios)", Start: isaStart, Size: uint64(isaSize)},
			{Name: "pc.bios", Start: biosStart, Size: uint64(n)},
		},
		CPUs: 1,
	}
	return im, nil
}

func sizeString(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
