package loader

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"glassbox/memmap"
)

// Entry modes.
const (
	ModeReal        = "real"
	ModeProtected32 = "protected32"
	ModeLong64      = "long64"
)

// Image kinds.
const (
	KindBIOS      = "bios"
	KindMultiboot = "multiboot"
	KindELF64     = "elf64"
)

// Seg is a segment register with its descriptor cache. Attr holds
// descriptor bits 40-47 (type, S, DPL, P) in its low byte and bits 52-55
// (AVL, L, D/B, G) in bits 12-15, the layout QEMU's gdbstub/vmstate and
// Bochs use.
type Seg struct {
	Selector uint16
	Base     uint64
	Limit    uint32
	Attr     uint16
}

// EntryState is the state the boot CPU starts in. Registers not listed
// (R8-R15, DRs, FPU/SSE, LDTR, TR) are at their reset values. A20 is
// always enabled.
type EntryState struct {
	Mode                         string // ModeReal, ModeProtected32, ModeLong64
	RIP, RSP                     uint64
	RAX, RBX, RCX, RDX, RSI, RDI uint64
	RFLAGS                       uint64
	CR0, CR3, CR4, EFER          uint64
	CS, DS, ES, FS, GS, SS       Seg
	GDTBase                      uint64
	GDTLimit                     uint16
	IDTBase                      uint64
	IDTLimit                     uint16
}

// Placed records one thing the loader put into guest-physical memory.
type Placed struct {
	Name  string
	Start uint64 // guest-physical
	Size  uint64 // bytes
}

// End is one past the last byte.
func (p Placed) End() uint64 { return p.Start + p.Size }

// Image describes a loaded guest image.
type Image struct {
	Kind  string // KindBIOS, KindMultiboot, KindELF64
	Entry EntryState
	// Symbols is the path of the file that carries ELF symbols/DWARF
	// ("" for a raw ROM or a flat a.out-kludge binary).
	Symbols string
	// Regions lists what was placed where, sorted by address.
	Regions []Placed
	// ELF32 is true when the kernel file is an ELF32 (for the choice of
	// gdb target description).
	ELF32 bool

	// InfoAddr is the guest-physical address of the multiboot information
	// structure (0 for a BIOS).
	InfoAddr uint64
	// CPUs is the number of CPUs the machine has; only the boot CPU starts
	// at Entry, the others wait for INIT/SIPI.
	CPUs int
	// Warnings are things the loader ignored (e.g. a multiboot video mode
	// request), which a front end should print.
	Warnings []string
}

