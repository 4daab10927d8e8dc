package repl

import (
	"fmt"
	"sort"
	"strings"

	"glassbox/target"
)

// memRegions lists the RAM and ROM regions, by start address.
func memRegions(t *target.Target) []regionJSON {
	mem, _ := regions(t)
	var out []regionJSON
	for _, r := range mem {
		if r.Kind == "ram" || r.Kind == "rom" {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// mergedRanges is the union of the RAM/ROM regions as [start, end] pairs.
func mergedRanges(t *target.Target) [][2]uint64 {
	var out [][2]uint64
	for _, r := range memRegions(t) {
		if n := len(out); n > 0 && r.Start <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r.End)
			continue
		}
		out = append(out, [2]uint64{r.Start, r.End})
	}
	return out
}

type dirtyRunJSON struct {
	Start          uint64 `json:"start"`
	End            uint64 `json:"end"` // inclusive
	Pages          int    `json:"pages"`
	CodeProtected  bool   `json:"code_protected"`
	MigrationDirty bool   `json:"migration_dirty"`
	DisplayDirty   bool   `json:"display_dirty"`
	HasTBs         bool   `json:"has_tbs"`
}

func runsOf(pages []target.DirtyPage) []dirtyRunJSON {
	out := []dirtyRunJSON{}
	for _, p := range pages {
		r := dirtyRunJSON{Start: p.Addr, End: p.Addr + 0xFFF, Pages: 1, CodeProtected: !p.Code,
			MigrationDirty: p.Migration, DisplayDirty: p.Display, HasTBs: p.HasTBs}
		if n := len(out); n > 0 {
			l := &out[n-1]
			if l.End+1 == r.Start && l.CodeProtected == r.CodeProtected && l.MigrationDirty == r.MigrationDirty &&
				l.DisplayDirty == r.DisplayDirty && l.HasTBs == r.HasTBs {
				l.End = r.End
				l.Pages++
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func cmdDirty(ctx *Context, args []string) error {
	client, hasClient := ctx.Value("client")
	var pages []target.DirtyPage
	if len(args) > 0 {
		lo, hi, err := rangeArgs(ctx, args, 0x1000)
		if err != nil {
			return fmt.Errorf("dirty: %v", err)
		}
		if hi-lo >= 1<<36 {
			return fmt.Errorf("dirty: range too large (at most 64 GiB)")
		}
		pages = ctx.T.Dirty(lo, hi-lo+1, true)
	} else {
		for _, r := range mergedRanges(ctx.T) {
			pages = append(pages, ctx.T.Dirty(r[0], r[1]-r[0]+1, hasClient)...)
		}
	}
	if hasClient {
		var f []target.DirtyPage
		for _, p := range pages {
			if client == "code" && !p.Code || client == "migration" && p.Migration || client == "display" && p.Display {
				f = append(f, p)
			}
		}
		pages = f
	}
	runs := runsOf(pages)
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			Ranges []dirtyRunJSON `json:"ranges"`
		}{runs})
	}
	if len(runs) == 0 {
		ctx.Printf("No pages to show.\n")
		return nil
	}
	ctx.Printf("%-10s  %-10s  %6s  %-5s  %-5s  %-5s  %s\n", "Start", "End", "Pages", "CODE", "MIGR", "DISP", "TBs")
	for _, r := range runs {
		ctx.Printf("%-10s  %-10s  %6d  %-5s  %-5s  %-5s  %s\n", hexAddr(r.Start), hexAddr(r.End), r.Pages,
			pick(r.CodeProtected, "prot", "dirty"), pick(r.MigrationDirty, "dirty", "clean"),
			pick(r.DisplayDirty, "dirty", "clean"), pick(r.HasTBs, "yes", "-"))
	}
	return nil
}

// --- dirty map ---------------------------------------------------------------

const mapCols = 64

type mapRowJSON struct {
	Addr  uint64 `json:"addr"`
	Cells string `json:"cells"`
}

type mapBlockJSON struct {
	Name         string       `json:"name"`
	Start        uint64       `json:"start"`
	End          uint64       `json:"end"`
	PagesPerCell uint64       `json:"pages_per_cell"`
	Rows         []mapRowJSON `json:"rows"`
}

var mapLegend = map[string]string{
	"C": "some page holds translated code (write-protected)",
	"W": "some page was written since the client's last clear",
	".": "clean",
	" ": "unassigned",
}

func cmdDirtyMap(ctx *Context, args []string) error {
	client, _ := ctx.Value("client")
	if client == "" {
		client = "migration"
	}
	type block struct {
		name       string
		start, end uint64 // inclusive
	}
	var blocks []block
	if len(args) == 1 {
		return fmt.Errorf("usage: %s", ctx.Cmd.Usage())
	}
	if len(args) == 2 {
		lo, hi, err := rangeArgs(ctx, args, 0)
		if err != nil {
			return fmt.Errorf("dirty map: %v", err)
		}
		if hi-lo >= 1<<36 {
			return fmt.Errorf("dirty map: range too large (at most 64 GiB)")
		}
		blocks = append(blocks, block{"range", lo &^ 0xFFF, hi | 0xFFF})
	} else {
		for _, r := range memRegions(ctx.T) {
			blocks = append(blocks, block{r.Name, r.Start, r.End})
		}
	}
	var out []mapBlockJSON
	for _, b := range blocks {
		npages := (b.end - b.start + 1) >> 12
		ppc := uint64(1)
		for (npages+ppc-1)/ppc > 16*mapCols {
			ppc *= 2
		}
		state := map[uint64]target.DirtyPage{}
		for _, p := range ctx.T.Dirty(b.start, b.end-b.start+1, true) {
			state[p.Addr] = p
		}
		mb := mapBlockJSON{Name: b.name, Start: b.start, End: b.end, PagesPerCell: ppc, Rows: []mapRowJSON{}}
		ncells := (npages + ppc - 1) / ppc
		var row strings.Builder
		rowAddr := b.start
		for c := uint64(0); c < ncells; c++ {
			if c%mapCols == 0 && c > 0 {
				mb.Rows = append(mb.Rows, mapRowJSON{rowAddr, row.String()})
				row.Reset()
				rowAddr = b.start + c*ppc<<12
			}
			ch := byte(' ')
			for k := uint64(0); k < ppc; k++ {
				pa := b.start + (c*ppc+k)<<12
				if pa > b.end {
					break
				}
				p, ok := state[pa]
				if !ok {
					continue
				}
				switch {
				case !p.Code:
					ch = 'C'
				case ch != 'C' && (client == "migration" && p.Migration || client == "display" && p.Display):
					ch = 'W'
				case ch == ' ':
					ch = '.'
				}
			}
			row.WriteByte(ch)
		}
		if row.Len() > 0 {
			mb.Rows = append(mb.Rows, mapRowJSON{rowAddr, row.String()})
		}
		out = append(out, mb)
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			Client string            `json:"client"`
			Legend map[string]string `json:"legend"`
			Blocks []mapBlockJSON    `json:"blocks"`
		}{client, mapLegend, out})
	}
	ctx.Printf("Legend: C code (write-protected)  W written since last %s clear\n", client)
	ctx.Printf("        . clean  ' ' unassigned   (everything starts written)\n")
	for _, b := range out {
		ctx.Printf("\n%s %s-%s, %s per cell:\n", b.Name, hexAddr(b.Start), hexAddr(b.End), sizeStr(b.PagesPerCell<<12))
		for _, r := range b.Rows {
			ctx.Printf("%s |%-*s|\n", hexAddr(r.Addr), mapCols, r.Cells)
		}
	}
	return nil
}

