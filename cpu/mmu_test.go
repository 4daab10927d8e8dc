package cpu

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Page-walker tests: every paging format, and every combination of the
// U/S and R/W bits at two levels, CR0.WP, CPL and access kind, checked
// against the rules of SDM Vol. 3 §4.6 written out independently below.

func put32(m []byte, a uint64, v uint32) { binary.LittleEndian.PutUint32(m[a:], v) }
func put64(m []byte, a uint64, v uint64) { binary.LittleEndian.PutUint64(m[a:], v) }
func get32(m []byte, a uint64) uint32    { return binary.LittleEndian.Uint32(m[a:]) }
func get64(m []byte, a uint64) uint64    { return binary.LittleEndian.Uint64(m[a:]) }

// sdmAllowed is SDM Vol. 3 §4.6 for a two-level translation (no SMEP/SMAP).
func sdmAllowed(user, write bool, wp bool, us1, rw1, us2, rw2 bool) bool {
	us, rw := us1 && us2, rw1 && rw2
	if user {
		return us && (!write || rw)
	}
	return !write || rw || !wp
}

func TestWalkPermissions32(t *testing.T) {
	for bits := 0; bits < 1<<7; bits++ {
		us1, rw1, us2, rw2 := bits&1 != 0, bits&2 != 0, bits&4 != 0, bits&8 != 0
		wp, user, write := bits&16 != 0, bits&32 != 0, bits&64 != 0
		c, m := testCPU(t, 1<<20, asm32.hlt)
		pde := uint32(0x11000 | PTE_P)
		pte := uint32(0x22000 | PTE_P)
		if us1 {
			pde |= PTE_US
		}
		if rw1 {
			pde |= PTE_RW
		}
		if us2 {
			pte |= PTE_US
		}
		if rw2 {
			pte |= PTE_RW
		}
		put32(m, 0x10000+4*1, pde)    // PDE for 0x400000
		put32(m, 0x11000+4*0x05, pte) // PTE for 0x405000
		cr0 := uint64(CR0_PE | CR0_PG | CR0_ET)
		if wp {
			cr0 |= CR0_WP
		}
		c.SetControl(cr0, 0x10000, 0, 0)
		acc := accRead
		if write {
			acc = accWrite
		}
		r := c.walk(0x405123, acc, user, true)
		want := sdmAllowed(user, write, wp, us1, rw1, us2, rw2)
		name := fmt.Sprintf("pde us=%v rw=%v pte us=%v rw=%v wp=%v user=%v write=%v", us1, rw1, us2, rw2, wp, user, write)
		if r.fault == want {
			t.Errorf("%s: fault=%v, SDM says allowed=%v", name, r.fault, want)
			continue
		}
		if r.fault {
			e := uint32(PFERR_P)
			if write {
				e |= PFERR_W
			}
			if user {
				e |= PFERR_U
			}
			if r.errCode != e {
				t.Errorf("%s: error code %#x want %#x", name, r.errCode, e)
			}
			if get32(m, 0x11000+4*5)&(PTE_A|PTE_D) != 0 || get32(m, 0x10004)&PTE_A != 0 {
				t.Errorf("%s: A/D set on a faulting walk", name)
			}
			continue
		}
		if r.pa != 0x22123 {
			t.Errorf("%s: pa %#x", name, r.pa)
		}
		gotPTE := get32(m, 0x11000+4*5)
		if gotPTE&PTE_A == 0 || (gotPTE&PTE_D != 0) != write || get32(m, 0x10004)&PTE_A == 0 {
			t.Errorf("%s: A/D bits pte=%#x pde=%#x", name, gotPTE, get32(m, 0x10004))
		}
	}
}

