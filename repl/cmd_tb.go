package repl

import (
	"fmt"
	"strconv"
	"strings"

	"glassbox/target"
)

type tbJSON struct {
	ID            uint64   `json:"id"`
	PC            uint64   `json:"pc"`
	CSBase        uint64   `json:"cs_base"`
	Flags         uint32   `json:"flags"`
	PhysPC        uint64   `json:"phys_pc"`
	Pages         []uint64 `json:"pages"`
	Size          int      `json:"size"`
	Insns         int      `json:"insns"`
	Bits          int      `json:"bits"`
	ExecCount     uint64   `json:"exec_count"`
	Valid         bool     `json:"valid"`
	InvalidatedBy string   `json:"invalidated_by"`
	Gen           uint64   `json:"gen"`
}

func tbToJSON(x target.TBInfo) tbJSON {
	pages := x.Pages
	if pages == nil {
		pages = []uint64{}
	}
	return tbJSON{ID: x.ID, PC: x.PC, CSBase: x.CSBase, Flags: x.Flags, PhysPC: x.PhysPC, Pages: pages, Size: x.Size,
		Insns: x.NInsns, Bits: x.Mode, ExecCount: x.ExecCount, Valid: !x.Invalid, InvalidatedBy: x.Why, Gen: x.Gen}
}

func tbState(x target.TBInfo) string {
	if !x.Invalid {
		return "valid"
	}
	if x.Why != "" {
		return "invalid (" + x.Why + ")"
	}
	return "invalid"
}

// tbFlagNames decodes the TB key flags. They mirror the cpu package's
// hflags (CPL, CS32, SS32, PE, VM, LMA, CS64, single-step); the debug
// interface does not decode them yet.
func tbFlagNames(f uint32) string {
	s := []string{fmt.Sprintf("CPL%d", f&3)}
	for _, b := range []struct {
		bit  uint
		name string
	}{{2, "CS32"}, {3, "SS32"}, {4, "PE"}, {5, "VM"}, {6, "LMA"}, {7, "CS64"}, {8, "SINGLE"}} {
		if f&(1<<b.bit) != 0 {
			s = append(s, b.name)
		}
	}
	return strings.Join(s, " ")
}

func cmdTBList(ctx *Context, _ []string) error {
	if _, err := ctx.CPU(); err != nil {
		return err
	}
	list := ctx.T.TBs(ctx.Has("all"))
	if v, ok := ctx.Value("page"); ok {
		p, err := ctx.R.evalAddr(v)
		if err != nil {
			return fmt.Errorf("tb list: -page: %v", err)
		}
		p &^= 0xFFF
		var out []target.TBInfo
		for _, x := range list {
			for _, q := range x.Pages {
				if q == p {
					out = append(out, x)
					break
				}
			}
		}
		list = out
	}
	switch v, _ := ctx.Value("sort"); v {
	case "hits":
		sortBy(list, func(a, b target.TBInfo) bool { return a.ExecCount > b.ExecCount })
	case "recent":
		sortBy(list, func(a, b target.TBInfo) bool { return a.Gen > b.Gen })
	case "size":
		sortBy(list, func(a, b target.TBInfo) bool { return a.Size > b.Size })
	default:
		sortBy(list, func(a, b target.TBInfo) bool { return a.ID < b.ID })
	}
	total := len(list)
	n, err := ctx.IntFlag("n", 0)
	if err != nil {
		return err
	}
	if n > 0 && uint64(len(list)) > n {
		list = list[:n]
	}
	if ctx.JSON {
		js := []tbJSON{}
		for _, x := range list {
			js = append(js, tbToJSON(x))
		}
		return ctx.EmitJSON(struct {
			Total int      `json:"total"`
			TBs   []tbJSON `json:"tbs"`
		}{total, js})
	}
	valid := 0
	for _, x := range list {
		if !x.Invalid {
			valid++
		}
	}
	ctx.Printf("%s (%d valid, %d invalidated)", plural(len(list), "TB"), valid, len(list)-valid)
	if len(list) < total {
		ctx.Printf(", %d more not shown", total-len(list))
	}
	ctx.Printf("\n")
	if len(list) == 0 {
		return nil
	}
	ctx.Printf("%6s  %-10s  %-10s  %4s %5s %9s %4s  %s\n", "ID", "PC", "PhysPC", "Size", "Insns", "Execs", "Bits", "State")
	for _, x := range list {
		ctx.Printf("%6d  %-10s  %-10s  %4d %5d %9d %4d  %s\n", x.ID, hexAddr(x.PC), hexAddr(x.PhysPC), x.Size, x.NInsns,
			x.ExecCount, x.Mode, tbState(x))
	}
	return nil
}

