package cpu

import "testing"

// Guest debug registers (SDM Vol. 3 ch. 18). The IDT of pmSetup sends
// every vector to a HLT at handler, so a #DB leaves its frame at ESP:
// EIP, CS, EFLAGS.

// dr7 builds DR7 with breakpoint n locally enabled, its R/W and LEN
// fields (LEN as DR7 encodes it: 0=1, 1=2, 3=4, 2=8 bytes).
func dr7(n int, rw, ln uint64) uint64 {
	return 0x400 | 1<<(2*n) | rw<<(16+4*n) | ln<<(18+4*n)
}

// dbFrame runs c to the HLT handler and returns the #DB frame (EIP,
// EFLAGS), failing if the CPU did not get there.
func dbFrame(t *testing.T, c *CPU, m []byte) (eip, eflags uint32) {
	t.Helper()
	runHalt(t, c)
	if c.EIP != handler+1 || c.LastExc.Vector != VecDB {
		t.Fatalf("eip %#x last exception %d: want #DB in the handler", c.EIP, c.LastExc.Vector)
	}
	f := stackWords(m, c.R[RSP], 3)
	return f[0], f[2]
}

func TestHWExecBreakpoint(t *testing.T) {
	// inc eax x4; hlt. Breakpoint on the third inc (inside the TB).
	c, m := pmSetup(t, []byte{0x40, 0x40, 0x40, 0x40, 0xF4})
	c.SetDR(0, 0x1002)
	c.SetDR(7, dr7(0, 0, 0))
	eip, fl := dbFrame(t, c, m)
	if eip != 0x1002 || c.R[RAX] != 2 {
		t.Fatalf("#DB at eip %#x with eax=%d, want before the breakpoint at 0x1002 with eax=2", eip, c.R[RAX])
	}
	if c.DR[6]&0xF != 1 {
		t.Fatalf("dr6 %#x, want B0", c.DR[6])
	}
	if fl&FLAG_RF != 0 {
		t.Fatalf("pushed eflags %#x: RF set for an instruction-breakpoint #DB", fl)
	}
}

// The handler sets RF in the pushed EFLAGS and IRETs: the breakpoint
// instruction runs once, and the breakpoint fires again on the next pass.
func TestHWExecBreakpointRF(t *testing.T) {
	// 0x1000: inc eax; inc eax (bp); inc eax; dec ecx; jnz 0x1000; hlt
	c, m := pmSetup(t, []byte{0x40, 0x40, 0x40, 0x49, 0x75, 0xFA, 0xF4})
	// handler: inc ebx; or dword [esp+8], 0x10000; iret
	copy(m[handler:], []byte{0x43, 0x81, 0x4C, 0x24, 0x08, 0x00, 0x00, 0x01, 0x00, 0xCF})
	c.R[RCX] = 3
	c.SetDR(2, 0x1001)
	c.SetDR(7, 0x400|2<<4) // G2
	runHalt(t, c)
	if c.EIP != 0x1007 || c.R[RAX] != 9 || c.R[RBX] != 3 {
		t.Fatalf("eip %#x eax %d ebx %d, want 0x1007 9 3 (one #DB per pass)", c.EIP, c.R[RAX], c.R[RBX])
	}
	if c.DR[6]&0xF != 4 || c.flags&FLAG_RF != 0 {
		t.Fatalf("dr6 %#x eflags %#x, want B2 and RF clear", c.DR[6], c.flags)
	}
}

func TestHWDataWriteBreakpoint(t *testing.T) {
	// mov dword [0x3000], 0x12345678; nop; hlt. Watch 2 bytes at 0x3002:
	// the 4-byte store overlaps it.
	c, m := pmSetup(t, []byte{0xC7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0x90, 0xF4})
	c.SetDR(1, 0x3002)
	c.SetDR(7, dr7(1, 1, 1))
	eip, _ := dbFrame(t, c, m)
	if eip != 0x100A || get32(m, 0x3000) != 0x12345678 {
		t.Fatalf("#DB at eip %#x, memory %#x: want a trap after the store", eip, get32(m, 0x3000))
	}
	if c.DR[6]&0xF != 2 {
		t.Fatalf("dr6 %#x, want B1", c.DR[6])
	}
}

