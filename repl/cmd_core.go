package repl

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"glassbox/coredump"
	"glassbox/target"
)

// coreFile is where a core is written (*os.File).
type coreFile interface {
	coredump.File
	io.Closer
}

// cmdDumpGuestMemory writes an ELF core file (package coredump) of the
// guest: the selected vCPU's note first (gdb's current thread), memory as
// the selected vCPU's page tables map it (physical = virtual with paging
// off).
func cmdDumpGuestMemory(ctx *Context, args []string) error {
	sel, regs, err := ctx.CPURegs()
	if err != nil {
		return err
	}
	d := coredump.Dump{Long: regs.Mode == "long64", ReadPhys: ctx.T.ReadPhys}
	order := []int{sel}
	for i := 0; i < ctx.T.NumCPUs(); i++ {
		if i != sel {
			order = append(order, i)
		}
	}
	st := ctx.T.LastStop()
	for _, i := range order {
		r, err := ctx.T.Regs(i)
		if err != nil {
			return err
		}
		c := coredump.CPU{ID: i, GPR: r.GPR, RIP: r.PC, RFLAGS: r.RFLAGS, FSBase: r.Seg[4].Base, GSBase: r.Seg[5].Base,
			FPU: coreFPU(&r.FPU)}
		for s := range c.Seg {
			c.Seg[s] = r.Seg[s].Sel
		}
		if st != nil && st.CPU == i && st.Reason == "shutdown" {
			c.Signal = 11 // SIGSEGV: gdb says the program died of it
		}
		d.CPUs = append(d.CPUs, c)
	}
	ram := ctx.T.RAM()
	inRAM := func(pa uint64) bool {
		for _, r := range ram {
			if pa >= r.Start && pa < r.Start+r.Size {
				return true
			}
		}
		return false
	}
	limit := uint64(1) << 32
	if d.Long {
		limit = ^uint64(0)
	}
	skipped := 0
	add := func(va, pa, size uint64) {
		if va+size > limit || pa+size > limit && !d.Long {
			skipped++
			return
		}
		if n := len(d.Segments); n > 0 {
			s := &d.Segments[n-1]
			if s.VAddr+s.Size == va && s.PAddr+s.Size == pa {
				s.Size += size
				return
			}
		}
		d.Segments = append(d.Segments, coredump.Segment{VAddr: va, PAddr: pa, Size: size})
	}
	if pagingMode(&regs) == "off" {
		for _, r := range ram {
			add(r.Start, r.Start, r.Size)
		}
	} else {
		err := walkTables(ctx.T, &regs, 0, ^uint64(0), func(m mapping) {
			for off := uint64(0); off < m.Size; off += 0x1000 {
				if inRAM(m.PA + off) {
					add(m.VA+off, m.PA+off, 0x1000)
				}
			}
		})
		if err != nil {
			return fmt.Errorf("dump-guest-memory: %v", err)
		}
	}
	f, err := ctx.R.createCore(args[0])
	if err != nil {
		return fmt.Errorf("dump-guest-memory: %v", err)
	}
	size, err := coredump.Write(f, d)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(args[0])
		return fmt.Errorf("dump-guest-memory: %v", err)
	}
	class := "ELF32 i386"
	if d.Long {
		class = "ELF64 x86-64"
	}
	ctx.Printf("wrote %s: %s core, %d vCPUs, %d segments, %d bytes (sparse)\n", args[0], class, len(d.CPUs), len(d.Segments), size)
	if skipped > 0 {
		ctx.Printf("note: %d mappings above 4 GiB left out of the ELF32 core\n", skipped)
	}
	return nil
}

// coreFPU converts the vCPU's x87/SSE state for the core's FP notes.
func coreFPU(f *target.FPU) *coredump.FPU {
	c := &coredump.FPU{FCW: f.FCW, FSW: f.FSW, FTW: f.FTW, FOP: f.FOP, FIP: f.FIP, FDP: f.FDP, FCS: f.FCS, FDS: f.FDS, MXCSR: f.MXCSR}
	for i, st := range f.ST {
		binary.LittleEndian.PutUint64(c.ST[i][0:], st.M)
		binary.LittleEndian.PutUint16(c.ST[i][8:], st.SE)
	}
	for i, x := range f.XMM {
		binary.LittleEndian.PutUint64(c.XMM[i][0:], x[0])
		binary.LittleEndian.PutUint64(c.XMM[i][8:], x[1])
	}
	return c
}
