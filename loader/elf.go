package loader

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
)

// A minimal, defensive reader for the parts of an ELF executable a loader
// needs: the header and the PT_LOAD program headers. (debug/elf also parses
// sections, which a loader must not care about.)

type segment struct {
	index  int // program header index
	paddr  uint64
	vaddr  uint64
	memsz  uint64
	filesz uint64
	off    uint64
	flags  elf.ProgFlag
}

type elfImage struct {
	class64 bool
	entry   uint64 // e_entry, translated to physical (see physEntry)
	segs    []segment
	low     uint64 // lowest p_paddr
	high    uint64 // highest p_paddr + p_memsz
}

func isELF(b []byte) bool { return len(b) >= 4 && string(b[:4]) == elf.ELFMAG }

// elfClass returns elf.ELFCLASS32/64, or ELFCLASSNONE if b is not an ELF.
func elfClass(b []byte) elf.Class {
	if !isELF(b) || len(b) <= elf.EI_CLASS {
		return elf.ELFCLASSNONE
	}
	return elf.Class(b[elf.EI_CLASS])
}

// parseELF reads an ELF32 (EM_386) or ELF64 (EM_X86_64) executable. limit
// is the first physical address no segment may reach (4 GiB).
func parseELF(b []byte, limit uint64) (*elfImage, error) {
	if !isELF(b) {
		return nil, fmt.Errorf("not an ELF file")
	}
	if len(b) < elf.EI_NIDENT {
		return nil, fmt.Errorf("ELF: truncated identification (%d bytes)", len(b))
	}
	im := &elfImage{}
	var hdrSize, phentWant uint64
	var wantMachine elf.Machine
	switch c := elf.Class(b[elf.EI_CLASS]); c {
	case elf.ELFCLASS32:
		hdrSize, phentWant, wantMachine = 52, 32, elf.EM_386
	case elf.ELFCLASS64:
		im.class64 = true
		hdrSize, phentWant, wantMachine = 64, 56, elf.EM_X86_64
	default:
		return nil, fmt.Errorf("ELF: bad class %d", uint8(c))
	}
	if d := elf.Data(b[elf.EI_DATA]); d != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("ELF: data encoding %v is not little-endian", d)
	}
	if v := elf.Version(b[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return nil, fmt.Errorf("ELF: bad version %d", uint8(v))
	}
	if uint64(len(b)) < hdrSize {
		return nil, fmt.Errorf("ELF: truncated header (%d bytes, need %d)", len(b), hdrSize)
	}
	le := binary.LittleEndian
	typ := elf.Type(le.Uint16(b[16:]))
	mach := elf.Machine(le.Uint16(b[18:]))
	if typ != elf.ET_EXEC && typ != elf.ET_DYN {
		return nil, fmt.Errorf("ELF: type %v is not an executable (ET_EXEC or ET_DYN)", typ)
	}
	if mach != wantMachine {
		return nil, fmt.Errorf("ELF: machine %v, want %v for %v", mach, wantMachine, elf.Class(b[elf.EI_CLASS]))
	}
	var phoff, phentsize, phnum uint64
	if im.class64 {
		im.entry = le.Uint64(b[24:])
		phoff = le.Uint64(b[32:])
		phentsize = uint64(le.Uint16(b[54:]))
		phnum = uint64(le.Uint16(b[56:]))
	} else {
		im.entry = uint64(le.Uint32(b[24:]))
		phoff = uint64(le.Uint32(b[28:]))
		phentsize = uint64(le.Uint16(b[42:]))
		phnum = uint64(le.Uint16(b[44:]))
	}
	if phnum == 0 {
		return nil, fmt.Errorf("ELF: no program headers")
	}
	if phnum == 0xFFFF {
		return nil, fmt.Errorf("ELF: extended program header numbering (PN_XNUM) is not supported")
	}
	if phentsize != phentWant {
		return nil, fmt.Errorf("ELF: program header entry size %d, want %d", phentsize, phentWant)
	}
	if phoff > uint64(len(b)) || phnum*phentsize > uint64(len(b))-phoff {
		return nil, fmt.Errorf("ELF: program headers [%#x,+%d*%d) run past the end of the file (%d bytes)", phoff, phnum, phentsize, len(b))
	}
	for i := uint64(0); i < phnum; i++ {
		p := b[phoff+i*phentsize:]
		var s segment
		var ptype elf.ProgType
		if im.class64 {
			ptype = elf.ProgType(le.Uint32(p[0:]))
			s.flags = elf.ProgFlag(le.Uint32(p[4:]))
			s.off = le.Uint64(p[8:])
			s.vaddr = le.Uint64(p[16:])
			s.paddr = le.Uint64(p[24:])
			s.filesz = le.Uint64(p[32:])
			s.memsz = le.Uint64(p[40:])
		} else {
			ptype = elf.ProgType(le.Uint32(p[0:]))
			s.off = uint64(le.Uint32(p[4:]))
			s.vaddr = uint64(le.Uint32(p[8:]))
			s.paddr = uint64(le.Uint32(p[12:]))
			s.filesz = uint64(le.Uint32(p[16:]))
			s.memsz = uint64(le.Uint32(p[20:]))
			s.flags = elf.ProgFlag(le.Uint32(p[24:]))
		}
		if ptype != elf.PT_LOAD || s.memsz == 0 {
			continue // QEMU ignores empty PT_LOADs as well
		}
		s.index = int(i)
		if s.filesz > s.memsz {
			return nil, fmt.Errorf("ELF: segment %d: p_filesz %#x > p_memsz %#x", i, s.filesz, s.memsz)
		}
		if s.off > uint64(len(b)) || s.filesz > uint64(len(b))-s.off {
			return nil, fmt.Errorf("ELF: segment %d: file bytes [%#x,+%#x) run past the end of the file (%d bytes)", i, s.off, s.filesz, len(b))
		}
		if s.paddr >= limit || s.memsz > limit-s.paddr {
			return nil, fmt.Errorf("ELF: segment %d: physical [%#x,+%#x) reaches beyond 4 GiB", i, s.paddr, s.memsz)
		}
		im.segs = append(im.segs, s)
	}
	if len(im.segs) == 0 {
		return nil, fmt.Errorf("ELF: no loadable (PT_LOAD) segments")
	}
	// QEMU's ELF loader: e_entry is a virtual address; when it lies in the
	// file part of an executable segment loaded at a different physical
	// address, translate it.
	for _, s := range im.segs {
		if s.vaddr != s.paddr && s.flags&elf.PF_X != 0 && im.entry >= s.vaddr && im.entry-s.vaddr < s.filesz {
			im.entry = im.entry - s.vaddr + s.paddr
			break
		}
	}
	sorted := append([]segment(nil), im.segs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].paddr < sorted[j].paddr })
	for i := 1; i < len(sorted); i++ {
		a, c := sorted[i-1], sorted[i]
		if c.paddr < a.paddr+a.memsz {
			return nil, fmt.Errorf("ELF: segments %d and %d overlap at physical %#x", a.index, c.index, c.paddr)
		}
	}
	im.low = sorted[0].paddr
	last := sorted[len(sorted)-1]
	im.high = last.paddr + last.memsz
	return im, nil
}
