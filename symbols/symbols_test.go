package symbols

import (
	"bufio"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The prebuilt guests (testdata/build.sh) keep these tests independent of
// the installed compiler.
const (
	prebuiltDWARF   = "testdata/k32-O1.elf"
	prebuiltNoDWARF = "testdata/k32-O0-nodwarf.elf"
)

func load(t *testing.T, path string) *Table {
	t.Helper()
	tab, err := Load(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// elfSym reads a symbol's address with debug/elf, as an independent check.
func elfSym(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	for _, s := range syms {
		if s.Name == name {
			return s.Value
		}
	}
	t.Fatalf("%s: no symbol %s", path, name)
	return 0
}

// sourceLine returns the 1-based line of the first line of kernel.c
// containing marker.
func sourceLine(t *testing.T, marker string) int {
	t.Helper()
	f, err := os.Open("testdata/kernel.c")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), marker) {
			return n
		}
	}
	t.Fatalf("kernel.c: no line contains %q", marker)
	return 0
}

func TestSymbolLookup(t *testing.T) {
	for _, path := range []string{prebuiltDWARF, prebuiltNoDWARF} {
		tab := load(t, path)
		deep := elfSym(t, path, "deep_function")
		if a, ok := tab.Lookup("deep_function"); !ok || a != deep {
			t.Errorf("%s: Lookup(deep_function) = %#x, %v; want %#x", path, a, ok, deep)
		}
		if name, off, ok := tab.Symbol(deep + 3); !ok || name != "deep_function" || off != 3 {
			t.Errorf("%s: Symbol(deep_function+3) = %q+%d, %v", path, name, off, ok)
		}
		if got, want := tab.InfoSymbol(deep+3), "deep_function + 3 in section .text"; got != want {
			t.Errorf("%s: InfoSymbol = %q, want %q", path, got, want)
		}
		if got, want := tab.InfoSymbol(deep), "deep_function in section .text"; got != want {
			t.Errorf("%s: InfoSymbol = %q, want %q", path, got, want)
		}
		table := elfSym(t, path, "table")
		if got, want := tab.InfoSymbol(table+8), "table + 8 in section .data"; got != want {
			t.Errorf("%s: InfoSymbol = %q, want %q", path, got, want)
		}
		stack := elfSym(t, path, "boot_stack")
		if name, off, ok := tab.Symbol(stack + 100); !ok || name != "boot_stack" || off != 100 {
			t.Errorf("%s: Symbol(boot_stack+100) = %q+%d, %v", path, name, off, ok)
		}
		// Addresses outside every section have no symbol, like gdb.
		if name, _, ok := tab.Symbol(0x9500); ok {
			t.Errorf("%s: Symbol(0x9500) = %q, want none", path, name)
		}
		if got, want := tab.InfoSymbol(0x9500), "No symbol matches 0x9500."; got != want {
			t.Errorf("%s: InfoSymbol = %q, want %q", path, got, want)
		}
		if _, ok := tab.Lookup("no_such_function"); ok {
			t.Errorf("%s: Lookup(no_such_function) succeeded", path)
		}
	}
}

func TestLoadOffsetAndMerge(t *testing.T) {
	base := load(t, prebuiltDWARF)
	moved, err := Load(prebuiltNoDWARF, 0x40000000)
	if err != nil {
		t.Fatal(err)
	}
	deep := elfSym(t, prebuiltNoDWARF, "deep_function")
	base.Merge(moved)
	if name, off, ok := base.Symbol(0x40000000 + deep + 5); !ok || name != "deep_function" || off != 5 {
		t.Errorf("merged Symbol = %q+%d, %v", name, off, ok)
	}
	// The first file wins for a name both define.
	if a, _ := base.Lookup("deep_function"); a != elfSym(t, prebuiltDWARF, "deep_function") {
		t.Errorf("Lookup after Merge = %#x", a)
	}
	if got := base.Files(); len(got) != 2 || !strings.HasSuffix(got[1], "@0x40000000") {
		t.Errorf("Files() = %v", got)
	}
	var b [4]byte
	if _, err := base.FileMemory().ReadMemory(0x40000000+deep, b[:]); err != nil || b[0] != 0x55 {
		t.Errorf("FileMemory at moved deep_function: % x, %v (want push %%ebp)", b, err)
	}
}

