package cpu

import (
	"testing"

	"glassbox/memmap"
	"glassbox/tlb"
)

func runHalt(t *testing.T, c *CPU) {
	t.Helper()
	for i := 0; !c.Halted; i++ {
		ex := c.Exec(1 << 20)
		if ex.Reason != ExitHalt && ex.Reason != ExitBudget {
			t.Fatalf("exit %v err %v at %#x", ex.Reason, ex.Err, c.PC())
		}
		if i > 100 {
			t.Fatal("guest does not halt")
		}
	}
}

// Patching the immediate of an instruction that already ran (and whose TB
// is cached) must take effect on the next execution.
func TestSMCPatchExecutedImmediate(t *testing.T) {
	code := []byte{
		0xb9, 0x02, 0, 0, 0, // mov ecx, 2
		0xb8, 0x11, 0x11, 0x11, 0x11, // l: mov eax, 0x11111111 (imm at 0x1006)
		0x01, 0xc3, // add ebx, eax
		0xc7, 0x05, 0x06, 0x10, 0, 0, 0x22, 0x22, 0x22, 0x22, // mov dword [0x1006], 0x22222222
		0xe2, 0xed, // loop l
		0xf4,
	}
	c, _ := testCPU(t, 1<<20, code)
	runHalt(t, c)
	if c.R[RBX] != 0x33333333 {
		t.Fatalf("ebx=%#x, want 0x33333333 (second pass must see the patched immediate)", c.R[RBX])
	}
	if c.sh.TBs.Stats.SMCEvents == 0 || c.sh.TBs.Stats.Invalidated == 0 {
		t.Fatalf("no SMC event recorded: %+v", c.sh.TBs.Stats)
	}
}

// A store that modifies the very next instruction of the running TB is
// seen precisely (P6+ semantics).
func TestSMCNextInstructionSameTB(t *testing.T) {
	code := []byte{
		0xc6, 0x05, 0x08, 0x10, 0, 0, 0x42, // mov byte [0x1008], 0x42
		0xb0, 0x00, // mov al, 0x00   (imm at 0x1008)
		0xf4,
	}
	c, _ := testCPU(t, 1<<20, code)
	runHalt(t, c)
	if c.R[RAX]&0xFF != 0x42 {
		t.Fatalf("al=%#x, want 0x42", c.R[RAX]&0xFF)
	}
}

// Writing code to a fresh page and jumping to it.
func TestSMCFreshPage(t *testing.T) {
	code := []byte{
		0xc7, 0x05, 0x00, 0x30, 0, 0, 0xb8, 0x55, 0, 0, // mov dword [0x3000], 0x000055b8
		0x66, 0xc7, 0x05, 0x04, 0x30, 0, 0, 0x00, 0xf4, // mov word [0x3004], 0xf400
		0xb9, 0x00, 0x30, 0, 0, // mov ecx, 0x3000
		0xff, 0xe1, // jmp ecx
	}
	c, _ := testCPU(t, 1<<20, code)
	runHalt(t, c)
	if c.R[RAX] != 0x55 || c.EIP != 0x3006 {
		t.Fatalf("eax=%#x eip=%#x, want 0x55 at 0x3006", c.R[RAX], c.EIP)
	}
}

// Code and data on the same page: stores to data next to code stay
// correct (each store takes the slow path and drops the page's TBs).
func TestSMCCodeAndDataSamePage(t *testing.T) {
	code := []byte{
		0xb9, 0x64, 0, 0, 0, // mov ecx, 100
		0x31, 0xc0, // xor eax, eax
		0xa3, 0x00, 0x18, 0, 0, // l: mov [0x1800], eax
		0x40,       // inc eax
		0xe2, 0xf8, // loop l
		0xf4,
	}
	c, m := testCPU(t, 1<<20, code)
	runHalt(t, c)
	if c.R[RAX] != 100 || m[0x1800] != 99 {
		t.Fatalf("eax=%d [0x1800]=%d, want 100 and 99", c.R[RAX], m[0x1800])
	}
}

