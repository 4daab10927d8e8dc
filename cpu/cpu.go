// Package cpu is glassbox's x86 processor: architectural state, modes,
// segmentation, paging, exceptions and interrupts, instruction semantics,
// and the execution loop that runs translation blocks (package tb) through
// a software TLB (package tlb), the way QEMU's TCG does.
//
// # Pipeline (QEMU counterpart in brackets)
//
//	(*CPU).Exec                      [cpu_exec]
//	 └ chainNext: a direct link      [goto_tb / tb_add_jump]
//	 └ findTB: jump cache, then      [tb_find / tb_lookup]
//	   └ lookupTB → codePhys          [tb_htable_lookup → get_page_addr_code]
//	     └ fillTLB → walk → tlb.Fill  [tlb_fill → x86_cpu_tlb_fill → handle_mmu_fault → tlb_set_page]
//	   └ genTB → translate → linkTB   [tb_gen_code → tb_link_page]
//	     └ protectCode                [tlb_protect_code → cpu_physical_memory_test_and_clear_dirty]
//	 └ runSome → runOps: specialised handlers, else the exec switch [cpu_tb_exec]
//	 guest store to a code page → storeNotDirty → invalidate TBs [notdirty_write → tb_invalidate_phys_page_fast]
//
// # Goroutines and locking
//
// A CPU is driven by exactly one goroutine at a time: the one holding the
// machine's run baton. Shared (the TB cache, the address space's code
// protection) is touched only under that baton, so no locks are taken on
// the hot path.
//
// # Guest exceptions
//
// A guest exception is a small value (vector, error code, CR2) recorded in
// the CPU; raising it unwinds the running TB with a panic of a private
// sentinel that Exec recovers at the instruction boundary. Nothing a guest
// does makes Exec return a Go error or crash the process; a bug in the
// emulator is reported as an Exit with Reason ExitInternalError.
package cpu

import (
	"glassbox/memmap"
	"glassbox/tb"
	"glassbox/tlb"
)

// General register numbers in x86 encoding order.
const (
	RAX = iota
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

// Segment register numbers in x86 encoding order.
const (
	ES = iota
	CS
	SS
	DS
	FS
	GS
	NumSeg
)

// SegNames are the segment register names, by number.
var SegNames = [...]string{"es", "cs", "ss", "ds", "fs", "gs"}

// RegNames64 are the 64-bit general register names, by number.
var RegNames64 = [...]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}

// EFLAGS bits (SDM Vol. 1 §3.4.3).
const (
	FLAG_CF   = 1 << 0
	FLAG_PF   = 1 << 2
	FLAG_AF   = 1 << 4
	FLAG_ZF   = 1 << 6
	FLAG_SF   = 1 << 7
	FLAG_TF   = 1 << 8
	FLAG_IF   = 1 << 9
	FLAG_DF   = 1 << 10
	FLAG_OF   = 1 << 11
	FLAG_IOPL = 3 << 12
	FLAG_NT   = 1 << 14
	FLAG_RF   = 1 << 16
	FLAG_VM   = 1 << 17
	FLAG_AC   = 1 << 18
	FLAG_VIF  = 1 << 19
	FLAG_VIP  = 1 << 20
	FLAG_ID   = 1 << 21

	flagsArith = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF
)

// Control register bits (SDM Vol. 3 §2.5).
const (
	CR0_PE = 1 << 0
	CR0_MP = 1 << 1
	CR0_EM = 1 << 2
	CR0_TS = 1 << 3
	CR0_ET = 1 << 4
	CR0_NE = 1 << 5
	CR0_WP = 1 << 16
	CR0_AM = 1 << 18
	CR0_NW = 1 << 29
	CR0_CD = 1 << 30
	CR0_PG = 1 << 31

	CR4_VME        = 1 << 0
	CR4_PVI        = 1 << 1
	CR4_TSD        = 1 << 2
	CR4_DE         = 1 << 3
	CR4_PSE        = 1 << 4
	CR4_PAE        = 1 << 5
	CR4_MCE        = 1 << 6
	CR4_PGE        = 1 << 7
	CR4_PCE        = 1 << 8
	CR4_OSFXSR     = 1 << 9
	CR4_OSXMMEXCPT = 1 << 10

	EFER_SCE = 1 << 0
	EFER_LME = 1 << 8
	EFER_LMA = 1 << 10
	EFER_NXE = 1 << 11
)

