package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden files in testdata/qemu72 are what a probe kernel printed under
// QEMU 7.2 (see the README there). probeDump prints the same lines from our
// loaded memory and entry state; every golden line whose key we promise to
// match must appear verbatim.

func probeDump(ram []byte, e EntryState) []string {
	var out []string
	p := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	p("eax=%08x", uint32(e.RAX))
	p("ebx=%08x", uint32(e.RBX))
	p("esi=%08x", uint32(e.RSI))
	p("ebp=%08x", 0)
	p("cr0=%08x", uint32(e.CR0))
	p("cr3=%08x", uint32(e.CR3))
	p("cr4=%08x", uint32(e.CR4))
	for _, s := range []struct {
		n string
		s Seg
	}{{"cs", e.CS}, {"ds", e.DS}, {"es", e.ES}, {"fs", e.FS}, {"gs", e.GS}, {"ss", e.SS}} {
		p("%s=%04x", s.n, s.s.Selector)
	}
	p("idtr base=%08x limit=%04x", uint32(e.IDTBase), e.IDTLimit)
	for o := uint64(0); o+7 <= uint64(e.GDTLimit); o += 8 {
		p(" gdt[%02x]=%016x", o, le.Uint64(ram[e.GDTBase+o:]))
	}
	m := readMBI(ram, uint32(e.RBX))
	var words []string
	for _, w := range m.Raw {
		words = append(words, fmt.Sprintf("%08x", w))
	}
	p("mbi: %s", strings.Join(words, " "))
	p("flags=%08x", m.Flags)
	p("mem_lower=%08x", m.MemLower)
	p("mem_upper=%08x", m.MemUpper)
	p("boot_device=%08x", m.BootDevice)
	p("cmdline=%08x", m.Cmdline)
	p(" cmdline_str=%q", cstr(ram, m.Cmdline))
	p("mods_count=%08x", m.ModsCount)
	p("mods_addr=%08x", m.ModsAddr)
	for _, md := range readMods(ram, m) {
		p(" mod %08x-%08x str=%08x rsv=%08x %q data=%x", md.Start, md.End, md.String, md.Reserved, cstr(ram, md.String), ram[md.Start:md.Start+8])
	}
	p("mmap_length=%08x", m.MmapLength)
	p("mmap_addr=%08x", m.MmapAddr)
	for _, me := range readMmap(ram, m) {
		p(" e820 size=%08x base=%016x len=%016x type=%08x", me.Size, me.Addr, me.Len, me.Type)
	}
	p("boot_loader_name=%08x", m.BootLoaderName)
	p(" name=%q", cstr(ram, m.BootLoaderName))
	return out
}

// Golden keys we do not reproduce (documented in the package doc): option
// ROM scratch registers, the ROM's own GDT address, and the probe's own
// symbols.
var goldenSkip = []string{"ecx=", "edx=", "edi=", "esp=", "eflags=", "gdtr ", "kernel_start=", "edata=", "end=", "bss_zero=", "DONE"}

func knELF() []byte {
	// The probe kernel kn.elf: one RWX segment [0x100000, 0x1028d0), file
	// part 0x884 bytes, entry 0x10000c, multiboot header (flags 3) first.
	return buildELF(false, 0x10000c, []tseg{{paddr: 0x100000, vaddr: 0x100000, data: text(mbHeaderBytes(3), 0x884), memsz: 0x28d0, flags: 7}})
}

func kkBin() []byte {
	// The probe kernel kk.bin: flat, header at offset 0 with the a.out
	// kludge: header_addr = load_addr = 0x100000, load_end 0x102050,
	// bss_end 0x104090, entry 0x100020.
	return text(mbHeaderBytes(0x10003, 0x100000, 0x100000, 0x102050, 0x104090, 0x100020), 0x2050)
}

func probeModules() (m1, m2, m3 []byte) {
	m2 = make([]byte, 5000)
	for i := range m2 {
		m2[i] = byte(i % 251)
	}
	return []byte("MODULE1-DATA"), m2, []byte("third")
}

func TestQEMU72Golden(t *testing.T) {
	m1, m2, m3 := probeModules()
	cases := []struct {
		golden      string
		file        []byte
		name        string
		low, high   uint64
		cmdline     string
		mods        []Module
		skipIfShort bool
	}{
		{"128M_mods.txt", knELF(), "kn.elf", 128 << 20, 0, "hello world",
			[]Module{{"mod1.bin", m1, "arg1 arg2"}, {"mod2.bin", m2, ""}, {"mod3.bin", m3, "x"}}, false},
		{"16M.txt", knELF(), "kn.elf", 16 << 20, 0, "", nil, false},
		{"5G.txt", knELF(), "kn.elf", 0xC0000000, 0x80000000, "a  b", nil, true},
		{"3584M.txt", knELF(), "kn.elf", 0xC0000000, 0x20000000, "", []Module{{"mod3.bin", m3, ""}}, true},
		{"kludge_128M.txt", kkBin(), "kk.bin", 128 << 20, 0, "x=1", []Module{{"mod1.bin", m1, "m"}}, false},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			if c.skipIfShort && testing.Short() {
				t.Skip("allocates 3 GiB of (untouched) guest RAM")
			}
			raw, err := os.ReadFile(filepath.Join("testdata", "qemu72", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			s, ram := newSpace(t, c.low)
			im, err := LoadKernelOpts(s, ram, c.file, c.name, Options{Cmdline: c.cmdline, Modules: c.mods, HighRAM: c.high})
			if err != nil {
				t.Fatal(err)
			}
			ours := map[string]bool{}
			for _, l := range probeDump(ram, im.Entry) {
				ours[l] = true
			}
			n := 0
		lines:
			for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				for _, k := range goldenSkip {
					if strings.HasPrefix(strings.TrimSpace(l), k) {
						continue lines
					}
				}
				n++
				if !ours[l] {
					t.Errorf("QEMU printed %q; we do not match it", l)
				}
			}
			if n < 30 {
				t.Fatalf("only %d golden lines compared", n)
			}
			if t.Failed() {
				t.Logf("ours:\n%s", strings.Join(probeDump(ram, im.Entry), "\n"))
			}
		})
	}
}
