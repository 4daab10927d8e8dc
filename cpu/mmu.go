package cpu

import (
	"encoding/binary"
	"fmt"

	"glassbox/memmap"
)

// Page-table walker (SDM Vol. 3 ch. 4): 32-bit paging with PSE (§4.3), PAE
// paging (§4.4) and 4-level paging (§4.5). Accessed and dirty bits are set
// as hardware sets them, only when the translation succeeds (as QEMU does);
// debugger walks set nothing.

// Page-table entry bits (SDM Vol. 3 §4.3-4.5, Tables 4-4..4-20).
const (
	PTE_P   = 1 << 0
	PTE_RW  = 1 << 1
	PTE_US  = 1 << 2
	PTE_PWT = 1 << 3
	PTE_PCD = 1 << 4
	PTE_A   = 1 << 5
	PTE_D   = 1 << 6
	PTE_PS  = 1 << 7
	PTE_G   = 1 << 8
	PTE_NX  = 1 << 63

	// #PF error code bits (SDM Vol. 3 §4.7).
	PFERR_P    = 1 << 0
	PFERR_W    = 1 << 1
	PFERR_U    = 1 << 2
	PFERR_RSVD = 1 << 3
	PFERR_ID   = 1 << 4

	// MaxPhysBits is the physical-address width reported by CPUID 0x80000008.
	MaxPhysBits = 40
)

type walkResult struct {
	pa       uint64
	pageSize uint64
	write    bool // a store may use this translation now (D already set or being set)
	exec     bool
	user     bool
	global   bool
	fault    bool
	errCode  uint32
}

// WalkStep is one level of a traced walk (for gva2gpa).
type WalkStep struct {
	Level string // "PML4E", "PDPTE", "PDE", "PTE"
	Addr  uint64 // physical address of the entry
	Entry uint64
}

// WalkTrace records a debugger walk.
type WalkTrace struct {
	Steps    []WalkStep
	PA       uint64
	PageSize uint64
	Fault    string
}

