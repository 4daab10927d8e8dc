package tlb

import "testing"

// entry builds a RAM translation of linear page la to physical page pa.
func entry(la, pa, size uint64, global bool) Entry {
	return Entry{Read: la, Write: la, Code: la, Phys: pa, PageSize: size, Global: global, Host: make([]byte, 4096)}
}

func TestNewIsEmpty(t *testing.T) {
	tl := New()
	for i := range tl.E {
		for j := range tl.E[i] {
			if tl.E[i][j].Valid() {
				t.Fatalf("entry [%d][%d] valid in a new TLB: %v", i, j, &tl.E[i][j])
			}
		}
	}
}

func TestSlotAliasing(t *testing.T) {
	tl := New()
	a, b := uint64(0x1000), uint64(0x1000+Size*4096)
	if tl.Slot(IdxUser, a) != tl.Slot(IdxUser, b) {
		t.Fatal("pages Size*4 KiB apart must share a direct-mapped slot")
	}
	if tl.Slot(IdxUser, a) == tl.Slot(IdxSupervisor, a) {
		t.Fatal("MMU indexes must not share slots")
	}
	tl.Fill(IdxUser, a, entry(a, 0x5000, 4096, false))
	e := tl.Fill(IdxUser, b, entry(b, 0x6000, 4096, false))
	if e.VPage() != b || e.Phys != 0x6000 {
		t.Fatalf("after refill: %v", e)
	}
	if tl.Stats.Fills != 2 {
		t.Fatalf("fills = %d, want 2", tl.Stats.Fills)
	}
}

// CR3 reloads keep global pages; CR0/CR4 changes drop everything.
func TestFlushNonGlobalKeepsGlobal(t *testing.T) {
	tl := New()
	// 0xC0000000 and 0x00401000 use different slots (0 and 1)
	tl.Fill(IdxSupervisor, 0xC0000000, entry(0xC0000000, 0x100000, 4096, true))
	tl.Fill(IdxSupervisor, 0x00401000, entry(0x00401000, 0x200000, 4096, false))
	tl.FlushNonGlobal()
	if !tl.Slot(IdxSupervisor, 0xC0000000).Valid() {
		t.Error("global entry dropped by FlushNonGlobal")
	}
	if tl.Slot(IdxSupervisor, 0x00401000).Valid() {
		t.Error("non-global entry survived FlushNonGlobal")
	}
	tl.FlushAll()
	if tl.Slot(IdxSupervisor, 0xC0000000).Valid() {
		t.Error("global entry survived FlushAll")
	}
}

// INVLPG of any address inside a large page drops every 4 KiB slice of
// it that is cached, and nothing else.
func TestFlushPageLargePage(t *testing.T) {
	tl := New()
	const big = 2 << 20
	base := uint64(0x40000000)
	for _, off := range []uint64{0, 0x1000, 0x1FF000} {
		tl.Fill(IdxUser, base+off, entry(base+off, 0x800000+off, big, false))
	}
	other := base + big + 0x5000 // a slice of the next 2 MiB page (base + big would share slot 0)
	tl.Fill(IdxUser, other, entry(other, 0xA00000, big, false))
	small := uint64(0x7000)
	tl.Fill(IdxSupervisor, small, entry(small, 0x7000, 4096, false))

	tl.FlushPage(base + 0x123456)
	for _, off := range []uint64{0, 0x1000, 0x1FF000} {
		if tl.Slot(IdxUser, base+off).Valid() {
			t.Errorf("slice at +%#x of the flushed large page survived", off)
		}
	}
	if !tl.Slot(IdxUser, other).Valid() {
		t.Error("the neighbouring large page was flushed")
	}
	if !tl.Slot(IdxSupervisor, small).Valid() {
		t.Error("an unrelated 4 KiB page was flushed")
	}
	tl.FlushPage(small + 0xFFF)
	if tl.Slot(IdxSupervisor, small).Valid() {
		t.Error("FlushPage of the last byte of a 4 KiB page kept it")
	}
}

func TestNotDirtyMarking(t *testing.T) {
	tl := New()
	// two linear aliases of physical page 0x9000, in both MMU indexes
	tl.Fill(IdxUser, 0x1000, entry(0x1000, 0x9000, 4096, false))
	tl.Fill(IdxSupervisor, 0x2000, entry(0x2000, 0x9000, 4096, false))
	tl.Fill(IdxUser, 0x3000, entry(0x3000, 0xA000, 4096, false))
	ro := entry(0x4000, 0x9000, 4096, false)
	ro.Write = Invalid // read-only mapping: nothing to protect
	tl.Fill(IdxUser, 0x4000, ro)

	tl.MarkNotDirty(0x9123)
	if tl.Stats.NotDirtyMarks != 2 {
		t.Fatalf("NotDirtyMarks = %d, want 2", tl.Stats.NotDirtyMarks)
	}
	for _, c := range []struct {
		idx int
		la  uint64
	}{{IdxUser, 0x1000}, {IdxSupervisor, 0x2000}} {
		e := tl.Slot(c.idx, c.la)
		if e.Write != c.la|NotDirty || e.Read != c.la {
			t.Errorf("alias %#x: write tag %#x read tag %#x", c.la, e.Write, e.Read)
		}
	}
	if e := tl.Slot(IdxUser, 0x3000); e.Write&NotDirty != 0 {
		t.Error("another physical page was write-protected")
	}
	if e := tl.Slot(IdxUser, 0x4000); e.Write != Invalid {
		t.Errorf("read-only entry's write tag changed to %#x", e.Write)
	}
	tl.MarkNotDirty(0x9000) // already marked: not counted again
	if tl.Stats.NotDirtyMarks != 2 {
		t.Fatalf("re-marking counted: %d", tl.Stats.NotDirtyMarks)
	}
	tl.ClearNotDirty(0x9000)
	if e := tl.Slot(IdxUser, 0x1000); e.Write != 0x1000 {
		t.Errorf("write tag after ClearNotDirty = %#x", e.Write)
	}
	if e := tl.Slot(IdxUser, 0x4000); e.Write != Invalid {
		t.Errorf("ClearNotDirty made a read-only entry writable: %#x", e.Write)
	}
}

// Hits counted in entries are kept when the entries go away.
func TestHitsSurviveEviction(t *testing.T) {
	tl := New()
	e := tl.Fill(IdxUser, 0x1000, entry(0x1000, 0x1000, 4096, false))
	e.Hits = 5
	e = tl.Fill(IdxUser, 0x1000+Size*4096, entry(0x1000+Size*4096, 0x2000, 4096, false))
	e.Hits = 3
	if got := tl.TotalHits(); got != 8 {
		t.Fatalf("TotalHits after eviction = %d, want 8", got)
	}
	tl.FlushAll()
	if got := tl.TotalHits(); got != 8 {
		t.Fatalf("TotalHits after FlushAll = %d, want 8", got)
	}
}

func TestFlagString(t *testing.T) {
	for tag, want := range map[uint64]string{
		Invalid:                          "invalid",
		0x5000:                           "-",
		0x5000 | NotDirty:                "NOTDIRTY",
		0x5000 | MMIO | Watch:            "MMIO|WATCH",
		0x5000 | NotDirty | Watch:        "NOTDIRTY|WATCH",
		0x5000 | NotDirty | MMIO | Watch: "NOTDIRTY|MMIO|WATCH",
	} {
		if got := FlagString(tag); got != want {
			t.Errorf("FlagString(%#x) = %q, want %q", tag, got, want)
		}
	}
}