// findTB resolves "ID" (decimal) or a PC (0x..., $reg expression).
func findTB(ctx *Context, arg string) (target.TBInfo, error) {
	if id, err := strconv.ParseUint(arg, 10, 64); err == nil {
		x, ok := ctx.T.TB(id)
		if !ok {
			return x, fmt.Errorf("tb show: no TB %d (it may have been flushed)", id)
		}
		return x, nil
	}
	pc, err := ctx.R.evalAddr(arg)
	if err != nil {
		return target.TBInfo{}, fmt.Errorf("tb show: %v", err)
	}
	var best *target.TBInfo
	for _, x := range ctx.T.TBs(true) {
		if x.PC != pc {
			continue
		}
		if best == nil || (best.Invalid && !x.Invalid) || (best.Invalid == x.Invalid && x.ID > best.ID) {
			x := x
			best = &x
		}
	}
	if best == nil {
		return target.TBInfo{}, fmt.Errorf("tb show: no TB starts at %s", hexAddr(pc))
	}
	return *best, nil
}

type tbShowJSON struct {
	tbJSON
	FlagNames string `json:"flag_names"`
	Bytes     string `json:"bytes"`
	Insns     []insn `json:"disassembly"`
	Chained   any    `json:"chained"`
}

func cmdTBShow(ctx *Context, args []string) error {
	x, err := findTB(ctx, args[0])
	if err != nil {
		return err
	}
	ins := disasm(x.Bytes, x.PC, x.Mode)
	if ctx.JSON {
		if ins == nil {
			ins = []insn{}
		}
		return ctx.EmitJSON(tbShowJSON{tbJSON: tbToJSON(x), FlagNames: tbFlagNames(x.Flags), Bytes: hexBytes(x.Bytes),
			Insns: ins, Chained: chainJSON(x)})
	}
	var pages []string
	for _, p := range x.Pages {
		pages = append(pages, hexAddr(p))
	}
	ctx.Printf("TB %d: %s\n", x.ID, tbState(x))
	ctx.Printf("  pc          %-12s cs_base %s\n", hexAddr(x.PC), hexAddr(x.CSBase))
	ctx.Printf("  flags       0x%08x [%s]\n", x.Flags, tbFlagNames(x.Flags))
	ctx.Printf("  phys_pc     %-12s pages   %s\n", hexAddr(x.PhysPC), strings.Join(pages, " "))
	ctx.Printf("  size        %s, %s, %d-bit code\n", plural(x.Size, "byte"), plural(x.NInsns, "instruction"), x.Mode)
	ctx.Printf("  executed    %s, generation %d\n", plural(int(x.ExecCount), "time"), x.Gen)
	printChain(ctx, x)
	ctx.Printf("  guest bytes %s\n", wrapIndent(hexBytes(x.Bytes), 66, "              "))
	printInsns(ctx, ins, ^uint64(0))
	return nil
}

type tbExitJSON struct {
	PC       uint64  `json:"pc"`
	LinkedTo *uint64 `json:"linked_to"`
}

type tbChainJSON struct {
	Exits      []tbExitJSON `json:"exits"`
	LinkedFrom []uint64     `json:"linked_from"`
}

func chainJSON(x target.TBInfo) tbChainJSON {
	j := tbChainJSON{Exits: []tbExitJSON{}, LinkedFrom: []uint64{}}
	for _, e := range x.Exits {
		ej := tbExitJSON{PC: e.PC}
		if e.To != 0 {
			to := e.To
			ej.LinkedTo = &to
		}
		j.Exits = append(j.Exits, ej)
	}
	j.LinkedFrom = append(j.LinkedFrom, x.LinkedFrom...)
	return j
}