// Describe lists what was loaded and the entry state.
func (im *Image) Describe(w io.Writer) {
	what := im.Kind
	switch {
	case im.Kind == KindMultiboot && im.ELF32:
		what += " (ELF32)"
	case im.Kind == KindMultiboot && im.Symbols != "":
		what += " (a.out kludge, ELF64 file)"
	case im.Kind == KindMultiboot:
		what += " (a.out kludge)"
	}
	fmt.Fprintf(w, "image: %s\n", what)
	if im.Symbols != "" {
		fmt.Fprintf(w, "symbols: %s\n", im.Symbols)
	}
	if im.CPUs > 0 {
		fmt.Fprintf(w, "cpus: %d\n", im.CPUs)
	}
	e := &im.Entry
	fmt.Fprintf(w, "entry: %s RIP=%#x RSP=%#x RFLAGS=%#x\n", e.Mode, e.RIP, e.RSP, e.RFLAGS)
	fmt.Fprintf(w, "  RAX=%#x RBX=%#x RCX=%#x RDX=%#x RSI=%#x RDI=%#x\n", e.RAX, e.RBX, e.RCX, e.RDX, e.RSI, e.RDI)
	fmt.Fprintf(w, "  CR0=%#x CR3=%#x CR4=%#x EFER=%#x\n", e.CR0, e.CR3, e.CR4, e.EFER)
	for _, s := range []struct {
		n string
		s Seg
	}{{"CS", e.CS}, {"DS", e.DS}, {"ES", e.ES}, {"FS", e.FS}, {"GS", e.GS}, {"SS", e.SS}} {
		fmt.Fprintf(w, "  %s =%04x %016x %08x %04x\n", s.n, s.s.Selector, s.s.Base, s.s.Limit, s.s.Attr)
	}
	fmt.Fprintf(w, "  GDT=%016x %04x  IDT=%016x %04x\n", e.GDTBase, e.GDTLimit, e.IDTBase, e.IDTLimit)
	if im.InfoAddr != 0 {
		fmt.Fprintf(w, "multiboot info: %#x\n", im.InfoAddr)
	}
	fmt.Fprintln(w, "placed:")
	for _, p := range im.Regions {
		fmt.Fprintf(w, "  %016x-%016x %10d  %s\n", p.Start, p.End()-1, p.Size, p.Name)
	}
	for _, s := range im.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

func (im *Image) sortRegions() {
	sort.SliceStable(im.Regions, func(i, j int) bool { return im.Regions[i].Start < im.Regions[j].Start })
}

// ---- guest memory access -------------------------------------------------

// guest validates and performs the loader's stores. Nothing is written until
// every store of a load has been validated (plan, then apply).
type guest struct {
	s      *memmap.Space
	lowTop uint64 // RAM below 4 GiB: [0, lowTop)
	ops    []writeOp
}

type writeOp struct {
	pa   uint64
	data []byte // nil: zero-fill size bytes
	size uint64
	what string
}

// checkRAM reports whether [start, start+size) is backed by RAM regions of
// the space and lies below lowTop.
func (g *guest) checkRAM(start, size uint64, what string) error {
	if size == 0 {
		return nil
	}
	end := start + size
	if end < start || end > g.lowTop {
		return fmt.Errorf("%s [%#x,%#x) is outside guest RAM (RAM below 4 GiB ends at %#x)", what, start, start+size, g.lowTop)
	}
	for pa := start &^ memmap.PageMask; pa < end; pa += memmap.PageSize {
		r := g.s.Find(memmap.PhysAddr(pa))
		if r == nil || r.Kind != memmap.KindRAM {
			kind := "unassigned"
			if r != nil {
				kind = fmt.Sprintf("%s %q", r.Kind, r.Name)
			}
			at := pa
			if at < start {
				at = start
			}
			return fmt.Errorf("%s [%#x,%#x) is not all RAM: %#x is %s", what, start, end, at, kind)
		}
	}
	return nil
}

// write plans a store of data at pa.
func (g *guest) write(pa uint64, data []byte, what string) error {
	if err := g.checkRAM(pa, uint64(len(data)), what); err != nil {
		return err
	}
	if len(data) > 0 {
		g.ops = append(g.ops, writeOp{pa: pa, data: data, size: uint64(len(data)), what: what})
	}
	return nil
}

// zero plans zero-filling size bytes at pa.
func (g *guest) zero(pa, size uint64, what string) error {
	if err := g.checkRAM(pa, size, what); err != nil {
		return err
	}
	if size > 0 {
		g.ops = append(g.ops, writeOp{pa: pa, size: size, what: what})
	}
	return nil
}

var zeroChunk [64 << 10]byte

// apply performs the planned stores in order.
func (g *guest) apply() error {
	for _, op := range g.ops {
		if op.data != nil {
			if n := g.s.WriteDebug(memmap.PhysAddr(op.pa), op.data); n != len(op.data) {
				return fmt.Errorf("internal error: %s: wrote %d of %d bytes at %#x", op.what, n, len(op.data), op.pa)
			}
			continue
		}
		for done := uint64(0); done < op.size; {
			c := op.size - done
			if c > uint64(len(zeroChunk)) {
				c = uint64(len(zeroChunk))
			}
			if n := g.s.WriteDebug(memmap.PhysAddr(op.pa+done), zeroChunk[:c]); uint64(n) != c {
				return fmt.Errorf("internal error: %s: zeroed %d of %d bytes at %#x", op.what, n, c, op.pa+done)
			}
			done += c
		}
	}
	g.ops = nil
	return nil
}

// overlaps reports whether [a, a+an) and [b, b+bn) intersect.
func overlaps(a, an, b, bn uint64) bool {
	return an > 0 && bn > 0 && a < b+bn && b < a+an
}

func pageAlign(x uint64) uint64 { return (x + memmap.PageMask) &^ uint64(memmap.PageMask) }

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }
