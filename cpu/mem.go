package cpu

import (
	"encoding/binary"

	"glassbox/memmap"
	"glassbox/tlb"
)

// Guest memory access: segmentation (offset → linear), then the software
// TLB (linear → host page) with an inline fast path, then the slow path
// (TLB fill by page walk, MMIO, code-page protection, page-crossing splits).

// guestFault is the sentinel panicked to unwind a TB when an exception is
// raised; the exception itself is in CPU.exc.
type guestFault struct{}

var errGuestFault = &guestFault{}

// raise records exception vec and unwinds to the instruction boundary.
func (c *CPU) raise(vec int, code uint32, hasCode bool) {
	c.exc = Exception{Vector: vec, Code: code, HasCode: hasCode}
	panic(errGuestFault)
}

func (c *CPU) gp(code uint32) { c.raise(VecGP, code, true) }
func (c *CPU) ud()            { c.raise(VecUD, 0, false) }

// segFault raises the fault for a bad access through segment seg.
func (c *CPU) segFault(seg int) {
	if seg == SS {
		c.raise(VecSS, 0, true)
	}
	c.raise(VecGP, 0, true)
}

// linR/linW translate seg:off for a read/write of size bytes, checking the
// segment's limit and rights (SDM Vol. 3 §5.3).
func (c *CPU) linR(seg int, off uint64, size int) uint64 {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 != 0 {
		return c.lin64(seg, off, size)
	}
	if !s.canRead || off < s.lo || off+uint64(size)-1 > s.hi {
		c.segFault(seg)
	}
	la := (s.Base + off) & 0xFFFFFFFF
	if c.acCheck {
		c.alignCheck(la, size)
	}
	return la
}

// alignCheck raises #AC(0) for a misaligned CPL-3 data access when
// CR0.AM and EFLAGS.AC are set (SDM Vol. 3 §6.15, interrupt 17).
func (c *CPU) alignCheck(la uint64, size int) {
	if size > 1 && size <= 8 && la&uint64(size-1) != 0 {
		c.raise(VecAC, 0, true)
	}
}

func (c *CPU) linW(seg int, off uint64, size int) uint64 {
	s := &c.Seg[seg]
	if c.hflags&hfCS64 != 0 {
		return c.lin64(seg, off, size)
	}
	if !s.canWrit || off < s.lo || off+uint64(size)-1 > s.hi {
		c.segFault(seg)
	}
	la := (s.Base + off) & 0xFFFFFFFF
	if c.acCheck {
		c.alignCheck(la, size)
	}
	return la
}

// lin64 forms a 64-bit-mode linear address: only FS and GS have bases, and
// a non-canonical address faults with #GP(0), or #SS(0) through SS
// (SDM Vol. 3 §3.3.7.1). Multi-byte accesses are checked at their start.
func (c *CPU) lin64(seg int, off uint64, size int) uint64 {
	la := off
	if seg >= FS {
		la += c.Seg[seg].Base
	}
	if uint64(int64(la<<16)>>16) != la {
		c.segFault(seg)
	}
	if c.acCheck {
		c.alignCheck(la, size)
	}
	return la
}

// Fast paths. Each compares the TLB tag for the page, checks that the
// access stays within the page, and touches host memory directly.

func (c *CPU) rd8(la uint64) uint8 {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Read == la&^0xFFF {
		hit(e)
		return e.Host[la&0xFFF]
	}
	return uint8(c.readSlow(la, 1, c.mmuIdx))
}

func (c *CPU) rd16(la uint64) uint16 {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Read == la&^0xFFF && la&0xFFF <= 0xFFE {
		hit(e)
		return binary.LittleEndian.Uint16(e.Host[la&0xFFF:])
	}
	return uint16(c.readSlow(la, 2, c.mmuIdx))
}

func (c *CPU) rd32(la uint64) uint32 {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Read == la&^0xFFF && la&0xFFF <= 0xFFC {
		hit(e)
		return binary.LittleEndian.Uint32(e.Host[la&0xFFF:])
	}
	return uint32(c.readSlow(la, 4, c.mmuIdx))
}

func (c *CPU) rd64(la uint64) uint64 {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Read == la&^0xFFF && la&0xFFF <= 0xFF8 {
		hit(e)
		return binary.LittleEndian.Uint64(e.Host[la&0xFFF:])
	}
	return c.readSlow(la, 8, c.mmuIdx)
}

func (c *CPU) wr8(la uint64, v uint8) {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Write == la&^0xFFF {
		hit(e)
		e.Host[la&0xFFF] = v
		return
	}
	c.writeSlow(la, 1, uint64(v), c.mmuIdx)
}

func (c *CPU) wr16(la uint64, v uint16) {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Write == la&^0xFFF && la&0xFFF <= 0xFFE {
		hit(e)
		binary.LittleEndian.PutUint16(e.Host[la&0xFFF:], v)
		return
	}
	c.writeSlow(la, 2, uint64(v), c.mmuIdx)
}

