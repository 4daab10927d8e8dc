package loader

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Real kernels built with gcc. Skipped (with a message) when gcc cannot
// build them.

const gccEntryS = `
#ifndef MBFLAGS
#define MBFLAGS 3
#endif
	.text
	.globl _start
	.align 4
mbhdr:
	.long 0x1BADB002
	.long MBFLAGS
	.long -(0x1BADB002 + MBFLAGS)
#if MBFLAGS & 0x10000
	.long mbhdr, mbhdr, _edata, _end, _start
#endif
_start:
	mov $stack_top, %esp
	push %ebx
	push %eax
	call kmain
1:	hlt
	jmp 1b
	.bss
	.align 16
	.space 4096
stack_top:
	.section .note.GNU-stack,"",@progbits
`

const gccMainC = `
unsigned int magic_seen;
unsigned int counter = 0x12345678;
const char banner[] = "glassbox multiboot test kernel";
unsigned char bss_buf[12345];
void kmain(unsigned int magic, void *mbi) {
	magic_seen = magic;
	bss_buf[0] = (unsigned char)counter;
	(void)mbi;
}
`

const gccLong64C = `
unsigned long counter = 0x1122334455667788UL;
unsigned char bss_buf[8000];
void _start(unsigned long magic, void *mbi) {
	bss_buf[0] = (unsigned char)magic;
	for (;;) __asm__ volatile("hlt");
}
`

func gccBuild(t *testing.T, out string, args ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found; skipping tests with real gcc-built kernels")
	}
	dir := t.TempDir()
	files := map[string]string{"entry.S": gccEntryS, "main.c": gccMainC, "long64.c": gccLong64C}
	for n, src := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, out)
	cmd := exec.Command(gcc, append(append([]string{}, args...), "-o", path)...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build the test kernel (%v): %s", err, b)
	}
	return path
}

func elfSymbol(t *testing.T, f *elf.File, name string) elf.Symbol {
	t.Helper()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no symbol %s", name)
	return elf.Symbol{}
}

// checkSegments checks that every PT_LOAD of the file is in RAM at p_paddr
// with its bss zeroed.
func checkSegments(t *testing.T, f *elf.File, ram []byte) {
	t.Helper()
	n := 0
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		n++
		want := make([]byte, p.Filesz)
		if _, err := p.ReadAt(want, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ram[p.Paddr:p.Paddr+p.Filesz], want) {
			t.Errorf("segment at %#x not loaded", p.Paddr)
		}
		if !allBytes(ram[p.Paddr+p.Filesz:p.Paddr+p.Memsz], 0) {
			t.Errorf("segment at %#x: bss [%#x,%#x) not zeroed", p.Paddr, p.Paddr+p.Filesz, p.Paddr+p.Memsz)
		}
	}
	if n == 0 {
		t.Fatal("no PT_LOAD segments")
	}
}

func TestGCCMultibootELF32(t *testing.T) {
	// The command line from the brief: the default linker script puts the
	// ELF headers in their own segment at 0xFF000, which QEMU loads too.
	path := gccBuild(t, "kernel.elf", "-m32", "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-no-pie",
		"-Wl,--build-id=none", "-Wl,-Ttext=0x100000", "entry.S", "main.c")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	s, ram := newSpace(t, 64<<20)
	fill(ram, 0xAA)
	im, err := LoadKernel(s, ram, file, path, "console=ttyS0", []Module{{"mod", []byte("module!"), "x"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if im.Kind != KindMultiboot || !im.ELF32 || im.Symbols != path {
		t.Errorf("image %+v", im)
	}
	checkSegments(t, f, ram)
	if start := elfSymbol(t, f, "_start"); im.Entry.RIP != start.Value || f.Entry != start.Value {
		t.Errorf("RIP %#x, _start %#x", im.Entry.RIP, start.Value)
	}
	bss := elfSymbol(t, f, "bss_buf")
	if !allBytes(ram[bss.Value:bss.Value+bss.Size], 0) {
		t.Error("bss_buf not zeroed")
	}
	if c := elfSymbol(t, f, "counter"); le.Uint32(ram[c.Value:]) != 0x12345678 {
		t.Error("initialised data")
	}
	if b := elfSymbol(t, f, "banner"); cstr(ram, uint32(b.Value)) != "glassbox multiboot test kernel" {
		t.Error("rodata")
	}
	// The info structure lands after the highest segment.
	var high uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Paddr+p.Memsz > high {
			high = p.Paddr + p.Memsz
		}
	}
	m := readMBI(ram, uint32(im.Entry.RBX))
	if uint64(m.ModsAddr) != pageAlign(high) || m.ModsCount != 1 || cstr(ram, m.Cmdline) != path+" console=ttyS0" {
		t.Errorf("mbi %+v", m)
	}
	mods := readMods(ram, m)
	if cstr(ram, mods[0].String) != "mod x" || string(ram[mods[0].Start:mods[0].End]) != "module!" {
		t.Errorf("module %+v", mods[0])
	}

	// The same kernel with the a.out kludge, as ELF and as a flat binary
	// (objcopy -O binary), loads the same bytes.
	kpath := gccBuild(t, "kludge.elf", "-m32", "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-no-pie",
		"-Wl,--build-id=none", "-Wl,-Ttext=0x100000", "-Wl,-N", "-DMBFLAGS=0x10003", "entry.S", "main.c")
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy not found")
	}
	bin := strings.TrimSuffix(kpath, ".elf") + ".bin"
	if b, err := exec.Command(objcopy, "-O", "binary", kpath, bin).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v: %s", err, b)
	}
	var imgs [2][]byte
	for i, p := range []string{kpath, bin} {
		file, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s, ram := newSpace(t, 64<<20)
		fill(ram, 0xAA)
		im, err := LoadKernel(s, ram, file, p, "", nil, 1)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := (i == 0); im.ELF32 != want || (im.Symbols != "") != want {
			t.Errorf("%s: ELF32 %v Symbols %q", p, im.ELF32, im.Symbols)
		}
		kf, err := elf.Open(kpath)
		if err != nil {
			t.Fatal(err)
		}
		checkSegments(t, kf, ram)
		end := elfSymbol(t, kf, "_end").Value
		if im.Entry.RIP != elfSymbol(t, kf, "_start").Value {
			t.Errorf("%s: RIP %#x", p, im.Entry.RIP)
		}
		imgs[i] = append([]byte(nil), ram[0x100000:end]...)
		kf.Close()
	}
	if !bytes.Equal(imgs[0], imgs[1]) {
		t.Error("a.out kludge: ELF and flat binary load differently")
	}
}

func TestGCCELF64(t *testing.T) {
	path := gccBuild(t, "kernel64.elf", "-m64", "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-no-pie",
		"-mno-red-zone", "-Wl,--build-id=none", "-Wl,-Ttext=0x200000", "long64.c")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	s, ram := newSpace(t, 16<<20)
	fill(ram, 0xAA)
	im, err := LoadKernel(s, ram, file, path, "", nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if im.Kind != KindELF64 || im.ELF32 || im.Symbols != path || im.Entry.Mode != ModeLong64 || im.Entry.RIP != f.Entry {
		t.Errorf("image %+v", im)
	}
	checkSegments(t, f, ram)
	if c := elfSymbol(t, f, "counter"); le.Uint64(ram[c.Value:]) != 0x1122334455667788 {
		t.Error("initialised data")
	}
	bss := elfSymbol(t, f, "bss_buf")
	if !allBytes(ram[bss.Value:bss.Value+bss.Size], 0) {
		t.Error("bss not zeroed")
	}
}
