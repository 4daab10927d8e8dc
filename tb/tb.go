// Package tb holds translation blocks: straight-line runs of guest
// instructions decoded once into pre-decoded ops, cached in a table keyed
// by the physical address of their code, and invalidated when that code is
// written (QEMU's TranslationBlock, tb_htable, tb_page_add/tb_invalidate_phys_page).
//
// The package is agnostic of instruction semantics: Op is plain data whose
// Kind and operand fields the cpu package defines and interprets.
//
// # Design
//
//   - TBs are keyed by physical PC (plus linear PC, CS base and mode flags),
//     so the same code mapped at two linear addresses, or reached again after
//     a CR3 switch, is translated once; and a store to a physical page finds
//     every TB built from it, whatever linear address it was reached through.
//   - A TB may span two physical pages (an instruction crossing a page
//     boundary ends it); both pages are tracked.
//   - Invalidated TBs stay allocated while something may still run them; a
//     TB's Invalid flag makes jump-cache hits on it misses.
//
// # Concurrency
//
// A Cache is shared by all vCPUs of a machine and is only touched by the
// goroutine holding the machine's run baton.
package tb

import (
	"sort"
)

// NoPage marks an absent second page.
const NoPage = ^uint64(0)

// Operand describes one explicit operand of an Op. Kind and Reg are
// interpreted by the cpu package.
type Operand struct {
	Kind uint8
	Reg  uint8
	Size uint8 // bytes
}

// Op is one pre-decoded guest instruction. It is a fixed-size plain value:
// execution never re-decodes guest bytes and never allocates.
type Op struct {
	Kind   uint16 // instruction semantics (cpu-defined)
	Size   uint8  // operand size in bytes
	ASize  uint8  // address size in bytes
	Len    uint8  // instruction length in bytes
	Seg    uint8  // segment of the memory operand (after overrides/defaults)
	Prefix uint8  // cpu-defined prefix bits (REP, REPNE, LOCK, ...)
	Base   uint8  // memory operand base register, 0xFF if none
	Index  uint8  // memory operand index register, 0xFF if none
	Scale  uint8
	Fn     uint8 // cpu-defined specialised handler chosen at translation (0: generic)
	Hint   uint8 // cpu-defined translation-time facts about the op in its TB
	Args   [3]Operand
	Disp   int64
	Imm    uint64
	Imm2   uint64
	EIP    uint64 // offset of this instruction in CS
	Next   uint64 // offset of the next instruction in CS
}

// Key identifies a translation.
type Key struct {
	PhysPC uint64
	PC     uint64 // linear address of the first instruction
	CSBase uint64
	Flags  uint32
}

// TB is one translation block.
type TB struct {
	ID     uint64
	Key    Key
	Page2  uint64 // physical page of the block's tail, or NoPage
	Size   int    // guest bytes covered
	Bytes  []byte // the guest bytes at translation time
	Ops    []Op
	NInsns int
	// Mode is the decode width in bits (16, 32 or 64).
	Mode int

	ExecCount uint64
	Invalid   bool
	// Gen is the generation serial: TBs sort by it for "recent".
	Gen uint64
	// InvalidatedBy describes why the TB was dropped ("smc 0x1234", "flush").
	InvalidatedBy string

	// Chaining (QEMU: jmp_target_arg, tb_add_jump). An exit whose target
	// is fixed at translation (a direct JMP/CALL, the taken and not-taken
	// sides of a Jcc or LOOP) has its target offset in CS in JmpEIP[i]
	// (NoJmp otherwise). Jmp[i] is the TB that exit was found to lead to,
	// linked only when both blocks lie in the same single physical page;
	// the executor then enters Jmp[i] without a lookup. JmpFrom lists the
	// TBs linking here, so invalidating either end drops the link.
	JmpEIP  [2]uint64
	Jmp     [2]*TB
	JmpFrom []*TB

	// LastBranch: the last op sets EIP itself; otherwise EIP becomes
	// FallEIP when the whole TB has run (cpu-maintained).
	LastBranch bool
	FallEIP    uint64
}

// NoJmp marks an exit without a translation-time target.
const NoJmp = ^uint64(0)

// CanLink reports whether exit i of from may be linked to to: both are
// in the table, one page each, on the same linear and physical page.
func CanLink(from *TB, i int, to *TB) bool {
	return from.JmpEIP[i] != NoJmp && from.Jmp[i] == nil && from.ID != 0 && to.ID != 0 &&
		!from.Invalid && !to.Invalid && from.Page2 == NoPage && to.Page2 == NoPage &&
		from.Key.PC&^0xFFF == to.Key.PC&^0xFFF && from.Key.PhysPC&^0xFFF == to.Key.PhysPC&^0xFFF
}

// Link makes exit i of from lead straight to to (the caller checked
// CanLink and that the exit's target is to's PC).
func (c *Cache) Link(from *TB, i int, to *TB) {
	from.Jmp[i] = to
	to.JmpFrom = append(to.JmpFrom, from)
	c.Stats.Links++
}

// unlink drops every link into and out of t.
func unlink(t *TB) {
	for _, f := range t.JmpFrom {
		for i := range f.Jmp {
			if f.Jmp[i] == t {
				f.Jmp[i] = nil
			}
		}
	}
	t.JmpFrom = nil
	for i, to := range t.Jmp {
		if to == nil {
			continue
		}
		l := to.JmpFrom
		for j, x := range l {
			if x == t {
				to.JmpFrom = append(l[:j], l[j+1:]...)
				break
			}
		}
		t.Jmp[i] = nil
	}
}