func (c *CPU) wr32(la uint64, v uint32) {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Write == la&^0xFFF && la&0xFFF <= 0xFFC {
		hit(e)
		binary.LittleEndian.PutUint32(e.Host[la&0xFFF:], v)
		return
	}
	c.writeSlow(la, 4, uint64(v), c.mmuIdx)
}

func (c *CPU) wr64(la uint64, v uint64) {
	e := &c.tlb.E[c.mmuIdx][(la>>12)&tlb.Mask]
	if e.Write == la&^0xFFF && la&0xFFF <= 0xFF8 {
		hit(e)
		binary.LittleEndian.PutUint64(e.Host[la&0xFFF:], v)
		return
	}
	c.writeSlow(la, 8, v, c.mmuIdx)
}

// rdN / wrN dispatch on a runtime size.
func (c *CPU) rdN(la uint64, size uint8) uint64 {
	switch size {
	case 1:
		return uint64(c.rd8(la))
	case 2:
		return uint64(c.rd16(la))
	case 4:
		return uint64(c.rd32(la))
	}
	return c.rd64(la)
}

func (c *CPU) wrN(la uint64, size uint8, v uint64) {
	switch size {
	case 1:
		c.wr8(la, uint8(v))
	case 2:
		c.wr16(la, uint16(v))
	case 4:
		c.wr32(la, uint32(v))
	default:
		c.wr64(la, v)
	}
}

// checkWritable probes a write access without storing (for instructions
// that must not half-commit, e.g. PUSH of several words, far CALL frames).
func (c *CPU) checkWritable(la uint64, size int) {
	for _, a := range [2]uint64{la, la + uint64(size) - 1} {
		e := &c.tlb.E[c.mmuIdx][(a>>12)&tlb.Mask]
		if e.Write&^tlb.FlagMask == a&^0xFFF && e.Write != tlb.Invalid {
			continue
		}
		c.fillTLB(a, accWrite, c.mmuIdx)
	}
}

// Access kinds for the page walker.
const (
	accRead  = 0
	accWrite = 1
	accExec  = 2
)

