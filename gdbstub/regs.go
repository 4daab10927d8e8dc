package gdbstub

import (
	"fmt"
	"strings"

	"glassbox/target"
)

// Register layouts (target descriptions).
//
// gdb numbers the registers of a target description in document order and
// the 'g' packet carries them in that order, little endian. The two layouts
// reproduce gdb's own i386/32bit-core.xml + 32bit-sse.xml (i386) and
// i386/64bit-core.xml + 64bit-sse.xml (x86-64) exactly, then add
// org.gnu.gdb.i386.segments (fs_base, gs_base; x86-64 only: gdb 13 trips an
// internal assertion on it in an i386 description) and the glassbox
// feature org.glassbox.x86.sys: cr0, cr2, cr3, cr4, cr8, efer, the segment
// bases cs_base, ss_base, ds_base, es_base (plus fs_base and gs_base in
// the i386 layout), k_gs_base and mode_bits.
//
// PC: the eip/rip slot holds the LINEAR address of the next instruction
// (CS.base + EIP) in every mode. In flat protected mode and in long mode
// that is EIP itself; in real and virtual-8086 mode (and with any non-zero
// CS base) it makes memory, breakpoints and $pc agree: break *0x7c00,
// x/i $pc and stepi work. Writing the PC converts back (EIP = value -
// CS.base).
//
// x87 and SSE registers read the vCPU's state (st0-7 in stack order, ftag
// as the full tag word, fiseg/fioff/foseg/fooff/fop from the last x87
// instruction); writes to them are accepted and ignored.
//
// mode_bits (org.glassbox.x86.sys) is a read-only synthetic register: the
// current code size, 16, 32 or 64. gdb/glassbox.gdb uses it to switch the
// disassembler between i8086, i386 and x86-64 on every stop.

// The architecture a description declares. gdb lets `set architecture`
// pick an architecture only if it is compatible with the one declared, and
// of two compatible ones it uses the "bigger": with <architecture>i386 gdb
// silently ignores `set architecture i8086` (the QEMU real-mode problem),
// while with i8086 both i8086 and i386 can be selected, and an ELF32 file
// loaded with `file` makes gdb use i386 by itself. So the i386 layout
// declares i8086 when the vCPU is in a 16-bit mode (real, virtual-8086,
// 16-bit protected) at connection time, which makes the reset vector and
// boot code disassemble right with no script, and lets gdb/glassbox.gdb
// follow later switches to 32-bit code; it declares i386 when the vCPU is
// already in 32-bit code (a multiboot kernel), which makes plain
// `target remote` right without `file`. ArchI8086 (-gdb ...,arch=i8086)
// always declares i8086. The x86-64 layout declares i386:x86-64, and gdb
// cannot switch it to i8086/i386 at all (different word size); the script
// then offers an objdump-based disassembler for 16/32-bit code.

// Layout names (Config.Arch, -gdb ...,arch=NAME).
const (
	ArchI386  = "i386"
	ArchX8664 = "x86-64"
	// ArchI8086 is the i386 layout always declared as i8086.
	ArchI8086 = "i8086"
)

// regDef describes one register of a layout.
type regDef struct {
	name    string
	bits    int
	typ     string
	group   string
	feature string
	// get reads the value from a snapshot (nil: constant def); hi gives
	// the bytes above the low eight for the 80- and 128-bit registers.
	get func(r *target.Regs) uint64
	hi  func(r *target.Regs) uint64
	def uint64
	// set is the target.SetReg name; "fpu" writes the raw bytes through
	// target.SetFPUReg (x87, SSE); "" means writes are ignored; "-" means
	// the register is read-only (a changed value is an error).
	set string
}

// layout is a complete target description.
type layout struct {
	arch string
	regs []regDef
	xml  string
	// xml16 is the i386 layout declared as architecture i8086 (see
	// tdescXML).
	xml16 string
	size  int // bytes in a 'g' packet
	pc    int // index of the PC register
	wide  bool
}

const (
	featCore     = "org.gnu.gdb.i386.core"
	featSSE      = "org.gnu.gdb.i386.sse"
	featSegments = "org.gnu.gdb.i386.segments"
	featSys      = "org.glassbox.x86.sys"
)

