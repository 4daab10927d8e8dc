package loader

import (
	"bytes"
	"strings"
	"testing"

	"glassbox/memmap"
)

func TestLoadBIOS(t *testing.T) {
	for _, size := range []int{64 << 10, 128 << 10, 256 << 10, 2 << 20} {
		s, ram := newSpace(t, 2<<20)
		rom := make([]byte, size)
		for i := range rom {
			rom[i] = byte(i*7 + i>>16)
		}
		im, err := LoadBIOS(s, rom)
		if err != nil {
			t.Fatalf("%d: %v", size, err)
		}
		rom[size-1] ^= 0xFF // LoadBIOS keeps its own copy
		rom[size-1] ^= 0xFF
		isa := size
		if isa > 128<<10 {
			isa = 128 << 10
		}
		want := []Placed{
			{Start: uint64(0x100000 - isa), Size: uint64(isa)},
			{Name: "pc.bios", Start: uint64(1<<32 - size), Size: uint64(size)},
		}
		if len(im.Regions) != 2 || im.Regions[0].Start != want[0].Start || im.Regions[0].Size != want[0].Size ||
			im.Regions[1] != want[1] {
			t.Errorf("%d: regions %+v", size, im.Regions)
		}
		if im.Kind != KindBIOS || im.Symbols != "" || im.ELF32 {
			t.Errorf("%d: image %+v", size, im)
		}
		hi := s.Find(0xFFFFFFFF)
		lo := s.Find(0xFFFFF)
		if hi == nil || lo == nil || hi.Kind != memmap.KindROM || lo.Kind != memmap.KindROM || lo.Priority != 1 || hi.Priority != 0 {
			t.Fatalf("%d: regions %v %v", size, hi, lo)
		}
		if &hi.Host[len(hi.Host)-1] != &lo.Host[len(lo.Host)-1] {
			t.Errorf("%d: isa-bios does not share pc.bios's backing", size)
		}
		for _, off := range []int{0, 1, isa / 2, isa - 1} {
			a := memmap.PhysAddr(0x100000 - isa + off)
			if got, want := s.Read(a, 1), uint64(rom[size-isa+off]); got != want {
				t.Errorf("%d: read %#x = %#x, want %#x", size, a, got, want)
			}
		}
		if got := s.Read(memmap.PhysAddr(1<<32-size), 4); got != uint64(le.Uint32(rom)) {
			t.Errorf("%d: first dword %#x", size, got)
		}
		// Below the alias, RAM is still RAM.
		if r := s.Find(memmap.PhysAddr(0x100000 - isa - 1)); r == nil || r.Kind != memmap.KindRAM {
			t.Errorf("%d: below the alias: %v", size, r)
		}
		_ = ram
		e := im.Entry
		data := Seg{0, 0, 0xFFFF, 0x93}
		if e.Mode != ModeReal || e.RIP != 0xFFF0 || e.CS != (Seg{0xF000, 0xFFFF0000, 0xFFFF, 0x9B}) ||
			e.DS != data || e.ES != data || e.FS != data || e.GS != data || e.SS != data ||
			e.RFLAGS != 2 || e.CR0 != 0x60000010 || e.RDX != 0x663 || e.RAX != 0 || e.RSP != 0 ||
			e.GDTBase != 0 || e.GDTLimit != 0xFFFF || e.IDTBase != 0 || e.IDTLimit != 0xFFFF || e.EFER != 0 || e.CR4 != 0 {
			t.Errorf("%d: reset state %+v", size, e)
		}
	}
}