func cmdDirtyClear(ctx *Context, args []string) error {
	client, ok := ctx.Value("client")
	if !ok {
		return fmt.Errorf("dirty clear: -client migration|display is required")
	}
	var pa, n uint64
	what := "all memory"
	if len(args) > 0 {
		lo, hi, err := rangeArgs(ctx, args, 0x1000)
		if err != nil {
			return fmt.Errorf("dirty clear: %v", err)
		}
		pa, n = lo, hi-lo+1
		if n == 0 {
			n = ^uint64(0) - lo
		}
		what = fmt.Sprintf("%s-%s", hexAddr(lo), hexAddr(hi))
	}
	if err := ctx.T.ClearDirty(client, pa, n); err != nil {
		return fmt.Errorf("dirty clear: %v", err)
	}
	ctx.Printf("Cleared the %s dirty bits of %s.\n", client, what)
	return nil
}

type dirtyStatsJSON struct {
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	Start          uint64 `json:"start"`
	End            uint64 `json:"end"`
	Pages          int    `json:"pages"`
	CodeProtected  int    `json:"code_protected"`
	MigrationDirty int    `json:"migration_dirty"`
	DisplayDirty   int    `json:"display_dirty"`
	WithTBs        int    `json:"with_tbs"`
}

func cmdDirtyStats(ctx *Context, _ []string) error {
	list := []dirtyStatsJSON{}
	for _, r := range memRegions(ctx.T) {
		s := dirtyStatsJSON{Name: r.Name, Kind: r.Kind, Start: r.Start, End: r.End}
		for _, p := range ctx.T.Dirty(r.Start, r.End-r.Start+1, true) {
			s.Pages++
			if !p.Code {
				s.CodeProtected++
			}
			if p.Migration {
				s.MigrationDirty++
			}
			if p.Display {
				s.DisplayDirty++
			}
			if p.HasTBs {
				s.WithTBs++
			}
		}
		list = append(list, s)
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			Regions []dirtyStatsJSON `json:"regions"`
		}{list})
	}
	ctx.Printf("%-12s %-10s %7s %10s %10s %10s %7s\n", "Region", "Start", "Pages", "Code-prot", "Migr-dirty", "Disp-dirty", "TBs")
	for _, s := range list {
		ctx.Printf("%-12s %-10s %7d %10d %10d %10d %7d\n", s.Name, hexAddr(s.Start), s.Pages, s.CodeProtected,
			s.MigrationDirty, s.DisplayDirty, s.WithTBs)
	}
	return nil
}
