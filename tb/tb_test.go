package tb

import (
	"fmt"
	"testing"
)

func newTB(phys, pc uint64, page2 uint64) *TB {
	return &TB{Key: Key{PhysPC: phys, PC: pc}, Page2: page2, NInsns: 1}
}

func TestInsertReportsNewCodePages(t *testing.T) {
	c := NewCache()
	if got := c.Insert(newTB(0x1000, 0x1000, NoPage)); fmt.Sprint(got) != "[4096]" {
		t.Fatalf("first TB on page 0x1000: new pages %v", got)
	}
	if got := c.Insert(newTB(0x1010, 0x1010, NoPage)); len(got) != 0 {
		t.Fatalf("second TB on the same page: new pages %v, want none", got)
	}
	// a block crossing into page 0x2000
	if got := c.Insert(newTB(0x1FF0, 0x1FF0, 0x2000)); fmt.Sprint(got) != "[8192]" {
		t.Fatalf("page-crossing TB: new pages %v, want [8192]", got)
	}
	if fmt.Sprint(c.CodePages()) != "[4096 8192]" {
		t.Fatalf("CodePages = %v", c.CodePages())
	}
	if c.Len() != 3 || c.Stats.Generated != 3 {
		t.Fatalf("Len %d Generated %d, want 3 and 3", c.Len(), c.Stats.Generated)
	}
}

func TestLookupByFullKey(t *testing.T) {
	c := NewCache()
	b := newTB(0x5000, 0x400000, NoPage)
	c.Insert(b)
	if c.Lookup(Key{PhysPC: 0x5000, PC: 0x400000}) != b {
		t.Fatal("lookup by the inserted key missed")
	}
	// same physical code reached through another linear address, or in
	// another mode, is a different translation
	if c.Lookup(Key{PhysPC: 0x5000, PC: 0x800000}) != nil {
		t.Fatal("lookup with another linear PC hit")
	}
	if c.Lookup(Key{PhysPC: 0x5000, PC: 0x400000, Flags: 1}) != nil {
		t.Fatal("lookup with other mode flags hit")
	}
	if c.Stats.Lookups != 3 || c.Stats.Hits != 1 {
		t.Fatalf("Lookups %d Hits %d, want 3 and 1", c.Stats.Lookups, c.Stats.Hits)
	}
}

// A store to the second page of a page-crossing block kills the block and
// unlinks it from its first page too.
func TestInvalidateSecondPage(t *testing.T) {
	c := NewCache()
	cross := newTB(0x1FF0, 0x1FF0, 0x2000)
	other := newTB(0x1000, 0x1000, NoPage)
	c.Insert(cross)
	c.Insert(other)
	if n := c.InvalidatePage(0x2abc, "smc 0x2abc"); n != 1 {
		t.Fatalf("InvalidatePage(0x2abc) dropped %d TBs, want 1", n)
	}
	if !cross.Invalid || cross.InvalidatedBy != "smc 0x2abc" {
		t.Fatalf("crossing TB: Invalid=%v by %q", cross.Invalid, cross.InvalidatedBy)
	}
	if other.Invalid {
		t.Fatal("the TB only on page 0x1000 was dropped")
	}
	if c.HasCode(0x2000) {
		t.Fatal("page 0x2000 still has code")
	}
	if !c.HasCode(0x1000) {
		t.Fatal("page 0x1000 lost its remaining TB")
	}
	// the first page's list no longer holds the dead block
	if n := c.InvalidatePage(0x1000, "smc 0x1000"); n != 1 {
		t.Fatalf("InvalidatePage(0x1000) dropped %d TBs, want 1", n)
	}
	if c.Len() != 0 || c.HasCode(0x1000) {
		t.Fatalf("after both pages: Len %d HasCode %v", c.Len(), c.HasCode(0x1000))
	}
	if c.InvalidatePage(0x3000, "none") != 0 {
		t.Fatal("a page without code reported dropped TBs")
	}
}

func TestReinsertReplaces(t *testing.T) {
	c := NewCache()
	a := newTB(0x1000, 0x1000, NoPage)
	b := newTB(0x1000, 0x1000, NoPage)
	c.Insert(a)
	c.Insert(b)
	if !a.Invalid || a.InvalidatedBy != "replaced" || c.Lookup(a.Key) != b || c.Len() != 1 {
		t.Fatalf("replace: a.Invalid=%v by %q, Len %d", a.Invalid, a.InvalidatedBy, c.Len())
	}
	if b.ID <= a.ID {
		t.Fatalf("IDs not increasing: %d then %d", a.ID, b.ID)
	}
}

