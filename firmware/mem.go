package firmware

import "glassbox/memmap"

// SpaceMem adapts a memmap.Space to [Mem] and [MemChecker] for the fw_cfg
// DMA engine. Reads copy RAM and ROM (MMIO and unassigned bytes read as
// 0xFF, without side effects); writes store into RAM only (ROM bytes are
// dropped, as guest stores to ROM are) and mark the pages dirty for the
// MIGRATION and DISPLAY clients. A DMA touching anything but RAM or ROM
// (or writing to ROM) fails with the error bit, as QEMU's DMA to
// unassigned memory does; MMIO is not accessed by DMA here.
type SpaceMem struct {
	S *memmap.Space
	// Invalidate, when set, is called after every DMA store to RAM with
	// the range written, so the machine can discard translated code there
	// (the CODE dirty client is the caller's job, see
	// memmap.Space.WriteDebug). It runs on the vCPU goroutine doing the
	// DMA, with the fw_cfg device locked: it must not wait for another vCPU
	// that may itself be waiting for the device.
	Invalidate func(pa, n uint64)
}

// ReadPhys implements Mem.
func (m SpaceMem) ReadPhys(pa uint64, b []byte) { m.S.ReadDebug(memmap.PhysAddr(pa), b) }

// WritePhys implements Mem.
func (m SpaceMem) WritePhys(pa uint64, b []byte) {
	for i := 0; i < len(b); {
		a := memmap.PhysAddr(pa + uint64(i))
		r := m.S.Find(a)
		if r == nil || r.Kind != memmap.KindRAM {
			i++
			continue
		}
		n := copy(r.Host[a-r.Start:], b[i:])
		m.S.MarkWritten(a, uint64(n))
		if m.Invalidate != nil {
			m.Invalidate(uint64(a), uint64(n))
		}
		i += n
	}
}

// Accessible implements MemChecker: every byte of [pa, pa+n) is RAM, or
// ROM for reads.
func (m SpaceMem) Accessible(pa, n uint64, write bool) bool {
	end := pa + n
	if end < pa {
		return false
	}
	for a := pa; a < end; {
		r := m.S.Find(memmap.PhysAddr(a))
		if r == nil || r.Kind == memmap.KindMMIO || (write && r.Kind == memmap.KindROM) {
			return false
		}
		a = uint64(r.End())
	}
	return true
}