func TestLineLookup(t *testing.T) {
	tab := load(t, prebuiltDWARF)
	for fn, marker := range map[string]string{
		// deep_function's first address has rows for "{" and for its
		// first statement; gdb picks the last.
		"deep_function": "sink = depth;",
		// The others start at their opening brace.
		"level2": "{", "kmain": "{",
	} {
		addr := elfSym(t, prebuiltDWARF, fn)
		file, line, name, ok := tab.Line(addr)
		want := sourceLine(t, " "+fn+"(") + 1
		if marker != "{" {
			want = sourceLine(t, marker)
		}
		if !ok || file != "kernel.c" || line != want || name != fn {
			t.Errorf("Line(%s) = %s:%d in %s, %v; want kernel.c:%d", fn, file, line, name, ok, want)
		}
	}
	start := elfSym(t, prebuiltDWARF, "_start")
	if file, _, name, ok := tab.Line(start); !ok || file != "boot32.S" || name != "_start" {
		t.Errorf("Line(_start) = %s in %s, %v", file, name, ok)
	}
	if _, _, _, ok := tab.Line(0x9500); ok {
		t.Errorf("Line(0x9500) found a line")
	}
	nod := load(t, prebuiltNoDWARF)
	if _, _, name, ok := nod.Line(elfSym(t, prebuiltNoDWARF, "level1") + 4); ok || name != "level1" {
		t.Errorf("stripped Line = %q, %v; want no line in level1", name, ok)
	}
	if tab.HasDWARF() == false || nod.HasDWARF() {
		t.Errorf("HasDWARF: %v %v", tab.HasDWARF(), nod.HasDWARF())
	}
}

// TestInfoLineMatchesGDB compares InfoLine with gdb's "info line *ADDR" for
// every address of the test kernel's C code.
func TestInfoLineMatchesGDB(t *testing.T) {
	needTools(t, "gdb")
	tab := load(t, prebuiltDWARF)
	lo, hi := elfSym(t, prebuiltDWARF, "square"), elfSym(t, prebuiltDWARF, "kmain")+8
	var args []string
	for a := lo; a < hi; a++ {
		args = append(args, "-ex", fmt.Sprintf("info line *%#x", a))
	}
	out, err := exec.Command("gdb", append(append([]string{"-batch", "-nx"}, args...), prebuiltDWARF)...).CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != int(hi-lo) {
		t.Fatalf("gdb printed %d lines for %d addresses:\n%s", len(lines), hi-lo, out)
	}
	bad := 0
	for i, want := range lines {
		if got := tab.InfoLine(lo + uint64(i)); got != want && bad < 10 {
			t.Errorf("InfoLine(%#x):\n got %s\nwant %s", lo+uint64(i), got, want)
			bad++
		}
	}
}

func TestListSource(t *testing.T) {
	needTools(t, "gcc", "gdb")
	dir := t.TempDir()
	elfPath := guestBuild("k32", 0).build(t, dir)
	tab := load(t, elfPath)
	// gdb's "list kernel.c:LINE" shows LINE-5 .. LINE+4.
	line := sourceLine(t, "sink = depth;")
	out, err := exec.Command("gdb", "-batch", "-nx", "-ex", fmt.Sprintf("list kernel.c:%d", line), elfPath).CombinedOutput()
	if err != nil {
		t.Skipf("gdb: %v", err)
	}
	var sb strings.Builder
	if err := tab.ListSource("kernel.c", line, 5, &sb); err != nil {
		t.Fatal(err)
	}
	if sb.String() != string(out) {
		t.Errorf("ListSource:\n%s\nwant (gdb):\n%s", sb.String(), out)
	}
	sb.Reset()
	if err := tab.ListSource("kernel.c", 2, 5, &sb); err != nil || !strings.HasPrefix(sb.String(), "1\t/*\n") || strings.Count(sb.String(), "\n") != 10 {
		t.Errorf("ListSource near the top: %q, %v", sb.String(), err)
	}
	if err := tab.ListSource("nonexistent.c", 1, 5, &sb); err == nil {
		t.Errorf("ListSource of a missing file succeeded")
	}
}

// stackMemory is a sparse little-endian memory for synthetic stacks,
// falling back to the ELF file.
type stackMemory struct {
	words    map[uint64]uint32
	fallback Memory
}

func (m stackMemory) ReadMemory(addr uint64, buf []byte) (int, error) {
	if _, ok := m.words[addr&^3]; ok {
		for i := range buf {
			a := addr + uint64(i)
			w, ok := m.words[a&^3]
			if !ok {
				return i, memError(a)
			}
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], w)
			buf[i] = b[a&3]
		}
		return len(buf), nil
	}
	return m.fallback.ReadMemory(addr, buf)
}