// printChain shows the TB's direct links: where its fixed-target exits lead
// and which TBs jump here without a lookup.
func printChain(ctx *Context, x target.TBInfo) {
	if len(x.Exits) == 0 {
		ctx.Printf("  chained     no exit with a fixed target (the TB ends in an indirect or special instruction)\n")
	}
	for i, e := range x.Exits {
		label := "chained    "
		if i > 0 {
			label = "           "
		}
		if e.To != 0 {
			ctx.Printf("  %s -> %s  TB %d (direct link)\n", label, hexAddr(e.PC), e.To)
		} else {
			ctx.Printf("  %s -> %s  not linked (lookup)\n", label, hexAddr(e.PC))
		}
	}
	if len(x.LinkedFrom) > 0 {
		ids := make([]string, len(x.LinkedFrom))
		for i, id := range x.LinkedFrom {
			ids[i] = strconv.FormatUint(id, 10)
		}
		ctx.Printf("  linked from TB %s\n", strings.Join(ids, ", TB "))
	}
}

func wrapIndent(s string, width int, indent string) string {
	w := wrap(s, width)
	return strings.ReplaceAll(w, "\n", "\n"+indent)
}

type tbStatsJSON struct {
	Valid       int     `json:"valid"`
	CodePages   int     `json:"code_pages"`
	GuestBytes  int     `json:"guest_bytes"`
	GuestInsns  int     `json:"guest_insns"`
	AvgBytes    float64 `json:"avg_bytes"`
	AvgInsns    float64 `json:"avg_insns"`
	MaxBytes    int     `json:"max_bytes"`
	MaxInsns    int     `json:"max_insns"`
	DeadKept    int     `json:"invalidated_kept"`
	Lookups     uint64  `json:"lookups"`
	Hits        uint64  `json:"hits"`
	Generated   uint64  `json:"generated"`
	Invalidated uint64  `json:"invalidated"`
	Flushes     uint64  `json:"flushes"`
	SMCEvents   uint64  `json:"smc_events"`
	JCHits      uint64  `json:"jump_cache_hits"`
	JCMisses    uint64  `json:"jump_cache_misses"`
	Links       uint64  `json:"links"`
	Chained     uint64  `json:"chained_entries"`
}

func pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func cmdTBStats(ctx *Context, _ []string) error {
	st, n, pages := ctx.T.TBStats()
	all := ctx.T.TBs(true)
	j := tbStatsJSON{Valid: n, CodePages: len(pages), Lookups: st.Lookups, Hits: st.Hits, Generated: st.Generated,
		Invalidated: st.Invalidated, Flushes: st.Flushes, SMCEvents: st.SMCEvents, JCHits: st.JCHits, JCMisses: st.JCMisses,
		Links: st.Links, Chained: st.Chained}
	for _, x := range all {
		if x.Invalid {
			j.DeadKept++
			continue
		}
		j.GuestBytes += x.Size
		j.GuestInsns += x.NInsns
		j.MaxBytes = max(j.MaxBytes, x.Size)
		j.MaxInsns = max(j.MaxInsns, x.NInsns)
	}
	if n > 0 {
		j.AvgBytes = float64(int(float64(j.GuestBytes)/float64(n)*10+0.5)) / 10
		j.AvgInsns = float64(int(float64(j.GuestInsns)/float64(n)*10+0.5)) / 10
	}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	ctx.Printf("Translation buffer state:\n")
	ctx.Printf("  TB count            %d\n", j.Valid)
	ctx.Printf("  code pages          %d\n", j.CodePages)
	ctx.Printf("  TB avg guest size   %.1f bytes (max %d)\n", j.AvgBytes, j.MaxBytes)
	ctx.Printf("  TB avg insns        %.1f (max %d)\n", j.AvgInsns, j.MaxInsns)
	ctx.Printf("  invalidated kept    %d (for `tb list -all`)\n", j.DeadKept)
	ctx.Printf("  hash table          %d entries (a Go map: no fixed buckets)\n", j.Valid)
	ctx.Printf("\nStatistics:\n")
	ctx.Printf("  TB lookups          %d (%d hits, %.1f%%)\n", j.Lookups, j.Hits, pct(j.Hits, j.Lookups))
	ctx.Printf("  jump cache          %d hits, %d misses (%.1f%% hits)\n", j.JCHits, j.JCMisses, pct(j.JCHits, j.JCHits+j.JCMisses))
	ctx.Printf("  TB chaining         %d links made, %d entries through a link\n", j.Links, j.Chained)
	ctx.Printf("  TBs generated       %d\n", j.Generated)
	ctx.Printf("  TBs invalidated     %d\n", j.Invalidated)
	ctx.Printf("  TB flushes          %d\n", j.Flushes)
	ctx.Printf("  SMC events          %d\n", j.SMCEvents)
	return nil
}

