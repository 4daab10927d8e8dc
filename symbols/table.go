// Package symbols loads the ELF symbol tables and DWARF debug information of
// guest programs (kernels, boot loaders, user programs) and turns a paused
// vCPU's registers and memory into gdb-format backtraces.
//
// Unwinding uses the DWARF call frame information (.eh_frame and
// .debug_frame, parsed with delve's pkg/dwarf/frame), falling back to the
// frame-pointer chain (EBP/RBP) the way gdb's i386/amd64 prologue analyzers
// do when a function has no CFI. Argument values are computed from their
// DWARF locations (delve's pkg/dwarf/op and pkg/dwarf/loclist) including
// DW_OP_entry_value, which is resolved like gdb does: through the caller's
// DW_TAG_call_site for the return address and its DW_AT_call_value.
// Functions that left through a tail call come back as gdb's tail-call
// frames, found from the DW_AT_call_tail_call call sites (tailcall.go).
// Functions without DWARF are named from the ELF symbol table (func+offset).
//
// Output follows gdb 13: see FormatGDB.
//
// Typical use by a debugger front end (the REPL's "bt"):
//
//	tab, err := symbols.Load("kernel.elf", 0) // -symbols FILE[@OFFSET]
//	...
//	r, _ := tgt.Regs(cpu)
//	mem := symbols.MemoryFunc(func(a uint64, b []byte) (int, error) { return tgt.ReadLinear(cpu, a, b) })
//	frames, err := tab.Backtrace(mem, symbols.Regs{PC: r.PC, GPR: r.GPR, Bits: r.Bits}, 0)
//	symbols.FormatGDB(os.Stdout, frames)
package symbols

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// Memory reads guest memory at linear (virtual) addresses. The caller
// typically wraps glassbox's target.ReadLinear for one vCPU. ReadMemory
// returns the number of bytes read; a short read must come with an error.
type Memory interface {
	ReadMemory(addr uint64, buf []byte) (int, error)
}

// MemoryFunc adapts a function to Memory.
type MemoryFunc func(addr uint64, buf []byte) (int, error)

// ReadMemory calls f.
func (f MemoryFunc) ReadMemory(addr uint64, buf []byte) (int, error) { return f(addr, buf) }

// Regs is the minimal register view a backtrace starts from.
type Regs struct {
	// PC is the linear address of the next instruction.
	PC uint64
	// GPR holds the general registers in x86 encoding order:
	// RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 (only the first 8 in 32-bit mode).
	GPR [16]uint64
	// Bits is the code width: 32 or 64. Zero means "take it from the ELF
	// file covering PC".
	Bits int
}

// SP returns the stack pointer (GPR[4]).
func (r Regs) SP() uint64 { return r.GPR[4] }

// BP returns the frame pointer (GPR[5]).
func (r Regs) BP() uint64 { return r.GPR[5] }

// Table holds the symbols and debug information of one or more ELF files.
// It is safe for concurrent use.
type Table struct {
	mu     sync.Mutex
	images []*image
}

// image is one loaded ELF file.
type image struct {
	path     string
	offset   uint64 // added to every address of the file
	bits     int    // 32 or 64
	ptrSize  int
	entry    uint64
	sections []section
	syms     []msym // sorted by address
	byName   map[string]int
	raw      []byte // the file's bytes (for section contents)

	dw       *dwarf.Data
	warnings []string
	units    []*cunit
	cuRanges []cuRange // sorted by lo
	fdes     frame.FrameDescriptionEntries
	debugLoc []byte
	loclists []byte
	lineStr  []byte
	lineSec  []byte
	addrSec  *godwarf.DebugAddrSection
	types    map[dwarf.Offset]godwarf.Type
	declPC   map[dwarf.Offset]uint64
}

// section is an allocated ELF section.
type section struct {
	name   string
	index  int
	addr   uint64
	size   uint64
	nobits bool
	code   bool
	off    uint64 // file offset of the contents
}

// msym is an ELF ("minimal") symbol.
type msym struct {
	name   string
	addr   uint64
	size   uint64
	sect   int // ELF section index, -1 for absolute symbols
	global bool
	code   bool // defined in an executable section
	order  int  // position in the ELF symbol table
}

// ErrNotELF is returned (wrapped) by Load for files that are not ELF.
var ErrNotELF = errors.New("not an ELF file")

// Load reads the ELF file at path. offset is added to every address of the
// file, for images loaded somewhere else than their link address (0 for
// kernels and non-PIE programs). Load fails for files that are not ELF, are
// truncated, or are not x86 code; broken debug information is not fatal
// (see Warnings).
func Load(path string, offset uint64) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, data, offset)
}

// LoadBytes is Load on the contents of an ELF file; name is used in messages.
func LoadBytes(name string, data []byte, offset uint64) (t *Table, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%s: malformed ELF file (%v)", name, r)
		}
	}()
	img, err := loadImage(name, data, offset)
	if err != nil {
		return nil, err
	}
	return &Table{images: []*image{img}}, nil
}