func TestHWDataReadBreakpoint(t *testing.T) {
	// mov eax, [0x3003]; mov [0x3000], al; hlt
	code := []byte{0xA1, 0x03, 0x30, 0x00, 0x00, 0xA2, 0x00, 0x30, 0x00, 0x00, 0xF4}
	// A write-only watch of 4 bytes at 0x3000 ignores the read and
	// catches the byte store.
	c, m := pmSetup(t, code)
	c.SetDR(3, 0x3001) // LEN 4 aligns it down to 0x3000
	c.SetDR(7, dr7(3, 1, 3))
	if eip, _ := dbFrame(t, c, m); eip != 0x100A || c.DR[6]&0xF != 8 {
		t.Fatalf("write watch: #DB at %#x dr6 %#x, want after the store with B3", eip, c.DR[6])
	}
	// A read/write watch catches the read that overlaps its last byte.
	c, m = pmSetup(t, code)
	c.SetDR(3, 0x3000)
	c.SetDR(7, dr7(3, 3, 3))
	if eip, _ := dbFrame(t, c, m); eip != 0x1005 || c.DR[6]&0xF != 8 {
		t.Fatalf("read/write watch: #DB at %#x dr6 %#x, want after the load with B3", eip, c.DR[6])
	}
}

func TestHWDisabledBreakpoints(t *testing.T) {
	// mov [0x3000], eax; inc eax; hlt with breakpoints set up but not enabled
	c, _ := pmSetup(t, []byte{0xA3, 0x00, 0x30, 0x00, 0x00, 0x40, 0xF4})
	c.SetDR(0, 0x1005)
	c.SetDR(1, 0x3000)
	c.SetDR(7, 0x400|1<<20|3<<22) // R/W1 and LEN1 set, L1/G1 clear
	if c.hwSlow {
		t.Fatal("nothing enabled, but the per-TB checks are on")
	}
	runHalt(t, c)
	if c.EIP != 0x1007 || c.DR[6] != 0xFFFF0FF0 {
		t.Fatalf("eip %#x dr6 %#x: a disabled breakpoint fired", c.EIP, c.DR[6])
	}
}

func TestHWGeneralDetect(t *testing.T) {
	// mov eax, dr0 with DR7.GD set: #DB fault before it, BD set, GD cleared.
	c, m := pmSetup(t, []byte{0x0F, 0x21, 0xC0, 0xF4})
	c.SetDR(7, 0x400|dr7GD)
	eip, _ := dbFrame(t, c, m)
	if eip != 0x1000 || c.DR[6]&dr6BD == 0 || c.DR[7]&dr7GD != 0 {
		t.Fatalf("eip %#x dr6 %#x dr7 %#x, want a fault with BD set and GD clear", eip, c.DR[6], c.DR[7])
	}
}

// A data breakpoint hit by an instruction that began with TF set gives one
// #DB reporting both BS and Bn.
func TestHWDataBreakpointWithTF(t *testing.T) {
	// mov [0x3000], eax; hlt
	c, m := pmSetup(t, []byte{0xA3, 0x00, 0x30, 0x00, 0x00, 0xF4})
	c.SetDR(0, 0x3000)
	c.SetDR(7, dr7(0, 1, 3))
	c.SetFlags(FLAG_TF | 2)
	eip, _ := dbFrame(t, c, m)
	if eip != 0x1005 || c.DR[6]&(dr6BS|0xF) != dr6BS|1 {
		t.Fatalf("#DB at %#x dr6 %#x, want one trap with BS and B0", eip, c.DR[6])
	}
	if c.ExcRepeat != 1 || len(c.ExcChain) != 1 {
		t.Fatalf("%d deliveries, want one", c.ExcRepeat)
	}
}

// A task switch clears L0-L3 and keeps G0-G3 (SDM §18.2.4).
func TestHWTaskSwitchClearsLocal(t *testing.T) {
	c, _ := pmSetup(t, []byte{0xF4})
	c.SetDR(7, 0x400|0xFF)
	c.hwClearLocal()
	if c.DR[7] != 0x400|0xAA {
		t.Fatalf("dr7 %#x, want the G bits only", c.DR[7])
	}
}

// A data breakpoint hit by one iteration of a REP string instruction traps
// after that iteration, with EIP still at the instruction and the count
// left (SDM §18.3.1.2).
func TestHWDataBreakpointRep(t *testing.T) {
	// mov edi, 0x3000; mov ecx, 8; rep stosd; hlt
	c, m := pmSetup(t, []byte{0xBF, 0x00, 0x30, 0x00, 0x00, 0xB9, 0x08, 0x00, 0x00, 0x00, 0xF3, 0xAB, 0xF4})
	c.R[RAX] = 0xAAAAAAAA
	c.SetDR(0, 0x300C)
	c.SetDR(7, dr7(0, 1, 3))
	eip, _ := dbFrame(t, c, m)
	if eip != 0x100A || c.R[RCX] != 4 || get32(m, 0x300C) != 0xAAAAAAAA || get32(m, 0x3010) != 0 {
		t.Fatalf("#DB at %#x ecx=%d: want at the REP with 4 iterations left after the 4th store", eip, c.R[RCX])
	}
}