// Translating code write-protects its page: the CODE dirty bit is cleared
// and the TLB's write entry for the page gets NOTDIRTY; a store to the
// page sets the bit again and invalidates the TBs.
func TestCodeProtectionAndDirtyBits(t *testing.T) {
	code := []byte{0x90, 0xf4} // nop; hlt
	c, _ := testCPU(t, 1<<20, code)
	runHalt(t, c)
	if c.mem.IsDirty(0x1000, memmap.ClientCode) {
		t.Fatal("code page must be write-protected (CODE bit clear) after translation")
	}
	if !c.sh.TBs.HasCode(0x1000) {
		t.Fatal("TB not linked to its page")
	}
	// Fill a write entry for the page, then check its flags.
	c.Halted = false
	c.wr8(0x1FFF, 1) // store to the code page (not to the code bytes)
	e := c.tlb.Slot(c.mmuIdx, 0x1FFF)
	if e.Write&tlb.NotDirty != 0 {
		t.Fatal("after the store invalidated the TBs, NOTDIRTY must be gone")
	}
	if !c.mem.IsDirty(0x1000, memmap.ClientCode) || c.sh.TBs.HasCode(0x1000) {
		t.Fatal("store to a code page must drop its TBs and set the CODE bit")
	}
	// Retranslate: protected again, and the existing write entry is marked.
	c.EIP = 0x1000
	runHalt(t, c)
	if c.mem.IsDirty(0x1000, memmap.ClientCode) || e.Write&tlb.NotDirty == 0 {
		t.Fatalf("re-protection: code dirty=%v write tag=%#x", c.mem.IsDirty(0x1000, memmap.ClientCode), e.Write)
	}
	// Stores mark MIGRATION and DISPLAY.
	c.mem.ClearRange(0x5000, 0x1000, memmap.ClientMigration)
	c.tlb.FlushAll()
	c.wr32(0x5000, 1)
	if !c.mem.IsDirty(0x5000, memmap.ClientMigration) || !c.mem.IsDirty(0x5000, memmap.ClientDisplay) {
		t.Fatal("store did not mark migration/display dirty")
	}
}

// TLB flags: ROM and MMIO pages take the slow path; watchpoints set WATCH
// only on watched pages; INVLPG and CR3 reloads flush what they must.
func TestTLBFlags(t *testing.T) {
	c, _ := testCPU(t, 1<<20, asm32.hlt)
	c.rd8(0x2000)
	e := c.tlb.Slot(c.mmuIdx, 0x2000)
	if e.Read != 0x2000 || e.Host == nil {
		t.Fatalf("RAM read tag %#x", e.Read)
	}
	// unassigned memory: MMIO flag
	c.rd8(0x200000)
	e = c.tlb.Slot(c.mmuIdx, 0x200000)
	if e.Read&tlb.MMIO == 0 || e.Host != nil {
		t.Fatalf("unassigned page read tag %#x", e.Read)
	}
	if v := c.rd32(0x200000); v != 0xFFFFFFFF {
		t.Fatalf("unassigned read %#x", v)
	}
	c.AddWatchpoint(Watchpoint{Addr: 0x3004, Len: 4, Kind: WatchWrite})
	c.rd8(0x3000)
	c.rd8(0x4000)
	if c.tlb.Slot(c.mmuIdx, 0x3000).Read&tlb.Watch == 0 || c.tlb.Slot(c.mmuIdx, 0x4000).Read&tlb.Watch != 0 {
		t.Fatal("WATCH flag must be set exactly on watched pages")
	}
	c.wr8(0x3000, 1) // same page, outside the range: no hit
	if c.dbg.hit != nil {
		t.Fatal("store outside the watched range triggered")
	}
	c.wr16(0x3003, 1) // overlaps 0x3004
	if c.dbg.hit == nil || c.dbg.hit.Addr != 0x3003 || !c.dbg.hit.Write {
		t.Fatalf("watch hit %+v", c.dbg.hit)
	}
	// Global entries survive a CR3 reload, others do not.
	c.tlb.Fill(0, 0x7000, tlb.Entry{Read: 0x7000, Write: tlb.Invalid, Code: tlb.Invalid, Global: true})
	c.tlb.Fill(0, 0x8000, tlb.Entry{Read: 0x8000, Write: tlb.Invalid, Code: tlb.Invalid})
	c.writeCR(3, 0)
	if !c.tlb.Slot(0, 0x7000).Valid() || c.tlb.Slot(0, 0x8000).Valid() {
		t.Fatal("CR3 reload must keep global entries only")
	}
	c.tlb.FlushPage(0x7123)
	if c.tlb.Slot(0, 0x7000).Valid() {
		t.Fatal("INVLPG must drop the page")
	}
}

