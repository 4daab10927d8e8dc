package memmap

import (
	"math/bits"
	"sync/atomic"
)

// Dirty bitmaps. One bit per physical page and client; a set bit means
// "dirty" (written since the client last cleared it). For ClientCode a clear
// bit means the page is write-protected because it holds translated code
// (QEMU: tlb_protect_code clears DIRTY_MEMORY_CODE).

func (s *Space) bit(pa PhysAddr) (word int, mask uint64, ok bool) {
	if pa >= s.bitmapLimit {
		return 0, 0, false
	}
	pn := uint64(pa) >> PageShift
	return int(pn / 64), 1 << (pn % 64), true
}

// IsDirty reports the client's bit for the page containing pa. Pages beyond
// the bitmap are always dirty.
func (s *Space) IsDirty(pa PhysAddr, c Client) bool {
	w, m, ok := s.bit(pa)
	if !ok {
		return true
	}
	return atomic.LoadUint64(&s.dirty[c][w])&m != 0
}

// AllDirty reports whether the page is dirty for every client, i.e. a
// store to it needs no slow-path bookkeeping.
func (s *Space) AllDirty(pa PhysAddr) bool {
	w, m, ok := s.bit(pa)
	if !ok {
		return true
	}
	for c := range s.dirty {
		if atomic.LoadUint64(&s.dirty[c][w])&m == 0 {
			return false
		}
	}
	return true
}

// SetDirty sets the client's bit for the page containing pa.
func (s *Space) SetDirty(pa PhysAddr, c Client) {
	if w, m, ok := s.bit(pa); ok {
		atomic.OrUint64(&s.dirty[c][w], m)
	}
}

// TestAndClearDirty clears the client's bit for the page containing pa and
// reports whether it was set (QEMU: cpu_physical_memory_test_and_clear_dirty
// for one page).
func (s *Space) TestAndClearDirty(pa PhysAddr, c Client) bool {
	w, m, ok := s.bit(pa)
	if !ok {
		return false
	}
	return atomic.AndUint64(&s.dirty[c][w], ^m)&m != 0
}

// TestAndClearRange clears the client's bits for every page overlapping
// [pa, pa+length) and reports whether any was set.
func (s *Space) TestAndClearRange(pa PhysAddr, length uint64, c Client) bool {
	any := false
	s.forPages(pa, length, func(w int, m uint64) {
		if atomic.AndUint64(&s.dirty[c][w], ^m)&m != 0 {
			any = true
		}
	})
	return any
}

// ClearRange clears the client's bits over a range.
func (s *Space) ClearRange(pa PhysAddr, length uint64, c Client) {
	s.TestAndClearRange(pa, length, c)
}

// SetRange sets the client's bits over a range.
func (s *Space) SetRange(pa PhysAddr, length uint64, c Client) {
	s.forPages(pa, length, func(w int, m uint64) { atomic.OrUint64(&s.dirty[c][w], m) })
}

// CountDirty returns how many pages overlapping [pa, pa+length) are dirty
// for the client (pages beyond the bitmap are not counted).
func (s *Space) CountDirty(pa PhysAddr, length uint64, c Client) int {
	n := 0
	s.forPages(pa, length, func(w int, m uint64) {
		n += bits.OnesCount64(atomic.LoadUint64(&s.dirty[c][w]) & m)
	})
	return n
}

// MarkWritten records a store of length bytes at pa for the MIGRATION and
// DISPLAY clients (QEMU: cpu_physical_memory_set_dirty_range without CODE).
func (s *Space) MarkWritten(pa PhysAddr, length uint64) {
	s.forPages(pa, length, func(w int, m uint64) {
		atomic.OrUint64(&s.dirty[ClientMigration][w], m)
		atomic.OrUint64(&s.dirty[ClientDisplay][w], m)
	})
}

// BitmapLimit is the first physical address the bitmaps do not cover.
func (s *Space) BitmapLimit() PhysAddr { return s.bitmapLimit }

// forPages calls fn with (word, mask) covering each run of pages in range.
func (s *Space) forPages(pa PhysAddr, length uint64, fn func(w int, m uint64)) {
	if length == 0 || pa >= s.bitmapLimit {
		return
	}
	end := uint64(pa) + length
	if end > uint64(s.bitmapLimit) || end < uint64(pa) {
		end = uint64(s.bitmapLimit)
	}
	first := uint64(pa) >> PageShift
	last := (end - 1) >> PageShift
	for pn := first; pn <= last; {
		w := pn / 64
		lo := pn % 64
		hi := uint64(63)
		if last/64 == w {
			hi = last % 64
		}
		var m uint64
		if hi-lo == 63 {
			m = ^uint64(0)
		} else {
			m = ((1 << (hi - lo + 1)) - 1) << lo
		}
		fn(int(w), m)
		pn = (w + 1) * 64
		if pn > last {
			break
		}
	}
}
