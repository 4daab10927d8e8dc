package repl

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"glassbox/target"
)

// --- x / xp ------------------------------------------------------------------

// parseFmt parses gdb's /NFU suffix on top of the previous settings.
func parseFmt(s string, prev xState) (xState, bool, error) {
	st := prev
	st.count = 1
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n <= 0 || n > 1<<20 {
			return st, false, fmt.Errorf("bad count %q (want 1..1048576)", s[:i])
		}
		st.count = n
	}
	unitGiven := false
	for _, ch := range strings.ToLower(s[i:]) {
		switch ch {
		case 'b', 'h', 'w', 'g':
			st.unit = map[rune]int{'b': 1, 'h': 2, 'w': 4, 'g': 8}[ch]
			unitGiven = true
		case 'x', 'd', 'u', 'o', 't', 'c', 's', 'i':
			st.format = byte(ch)
		default:
			return st, false, fmt.Errorf("bad format letter %q in /%s (want N, then x d u o t c s i, then b h w g)", ch, s)
		}
	}
	return st, unitGiven, nil
}

type xJSON struct {
	Addr    uint64    `json:"addr"`
	Space   string    `json:"space"`
	Format  string    `json:"format"`
	Unit    int       `json:"unit"`
	Values  []any     `json:"values,omitempty"`
	Strings []strJSON `json:"strings,omitempty"`
	Insns   []insn    `json:"insns,omitempty"`
	// Error is set when memory past the output is not accessible.
	Error string `json:"error,omitempty"`
}

type strJSON struct {
	Addr uint64 `json:"addr"`
	Text string `json:"text"`
}

func cmdX(ctx *Context, args []string) error  { return examine(ctx, args, false) }
func cmdXP(ctx *Context, args []string) error { return examine(ctx, args, true) }