// Merge adds the files of other to t (other is left unchanged and may still
// be used). The first file loaded stays the main program: its entry point
// ends backtraces like gdb's "backtrace past-entry off".
func (t *Table) Merge(other *Table) {
	if other == nil || other == t {
		return
	}
	other.mu.Lock()
	imgs := append([]*image(nil), other.images...)
	other.mu.Unlock()
	t.mu.Lock()
	t.images = append(t.images, imgs...)
	t.mu.Unlock()
}

// Files lists the loaded files as "path@offset".
func (t *Table) Files() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, img := range t.images {
		out = append(out, fmt.Sprintf("%s@%#x", img.path, img.offset))
	}
	return out
}

// Warnings returns problems found while loading that did not stop the load
// (for example unreadable debug information).
func (t *Table) Warnings() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, img := range t.images {
		for _, w := range img.warnings {
			out = append(out, img.path+": "+w)
		}
	}
	return out
}

// HasDWARF reports whether any loaded file has debug information.
func (t *Table) HasDWARF() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, img := range t.images {
		if img.dw != nil {
			return true
		}
	}
	return false
}

func loadImage(name string, data []byte, offset uint64) (*image, error) {
	if len(data) < 4 || !bytes.Equal(data[:4], []byte(elf.ELFMAG)) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotELF)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: bad ELF file: %w", name, err)
	}
	img := &image{path: name, offset: offset, raw: data, byName: map[string]int{},
		types: map[dwarf.Offset]godwarf.Type{}, declPC: map[dwarf.Offset]uint64{}}
	switch {
	case f.Class == elf.ELFCLASS32 && f.Machine == elf.EM_386:
		img.bits, img.ptrSize = 32, 4
	case f.Class == elf.ELFCLASS64 && f.Machine == elf.EM_X86_64:
		img.bits, img.ptrSize = 64, 8
	case f.Class == elf.ELFCLASS32 && f.Machine == elf.EM_X86_64: // x32
		img.bits, img.ptrSize = 64, 4
	default:
		return nil, fmt.Errorf("%s: unsupported ELF machine %v (class %v): only x86 is supported", name, f.Machine, f.Class)
	}
	if f.Data != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%s: big-endian ELF file", name)
	}
	img.entry = f.Entry + offset
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 {
			continue
		}
		sec := section{name: s.Name, index: i, addr: s.Addr + offset, size: s.Size,
			nobits: s.Type == elf.SHT_NOBITS, code: s.Flags&elf.SHF_EXECINSTR != 0, off: s.Offset}
		if !sec.nobits && (s.Offset > uint64(len(data)) || s.Size > uint64(len(data))-s.Offset) {
			return nil, fmt.Errorf("%s: section %s extends past the end of the file (truncated?)", name, s.Name)
		}
		img.sections = append(img.sections, sec)
	}
	sort.Slice(img.sections, func(i, j int) bool { return img.sections[i].addr < img.sections[j].addr })
	if err := img.loadSymbols(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	img.loadDWARF(f)
	return img, nil
}

func (img *image) loadSymbols(f *elf.File) error {
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("bad symbol table: %w", err)
	}
	if len(syms) == 0 {
		syms, _ = f.DynamicSymbols()
	}
	codeSect := map[int]bool{}
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 {
			codeSect[i] = true
		}
	}
	for i, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		if s.Name == "" || typ == elf.STT_SECTION || typ == elf.STT_FILE || typ == elf.STT_TLS {
			continue
		}
		if s.Section == elf.SHN_UNDEF || s.Section == elf.SHN_COMMON {
			continue
		}
		m := msym{name: s.Name, addr: s.Value, size: s.Size, sect: int(s.Section), order: i,
			global: elf.ST_BIND(s.Info) != elf.STB_LOCAL}
		if s.Section == elf.SHN_ABS {
			m.sect = -1
		} else {
			m.addr += img.offset
			m.code = codeSect[int(s.Section)]
		}
		img.syms = append(img.syms, m)
	}
	sort.SliceStable(img.syms, func(i, j int) bool { return img.syms[i].addr < img.syms[j].addr })
	// Drop exact duplicates (same name and address), like gdb.
	type key struct {
		name string
		addr uint64
	}
	out := img.syms[:0]
	seen := make(map[key]bool, len(img.syms))
	for _, m := range img.syms {
		k := key{m.name, m.addr}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, m)
	}
	img.syms = out
	for i, m := range img.syms {
		j, ok := img.byName[m.name]
		if !ok || (m.global && !img.syms[j].global) || (m.code && !img.syms[j].code && m.global == img.syms[j].global) {
			img.byName[m.name] = i
		}
	}
	return nil
}

// sectionAt returns the allocated section containing addr.
func (img *image) sectionAt(addr uint64) *section {
	for i := range img.sections {
		s := &img.sections[i]
		if addr-s.addr < s.size {
			return s
		}
	}
	return nil
}

