package cpu

import (
	"testing"
)

// Exception-frame tests in 32-bit protected mode (SDM Vol. 3 §6.12):
// same-privilege frames, privilege-changing frames with the TSS stack,
// and the virtual-8086 frame.

const (
	gdtBase = 0x500
	idtBase = 0x8000
	tssBase = 0x7000
	handler = 0x9000
	kstack  = 0x6F00 // TSS.ESP0
)

// pmSetup builds a GDT (0x08 code0, 0x10 data0, 0x1B code3, 0x23 data3,
// 0x28 TSS), an IDT whose gates all point at a HLT handler, and a TSS.
func pmSetup(t *testing.T, code []byte) (*CPU, []byte) {
	c, m := testCPU(t, 1<<20, code)
	put64(m, gdtBase+0x08, 0x00CF9B000000FFFF)
	put64(m, gdtBase+0x10, 0x00CF93000000FFFF)
	put64(m, gdtBase+0x18, 0x00CFFB000000FFFF)
	put64(m, gdtBase+0x20, 0x00CFF3000000FFFF)
	// 32-bit available TSS at tssBase, limit 0x67
	put64(m, gdtBase+0x28, 0x0000890000000067|uint64(tssBase)<<16)
	c.GDTR = DTable{Base: gdtBase, Limit: 0x2F}
	for v := uint64(0); v < 256; v++ {
		// 32-bit interrupt gate, DPL 3, selector 0x08, offset handler
		put64(m, idtBase+8*v, uint64(handler&0xFFFF)|0x08<<16|uint64(0xEE00)<<32|uint64(handler>>16)<<48)
	}
	c.IDTR = DTable{Base: idtBase, Limit: 0x7FF}
	m[handler] = 0xF4
	put32(m, tssBase+4, kstack) // ESP0
	put32(m, tssBase+8, 0x10)   // SS0
	put32(m, tssBase+0x66, 0x68<<16)
	c.loadTR(0x28)
	return c, m
}

func stackWords(m []byte, sp uint64, n int) []uint32 {
	w := make([]uint32, n)
	for i := range w {
		w[i] = get32(m, sp+uint64(4*i))
	}
	return w
}

func TestFrameGPSamePrivilege(t *testing.T) {
	// mov ax, 0x33 (bad selector: beyond the GDT limit); mov ds, ax
	c, m := pmSetup(t, []byte{0x66, 0xb8, 0x33, 0x00, 0x8e, 0xd8})
	esp := c.R[RSP]
	runHalt(t, c)
	if c.EIP != handler+1 {
		t.Fatalf("eip %#x, want the handler", c.EIP)
	}
	f := stackWords(m, c.R[RSP], 4)
	if c.R[RSP] != esp-16 || f[0] != 0x30 || f[1] != 0x1004 || f[2] != 0x08 || f[3]&2 == 0 {
		t.Fatalf("frame %#x at esp %#x (want err=0x30 eip=0x1004 cs=0x08 eflags at %#x)", f, c.R[RSP], esp-16)
	}
}