func examine(ctx *Context, args []string, phys bool) error {
	name := pick(phys, "xp", "x")
	st, unitGiven, err := parseFmt(ctx.Suffix, ctx.R.lastX)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if (st.format == 'c' || st.format == 's') && !unitGiven {
		st.unit = 1
	}
	if st.format == 's' || st.format == 'i' {
		if st.count > 1<<16 {
			return fmt.Errorf("%s: at most 65536 strings or instructions at a time", name)
		}
	} else if st.count*st.unit > 1<<20 {
		return fmt.Errorf("%s: at most 1 MiB at a time", name)
	}
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	var addr uint64
	switch {
	case len(args) > 0:
		if addr, err = ctx.R.evalAddr(args[0]); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	case ctx.R.lastX.valid && ctx.R.lastX.phys == phys:
		addr = ctx.R.lastX.next
	default:
		return fmt.Errorf("usage: %s", ctx.Cmd.Usage())
	}
	// read fills buf from addr and reports how much was readable.
	read := func(a uint64, buf []byte) (int, error) {
		if phys {
			ctx.T.ReadPhys(a, buf)
			return len(buf), nil
		}
		return ctx.T.ReadLinear(cpu, a, buf)
	}
	j := xJSON{Addr: addr, Space: pick(phys, "physical", "linear"), Format: string(st.format), Unit: st.unit}
	var text bytes.Buffer
	next := addr
	switch st.format {
	case 'i':
		regs, err := ctx.T.Regs(cpu)
		if err != nil {
			return err
		}
		buf := make([]byte, st.count*15)
		n, rerr := read(addr, buf)
		ins := disasm(buf[:n], addr, regs.Bits)
		if len(ins) > st.count {
			ins = ins[:st.count]
		}
		for _, in := range ins {
			mark := pick(!phys && in.Addr == regs.PC, "=> ", "   ")
			fmt.Fprintf(&text, "%s%s:  %s\n", mark, hexAddr(in.Addr), in.Text)
			next = in.Addr + uint64(len(in.Bytes))
		}
		j.Insns = ins
		if len(ins) < st.count && rerr != nil {
			j.Error = fmt.Sprintf("cannot access memory at address %s", hexAddr(addr+uint64(n)))
		}
	case 's':
		for k := 0; k < st.count; k++ {
			buf := make([]byte, maxString)
			n, _ := read(next, buf)
			if n == 0 {
				j.Error = fmt.Sprintf("cannot access memory at address %s", hexAddr(next))
				break
			}
			end := bytes.IndexByte(buf[:n], 0)
			strLen := end
			if end < 0 {
				end, strLen = n, n
			} else {
				end++ // the NUL
			}
			s := cString(buf[:strLen])
			if end == n && n == maxString {
				s += "..."
			}
			fmt.Fprintf(&text, "%s:  %s\n", hexAddr(next), s)
			j.Strings = append(j.Strings, strJSON{next, string(buf[:strLen])})
			next += uint64(end)
		}
	default:
		total := st.count * st.unit
		buf := make([]byte, total)
		n, _ := read(addr, buf)
		items := n / st.unit
		width := 0
		var cells []string
		for k := 0; k < items; k++ {
			var v uint64
			for b := st.unit - 1; b >= 0; b-- {
				v = v<<8 | uint64(buf[k*st.unit+b])
			}
			c, val := formatValue(v, st.unit, st.format)
			cells = append(cells, c)
			j.Values = append(j.Values, val)
			width = max(width, len(c))
		}
		perLine := max(1, 64/(width+2))
		if st.format == 'x' {
			perLine = map[int]int{1: 8, 2: 8, 4: 4, 8: 2}[st.unit]
		}
		for k, c := range cells {
			if k%perLine == 0 {
				if k > 0 {
					text.WriteString("\n")
				}
				fmt.Fprintf(&text, "%s:", hexAddr(addr+uint64(k*st.unit)))
			}
			fmt.Fprintf(&text, "  %*s", width, c)
		}
		if len(cells) > 0 {
			text.WriteString("\n")
		}
		next = addr + uint64(items*st.unit)
		if items < st.count {
			j.Error = fmt.Sprintf("cannot access memory at address %s", hexAddr(next))
		}
	}
	if j.Values == nil && j.Strings == nil && j.Insns == nil && j.Error != "" {
		return fmt.Errorf("%s: %s", name, j.Error)
	}
	st.next, st.valid, st.phys = next, true, phys
	ctx.R.lastX = st
	if ctx.JSON {
		if j.Values == nil && st.format != 's' && st.format != 'i' {
			j.Values = []any{}
		}
		return ctx.EmitJSON(j)
	}
	ctx.Out.Write(text.Bytes())
	if j.Error != "" {
		ctx.Printf("%s\n", capitalize(j.Error))
	}
	return nil
}

// maxString bounds x/s like gdb's "print elements" limit.
const maxString = 200

func formatValue(v uint64, unit int, f byte) (string, any) {
	bits := uint(unit * 8)
	signed := int64(v<<(64-bits)) >> (64 - bits)
	switch f {
	case 'd':
		return strconv.FormatInt(signed, 10), signed
	case 'u':
		return strconv.FormatUint(v, 10), v
	case 'o':
		if v == 0 {
			return "0", v
		}
		return "0" + strconv.FormatUint(v, 8), v
	case 't':
		return fmt.Sprintf("%0*b", bits, v), v
	case 'c':
		return fmt.Sprintf("%d %s", signed, cQuote(byte(v))), v
	}
	return fmt.Sprintf("0x%0*x", unit*2, v), v
}

func cQuote(b byte) string {
	switch b {
	case '\n':
		return `'\n'`
	case '\t':
		return `'\t'`
	case '\r':
		return `'\r'`
	case 0:
		return `'\0'`
	case '\'':
		return `'\''`
	case '\\':
		return `'\\'`
	}
	if b >= 0x20 && b < 0x7F {
		return "'" + string(rune(b)) + "'"
	}
	return fmt.Sprintf(`'\%03o'`, b)
}