func TestWalkFormats(t *testing.T) {
	type tc struct {
		name  string
		setup func(c *CPU, m []byte)
		la    uint64
		pa    uint64
		size  uint64
	}
	const P, RW, US, PS = PTE_P, PTE_RW, PTE_US, PTE_PS
	cases := []tc{
		{"32-bit 4K", func(c *CPU, m []byte) {
			put32(m, 0x10000+4*0x300, 0x11000|P|RW)
			put32(m, 0x11000+4*0x045, 0x7A000|P|RW)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, 0, 0)
		}, 0xC0045ABC, 0x7AABC, 4096},
		{"32-bit PSE 4M", func(c *CPU, m []byte) {
			put32(m, 0x10000+4*0x300, 0x00800000|P|RW|PS)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PSE, 0)
		}, 0xC0123456, 0x00923456, 4 << 20},
		{"32-bit PSE-36 4M above 4G", func(c *CPU, m []byte) {
			put32(m, 0x10000+4*1, 0x00400000|P|RW|PS|(0x3<<13))
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PSE, 0)
		}, 0x00412345, 0x300412345, 4 << 20},
		{"PAE 4K", func(c *CPU, m []byte) {
			put64(m, 0x10000+8*3, 0x11000|P)
			put64(m, 0x11000+8*0x1FF, 0x12000|P|RW)
			put64(m, 0x12000+8*0x1FF, 0x123456000|P|RW)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, 0)
		}, 0xFFFFF123, 0x123456123, 4096},
		{"PAE 2M", func(c *CPU, m []byte) {
			put64(m, 0x10000, 0x11000|P)
			put64(m, 0x11000+8*2, 0x40000000|P|RW|PS)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, 0)
		}, 0x00512345, 0x40112345, 2 << 20},
		{"long 4K", func(c *CPU, m []byte) {
			put64(m, 0x10000+8*0x1FF, 0x11000|P|RW)
			put64(m, 0x11000+8*0x1FE, 0x12000|P|RW)
			put64(m, 0x12000+8*0x3, 0x13000|P|RW)
			put64(m, 0x13000+8*0x4, 0xABC000|P|RW)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, EFER_LME|EFER_LMA)
		}, 0xFFFFFFFF80604DEF, 0xABCDEF, 4096},
		{"long 2M", func(c *CPU, m []byte) {
			put64(m, 0x10000, 0x11000|P|RW)
			put64(m, 0x11000, 0x12000|P|RW)
			put64(m, 0x12000+8*5, 0x7FE00000|P|RW|PS)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, EFER_LME|EFER_LMA)
		}, 0xA12345, 0x7FE12345 + 0x200000 - 0x200000, 2 << 20},
		{"long 1G", func(c *CPU, m []byte) {
			put64(m, 0x10000, 0x11000|P|RW)
			put64(m, 0x11000+8*2, 0x1C0000000|P|RW|PS)
			c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, EFER_LME|EFER_LMA)
		}, 0x87654321, 0x1C7654321, 1 << 30},
	}
	for _, x := range cases {
		c, m := testCPU(t, 1<<20, asm32.hlt)
		x.setup(c, m)
		r := c.walk(x.la, accRead, false, true)
		if r.fault || r.pa != x.pa || r.pageSize != x.size {
			t.Errorf("%s: fault=%v err=%#x pa=%#x size=%#x, want pa=%#x size=%#x", x.name, r.fault, r.errCode, r.pa, r.pageSize, x.pa, x.size)
		}
		tr := c.TranslateTrace(x.la)
		if tr.PA != x.pa || len(tr.Steps) == 0 {
			t.Errorf("%s: trace %+v", x.name, tr)
		}
	}
}

func TestWalkNXAndReserved(t *testing.T) {
	c, m := testCPU(t, 1<<20, asm32.hlt)
	const P, RW = PTE_P, PTE_RW
	put64(m, 0x10000, 0x11000|P)
	put64(m, 0x11000, 0x12000|P|RW)
	put64(m, 0x12000+8*1, 0x30000|P|RW|PTE_NX)
	// Without EFER.NXE, bit 63 is reserved: #PF with RSVD|P.
	c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, 0)
	if r := c.walk(0x1000, accRead, false, true); !r.fault || r.errCode != PFERR_RSVD|PFERR_P {
		t.Errorf("NX bit without NXE: fault=%v err=%#x, want RSVD|P", r.fault, r.errCode)
	}
	c.SetControl(CR0_PE|CR0_PG, 0x10000, CR4_PAE, EFER_NXE)
	if r := c.walk(0x1000, accRead, false, true); r.fault {
		t.Errorf("read of an NX page faulted: %#x", r.errCode)
	}
	if r := c.walk(0x1000, accExec, false, true); !r.fault || r.errCode != PFERR_P|PFERR_ID {
		t.Errorf("fetch from NX page: fault=%v err=%#x, want P|I/D (0x11)", r.fault, r.errCode)
	}
	// Not present: I/D set for fetches under PAE+NXE, P clear.
	if r := c.walk(0x5000, accExec, true, true); !r.fault || r.errCode != PFERR_U|PFERR_ID {
		t.Errorf("fetch from not-present page: err=%#x, want U|I/D", r.errCode)
	}
	// A physical address above MAXPHYADDR is a reserved-bit fault.
	put64(m, 0x12000+8*2, 1<<45|P|RW)
	if r := c.walk(0x2000, accRead, false, true); !r.fault || r.errCode&PFERR_RSVD == 0 {
		t.Errorf("address bits above MAXPHYADDR: err=%#x, want RSVD", r.errCode)
	}
}