func TestLoadBIOSErrors(t *testing.T) {
	for _, c := range []struct {
		size int
		want string
	}{
		{0, "not a multiple of 64 KiB"},
		{1000, "not a multiple of 64 KiB"},
		{64<<10 + 1, "not a multiple of 64 KiB"},
		{32 << 20, "outside 64 KiB..16 MiB"},
	} {
		s, _ := newSpace(t, 2<<20)
		if _, err := LoadBIOS(s, make([]byte, c.size)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("size %d: err %v, want %q", c.size, err, c.want)
		}
		if len(s.Regions()) != 1 {
			t.Errorf("size %d: regions added on error", c.size)
		}
	}
	if _, err := LoadBIOS(nil, make([]byte, 64<<10)); err == nil {
		t.Error("nil space accepted")
	}
	s, _ := newSpace(t, 2<<20)
	if _, err := LoadBIOS(s, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBIOS(s, make([]byte, 64<<10)); err == nil || !strings.Contains(err.Error(), "overlaps region") {
		t.Errorf("second BIOS: %v", err)
	}
	s, _ = newSpace(t, 2<<20)
	s.Seal()
	if _, err := LoadBIOS(s, make([]byte, 64<<10)); err == nil || !strings.Contains(err.Error(), "before Space.Seal") {
		t.Errorf("after Seal: %v", err)
	}
}

// A Go-built multiboot ELF32: .text with the header, .data, and a .bss
// whose RAM was dirty before loading, plus a segment placed higher with a
// gap in between.
func TestMultibootELF32(t *testing.T) {
	s, ram := newSpace(t, 32<<20)
	fill(ram, 0xAA)
	code := text(mbHeaderBytes(3), 0x300)
	data := []byte("initialised data")
	file := buildELF(false, 0x10000c, []tseg{
		{paddr: 0x100000, vaddr: 0x100000, data: code},
		{paddr: 0x101000, vaddr: 0x101000, data: data, memsz: 0x2000, flags: 6},
		{paddr: 0x200000, vaddr: 0x200000, data: []byte{1, 2, 3}, flags: 4},
		{typ: 4, paddr: 0x50000, data: []byte("note, not loaded")}, // PT_NOTE
	})
	m1 := Module{"initrd.img", bytes.Repeat([]byte{0x5A}, 5000), "root=/dev/ram0"}
	m2 := Module{"empty", nil, ""}
	m3 := Module{"m3", []byte("three"), "a b"}
	im, err := LoadKernel(s, ram, file, "boot/kernel.elf", "console=ttyS0", []Module{m1, m2, m3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if im.Kind != KindMultiboot || !im.ELF32 || im.Symbols != "boot/kernel.elf" || im.CPUs != 2 || im.InfoAddr != 0x9500 || len(im.Warnings) != 0 {
		t.Errorf("image %+v", im)
	}
	if !bytes.Equal(ram[0x100000:0x100300], code) || !bytes.Equal(ram[0x101000:0x101000+len(data)], data) ||
		!bytes.Equal(ram[0x200000:0x200003], []byte{1, 2, 3}) {
		t.Error("segments not placed at p_paddr")
	}
	if !allBytes(ram[0x101000+len(data):0x103000], 0) {
		t.Error("bss not zeroed")
	}
	if !allBytes(ram[0x100300:0x101000], 0) || !allBytes(ram[0x103000:0x200000], 0) {
		t.Error("gaps between segments not zeroed (QEMU copies the whole span)")
	}
	if !allBytes(ram[0x50000:0x50010], 0xAA) {
		t.Error("PT_NOTE was loaded")
	}
	// Entry state.
	e := im.Entry
	code32 := Seg{0x08, 0, 0xFFFFFFFF, 0xC09A}
	data32 := Seg{0x10, 0, 0xFFFFFFFF, 0xC093}
	if e.Mode != ModeProtected32 || e.RIP != 0x10000c || e.RAX != 0x2BADB002 || e.RBX != 0x9500 ||
		e.RFLAGS != 2 || e.CR0 != 0x11 || e.CR3 != 0 || e.CR4 != 0 || e.EFER != 0 ||
		e.CS != code32 || e.DS != data32 || e.ES != data32 || e.FS != data32 || e.GS != data32 || e.SS != data32 ||
		e.GDTBase != 0x9600 || e.GDTLimit != 0x27 || e.IDTBase != 0 || e.IDTLimit != 0x3FF ||
		e.RSP != 0x8FFC || e.RCX != 0 || e.RDX != 0 || e.RSI != 0 || e.RDI != 0 {
		t.Errorf("entry %+v", e)
	}
	if le.Uint32(ram[0x8FFC:]) != 0x9700 || !bytes.Equal(ram[0x9700:0x9704], []byte{0xFA, 0xF4, 0xEB, 0xFD}) {
		t.Error("return address / halt stub")
	}
	gdt := []uint64{0, 0x00CF9A000000FFFF, 0x00CF93000000FFFF, 0x00009E000000FFFF, 0x000092000000FFFF}
	for i, d := range gdt {
		if got := le.Uint64(ram[0x9600+8*i:]); got != d {
			t.Errorf("gdt[%#x] = %#x, want %#x", 8*i, got, d)
		}
	}
	// Information structure, field by field.
	m := readMBI(ram, 0x9500)
	if m.Flags != 0x24F || m.MemLower != 639 || m.MemUpper != (32<<10)-1024-128 || m.BootDevice != 0x8000FFFF {
		t.Errorf("mbi %+v", m)
	}
	for i, w := range m.Raw {
		switch i {
		case 0, 1, 2, 3, 4, 5, 6, 11, 12, 16:
		default:
			if w != 0 {
				t.Errorf("mbi word %d = %#x, want 0", i, w)
			}
		}
	}
	// Layout after the image: high = 0x200003 -> 0x201000.
	if m.ModsAddr != 0x201000 || m.ModsCount != 3 {
		t.Fatalf("mods at %#x count %d", m.ModsAddr, m.ModsCount)
	}
	mods := readMods(ram, m)
	wantStr := []string{"initrd.img root=/dev/ram0", "empty", "m3 a b"}
	str := uint32(0x201000 + 3*16)
	starts := []uint32{0x202000, 0x204000, 0x204000}
	sizes := []uint32{5000, 0, 5}
	for i, md := range mods {
		if md.String != str || cstr(ram, md.String) != wantStr[i] {
			t.Errorf("mod %d string at %#x %q, want %#x %q", i, md.String, cstr(ram, md.String), str, wantStr[i])
		}
		str += uint32(len(wantStr[i]) + 1)
		if md.Start != starts[i] || md.End != starts[i]+sizes[i] || md.Reserved != 0 {
			t.Errorf("mod %d = %+v", i, md)
		}
	}
	if !bytes.Equal(ram[mods[0].Start:mods[0].End], m1.Data) || !bytes.Equal(ram[mods[2].Start:mods[2].End], m3.Data) {
		t.Error("module data")
	}
	if !allBytes(ram[mods[0].End:0x204000], 0) || !allBytes(ram[mods[2].End:0x205000], 0) {
		t.Error("module padding not zeroed")
	}
	if m.Cmdline != str || cstr(ram, m.Cmdline) != "boot/kernel.elf console=ttyS0" {
		t.Errorf("cmdline at %#x %q", m.Cmdline, cstr(ram, m.Cmdline))
	}
	if m.BootLoaderName != str+uint32(len("boot/kernel.elf console=ttyS0")+1) || cstr(ram, m.BootLoaderName) != "qemu" {
		t.Errorf("boot loader name at %#x %q", m.BootLoaderName, cstr(ram, m.BootLoaderName))
	}
	wantMap := []mmapEntry{
		{20, 0, 0x9FC00, 1},
		{20, 0x9FC00, 0x400, 2},
		{20, 0xF0000, 0x10000, 2},
		{20, 0x100000, 32<<20 - 0x100000 - 0x20000, 1},
		{20, 32<<20 - 0x20000, 0x20000, 2},
		{20, 0xFFFC0000, 0x40000, 2},
	}
	if m.MmapAddr != 0x9000 || m.MmapLength != uint32(24*len(wantMap)) {
		t.Errorf("mmap at %#x len %#x", m.MmapAddr, m.MmapLength)
	}
	if got := readMmap(ram, m); !equalMmap(got, wantMap) {
		t.Errorf("mmap %+v", got)
	}
	// Regions are sorted and within RAM.
	for i, p := range im.Regions {
		if p.End() > uint64(len(ram)) || (i > 0 && p.Start < im.Regions[i-1].Start) {
			t.Errorf("region %+v", p)
		}
	}
	var sb strings.Builder
	im.Describe(&sb)
	for _, want := range []string{"multiboot (ELF32)", "symbols: boot/kernel.elf", "protected32", "RIP=0x10000c", "module 0: initrd.img", "multiboot information", "GDT", "kernel segment 0"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("Describe lacks %q:\n%s", want, sb.String())
		}
	}
}

func equalMmap(a, b []mmapEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCmdline(t *testing.T) {
	for _, c := range []struct{ name, app, want string }{
		{"kernel", "", "kernel "}, // QEMU: "%s %s" even for an empty -append
		{"/path/to/k.elf", "a  b", "/path/to/k.elf a  b"},
		{"", "x", " x"},
	} {
		s, ram := newSpace(t, 4<<20)
		im, err := LoadKernel(s, ram, knELF(), c.name, c.app, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		m := readMBI(ram, uint32(im.Entry.RBX))
		if got := cstr(ram, m.Cmdline); got != c.want {
			t.Errorf("%q %q: cmdline %q, want %q", c.name, c.app, got, c.want)
		}
		if m.ModsCount != 0 || m.ModsAddr != 0x103000 || m.Cmdline != 0x103000 {
			t.Errorf("no modules: %+v", m)
		}
	}
}

func TestMemorySizes(t *testing.T) {
	for _, c := range []struct {
		low, high  uint64
		upper      uint32
		skipShort  bool
		wantMapLen int
	}{
		{2 << 20, 0, 1024 - 128, false, 6},
		{16 << 20, 0, 0x3B80, false, 6},   // QEMU -m 16
		{128 << 20, 0, 0x1FB80, false, 6}, // QEMU -m 128
		{0xC0000000, 0x80000000, 0x2FFB80, true, 7},
		{0xE0000000, 0, 0x37FB80, true, 6},
		{0xC0000000, 1 << 36, 0x2FFB80, true, 7},
	} {
		if c.skipShort && testing.Short() {
			continue
		}
		s, ram := newSpace(t, c.low)
		im, err := LoadKernelOpts(s, ram, knELF(), "k", Options{HighRAM: c.high})
		if err != nil {
			t.Fatalf("%#x+%#x: %v", c.low, c.high, err)
		}
		m := readMBI(ram, uint32(im.InfoAddr))
		if m.MemLower != 639 || m.MemUpper != c.upper {
			t.Errorf("%#x+%#x: mem_lower %d mem_upper %#x, want 639 %#x", c.low, c.high, m.MemLower, m.MemUpper, c.upper)
		}
		mm := readMmap(ram, m)
		if len(mm) != c.wantMapLen {
			t.Fatalf("%#x+%#x: mmap %+v", c.low, c.high, mm)
		}
		if mm[3].Addr != 0x100000 || mm[3].Len != uint64(c.upper)*1024 || mm[4] != (mmapEntry{20, c.low - 0x20000, 0x20000, 2}) {
			t.Errorf("%#x+%#x: mmap %+v", c.low, c.high, mm)
		}
		if c.high > 0 && mm[6] != (mmapEntry{20, 1 << 32, c.high, 1}) {
			t.Errorf("%#x+%#x: high entry %+v", c.low, c.high, mm[6])
		}
	}
}

func TestFlagWarnings(t *testing.T) {
	for _, c := range []struct {
		flags uint32
		want  []string
	}{
		{0, nil},
		{3, nil},
		{7, []string{"video mode"}},
		{0x8 | 0x8000, []string{"unknown required flag bits 0x8008"}},
		{0x4 | 0x10, []string{"video mode", "0x10"}},
		{0xFFFC0000 &^ 0x10000, nil}, // optional bits: no warning
	} {
		s, ram := newSpace(t, 4<<20)
		file := buildELF(false, 0x100010, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(mbHeaderBytes(c.flags), 64)}})
		im, err := LoadKernel(s, ram, file, "k", "", nil, 1)
		if err != nil {
			t.Fatalf("flags %#x: %v", c.flags, err)
		}
		if len(im.Warnings) != len(c.want) {
			t.Errorf("flags %#x: warnings %q", c.flags, im.Warnings)
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(im.Warnings[i], w) {
				t.Errorf("flags %#x: warning %q lacks %q", c.flags, im.Warnings[i], w)
			}
		}
	}
}

func TestHeaderSearch(t *testing.T) {
	// The first valid header wins; a bad checksum is skipped; the header
	// must be 4-byte aligned and wholly inside the first 8192 bytes.
	mk := func(off int, hdr []byte, size int) []byte {
		b := make([]byte, size)
		copy(b[off:], hdr)
		return b
	}
	bad := mbHeaderBytes(0x10000, 0x100000, 0x100000, 0, 0, 0x100000)
	bad[8]++
	good := mbHeaderBytes(0x10000, 0x100000+0x20, 0x100000, 0, 0, 0x100000)
	for _, c := range []struct {
		file  []byte
		found bool
		off   int
	}{
		{mk(0, good, 64), true, 0},
		{mk(8192-32, good, 8192), true, 8192 - 32},
		{mk(8192-12, mbHeaderBytes(0), 8192), true, 8192 - 12},
		{mk(8192-8, mbHeaderBytes(0), 8200), false, 0},
		{mk(2, good, 64), false, 0},
		{append(mk(0, bad, 32), good...), true, 32},
	} {
		h := findMultiboot(c.file)
		if h.found != c.found || (h.found && h.off != c.off) {
			t.Errorf("len %d: found %v at %#x, want %v at %#x", len(c.file), h.found, h.off, c.found, c.off)
		}
	}
}

func TestAOutKludge(t *testing.T) {
	// Header at file offset 0x40; load_addr = header_addr - 0x40, so the
	// loaded image starts at file offset 0.
	const load = 0x200000
	body := text(nil, 0x1000)
	hdr := mbHeaderBytes(0x10003, load+0x40, load, load+0x800, load+0x3000, load+0x100)
	copy(body[0x40:], hdr)
	for _, c := range []struct {
		name       string
		file       []byte
		loadSize   int
		kernelSize int
	}{
		{"load_end+bss_end", body, 0x800, 0x3000},
		{"whole file", func() []byte {
			b := append([]byte(nil), body...)
			copy(b[0x40:], mbHeaderBytes(0x10003, load+0x40, load, 0, 0, load+0x100))
			return b
		}(), 0x1000, 0x1000},
		{"file offset", func() []byte {
			// header at 0x80 with header_addr == load_addr: the image starts
			// at file offset 0x80.
			b := append(make([]byte, 0x80), body[:0x800]...)
			copy(b[0x80:], mbHeaderBytes(0x10000, load, load, load+0x400, load+0x1000, load+0x20))
			return b
		}(), 0x400, 0x1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, ram := newSpace(t, 8<<20)
			fill(ram, 0xAA)
			im, err := LoadKernel(s, ram, c.file, "flat.bin", "", nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			le32 := func(a int) uint32 { return le.Uint32(ram[a:]) }
			hdrOff := 0x40
			if c.name == "file offset" {
				hdrOff = 0x80
			}
			textOff := hdrOff - int(le.Uint32(c.file[hdrOff+12:])-le.Uint32(c.file[hdrOff+16:]))
			if !bytes.Equal(ram[load:load+c.loadSize], c.file[textOff:textOff+c.loadSize]) {
				t.Error("image not loaded at load_addr")
			}
			if !allBytes(ram[load+c.loadSize:load+c.kernelSize], 0) {
				t.Error("bss not zeroed")
			}
			if le32(load+hdrOff-textOff) != MultibootHeaderMagic {
				t.Error("header not at header_addr")
			}
			if im.Kind != KindMultiboot || im.ELF32 || im.Symbols != "" || im.Entry.RIP != uint64(le.Uint32(c.file[hdrOff+28:])) {
				t.Errorf("image %+v", im)
			}
			m := readMBI(ram, 0x9500)
			if m.ModsAddr != uint32(pageAlign(load+uint64(c.kernelSize))) {
				t.Errorf("info after the image at %#x", m.ModsAddr)
			}
			if !allBytes(ram[load+c.kernelSize:m.ModsAddr], 0) {
				t.Error("padding after bss not zeroed")
			}
		})
	}
}

// An ELF64 that uses the a.out kludge is a multiboot kernel whose symbols
// are in the file.
func TestAOutKludgeELF64(t *testing.T) {
	seg := text(nil, 0x200)
	file := buildELF(true, 0x100000, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: seg}})
	off := 64 + 56
	off = (off + 15) &^ 15 // segment data offset
	copy(file[off:], mbHeaderBytes(0x10000, 0x100000, 0x100000, 0x100200, 0x101000, 0x100020))
	s, ram := newSpace(t, 4<<20)
	im, err := LoadKernel(s, ram, file, "k64.elf", "", nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if im.Kind != KindMultiboot || im.ELF32 || im.Symbols != "k64.elf" || im.Entry.Mode != ModeProtected32 || im.Entry.RIP != 0x100020 {
		t.Errorf("image %+v", im)
	}
	if !bytes.Equal(ram[0x100000:0x100200], file[off:off+0x200]) {
		t.Error("not loaded")
	}
	var sb strings.Builder
	im.Describe(&sb)
	if !strings.Contains(sb.String(), "a.out kludge, ELF64 file") {
		t.Error(sb.String())
	}
}

func TestELF64LongMode(t *testing.T) {
	s, ram := newSpace(t, 16<<20)
	fill(ram, 0xAA)
	const kbase = 0xFFFFFFFF80000000
	code := text(nil, 0x400)
	file := buildELF(true, kbase+0x100010, []tseg{
		{paddr: 0x100000, vaddr: kbase + 0x100000, data: code, flags: 5},
		{paddr: 0x101000, vaddr: kbase + 0x101000, data: []byte("data"), memsz: 0x1000, flags: 6},
	})
	im, err := LoadKernelOpts(s, ram, file, "vmlinux64", Options{Cmdline: "quiet", Modules: []Module{{"rd", []byte("RD"), ""}}, HighRAM: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if im.Kind != KindELF64 || im.ELF32 || im.Symbols != "vmlinux64" || im.CPUs != 1 {
		t.Errorf("image %+v", im)
	}
	if !bytes.Equal(ram[0x100000:0x100400], code) || string(ram[0x101000:0x101004]) != "data" || !allBytes(ram[0x101004:0x102000], 0) {
		t.Error("segments / bss")
	}
	e := im.Entry
	code64 := Seg{0x08, 0, 0xFFFFFFFF, 0xA09B}
	data := Seg{0x10, 0, 0xFFFFFFFF, 0xC093}
	if e.Mode != ModeLong64 || e.RIP != 0x100010 || e.RSP != 0x8FF8 || e.RFLAGS != 2 ||
		e.RAX != 0x2BADB002 || e.RDI != 0x2BADB002 || e.RBX != 0x9500 || e.RSI != 0x9500 || e.RCX != 0 || e.RDX != 0 ||
		e.CR0 != 0x80010011 || e.CR3 != 0x1000 || e.CR4 != 0x20 || e.EFER != 0x500 ||
		e.CS != code64 || e.DS != data || e.ES != data || e.FS != data || e.GS != data || e.SS != data ||
		e.GDTBase != 0x9600 || e.GDTLimit != 0x17 || e.IDTBase != 0 || e.IDTLimit != 0 {
		t.Errorf("entry %+v", e)
	}
	if (e.RSP+8)%16 != 0 || le.Uint64(ram[e.RSP:]) != 0x9700 {
		t.Error("stack: return address / alignment")
	}
	for i, d := range []uint64{0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF} {
		if got := le.Uint64(ram[0x9600+8*i:]); got != d {
			t.Errorf("gdt[%d] = %#x", i, got)
		}
	}
	// Walk the page tables for a few addresses.
	walk := func(va uint64) (uint64, bool) {
		pml4e := le.Uint64(ram[(e.CR3&^0xFFF)+8*(va>>39&511):])
		if pml4e&1 == 0 {
			return 0, false
		}
		pdpte := le.Uint64(ram[(pml4e&^0xFFF)+8*(va>>30&511):])
		if pdpte&1 == 0 {
			return 0, false
		}
		pde := le.Uint64(ram[(pdpte&^0xFFF)+8*(va>>21&511):])
		if pde&1 == 0 || pde&0x80 == 0 || pde&2 == 0 {
			return 0, false
		}
		return pde&^0x1FFFFF + va&0x1FFFFF, true
	}
	for _, va := range []uint64{0, 0x9500, 0x100010, 0x1FFFFF, 0x200000, 0x7FFFFFFF, 0xC0000000, 0xFEE00000, 0xFFFFFFFF} {
		if pa, ok := walk(va); !ok || pa != va {
			t.Errorf("walk(%#x) = %#x %v", va, pa, ok)
		}
	}
	if _, ok := walk(1 << 32); ok {
		t.Error("4 GiB is mapped")
	}
	m := readMBI(ram, 0x9500)
	if m.Flags != 0x24F || cstr(ram, m.Cmdline) != "vmlinux64 quiet" || m.ModsCount != 1 || m.ModsAddr != 0x102000 {
		t.Errorf("mbi %+v", m)
	}
	if mm := readMmap(ram, m); len(mm) != 7 || mm[6] != (mmapEntry{20, 1 << 32, 1 << 30, 1}) {
		t.Errorf("mmap %+v", mm)
	}
	var sb strings.Builder
	im.Describe(&sb)
	for _, want := range []string{"image: elf64", "long64", "page tables", "CR3=0x1000"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("Describe lacks %q:\n%s", want, sb.String())
		}
	}
}

// Physical entry translation (QEMU's ELF loader rule).
func TestEntryTranslation(t *testing.T) {
	hdr := mbHeaderBytes(0)
	for _, c := range []struct {
		name  string
		segs  []tseg
		entry uint64
		want  uint64
		err   string
	}{
		{"higher half", []tseg{{paddr: 0x100000, vaddr: 0xC0100000, data: text(hdr, 64)}}, 0xC010000C, 0x10000C, ""},
		{"identity", []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(hdr, 64)}}, 0x10000C, 0x10000C, ""},
		{"not executable", []tseg{{paddr: 0x100000, vaddr: 0xC0100000, data: text(hdr, 64), flags: 4}}, 0xC010000C, 0, "outside the loaded image"},
		{"in bss only", []tseg{{paddr: 0x100000, vaddr: 0xC0100000, data: text(hdr, 64), memsz: 0x1000}}, 0xC0100800, 0, "outside the loaded image"},
		{"outside", []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(hdr, 64)}}, 0x200000, 0, "entry point 0x200000 is outside"},
	} {
		s, ram := newSpace(t, 4<<20)
		im, err := LoadKernel(s, ram, buildELF(false, c.entry, c.segs), "k", "", nil, 1)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if im.Entry.RIP != c.want {
			t.Errorf("%s: RIP %#x, want %#x", c.name, im.Entry.RIP, c.want)
		}
	}
}

