package coredump

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteReadBack writes cores in both classes and reads them back with
// debug/elf: segment addresses and contents, a hole for a zero page, one
// NT_PRSTATUS per vCPU with the registers where Linux puts them.
func TestWriteReadBack(t *testing.T) {
	phys := make([]byte, 0x4000)
	for i := 0x1000; i < 0x2000; i++ {
		phys[i] = byte(i)
	}
	copy(phys[0x3000:], "tail page")
	read := func(pa uint64, buf []byte) { copy(buf, phys[pa:]) }
	for _, long := range []bool{false, true} {
		d := Dump{Long: long, ReadPhys: read,
			CPUs:     []CPU{{ID: 2, RIP: 0x1234, RFLAGS: 0x246, Signal: 11}, {ID: 0, RIP: 0x5678}},
			Segments: []Segment{{VAddr: 0xC0000000, PAddr: 0, Size: 0x3000}, {VAddr: 0x3000, PAddr: 0x3000, Size: 0x1000}}}
		for i := range d.CPUs[0].GPR {
			d.CPUs[0].GPR[i] = uint64(0x100 + i)
		}
		d.CPUs[0].Seg = [6]uint16{0x10, 0x08, 0x18, 0x20, 0x28, 0x30}
		path := filepath.Join(t.TempDir(), "core")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		size, err := Write(f, d)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		ef, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		wantClass, wantMachine := elf.ELFCLASS32, elf.EM_386
		if long {
			wantClass, wantMachine = elf.ELFCLASS64, elf.EM_X86_64
		}
		if ef.Class != wantClass || ef.Machine != wantMachine || ef.Type != elf.ET_CORE {
			t.Fatalf("long=%v: header %v %v %v", long, ef.Class, ef.Machine, ef.Type)
		}
		var loads []*elf.Prog
		var note *elf.Prog
		for _, p := range ef.Progs {
			switch p.Type {
			case elf.PT_LOAD:
				loads = append(loads, p)
			case elf.PT_NOTE:
				note = p
			}
		}
		if len(loads) != 2 || note == nil {
			t.Fatalf("long=%v: %d loads, note %v", long, len(loads), note)
		}
		if loads[0].Vaddr != 0xC0000000 || loads[0].Paddr != 0 || loads[0].Filesz != 0x3000 || loads[1].Vaddr != 0x3000 {
			t.Errorf("long=%v: loads %+v %+v", long, loads[0].ProgHeader, loads[1].ProgHeader)
		}
		got := make([]byte, 0x3000)
		loads[0].ReadAt(got, 0)
		if !bytes.Equal(got, phys[:0x3000]) {
			t.Errorf("long=%v: segment 0 contents differ", long)
		}
		tail := make([]byte, 9)
		loads[1].ReadAt(tail, 0)
		if string(tail) != "tail page" {
			t.Errorf("long=%v: segment 1 reads %q", long, tail)
		}
		if int64(loads[1].Off+loads[1].Filesz) != size {
			t.Errorf("long=%v: size %d, last segment ends at %d", long, size, loads[1].Off+loads[1].Filesz)
		}
		// notes
		nb := make([]byte, note.Filesz)
		note.ReadAt(nb, 0)
		le := binary.LittleEndian
		descSize, regOff, pidOff, word := 144, 72, 24, 4
		ripIdx, raxIdx, csIdx := 12, 6, 13
		if long {
			descSize, regOff, pidOff, word = 336, 112, 32, 8
			ripIdx, raxIdx, csIdx = 16, 10, 17
		}
		if len(nb) != 2*(20+descSize) {
			t.Fatalf("long=%v: notes are %d bytes", long, len(nb))
		}
		reg := func(desc []byte, i int) uint64 {
			if word == 4 {
				return uint64(le.Uint32(desc[regOff+4*i:]))
			}
			return le.Uint64(desc[regOff+8*i:])
		}
		for n, want := range []struct{ pid, rip uint32 }{{3, 0x1234}, {1, 0x5678}} {
			h := nb[n*(20+descSize):]
			if le.Uint32(h[0:]) != 5 || le.Uint32(h[4:]) != uint32(descSize) || le.Uint32(h[8:]) != 1 || string(h[12:16]) != "CORE" {
				t.Errorf("long=%v: note %d header % x", long, n, h[:20])
			}
			desc := h[20 : 20+descSize]
			if le.Uint32(desc[pidOff:]) != want.pid || reg(desc, ripIdx) != uint64(want.rip) {
				t.Errorf("long=%v: note %d pid %d rip %#x", long, n, le.Uint32(desc[pidOff:]), reg(desc, ripIdx))
			}
			if n == 0 && (reg(desc, raxIdx) != 0x100 || reg(desc, csIdx) != 0x08 || le.Uint16(desc[12:]) != 11) {
				t.Errorf("long=%v: rax %#x cs %#x sig %d", long, reg(desc, raxIdx), reg(desc, csIdx), le.Uint16(desc[12:]))
			}
		}
	}
}