func (c *CPU) readPhys64(pa uint64) uint64 {
	var b [8]byte
	c.mem.ReadDebug(memmap.PhysAddr(pa&c.a20Mask), b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (c *CPU) readPhys32(pa uint64) uint32 {
	var b [4]byte
	c.mem.ReadDebug(memmap.PhysAddr(pa&c.a20Mask), b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (c *CPU) writePhys32(pa uint64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	c.mem.WriteDebug(memmap.PhysAddr(pa&c.a20Mask), b[:])
}

func (c *CPU) writePhys64(pa uint64, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	c.mem.WriteDebug(memmap.PhysAddr(pa&c.a20Mask), b[:])
}

// walk translates la for an access. user selects user-mode permission
// checks; setAD enables the accessed/dirty updates (guest accesses).
func (c *CPU) walk(la uint64, acc int, user bool, setAD bool) walkResult {
	return c.walkTrace(la, acc, user, setAD, nil)
}

func (c *CPU) walkTrace(la uint64, acc int, user bool, setAD bool, tr *WalkTrace) walkResult {
	if c.CR0&CR0_PG == 0 {
		r := walkResult{pa: la & 0xFFFFFFFF, pageSize: 4096, write: true, exec: true, user: true}
		if c.EFER&EFER_LMA != 0 {
			r.pa = la
		}
		if tr != nil {
			tr.PA, tr.PageSize = r.pa, 4096
		}
		return r
	}
	if c.CR4&CR4_PAE == 0 {
		return c.walk32(la, acc, user, setAD, tr)
	}
	return c.walkPAE(la, acc, user, setAD, tr)
}

func (c *CPU) pfErr(acc int, user bool, present bool, rsvd bool) uint32 {
	var e uint32
	if present {
		e |= PFERR_P
	}
	if acc == accWrite {
		e |= PFERR_W
	}
	if user {
		e |= PFERR_U
	}
	if rsvd {
		e |= PFERR_RSVD | PFERR_P
	}
	if acc == accExec && c.CR4&CR4_PAE != 0 && c.EFER&EFER_NXE != 0 {
		e |= PFERR_ID
	}
	return e
}

// permit applies the combined U/S, R/W and NX rights (SDM Vol. 3 §4.6).
func (c *CPU) permit(acc int, user bool, rw, us, nx bool) bool {
	if user && !us {
		return false
	}
	switch acc {
	case accWrite:
		if !rw && (user || c.CR0&CR0_WP != 0) {
			return false
		}
	case accExec:
		if nx {
			return false
		}
	}
	return true
}

func (c *CPU) walk32(la uint64, acc int, user, setAD bool, tr *WalkTrace) walkResult {
	la &= 0xFFFFFFFF
	pdeAddr := c.CR3&0xFFFFF000 | (la>>22)<<2
	pde := uint64(c.readPhys32(pdeAddr))
	if tr != nil {
		tr.Steps = append(tr.Steps, WalkStep{"PDE", pdeAddr, pde})
	}
	if pde&PTE_P == 0 {
		return c.walkFault(la, acc, user, false, false, tr, "PDE not present")
	}
	if pde&PTE_PS != 0 && c.CR4&CR4_PSE != 0 {
		// 4 MiB page; PSE-36 bits 13..20 supply PA bits 32..39.
		if pde&(1<<21) != 0 {
			return c.walkFault(la, acc, user, true, true, tr, "reserved bit in PDE")
		}
		rw, us := pde&PTE_RW != 0, pde&PTE_US != 0
		if !c.permit(acc, user, rw, us, false) {
			return c.walkFault(la, acc, user, true, false, tr, "protection")
		}
		if setAD {
			n := pde | PTE_A
			if acc == accWrite {
				n |= PTE_D
			}
			if n != pde {
				c.writePhys32(pdeAddr, uint32(n))
				pde = n
			}
		}
		pa := (pde & 0xFFC00000) | (pde>>13&0xFF)<<32 | la&0x3FFFFF
		return c.walkDone(pa, 4<<20, acc, user, rw, us, false, pde&PTE_D != 0, pde&PTE_G != 0, tr)
	}
	pteAddr := pde&0xFFFFF000 | (la>>12&0x3FF)<<2
	pte := uint64(c.readPhys32(pteAddr))
	if tr != nil {
		tr.Steps = append(tr.Steps, WalkStep{"PTE", pteAddr, pte})
	}
	if pte&PTE_P == 0 {
		return c.walkFault(la, acc, user, false, false, tr, "PTE not present")
	}
	rw := pde&PTE_RW != 0 && pte&PTE_RW != 0
	us := pde&PTE_US != 0 && pte&PTE_US != 0
	if !c.permit(acc, user, rw, us, false) {
		return c.walkFault(la, acc, user, true, false, tr, "protection")
	}
	if setAD {
		if pde&PTE_A == 0 {
			c.writePhys32(pdeAddr, uint32(pde|PTE_A))
		}
		n := pte | PTE_A
		if acc == accWrite {
			n |= PTE_D
		}
		if n != pte {
			c.writePhys32(pteAddr, uint32(n))
			pte = n
		}
	}
	return c.walkDone(pte&0xFFFFF000|la&0xFFF, 4096, acc, user, rw, us, false, pte&PTE_D != 0, pte&PTE_G != 0, tr)
}

func (c *CPU) walkPAE(la uint64, acc int, user, setAD bool, tr *WalkTrace) walkResult {
	nxe := c.EFER&EFER_NXE != 0
	rsvdHigh := uint64(0x000FFFFFFFFFFFFF)&^(1<<MaxPhysBits-1) | PTE_NX
	long := c.EFER&EFER_LMA != 0
	if !long {
		rsvdHigh |= 0x7FF0000000000000 // PAE paging: bits 62:52 reserved too
	}
	if nxe {
		rsvdHigh &^= PTE_NX
	}
	rw, us, nx := true, true, false
	type lvl struct {
		addr, e uint64
	}
	var used [4]lvl
	n := 0
	var table uint64
	var shift uint
	var levels []string
	if long {
		table = c.CR3 & 0x000FFFFFFFFFF000
		shift = 39
		levels = []string{"PML4E", "PDPTE", "PDE", "PTE"}
	} else {
		la &= 0xFFFFFFFF
		// PDPTE (SDM §4.4.1): loaded here from memory for simplicity; real
		// CPUs cache the four PDPTEs at CR3 load.
		pdpteAddr := c.CR3&0xFFFFFFE0 | (la>>30)<<3
		pdpte := c.readPhys64(pdpteAddr)
		if tr != nil {
			tr.Steps = append(tr.Steps, WalkStep{"PDPTE", pdpteAddr, pdpte})
		}
		if pdpte&PTE_P == 0 {
			return c.walkFault(la, acc, user, false, false, tr, "PDPTE not present")
		}
		if pdpte&(rsvdHigh|PTE_NX|0x1E6) != 0 {
			return c.walkFault(la, acc, user, true, true, tr, "reserved bit in PDPTE")
		}
		table = pdpte & 0x000FFFFFFFFFF000
		shift = 21
		levels = []string{"PDE", "PTE"}
	}
	for li := 0; ; li++ {
		addr := table | (la>>shift&0x1FF)<<3
		e := c.readPhys64(addr)
		if tr != nil {
			tr.Steps = append(tr.Steps, WalkStep{levels[li], addr, e})
		}
		if e&PTE_P == 0 {
			return c.walkFault(la, acc, user, false, false, tr, levels[li]+" not present")
		}
		if e&rsvdHigh != 0 || (long && li == 0 && e&PTE_PS != 0) {
			return c.walkFault(la, acc, user, true, true, tr, "reserved bit in "+levels[li])
		}
		rw = rw && e&PTE_RW != 0
		us = us && e&PTE_US != 0
		nx = nx || (nxe && e&PTE_NX != 0)
		used[n] = lvl{addr, e}
		n++
		large := shift > 12 && e&PTE_PS != 0
		if large && shift == 30 && !long {
			large = false
		}
		if shift == 12 || large {
			size := uint64(1) << shift
			if large && e&((size-1)&^0x1FFF&0x000FFFFFFFFFF000) != 0 {
				return c.walkFault(la, acc, user, true, true, tr, "reserved bit in large "+levels[li])
			}
			if !c.permit(acc, user, rw, us, nx) {
				return c.walkFault(la, acc, user, true, false, tr, "protection")
			}
			if setAD {
				for i := 0; i < n-1; i++ {
					if used[i].e&PTE_A == 0 {
						c.writePhys64(used[i].addr, used[i].e|PTE_A)
					}
				}
				ne := e | PTE_A
				if acc == accWrite {
					ne |= PTE_D
				}
				if ne != e {
					c.writePhys64(addr, ne)
					e = ne
				}
			}
			pa := e&0x000FFFFFFFFFF000&^(size-1) | la&(size-1)
			return c.walkDone(pa, size, acc, user, rw, us, nx, e&PTE_D != 0, e&PTE_G != 0, tr)
		}
		table = e & 0x000FFFFFFFFFF000
		shift -= 9
	}
}

func (c *CPU) walkFault(la uint64, acc int, user, present, rsvd bool, tr *WalkTrace, why string) walkResult {
	if tr != nil {
		tr.Fault = why
	}
	return walkResult{fault: true, errCode: c.pfErr(acc, user, present, rsvd)}
}

func (c *CPU) walkDone(pa, size uint64, acc int, user, rw, us, nx, dirty, global bool, tr *WalkTrace) walkResult {
	if tr != nil {
		tr.PA, tr.PageSize = pa, size
	}
	r := walkResult{pa: pa, pageSize: size, user: us, global: global && c.CR4&CR4_PGE != 0}
	r.write = c.permit(accWrite, user, rw, us, nx) && (dirty || acc == accWrite)
	r.exec = c.permit(accExec, user, rw, us, nx)
	return r
}

// Translate walks the page tables for la without side effects (no A/D
// updates, no TLB fill), as the debugger sees memory.
func (c *CPU) Translate(la uint64) (pa uint64, ok bool) {
	r := c.walk(la, accRead, false, false)
	if r.fault {
		return 0, false
	}
	return r.pa & c.a20Mask, true
}

// TranslateTrace is Translate that also returns every entry it read.
func (c *CPU) TranslateTrace(la uint64) WalkTrace {
	var tr WalkTrace
	c.walkTrace(la, accRead, false, false, &tr)
	return tr
}

func (s WalkStep) String() string {
	return fmt.Sprintf("%-5s @ %#x = %#016x", s.Level, s.Addr, s.Entry)
}