func cmdTBFlush(ctx *Context, _ []string) error {
	_, n, _ := ctx.T.TBStats()
	ctx.T.FlushTBs()
	ctx.Printf("Flushed %d TBs.\n", n)
	return nil
}

type histJSON struct {
	Age   int    `json:"age"`
	ID    uint64 `json:"id"`
	Known bool   `json:"known"`
	PC    uint64 `json:"pc"`
	Insns int    `json:"insns"`
	Valid bool   `json:"valid"`
}

func cmdExecHistory(ctx *Context, _ []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	n, err := ctx.IntFlag("n", 16)
	if err != nil {
		return err
	}
	ids, err := ctx.T.History(cpu)
	if err != nil {
		return err
	}
	total := len(ids)
	if n > 0 && uint64(len(ids)) > n {
		ids = ids[uint64(len(ids))-n:]
	}
	list := []histJSON{}
	for i, id := range ids {
		h := histJSON{Age: i - len(ids), ID: id}
		if x, ok := ctx.T.TB(id); ok {
			h.Known, h.PC, h.Insns, h.Valid = true, x.PC, x.NInsns, !x.Invalid
		}
		list = append(list, h)
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			CPU     int        `json:"cpu"`
			History []histJSON `json:"history"`
		}{cpu, list})
	}
	ctx.Printf("CPU %d: last %d of %d TBs executed, oldest first\n", cpu, len(list), total)
	ctx.Printf("%4s  %6s  %-10s  %5s  %s\n", "#", "TB", "PC", "Insns", "State")
	for _, h := range list {
		if !h.Known {
			ctx.Printf("%4d  %6d  %-10s  %5s  %s\n", h.Age, h.ID, "?", "?", "gone (flushed)")
			continue
		}
		ctx.Printf("%4d  %6d  %-10s  %5d  %s  %s\n", h.Age, h.ID, hexAddr(h.PC), h.Insns, pick(h.Valid, "valid  ", "invalid"),
			ctx.R.insnAt(cpu, h.PC))
	}
	return nil
}

// insnAt disassembles one instruction at linear pc (for annotations).
func (r *REPL) insnAt(cpu int, pc uint64) string {
	regs, err := r.t.Regs(cpu)
	if err != nil {
		return ""
	}
	buf := make([]byte, 15)
	n, _ := r.t.ReadLinear(cpu, pc, buf)
	ins := disasm(buf[:n], pc, regs.Bits)
	if len(ins) == 0 {
		return ""
	}
	return ins[0].Text
}

// --- software TLB -----------------------------------------------------------

type tlbEntryJSON struct {
	MMUIdx   int    `json:"mmu_idx"`
	Slot     int    `json:"slot"`
	VPage    uint64 `json:"vpage"`
	PPage    uint64 `json:"ppage"`
	Host     string `json:"host"`
	Read     bool   `json:"read"`
	Write    bool   `json:"write"`
	Exec     bool   `json:"exec"`
	Flags    string `json:"flags"`
	PageSize uint64 `json:"page_size"`
	Global   bool   `json:"global"`
	User     bool   `json:"user"`
	Hits     uint64 `json:"hits"`
}

var mmuIdxNames = []string{"supervisor", "user"}

