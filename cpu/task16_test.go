package cpu

import (
	"encoding/binary"
	"testing"
)

// 16-bit TSS task switches (SDM Vol. 3 §8.6, figure 8-12), the stack
// switch and the I/O permission check with a 16-bit TSS as TR.

const (
	tss16Base = 0x7200 // 16-bit TSS, selector 0x38
	sel16     = 0x38
	selSS16   = 0x40 // 16-bit (B=0) ring-0 data segment, base 0, limit 0xFFFF
)

func put16(m []byte, a uint64, v uint16) { binary.LittleEndian.PutUint16(m[a:], v) }
func get16(m []byte, a uint64) uint16    { return binary.LittleEndian.Uint16(m[a:]) }

// setupTask16 adds (to pmSetup's GDT) task B's 32-bit TSS at 0x30, a
// 16-bit available TSS at 0x38 with the given limit, and a 16-bit stack
// segment at 0x40. The 16-bit task starts at IP 0x2000 with AX=0x1234,
// BX=0x2222, FLAGS=0x0083 and SS:SP = 0x40:0x6000.
func setupTask16(c *CPU, m []byte, limit uint32) {
	setupTaskB(c, m)
	put64(m, gdtBase+sel16, 0x0000810000000000|uint64(limit)|uint64(tss16Base)<<16)
	put64(m, gdtBase+selSS16, 0x000093000000FFFF)
	c.GDTR.Limit = 0x47
	put16(m, tss16Base+0x02, 0x5000) // SP0
	put16(m, tss16Base+0x04, 0x10)   // SS0
	put16(m, tss16Base+0x0E, 0x2000) // IP
	put16(m, tss16Base+0x10, 0x0083) // FLAGS: SF CF
	put16(m, tss16Base+0x12, 0x1234) // AX
	put16(m, tss16Base+0x18, 0x2222) // BX
	put16(m, tss16Base+0x1A, 0x6000) // SP
	put16(m, tss16Base+0x22, 0x10)   // ES
	put16(m, tss16Base+0x24, 0x08)   // CS
	put16(m, tss16Base+0x26, selSS16)
	put16(m, tss16Base+0x28, 0x10) // DS
	put16(m, tss16Base+0x2A, 0)    // LDT
}

// TestTask16CallIret: a 32-bit task CALLs a 16-bit TSS, which is loaded
// in the 16-bit format (upper register halves kept, FS/GS null, EFLAGS
// bits 16-31 kept from the caller, NT set, back link), then IRETs back:
// the 16-bit task is saved in the 16-bit format, the 32-bit one resumes.
func TestTask16CallIret(t *testing.T) {
	// task A: mov eax, 0x89ABCDEF; call 0x38:0; hlt
	c, m := pmSetup(t, []byte{0xb8, 0xef, 0xcd, 0xab, 0x89, 0x9a, 0, 0, 0, 0, sel16, 0, 0xf4})
	setupTask16(c, m, 0x2B)
	c.SetFlags(FLAG_AC | 2)
	// task B (16-bit TSS, 32-bit code segment): mov esi, eax; mov edi, fs;
	// pushfd; pop ebp; mov [0x3000], ebp; mov [0x3004], esi; mov [0x3008], edi;
	// mov bx, 0x5555; iret
	copy(m[0x2000:], []byte{0x89, 0xc6, 0x8c, 0xe7, 0x9c, 0x5d,
		0x89, 0x2d, 0, 0x30, 0, 0, 0x89, 0x35, 4, 0x30, 0, 0, 0x89, 0x3d, 8, 0x30, 0, 0,
		0x66, 0xbb, 0x55, 0x55, 0xcf})
	put32(m, 0x3008, 0xDEAD)
	runHalt(t, c)
	if got := get32(m, 0x3000); got != 0x44083 {
		t.Errorf("task B's EFLAGS %#x, want 0x44083 (AC kept, NT, SF CF)", got)
	}
	if got := get32(m, 0x3004); got != 0x89AB1234 {
		t.Errorf("task B's EAX %#x, want 0x89AB1234 (upper half kept)", got)
	}
	if got := get32(m, 0x3008); got != 0 {
		t.Errorf("task B's FS %#x, want null", got)
	}
	if c.EIP != 0x100d || c.R[RAX] != 0x89ABCDEF || c.TR.Sel != 0x28 || c.Flags()&FLAG_NT != 0 {
		t.Fatalf("after IRET: eip %#x eax %#x tr %#x flags %#x", c.EIP, c.R[RAX], c.TR.Sel, c.Flags())
	}
	want := map[uint64]uint16{0x00: 0x28, 0x0E: 0x201d, 0x10: 0x0083, 0x12: 0x1234, 0x18: 0x5555,
		0x1A: 0x6000, 0x1C: 0x4083, 0x1E: 0x1234, 0x20: 0, 0x22: 0x10, 0x24: 0x08, 0x26: selSS16, 0x28: 0x10}
	for off, w := range want {
		if got := get16(m, tss16Base+off); got != w {
			t.Errorf("16-bit TSS +%#x = %#x, want %#x", off, got, w)
		}
	}
	if m[gdtBase+sel16+5]&2 != 0 || m[gdtBase+0x28+5]&2 == 0 || c.CR0&CR0_TS == 0 {
		t.Errorf("busy 16-bit=%#x A=%#x TS=%v", m[gdtBase+sel16+5], m[gdtBase+0x2d], c.CR0&CR0_TS != 0)
	}
}

