// Package coredump writes a guest's memory and vCPU registers as an ELF
// core file that gdb opens (`gdb KERNEL CORE`), like QEMU's
// dump-guest-memory: ELF64/EM_X86_64 for a long-mode guest, ELF32/EM_386
// otherwise; one NT_PRSTATUS note per vCPU in the Linux layout (gdb shows
// each as a thread, the first note is the current one); one PT_LOAD per
// contiguous mapping. Pages that are all zero are written as holes of a
// sparse file, so a mostly untouched 128 MiB guest costs little disk.
package coredump

import (
	"encoding/binary"
	"fmt"
	"io"
)

// CPU is one vCPU's register state.
type CPU struct {
	ID     int
	GPR    [16]uint64 // RAX..R15 in encoding order
	RIP    uint64     // the PC as a debugger sees it (linear address)
	RFLAGS uint64
	Seg    [6]uint16 // ES CS SS DS FS GS selectors
	FSBase uint64
	GSBase uint64
	// Signal is the pr_cursig value gdb reports ("terminated with signal").
	Signal int
	// FPU, when set, is written as NT_PRFPREG (and, for ELF32, NT_PRXFPREG)
	// so that gdb shows the x87/SSE registers.
	FPU *FPU
}

// FPU is the x87/SSE state (FXSAVE contents).
type FPU struct {
	FCW, FSW, FTW, FOP uint16 // FTW: the full tag word (11 = empty), by physical register
	FIP, FDP           uint64
	FCS, FDS           uint16
	ST                 [8][10]byte // ST(0)..ST(7), 80-bit little-endian
	XMM                [16][16]byte
	MXCSR              uint32
}

// fxsave returns the 512-byte FXSAVE image (64-bit layout when long).
func (f *FPU) fxsave(long bool) []byte {
	b := make([]byte, 512)
	le := binary.LittleEndian
	le.PutUint16(b[0:], f.FCW)
	le.PutUint16(b[2:], f.FSW)
	var abridged byte
	for i := 0; i < 8; i++ {
		if (f.FTW>>(2*i))&3 != 3 {
			abridged |= 1 << i
		}
	}
	b[4] = abridged
	le.PutUint16(b[6:], f.FOP)
	if long {
		le.PutUint64(b[8:], f.FIP)
		le.PutUint64(b[16:], f.FDP)
	} else {
		le.PutUint32(b[8:], uint32(f.FIP))
		le.PutUint16(b[12:], f.FCS)
		le.PutUint32(b[16:], uint32(f.FDP))
		le.PutUint16(b[20:], f.FDS)
	}
	le.PutUint32(b[24:], f.MXCSR)
	le.PutUint32(b[28:], 0xFFFF) // MXCSR_MASK
	for i := range f.ST {
		copy(b[32+16*i:], f.ST[i][:])
	}
	for i := range f.XMM {
		copy(b[160+16*i:], f.XMM[i][:])
	}
	return b
}

// fsave returns the 108-byte FSAVE image (32-bit protected-mode layout),
// i386's user_i387_struct.
func (f *FPU) fsave() []byte {
	b := make([]byte, 108)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(f.FCW)|0xFFFF0000)
	le.PutUint32(b[4:], uint32(f.FSW)|0xFFFF0000)
	le.PutUint32(b[8:], uint32(f.FTW)|0xFFFF0000)
	le.PutUint32(b[12:], uint32(f.FIP))
	le.PutUint32(b[16:], uint32(f.FCS)|uint32(f.FOP&0x7FF)<<16)
	le.PutUint32(b[20:], uint32(f.FDP))
	le.PutUint32(b[24:], uint32(f.FDS)|0xFFFF0000)
	for i := range f.ST {
		copy(b[28+10*i:], f.ST[i][:])
	}
	return b
}

// Segment is a range of guest memory: VAddr is where the guest sees it
// (what gdb reads), PAddr the guest-physical address it is read from.
type Segment struct {
	VAddr, PAddr, Size uint64
}