// The kernel may only be written where the space has RAM: not over MMIO
// or ROM that shadows RAM, nor past the end of RAM.
func TestOnlyRAMIsWritten(t *testing.T) {
	s := memmap.New(4 << 20)
	ram := make([]byte, 4<<20)
	s.AddRAM("ram", 0, ram)
	rom := bytes.Repeat([]byte{0xEE}, 64<<10)
	s.AddROM("shadow", 0xF0000, rom, 1)
	s.AddMMIO("vga", 0xA0000, 0x20000, nopMMIO{}, 1)
	for _, c := range []struct {
		paddr uint64
		want  string
	}{
		{0xA0000, `i/o "vga"`},
		{0xF8000, `rom "shadow"`},
		{0xEF000, `rom "shadow"`}, // segment runs into it
		{4<<20 - 0x10, "outside guest RAM"},
	} {
		file := buildELF(false, c.paddr+12, []tseg{{paddr: c.paddr, vaddr: c.paddr, data: text(mbHeaderBytes(0), 0x1800)}})
		_, err := LoadKernel(s, ram, file, "k", "", nil, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%#x: err %v, want %q", c.paddr, err, c.want)
		}
	}
	if !allBytes(rom, 0xEE) || !allBytes(ram, 0) {
		t.Error("memory written by a failed load")
	}
}