func TestFramePFFromRing3(t *testing.T) {
	// ring-3 code: mov eax, [0x400000]  (4 MiB: not mapped by the PSE PDE)
	c, m := pmSetup(t, []byte{0xa1, 0x00, 0x00, 0x40, 0x00})
	put32(m, 0x20000, 0x0|PTE_P|PTE_RW|PTE_US|PTE_PS) // first 4 MiB, user
	c.SetControl(CR0_PE|CR0_PG|CR0_ET, 0x20000, CR4_PSE, 0)
	c.SetSegment(CS, 0x1B, 0, 0xFFFFFFFF, 0xC0FB)
	c.SetSegment(SS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.SetSegment(DS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.R[RSP] = 0x50000
	runHalt(t, c)
	if c.CPL() != 0 || c.R[RSP] != kstack-24 || c.CR2 != 0x400000 {
		t.Fatalf("cpl=%d esp=%#x cr2=%#x", c.CPL(), c.R[RSP], c.CR2)
	}
	f := stackWords(m, c.R[RSP], 6)
	want := []uint32{PFERR_U, 0x1000, 0x1B, f[3], 0x50000, 0x23}
	for i := range want {
		if f[i] != want[i] {
			t.Fatalf("frame %#x, want %#x (err, eip, cs, eflags, esp, ss)", f, want)
		}
	}
}

func TestFrameV86(t *testing.T) {
	// v86 code at linear 0x1000 (CS=0x0100, IP=0): int 0x30
	c, m := pmSetup(t, nil)
	copy(m[0x1000:], []byte{0xcd, 0x30})
	// Build an IRET frame to v86 mode on the ring-0 stack and execute IRET.
	sp := uint64(0x5000)
	frame := []uint32{0x0000, 0x0100, 0x20002 | 3<<12, 0x0200, 0x0300, 0x11, 0x22, 0x33, 0x44}
	// eip, cs, eflags(VM|IOPL3), esp, ss, es, ds, fs, gs
	for i, v := range frame {
		put32(m, sp+uint64(4*i), v)
	}
	copy(m[0x1800:], []byte{0xcf}) // iret at 0x1800
	c.EIP = 0x1800
	c.R[RSP] = sp
	runHalt(t, c)
	if c.Mode() != ModeProt32 || c.EIP != handler+1 || c.R[RSP] != kstack-36 {
		t.Fatalf("mode %v eip %#x esp %#x", c.Mode(), c.EIP, c.R[RSP])
	}
	f := stackWords(m, c.R[RSP], 9)
	// eip (after int), cs, eflags, esp, ss, es, ds, fs, gs
	want := []uint32{0x0002, 0x0100, f[2], 0x0200, 0x0300, 0x11, 0x22, 0x33, 0x44}
	for i := range want {
		if f[i] != want[i] {
			t.Fatalf("v86 frame %#x, want %#x", f, want)
		}
	}
	if f[2]&FLAG_VM == 0 {
		t.Fatalf("pushed EFLAGS %#x lacks VM", f[2])
	}
	for _, s := range []int{DS, ES, FS, GS} {
		if c.Seg[s].Sel != 0 {
			t.Fatalf("%s not cleared on exit from v86: %#x", SegNames[s], c.Seg[s].Sel)
		}
	}
}

// TestDescriptorChecks: MOV to DS/SS with the SDM's checks (Vol. 2 MOV,
// Vol. 3 §5.5-5.6): each case raises the right vector and error code.
func TestDescriptorChecks(t *testing.T) {
	type tc struct {
		name   string
		seg    int
		sel    uint16
		cpl    int
		desc   uint64 // written at GDT slot 0x30
		vector int    // -1: no fault
		code   uint32
	}
	const slot = 0x30
	cases := []tc{
		{"null into DS is allowed", DS, 0, 0, 0, -1, 0},
		{"null into SS", SS, 0, 0, 0, VecGP, 0},
		{"beyond GDT limit", DS, 0x40, 0, 0, VecGP, 0x40},
		{"data ok", DS, slot, 0, 0x00CF93000000FFFF, -1, 0},
		{"data not present", DS, slot, 0, 0x00CF13000000FFFF, VecNP, slot},
		{"execute-only code into DS", DS, slot, 0, 0x00CF99000000FFFF, VecGP, slot},
		{"readable code into DS", DS, slot, 0, 0x00CF9B000000FFFF, -1, 0},
		{"DPL 0 data from CPL 3", DS, slot | 3, 3, 0x00CF93000000FFFF, VecGP, slot},
		{"conforming code from CPL 3", DS, slot | 3, 3, 0x00CF9F000000FFFF, -1, 0},
		{"SS with RPL != CPL", SS, slot | 1, 0, 0x00CF93000000FFFF, VecGP, slot},
		{"read-only data into SS", SS, slot, 0, 0x00CF91000000FFFF, VecGP, slot},
		{"SS not present", SS, slot, 0, 0x00CF13000000FFFF, VecSS, slot},
		{"system descriptor into DS", DS, slot, 0, 0x0000890000000067, VecGP, slot},
	}
	for _, x := range cases {
		c, m := pmSetup(t, nil)
		c.GDTR.Limit = 0x37
		put64(m, gdtBase+slot, x.desc)
		if x.cpl == 3 {
			c.SetSegment(CS, 0x1B, 0, 0xFFFFFFFF, 0xC0FB)
		}
		var got *Exception
		func() {
			defer func() {
				if r := recover(); r != nil {
					if r != errGuestFault {
						panic(r)
					}
					e := c.exc
					got = &e
				}
			}()
			c.loadSegData(x.seg, x.sel)
		}()
		switch {
		case x.vector < 0 && got != nil:
			t.Errorf("%s: unexpected %s(%#x)", x.name, VectorNames[got.Vector], got.Code)
		case x.vector >= 0 && got == nil:
			t.Errorf("%s: no fault, want %s(%#x)", x.name, VectorNames[x.vector], x.code)
		case x.vector >= 0 && (got.Vector != x.vector || got.Code != x.code):
			t.Errorf("%s: %s(%#x), want %s(%#x)", x.name, VectorNames[got.Vector], got.Code, VectorNames[x.vector], x.code)
		case x.vector < 0 && x.sel&^3 != 0 && get64(m, gdtBase+slot)&(1<<40) == 0:
			t.Errorf("%s: accessed bit not set in the descriptor", x.name)
		}
	}
}

// TestAlignmentCheck: with CR0.AM and EFLAGS.AC, a misaligned CPL-3 data
// access raises #AC(0); aligned accesses and CPL 0 are unaffected.
func TestAlignmentCheck(t *testing.T) {
	// ring 3: mov eax, [0x3000] (aligned); mov eax, [0x3001] (misaligned)
	c, m := pmSetup(t, []byte{0xa1, 0x00, 0x30, 0, 0, 0xa1, 0x01, 0x30, 0, 0})
	c.SetControl(CR0_PE|CR0_ET|CR0_AM, 0, 0, 0)
	c.SetSegment(CS, 0x1B, 0, 0xFFFFFFFF, 0xC0FB)
	c.SetSegment(SS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.SetSegment(DS, 0x23, 0, 0xFFFFFFFF, 0xC0F3)
	c.SetFlags(FLAG_AC | 2)
	c.R[RSP] = 0x50000
	runHalt(t, c)
	f := stackWords(m, c.R[RSP], 3)
	if c.LastExc.Vector != VecAC || f[0] != 0 || f[1] != 0x1005 {
		t.Fatalf("exception %d, frame %#x: want #AC(0) at eip 0x1005", c.LastExc.Vector, f)
	}
	// the same code at CPL 0 does not check alignment
	c2, _ := pmSetup(t, []byte{0xa1, 0x01, 0x30, 0, 0, 0xf4})
	c2.SetControl(CR0_PE|CR0_ET|CR0_AM, 0, 0, 0)
	c2.SetFlags(FLAG_AC | 2)
	runHalt(t, c2)
	if c2.EIP != 0x1006 {
		t.Fatalf("CPL 0 access faulted: eip %#x exc %d", c2.EIP, c2.LastExc.Vector)
	}
}

// setupTaskB adds a second 32-bit TSS (selector 0x30) whose task starts at
// 0x2000 with EAX=0x1234 and its own stack.
func setupTaskB(c *CPU, m []byte) {
	const tssB = 0x7100
	put64(m, gdtBase+0x30, 0x0000890000000067|uint64(tssB)<<16)
	c.GDTR.Limit = 0x37
	put32(m, tssB+tssEIP, 0x2000)
	put32(m, tssB+tssEFLAGS, 2)
	put32(m, tssB+tssEAX, 0x1234)
	put32(m, tssB+0x38, 0x6000) // ESP
	for s := 0; s < NumSeg; s++ {
		sel := uint32(0x10)
		if s == CS {
			sel = 0x08
		}
		put32(m, tssB+tssES+uint64(4*s), sel)
	}
}

// TestTaskSwitchCallIret: CALL to a TSS descriptor saves the outgoing
// task, links the new one (back link, NT), and IRET returns through the
// link, restoring the caller's registers (SDM Vol. 3 §8.3-8.4).
func TestTaskSwitchCallIret(t *testing.T) {
	// task A: mov eax, 0xAAAA; call 0x30:0; hlt      task B: mov ebx, 0x55; iret
	c, m := pmSetup(t, []byte{0xb8, 0xaa, 0xaa, 0, 0, 0x9a, 0, 0, 0, 0, 0x30, 0, 0xf4})
	setupTaskB(c, m)
	copy(m[0x2000:], []byte{0xbb, 0x55, 0, 0, 0, 0xcf})
	runHalt(t, c)
	const tssB = 0x7100
	if c.EIP != 0x100d || c.R[RAX] != 0xAAAA || c.TR.Sel != 0x28 {
		t.Fatalf("after IRET: eip %#x eax %#x tr %#x", c.EIP, c.R[RAX], c.TR.Sel)
	}
	if get32(m, tssB+0x34) != 0x55 || get32(m, tssB+tssLink)&0xFFFF != 0x28 {
		t.Fatalf("task B state: ebx %#x link %#x", get32(m, tssB+0x34), get32(m, tssB+tssLink))
	}
	if m[gdtBase+0x30+5]&2 != 0 || m[gdtBase+0x28+5]&2 == 0 || c.Flags()&FLAG_NT != 0 || c.CR0&CR0_TS == 0 {
		t.Fatalf("busy bits B=%#x A=%#x, NT=%v, TS=%v", m[gdtBase+0x35], m[gdtBase+0x2d], c.Flags()&FLAG_NT != 0, c.CR0&CR0_TS != 0)
	}
}

// TestTaskSwitchJmp: JMP to a TSS clears the old task's busy bit and loads
// the new task's registers.
func TestTaskSwitchJmp(t *testing.T) {
	c, m := pmSetup(t, []byte{0xea, 0, 0, 0, 0, 0x30, 0})
	setupTaskB(c, m)
	m[0x2000] = 0xf4
	runHalt(t, c)
	if c.TR.Sel != 0x30 || c.R[RAX] != 0x1234 || c.EIP != 0x2001 || c.R[RSP] != 0x6000 {
		t.Fatalf("tr %#x eax %#x eip %#x esp %#x", c.TR.Sel, c.R[RAX], c.EIP, c.R[RSP])
	}
	if m[gdtBase+0x28+5]&2 != 0 || m[gdtBase+0x30+5]&2 == 0 || get32(m, tssBase+tssEIP) != 0x1007 {
		t.Fatalf("busy A=%#x B=%#x saved eip %#x", m[gdtBase+0x2d], m[gdtBase+0x35], get32(m, tssBase+tssEIP))
	}
}

// TestTaskGateDoubleFault: a #DF delivered through a task gate runs the
// handler task with the error code on its stack.
func TestTaskGateDoubleFault(t *testing.T) {
	// mov eax, [0x400000] with no IDT entry for #PF (not present) -> #NP -> #DF via task gate
	c, m := pmSetup(t, []byte{0xa1, 0, 0, 0x40, 0})
	put32(m, 0x20000, 0x0|PTE_P|PTE_RW|PTE_PS)
	c.SetControl(CR0_PE|CR0_PG|CR0_ET, 0x20000, CR4_PSE, 0)
	setupTaskB(c, m)
	put32(m, 0x7100+tssCR3, 0x20000) // the handler task uses the same page directory
	m[0x2000] = 0xf4
	put64(m, idtBase+8*14, 0)                        // #PF gate not present
	put64(m, idtBase+8*8, uint64(0x30)<<16|0x85<<40) // #DF: task gate to TSS 0x30
	runHalt(t, c)
	if c.TR.Sel != 0x30 || c.EIP != 0x2001 || get32(m, 0x6000-4) != 0 || c.R[RSP] != 0x6000-4 {
		t.Fatalf("tr %#x eip %#x esp %#x err %#x", c.TR.Sel, c.EIP, c.R[RSP], get32(m, 0x6000-4))
	}
	if c.Flags()&FLAG_NT == 0 || get32(m, 0x7100)&0xFFFF != 0x28 {
		t.Fatalf("NT %v link %#x", c.Flags()&FLAG_NT != 0, get32(m, 0x7100))
	}
}
