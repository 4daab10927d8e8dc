package repl

import (
	"encoding/binary"
	"fmt"
	"strings"

	"glassbox/target"
)

func longMode(r *target.Regs) bool { return r.EFER&eferLMA != 0 }

// qemuGPROrder is the order QEMU prints GPRs in (encoding indexes).
var qemuGPROrder = []int{0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15}

type flagsJSON struct {
	Value uint64   `json:"value"`
	Bits  []string `json:"bits"`
}

type segJSON struct {
	Selector uint16 `json:"selector"`
	descJSON
}

type tableRegJSON struct {
	Base  uint64 `json:"base"`
	Limit uint32 `json:"limit"`
}

type regsJSON struct {
	CPU           int                `json:"cpu"`
	Mode          string             `json:"mode"`
	Bits          int                `json:"bits"`
	CPL           int                `json:"cpl"`
	Halted        bool               `json:"halted"`
	ICount        uint64             `json:"icount"`
	A20           bool               `json:"a20"`
	GPR           map[string]uint64  `json:"gpr"`
	RIP           uint64             `json:"rip"`
	PC            uint64             `json:"pc"`
	RFLAGS        flagsJSON          `json:"rflags"`
	IOPL          int                `json:"iopl"`
	Segments      map[string]segJSON `json:"segments"`
	GDTR          tableRegJSON       `json:"gdtr"`
	IDTR          tableRegJSON       `json:"idtr"`
	CR0           flagsJSON          `json:"cr0"`
	CR2           uint64             `json:"cr2"`
	CR3           uint64             `json:"cr3"`
	CR4           flagsJSON          `json:"cr4"`
	CR8           uint64             `json:"cr8"`
	EFER          flagsJSON          `json:"efer"`
	DR            []uint64           `json:"dr"`
	FSBase        uint64             `json:"fs_base"`
	GSBase        uint64             `json:"gs_base"`
	KernelGSBase  uint64             `json:"kernel_gs_base"`
	LastException int                `json:"last_exception"`
}