// segment indexes in target.Regs.Seg (ES CS SS DS FS GS).
const (
	segES = iota
	segCS
	segSS
	segDS
	segFS
	segGS
)

func gpr(i int) func(r *target.Regs) uint64 { return func(r *target.Regs) uint64 { return r.GPR[i] } }
func segSel(i int) func(r *target.Regs) uint64 {
	return func(r *target.Regs) uint64 { return uint64(r.Seg[i].Sel) }
}
func segBase(i int) func(r *target.Regs) uint64 {
	return func(r *target.Regs) uint64 { return r.Seg[i].Base }
}

var segNames = []string{"cs", "ss", "ds", "es", "fs", "gs"}
var segIdx = []int{segCS, segSS, segDS, segES, segFS, segGS}

func buildLayout(arch string) *layout {
	l := &layout{arch: arch, wide: arch == ArchX8664}
	add := func(d regDef) { l.regs = append(l.regs, d) }
	w := 32
	nxmm := 8
	if l.wide {
		w = 64
		nxmm = 16
		// gdb's amd64 order: rax rbx rcx rdx rsi rdi rbp rsp r8..r15
		for _, x := range []struct {
			n string
			i int
		}{{"rax", 0}, {"rbx", 3}, {"rcx", 1}, {"rdx", 2}, {"rsi", 6}, {"rdi", 7}, {"rbp", 5}, {"rsp", 4}} {
			typ := "int64"
			if x.n == "rbp" || x.n == "rsp" {
				typ = "data_ptr"
			}
			add(regDef{name: x.n, bits: 64, typ: typ, feature: featCore, get: gpr(x.i), set: x.n})
		}
		for i := 8; i < 16; i++ {
			n := fmt.Sprintf("r%d", i)
			add(regDef{name: n, bits: 64, typ: "int64", feature: featCore, get: gpr(i), set: n})
		}
		l.pc = len(l.regs)
		add(regDef{name: "rip", bits: 64, typ: "code_ptr", feature: featCore, get: func(r *target.Regs) uint64 { return r.PC }, set: "pc"})
	} else {
		for i, n := range []string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"} {
			typ := "int32"
			if n == "esp" || n == "ebp" {
				typ = "data_ptr"
			}
			add(regDef{name: n, bits: 32, typ: typ, feature: featCore, get: gpr(i), set: n})
		}
		l.pc = len(l.regs)
		add(regDef{name: "eip", bits: 32, typ: "code_ptr", feature: featCore, get: func(r *target.Regs) uint64 { return r.PC }, set: "pc"})
	}
	add(regDef{name: "eflags", bits: 32, typ: "i386_eflags", feature: featCore, get: func(r *target.Regs) uint64 { return r.RFLAGS }, set: "eflags"})
	for k, n := range segNames {
		add(regDef{name: n, bits: 32, typ: "int32", feature: featCore, get: segSel(segIdx[k]), set: n})
	}
	for i := 0; i < 8; i++ {
		add(regDef{name: fmt.Sprintf("st%d", i), bits: 80, typ: "i387_ext", feature: featCore, set: "fpu",
			get: func(r *target.Regs) uint64 { return r.FPU.ST[i].M },
			hi:  func(r *target.Regs) uint64 { return uint64(r.FPU.ST[i].SE) }})
	}
	for _, x := range []struct {
		n   string
		get func(f *target.FPU) uint64
	}{
		{"fctrl", func(f *target.FPU) uint64 { return uint64(f.FCW) }},
		{"fstat", func(f *target.FPU) uint64 { return uint64(f.FSW) }},
		{"ftag", func(f *target.FPU) uint64 { return uint64(f.FTW) }},
		{"fiseg", func(f *target.FPU) uint64 { return uint64(f.FCS) }},
		{"fioff", func(f *target.FPU) uint64 { return f.FIP }},
		{"foseg", func(f *target.FPU) uint64 { return uint64(f.FDS) }},
		{"fooff", func(f *target.FPU) uint64 { return f.FDP }},
		{"fop", func(f *target.FPU) uint64 { return uint64(f.FOP) }},
	} {
		add(regDef{name: x.n, bits: 32, typ: "int", group: "float", feature: featCore, set: "fpu",
			get: func(r *target.Regs) uint64 { return x.get(&r.FPU) }})
	}
	for i := 0; i < nxmm; i++ {
		add(regDef{name: fmt.Sprintf("xmm%d", i), bits: 128, typ: "vec128", feature: featSSE, set: "fpu",
			get: func(r *target.Regs) uint64 { return r.FPU.XMM[i][0] },
			hi:  func(r *target.Regs) uint64 { return r.FPU.XMM[i][1] }})
	}
	add(regDef{name: "mxcsr", bits: 32, typ: "i386_mxcsr", group: "vector", feature: featSSE, set: "fpu",
		get: func(r *target.Regs) uint64 { return uint64(r.FPU.MXCSR) }})
	if l.wide {
		// gdb 13 accepts org.gnu.gdb.i386.segments only for amd64: with
		// an i386 description it fails an internal assertion, so the
		// i386 layout carries fs_base/gs_base in the glassbox feature.
		add(regDef{name: "fs_base", bits: w, typ: "int", feature: featSegments, get: segBase(segFS), set: "fs_base"})
		add(regDef{name: "gs_base", bits: w, typ: "int", feature: featSegments, get: segBase(segGS), set: "gs_base"})
	}
	sys := func(n string, get func(r *target.Regs) uint64, set string) {
		add(regDef{name: n, bits: 64, typ: "uint64", feature: featSys, get: get, set: set})
	}
	sys("cr0", func(r *target.Regs) uint64 { return r.CR0 }, "cr0")
	sys("cr2", func(r *target.Regs) uint64 { return r.CR2 }, "cr2")
	sys("cr3", func(r *target.Regs) uint64 { return r.CR3 }, "cr3")
	sys("cr4", func(r *target.Regs) uint64 { return r.CR4 }, "cr4")
	sys("cr8", func(r *target.Regs) uint64 { return r.CR8 }, "cr8")
	sys("efer", func(r *target.Regs) uint64 { return r.EFER }, "efer")
	// target.SetReg has no setters for these yet: read-only.
	sys("cs_base", segBase(segCS), "-")
	sys("ss_base", segBase(segSS), "-")
	sys("ds_base", segBase(segDS), "-")
	sys("es_base", segBase(segES), "-")
	if !l.wide {
		sys("fs_base", segBase(segFS), "fs_base")
		sys("gs_base", segBase(segGS), "gs_base")
	}
	sys("k_gs_base", func(r *target.Regs) uint64 { return r.KGSBase }, "-")
	add(regDef{name: "mode_bits", bits: 32, typ: "int32", feature: featSys, get: func(r *target.Regs) uint64 { return uint64(r.Bits) }, set: "-"})
	for _, d := range l.regs {
		l.size += d.bits / 8
	}
	if l.wide {
		l.xml = l.buildXML("i386:x86-64")
	} else {
		l.xml = l.buildXML("i386")
		l.xml16 = l.buildXML("i8086")
	}
	return l
}