func (t *Table) imageFor(addr uint64) *image {
	for _, img := range t.images {
		if img.sectionAt(addr) != nil {
			return img
		}
	}
	return nil
}

// lookupMsym finds the ELF symbol for addr the way gdb's
// lookup_minimal_symbol_by_pc_section does: addr must be inside an allocated
// section, the symbol must be in that section, sized symbols must contain
// addr, and zero-sized symbols (labels) are used only when no sized symbol
// contains addr.
func (img *image) lookupMsym(addr uint64) (*msym, *section) {
	sec := img.sectionAt(addr)
	if sec == nil {
		return nil, nil
	}
	hi := sort.Search(len(img.syms), func(i int) bool { return img.syms[i].addr > addr }) - 1
	bestZero := -1
	for hi >= 0 {
		m := &img.syms[hi]
		if m.sect < 0 || m.sect != sec.index {
			hi--
			continue
		}
		if m.size == 0 {
			if bestZero == -1 {
				bestZero = hi
			}
			hi--
			continue
		}
		break
	}
	if bestZero != -1 && (hi < 0 || img.syms[hi].size == 0) {
		hi = bestZero
	}
	if hi >= 0 && img.syms[hi].size != 0 && addr >= img.syms[hi].addr+img.syms[hi].size {
		if bestZero == -1 {
			return nil, sec
		}
		hi = bestZero
	}
	if hi < 0 {
		return nil, sec
	}
	return &img.syms[hi], sec
}

// Symbol returns the ELF symbol containing addr and the offset of addr in
// it, like gdb's "info symbol" (which uses the ELF symbol table, not DWARF).
func (t *Table) Symbol(addr uint64) (name string, off uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, img := range t.images {
		if m, _ := img.lookupMsym(addr); m != nil {
			return m.name, addr - m.addr, true
		}
	}
	return "", 0, false
}

// InfoSymbol formats addr like gdb's "info symbol ADDR":
// "deep_function + 12 in section .text" or "No symbol matches ADDR.".
func (t *Table) InfoSymbol(addr uint64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, img := range t.images {
		m, sec := img.lookupMsym(addr)
		if m == nil {
			continue
		}
		s := m.name
		if off := addr - m.addr; off != 0 {
			s += fmt.Sprintf(" + %d", off)
		}
		return s + " in section " + sec.name
	}
	return fmt.Sprintf("No symbol matches %#x.", addr)
}

// Lookup returns the address of the symbol called name: a function or
// variable from the ELF symbol table, else a DWARF function.
func (t *Table) Lookup(name string) (addr uint64, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, img := range t.images {
		if i, ok := img.byName[name]; ok {
			return img.syms[i].addr, true
		}
	}
	for _, img := range t.images {
		if fn := img.funcByName(name); fn != nil {
			return fn.entry, true
		}
	}
	return 0, false
}

// FileMemory returns a Memory that reads the contents of the loaded files'
// allocated sections (zeroes for .bss), for use when the guest's memory is
// not available or as a fallback.
// The files loaded (merged) later are not seen.
func (t *Table) FileMemory() Memory {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fileMemory{append([]*image(nil), t.images...)}
}

type fileMemory struct{ images []*image }

func (m fileMemory) ReadMemory(addr uint64, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		a := addr + uint64(n)
		var sec *section
		var img *image
		for _, im := range m.images {
			if s := im.sectionAt(a); s != nil {
				sec, img = s, im
				break
			}
		}
		if sec == nil {
			return n, memError(a)
		}
		k := min(uint64(len(buf)-n), sec.addr+sec.size-a)
		if sec.nobits {
			clear(buf[n : n+int(k)])
		} else {
			o := sec.off + (a - sec.addr)
			copy(buf[n:n+int(k)], img.raw[o:o+k])
		}
		n += int(k)
	}
	return n, nil
}

// MemoryError is the error for an unreadable guest address. Its message is
// gdb's.
type MemoryError struct{ Addr uint64 }

func (e *MemoryError) Error() string {
	return fmt.Sprintf("Cannot access memory at address %#x", e.Addr)
}

func memError(addr uint64) error { return &MemoryError{addr} }

// readFull reads len(buf) bytes or returns a *MemoryError for the first
// unreadable address.
func readFull(mem Memory, addr uint64, buf []byte) error {
	if mem == nil {
		return memError(addr)
	}
	n, err := mem.ReadMemory(addr, buf)
	if n >= len(buf) {
		return nil
	}
	var me *MemoryError
	if err != nil && errors.As(err, &me) {
		return err
	}
	return memError(addr + uint64(max(n, 0)))
}

func readUint(mem Memory, addr uint64, size int) (uint64, error) {
	var b [8]byte
	if err := readFull(mem, addr, b[:size]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func (img *image) warn(format string, args ...any) {
	img.warnings = append(img.warnings, fmt.Sprintf(format, args...))
}
