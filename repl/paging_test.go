package repl

import (
	"encoding/binary"
	"testing"

	"glassbox/target"
)

// Page tables built by hand for each paging mode, checked against the
// CPU's own walker (target.Translate) and with golden output.

const (
	pP   = 1 << 0
	pRW  = 1 << 1
	pUS  = 1 << 2
	pPS  = 1 << 7
	pNX  = 1 << 63
	cr0P = 1<<0 | 1<<31
)

type pagingSetup struct {
	name  string
	cr4   uint64
	efer  uint64
	cr3   uint64
	write map[uint64]uint64 // physical address -> entry
	size  int               // entry size: 4 or 8
	probe []uint64          // linear addresses to compare
}

var pagingSetups = []pagingSetup{
	{name: "legacy", cr4: 1 << 4 /* PSE */, cr3: 0x100000, size: 4, write: map[uint64]uint64{
		0x100000 + 0*4: 0x101000 | pP | pRW | pUS, // PDE 0 -> PT
		0x101000 + 1*4: 0x5000 | pP | pRW,         // 0x1000 -> 0x5000
		0x101000 + 2*4: 0x6000 | pP,               // 0x2000 -> 0x6000 read-only
		0x101000 + 3*4: 0x7000 | pP | pRW | pUS,   // 0x3000 -> 0x7000 user
		0x100000 + 1*4: 0x800000 | pP | pRW | pPS, // 0x400000 -> 4 MiB page at 0x800000
		0x100000 + 3*4: 0x1000000 | pP | pPS,      // 0xc00000 -> 4 MiB page, read-only
	}, probe: []uint64{0, 0x1000, 0x1fff, 0x2000, 0x3004, 0x4000, 0x400000, 0x7fffff, 0x800000, 0xc12345, 0xfff000}},
	{name: "pae", cr4: 1 << 5 /* PAE */, efer: 1 << 11 /* NXE */, cr3: 0x102000, size: 8, write: map[uint64]uint64{
		0x102000 + 0*8:   0x103000 | pP, // PDPTE 0 -> PD
		0x103000 + 0*8:   0x104000 | pP | pRW,
		0x104000 + 3*8:   0x7000 | pP | pRW | pNX,    // 0x3000 -> 0x7000 no-exec
		0x104000 + 4*8:   0x8000 | pP | pRW,          // 0x4000 -> 0x8000
		0x103000 + 2*8:   0x1000000 | pP | pRW | pPS, // 0x400000 -> 2 MiB page
		0x102000 + 3*8:   0x105000 | pP,              // PDPTE 3 -> PD
		0x105000 + 511*8: 0x1200000 | pP | pPS,       // 0xffe00000 -> 2 MiB
	}, probe: []uint64{0x3000, 0x3fff, 0x4010, 0x5000, 0x400000, 0x5fffff, 0x600000, 0xffe01234, 0x80000000}},
	{name: "long", cr4: 1 << 5, efer: 1<<8 | 1<<10 | 1<<11 /* LME LMA NXE */, cr3: 0x110000, size: 8, write: map[uint64]uint64{
		0x110000 + 0*8:   0x111000 | pP | pRW | pUS, // PML4 0 -> PDPT
		0x111000 + 0*8:   0x112000 | pP | pRW | pUS, // PDPT 0 -> PD
		0x112000 + 0*8:   0x113000 | pP | pRW | pUS, // PD 0 -> PT
		0x113000 + 5*8:   0x9000 | pP | pRW | pUS,   // 0x5000 -> 0x9000
		0x112000 + 1*8:   0x200000 | pP | pPS,       // 0x200000 -> 2 MiB read-only
		0x111000 + 1*8:   0x40000000 | pP | pRW | pPS | pNX,
		0x110000 + 511*8: 0x114000 | pP | pRW, // PML4 511 -> PDPT (kernel half)
		0x114000 + 511*8: 0x80000000 | pP | pRW | pPS,
	}, probe: []uint64{0x5000, 0x5fff, 0x6000, 0x200000, 0x3fffff, 0x40000000, 0x7fffffff, 0xffffffffc0000000,
		0xffffffffffffffff, 0x8000000000}},
}

func setupPaging(t *testing.T, tg *target.Target, s pagingSetup) {
	t.Helper()
	for pa, e := range s.write {
		b := make([]byte, s.size)
		if s.size == 4 {
			binary.LittleEndian.PutUint32(b, uint32(e))
		} else {
			binary.LittleEndian.PutUint64(b, e)
		}
		if err := tg.WritePhys(pa, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		n string
		v uint64
	}{{"cr3", s.cr3}, {"cr4", s.cr4}, {"efer", s.efer}, {"cr0", cr0P}} {
		if err := tg.SetReg(0, r.n, r.v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPageWalkMatchesCPU(t *testing.T) {
	for _, s := range pagingSetups {
		t.Run(s.name, func(t *testing.T) {
			r, _, tg := demo(t)
			setupPaging(t, tg, s)
			regs, _ := tg.Regs(0)
			if s.name == "long" && regs.EFER&eferLMA == 0 {
				t.Fatalf("EFER.LMA not set (EFER=%#x)", regs.EFER)
			}
			var maps []mapping
			if err := walkTables(tg, &regs, 0, ^uint64(0), func(m mapping) { maps = append(maps, m) }); err != nil {
				t.Fatal(err)
			}
			for _, la := range s.probe {
				w, err := tg.Translate(0, la)
				if err != nil {
					t.Fatal(err)
				}
				var found *mapping
				for i := range maps {
					if la >= maps[i].VA && la-maps[i].VA < maps[i].Size {
						found = &maps[i]
					}
				}
				switch {
				case w.Fault != "" && found != nil:
					t.Errorf("%#x: the CPU faults (%s) but the walk maps it to %#x", la, w.Fault, found.PA+la-found.VA)
				case w.Fault == "" && found == nil:
					t.Errorf("%#x: the CPU maps it to %#x but the walk does not", la, w.Phys)
				case found != nil && (found.PA+la-found.VA != w.Phys || found.Size != w.PageSize):
					t.Errorf("%#x: walk %#x (%#x page), CPU %#x (%#x page)", la, found.PA+la-found.VA, found.Size, w.Phys, w.PageSize)
				}
			}
			_ = r
		})
	}
}

func TestGoldenPagingModes(t *testing.T) {
	for _, s := range pagingSetups {
		t.Run(s.name, func(t *testing.T) {
			r, out, tg := demo(t)
			setupPaging(t, tg, s)
			probe := hexAddr(s.probe[0])
			golden(t, "paging_"+s.name, transcript(r, out, []string{"info mode", "info tlb", "info mem",
				"gva2gpa " + probe, "gva2gpa " + hexAddr(s.probe[len(s.probe)-1]), "info registers"}))
		})
	}
}