var layouts = map[string]*layout{
	ArchI386:  buildLayout(ArchI386),
	ArchX8664: buildLayout(ArchX8664),
}

const eflagsType = `  <flags id="i386_eflags" size="4">
    <field name="CF" start="0" end="0"/>
    <field name="" start="1" end="1"/>
    <field name="PF" start="2" end="2"/>
    <field name="AF" start="4" end="4"/>
    <field name="ZF" start="6" end="6"/>
    <field name="SF" start="7" end="7"/>
    <field name="TF" start="8" end="8"/>
    <field name="IF" start="9" end="9"/>
    <field name="DF" start="10" end="10"/>
    <field name="OF" start="11" end="11"/>
    <field name="NT" start="14" end="14"/>
    <field name="RF" start="16" end="16"/>
    <field name="VM" start="17" end="17"/>
    <field name="AC" start="18" end="18"/>
    <field name="VIF" start="19" end="19"/>
    <field name="VIP" start="20" end="20"/>
    <field name="ID" start="21" end="21"/>
  </flags>
`

const sseTypes = `  <vector id="v8bf16" type="bfloat16" count="8"/>
  <vector id="v4f" type="ieee_single" count="4"/>
  <vector id="v2d" type="ieee_double" count="2"/>
  <vector id="v16i8" type="int8" count="16"/>
  <vector id="v8i16" type="int16" count="8"/>
  <vector id="v4i32" type="int32" count="4"/>
  <vector id="v2i64" type="int64" count="2"/>
  <union id="vec128">
    <field name="v8_bfloat16" type="v8bf16"/>
    <field name="v4_float" type="v4f"/>
    <field name="v2_double" type="v2d"/>
    <field name="v16_int8" type="v16i8"/>
    <field name="v8_int16" type="v8i16"/>
    <field name="v4_int32" type="v4i32"/>
    <field name="v2_int64" type="v2i64"/>
    <field name="uint128" type="uint128"/>
  </union>
  <flags id="i386_mxcsr" size="4">
    <field name="IE" start="0" end="0"/>
    <field name="DE" start="1" end="1"/>
    <field name="ZE" start="2" end="2"/>
    <field name="OE" start="3" end="3"/>
    <field name="UE" start="4" end="4"/>
    <field name="PE" start="5" end="5"/>
    <field name="DAZ" start="6" end="6"/>
    <field name="IM" start="7" end="7"/>
    <field name="DM" start="8" end="8"/>
    <field name="ZM" start="9" end="9"/>
    <field name="OM" start="10" end="10"/>
    <field name="UM" start="11" end="11"/>
    <field name="PM" start="12" end="12"/>
    <field name="FZ" start="15" end="15"/>
  </flags>
`

