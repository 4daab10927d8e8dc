// Package tlb is the per-vCPU software TLB: a direct-mapped cache from
// guest linear pages to what backs them (a host RAM/ROM page, or an MMIO
// region reached through the slow path), with QEMU-style flag bits folded
// into the comparison tags.
//
// # How a lookup works
//
// An entry has three tags, one per access kind (read, write, code fetch).
// A tag is the page-aligned linear address when the access may use the fast
// path, or that address with flag bits set (NOTDIRTY, MMIO, WATCH) when it
// must go through the slow path, or Invalid when the access is not allowed
// by the cached translation (the slow path re-walks the page tables and
// raises the fault). The fast path is therefore a single compare:
//
//	e := &t.E[idx][(la>>12)&Mask]
//	if e.Read == la&^PageMask { ... e.Host[la&PageMask] ... }
//
// The cpu package performs that compare inline; this package owns the
// entry layout, filling, flushing and statistics.
//
// # Concurrency
//
// A TLB belongs to one vCPU. Other goroutines may modify it (code
// protection, flushes requested by other vCPUs) only while they hold the
// machine's run baton, i.e. while its vCPU is not executing.
package tlb

import "fmt"

// Geometry.
const (
	Bits     = 9
	Size     = 1 << Bits
	Mask     = Size - 1
	PageMask = 0xFFF
)

// MMU indexes: one TLB array per privilege class, like QEMU's mmu_idx.
const (
	IdxSupervisor = 0 // CPL 0-2 and implicit supervisor accesses
	IdxUser       = 1 // CPL 3
	NumIdx        = 2
)

// Flag bits, stored in the low bits of a tag (never set in a page address).
const (
	Invalid  uint64 = 1 << 0 // no access through this tag
	NotDirty uint64 = 1 << 1 // write: page holds code or is clean for a dirty client
	MMIO     uint64 = 1 << 2 // not RAM: go through the address space
	Watch    uint64 = 1 << 3 // a watchpoint covers part of this page
	FlagMask uint64 = 0xF
)

// Entry is one cached translation.
type Entry struct {
	Read, Write, Code uint64 // tags: page | flags, or Invalid
	// Host is the 4 KiB backing page for RAM/ROM; nil for MMIO/unassigned.
	Host []byte
	// Phys is the guest-physical page address.
	Phys uint64
	// PageSize is the size of the guest page that produced this entry
	// (4 KiB, 2 MiB, 4 MiB or 1 GiB); entries are always 4 KiB slices of it.
	PageSize uint64
	Global   bool   // CR4.PGE global page: survives CR3 reloads
	User     bool   // U/S bit of the translation
	Hits     uint64 // fast- and slow-path hits since fill
}

// Valid reports whether the entry holds any translation.
func (e *Entry) Valid() bool {
	return e.Read != Invalid || e.Write != Invalid || e.Code != Invalid
}

// VPage is the linear page address the entry maps.
func (e *Entry) VPage() uint64 {
	for _, t := range [...]uint64{e.Read, e.Code, e.Write} {
		if t != Invalid {
			return t &^ FlagMask
		}
	}
	return 0
}

func (e *Entry) clear() { *e = Entry{Read: Invalid, Write: Invalid, Code: Invalid} }

// Stats counts TLB events.
type Stats struct {
	Hits          uint64 // hits accumulated from entries that were evicted or flushed
	Misses        uint64
	Fills         uint64
	FlushAll      uint64
	FlushNonGlob  uint64
	FlushPage     uint64
	NotDirtyMarks uint64 // entries write-protected for code
}

// TLB is one vCPU's software TLB.
type TLB struct {
	E     [NumIdx][Size]Entry
	Stats Stats
}

// New returns an empty TLB.
func New() *TLB {
	t := &TLB{}
	t.FlushAll()
	return t
}

// Slot returns the entry a linear address maps to for an MMU index.
func (t *TLB) Slot(idx int, la uint64) *Entry { return &t.E[idx][(la>>12)&Mask] }

// Fill installs translation e in the slot for la, folding the hits of the
// entry it evicts into Stats. e's tags say which accesses the translation
// permits and with which slow-path flags.
func (t *TLB) Fill(idx int, la uint64, e Entry) *Entry {
	s := t.Slot(idx, la)
	t.Stats.Hits += s.Hits
	t.Stats.Fills++
	*s = e
	return s
}

// FlushAll invalidates every entry (CR0/CR4 changes, mode changes).
func (t *TLB) FlushAll() {
	for i := range t.E {
		for j := range t.E[i] {
			t.Stats.Hits += t.E[i][j].Hits
			t.E[i][j].clear()
		}
	}
	t.Stats.FlushAll++
}

// FlushNonGlobal invalidates every entry not marked global (CR3 reload).
func (t *TLB) FlushNonGlobal() {
	for i := range t.E {
		for j := range t.E[i] {
			if !t.E[i][j].Global {
				t.Stats.Hits += t.E[i][j].Hits
				t.E[i][j].clear()
			}
		}
	}
	t.Stats.FlushNonGlob++
}

// FlushPage invalidates the entries for one linear page (INVLPG). Large
// guest pages are cached as 4 KiB slices, so every slice of a large page
// is dropped too.
func (t *TLB) FlushPage(la uint64) {
	page := la &^ PageMask
	for i := range t.E {
		for j := range t.E[i] {
			e := &t.E[i][j]
			if !e.Valid() {
				continue
			}
			vp := e.VPage()
			if vp == page || (e.PageSize > 4096 && vp&^(e.PageSize-1) == la&^(e.PageSize-1)) {
				t.Stats.Hits += e.Hits
				e.clear()
			}
		}
	}
	t.Stats.FlushPage++
}

// MarkNotDirty sets NOTDIRTY on every write tag mapping physical page pa,
// so stores to it take the slow path (QEMU: tlb_reset_dirty for CODE).
func (t *TLB) MarkNotDirty(pa uint64) {
	page := pa &^ PageMask
	for i := range t.E {
		for j := range t.E[i] {
			e := &t.E[i][j]
			if e.Write != Invalid && e.Phys == page && e.Write&NotDirty == 0 {
				e.Write |= NotDirty
				t.Stats.NotDirtyMarks++
			}
		}
	}
}

// ClearNotDirty removes NOTDIRTY from write tags mapping pa once the page
// is dirty for every client again (QEMU: tlb_set_dirty).
func (t *TLB) ClearNotDirty(pa uint64) {
	page := pa &^ PageMask
	for i := range t.E {
		for j := range t.E[i] {
			e := &t.E[i][j]
			if e.Write != Invalid && e.Phys == page {
				e.Write &^= NotDirty
			}
		}
	}
}

// TotalHits is the number of hits recorded so far.
func (t *TLB) TotalHits() uint64 {
	h := t.Stats.Hits
	for i := range t.E {
		for j := range t.E[i] {
			h += t.E[i][j].Hits
		}
	}
	return h
}

// FlagString renders a tag's flags as "NOTDIRTY|MMIO|WATCH" ("-" if none).
func FlagString(tag uint64) string {
	if tag == Invalid {
		return "invalid"
	}
	s := ""
	add := func(f uint64, n string) {
		if tag&f != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	add(NotDirty, "NOTDIRTY")
	add(MMIO, "MMIO")
	add(Watch, "WATCH")
	if s == "" {
		return "-"
	}
	return s
}

// String summarises an entry for debugging.
func (e *Entry) String() string {
	return fmt.Sprintf("vpage=%#x phys=%#x r=%s w=%s x=%s", e.VPage(), e.Phys,
		FlagString(e.Read), FlagString(e.Write), FlagString(e.Code))
}