// Dump is what to write.
type Dump struct {
	Long     bool // ELF64/x86-64 (else ELF32/i386)
	CPUs     []CPU
	Segments []Segment
	// ReadPhys copies guest-physical memory.
	ReadPhys func(pa uint64, buf []byte)
}

// File is what Write needs: a seekable writer that can set its size
// (*os.File).
type File interface {
	io.WriteSeeker
	Truncate(size int64) error
}

const (
	ptLoad     = 1
	ptNote     = 4
	ntPRStatus = 1
	ntPRFPReg  = 2
	ntPRXFPReg = 0x46e62b7f // "LINUX" note: i386 FXSAVE image
	emI386     = 3
	emX86_64   = 62
	pageSize   = 4096
	prstatus32 = 144
	prstatus64 = 336
	pfR, pfW   = 4, 2
)

// Write writes the core file to f and returns its size.
func Write(f File, d Dump) (int64, error) {
	if len(d.CPUs) == 0 {
		return 0, fmt.Errorf("coredump: no vCPUs")
	}
	le := binary.LittleEndian
	ehsize, phsize := 52, 32
	if d.Long {
		ehsize, phsize = 64, 56
	}
	notes := d.notes()
	nph := 1 + len(d.Segments)
	if nph >= 0xFFFF {
		return 0, fmt.Errorf("coredump: %d segments: more than an ELF header can count (the mappings are too fragmented)", len(d.Segments))
	}
	noteOff := uint64(ehsize + nph*phsize)
	dataOff := (noteOff + uint64(len(notes)) + pageSize - 1) &^ (pageSize - 1)

	hdr := make([]byte, ehsize+nph*phsize)
	copy(hdr, "\x7fELF")
	if d.Long {
		hdr[4] = 2 // ELFCLASS64
	} else {
		hdr[4] = 1
	}
	hdr[5], hdr[6] = 1, 1     // little endian, version 1
	le.PutUint16(hdr[16:], 4) // ET_CORE
	if d.Long {
		le.PutUint16(hdr[18:], emX86_64)
		le.PutUint32(hdr[20:], 1)
		le.PutUint64(hdr[32:], uint64(ehsize)) // e_phoff
		le.PutUint16(hdr[52:], uint16(ehsize))
		le.PutUint16(hdr[54:], uint16(phsize))
		le.PutUint16(hdr[56:], uint16(nph))
	} else {
		le.PutUint16(hdr[18:], emI386)
		le.PutUint32(hdr[20:], 1)
		le.PutUint32(hdr[28:], uint32(ehsize))
		le.PutUint16(hdr[40:], uint16(ehsize))
		le.PutUint16(hdr[42:], uint16(phsize))
		le.PutUint16(hdr[44:], uint16(nph))
	}
	ph := func(i int, typ, flags uint32, off, va, pa, filesz, memsz, align uint64) {
		p := hdr[ehsize+i*phsize:]
		if d.Long {
			le.PutUint32(p[0:], typ)
			le.PutUint32(p[4:], flags)
			le.PutUint64(p[8:], off)
			le.PutUint64(p[16:], va)
			le.PutUint64(p[24:], pa)
			le.PutUint64(p[32:], filesz)
			le.PutUint64(p[40:], memsz)
			le.PutUint64(p[48:], align)
			return
		}
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], uint32(off))
		le.PutUint32(p[8:], uint32(va))
		le.PutUint32(p[12:], uint32(pa))
		le.PutUint32(p[16:], uint32(filesz))
		le.PutUint32(p[20:], uint32(memsz))
		le.PutUint32(p[24:], flags)
		le.PutUint32(p[28:], uint32(align))
	}
	ph(0, ptNote, 0, noteOff, 0, 0, uint64(len(notes)), 0, 4)
	off := dataOff
	for i, s := range d.Segments {
		if !d.Long && (s.VAddr+s.Size > 1<<32 || s.PAddr+s.Size > 1<<32) {
			return 0, fmt.Errorf("coredump: segment %#x+%#x does not fit an ELF32 core", s.VAddr, s.Size)
		}
		ph(1+i, ptLoad, pfR|pfW, off, s.VAddr, s.PAddr, s.Size, s.Size, pageSize)
		off += s.Size
	}
	if _, err := f.Write(hdr); err != nil {
		return 0, err
	}
	if _, err := f.Write(notes); err != nil {
		return 0, err
	}
	// Segment data: zero pages become holes.
	buf := make([]byte, pageSize)
	pos := dataOff
	for _, s := range d.Segments {
		for done := uint64(0); done < s.Size; {
			n := uint64(pageSize)
			if s.Size-done < n {
				n = s.Size - done
			}
			b := buf[:n]
			d.ReadPhys(s.PAddr+done, b)
			if !allZero(b) {
				if _, err := f.Seek(int64(pos+done), io.SeekStart); err != nil {
					return 0, err
				}
				if _, err := f.Write(b); err != nil {
					return 0, err
				}
			}
			done += n
		}
		pos += s.Size
	}
	if err := f.Truncate(int64(pos)); err != nil {
		return 0, err
	}
	return int64(pos), nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// notes builds the PT_NOTE contents: NT_PRSTATUS per vCPU.