func bt(t *testing.T, tab *Table, mem Memory, regs Regs) string {
	t.Helper()
	frames, err := tab.Backtrace(mem, regs, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	FormatGDB(&sb, frames)
	return sb.String()
}

// TestFramePointerFallback unwinds a synthetic EBP chain through the
// stripped kernel (no DWARF, no CFI): functions come from the ELF symbol
// table, and gdb's prologue analysis decides where the return address is.
func TestFramePointerFallback(t *testing.T) {
	tab := load(t, prebuiltNoDWARF)
	sym := func(n string) uint64 { return elfSym(t, prebuiltNoDWARF, n) }
	deep, level2, level1, kmain := sym("deep_function"), sym("level2"), sym("level1"), sym("kmain")
	const s1, s2, s3 = 0x200000, 0x200010, 0x200020
	mem := stackMemory{words: map[uint64]uint32{
		s1: s2, s1 + 4: uint32(level2 + 0x20),
		s2: s3, s2 + 4: uint32(level1 + 0x18),
		s3: 0, s3 + 4: uint32(kmain + 0x10),
		// For frames stopped inside deep_function's prologue.
		0x1ffff0: uint32(level2 + 0x20), 0x1ffff4: s2,
		0x1fffe0: s2, 0x1fffe4: uint32(level2 + 0x20),
	}, fallback: tab.FileMemory()}
	tail := fmt.Sprintf("#1  0x%08x in level2 ()\n#2  0x%08x in level1 ()\n#3  0x%08x in kmain ()\n",
		level2+0x20, level1+0x18, kmain+0x10)
	var regs Regs
	regs.Bits = 32

	// Frame set up (after push %ebp; mov %esp,%ebp; sub $4,%esp).
	regs.PC, regs.GPR[4], regs.GPR[5] = deep+6, s1-8, s1
	if got, want := bt(t, tab, mem, regs), fmt.Sprintf("#0  0x%08x in deep_function ()\n", deep+6)+tail; got != want {
		t.Errorf("established frame:\n%s\nwant:\n%s", got, want)
	}
	// At the first instruction: the return address is at the stack
	// pointer and EBP is still the caller's.
	regs.PC, regs.GPR[4], regs.GPR[5] = deep, 0x1ffff0, s2
	if got, want := bt(t, tab, mem, regs), fmt.Sprintf("#0  0x%08x in deep_function ()\n", deep)+tail; got != want {
		t.Errorf("function entry:\n%s\nwant:\n%s", got, want)
	}
	// After push %ebp, before mov %esp,%ebp.
	regs.PC, regs.GPR[4], regs.GPR[5] = deep+1, 0x1fffe0, s2
	if got, want := bt(t, tab, mem, regs), fmt.Sprintf("#0  0x%08x in deep_function ()\n", deep+1)+tail; got != want {
		t.Errorf("after push:\n%s\nwant:\n%s", got, want)
	}
	// An address without a symbol is "??" and treated as a function entry.
	regs.PC, regs.GPR[4], regs.GPR[5] = 0x5000, 0x1ffff0, s2
	if got, want := bt(t, tab, mem, regs), "#0  0x00005000 in ?? ()\n"+tail; got != want {
		t.Errorf("unknown pc:\n%s\nwant:\n%s", got, want)
	}
	// A broken chain stops with gdb's message.
	bad := stackMemory{words: map[uint64]uint32{s1: 0x300000, s1 + 4: uint32(level2 + 0x20)}, fallback: tab.FileMemory()}
	regs.PC, regs.GPR[4], regs.GPR[5] = deep+6, s1-8, s1
	want := fmt.Sprintf("#0  0x%08x in deep_function ()\n#1  0x%08x in level2 ()\nBacktrace stopped: Cannot access memory at address 0x300004\n", deep+6, level2+0x20)
	if got := bt(t, tab, bad, regs); got != want {
		t.Errorf("broken chain:\n%s\nwant:\n%s", got, want)
	}
	// max limits the frames.
	regs.PC, regs.GPR[4], regs.GPR[5] = deep+6, s1-8, s1
	frames, _ := tab.Backtrace(mem, regs, 2)
	if len(frames) != 2 || frames[1].Stop != "(More stack frames follow...)" {
		t.Errorf("Backtrace(max=2) = %+v", frames)
	}
	if frames[0].CFA != s1+8 || frames[1].Regs.BP() != s2 {
		t.Errorf("frame 0 CFA %#x, frame 1 EBP %#x", frames[0].CFA, frames[1].Regs.BP())
	}
}

// TestFuncOffsetFallback checks that code without DWARF is still named from
// the ELF symbol table, with offsets for "info symbol".
func TestFuncOffsetFallback(t *testing.T) {
	tab := load(t, prebuiltDWARF)
	// boot32.S's call_via_asm has no DWARF function (only line info).
	cva := elfSym(t, prebuiltDWARF, "call_via_asm")
	if name, off, ok := tab.Symbol(cva + 4); !ok || name != "call_via_asm" || off != 4 {
		t.Errorf("Symbol = %q+%d, %v", name, off, ok)
	}
	if _, _, name, ok := tab.Line(cva + 4); !ok || name != "call_via_asm" {
		t.Errorf("Line(call_via_asm+4) names %q, %v", name, ok)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(prebuiltDWARF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(write("text", []byte("hello, not an ELF file\n")), 0); !errors.Is(err, ErrNotELF) {
		t.Errorf("text file: err = %v, want ErrNotELF", err)
	}
	if _, err := Load(write("empty", nil), 0); !errors.Is(err, ErrNotELF) {
		t.Errorf("empty file: err = %v, want ErrNotELF", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), 0); err == nil {
		t.Errorf("missing file: no error")
	}
	for _, n := range []int{4, 20, 52, 200, len(good) / 2, len(good) - 100} {
		if _, err := Load(write(fmt.Sprintf("trunc%d", n), good[:n]), 0); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		} else if !strings.Contains(err.Error(), "trunc") {
			t.Errorf("truncated to %d bytes: error %q does not name the file", n, err)
		}
	}
	arm := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(arm[18:], uint16(elf.EM_ARM))
	if _, err := Load(write("arm", arm), 0); err == nil || !strings.Contains(err.Error(), "unsupported ELF machine") {
		t.Errorf("ARM file: err = %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, p := range []string{prebuiltDWARF, prebuiltNoDWARF} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, uint64(0x100040))
		}
	}
	f.Add([]byte("\x7fELF"), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, pc uint64) {
		tab, err := LoadBytes("fuzz", data, 0)
		if err != nil {
			return
		}
		tab.Symbol(pc)
		tab.InfoSymbol(pc)
		tab.Line(pc)
		tab.InfoLine(pc)
		tab.Lookup("deep_function")
		mem := tab.FileMemory()
		for _, bits := range []int{32, 64} {
			regs := Regs{PC: pc, Bits: bits}
			regs.GPR[4], regs.GPR[5] = 0x104000, 0x104010
			frames, err := tab.Backtrace(mem, regs, 16)
			if err == nil {
				var sb strings.Builder
				FormatGDB(&sb, frames)
			}
		}
	})
}

// TestBreakpointAddrMatchesGDB compares BreakpointAddr with where gdb puts
// "break NAME" for every function of the test guests.
func TestBreakpointAddrMatchesGDB(t *testing.T) {
	needTools(t, "gcc", "gdb")
	funcs := []string{"square", "deep_function", "tick", "bump", "in_regs", "level2", "level1", "kmain", "_start", "call_via_asm"}
	for _, kind := range []string{"k32", "u64", "k32-nodwarf", "u64-nodwarf"} {
		for _, opt := range []int{0, 1} {
			g := guestBuild(kind, opt)
			t.Run(g.name, func(t *testing.T) {
				if g.strip {
					needTools(t, "objcopy")
				}
				elfPath := g.build(t, t.TempDir())
				tab := load(t, elfPath)
				args := []string{"-batch", "-nx"}
				for _, f := range funcs {
					args = append(args, "-ex", "break "+f)
				}
				out, err := exec.Command("gdb", append(args, elfPath)...).CombinedOutput()
				if err != nil {
					t.Fatalf("gdb: %v\n%s", err, out)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != len(funcs) {
					t.Fatalf("gdb output:\n%s", out)
				}
				for i, f := range funcs {
					addr, file, line, ok := tab.BreakpointAddr(f)
					got := fmt.Sprintf("Breakpoint %d at %#x", i+1, addr)
					if file != "" {
						got += fmt.Sprintf(": file %s, line %d.", file, line)
					}
					if !ok || got != lines[i] {
						t.Errorf("break %s:\n got %s\nwant %s", f, got, lines[i])
					}
				}
			})
		}
	}
}