func cmdInfoRegisters(ctx *Context, _ []string) error {
	_, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	long := longMode(&r)
	segs := []struct {
		name string
		s    target.Seg
	}{{"es", r.Seg[0]}, {"cs", r.Seg[1]}, {"ss", r.Seg[2]}, {"ds", r.Seg[3]}, {"fs", r.Seg[4]}, {"gs", r.Seg[5]},
		{"ldtr", r.LDTR}, {"tr", r.TR}}
	if ctx.JSON {
		j := regsJSON{CPU: r.CPU, Mode: r.Mode, Bits: r.Bits, CPL: r.CPL, Halted: r.Halted, ICount: r.ICount, A20: r.A20,
			GPR: map[string]uint64{}, RIP: r.RIP, PC: r.PC,
			RFLAGS: flagsJSON{r.RFLAGS, bitNames(r.RFLAGS, rflagsBits)}, IOPL: int(r.RFLAGS >> 12 & 3),
			Segments: map[string]segJSON{},
			GDTR:     tableRegJSON{r.GDTBase, r.GDTLim}, IDTR: tableRegJSON{r.IDTBase, r.IDTLim},
			CR0: flagsJSON{r.CR0, bitNames(r.CR0, cr0Bits)}, CR2: r.CR2, CR3: r.CR3,
			CR4: flagsJSON{r.CR4, bitNames(r.CR4, cr4Bits)}, CR8: r.CR8, EFER: flagsJSON{r.EFER, bitNames(r.EFER, eferBits)},
			DR: r.DR[:], FSBase: r.Seg[4].Base, GSBase: r.Seg[5].Base, KernelGSBase: r.KGSBase, LastException: r.LastException}
		for i, n := range gprNames[0] {
			j.GPR[n] = r.GPR[i]
		}
		for _, s := range segs {
			j.Segments[s.name] = segJSON{s.s.Sel, attrDesc(s.s.Base, s.s.Limit, s.s.Attr).json(long)}
		}
		return ctx.EmitJSON(j)
	}
	ctx.Printf("CPU %d: %s, %d-bit code, CPL %d, %d instructions executed%s\n", r.CPU, r.Mode, r.Bits, r.CPL, r.ICount,
		pick(r.Halted, ", halted", ""))
	if long {
		for i, k := range qemuGPROrder {
			name := strings.ToUpper(gprNames[0][k])
			ctx.Printf("%-3s=%016x", name, r.GPR[k])
			if i%3 == 2 || i == len(qemuGPROrder)-1 {
				ctx.Printf("\n")
			} else {
				ctx.Printf(" ")
			}
		}
		ctx.Printf("RIP=%016x RFL=%08x %s\n", r.RIP, r.RFLAGS, flagsString(r.RFLAGS))
	} else {
		for i, k := range qemuGPROrder[:8] {
			ctx.Printf("%s=%08x", strings.ToUpper(gprNames[1][k]), uint32(r.GPR[k]))
			if i%4 == 3 {
				ctx.Printf("\n")
			} else {
				ctx.Printf(" ")
			}
		}
		ctx.Printf("EIP=%08x EFL=%08x %s\n", uint32(r.RIP), uint32(r.RFLAGS), flagsString(r.RFLAGS))
	}
	ctx.Printf("CPL=%d A20=%d HLT=%d PC=%s\n", r.CPL, pick(r.A20, 1, 0), pick(r.Halted, 1, 0), hexAddr(r.PC))
	for _, s := range segs {
		label := strings.ToUpper(s.name)
		switch s.name {
		case "ldtr":
			label = "LDT"
		case "tr":
			label = "TR "
		default:
			label += " "
		}
		d := attrDesc(s.s.Base, s.s.Limit, s.s.Attr)
		base := fmt.Sprintf("%08x", s.s.Base)
		if long {
			base = fmt.Sprintf("%016x", s.s.Base)
		}
		ctx.Printf("%s=%04x %s %08x %08x DPL=%d %s %s\n", label, s.s.Sel, base, s.s.Limit, d.qemuFlags(), d.dpl(),
			d.typeName(long), d.bitsString())
	}
	if long {
		ctx.Printf("GDT=     %016x %08x\nIDT=     %016x %08x\n", r.GDTBase, r.GDTLim, r.IDTBase, r.IDTLim)
	} else {
		ctx.Printf("GDT=     %08x %08x\nIDT=     %08x %08x\n", r.GDTBase, r.GDTLim, r.IDTBase, r.IDTLim)
	}
	ctx.Printf("CR0=%08x [%s]\n", r.CR0, strings.Join(bitNames(r.CR0, cr0Bits), " "))
	if long {
		ctx.Printf("CR2=%016x CR3=%016x CR8=%x\n", r.CR2, r.CR3, r.CR8)
	} else {
		ctx.Printf("CR2=%08x CR3=%08x CR8=%x\n", r.CR2, r.CR3, r.CR8)
	}
	ctx.Printf("CR4=%08x [%s]\n", r.CR4, strings.Join(bitNames(r.CR4, cr4Bits), " "))
	ctx.Printf("EFER=%016x [%s]\n", r.EFER, strings.Join(bitNames(r.EFER, eferBits), " "))
	w := pick(long, 16, 8)
	if long {
		ctx.Printf("DR0=%016x DR1=%016x\nDR2=%016x DR3=%016x\n", r.DR[0], r.DR[1], r.DR[2], r.DR[3])
	} else {
		ctx.Printf("DR0=%08x DR1=%08x DR2=%08x DR3=%08x\n", r.DR[0], r.DR[1], r.DR[2], r.DR[3])
	}
	ctx.Printf("DR6=%0*x DR7=%0*x\n", w, r.DR[6], w, r.DR[7])
	if long {
		ctx.Printf("FS_BASE=%016x GS_BASE=%016x\nKERNEL_GS_BASE=%016x\n", r.Seg[4].Base, r.Seg[5].Base, r.KGSBase)
	} else {
		ctx.Printf("FS_BASE=%08x GS_BASE=%08x KERNEL_GS_BASE=%08x\n", r.Seg[4].Base, r.Seg[5].Base, r.KGSBase)
	}
	if r.LastException >= 0 {
		ctx.Printf("last exception: %d %s\n", r.LastException, excName(r.LastException))
	}
	if ctx.Has("a") {
		// QEMU's layout: FPRn is physical register n, FTW the abridged
		// tag (bit n set: FPRn valid), XMM high qword first.
		f := &r.FPU
		top := int(f.FSW >> 11 & 7)
		var tag uint8
		for i := 0; i < 8; i++ {
			if f.FTW>>(2*i)&3 != 3 {
				tag |= 1 << i
			}
		}
		ctx.Printf("FCW=%04x FSW=%04x [ST=%d] FTW=%02x MXCSR=%08x\n", f.FCW, f.FSW, top, tag, f.MXCSR)
		for i := 0; i < 8; i++ {
			st := f.ST[(i-top)&7]
			ctx.Printf("FPR%d=%016x %04x%s", i, st.M, st.SE, pick(i&1 == 1, "\n", " "))
		}
		n := pick(long, 16, 8)
		for i := 0; i < n; i++ {
			ctx.Printf("XMM%02d=%016x%016x%s", i, f.XMM[i][1], f.XMM[i][0], pick(i&1 == 1, "\n", " "))
		}
	}
	return nil
}

