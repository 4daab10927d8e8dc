package cpu

import (
	"testing"
)

// FuzzExec executes random instruction bytes in every operating mode. The
// guest may do anything; the emulator must never fail internally (a Go
// panic inside Exec is reported as ExitInternalError and fails the test).
func FuzzExec(f *testing.F) {
	seeds := [][]byte{
		{0, 0x90, 0xf4},
		{1, 0x0f, 0x0b},
		{2, 0xcd, 0x80},
		{3, 0xf3, 0xa4, 0xeb, 0xfe},
		{4, 0x0f, 0x01, 0x10, 0xcf},
		{5, 0x48, 0x0f, 0xc7, 0x08},
		{6, 0x66, 0x0f, 0x22, 0xc0, 0xea, 0, 0, 0, 0, 8, 0},
		{2, 0x8e, 0xd8, 0x8e, 0xc0, 0xff, 0x18},
		{3, 0x0f, 0x00, 0xd8, 0x0f, 0x01, 0xd8, 0xcf},
		// x87 and SSE (modes 2 and 5 enable CR4.OSFXSR)
		{2, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b, 0xdd, 0x30, 0xdd, 0x20, 0xd9, 0xf8},
		{2, 0xdb, 0x2d, 0, 0x20, 0, 0, 0xdf, 0x35, 0, 0x30, 0, 0, 0xd9, 0xfd, 0xd9, 0xf4},
		{5, 0xf2, 0x0f, 0x5e, 0xc1, 0x66, 0x0f, 0xef, 0xc0, 0x0f, 0xae, 0x00, 0x0f, 0xae, 0x08},
		{5, 0x66, 0x0f, 0x73, 0xd8, 0x03, 0x0f, 0xc2, 0xc1, 0x05, 0xf3, 0x48, 0x0f, 0x2d, 0xc1},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 || len(data) > 4096 {
			return
		}
		c, m := testCPU(t, 1<<20, data[1:])
		// A little descriptor/page-table scaffolding the bytes can use.
		put64(m, 0x500, 0)                  // GDT null
		put64(m, 0x508, 0x00CF9B000000FFFF) // 32-bit code
		put64(m, 0x510, 0x00CF93000000FFFF) // 32-bit data
		put64(m, 0x518, 0x00AF9B000000FFFF) // 64-bit code
		put64(m, 0x520, 0x008F9B000000FFFF) // 16-bit code
		c.GDTR = DTable{Base: 0x500, Limit: 0x27}
		put64(m, 0x10000, 0x11000|PTE_P|PTE_RW|PTE_US) // PML4 / PDPT / PD chain
		put64(m, 0x11000, 0x12000|PTE_P|PTE_RW|PTE_US)
		put64(m, 0x12000, 0x0|PTE_P|PTE_RW|PTE_US|PTE_PS)
		put32(m, 0x20000, 0x0|PTE_P|PTE_RW|PTE_US|PTE_PS)
		switch data[0] % 8 {
		case 0: // real mode
			c.SetControl(CR0_ET, 0, 0, 0)
			c.SetSegment(CS, 0, 0, 0xFFFF, 0x93)
			for _, s := range []int{DS, ES, SS, FS, GS} {
				c.SetSegment(s, 0, 0, 0xFFFF, 0x93)
			}
			c.R[RSP] = 0x8000
		case 1: // 16-bit protected
			c.SetSegment(CS, 0x20, 0, 0xFFFF, 0x009B)
		case 2: // flat 32-bit, x87 exceptions via #MF, SSE enabled
			c.SetControl(CR0_PE|CR0_ET|CR0_NE|CR0_MP, 0, CR4_OSFXSR|CR4_OSXMMEXCPT, 0)
		case 3: // 32-bit paging with a 4 MiB page
			c.SetControl(CR0_PE|CR0_PG|CR0_ET, 0x20000, CR4_PSE, 0)
		case 4: // ring 3
			c.SetSegment(CS, 0x0B, 0, 0xFFFFFFFF, 0xC0FB)
			c.SetSegment(SS, 0x13, 0, 0xFFFFFFFF, 0xC0F3)
		case 5, 6: // long mode, 64-bit code (5: SSE enabled)
			cr4 := uint64(CR4_PAE)
			if data[0]%8 == 5 {
				cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT
			}
			c.SetControl(CR0_PE|CR0_PG|CR0_ET, 0x10000, cr4, EFER_LME|EFER_LMA|EFER_NXE|EFER_SCE)
			c.SetSegment(CS, 0x18, 0, 0xFFFFFFFF, 0xA09B)
		case 7: // virtual-8086
			c.SetFlags(FLAG_VM | 2)
			c.SetSegment(CS, 0, 0, 0xFFFF, 0xF3)
		}
		for i := 0; i < 20; i++ {
			ex := c.Exec(64)
			if ex.Reason == ExitInternalError {
				t.Fatalf("internal error on % x: %v", data, ex.Err)
			}
			if ex.Reason == ExitShutdown {
				return
			}
			if c.Halted {
				c.Halted = false
				c.EIP++
			}
		}
	})
}