// Exception vectors (SDM Vol. 3 §6.3.1).
const (
	VecDE  = 0
	VecDB  = 1
	VecNMI = 2
	VecBP  = 3
	VecOF  = 4
	VecBR  = 5
	VecUD  = 6
	VecNM  = 7
	VecDF  = 8
	VecTS  = 10
	VecNP  = 11
	VecSS  = 12
	VecGP  = 13
	VecPF  = 14
	VecMF  = 16
	VecAC  = 17
	VecMC  = 18
	VecXM  = 19
)

// VectorNames are the SDM mnemonics of the exception vectors.
var VectorNames = map[int]string{0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR",
	6: "#UD", 7: "#NM", 8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF",
	16: "#MF", 17: "#AC", 18: "#MC", 19: "#XM"}

// Segment is a segment register with its hidden descriptor cache.
type Segment struct {
	Sel   uint16
	Base  uint64
	Limit uint32 // byte granular
	// Attr holds descriptor bits 40-47 (type, S, DPL, P) in bits 0-7 and
	// bits 52-55 (AVL, L, D/B, G) in bits 12-15.
	Attr uint16

	// derived access window, recomputed by refresh()
	lo, hi  uint64
	canRead bool
	canWrit bool
}

// Descriptor attribute bits within Segment.Attr.
const (
	attrAccessed = 1 << 0
	attrWrite    = 1 << 1 // data: writable; code: readable
	attrExpDown  = 1 << 2 // data: expand-down; code: conforming
	attrCode     = 1 << 3
	attrS        = 1 << 4
	attrP        = 1 << 7
	attrL        = 1 << 13
	attrDB       = 1 << 14
	attrG        = 1 << 15
)

// DPL is the descriptor privilege level.
func (s *Segment) DPL() int { return int(s.Attr>>5) & 3 }

// Present reports the P bit.
func (s *Segment) Present() bool { return s.Attr&attrP != 0 }

// DB reports the D/B (default size / big) bit.
func (s *Segment) DB() bool { return s.Attr&attrDB != 0 }

// DTable is a descriptor-table register (GDTR, IDTR).
type DTable struct {
	Base  uint64
	Limit uint32
}

// Exception is a pending or last-delivered guest exception.
type Exception struct {
	Vector  int
	Code    uint32
	HasCode bool
	CR2     uint64
	// EIP is the offset of the faulting instruction (for reports).
	EIP uint64
	// Soft marks INT n / INT3 / INTO (pushes the next EIP, checks gate DPL).
	Soft bool
}

// Mode names the processor operating mode.
type Mode int

const (
	ModeReal Mode = iota
	ModeV86
	ModeProt16
	ModeProt32
	ModeCompat16
	ModeCompat32
	ModeLong64
)

func (m Mode) String() string {
	return [...]string{"real", "v8086", "protected16", "protected32", "compat16", "compat32", "long64"}[m]
}

// IntController supplies external interrupts (the PIC, later the LAPIC).
type IntController interface {
	Pending() bool
	Ack() uint8
}

// APICMSRs is implemented by an interrupt controller with registers in
// the MSR space: the x2APIC registers (0x800-0x8FF) and IA32_TSC_DEADLINE
// (0x6E0). ok=false makes RDMSR/WRMSR raise #GP.
type APICMSRs interface {
	ReadAPICMSR(n uint32) (v uint64, ok bool)
	WriteAPICMSR(n uint32, v uint64) (ok bool)
	// APICBaseValid reports whether writing v to IA32_APIC_BASE is a valid
	// mode transition (SDM Vol. 3 11.12.5: x2APIC -> xAPIC and disabled ->
	// x2APIC are invalid).
	APICBaseValid(v uint64) bool
}