var excNames = []string{"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "", "#TS", "#NP", "#SS", "#GP",
	"#PF", "", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"}

func excName(v int) string {
	if v >= 0 && v < len(excNames) {
		return excNames[v]
	}
	return ""
}

// --- info cpus / mode --------------------------------------------------------

type cpuJSON struct {
	CPU      int    `json:"cpu"`
	Current  bool   `json:"current"`
	State    string `json:"state"`
	Mode     string `json:"mode"`
	PC       uint64 `json:"pc"`
	ICount   uint64 `json:"icount"`
	Halted   bool   `json:"halted"`
	CPL      int    `json:"cpl"`
	CodeBits int    `json:"bits"`
}

func cmdInfoCPUs(ctx *Context, _ []string) error {
	var list []cpuJSON
	for i := 0; i < ctx.T.NumCPUs(); i++ {
		r, err := ctx.T.Regs(i)
		if err != nil {
			return err
		}
		state := "stopped"
		if r.Halted {
			state = "halted"
		}
		if st := ctx.T.LastStop(); st != nil && st.Terminal() {
			state = "exited"
		}
		list = append(list, cpuJSON{CPU: i, Current: i == ctx.R.cpu, State: state, Mode: r.Mode, PC: r.PC,
			ICount: r.ICount, Halted: r.Halted, CPL: r.CPL, CodeBits: r.Bits})
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			CPUs []cpuJSON `json:"cpus"`
		}{list})
	}
	ctx.Printf("  %-4s %-8s %-12s %-19s %12s\n", "CPU", "State", "Mode", "PC", "Instructions")
	for _, c := range list {
		ctx.Printf("%s %-4d %-8s %-12s %-19s %12d\n", pick(c.Current, "*", " "), c.CPU, c.State, c.Mode, hexAddr(c.PC), c.ICount)
	}
	return nil
}

func pagingMode(r *target.Regs) string {
	switch {
	case r.CR0&cr0PG == 0 || r.CR0&cr0PE == 0:
		return "off"
	case r.EFER&eferLMA != 0 && r.CR4&cr4LA57 != 0:
		return "5-level"
	case r.EFER&eferLMA != 0:
		return "4-level"
	case r.CR4&cr4PAE != 0:
		return "PAE"
	}
	return "32-bit"
}

type modeJSON struct {
	CPU    int    `json:"cpu"`
	Mode   string `json:"mode"`
	Bits   int    `json:"bits"`
	CPL    int    `json:"cpl"`
	Paging string `json:"paging"`
	PE     bool   `json:"pe"`
	PG     bool   `json:"pg"`
	PAE    bool   `json:"pae"`
	PSE    bool   `json:"pse"`
	LME    bool   `json:"lme"`
	LMA    bool   `json:"lma"`
	NXE    bool   `json:"nxe"`
	CR3    uint64 `json:"cr3"`
	A20    bool   `json:"a20"`
	IF     bool   `json:"if"`
	Halted bool   `json:"halted"`
}

func cmdInfoMode(ctx *Context, _ []string) error {
	cpu, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	j := modeJSON{CPU: cpu, Mode: r.Mode, Bits: r.Bits, CPL: r.CPL, Paging: pagingMode(&r),
		PE: r.CR0&cr0PE != 0, PG: r.CR0&cr0PG != 0, PAE: r.CR4&cr4PAE != 0, PSE: r.CR4&cr4PSE != 0,
		LME: r.EFER&(1<<8) != 0, LMA: r.EFER&eferLMA != 0, NXE: r.EFER&eferNXE != 0, CR3: r.CR3, A20: r.A20,
		IF: r.InterruptsEnabled(), Halted: r.Halted}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	b := func(v bool) int { return pick(v, 1, 0) }
	ctx.Printf("CPU %d: %s, %d-bit code, CPL %d, interrupts %s%s\n", cpu, r.Mode, r.Bits, r.CPL,
		pick(j.IF, "enabled", "disabled"), pick(r.Halted, ", halted", ""))
	ctx.Printf("paging: %s (PE=%d PG=%d PAE=%d PSE=%d LME=%d LMA=%d NXE=%d), CR3=%s\n", j.Paging,
		b(j.PE), b(j.PG), b(j.PAE), b(j.PSE), b(j.LME), b(j.LMA), b(j.NXE), hexAddr(r.CR3))
	ctx.Printf("A20: %s\n", pick(r.A20, "enabled", "disabled (address bit 20 is forced to 0)"))
	return nil
}

