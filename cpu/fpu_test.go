package cpu

import "testing"

// Architectural rules around the x87/SSE state that the host-CPU oracle
// cannot show (it runs in user mode under Linux). Arithmetic itself is
// checked against the host CPU by conformance/hostdiff and against QEMU by
// guests/fp32.

// TestFPUInitKeepsState: RESET gives the FNINIT state and MXCSR 0x1F80;
// INIT leaves x87 and SSE state alone (SDM Vol. 3 Table 9-1).
func TestFPUInitKeepsState(t *testing.T) {
	c, _ := testCPU(t, 1<<20, asm32.hlt)
	s := c.FPU()
	if s.FCW != 0x37F || s.MXCSR != 0x1F80 || s.FTW != 0xFFFF {
		t.Fatalf("reset state: FCW %#x MXCSR %#x FTW %#x", s.FCW, s.MXCSR, s.FTW)
	}
	s.FCW, s.MXCSR, s.XMM[3][1] = 0x27F, 0x9FC0, 0x1234
	c.SetFPU(s)
	c.INIT()
	if g := c.FPU(); g.FCW != 0x27F || g.MXCSR != 0x9FC0 || g.XMM[3][1] != 0x1234 {
		t.Fatalf("INIT changed the FPU state: %+v", g)
	}
	c.Reset()
	if g := c.FPU(); g.FCW != 0x37F || g.MXCSR != 0x1F80 || g.XMM[3][1] != 0 {
		t.Fatalf("RESET kept the FPU state: FCW %#x MXCSR %#x", g.FCW, g.MXCSR)
	}
}

// TestFPUFaults: #NM, #UD and #MF conditions of CR0/CR4 (SDM Vol. 3A
// §2.5, Table 2-2 "Action Taken By x87 FPU Instructions for Different
// Combinations of EM, MP, and TS"; SSE: Vol. 3A §13.1.4).
func TestFPUFaults(t *testing.T) {
	cases := []struct {
		name     string
		code     []byte
		cr0, cr4 uint64
		fsw      uint16
		vec      int // -1: none
	}{
		{"fld1 TS", []byte{0xd9, 0xe8}, CR0_TS, 0, 0, VecNM},
		{"fld1 EM", []byte{0xd9, 0xe8}, CR0_EM, 0, 0, VecNM},
		{"fwait TS without MP", []byte{0x9b}, CR0_TS, 0, 0, -1},
		{"fwait TS+MP", []byte{0x9b}, CR0_TS | CR0_MP, 0, 0, VecNM},
		{"fwait pending, NE", []byte{0x9b}, CR0_NE, 0, 0x8081, VecMF},
		{"fwait pending, no NE (FERR# not wired)", []byte{0x9b}, 0, 0, 0x8081, -1},
		{"fnstsw pending, NE", []byte{0xdf, 0xe0}, CR0_NE, 0, 0x8081, -1},
		{"addsd no OSFXSR", []byte{0xf2, 0x0f, 0x58, 0xc1}, 0, 0, 0, VecUD},
		{"addsd EM", []byte{0xf2, 0x0f, 0x58, 0xc1}, CR0_EM, CR4_OSFXSR, 0, VecUD},
		{"addsd TS", []byte{0xf2, 0x0f, 0x58, 0xc1}, CR0_TS, CR4_OSFXSR, 0, VecNM},
		{"addsd ok", []byte{0xf2, 0x0f, 0x58, 0xc1}, 0, CR4_OSFXSR, 0, -1},
		{"fxsave TS", []byte{0x0f, 0xae, 0x00}, CR0_TS, CR4_OSFXSR, 0, VecNM},
		{"movq mm0, mm1 (no MMX)", []byte{0x0f, 0x6f, 0xc1}, 0, CR4_OSFXSR, 0, VecUD},
	}
	for _, tc := range cases {
		c, _ := testCPU(t, 1<<20, append(append([]byte(nil), tc.code...), 0xf4))
		var got = -1
		c.sh.Hooks = &Hooks{Exception: func(c *CPU, x *Exception) {
			if got < 0 {
				got = x.Vector
			}
			c.RequestExit()
		}}
		c.SetControl(CR0_PE|CR0_ET|tc.cr0, 0, tc.cr4, 0)
		s := c.FPU()
		s.FSW = tc.fsw
		s.FCW = 0x37F &^ (tc.fsw & 0x3F)
		c.SetFPU(s)
		c.Exec(10)
		if got != tc.vec {
			t.Errorf("%s: exception %d, want %d", tc.name, got, tc.vec)
		}
	}
}