// Shared is what the vCPUs of one machine share.
type Shared struct {
	Mem  *memmap.Space
	TBs  *tb.Cache
	CPUs []*CPU
	// Hooks may be nil. They are called on the baton goroutine.
	Hooks *Hooks

	dbg debugShared
}

// Hooks let the machine observe CPU events (catchpoints, I/O).
type Hooks struct {
	// TLBFill, TBGen, CodeProtect, SMC are called from inside the
	// corresponding code path, so a catchpoint can park the goroutine there.
	TLBFill     func(c *CPU, la uint64, pa uint64)
	TBGen       func(c *CPU, t *tb.TB)
	CodeProtect func(c *CPU, pa uint64)
	SMC         func(c *CPU, pa uint64)
	Exception   func(c *CPU, e *Exception)
	// IO is called before each port access (value is the written value).
	IO func(c *CPU, port uint16, size int, write bool, value uint32)
	// HLT is called when the CPU halts; ModeSwitch when the operating
	// mode changes; Shutdown on a triple fault.
	HLT        func(c *CPU)
	ModeSwitch func(c *CPU, from, to Mode)
	Shutdown   func(c *CPU)
}

// excLoopGap is the most instructions between two identical faults that
// still count as a loop (a handler that returns at once).
const excLoopGap = 1000

// CPU is one virtual processor.
type CPU struct {
	// Hot state first.
	R      [16]uint64
	EIP    uint64 // RIP/EIP/IP: offset in CS
	flags  uint64 // EFLAGS; arithmetic bits valid only when cc.op == ccNone
	cc     lazyFlags
	Seg    [NumSeg]Segment
	mmuIdx int
	// acCheck: alignment checking is on (CR0.AM, EFLAGS.AC, CPL 3).
	acCheck bool
	tlb     *tlb.TLB
	jc      tb.JumpCache
	hflags  uint32

	a20Mask uint64

	CR0, CR2, CR3, CR4, CR8 uint64
	EFER                    uint64
	DR                      [8]uint64
	GDTR, IDTR              DTable
	LDTR, TR                Segment
	msr                     msrState

	ID     int
	Halted bool
	// ICount counts retired instructions.
	ICount uint64
	// Pauses counts PAUSE instructions (spin-wait evidence for analyze hang).
	Pauses     uint64
	softIntRan bool // the last instruction was INT n/INT3/INTO/ICEBP
	turnPauses int
	yieldTurn  bool
	// yields counts work that retired no instruction (REP chunks that
	// yielded, faults); it consumes Exec budget like instructions do, so a
	// guest stuck in an exception loop still returns control.
	yields uint64

	sh    *Shared
	mem   *memmap.Space
	intc  IntController
	IO    IOHandler
	cpuid CPUIDModel

	// run state
	curTB    *tb.TB
	curOp    int
	stopTB   bool // leave the TB after the current op
	inhibit  bool // interrupt shadow (STI, MOV SS) for one instruction
	exc      Exception
	excDepth int
	shutdown bool
	LastExc  Exception
	// ExcRepeat counts consecutive deliveries of the same fault (vector,
	// EIP, error code) less than excLoopGap instructions apart: an
	// exception loop when it grows large (the spin watchdog reports it).
	ExcRepeat uint64
	excAt     uint64
	firstExc  int
	ExcChain  []Exception // exceptions of the current delivery (for #DF/triple fault reports)
	exitReq   bool
	exitWhy   ExitReason
	exitValue int
	nmiPend   bool
	tsc0      uint64

	// x87/SSE minimal state (see fpu.go)
	fpu fpuState

	// APICBaseHook, when set, is called after IA32_APIC_BASE is written
	// (the machine forwards it to the vCPU's local APIC).
	APICBaseHook func(v uint64)

	// Trace, when set, is called before each TB runs (-d exec).
	Trace func(c *CPU, t *tb.TB)

	// debugging (debug.go)
	dbg         debugState
	bpActive    bool
	bpSkip      bool
	watchActive bool
	singleStep  bool
	stepIRQ     bool
	stepDone    bool
	needOuter   bool
	chained     uint64 // TB entries through links in runTBs, added to the shared stats by runSome
	// checkNext: since runTBs last checked between TBs, something may have
	// changed what it checks (a generic op or a slow memory path ran: see
	// runTBs).
	checkNext bool
	repYield  bool
	waitSIPI  bool

	// the guest's debug registers (hwdebug.go)
	hwSlow bool  // a guest breakpoint is enabled or EFLAGS.RF is set: runSome checks per TB
	hwExec uint8 // enabled instruction breakpoints (bit n: DRn)
	hwData uint8 // enabled data breakpoints
	hwIO   uint8 // enabled I/O breakpoints (CR4.DE)
	hwHit  uint8 // data/I/O breakpoints hit by the running instruction
	rfHeld bool  // RF was cleared at the start of the running instruction
}