// TestTask16JmpTo32: with a 16-bit TSS in TR, JMP to a 32-bit TSS saves
// the outgoing state in the 16-bit format only (nothing past offset 0x2B).
func TestTask16JmpTo32(t *testing.T) {
	// mov eax, 0xCAFE4321; jmp 0x30:0
	c, m := pmSetup(t, []byte{0xb8, 0x21, 0x43, 0xfe, 0xca, 0xea, 0, 0, 0, 0, 0x30, 0})
	setupTask16(c, m, 0x67)
	for off := uint64(0x2C); off < 0x68; off += 4 {
		put32(m, tss16Base+off, 0xA5A5A5A5)
	}
	c.loadTR(sel16)
	m[0x2000] = 0xf4
	runHalt(t, c)
	if c.TR.Sel != 0x30 || c.R[RAX] != 0x1234 || c.EIP != 0x2001 {
		t.Fatalf("tr %#x eax %#x eip %#x", c.TR.Sel, c.R[RAX], c.EIP)
	}
	if get16(m, tss16Base+0x0E) != 0x100c || get16(m, tss16Base+0x12) != 0x4321 || get16(m, tss16Base+0x24) != 0x08 {
		t.Errorf("saved ip %#x ax %#x cs %#x", get16(m, tss16Base+0x0E), get16(m, tss16Base+0x12), get16(m, tss16Base+0x24))
	}
	for off := uint64(0x2C); off < 0x68; off += 4 {
		if got := get32(m, tss16Base+off); got != 0xA5A5A5A5 {
			t.Errorf("16-bit TSS +%#x overwritten: %#x", off, got)
		}
	}
	if m[gdtBase+sel16+5]&2 != 0 || m[gdtBase+0x30+5]&2 == 0 || c.Flags()&FLAG_NT != 0 {
		t.Errorf("busy 16-bit=%#x B=%#x NT=%v", m[gdtBase+sel16+5], m[gdtBase+0x35], c.Flags()&FLAG_NT != 0)
	}
}