// TestELF32Limits: an ELF32 core cannot hold addresses above 4 GiB.
func TestELF32Limits(t *testing.T) {
	f, _ := os.Create(filepath.Join(t.TempDir(), "core"))
	defer f.Close()
	_, err := Write(f, Dump{CPUs: []CPU{{}}, Segments: []Segment{{VAddr: 0xFFFFF000, Size: 0x2000}}, ReadPhys: func(uint64, []byte) {}})
	if err == nil {
		t.Error("segment crossing 4 GiB accepted in an ELF32 core")
	}
	if _, err := Write(f, Dump{}); err == nil {
		t.Error("core without vCPUs accepted")
	}
	many := make([]Segment, 0x10000)
	if _, err := Write(f, Dump{CPUs: []CPU{{}}, Segments: many, ReadPhys: func(uint64, []byte) {}}); err == nil {
		t.Error("65536 segments accepted (e_phnum is 16 bits)")
	}
}

// TestFPNotes: with FPU state, an ELF32 core carries NT_PRFPREG (FSAVE,
// 108 bytes) and the "LINUX" NT_PRXFPREG (FXSAVE, 512), an ELF64 core
// NT_PRFPREG (FXSAVE); the FXSAVE image has the abridged tag byte, MXCSR
// and the registers in place.
func TestFPNotes(t *testing.T) {
	f := &FPU{FCW: 0x27F, FSW: 0x3000, FTW: 0x0FFF, MXCSR: 0x1F80} // physical registers 6 and 7 valid: abridged tag 0xC0
	f.ST[0][9] = 0x3F                                              // ST0's exponent high byte
	f.XMM[1][0] = 0xAB
	for _, long := range []bool{false, true} {
		d := Dump{Long: long, CPUs: []CPU{{ID: 0, FPU: f}}}
		notes := d.notes()
		le := binary.LittleEndian
		type note struct {
			name string
			typ  uint32
			desc []byte
		}
		var got []note
		for off := 0; off < len(notes); {
			nsz, dsz, typ := int(le.Uint32(notes[off:])), int(le.Uint32(notes[off+4:])), le.Uint32(notes[off+8:])
			name := string(bytes.TrimRight(notes[off+12:off+12+nsz], "\x00"))
			doff := off + 12 + (nsz+3)&^3
			got = append(got, note{name, typ, notes[doff : doff+dsz]})
			off = doff + (dsz+3)&^3
		}
		want := []struct {
			name string
			typ  uint32
			size int
		}{{"CORE", 1, 144}, {"CORE", 2, 108}, {"LINUX", 0x46e62b7f, 512}}
		if long {
			want = want[:2]
			want[0].size, want[1].size = 336, 512
		}
		if len(got) != len(want) {
			t.Fatalf("long=%v: %d notes, want %d", long, len(got), len(want))
		}
		for i, w := range want {
			if got[i].name != w.name || got[i].typ != w.typ || len(got[i].desc) != w.size {
				t.Errorf("long=%v note %d: %s/%#x/%d, want %s/%#x/%d", long, i, got[i].name, got[i].typ, len(got[i].desc), w.name, w.typ, w.size)
			}
		}
		fx := got[len(got)-1].desc
		if le.Uint16(fx[0:]) != 0x27F || fx[4] != 0xC0 || le.Uint32(fx[24:]) != 0x1F80 || fx[32+9] != 0x3F || fx[160+16] != 0xAB {
			t.Errorf("long=%v: FXSAVE image % x", long, fx[:48])
		}
	}
}