// IOHandler is the CPU's view of the I/O port space (the machine may wrap
// the address space to add catchpoints).
type IOHandler interface {
	In(port uint16, size int) uint32
	Out(port uint16, size int, v uint32)
}

// Config configures a CPU.
type Config struct {
	ID     int
	Shared *Shared
	Intc   IntController
	// IO defaults to Shared.Mem.
	IO IOHandler
}

// New returns a CPU in the architectural reset state.
func New(cfg Config) *CPU {
	c := &CPU{ID: cfg.ID, sh: cfg.Shared, mem: cfg.Shared.Mem, intc: cfg.Intc, IO: cfg.IO}
	if c.IO == nil {
		c.IO = cfg.Shared.Mem
	}
	c.tlb = tlb.New()
	c.cpuid = defaultCPUID()
	c.Reset()
	return c
}

// TLB returns the vCPU's software TLB (for inspection).
func (c *CPU) TLB() *tlb.TLB { return c.tlb }

// JumpCache returns the vCPU's jump cache (for inspection).
func (c *CPU) JumpCache() *tb.JumpCache { return &c.jc }

// Shared returns the machine-wide state.
func (c *CPU) Shared() *Shared { return c.sh }

// SetIntController sets where external interrupts come from.
func (c *CPU) SetIntController(ic IntController) { c.intc = ic }

// Reset puts the CPU in the power-on state (SDM Vol. 3 §9.1.1, Table 9-1).
func (c *CPU) Reset() {
	c.R = [16]uint64{}
	c.R[RDX] = 0x663
	c.EIP = 0xFFF0
	c.flags = 2
	c.cc = lazyFlags{}
	for i := range c.Seg {
		c.Seg[i] = Segment{Limit: 0xFFFF, Attr: attrP | attrS | attrWrite | attrAccessed}
	}
	c.Seg[CS] = Segment{Sel: 0xF000, Base: 0xFFFF0000, Limit: 0xFFFF, Attr: attrP | attrS | attrWrite | attrAccessed}
	c.CR0 = CR0_ET | CR0_CD | CR0_NW
	c.refreshSegs()
	c.CR2, c.CR3, c.CR4, c.CR8, c.EFER = 0, 0, 0, 0, 0
	c.DR = [8]uint64{}
	c.DR[6] = 0xFFFF0FF0
	c.DR[7] = 0x400
	c.GDTR = DTable{Limit: 0xFFFF}
	c.IDTR = DTable{Limit: 0xFFFF}
	c.LDTR = Segment{Limit: 0xFFFF, Attr: attrP | 2}
	c.TR = Segment{Limit: 0xFFFF, Attr: attrP | 3}
	c.msr = msrState{}
	c.msr.apicBase = 0xFEE00000 | 1<<11
	if c.ID == 0 {
		c.msr.apicBase |= 1 << 8
	}
	c.a20Mask = ^uint64(0)
	c.Halted = false
	c.firstExc = -1
	c.shutdown = false
	c.inhibit = false
	c.fpu.reset()
	c.tlb.FlushAll()
	c.jc.Clear()
	c.updateHflags()
}

