package loader

import "encoding/binary"

// Long-mode control register values for the ELF64 entry.
const (
	LongModeCR0  = 0x80010011 // PG | WP | ET | PE
	LongModeCR4  = 0x20       // PAE
	LongModeEFER = 0x500      // LMA | LME

	pteP     = 1 << 0
	pteRW    = 1 << 1
	ptePS    = 1 << 7
	hugePage = 2 << 20
)

// pageTables builds PML4, PDPT and four PDs identity-mapping [0, 4 GiB) with
// 2 MiB pages, laid out from PML4Addr.
func pageTables() []byte {
	b := make([]byte, 6*4096)
	le := binary.LittleEndian
	le.PutUint64(b[0:], PDPTAddr|pteP|pteRW)
	for i := uint64(0); i < 4; i++ {
		le.PutUint64(b[4096+8*i:], (PDAddr+i*4096)|pteP|pteRW)
	}
	for i := uint64(0); i < 4*512; i++ {
		le.PutUint64(b[2*4096+8*i:], i*hugePage|pteP|pteRW|ptePS)
	}
	return b
}

// planLongMode sets up the ELF64 long-mode entry state.
func planLongMode(g *guest, im *Image, k *kernel) error {
	pt := pageTables()
	if err := g.write(PML4Addr, pt, "page tables"); err != nil {
		return err
	}
	im.Regions = append(im.Regions, Placed{Name: "page tables (PML4, PDPT, 4 PDs: identity map of 4 GiB, 2 MiB pages)", Start: PML4Addr, Size: uint64(len(pt))})
	sp, err := planCommon(g, im, longModeGDT, elf64StackBottom, 8)
	if err != nil {
		return err
	}
	im.Entry = EntryState{
		Mode:     ModeLong64,
		RIP:      k.entry,
		RSP:      sp,
		RAX:      MultibootBootMagic,
		RDI:      MultibootBootMagic,
		RBX:      InfoAddr,
		RSI:      InfoAddr,
		RFLAGS:   0x2,
		CR0:      LongModeCR0,
		CR3:      PML4Addr,
		CR4:      LongModeCR4,
		EFER:     LongModeEFER,
		CS:       flatCode64,
		DS:       flatData32,
		ES:       flatData32,
		FS:       flatData32,
		GS:       flatData32,
		SS:       flatData32,
		GDTBase:  GDTAddr,
		GDTLimit: uint16(8*len(longModeGDT) - 1),
	}
	return nil
}
