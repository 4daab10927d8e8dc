package repl

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// hexAddr formats an address: 8 hex digits when it fits 32 bits, else 16.
func hexAddr(v uint64) string {
	if v>>32 == 0 {
		return fmt.Sprintf("0x%08x", v)
	}
	return fmt.Sprintf("0x%016x", v)
}

// sizeStr prints a page/region size compactly (4K, 2M, 1G, else bytes).
func sizeStr(n uint64) string {
	switch {
	case n == 0:
		return "0"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%d", n)
}

func hexBytes(b []byte) string {
	var s strings.Builder
	for i, x := range b {
		if i > 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", x)
	}
	return s.String()
}

// bitNames lists the names of the set bits of v.
func bitNames(v uint64, names map[int]string) []string {
	out := []string{}
	for bit := 63; bit >= 0; bit-- {
		if v&(1<<uint(bit)) != 0 {
			if n, ok := names[bit]; ok {
				out = append(out, n)
			}
		}
	}
	return out
}

var cr0Bits = map[int]string{0: "PE", 1: "MP", 2: "EM", 3: "TS", 4: "ET", 5: "NE", 16: "WP", 18: "AM", 29: "NW", 30: "CD", 31: "PG"}
var cr4Bits = map[int]string{0: "VME", 1: "PVI", 2: "TSD", 3: "DE", 4: "PSE", 5: "PAE", 6: "MCE", 7: "PGE", 8: "PCE",
	9: "OSFXSR", 10: "OSXMMEXCPT", 11: "UMIP", 12: "LA57", 13: "VMXE", 14: "SMXE", 16: "FSGSBASE", 17: "PCIDE",
	18: "OSXSAVE", 20: "SMEP", 21: "SMAP", 22: "PKE", 23: "CET", 24: "PKS"}
var eferBits = map[int]string{0: "SCE", 8: "LME", 10: "LMA", 11: "NXE", 12: "SVME", 13: "LMSLE", 14: "FFXSR", 15: "TCE"}
var rflagsBits = map[int]string{0: "CF", 2: "PF", 4: "AF", 6: "ZF", 7: "SF", 8: "TF", 9: "IF", 10: "DF", 11: "OF",
	14: "NT", 16: "RF", 17: "VM", 18: "AC", 19: "VIF", 20: "VIP", 21: "ID"}

// Architectural bits used by the decoders.
const (
	cr0PE   = 1 << 0
	cr0PG   = 1 << 31
	cr4PSE  = 1 << 4
	cr4PAE  = 1 << 5
	cr4LA57 = 1 << 12
	eferLMA = 1 << 10
	eferNXE = 1 << 11
)

// flagsString decodes RFLAGS like QEMU: [ODITSZAPC] with '-' for clear
// bits, then the other set flags and IOPL.
func flagsString(f uint64) string {
	letters := []struct {
		bit int
		c   byte
	}{{11, 'O'}, {10, 'D'}, {9, 'I'}, {8, 'T'}, {7, 'S'}, {6, 'Z'}, {4, 'A'}, {2, 'P'}, {0, 'C'}}
	var b strings.Builder
	b.WriteByte('[')
	for _, l := range letters {
		if f&(1<<uint(l.bit)) != 0 {
			b.WriteByte(l.c)
		} else {
			b.WriteByte('-')
		}
	}
	b.WriteByte(']')
	for _, n := range []struct {
		bit  int
		name string
	}{{14, "NT"}, {16, "RF"}, {17, "VM"}, {18, "AC"}, {19, "VIF"}, {20, "VIP"}, {21, "ID"}} {
		if f&(1<<uint(n.bit)) != 0 {
			b.WriteString(" " + n.name)
		}
	}
	fmt.Fprintf(&b, " IOPL=%d", f>>12&3)
	return b.String()
}

// --- descriptors ---------------------------------------------------------

// desc is a decoded 8-byte segment or gate descriptor.
type desc struct {
	Raw    uint64
	Base   uint64
	Limit  uint64 // scaled by G
	Access uint8  // bits 40-47: type, S, DPL, P
	Flags  uint8  // bits 52-55: AVL, L, D/B, G
}

func decodeDesc(d uint64) desc {
	x := desc{Raw: d, Access: uint8(d >> 40), Flags: uint8(d>>52) & 0xF}
	x.Base = d>>16&0xFFFFFF | (d>>56&0xFF)<<24
	x.Limit = d&0xFFFF | (d>>48&0xF)<<16
	if x.Flags&8 != 0 {
		x.Limit = x.Limit<<12 | 0xFFF
	}
	return x
}

// attrDesc builds a desc from a segment cache (Base, Limit already scaled;
// Attr: access byte in bits 0-7, flags in bits 12-15).
func attrDesc(base uint64, limit uint32, attr uint16) desc {
	return desc{Base: base, Limit: uint64(limit), Access: uint8(attr), Flags: uint8(attr>>12) & 0xF}
}

func (d desc) system() bool  { return d.Access&0x10 == 0 }
func (d desc) dpl() int      { return int(d.Access >> 5 & 3) }
func (d desc) present() bool { return d.Access&0x80 != 0 }
func (d desc) typ() int      { return int(d.Access & 0xF) }

// qemuFlags is the descriptor's high dword with base and limit masked, as
// QEMU prints segment attributes.
func (d desc) qemuFlags() uint32 { return uint32(d.Access)<<8 | uint32(d.Flags)<<20 }

var sysTypeNames = [2][16]string{
	{"Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate", "IntGate16", "TrapGate16",
		"Reserved", "TSS32-avl", "Reserved", "TSS32-busy", "CallGate32", "Reserved", "IntGate32", "TrapGate32"},
	{"<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
		"Reserved", "TSS64-avl", "Reserved", "TSS64-busy", "CallGate64", "Reserved", "IntGate64", "TrapGate64"},
}

// typeName is QEMU's type column: CS32 [-RA], DS   [-WA], TSS32-busy...
func (d desc) typeName(long bool) string {
	if d.system() {
		l := 0
		if long {
			l = 1
		}
		return sysTypeNames[l][d.typ()]
	}
	t := d.typ()
	acc := '-'
	if t&1 != 0 {
		acc = 'A'
	}
	if t&8 != 0 {
		w := "CS16"
		switch {
		case d.Flags&2 != 0 && long:
			w = "CS64"
		case d.Flags&4 != 0:
			w = "CS32"
		}
		return fmt.Sprintf("%s [%c%c%c]", w, pick(t&4 != 0, 'C', '-'), pick(t&2 != 0, 'R', '-'), acc)
	}
	w := "DS16"
	if d.Flags&4 != 0 || long {
		w = "DS  "
	}
	return fmt.Sprintf("%s [%c%c%c]", w, pick(t&4 != 0, 'E', '-'), pick(t&2 != 0, 'W', '-'), acc)
}

// bitsString lists P/NP and the set G, D/B, L, AVL bits.
func (d desc) bitsString() string {
	s := []string{"NP"}
	if d.present() {
		s[0] = "P"
	}
	if d.Flags&1 != 0 {
		s = append(s, "AVL")
	}
	if d.Flags&2 != 0 {
		s = append(s, "L")
	}
	if d.Flags&4 != 0 {
		s = append(s, "D/B")
	}
	if d.Flags&8 != 0 {
		s = append(s, "G")
	}
	return strings.Join(s, " ")
}

// descJSON is the JSON form of a descriptor or segment cache.
type descJSON struct {
	Base    uint64 `json:"base"`
	Limit   uint64 `json:"limit"`
	Attr    uint32 `json:"attr"`
	Type    string `json:"type"`
	TypeNum int    `json:"type_num"`
	System  bool   `json:"system"`
	DPL     int    `json:"dpl"`
	Present bool   `json:"present"`
	DB      bool   `json:"db"`
	L       bool   `json:"l"`
	G       bool   `json:"g"`
	AVL     bool   `json:"avl"`
}

func (d desc) json(long bool) descJSON {
	return descJSON{Base: d.Base, Limit: d.Limit, Attr: d.qemuFlags(), Type: strings.Join(strings.Fields(d.typeName(long)), " "),
		TypeNum: d.typ(), System: d.system(), DPL: d.dpl(), Present: d.present(),
		DB: d.Flags&4 != 0, L: d.Flags&2 != 0, G: d.Flags&8 != 0, AVL: d.Flags&1 != 0}
}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// --- disassembly ---------------------------------------------------------

type insn struct {
	Addr  uint64 `json:"addr"`
	Bytes []byte `json:"-"`
	Hex   string `json:"bytes"`
	Text  string `json:"text"`
}

// disasm decodes code at pc in GNU syntax. Undecodable bytes become
// ".byte 0x.." one at a time.
func disasm(code []byte, pc uint64, bits int) []insn {
	if bits != 16 && bits != 32 && bits != 64 {
		bits = 32
	}
	var out []insn
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], bits)
		var text string
		n := in.Len
		if err != nil || n == 0 {
			if off+15 > len(code) && len(out) > 0 {
				break // probably truncated: stop rather than print garbage
			}
			n = 1
			text = fmt.Sprintf(".byte 0x%02x", code[off])
		} else {
			text = x86asm.GNUSyntax(in, pc+uint64(off), nil)
		}
		b := code[off : off+n]
		out = append(out, insn{Addr: pc + uint64(off), Bytes: b, Hex: hexBytes(b), Text: text})
		off += n
	}
	return out
}