// INIT puts the CPU in the wait-for-SIPI state, as an INIT IPI does for an
// application processor (SDM Vol. 3 §9.4): the architectural reset state,
// except that it does not run until a startup IPI arrives.
func (c *CPU) INIT() {
	a20 := c.a20Mask
	apic := c.msr.apicBase
	fpu := c.fpu
	c.Reset()
	c.a20Mask = a20
	c.msr.apicBase = apic // INIT leaves IA32_APIC_BASE unchanged
	c.fpu = fpu           // and the x87/SSE state (SDM Vol. 3 Table 9-1)
	c.waitSIPI = true
	c.stopTB = true
	c.exitReq = true
}

// StartupIPI starts a CPU waiting for SIPI in real mode at vector<<12
// (CS = vector<<8, IP = 0). It is ignored in any other state.
func (c *CPU) StartupIPI(vector uint8) {
	if !c.waitSIPI {
		return
	}
	c.waitSIPI = false
	c.Halted = false
	c.Seg[CS].Sel = uint16(vector) << 8
	c.Seg[CS].Base = uint64(vector) << 12
	c.Seg[CS].Limit = 0xFFFF
	c.refreshSeg(&c.Seg[CS])
	c.EIP = 0
	c.updateHflags()
	c.jc.Clear()
}

// WaitingForSIPI reports the wait-for-SIPI state.
func (c *CPU) WaitingForSIPI() bool { return c.waitSIPI }

// SetWaitForSIPI puts an application processor in wait-for-SIPI at power-on.
func (c *CPU) SetWaitForSIPI() { c.waitSIPI = true }

// Wake ends a HLT (an interrupt became deliverable).
func (c *CPU) Wake() { c.Halted = false }

// IntController returns the vCPU's interrupt source.
func (c *CPU) IntController() IntController { return c.intc }

// SetA20 enables or disables address line 20 (port 0x92 / keyboard
// controller). The TLB is flushed because translations change.
func (c *CPU) SetA20(on bool) {
	m := ^uint64(0)
	if !on {
		m = ^uint64(1 << 20)
	}
	if m != c.a20Mask {
		c.a20Mask = m
		c.tlb.FlushAll()
		c.jc.Clear()
	}
}

// A20 reports whether address line 20 is enabled.
func (c *CPU) A20() bool { return c.a20Mask&(1<<20) != 0 }

// CPL is the current privilege level.
func (c *CPU) CPL() int { return int(c.hflags & hfCPL) }

// Mode reports the current operating mode.
func (c *CPU) Mode() Mode {
	switch {
	case c.CR0&CR0_PE == 0:
		return ModeReal
	case c.EFER&EFER_LMA != 0:
		if c.Seg[CS].Attr&attrL != 0 {
			return ModeLong64
		}
		if c.Seg[CS].DB() {
			return ModeCompat32
		}
		return ModeCompat16
	case c.flags&FLAG_VM != 0:
		return ModeV86
	case c.Seg[CS].DB():
		return ModeProt32
	}
	return ModeProt16
}

// TB flags (part of every TB key): what decoding and translation depend on.
const (
	hfCPL    = 3 << 0
	hfCS32   = 1 << 2
	hfSS32   = 1 << 3
	hfPE     = 1 << 4
	hfVM     = 1 << 5
	hfLMA    = 1 << 6
	hfCS64   = 1 << 7
	hfSingle = 1 << 8 // one instruction per TB (TF, single-step)
)

func (c *CPU) updateHflags() {
	h := uint32(0)
	if c.CR0&CR0_PE != 0 {
		h |= hfPE
		if c.flags&FLAG_VM != 0 {
			h |= hfVM | 3
		} else {
			h |= uint32(c.Seg[CS].Sel & 3)
		}
	}
	if c.Seg[CS].DB() {
		h |= hfCS32
	}
	if c.Seg[SS].DB() {
		h |= hfSS32
	}
	if c.EFER&EFER_LMA != 0 {
		h |= hfLMA
		if c.Seg[CS].Attr&attrL != 0 {
			h |= hfCS64
			h &^= hfCS32
		}
	}
	if c.flags&FLAG_TF != 0 {
		h |= hfSingle
	}
	if hk := c.sh.Hooks; hk != nil && hk.ModeSwitch != nil && h&^hfCPL != c.hflags&^hfCPL {
		old := c.hflags
		c.hflags = h
		if from, to := modeOf(old, c), c.Mode(); from != to {
			hk.ModeSwitch(c, from, to)
		}
	}
	c.hflags = h
	c.acCheck = c.CR0&CR0_AM != 0 && c.flags&FLAG_AC != 0 && h&hfCPL == 3
	if h&hfCPL == 3 {
		c.mmuIdx = tlb.IdxUser
	} else {
		c.mmuIdx = tlb.IdxSupervisor
	}
}

