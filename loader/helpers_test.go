package loader

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"testing"

	"glassbox/memmap"
)

var le = binary.LittleEndian

// newSpace returns a space with low bytes of RAM at 0.
func newSpace(t testing.TB, low uint64) (*memmap.Space, []byte) {
	t.Helper()
	s := memmap.New(memmap.PhysAddr(low))
	ram := guestRAM(t, low)
	s.AddRAM("ram", 0, ram)
	return s, ram
}

// guestRAM returns zeroed memory. Gigabyte-sized RAM comes straight from
// mmap so that it stays untouched (and free) apart from what a test writes.
func guestRAM(t testing.TB, size uint64) []byte {
	if size < 256<<20 {
		return make([]byte, size)
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
	if err != nil {
		t.Skipf("cannot map %d bytes of guest RAM: %v", size, err)
	}
	t.Cleanup(func() { syscall.Munmap(b) })
	return b
}

// tseg is a test ELF segment.
type tseg struct {
	paddr, vaddr uint64
	data         []byte
	memsz        uint64 // 0: len(data)
	flags        uint32 // 0: R|X
	typ          uint32 // 0: PT_LOAD
}

// buildELF returns an ELF32 (EM_386) or ELF64 (EM_X86_64) executable. The
// segment data follows the program headers, each at a 16-byte aligned file
// offset.
func buildELF(class64 bool, entry uint64, segs []tseg) []byte {
	ehsize, phsize := 52, 32
	if class64 {
		ehsize, phsize = 64, 56
	}
	off := ehsize + phsize*len(segs)
	offs := make([]int, len(segs))
	for i, s := range segs {
		off = (off + 15) &^ 15
		offs[i] = off
		off += len(s.data)
	}
	b := make([]byte, off)
	copy(b, "\x7fELF")
	b[4] = 1
	if class64 {
		b[4] = 2
	}
	b[5], b[6] = 1, 1
	le.PutUint16(b[16:], 2) // ET_EXEC
	if class64 {
		le.PutUint16(b[18:], 62)
		le.PutUint32(b[20:], 1)
		le.PutUint64(b[24:], entry)
		le.PutUint64(b[32:], uint64(ehsize))
		le.PutUint16(b[52:], uint16(ehsize))
		le.PutUint16(b[54:], uint16(phsize))
		le.PutUint16(b[56:], uint16(len(segs)))
	} else {
		le.PutUint16(b[18:], 3)
		le.PutUint32(b[20:], 1)
		le.PutUint32(b[24:], uint32(entry))
		le.PutUint32(b[28:], uint32(ehsize))
		le.PutUint16(b[40:], uint16(ehsize))
		le.PutUint16(b[42:], uint16(phsize))
		le.PutUint16(b[44:], uint16(len(segs)))
	}
	for i, s := range segs {
		p := b[ehsize+i*phsize:]
		memsz := s.memsz
		if memsz == 0 {
			memsz = uint64(len(s.data))
		}
		flags := s.flags
		if flags == 0 {
			flags = 5
		}
		typ := s.typ
		if typ == 0 {
			typ = 1
		}
		if class64 {
			le.PutUint32(p[0:], typ)
			le.PutUint32(p[4:], flags)
			le.PutUint64(p[8:], uint64(offs[i]))
			le.PutUint64(p[16:], s.vaddr)
			le.PutUint64(p[24:], s.paddr)
			le.PutUint64(p[32:], uint64(len(s.data)))
			le.PutUint64(p[40:], memsz)
			le.PutUint64(p[48:], 16)
		} else {
			le.PutUint32(p[0:], typ)
			le.PutUint32(p[4:], uint32(offs[i]))
			le.PutUint32(p[8:], uint32(s.vaddr))
			le.PutUint32(p[12:], uint32(s.paddr))
			le.PutUint32(p[16:], uint32(len(s.data)))
			le.PutUint32(p[20:], uint32(memsz))
			le.PutUint32(p[24:], flags)
			le.PutUint32(p[28:], 16)
		}
		copy(b[offs[i]:], s.data)
	}
	return b
}

// mbHeader returns a multiboot header; with kludge it carries the a.out
// fields.
func mbHeaderBytes(flags uint32, kludge ...uint32) []byte {
	b := make([]byte, 12, 32)
	le.PutUint32(b[0:], MultibootHeaderMagic)
	le.PutUint32(b[4:], flags)
	le.PutUint32(b[8:], -(MultibootHeaderMagic + flags))
	for _, v := range kludge {
		b = le.AppendUint32(b, v)
	}
	return b
}

// text returns a code blob starting with a multiboot header (if hdr != nil)
// followed by filler bytes, n bytes in all.
func text(hdr []byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x90 + i%7)
	}
	copy(b, hdr)
	return b
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func cstr(ram []byte, addr uint32) string {
	if int(addr) >= len(ram) {
		return "<out of RAM>"
	}
	s := ram[addr:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return string(s[:i])
	}
	return string(s)
}

// mbi is a decoded multiboot information structure.
type mbi struct {
	Flags, MemLower, MemUpper, BootDevice, Cmdline, ModsCount, ModsAddr uint32
	MmapLength, MmapAddr, BootLoaderName                                uint32
	Raw                                                                 [22]uint32
}

func readMBI(ram []byte, addr uint32) mbi {
	var m mbi
	for i := range m.Raw {
		m.Raw[i] = le.Uint32(ram[int(addr)+4*i:])
	}
	m.Flags, m.MemLower, m.MemUpper, m.BootDevice = m.Raw[0], m.Raw[1], m.Raw[2], m.Raw[3]
	m.Cmdline, m.ModsCount, m.ModsAddr = m.Raw[4], m.Raw[5], m.Raw[6]
	m.MmapLength, m.MmapAddr, m.BootLoaderName = m.Raw[11], m.Raw[12], m.Raw[16]
	return m
}

type mod struct{ Start, End, String, Reserved uint32 }

func readMods(ram []byte, m mbi) []mod {
	var r []mod
	for i := uint32(0); i < m.ModsCount; i++ {
		p := ram[m.ModsAddr+16*i:]
		r = append(r, mod{le.Uint32(p), le.Uint32(p[4:]), le.Uint32(p[8:]), le.Uint32(p[12:])})
	}
	return r
}

type mmapEntry struct {
	Size      uint32
	Addr, Len uint64
	Type      uint32
}

func readMmap(ram []byte, m mbi) []mmapEntry {
	var r []mmapEntry
	for p := m.MmapAddr; p < m.MmapAddr+m.MmapLength; {
		e := ram[p:]
		me := mmapEntry{le.Uint32(e), le.Uint64(e[4:]), le.Uint64(e[12:]), le.Uint32(e[20:])}
		r = append(r, me)
		p += me.Size + 4
	}
	return r
}