func (d *Dump) notes() []byte {
	var out []byte
	le := binary.LittleEndian
	for _, c := range d.CPUs {
		var desc []byte
		if d.Long {
			desc = make([]byte, prstatus64)
			le.PutUint16(desc[12:], uint16(c.Signal))
			le.PutUint32(desc[32:], uint32(c.ID+1)) // pr_pid: gdb's thread (LWP) id
			// user_regs_struct (x86-64)
			order := []uint64{c.GPR[15], c.GPR[14], c.GPR[13], c.GPR[12], c.GPR[5], c.GPR[3], c.GPR[11],
				c.GPR[10], c.GPR[9], c.GPR[8], c.GPR[0], c.GPR[1], c.GPR[2], c.GPR[6], c.GPR[7],
				^uint64(0), // orig_rax
				c.RIP, uint64(c.Seg[1]), c.RFLAGS, c.GPR[4], uint64(c.Seg[2]), c.FSBase, c.GSBase,
				uint64(c.Seg[3]), uint64(c.Seg[0]), uint64(c.Seg[4]), uint64(c.Seg[5])}
			for i, v := range order {
				le.PutUint64(desc[112+8*i:], v)
			}
		} else {
			desc = make([]byte, prstatus32)
			le.PutUint16(desc[12:], uint16(c.Signal))
			le.PutUint32(desc[24:], uint32(c.ID+1))
			// user_regs_struct (i386)
			order := []uint64{c.GPR[3], c.GPR[1], c.GPR[2], c.GPR[6], c.GPR[7], c.GPR[5], c.GPR[0],
				uint64(c.Seg[3]), uint64(c.Seg[0]), uint64(c.Seg[4]), uint64(c.Seg[5]),
				0xFFFFFFFF, // orig_eax
				c.RIP, uint64(c.Seg[1]), c.RFLAGS, c.GPR[4], uint64(c.Seg[2])}
			for i, v := range order {
				le.PutUint32(desc[72+4*i:], uint32(v))
			}
		}
		out = appendNote(out, "CORE", ntPRStatus, desc) // 144 and 336 are multiples of 4
		if c.FPU != nil {
			if d.Long {
				out = appendNote(out, "CORE", ntPRFPReg, c.FPU.fxsave(true))
			} else {
				out = appendNote(out, "CORE", ntPRFPReg, c.FPU.fsave())
				out = appendNote(out, "LINUX", ntPRXFPReg, c.FPU.fxsave(false))
			}
		}
	}
	return out
}

// appendNote appends an ELF note; name and desc are padded to 4 bytes.
func appendNote(out []byte, name string, typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	var h [12]byte
	le.PutUint32(h[0:], uint32(len(name)+1))
	le.PutUint32(h[4:], uint32(len(desc)))
	le.PutUint32(h[8:], typ)
	out = append(out, h[:]...)
	nb := make([]byte, (len(name)+1+3)&^3)
	copy(nb, name)
	out = append(out, nb...)
	out = append(out, desc...)
	return append(out, make([]byte, (4-len(desc)%4)%4)...)
}