// buildXML writes the target description as one self-contained document
// (no xi:include, so one qXfer object serves it).
func (l *layout) buildXML(arch string) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n")
	fmt.Fprintf(&b, "  <architecture>%s</architecture>\n", arch)
	cur := ""
	for i, d := range l.regs {
		if d.feature != cur {
			if cur != "" {
				b.WriteString("</feature>\n")
			}
			cur = d.feature
			fmt.Fprintf(&b, "<feature name=%q>\n", cur)
			switch cur {
			case featCore:
				b.WriteString(eflagsType)
			case featSSE:
				b.WriteString(sseTypes)
			}
		}
		fmt.Fprintf(&b, "  <reg name=%q bitsize=\"%d\" type=%q regnum=\"%d\"", d.name, d.bits, d.typ, i)
		if d.group != "" {
			fmt.Fprintf(&b, " group=%q", d.group)
		}
		b.WriteString("/>\n")
	}
	b.WriteString("</feature>\n</target>\n")
	return b.String()
}

// find returns the index of a register by name (-1 if none).
func (l *layout) find(name string) int {
	for i, d := range l.regs {
		if d.name == name {
			return i
		}
	}
	return -1
}

// value is register i's value in r, truncated to its width.
func (l *layout) value(i int, r *target.Regs) uint64 {
	d := &l.regs[i]
	v := d.def
	if d.get != nil {
		v = d.get(r)
	}
	if d.bits < 64 {
		v &= 1<<d.bits - 1
	}
	return v
}

// appendReg appends register i as little-endian hex.
func (l *layout) appendReg(out []byte, i int, r *target.Regs) []byte {
	d := &l.regs[i]
	v := l.value(i, r)
	var hi uint64
	if d.hi != nil {
		hi = d.hi(r)
	}
	const digits = "0123456789abcdef"
	for k := 0; k < d.bits/8; k++ {
		var b byte
		if k < 8 {
			b = byte(v >> (8 * k))
		} else {
			b = byte(hi >> (8 * (k - 8)))
		}
		out = append(out, digits[b>>4], digits[b&15])
	}
	return out
}

// encodeAll is the 'g' reply.
func (l *layout) encodeAll(r *target.Regs) []byte {
	out := make([]byte, 0, 2*l.size)
	for i := range l.regs {
		out = l.appendReg(out, i, r)
	}
	return out
}

// decodeReg reads register i's value from little-endian bytes (only the
// low 64 bits are kept; wider registers are never written).
func decodeLE(b []byte) uint64 {
	var v uint64
	for k := 0; k < len(b) && k < 8; k++ {
		v |= uint64(b[k]) << (8 * k)
	}
	return v
}

// fits reports whether the CPU mode in r can be shown by the layout.
func (l *layout) fits(r *target.Regs) bool {
	return l.wide || r.Mode != "long64"
}