func TestDeadHistoryRing(t *testing.T) {
	c := NewCache()
	total := HistorySize + 10
	var ids []uint64
	for i := 0; i < total; i++ {
		b := newTB(uint64(i)<<12, uint64(i)<<12, NoPage)
		c.Insert(b)
		ids = append(ids, b.ID)
		c.InvalidatePage(uint64(i)<<12, "smc")
	}
	dead := c.Dead()
	if len(dead) != HistorySize {
		t.Fatalf("Dead has %d TBs, want %d", len(dead), HistorySize)
	}
	for i, d := range dead {
		if want := ids[10+i]; d.ID != want {
			t.Fatalf("Dead[%d].ID = %d, want %d (oldest first)", i, d.ID, want)
		}
	}
	if c.ByID(ids[total-1]) == nil {
		t.Fatal("ByID misses a recently invalidated TB")
	}
	if c.ByID(ids[0]) != nil {
		t.Fatal("ByID finds a TB that fell out of the history")
	}
}

func TestFlush(t *testing.T) {
	c := NewCache()
	a := newTB(0x1000, 0x1000, NoPage)
	c.Insert(a)
	c.Flush()
	if !a.Invalid || a.InvalidatedBy != "flush" || c.Len() != 0 || c.HasCode(0x1000) || len(c.CodePages()) != 0 {
		t.Fatalf("after Flush: Invalid=%v by %q Len %d pages %v", a.Invalid, a.InvalidatedBy, c.Len(), c.CodePages())
	}
	if got := c.Insert(newTB(0x1000, 0x1000, NoPage)); len(got) != 1 {
		t.Fatalf("page not reported new after Flush: %v", got)
	}
}

func TestJumpCache(t *testing.T) {
	var j JumpCache
	pc := uint64(0xFFFFFFFF80001234)
	h := JCHash(pc)
	if h >= JCSize {
		t.Fatalf("JCHash out of range: %d", h)
	}
	j[h] = newTB(0, pc, NoPage)
	j.Clear()
	for i := range j {
		if j[i] != nil {
			t.Fatalf("slot %d set after Clear", i)
		}
	}
}

// Links: CanLink allows only same-page, single-page, valid, tabled TBs with
// a free fixed-target exit; invalidating either end or flushing drops them.
func TestLinkAndUnlink(t *testing.T) {
	c := NewCache()
	a := newTB(0x1000, 0x1000, NoPage)
	b := newTB(0x1040, 0x1040, NoPage)
	far := newTB(0x3000, 0x3000, NoPage)
	cross := newTB(0x1FF0, 0x1FF0, 0x2000)
	for _, x := range []*TB{a, b, far, cross} {
		x.JmpEIP = [2]uint64{0x1040, NoJmp}
		c.Insert(x)
	}
	if !CanLink(a, 0, b) || CanLink(a, 1, b) || CanLink(a, 0, far) || CanLink(a, 0, cross) || CanLink(cross, 0, b) {
		t.Fatal("CanLink accepts a link it must refuse, or refuses a.0 -> b")
	}
	if CanLink(a, 0, newTB(0x1040, 0x1040, NoPage)) {
		t.Fatal("CanLink accepts a TB that is not in the table")
	}
	c.Link(a, 0, b)
	if CanLink(a, 0, b) {
		t.Fatal("CanLink accepts an exit that is already linked")
	}
	if a.Jmp[0] != b || len(b.JmpFrom) != 1 || b.JmpFrom[0] != a || c.Stats.Links != 1 {
		t.Fatalf("after Link: a.Jmp %v, b.JmpFrom %v", a.Jmp, b.JmpFrom)
	}
	// invalidating the target drops the link into it
	c.InvalidatePage(0x1000, "smc")
	if a.Jmp[0] != nil || len(b.JmpFrom) != 0 {
		t.Fatalf("after invalidation: a.Jmp %v, b.JmpFrom %v", a.Jmp, b.JmpFrom)
	}
	// invalidating the source drops its link out of the target's list
	a2 := newTB(0x1000, 0x1000, NoPage)
	b2 := newTB(0x1040, 0x1040, NoPage)
	a2.JmpEIP = [2]uint64{0x1040, NoJmp}
	c.Insert(a2)
	c.Insert(b2)
	c.Link(a2, 0, b2)
	c.invalidate(a2, "test")
	if len(b2.JmpFrom) != 0 || a2.Jmp[0] != nil {
		t.Fatalf("after invalidating the source: b2.JmpFrom %v a2.Jmp %v", b2.JmpFrom, a2.Jmp)
	}
	a3 := newTB(0x1000, 0x1000, NoPage)
	a3.JmpEIP = [2]uint64{0x1040, NoJmp}
	c.Insert(a3)
	c.Link(a3, 0, b2)
	c.Flush()
	if a3.Jmp[0] != nil || len(b2.JmpFrom) != 0 {
		t.Fatal("Flush left links")
	}
}