type nopMMIO struct{}

func (nopMMIO) ReadMMIO(off uint64, size int) uint64     { return 0 }
func (nopMMIO) WriteMMIO(off uint64, size int, v uint64) {}

func TestErrors(t *testing.T) {
	seg := func(paddr uint64, n int) []tseg {
		return []tseg{{paddr: paddr, vaddr: paddr, data: text(mbHeaderBytes(0), n)}}
	}
	good := buildELF(false, 0x10000c, seg(0x100000, 64))
	patch := func(b []byte, off int, v ...byte) []byte {
		b = append([]byte(nil), b...)
		copy(b[off:], v)
		return b
	}
	put32 := func(b []byte, off int, v uint32) []byte {
		b = append([]byte(nil), b...)
		le.PutUint32(b[off:], v)
		return b
	}
	// ELF32 field offsets: phdr 0 at 52: p_offset 56, p_vaddr 60, p_paddr 64, p_filesz 68, p_memsz 72.
	kl := func(fields ...uint32) []byte { return text(mbHeaderBytes(0x10000, fields...), 0x100) }
	elf64 := func(entry uint64, segs []tseg) []byte { return buildELF(true, entry, segs) }
	twoSegs := buildELF(false, 0x10000c, []tseg{
		{paddr: 0x100000, vaddr: 0x100000, data: text(mbHeaderBytes(0), 0x100)},
		{paddr: 0x100080, vaddr: 0x100080, data: []byte{1}},
	})
	type tc struct {
		name string
		file []byte
		opt  Options
		low  uint64
		want string
	}
	cases := []tc{
		{"empty file", nil, Options{}, 0, "is empty"},
		{"garbage", []byte("hello, world, this is not a kernel"), Options{}, 0, "not a multiboot kernel or ELF64 image: no multiboot header"},
		{"bzImage", patch(make([]byte, 0x400), 0x202, 'H', 'd', 'r', 'S'), Options{}, 0, "Linux bzImage"},
		{"bad checksum", patch(mbHeaderBytes(0), 8, 1), Options{}, 0, "bad checksum"},
		{"ELF32 without header", buildELF(false, 0x100000, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(nil, 64)}}), Options{}, 0, "ELF32 file without a multiboot header"},
		{"ELF bad class", patch(buildELF(false, 0x100000, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(nil, 64)}}), 4, 9), Options{}, 0, "not a multiboot kernel or ELF64 image: an ELF file of unknown class"},
		{"multiboot ELF bad class", patch(good, 4, 9), Options{}, 0, "ELF: bad class 9"},
		{"multiboot ELF64 without kludge", elf64(0x100000, seg(0x100000, 64)), Options{}, 0, "Cannot load x86-64 image"},
		{"multiboot not ELF", mbHeaderBytes(0), Options{}, 0, "must be an ELF32"},
		{"big endian", patch(good, 5, 2), Options{}, 0, "not little-endian"},
		{"bad version", patch(good, 6, 0), Options{}, 0, "bad version"},
		{"truncated ELF header", append(good[:32:32], mbHeaderBytes(0)...), Options{}, 0, "truncated header (44 bytes, need 52)"},
		{"ELF type core", patch(good, 16, 4), Options{}, 0, "not an executable"},
		{"wrong machine", patch(good, 18, 62), Options{}, 0, "machine EM_X86_64, want EM_386"},
		{"no program headers", patch(good, 44, 0, 0), Options{}, 0, "no program headers"},
		{"PN_XNUM", patch(good, 44, 0xFF, 0xFF), Options{}, 0, "PN_XNUM"},
		{"bad phentsize", patch(good, 42, 40), Options{}, 0, "entry size 40"},
		{"phdrs past EOF", put32(good, 28, 0xFFFFFF00), Options{}, 0, "program headers"},
		{"phnum past EOF", patch(good, 44, 0x00, 0x10), Options{}, 0, "run past the end of the file"},
		{"filesz > memsz", put32(good, 72, 1), Options{}, 0, "p_filesz 0x40 > p_memsz 0x1"},
		{"segment past EOF", put32(good, 56, 0x7FFFFFFF), Options{}, 0, "run past the end of the file"},
		{"segment beyond 4 GiB", put32(put32(good, 72, 0x100), 64, 0xFFFFFFF0), Options{}, 0, "beyond 4 GiB"},
		{"no PT_LOAD", buildELF(false, 0x100000, []tseg{{typ: 4, paddr: 0x100000, data: text(mbHeaderBytes(0), 64)}}), Options{}, 0, "no loadable"},
		{"overlapping segments", twoSegs, Options{}, 0, "segments 0 and 1 overlap"},
		{"segment outside RAM", buildELF(false, 0x1000000c, seg(0x10000000, 64)), Options{}, 0, "outside guest RAM"},
		{"huge memsz", put32(good, 72, 0x7FFFFFFF), Options{}, 0, "outside guest RAM"},
		{"kernel over info page", buildELF(false, 0x900c, seg(0x9000, 64)), Options{}, 0, "overlap the loader's low-memory area"},
		{"kernel over stack page", buildELF(false, 0x800c, seg(0x8000, 64)), Options{}, 0, "overlap the loader's low-memory area"},
		{"modules over info page", buildELF(false, 0x400c, seg(0x4000, 64)), Options{Modules: []Module{{"m", make([]byte, 0x5000), ""}}}, 0, "image and its modules"},
		{"ELF64 over page tables", elf64(0x200c, []tseg{{paddr: 0x2000, vaddr: 0x2000, data: text(nil, 64)}}), Options{}, 0, "overlap the loader's low-memory area [0x1000,0xa000)"},
		{"ELF64 above 4 GiB", elf64(1<<32, []tseg{{paddr: 1 << 32, vaddr: 1 << 32, data: text(nil, 64)}}), Options{}, 0, "beyond 4 GiB"},
		{"ELF64 entry outside", elf64(0x300000, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(nil, 64)}}), Options{}, 0, "entry point 0x300000 is outside"},
		{"module too big", good, Options{Modules: []Module{{"big", make([]byte, 3<<20), ""}}}, 4 << 20, "does not fit in RAM"},
		{"module larger than RAM", good, Options{Modules: []Module{{"big", make([]byte, 5<<20), ""}}}, 4 << 20, "more than the RAM"},
		{"many modules", good, Options{Modules: make([]Module, 300)}, 0, "has no name"},
		{"module string area too big", good, Options{Modules: []Module{{strings.Repeat("n", 4<<20), nil, ""}}}, 4 << 20, "do not fit in RAM"},
		{"NUL in cmdline", good, Options{Cmdline: "a\x00b"}, 0, "NUL"},
		{"NUL in module", good, Options{Modules: []Module{{"m", nil, "x\x00"}}}, 0, "NUL"},
		{"RAM too small", good, Options{}, 1 << 20, "need at least"},
		{"RAM not page multiple", good, Options{}, 4<<20 + 1, "not a multiple of 4 KiB"},
		{"high RAM absurd", good, Options{HighRAM: 1 << 50}, 0, "above 4 GiB"},
		{"high RAM odd", good, Options{HighRAM: 12345}, 0, "above 4 GiB"},
		{"negative CPUs", good, Options{CPUs: -1}, 0, "CPUs"},
		{"too many CPUs", good, Options{CPUs: 1000}, 0, "CPUs"},
		{"kludge truncated", mbHeaderBytes(0x10000), Options{}, 0, "a.out kludge fields run past"},
		{"kludge header_addr < load_addr", kl(0x100000, 0x100010, 0, 0, 0x100000), Options{}, 0, "below load_addr"},
		{"kludge header_addr too far", kl(0x100010, 0x100000, 0, 0, 0x100000), Options{}, 0, "but the header is at file offset 0x0"},
		{"kludge load_end < load_addr", kl(0x100000, 0x100000, 0xFFFFF, 0, 0x100000), Options{}, 0, "load_end_addr 0xfffff is below"},
		{"kludge load_end past EOF", kl(0x100000, 0x100000, 0x200000, 0, 0x100000), Options{}, 0, "but the file has 256 bytes"},
		{"kludge bss_end too low", kl(0x100000, 0x100000, 0x100080, 0x100040, 0x100000), Options{}, 0, "bss_end_addr 0x100040"},
		{"kludge beyond 4 GiB", kl(0xFFFFFF80, 0xFFFFFF80, 0, 0, 0xFFFFFF80), Options{}, 0, "do not fit below 4 GiB"},
		{"kludge empty", kl(0x100000, 0x100000, 0x100000, 0, 0x100000), Options{}, 0, "empty"},
		{"kludge bss outside RAM", kl(0x100000, 0x100000, 0, 0xFFFFF000, 0x100000), Options{}, 0, "outside guest RAM"},
		{"kludge entry outside", kl(0x100000, 0x100000, 0, 0, 0x200000), Options{}, 0, "entry point 0x200000"},
	}
	for _, c := range cases {
		low := c.low
		if low == 0 {
			low = 4 << 20
		}
		s := memmap.New(memmap.PhysAddr(low))
		ram := guestRAM(t, low)
		if low%memmap.PageSize == 0 {
			s.AddRAM("ram", 0, ram)
		}
		fill(ram, 0xAA)
		im, err := LoadKernelOpts(s, ram, c.file, "k", c.opt)
		if err == nil {
			t.Errorf("%s: loaded: %+v", c.name, im)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %q, want %q", c.name, err, c.want)
		}
		if !allBytes(ram, 0xAA) {
			t.Errorf("%s: RAM written by a failed load", c.name)
		}
	}
	if _, err := LoadKernel(nil, nil, good, "k", "", nil, 1); err == nil {
		t.Error("nil space accepted")
	}
	s, ram := newSpace(t, 0xE0000000+4096)
	if _, err := LoadKernel(s, ram, good, "k", "", nil, 1); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too much low RAM: %v", err)
	}
}