type fakeIntc struct{ pending bool }

func (f *fakeIntc) Pending() bool { return f.pending }
func (f *fakeIntc) Ack() uint8    { f.pending = false; return 0x20 }

// A single step does not take a pending interrupt unless SetStepIRQ(true);
// a normal run does.
func TestSingleStepMasksInterrupts(t *testing.T) {
	// sti; nop; nop; hlt  — IVT-free: use real mode with vector 0x20 at 0x3000
	c, m := testCPU(t, 1<<20, []byte{0xfb, 0x90, 0x90, 0xf4})
	c.SetControl(CR0_ET, 0, 0, 0)
	c.SetSegment(CS, 0, 0, 0xFFFF, 0x93)
	c.SetSegment(SS, 0, 0, 0xFFFF, 0x93)
	c.R[RSP] = 0x8000
	put32(m, 0x20*4, 0x3000) // IVT[0x20] = 0000:3000
	m[0x3000] = 0xf4
	ic := &fakeIntc{}
	c.SetIntController(ic)
	step := func() {
		c.SetSingleStep(true)
		c.Exec(1)
		c.SetSingleStep(false)
	}
	step() // sti (interrupt shadow)
	step() // nop
	ic.pending = true
	step()
	if c.EIP != 0x1003 || !ic.pending {
		t.Fatalf("step took the interrupt: eip=%#x pending=%v", c.EIP, ic.pending)
	}
	c.SetStepIRQ(true)
	step()
	if ic.pending || c.EIP < 0x3000 {
		t.Fatalf("with step irq on the interrupt must be delivered: eip=%#x", c.EIP)
	}
}

// TestSingleStepTrap: with EFLAGS.TF the CPU raises #DB after each
// instruction; POPF setting TF traps after the following instruction
// (SDM Vol. 3 §18.3.1.4), with DR6.BS set and the return IP at the next
// instruction.
func TestSingleStepTrap(t *testing.T) {
	// real mode: pushf; pop ax; or ax,0x100; push ax; popf; nop; nop; hlt
	code := []byte{0x9c, 0x58, 0x0d, 0x00, 0x01, 0x50, 0x9d, 0x90, 0x90, 0xf4}
	c, m := testCPU(t, 1<<20, code)
	c.SetControl(CR0_ET, 0, 0, 0)
	c.SetSegment(CS, 0, 0, 0xFFFF, 0x93)
	c.SetSegment(SS, 0, 0, 0xFFFF, 0x93)
	c.R[RSP] = 0x8000
	put32(m, 1*4, 0x3000) // IVT[1] = 0000:3000
	m[0x3000] = 0xf4
	runHalt(t, c)
	if c.EIP != 0x3001 {
		t.Fatalf("not in the #DB handler: eip %#x", c.EIP)
	}
	ip := uint16(m[0x7FFA]) | uint16(m[0x7FFB])<<8
	fl := uint16(m[0x7FFE]) | uint16(m[0x7FFF])<<8
	if ip != 0x1008 || fl&FLAG_TF == 0 || c.DR[6]&(1<<14) == 0 || c.Flags()&FLAG_TF != 0 {
		t.Fatalf("pushed ip %#x (want 0x1008, after the first nop), flags %#x, dr6 %#x", ip, fl, c.DR[6])
	}
}