// TestTask16GateErrorCode: #GP through a task gate to a 16-bit TSS pushes
// the error code as a word on the new task's (16-bit) stack.
func TestTask16GateErrorCode(t *testing.T) {
	// mov ax, 0x4b (beyond the GDT limit); mov ds, ax
	c, m := pmSetup(t, []byte{0x66, 0xb8, 0x4b, 0x00, 0x8e, 0xd8})
	setupTask16(c, m, 0x2B)
	m[0x2000] = 0xf4
	put64(m, idtBase+8*13, uint64(sel16)<<16|0x85<<40)
	put32(m, 0x5FFC, 0x77777777)
	runHalt(t, c)
	if c.TR.Sel != sel16 || c.EIP != 0x2001 || c.R[RSP] != 0x000F5FFE { // ESP's upper half kept from the outgoing task (0xFFFF0)
		t.Fatalf("tr %#x eip %#x esp %#x", c.TR.Sel, c.EIP, c.R[RSP])
	}
	if get32(m, 0x5FFC) != 0x00487777 || get16(m, tss16Base) != 0x28 || c.Flags()&FLAG_NT == 0 {
		t.Fatalf("stack %#x (want the word 0x48 at 0x5FFE), link %#x, NT %v", get32(m, 0x5FFC), get16(m, tss16Base), c.Flags()&FLAG_NT != 0)
	}
}

// TestTask16LimitTooSmall: a 16-bit TSS whose limit is below 0x2B gives #TS.
func TestTask16LimitTooSmall(t *testing.T) {
	c, m := pmSetup(t, []byte{0x9a, 0, 0, 0, 0, sel16, 0})
	setupTask16(c, m, 0x2A)
	runHalt(t, c)
	if c.EIP != handler+1 || c.LastExc.Vector != VecTS || get32(m, c.R[RSP]) != sel16 || c.TR.Sel != 0x28 {
		t.Fatalf("eip %#x vector %d err %#x tr %#x", c.EIP, c.LastExc.Vector, get32(m, c.R[RSP]), c.TR.Sel)
	}
}

// ring3With16BitTSS loads the 16-bit TSS into TR and starts code at CPL 3.
func ring3With16BitTSS(t *testing.T, code []byte) (*CPU, []byte) {
	c, m := pmSetup(t, code)
	setupTask16(c, m, 0x2B)
	c.loadTR(sel16)
	c.SetSegment(CS, 0x1B, 0, 0xFFFFFFFF, 0xC0FB)
	c.SetSegment(SS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.SetSegment(DS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.R[RSP] = 0x50000
	return c, m
}

// TestTask16StackSwitch: an interrupt from ring 3 takes SS0:SP0 from the
// 16-bit TSS (offsets 4 and 2).
func TestTask16StackSwitch(t *testing.T) {
	c, m := ring3With16BitTSS(t, []byte{0xcd, 0x40}) // int 0x40
	runHalt(t, c)
	if c.CPL() != 0 || c.Seg[SS].Sel != 0x10 || c.R[RSP] != 0x5000-20 {
		t.Fatalf("cpl %d ss %#x esp %#x", c.CPL(), c.Seg[SS].Sel, c.R[RSP])
	}
	if f := stackWords(m, c.R[RSP], 5); f[0] != 0x1002 || f[1] != 0x1B || f[3] != 0x50000 || f[4] != 0x23 {
		t.Fatalf("frame %#x", f)
	}
}

// TestTask16IOPermission: with a 16-bit TSS (no I/O bitmap), IN at CPL 3
// with IOPL 0 is #GP(0); with IOPL 3 it is allowed.
func TestTask16IOPermission(t *testing.T) {
	c, m := ring3With16BitTSS(t, []byte{0xe4, 0x80, 0xf4}) // in al, 0x80
	runHalt(t, c)
	if c.EIP != handler+1 || c.LastExc.Vector != VecGP || get32(m, c.R[RSP]) != 0 || c.R[RSP] != 0x5000-24 {
		t.Fatalf("eip %#x vector %d err %#x esp %#x", c.EIP, c.LastExc.Vector, get32(m, c.R[RSP]), c.R[RSP])
	}
	c2, m2 := ring3With16BitTSS(t, []byte{0xe4, 0x80, 0xfa, 0xf4}) // in al, 0x80; cli; hlt (#GP on hlt at CPL 3)
	c2.SetFlags(FLAG_IOPL | 2)
	runHalt(t, c2)
	if c2.LastExc.Vector != VecGP || get32(m2, c2.R[RSP]+4) != 0x1003 {
		t.Fatalf("IOPL 3: vector %d, faulting eip %#x (want HLT at 0x1003)", c2.LastExc.Vector, get32(m2, c2.R[RSP]+4))
	}
}