// --- descriptor tables ---------------------------------------------------

type descEntryJSON struct {
	Index    int    `json:"index"`
	Selector uint16 `json:"selector"`
	Raw      uint64 `json:"raw"`
	RawHigh  uint64 `json:"raw_high,omitempty"`
	Null     bool   `json:"null"`
	descJSON
}

type descTableJSON struct {
	CPU      int             `json:"cpu"`
	Table    string          `json:"table"`
	Base     uint64          `json:"base"`
	Limit    uint32          `json:"limit"`
	Selector uint16          `json:"selector,omitempty"`
	Entries  []descEntryJSON `json:"entries"`
}

// readTable reads a descriptor table through the vCPU's page tables.
func readTable(ctx *Context, cpu int, base uint64, limit uint32) ([]byte, error) {
	n := uint64(limit) + 1
	if n > 1<<16 {
		n = 1 << 16
	}
	buf := make([]byte, n)
	got, err := ctx.T.ReadLinear(cpu, base, buf)
	if err != nil {
		return nil, fmt.Errorf("cannot read the table at %s: %v (%d bytes readable)", hexAddr(base), err, got)
	}
	return buf, nil
}

func descEntries(buf []byte, long bool, ldt bool) []descEntryJSON {
	out := []descEntryJSON{}
	for off := 0; off+8 <= len(buf); off += 8 {
		raw := binary.LittleEndian.Uint64(buf[off:])
		d := decodeDesc(raw)
		e := descEntryJSON{Index: off / 8, Selector: uint16(off) | pick[uint16](ldt, 4, 0), Raw: raw, Null: raw == 0}
		e.descJSON = d.json(long)
		if long && d.system() && raw != 0 && off+16 <= len(buf) {
			hi := binary.LittleEndian.Uint64(buf[off+8:])
			e.RawHigh = hi
			e.Base |= (hi & 0xFFFFFFFF) << 32
			out = append(out, e)
			off += 8
			continue
		}
		out = append(out, e)
	}
	return out
}

func printDescEntries(ctx *Context, es []descEntryJSON, long bool) {
	aw := pick(long, 18, 10)
	ctx.Printf("%-6s %-18s  %-*s  %-10s  %-11s %-3s %s\n", "Sel", "Raw", aw, "Base", "Limit", "Type", "DPL", "Bits")
	for _, e := range es {
		if e.Null {
			ctx.Printf("0x%04x 0x%016x  (null)\n", e.Selector, e.Raw)
			continue
		}
		d := decodeDesc(e.Raw)
		ctx.Printf("0x%04x 0x%016x  %-*s  0x%08x  %-11s %-3d %s\n", e.Selector, e.Raw, aw, hexAddr(e.Base), e.Limit,
			d.typeName(long), e.DPL, d.bitsString())
	}
}

func cmdInfoGDT(ctx *Context, _ []string) error {
	cpu, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	buf, err := readTable(ctx, cpu, r.GDTBase, r.GDTLim)
	if err != nil {
		return fmt.Errorf("info gdt: %v", err)
	}
	es := descEntries(buf, longMode(&r), false)
	if ctx.JSON {
		return ctx.EmitJSON(descTableJSON{CPU: cpu, Table: "gdt", Base: r.GDTBase, Limit: r.GDTLim, Entries: es})
	}
	ctx.Printf("GDT at %s, limit 0x%04x: %d entries\n", hexAddr(r.GDTBase), r.GDTLim, (r.GDTLim+1)/8)
	printDescEntries(ctx, es, longMode(&r))
	return nil
}