// readSlow handles everything the fast path does not: misses, MMIO,
// watchpoints and page-crossing accesses.
func (c *CPU) readSlow(la uint64, size int, idx int) uint64 {
	c.checkNext = true // devices and hooks may change what runTBs checks between TBs
	if la&0xFFF+uint64(size) > 0x1000 {
		var v uint64
		for i := 0; i < size; i++ {
			v |= c.readSlow(c.wrapLin(la+uint64(i)), 1, idx) << (8 * i)
		}
		return v
	}
	e := &c.tlb.E[idx][(la>>12)&tlb.Mask]
	if e.Read&^tlb.FlagMask != la&^0xFFF || e.Read == tlb.Invalid {
		e = c.fillTLB(la, accRead, idx)
	}
	e.Hits++
	pa := e.Phys | la&0xFFF
	if e.Read&tlb.Watch != 0 {
		c.checkWatch(la, pa, size, false)
	}
	if e.Host == nil {
		return c.mem.Read(memmap.PhysAddr(pa), size)
	}
	h := e.Host[la&0xFFF:]
	switch size {
	case 1:
		return uint64(h[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(h))
	case 4:
		return uint64(binary.LittleEndian.Uint32(h))
	}
	return binary.LittleEndian.Uint64(h)
}

// wrapLin wraps a linear address the way the current mode does.
func (c *CPU) wrapLin(la uint64) uint64 {
	if c.hflags&hfLMA != 0 {
		return la
	}
	return la & 0xFFFFFFFF
}

func (c *CPU) writeSlow(la uint64, size int, v uint64, idx int) {
	c.checkNext = true // devices and hooks may change what runTBs checks between TBs
	if la&0xFFF+uint64(size) > 0x1000 {
		// Probe both pages first so a fault on the second page leaves
		// memory untouched (the instruction restarts cleanly).
		c.probeWrite(la, idx)
		c.probeWrite(c.wrapLin(la+uint64(size)-1), idx)
		for i := 0; i < size; i++ {
			c.writeSlow(c.wrapLin(la+uint64(i)), 1, v>>(8*i), idx)
		}
		return
	}
	e := &c.tlb.E[idx][(la>>12)&tlb.Mask]
	if e.Write&^tlb.FlagMask != la&^0xFFF || e.Write == tlb.Invalid {
		e = c.fillTLB(la, accWrite, idx)
	}
	e.Hits++
	pa := e.Phys | la&0xFFF
	if e.Write&tlb.Watch != 0 {
		c.checkWatch(la, pa, size, true)
	}
	if e.Host == nil || e.Write&tlb.MMIO != 0 {
		c.mem.Write(memmap.PhysAddr(pa), size, v)
		return
	}
	if e.Write&tlb.NotDirty != 0 {
		c.storeNotDirty(pa, size)
	}
	h := e.Host[la&0xFFF:]
	switch size {
	case 1:
		h[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(h, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(h, uint32(v))
	default:
		binary.LittleEndian.PutUint64(h, v)
	}
}

func (c *CPU) probeWrite(la uint64, idx int) {
	e := &c.tlb.E[idx][(la>>12)&tlb.Mask]
	if e.Write&^tlb.FlagMask != la&^0xFFF || e.Write == tlb.Invalid {
		c.fillTLB(la, accWrite, idx)
	}
}

// storeNotDirty is the slow path of a store to a page that is not dirty
// for every client: it invalidates translated code on the page (precise
// self-modifying code), then marks the page dirty (QEMU: notdirty_write).
func (c *CPU) storeNotDirty(pa uint64, size int) {
	page := pa &^ 0xFFF
	if !c.mem.IsDirty(memmap.PhysAddr(page), memmap.ClientCode) {
		c.invalidateCode(page, pa)
	}
	c.mem.MarkWritten(memmap.PhysAddr(pa), uint64(size))
	if c.mem.AllDirty(memmap.PhysAddr(page)) {
		for _, o := range c.sh.CPUs {
			o.tlb.ClearNotDirty(page)
		}
		if len(c.sh.CPUs) == 0 {
			c.tlb.ClearNotDirty(page)
		}
	}
}

// invalidateCode drops every TB built from page (a store hit it). If the
// running TB was among them, execution leaves it after the current
// instruction and continues with freshly translated code.
func (c *CPU) invalidateCode(page, pa uint64) {
	if h := c.sh.Hooks; h != nil && h.SMC != nil {
		h.SMC(c, pa)
	}
	n := c.sh.TBs.InvalidatePage(page, "smc")
	if n > 0 {
		c.sh.TBs.Stats.SMCEvents++
	}
	c.mem.SetDirty(memmap.PhysAddr(page), memmap.ClientCode)
	if t := c.curTB; t != nil && t.Invalid {
		c.stopTB = true
	}
}

// fillTLB walks the page tables for la and installs a TLB entry, raising
// #PF if the access is not permitted (QEMU: tlb_fill → x86_cpu_tlb_fill →
// handle_mmu_fault → tlb_set_page_with_attrs).
func (c *CPU) fillTLB(la uint64, acc int, idx int) *tlb.Entry {
	c.tlb.Stats.Misses++
	w := c.walk(la, acc, idx == tlb.IdxUser, true)
	if w.fault {
		c.CR2 = la
		c.exc = Exception{Vector: VecPF, Code: w.errCode, HasCode: true, CR2: la}
		panic(errGuestFault)
	}
	return c.installTLB(la, w, idx)
}

func (c *CPU) installTLB(la uint64, w walkResult, idx int) *tlb.Entry {
	pa := w.pa & c.a20Mask &^ 0xFFF
	page := c.mem.LookupPage(memmap.PhysAddr(pa))
	vp := la &^ 0xFFF
	e := tlb.Entry{Read: vp, Write: tlb.Invalid, Code: tlb.Invalid, Host: page.Host, Phys: pa,
		PageSize: w.pageSize, Global: w.global, User: w.user}
	if w.exec {
		e.Code = vp
	}
	if w.write {
		e.Write = vp
		if page.Host == nil || page.ReadOnly {
			e.Write |= tlb.MMIO
		} else if !c.mem.AllDirty(memmap.PhysAddr(pa)) {
			e.Write |= tlb.NotDirty
		}
	}
	if page.Host == nil {
		e.Read |= tlb.MMIO
		if e.Code != tlb.Invalid {
			e.Code |= tlb.MMIO
		}
	}
	if c.watchActive && c.pageWatched(vp, pa) || c.hwData != 0 && c.hwPageWatched(vp) {
		e.Read |= tlb.Watch
		if e.Write != tlb.Invalid {
			e.Write |= tlb.Watch
		}
	}
	if h := c.sh.Hooks; h != nil && h.TLBFill != nil {
		h.TLBFill(c, la, pa)
	}
	return c.tlb.Fill(idx, la, e)
}

// supervisor-mode accessors for implicit system accesses (descriptor
// tables, TSS, IDT) that use supervisor privilege whatever the CPL.
func (c *CPU) sysRead(la uint64, size int) uint64 {
	e := &c.tlb.E[tlb.IdxSupervisor][(la>>12)&tlb.Mask]
	if e.Read == la&^0xFFF && la&0xFFF+uint64(size) <= 0x1000 {
		return loadLE(e.Host[la&0xFFF:], size)
	}
	return c.readSlow(la, size, tlb.IdxSupervisor)
}

func (c *CPU) sysWrite(la uint64, size int, v uint64) {
	c.writeSlow(la, size, v, tlb.IdxSupervisor)
}

func loadLE(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// fetchCode returns the host bytes of the code page holding la and its
// physical address, filling the TLB's code side (QEMU: get_page_addr_code).
// It returns nil host bytes for code in MMIO/unassigned space.
func (c *CPU) fetchPage(la uint64) (host []byte, pa uint64) {
	idx := c.mmuIdx
	e := &c.tlb.E[idx][(la>>12)&tlb.Mask]
	if e.Code&^tlb.FlagMask != la&^0xFFF || e.Code == tlb.Invalid {
		e = c.fillTLB(la, accExec, idx)
	}
	return e.Host, e.Phys
}
