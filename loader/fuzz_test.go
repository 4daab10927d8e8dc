package loader

import (
	"bytes"
	"testing"

	"glassbox/memmap"
)

// FuzzLoadKernel feeds arbitrary kernel files (plus a command line and one
// module) to LoadKernel. It must never panic; on error it must not write
// guest memory; on success everything it placed must be inside RAM, and
// ROM/MMIO shadows and memory past the end of RAM must be untouched.
func FuzzLoadKernel(f *testing.F) {
	f.Add(knELF(), "console=ttyS0", []byte("module"))
	f.Add(kkBin(), "", []byte(nil))
	f.Add(buildELF(true, 0x100010, []tseg{
		{paddr: 0x100000, vaddr: 0xFFFFFFFF80100000, data: text(nil, 0x100)},
		{paddr: 0x101000, vaddr: 0xFFFFFFFF80101000, data: []byte("data"), memsz: 0x800, flags: 6},
	}), "x", []byte{1, 2, 3})
	f.Add(buildELF(false, 0xC010000C, []tseg{
		{paddr: 0x100000, vaddr: 0xC0100000, data: text(mbHeaderBytes(7), 0x40)},
		{paddr: 0x180000, vaddr: 0xC0180000, data: []byte{9}, memsz: 0x3000, flags: 6},
	}), "", []byte(nil))
	f.Add(text(mbHeaderBytes(0x10000, 0x100040, 0x100000, 0x100800, 0x102000, 0x100100), 0x1000), "a b", bytes.Repeat([]byte{7}, 5000))
	f.Add([]byte("\x7fELF\x02\x01\x01"), "", []byte(nil))
	f.Add(mbHeaderBytes(0x10000), "", []byte(nil))

	// One space per fuzzing process, reset before every input (f.Fuzz
	// calls its function sequentially within a process): allocating 2 MiB
	// of RAM per input would dominate the fuzzing rate.
	const low = 2 << 20
	vgaRef := bytes.Repeat([]byte{0xEE}, 0x20000)
	pastRef := bytes.Repeat([]byte{0xDD}, 0x10000)
	s := memmap.New(low)
	ram := make([]byte, low)
	s.AddRAM("ram", 0, ram)
	vga := append([]byte(nil), vgaRef...)
	s.AddROM("vga-shadow", 0xA0000, vga, 1)
	past := append([]byte(nil), pastRef...)
	s.AddROM("past-ram", low, past, 0)
	s.Seal()
	f.Fuzz(func(t *testing.T, file []byte, cmdline string, mod []byte) {
		clear(ram)
		copy(vga, vgaRef)
		copy(past, pastRef)
		s.ClearRange(0, low, memmap.ClientMigration)

		var mods []Module
		if mod != nil {
			mods = []Module{{Name: "mod", Data: mod, Cmdline: "arg"}}
		}
		im, err := LoadKernel(s, ram, file, "kernel", cmdline, mods, 1)
		if !bytes.Equal(vga, vgaRef) || !bytes.Equal(past, pastRef) {
			t.Fatalf("ROM outside RAM written (err %v)", err)
		}
		if err != nil {
			if n := s.CountDirty(0, low, memmap.ClientMigration); n != 0 {
				t.Fatalf("failed load (%v) wrote %d pages", err, n)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if im.Entry.RIP >= low || im.Entry.RSP >= low || im.InfoAddr != InfoAddr {
			t.Fatalf("entry %+v", im.Entry)
		}
		for i, p := range im.Regions {
			if p.End() > low || p.End() < p.Start {
				t.Fatalf("region %+v outside RAM", p)
			}
			if i > 0 && overlaps(im.Regions[i-1].Start, im.Regions[i-1].Size, p.Start, p.Size) {
				t.Fatalf("regions overlap: %+v %+v", im.Regions[i-1], p)
			}
			if overlaps(p.Start, p.Size, 0xA0000, 0x20000) {
				t.Fatalf("region %+v over the VGA shadow", p)
			}
		}
		m := readMBI(ram, InfoAddr)
		if m.Flags != InfoFlags || cstr(ram, m.Cmdline) != "kernel "+cmdline || cstr(ram, m.BootLoaderName) != "qemu" {
			t.Fatalf("mbi %+v", m)
		}
		if mod != nil {
			md := readMods(ram, m)
			if len(md) != 1 || !bytes.Equal(ram[md[0].Start:md[0].End], mod) || cstr(ram, md[0].String) != "mod arg" {
				t.Fatalf("module %+v", md)
			}
		}
	})
}
