package cpu

import (
	"testing"

	"glassbox/memmap"
	"glassbox/tb"
)

// testCPU builds a CPU with ram bytes of RAM at physical 0, in flat 32-bit
// protected mode (no paging) with code copied to 0x1000 and EIP there,
// ESP at the top of RAM.
func testCPU(t testing.TB, ram int, code []byte) (*CPU, []byte) {
	t.Helper()
	mem := make([]byte, ram)
	sp := memmap.New(memmap.PhysAddr(ram))
	sp.AddRAM("ram", 0, mem)
	sp.Seal()
	sh := &Shared{Mem: sp, TBs: tb.NewCache()}
	c := New(Config{Shared: sh})
	sh.CPUs = []*CPU{c}
	copy(mem[0x1000:], code)
	c.SetControl(CR0_PE|CR0_ET, 0, 0, 0)
	c.SetSegment(CS, 0x08, 0, 0xFFFFFFFF, 0xC09B)
	for _, s := range []int{DS, ES, SS, FS, GS} {
		c.SetSegment(s, 0x10, 0, 0xFFFFFFFF, 0xC093)
	}
	c.EIP = 0x1000
	c.R[RSP] = uint64(ram - 16)
	return c, mem
}

// asm32 is a tiny table of hand-assembled 32-bit instructions for tests.
var asm32 = struct {
	hlt, nop []byte
}{hlt: []byte{0xF4}, nop: []byte{0x90}}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