// Pages returns the physical pages the block was built from.
func (t *TB) Pages() []uint64 {
	p0 := t.Key.PhysPC &^ 0xFFF
	if t.Page2 != NoPage && t.Page2 != p0 {
		return []uint64{p0, t.Page2}
	}
	return []uint64{p0}
}

// Stats counts translation events.
type Stats struct {
	Lookups     uint64 // table lookups (jump-cache misses)
	Hits        uint64 // table hits
	Generated   uint64
	Invalidated uint64
	Flushes     uint64
	SMCEvents   uint64 // stores that hit a code page and invalidated TBs
	JCHits      uint64 // jump-cache hits (maintained by the cpu)
	JCMisses    uint64
	Links       uint64 // direct links made between TBs (chaining)
	Chained     uint64 // TB entries through a link (no lookup; maintained by the cpu)
}

// HistorySize is how many invalidated TBs are kept for inspection.
const HistorySize = 256

// Cache is the machine-wide TB table.
type Cache struct {
	table   map[Key]*TB
	pages   map[uint64][]*TB
	nextID  uint64
	dead    []*TB // ring of recently invalidated TBs, for inspection
	deadPos int
	Stats   Stats
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{table: make(map[Key]*TB, 4096), pages: make(map[uint64][]*TB, 256)}
}

// Lookup finds a valid TB for k. The caller verifies the second page of
// two-page blocks.
func (c *Cache) Lookup(k Key) *TB {
	c.Stats.Lookups++
	t := c.table[k]
	if t != nil {
		c.Stats.Hits++
	}
	return t
}

// Insert adds a freshly generated TB and links it to its pages. It returns
// the pages that held no code before (the caller must write-protect them:
// QEMU's tlb_protect_code).
func (c *Cache) Insert(t *TB) (newPages []uint64) {
	c.nextID++
	t.ID = c.nextID
	t.Gen = c.nextID
	if old := c.table[t.Key]; old != nil {
		c.invalidate(old, "replaced")
	}
	c.table[t.Key] = t
	for _, p := range t.Pages() {
		if len(c.pages[p]) == 0 {
			newPages = append(newPages, p)
		}
		c.pages[p] = append(c.pages[p], t)
	}
	c.Stats.Generated++
	return newPages
}

// HasCode reports whether any valid TB was built from physical page pa.
func (c *Cache) HasCode(pa uint64) bool { return len(c.pages[pa&^0xFFF]) > 0 }

// InvalidatePage drops every TB built from physical page pa and returns
// how many were dropped.
func (c *Cache) InvalidatePage(pa uint64, why string) int {
	page := pa &^ 0xFFF
	list := c.pages[page]
	if len(list) == 0 {
		return 0
	}
	n := 0
	for _, t := range append([]*TB(nil), list...) {
		if !t.Invalid {
			c.invalidate(t, why)
			n++
		}
	}
	delete(c.pages, page)
	return n
}

func (c *Cache) invalidate(t *TB, why string) {
	t.Invalid = true
	t.InvalidatedBy = why
	unlink(t)
	if c.table[t.Key] == t {
		delete(c.table, t.Key)
	}
	for _, p := range t.Pages() {
		l := c.pages[p]
		for i, x := range l {
			if x == t {
				l = append(l[:i], l[i+1:]...)
				break
			}
		}
		if len(l) == 0 {
			delete(c.pages, p)
		} else {
			c.pages[p] = l
		}
	}
	c.Stats.Invalidated++
	if len(c.dead) < HistorySize {
		c.dead = append(c.dead, t)
	} else {
		c.dead[c.deadPos] = t
		c.deadPos = (c.deadPos + 1) % HistorySize
	}
}

// Flush drops every TB (QEMU: tb_flush).
func (c *Cache) Flush() {
	for _, t := range c.table {
		t.Invalid = true
		t.InvalidatedBy = "flush"
	}
	for _, t := range c.table {
		unlink(t)
	}
	clear(c.table)
	clear(c.pages)
	c.Stats.Flushes++
}

// CodePages lists the physical pages currently holding translated code.
func (c *Cache) CodePages() []uint64 {
	ps := make([]uint64, 0, len(c.pages))
	for p := range c.pages {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// All returns the valid TBs, ordered by ID.
func (c *Cache) All() []*TB {
	ts := make([]*TB, 0, len(c.table))
	for _, t := range c.table {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	return ts
}

// Dead returns recently invalidated TBs (oldest first), for inspection.
func (c *Cache) Dead() []*TB {
	if len(c.dead) < HistorySize {
		return append([]*TB(nil), c.dead...)
	}
	return append(append([]*TB(nil), c.dead[c.deadPos:]...), c.dead[:c.deadPos]...)
}

// Len is the number of valid TBs.
func (c *Cache) Len() int { return len(c.table) }

// ByID finds a valid or recently invalidated TB.
func (c *Cache) ByID(id uint64) *TB {
	for _, t := range c.table {
		if t.ID == id {
			return t
		}
	}
	for _, t := range c.dead {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// JCBits sizes the per-vCPU jump cache.
const (
	JCBits = 12
	JCSize = 1 << JCBits
)

// JumpCache is a per-vCPU direct-mapped cache from linear PC to TB
// (QEMU's tb_jmp_cache), consulted before the shared table.
type JumpCache [JCSize]*TB

// Hash is the jump-cache slot of a linear PC.
func JCHash(pc uint64) uint64 { return (pc ^ (pc >> JCBits)) & (JCSize - 1) }

// Clear empties the jump cache (CR3 switches, flushes).
func (j *JumpCache) Clear() {
	for i := range j {
		j[i] = nil
	}
}