// pteFlags decodes a paging-structure entry's low bits (and NX).
func pteFlags(e uint64) string {
	var s []string
	add := func(bit uint, n string) {
		if e&(1<<bit) != 0 {
			s = append(s, n)
		}
	}
	add(0, "P")
	add(1, "RW")
	if e&4 != 0 {
		s = append(s, "U")
	} else {
		s = append(s, "S")
	}
	add(3, "PWT")
	add(4, "PCD")
	add(5, "A")
	add(6, "D")
	add(7, "PS")
	add(8, "G")
	add(63, "NX")
	return strings.Join(s, " ")
}

// qemuPTE is QEMU's XGPDACTUW flag column.
func qemuPTE(e uint64) string {
	b := []byte("---------")
	set := func(i int, bit uint, c byte) {
		if e&(1<<bit) != 0 {
			b[i] = c
		}
	}
	set(0, 63, 'X')
	set(1, 8, 'G')
	set(2, 7, 'P')
	set(3, 6, 'D')
	set(4, 5, 'A')
	set(5, 4, 'C')
	set(6, 3, 'T')
	set(7, 2, 'U')
	set(8, 1, 'W')
	return string(b)
}

// sortBy sorts s stably by less.
func sortBy[T any](s []T, less func(a, b T) bool) {
	sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
}

// plural formats "1 TB", "2 TBs".
func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