func cmdTLBDump(ctx *Context, _ []string) error {
	cpu, regs, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	entries, _, err := ctx.T.TLB(cpu)
	if err != nil {
		return err
	}
	idx := pick(regs.CPL == 3, 1, 0)
	page, filter := uint64(0), false
	if _, ok := ctx.Value("page"); ok {
		if page, err = ctx.IntFlag("page", 0); err != nil {
			return err
		}
		filter = true
	}
	list := []tlbEntryJSON{}
	for _, e := range entries {
		if !ctx.Has("all") && e.MMUIdx != idx {
			continue
		}
		if filter && (page < e.VPage || page-e.VPage >= max(e.PageSize, 4096)) {
			continue
		}
		list = append(list, tlbEntryJSON{e.MMUIdx, e.Slot, e.VPage, e.PPage, e.Host, e.Read, e.Write, e.Exec, e.Flags,
			e.PageSize, e.Global, e.User, e.Hits})
	}
	sortBy(list, func(a, b tlbEntryJSON) bool {
		if a.MMUIdx != b.MMUIdx {
			return a.MMUIdx < b.MMUIdx
		}
		return a.Slot < b.Slot
	})
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			CPU     int            `json:"cpu"`
			Entries []tlbEntryJSON `json:"entries"`
		}{cpu, list})
	}
	for i := 0; i < len(mmuIdxNames); i++ {
		if !ctx.Has("all") && i != idx {
			continue
		}
		var sub []tlbEntryJSON
		for _, e := range list {
			if e.MMUIdx == i {
				sub = append(sub, e)
			}
		}
		ctx.Printf("CPU %d software TLB, %s index: %d valid entries\n", cpu, mmuIdxNames[i], len(sub))
		if len(sub) == 0 {
			continue
		}
		ctx.Printf("%-5s  %-10s  %-10s  %-4s  %-4s  %-14s %4s  %-1s %-1s %9s\n",
			"Slot", "Virtual", "Physical", "Host", "Perm", "Flags", "Size", "G", "U", "Hits")
		for _, e := range sub {
			perm := pick(e.Read, "r", "-") + pick(e.Write, "w", "-") + pick(e.Exec, "x", "-")
			ctx.Printf("0x%03x  %-10s  %-10s  %-4s  %-4s  %-14s %4s  %s %s %9d\n", e.Slot, hexAddr(e.VPage), hexAddr(e.PPage),
				e.Host, perm, e.Flags, sizeStr(e.PageSize), pick(e.Global, "G", "-"), pick(e.User, "U", "-"), e.Hits)
		}
	}
	return nil
}

type tlbStatsJSON struct {
	CPU           int    `json:"cpu"`
	Valid         int    `json:"valid"`
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	Fills         uint64 `json:"fills"`
	FlushAll      uint64 `json:"flush_all"`
	FlushNonGlob  uint64 `json:"flush_nonglobal"`
	FlushPage     uint64 `json:"flush_page"`
	NotDirtyMarks uint64 `json:"notdirty_marks"`
}

func cmdTLBStats(ctx *Context, _ []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	entries, st, err := ctx.T.TLB(cpu)
	if err != nil {
		return err
	}
	j := tlbStatsJSON{CPU: cpu, Valid: len(entries), Hits: st.Hits, Misses: st.Misses, Fills: st.Fills,
		FlushAll: st.FlushAll, FlushNonGlob: st.FlushNonGlob, FlushPage: st.FlushPage, NotDirtyMarks: st.NotDirtyMarks}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	ctx.Printf("CPU %d software TLB: %d valid entries\n", cpu, j.Valid)
	ctx.Printf("  hits              %d (%.1f%% of lookups)\n", j.Hits, pct(j.Hits, j.Hits+j.Misses))
	ctx.Printf("  misses            %d\n", j.Misses)
	ctx.Printf("  fills             %d\n", j.Fills)
	ctx.Printf("  full flushes      %d\n", j.FlushAll)
	ctx.Printf("  non-global        %d (CR3 reloads)\n", j.FlushNonGlob)
	ctx.Printf("  page flushes      %d (INVLPG, code protection)\n", j.FlushPage)
	ctx.Printf("  NOTDIRTY marks    %d (entries write-protected for code)\n", j.NotDirtyMarks)
	return nil
}

func cmdTLBFlush(ctx *Context, args []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		if err := ctx.T.FlushTLB(cpu, 0, true); err != nil {
			return err
		}
		ctx.Printf("Flushed the software TLB of CPU %d.\n", cpu)
		return nil
	}
	a, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return fmt.Errorf("tlb flush: %v", err)
	}
	if err := ctx.T.FlushTLB(cpu, a, false); err != nil {
		return err
	}
	ctx.Printf("Flushed the page %s from the software TLB of CPU %d.\n", hexAddr(a&^0xFFF), cpu)
	return nil
}