func cString(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"':
			s.WriteString(`\"`)
		case c == '\\':
			s.WriteString(`\\`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\r':
			s.WriteString(`\r`)
		case c >= 0x20 && c < 0x7F:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\%03o`, c)
		}
	}
	s.WriteByte('"')
	return s.String()
}

// --- disas -----------------------------------------------------------------

type disasJSON struct {
	CPU   int    `json:"cpu"`
	Bits  int    `json:"bits"`
	PC    uint64 `json:"pc"`
	Insns []insn `json:"insns"`
	Error string `json:"error,omitempty"`
}

func cmdDisas(ctx *Context, args []string) error {
	cpu, regs, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	bits := regs.Bits
	nb := 0
	for _, b := range []int{16, 32, 64} {
		if ctx.Has(strconv.Itoa(b)) {
			bits = b
			nb++
		}
	}
	if nb > 1 {
		return fmt.Errorf("disas: give at most one of -16, -32, -64")
	}
	addr, n := regs.PC, uint64(10)
	if len(args) > 0 {
		if addr, err = ctx.R.evalAddr(args[0]); err != nil {
			return fmt.Errorf("disas: %v", err)
		}
	}
	if len(args) > 1 {
		if n, err = ctx.R.evalAddr(args[1]); err != nil || n == 0 || n > 10000 {
			return fmt.Errorf("disas: N %q: want 1..10000", args[1])
		}
	}
	buf := make([]byte, n*15)
	got, rerr := ctx.T.ReadLinear(cpu, addr, buf)
	if got == 0 {
		return fmt.Errorf("disas: cannot access memory at address %s", hexAddr(addr))
	}
	ins := disasm(buf[:got], addr, bits)
	if uint64(len(ins)) > n {
		ins = ins[:n]
	}
	j := disasJSON{CPU: cpu, Bits: bits, PC: regs.PC, Insns: ins}
	if uint64(len(ins)) < n && rerr != nil {
		j.Error = fmt.Sprintf("cannot access memory at address %s", hexAddr(addr+uint64(got)))
	}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	printInsns(ctx, ins, regs.PC)
	if j.Error != "" {
		ctx.Printf("%s\n", capitalize(j.Error))
	}
	return nil
}

func printInsns(ctx *Context, ins []insn, pc uint64) {
	for _, in := range ins {
		mark := pick(in.Addr == pc, "=> ", "   ")
		ctx.Printf("%s%s:  %-29s  %s\n", mark, hexAddr(in.Addr), in.Hex, in.Text)
	}
}

// --- gva2gpa -----------------------------------------------------------------

type walkStepJSON struct {
	Level string `json:"level"`
	Addr  uint64 `json:"addr"`
	Entry uint64 `json:"entry"`
	Flags string `json:"flags"`
}

type walkJSON struct {
	CPU      int            `json:"cpu"`
	Linear   uint64         `json:"linear"`
	Paging   string         `json:"paging"`
	CR3      uint64         `json:"cr3"`
	Steps    []walkStepJSON `json:"steps"`
	Mapped   bool           `json:"mapped"`
	Phys     uint64         `json:"phys"`
	PageSize uint64         `json:"page_size"`
	Fault    string         `json:"fault,omitempty"`
}

func cmdGva2gpa(ctx *Context, args []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	la, err := ctx.R.evalAddr(args[0])
	if err != nil {
		return fmt.Errorf("gva2gpa: %v", err)
	}
	regs, err := ctx.T.Regs(cpu)
	if err != nil {
		return err
	}
	w, err := ctx.T.Translate(cpu, la)
	if err != nil {
		return err
	}
	j := walkJSON{CPU: cpu, Linear: la, Paging: pagingMode(&regs), CR3: regs.CR3, Steps: []walkStepJSON{},
		Mapped: w.Fault == "", Phys: w.Phys, PageSize: w.PageSize, Fault: w.Fault}
	for _, s := range w.Steps {
		j.Steps = append(j.Steps, walkStepJSON{s.Level, s.Addr, s.Entry, pteFlags(s.Entry)})
	}
	if !j.Mapped {
		j.Phys, j.PageSize = 0, 0
	}
	if ctx.JSON {
		return ctx.EmitJSON(j)
	}
	if !w.Paging {
		ctx.Printf("linear %s: paging is off\n", hexAddr(la))
	} else {
		ctx.Printf("linear %s: %s paging, CR3=%s\n", hexAddr(la), j.Paging, hexAddr(regs.CR3))
	}
	ew := 0
	for _, s := range j.Steps {
		ew = max(ew, len(hexAddr(s.Entry)))
	}
	for _, s := range j.Steps {
		ctx.Printf("  %-6s at %s = %-*s  %s\n", s.Level, hexAddr(s.Addr), ew, hexAddr(s.Entry), s.Flags)
	}
	if !j.Mapped {
		ctx.Printf("not mapped: %s\n", w.Fault)
		return nil
	}
	ctx.Printf("gpa: %s (%s page)\n", hexAddr(w.Phys), sizeStr(w.PageSize))
	return nil
}

// --- page-table walks (info tlb, info mem) -------------------------------------

type mapping struct {
	VA, PA, Size uint64
	Leaf         uint64 // the leaf entry
	User, Write  bool   // effective over all levels
	NX           bool
}

// walkTables walks the vCPU's page tables by reading physical memory and
// calls fn for every present leaf overlapping [lo, hi] (inclusive).
func walkTables(t *target.Target, r *target.Regs, lo, hi uint64, fn func(m mapping)) error {
	readTable := func(pa uint64, n int) []byte {
		buf := make([]byte, n)
		t.ReadPhys(pa, buf)
		return buf
	}
	overlaps := func(va, size uint64) bool { return va+size-1 >= lo && va <= hi }
	nxe := r.EFER&eferNXE != 0
	switch pagingMode(r) {
	case "off":
		return fmt.Errorf("PG disabled")
	case "5-level":
		return fmt.Errorf("not available yet: 5-level paging")
	case "32-bit":
		pd := readTable(r.CR3&0xFFFFF000, 4096)
		for i := uint64(0); i < 1024; i++ {
			pde := uint64(binary.LittleEndian.Uint32(pd[i*4:]))
			va := i << 22
			if pde&1 == 0 || !overlaps(va, 1<<22) {
				continue
			}
			if pde&0x80 != 0 && r.CR4&cr4PSE != 0 {
				pa := pde&0xFFC00000 | (pde>>13&0xFF)<<32
				fn(mapping{VA: va, PA: pa, Size: 1 << 22, Leaf: pde, User: pde&4 != 0, Write: pde&2 != 0})
				continue
			}
			pt := readTable(pde&0xFFFFF000, 4096)
			for k := uint64(0); k < 1024; k++ {
				pte := uint64(binary.LittleEndian.Uint32(pt[k*4:]))
				va2 := va | k<<12
				if pte&1 == 0 || !overlaps(va2, 4096) {
					continue
				}
				fn(mapping{VA: va2, PA: pte & 0xFFFFF000, Size: 4096, Leaf: pte &^ 0x80,
					User: pde&pte&4 != 0, Write: pde&pte&2 != 0})
			}
		}
		return nil
	}
	// PAE and 4-level: 512-entry tables of 8-byte entries.
	const addrMask = 0x000FFFFFFFFFF000
	var walk func(table uint64, level int, va uint64, user, write, nx bool)
	walk = func(table uint64, level int, va uint64, user, write, nx bool) {
		shift := uint(12 + 9*level)
		buf := readTable(table, 4096)
		for i := uint64(0); i < 512; i++ {
			e := binary.LittleEndian.Uint64(buf[i*8:])
			v := va | i<<shift
			if shift == 39 && v&(1<<47) != 0 {
				v |= 0xFFFF000000000000 // canonical
			}
			size := uint64(1) << shift
			if e&1 == 0 || !overlaps(v, size) {
				continue
			}
			u, w, x := user && e&4 != 0, write && e&2 != 0, nx || nxe && e&(1<<63) != 0
			if level == 0 || (level <= 2 && e&0x80 != 0) {
				leaf := e
				if level == 0 {
					leaf &^= 0x80
				}
				fn(mapping{VA: v, PA: e & addrMask &^ (size - 1), Size: size, Leaf: leaf, User: u, Write: w, NX: x})
				continue
			}
			walk(e&addrMask, level-1, v, u, w, x)
		}
	}
	if pagingMode(r) == "PAE" {
		pdpt := readTable(r.CR3&0xFFFFFFE0, 32)
		for i := uint64(0); i < 4; i++ {
			e := binary.LittleEndian.Uint64(pdpt[i*8:])
			if e&1 == 0 || !overlaps(i<<30, 1<<30) {
				continue
			}
			walk(e&addrMask, 1, i<<30, true, true, false)
		}
		return nil
	}
	walk(r.CR3&addrMask, 3, 0, true, true, false)
	return nil
}

// rangeArgs parses optional ADDR [LEN] into an inclusive range.
func rangeArgs(ctx *Context, args []string, defLen uint64) (lo, hi uint64, err error) {
	lo, hi = 0, ^uint64(0)
	if len(args) > 0 {
		if lo, err = ctx.R.evalAddr(args[0]); err != nil {
			return 0, 0, err
		}
		n := defLen
		if len(args) > 1 {
			if n, err = ctx.R.evalAddr(args[1]); err != nil {
				return 0, 0, err
			}
			if n == 0 {
				return 0, 0, fmt.Errorf("LEN must not be 0")
			}
		}
		if n == 0 || lo+n-1 < lo {
			hi = ^uint64(0)
		} else {
			hi = lo + n - 1
		}
	}
	return lo, hi, nil
}

type tlbMapJSON struct {
	VA    uint64 `json:"va"`
	PA    uint64 `json:"pa"`
	Size  uint64 `json:"size"`
	Entry uint64 `json:"entry"`
	Flags string `json:"flags"`
}

func cmdInfoTLB(ctx *Context, args []string) error {
	cpu, err := ctx.CPU()
	if err != nil {
		return err
	}
	lo, hi, err := rangeArgs(ctx, args, 0)
	if err != nil {
		return fmt.Errorf("info tlb: %v", err)
	}
	regs, err := ctx.T.Regs(cpu)
	if err != nil {
		return err
	}
	list := []tlbMapJSON{}
	mode := pagingMode(&regs)
	if mode != "off" {
		err = walkTables(ctx.T, &regs, lo, hi, func(m mapping) {
			list = append(list, tlbMapJSON{m.VA, m.PA, m.Size, m.Leaf, qemuPTE(m.Leaf)})
		})
		if err != nil {
			return fmt.Errorf("info tlb: %v", err)
		}
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			CPU      int          `json:"cpu"`
			Paging   string       `json:"paging"`
			Mappings []tlbMapJSON `json:"mappings"`
		}{cpu, mode, list})
	}
	if mode == "off" {
		ctx.Printf("PG disabled\n")
		return nil
	}
	vw, pw := pick(mode == "4-level", 16, 8), pick(mode == "32-bit", 8, 16)
	for _, m := range list {
		ctx.Printf("0x%0*x: 0x%0*x %s\n", vw, m.VA, pw, m.PA, m.Flags)
	}
	return nil
}

type memRangeJSON struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
	Size  uint64 `json:"size"`
	Prot  string `json:"prot"`
	User  bool   `json:"user"`
	Write bool   `json:"write"`
	Exec  bool   `json:"exec"`
}

func cmdInfoMem(ctx *Context, _ []string) error {
	cpu, regs, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	mode := pagingMode(&regs)
	nxe := regs.EFER&eferNXE != 0
	list := []memRangeJSON{}
	if mode != "off" {
		var cur *memRangeJSON
		err = walkTables(ctx.T, &regs, 0, ^uint64(0), func(m mapping) {
			prot := pick(m.User, "u", "-") + "r" + pick(m.Write, "w", "-")
			if nxe {
				prot += pick(m.NX, "-", "x")
			}
			if cur != nil && cur.End == m.VA && cur.Prot == prot {
				cur.End += m.Size
				cur.Size += m.Size
				return
			}
			list = append(list, memRangeJSON{Start: m.VA, End: m.VA + m.Size, Size: m.Size, Prot: prot,
				User: m.User, Write: m.Write, Exec: !m.NX})
			cur = &list[len(list)-1]
		})
		if err != nil {
			return fmt.Errorf("info mem: %v", err)
		}
	}
	if ctx.JSON {
		return ctx.EmitJSON(struct {
			CPU    int            `json:"cpu"`
			Paging string         `json:"paging"`
			Ranges []memRangeJSON `json:"ranges"`
		}{cpu, mode, list})
	}
	if mode == "off" {
		ctx.Printf("PG disabled\n")
		return nil
	}
	w := pick(mode == "4-level", 16, 8)
	for _, m := range list {
		ctx.Printf("0x%0*x-0x%0*x 0x%0*x %s\n", w, m.Start, w, m.End, w, m.Size, m.Prot)
	}
	return nil
}

// --- memory map ----------------------------------------------------------------

type regionJSON struct {
	Start    uint64 `json:"start"`
	End      uint64 `json:"end"` // inclusive
	Priority int    `json:"priority"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

type portRangeJSON struct {
	Start uint16 `json:"start"`
	End   uint16 `json:"end"`
	Name  string `json:"name"`
}

// regions parses the target's memory-map text (the debug interface has no
// structured region list yet).
func regions(t *target.Target) ([]regionJSON, []portRangeJSON) {
	var b bytes.Buffer
	t.Mtree(&b)
	mem := []regionJSON{}
	io := []portRangeJSON{}
	sc := bufio.NewScanner(&b)
	section := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "address-space:") {
			section = strings.TrimSpace(strings.TrimPrefix(line, "address-space:"))
			continue
		}
		line = strings.TrimSpace(line)
		rng, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		a, z, ok := strings.Cut(rng, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(a, 16, 64)
		end, err2 := strconv.ParseUint(z, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		attrs, name, _ := strings.Cut(rest, ": ")
		attrs = strings.Trim(attrs, "()")
		if section == "memory" {
			r := regionJSON{Start: start, End: end, Name: name}
			for _, f := range strings.Split(attrs, ", ") {
				if p, ok := strings.CutPrefix(f, "prio "); ok {
					r.Priority, _ = strconv.Atoi(p)
				} else {
					r.Kind = f
				}
			}
			mem = append(mem, r)
		} else {
			io = append(io, portRangeJSON{uint16(start), uint16(end), name})
		}
	}
	return mem, io
}

func cmdInfoMtree(ctx *Context, _ []string) error {
	if ctx.JSON {
		mem, io := regions(ctx.T)
		return ctx.EmitJSON(struct {
			Memory []regionJSON    `json:"memory"`
			IO     []portRangeJSON `json:"io"`
		}{mem, io})
	}
	ctx.T.Mtree(ctx.Out)
	return nil
}

// --- dump-memory -----------------------------------------------------------------

func cmdDumpMemory(ctx *Context, args []string) error {
	pa, err := ctx.R.evalAddr(args[1])
	if err != nil {
		return fmt.Errorf("dump-memory: PADDR: %v", err)
	}
	n, err := ctx.R.evalAddr(args[2])
	if err != nil {
		return fmt.Errorf("dump-memory: LEN: %v", err)
	}
	if n == 0 || n > ctx.R.dumpLimit || pa+n < pa {
		return fmt.Errorf("dump-memory: LEN %#x: want 1 byte to %siB within the address space", n, sizeStr(ctx.R.dumpLimit))
	}
	f, err := ctx.R.createFile(args[0])
	if err != nil {
		return fmt.Errorf("dump-memory: %v", err)
	}
	const chunk = 1 << 20
	buf := make([]byte, min(n, chunk))
	for off := uint64(0); off < n; off += chunk {
		b := buf[:min(n-off, chunk)]
		ctx.T.ReadPhys(pa+off, b)
		if _, err := f.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("dump-memory: %v", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dump-memory: %v", err)
	}
	ctx.Printf("Wrote %d bytes of physical memory at %s to %s\n", n, hexAddr(pa), args[0])
	return nil
}