// modeOf reconstructs the mode recorded in old TB flags.
func modeOf(h uint32, c *CPU) Mode {
	switch {
	case h&hfPE == 0:
		return ModeReal
	case h&hfLMA != 0 && h&hfCS64 != 0:
		return ModeLong64
	case h&hfLMA != 0 && h&hfCS32 != 0:
		return ModeCompat32
	case h&hfLMA != 0:
		return ModeCompat16
	case h&hfVM != 0:
		return ModeV86
	case h&hfCS32 != 0:
		return ModeProt32
	}
	return ModeProt16
}

// codeBits is the decode width for the current CS.
func (c *CPU) codeBits() int {
	switch {
	case c.hflags&hfCS64 != 0:
		return 64
	case c.hflags&hfCS32 != 0:
		return 32
	}
	return 16
}

// Flags returns EFLAGS with the arithmetic flags materialised.
func (c *CPU) Flags() uint64 { return c.getFlags() }

// SetFlags replaces EFLAGS (debugger writes); reserved bits are fixed up.
func (c *CPU) SetFlags(v uint64) {
	c.setFlagsRaw(v&0x3F7FD7 | 2)
	c.updateHflags()
}

// PC is the linear address of the next instruction.
func (c *CPU) PC() uint64 { return c.Seg[CS].Base + c.EIP }

// SetSegment loads a segment register's visible and hidden parts directly
// (loaders, debuggers, reset state). attr uses Segment.Attr's layout.
func (c *CPU) SetSegment(i int, sel uint16, base uint64, limit uint32, attr uint16) {
	c.Seg[i] = Segment{Sel: sel, Base: base, Limit: limit, Attr: attr}
	c.refreshSeg(&c.Seg[i])
	c.updateHflags()
	c.jc.Clear()
}

// refreshSeg recomputes a segment's access window for the current mode:
// real mode checks limits but not types (SDM Vol. 3 §20.1.1), so every
// segment, CS included, is readable and writable there.
func (c *CPU) refreshSeg(s *Segment) {
	s.refresh()
	if c.CR0&CR0_PE == 0 {
		s.canRead, s.canWrit = true, true
	}
}

// refreshSegs recomputes every segment (after CR0.PE changes).
func (c *CPU) refreshSegs() {
	for i := range c.Seg {
		c.refreshSeg(&c.Seg[i])
	}
}

// SetControl sets CR0/CR3/CR4/EFER directly (loaders), flushing the TLB.
func (c *CPU) SetControl(cr0, cr3, cr4, efer uint64) {
	c.CR0, c.CR3, c.CR4, c.EFER = cr0, cr3, cr4, efer
	c.updateHWBP()
	c.refreshSegs()
	c.tlb.FlushAll()
	c.jc.Clear()
	c.updateHflags()
}

// refresh recomputes the derived access window of a segment.
func (s *Segment) refresh() {
	s.canRead = s.Attr&attrCode == 0 || s.Attr&attrWrite != 0
	s.canWrit = s.Attr&attrCode == 0 && s.Attr&attrWrite != 0
	if s.Attr&attrCode == 0 && s.Attr&attrExpDown != 0 {
		s.lo = uint64(s.Limit) + 1
		if s.Attr&attrDB != 0 {
			s.hi = 0xFFFFFFFF
		} else {
			s.hi = 0xFFFF
		}
	} else {
		s.lo = 0
		s.hi = uint64(s.Limit)
	}
	if s.Attr&attrP == 0 {
		s.canRead, s.canWrit = false, false
	}
}