func cmdInfoLDT(ctx *Context, _ []string) error {
	cpu, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	j := descTableJSON{CPU: cpu, Table: "ldt", Selector: r.LDTR.Sel, Base: r.LDTR.Base, Limit: r.LDTR.Limit, Entries: []descEntryJSON{}}
	if r.LDTR.Sel&^3 == 0 || r.CR0&cr0PE == 0 {
		if ctx.JSON {
			return ctx.EmitJSON(j)
		}
		ctx.Printf("No LDT (LDTR=0x%04x).\n", r.LDTR.Sel)
		return nil
	}
	buf, err := readTable(ctx, cpu, r.LDTR.Base, r.LDTR.Limit)
	if err != nil {
		return fmt.Errorf("info ldt: %v", err)
	}
	j.Entries = descEntries(buf, longMode(&r), true)
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	ctx.Printf("LDT (LDTR=0x%04x) at %s, limit 0x%04x: %d entries\n", r.LDTR.Sel, hexAddr(r.LDTR.Base), r.LDTR.Limit, (r.LDTR.Limit+1)/8)
	printDescEntries(ctx, j.Entries, longMode(&r))
	return nil
}

type gateJSON struct {
	Vector   int    `json:"vector"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Selector uint16 `json:"selector"`
	Offset   uint64 `json:"offset"`
	DPL      int    `json:"dpl"`
	Present  bool   `json:"present"`
	IST      int    `json:"ist"`
	Raw      uint64 `json:"raw"`
}

type idtJSON struct {
	CPU        int        `json:"cpu"`
	RealMode   bool       `json:"real_mode"`
	Base       uint64     `json:"base"`
	Limit      uint32     `json:"limit"`
	Gates      []gateJSON `json:"gates"`
	NotPresent int        `json:"not_present"`
}

func cmdInfoIDT(ctx *Context, _ []string) error {
	cpu, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	buf, err := readTable(ctx, cpu, r.IDTBase, r.IDTLim)
	if err != nil {
		return fmt.Errorf("info idt: %v", err)
	}
	j := idtJSON{CPU: cpu, Base: r.IDTBase, Limit: r.IDTLim, Gates: []gateJSON{}}
	long := longMode(&r)
	if r.CR0&cr0PE == 0 {
		j.RealMode = true
		for off := 0; off+4 <= len(buf) && off/4 < 256; off += 4 {
			v := binary.LittleEndian.Uint32(buf[off:])
			j.Gates = append(j.Gates, gateJSON{Vector: off / 4, Name: excName(off / 4), Type: "IVT",
				Selector: uint16(v >> 16), Offset: uint64(v & 0xFFFF), Present: true, Raw: uint64(v)})
		}
	} else {
		step := pick(long, 16, 8)
		for off := 0; off+step <= len(buf) && off/step < 256; off += step {
			raw := binary.LittleEndian.Uint64(buf[off:])
			d := decodeDesc(raw)
			if !d.present() {
				j.NotPresent++
				continue
			}
			g := gateJSON{Vector: off / step, Name: excName(off / step), Type: d.typeName(long),
				Selector: uint16(raw >> 16), Offset: raw&0xFFFF | (raw>>48)<<16, DPL: d.dpl(), Present: true, Raw: raw}
			if long {
				g.Offset |= (binary.LittleEndian.Uint64(buf[off+8:]) & 0xFFFFFFFF) << 32
				g.IST = int(raw >> 32 & 7)
			}
			if d.typ() == 5 { // task gate: no offset
				g.Offset = 0
			}
			j.Gates = append(j.Gates, g)
		}
	}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	if j.RealMode {
		ctx.Printf("IVT (real mode) at %s, limit 0x%04x: %d vectors\n", hexAddr(r.IDTBase), r.IDTLim, len(j.Gates))
		ctx.Printf("%-5s %-5s %-10s %s\n", "Vec", "Name", "Seg:Off", "Linear")
		for _, g := range j.Gates {
			ctx.Printf("0x%02x  %-5s %04x:%04x  %s\n", g.Vector, g.Name, g.Selector, g.Offset, hexAddr(uint64(g.Selector)<<4+g.Offset))
		}
		return nil
	}
	ctx.Printf("IDT at %s, limit 0x%04x: %d present gates, %d not present\n", hexAddr(r.IDTBase), r.IDTLim, len(j.Gates), j.NotPresent)
	ctx.Printf("%-5s %-5s %-11s %-8s %-18s %s\n", "Vec", "Name", "Type", "Selector", "Offset", pick(long, "DPL IST", "DPL"))
	for _, g := range j.Gates {
		ist := ""
		if long {
			ist = fmt.Sprintf("   %d", g.IST)
		}
		ctx.Printf("0x%02x  %-5s %-11s 0x%04x   %-18s %d%s\n", g.Vector, g.Name, g.Type, g.Selector, hexAddr(g.Offset), g.DPL, ist)
	}
	return nil
}

type tssJSON struct {
	CPU      int               `json:"cpu"`
	Selector uint16            `json:"selector"`
	Base     uint64            `json:"base"`
	Limit    uint32            `json:"limit"`
	Type     string            `json:"type"`
	Fields   map[string]uint64 `json:"fields"`
}

var tss32Fields = []struct {
	name string
	off  int
	size int
}{{"link", 0, 2}, {"esp0", 4, 4}, {"ss0", 8, 2}, {"esp1", 12, 4}, {"ss1", 16, 2}, {"esp2", 20, 4}, {"ss2", 24, 2},
	{"cr3", 28, 4}, {"eip", 32, 4}, {"eflags", 36, 4}, {"eax", 40, 4}, {"ecx", 44, 4}, {"edx", 48, 4}, {"ebx", 52, 4},
	{"esp", 56, 4}, {"ebp", 60, 4}, {"esi", 64, 4}, {"edi", 68, 4}, {"es", 72, 2}, {"cs", 76, 2}, {"ss", 80, 2},
	{"ds", 84, 2}, {"fs", 88, 2}, {"gs", 92, 2}, {"ldt", 96, 2}, {"trap", 100, 1}, {"iomap", 102, 2}}

var tss16Fields = []struct {
	name string
	off  int
	size int
}{{"link", 0, 2}, {"sp0", 2, 2}, {"ss0", 4, 2}, {"sp1", 6, 2}, {"ss1", 8, 2}, {"sp2", 10, 2}, {"ss2", 12, 2},
	{"ip", 14, 2}, {"flags", 16, 2}, {"ax", 18, 2}, {"cx", 20, 2}, {"dx", 22, 2}, {"bx", 24, 2}, {"sp", 26, 2},
	{"bp", 28, 2}, {"si", 30, 2}, {"di", 32, 2}, {"es", 34, 2}, {"cs", 36, 2}, {"ss", 38, 2}, {"ds", 40, 2}, {"ldt", 42, 2}}

var tss64Fields = []struct {
	name string
	off  int
	size int
}{{"rsp0", 4, 8}, {"rsp1", 12, 8}, {"rsp2", 20, 8}, {"ist1", 36, 8}, {"ist2", 44, 8}, {"ist3", 52, 8},
	{"ist4", 60, 8}, {"ist5", 68, 8}, {"ist6", 76, 8}, {"ist7", 84, 8}, {"iomap", 102, 2}}

func cmdInfoTSS(ctx *Context, _ []string) error {
	cpu, r, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	long := longMode(&r)
	d := attrDesc(r.TR.Base, r.TR.Limit, r.TR.Attr)
	j := tssJSON{CPU: cpu, Selector: r.TR.Sel, Base: r.TR.Base, Limit: r.TR.Limit, Type: d.typeName(long), Fields: map[string]uint64{}}
	if r.TR.Sel&^3 == 0 || r.CR0&cr0PE == 0 {
		if ctx.JSON {
			j.Type = "none"
			return ctx.EmitJSON(j)
		}
		ctx.Printf("No task register loaded (TR=0x%04x).\n", r.TR.Sel)
		return nil
	}
	fields := tss32Fields
	size := 104
	switch {
	case long:
		fields = tss64Fields
	case d.typ() == 1 || d.typ() == 3:
		fields, size = tss16Fields, 44
	}
	buf := make([]byte, size)
	if n, err := ctx.T.ReadLinear(cpu, r.TR.Base, buf); err != nil {
		return fmt.Errorf("info tss: cannot read the TSS at %s: %v (%d bytes readable)", hexAddr(r.TR.Base), err, n)
	}
	for _, f := range fields {
		var v uint64
		for i := f.size - 1; i >= 0; i-- {
			v = v<<8 | uint64(buf[f.off+i])
		}
		j.Fields[f.name] = v
	}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	ctx.Printf("TSS (TR=0x%04x) %s at %s, limit 0x%04x\n", r.TR.Sel, d.typeName(long), hexAddr(r.TR.Base), r.TR.Limit)
	for i, f := range fields {
		ctx.Printf("%-7s=%0*x", strings.ToUpper(f.name), f.size*2, j.Fields[f.name])
		if i%4 == 3 || i == len(fields)-1 {
			ctx.Printf("\n")
		} else {
			ctx.Printf(" ")
		}
	}
	return nil
}
