// Package hostdiff runs the host-CPU oracle's instruction forms
// (conformance/hostcpu) through glassbox's CPU in 64-bit mode and compares
// the results with what the host CPU produced.
package hostdiff

import (
	"encoding/binary"

	"glassbox/conformance/hostcpu"
	"glassbox/cpu"
	"glassbox/memmap"
	"glassbox/tb"
)

// Physical layout of the emulated sandbox. Linear addresses match the host
// helper's (CodeAddr, DataAddr); page tables map them onto small physical
// pages, and the pages around the data region are left unmapped so stray
// accesses fault with the same CR2 as on the host.
const (
	physPML4 = 0x1000
	physPDPT = 0x2000
	physPD   = 0x3000
	physPTc  = 0x4000 // page table for CodeAddr's 2 MiB region
	physPTd  = 0x5000 // page table for DataAddr's 2 MiB region
	physCode = 0x10000
	physData = 0x20000 // DataSize bytes
	ramSize  = 1 << 20
	maxSteps = 64
	codeSel  = 0x08
	dataSel  = 0x10
)

// Emulator is a reusable 64-bit sandbox machine.
type Emulator struct {
	ram []byte
	mem *memmap.Space
	tbs *tb.Cache
	c   *cpu.CPU
	exc *cpu.Exception
}

// New builds the sandbox.
func New() *Emulator {
	e := &Emulator{ram: make([]byte, ramSize)}
	e.mem = memmap.New(ramSize)
	e.mem.AddRAM("ram", 0, e.ram)
	e.mem.Seal()
	e.tbs = tb.NewCache()
	hooks := &cpu.Hooks{Exception: func(c *cpu.CPU, x *cpu.Exception) {
		if e.exc == nil {
			cp := *x
			e.exc = &cp
			c.RequestExit()
		}
	}}
	sh := &cpu.Shared{Mem: e.mem, TBs: e.tbs, Hooks: hooks}
	e.c = cpu.New(cpu.Config{Shared: sh})
	sh.CPUs = []*cpu.CPU{e.c}
	put := func(a uint64, v uint64) { binary.LittleEndian.PutUint64(e.ram[a:], v) }
	const p = cpu.PTE_P | cpu.PTE_RW | cpu.PTE_US
	put(physPML4, physPDPT|p)
	// PDPT[0] covers 0..1 GiB: CodeAddr (0x20000000) and DataAddr (0x10000000).
	put(physPDPT, physPD|p)
	put(physPD+8*(hostcpu.CodeAddr>>21), physPTc|p)
	put(physPD+8*(hostcpu.DataAddr>>21), physPTd|p)
	put(physPTc+8*((hostcpu.CodeAddr>>12)&511), physCode|p)
	for i := uint64(0); i < hostcpu.DataSize/0x1000; i++ {
		put(physPTd+8*(((hostcpu.DataAddr>>12)+i)&511), (physData+i*0x1000)|p)
	}
	return e
}

// Run executes code with the initial state and returns the result in the
// host oracle's terms.
func (e *Emulator) Run(code []byte, in hostcpu.State) hostcpu.Result {
	c := e.c
	e.tbs.Flush()
	c.Reset()
	page := e.ram[physCode : physCode+0x1000]
	for i := range page {
		page[i] = 0xCC
	}
	copy(page, code)
	data := e.ram[physData : physData+hostcpu.DataSize]
	if in.Data != nil {
		copy(data, in.Data)
	} else {
		clear(data)
	}
	// As Linux runs user code: CR0.NE and MP (#MF, FWAIT), CR4.OSFXSR and
	// OSXMMEXCPT (#XM).
	c.SetControl(cpu.CR0_PE|cpu.CR0_PG|cpu.CR0_ET|cpu.CR0_WP|cpu.CR0_NE|cpu.CR0_MP, physPML4,
		cpu.CR4_PAE|cpu.CR4_OSFXSR|cpu.CR4_OSXMMEXCPT, cpu.EFER_LME|cpu.EFER_LMA|cpu.EFER_NXE)
	c.SetSegment(cpu.CS, codeSel, 0, 0xFFFFFFFF, 0xA09B) // 64-bit code: L=1, G=1, P, S, code/read/accessed
	for _, s := range []int{cpu.DS, cpu.ES, cpu.SS, cpu.FS, cpu.GS} {
		c.SetSegment(s, dataSel, 0, 0xFFFFFFFF, 0xC093)
	}
	c.R = in.GPR
	x := in.X87
	if x.FCW == 0 {
		x = hostcpu.DefaultX87
	}
	fs := cpu.FPUState{FCW: x.FCW, FSW: x.FSW, XMM: in.XMM, MXCSR: in.MXCSR}
	for i := 0; i < 8; i++ {
		if x.FTW&(1<<i) == 0 {
			fs.FTW |= 3 << (2 * i)
		}
		fs.ST[i].SE, fs.ST[i].M = x.ST[i].SE, x.ST[i].M
	}
	c.SetFPU(fs)
	c.EIP = hostcpu.CodeAddr
	c.SetFlags(in.RFLAGS&(hostcpu.InputFlags) | 2)
	c.IDTR = cpu.DTable{}
	e.exc = nil
	end := uint64(hostcpu.CodeAddr + len(code))
	steps := 0
	for steps < maxSteps {
		c.SetSingleStep(true)
		c.Exec(1)
		c.SetSingleStep(false)
		steps++
		if e.exc != nil || c.Shutdown() {
			break
		}
		if c.EIP < hostcpu.CodeAddr || c.EIP >= end {
			break
		}
	}
	out := hostcpu.Result{Fault: hostcpu.FaultNone, RIP: c.EIP}
	if steps == maxSteps {
		out.Fault = hostcpu.FaultTimeout
	}
	if e.exc != nil {
		out.Fault = e.exc.Vector
		out.RIP = c.EIP
		if e.exc.Vector == cpu.VecPF {
			out.FaultAddr = e.exc.CR2
		}
	}
	out.State.GPR = c.R
	out.State.RFLAGS = c.Flags() & (hostcpu.InputFlags | 2)
	out.State.Data = append([]byte(nil), data...)
	fs = c.FPU()
	out.State.MXCSR = fs.MXCSR
	out.State.XMM = fs.XMM
	out.State.X87 = hostcpu.X87State{FCW: fs.FCW, FSW: fs.FSW}
	for i := 0; i < 8; i++ {
		if fs.FTW>>(2*i)&3 != 3 {
			out.State.X87.FTW |= 1 << i
		}
		out.State.X87.ST[i] = hostcpu.F80{SE: fs.ST[i].SE, M: fs.ST[i].M}
	}
	return out
}
