// Package machine is the PC board: it wires the physical address space,
// the vCPUs, the TB cache, the basic PC devices and virtual time together,
// and runs the vCPUs deterministically.
//
// # Goroutines
//
// Each vCPU runs in its own goroutine, labelled "CPU n/TCG" (pprof label
// "glassbox.thread") so host stack dumps name it like QEMU's vCPU threads.
// The vCPUs take turns holding the run baton in a fixed order with a
// fixed instruction quantum (QEMU's round-robin TCG): only the baton
// holder touches guest state, the TB cache, the TLBs and the devices.
// The "main-loop" goroutine (the caller of Run) hands out the baton,
// advances virtual time and polls device input between quanta.
//
// # Determinism
//
// Guest-visible time (PIT, RTC, TSC) derives from the retired instruction
// count: one instruction advances the virtual clock by NSPerInsn
// nanoseconds. When every vCPU is halted, the clock jumps to the next
// timer deadline. The same image and inputs therefore give the same
// instruction sequence, output and final state on every run.
package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"glassbox/cpu"
	"glassbox/devices"
	"glassbox/firmware"
	"glassbox/hoststack"
	"glassbox/loader"
	"glassbox/memmap"
	"glassbox/tb"
	"glassbox/vclock"
)

// Config configures a machine. The zero value of each field has a
// documented default.
type Config struct {
	RAM       uint64    // bytes of RAM (default 128 MiB)
	CPUs      int       // vCPUs (default 1)
	Serial    io.Writer // COM1 output (default: discarded)
	DebugCon  io.Writer // port 0xE9 output (default: Serial)
	RTCBase   time.Time // RTC time at power-on (default 2000-01-01 00:00:00 UTC)
	Quantum   uint64    // instructions per vCPU turn (default 100000)
	NSPerInsn int64     // virtual ns per retired instruction (default 1)
	// Reboot makes a triple fault reset the machine (PC behaviour) instead
	// of stopping the run.
	Reboot bool
	// Hooks observe CPU events (catchpoints); may be nil.
	Hooks *cpu.Hooks
	// Platform: PCI test devices, pc-testdev, isa-debug-exit placement.
	Platform Platform
	// OnReset is called after each machine reset (a triple fault with
	// Reboot, port 0x92/0xCF9 resets), on the main loop; may be nil.
	OnReset func(*Machine)
	// SpinWatchdog, when nonzero, stops the run with StopWatchdog once
	// every running vCPU has spun in place for that many instructions
	// (see watchdog.go). Deterministic: it counts instructions.
	SpinWatchdog uint64
}

// High memory layout constants (QEMU pc machine).
const (
	// BelowHoleMax is the most RAM mapped below 4 GiB; the rest goes above.
	BelowHoleMax = 0xE0000000
)

// Machine is one PC.
type Machine struct {
	cfg   Config
	Mem   *memmap.Space
	RAM   []byte // all guest RAM; [0,Low) at 0, the rest at 4 GiB
	Low   uint64
	TBs   *tb.Cache
	CPUs  []*cpu.CPU
	Clock *vclock.Clock

	PIC         *devices.PIC
	IOAPIC      *devices.IOAPIC
	APICBus     *devices.APICBus
	LAPICs      []*devices.LAPIC
	irq         *irqRouter
	current     int // the vCPU holding the run baton (LAPIC MMIO goes to its LAPIC)
	PIT         *devices.PIT
	CMOS        *devices.CMOS
	UART        *devices.UART
	POST        *devices.POST
	Port92      *devices.Port92
	DebugExit   *devices.DebugExit
	DebugCon    *devices.DebugCon
	FwCfg       *firmware.FwCfg // -kernel boots only
	ACPIPM      *devices.ACPIPM
	PCI         *devices.PCIHost      // bus 0 (machine/platform.go)
	PCITestDevs []*devices.PCITestDev // -device pci-testdev
	PCTestDev   *devices.PCTestDev    // -device pc-testdev, or nil

	Image *loader.Image

	shared *cpu.Shared
	// Serial keeps the last 64 KiB of COM1 output (scripts, crash reports).
	Serial     *SerialLog
	userSerial io.Writer
	// Threads names the machine's goroutines for host stack dumps.
	Threads *hoststack.Registry

	sealed  bool
	workers []*vcpuWorker
	catch   catchState
	stopReq atomic.Bool
	// serialStop: RunUntilSerial's pattern matched (set on the vCPU goroutine
	// during its turn, read by the main loop after the turn).
	serialStop bool
	// runLimit, when nonzero, makes Run return StopPaused once the vCPUs
	// have retired that many instructions in total (RunFor).
	runLimit uint64
	resetReq bool
	spin     spinState
	// progress counts completed vCPU turns; inRun is set while Run
	// executes (the host watchdog reads both from its goroutine).
	progress atomic.Uint64
	inRun    atomic.Bool
	turn     atomic.Int32 // the vCPU whose turn it is
	exit     *Stop
	mu       sync.Mutex // guards nothing on the hot path; serialises Run
}

// New builds a machine with RAM and devices but no guest image yet.
func New(cfg Config) (*Machine, error) {
	if cfg.RAM == 0 {
		cfg.RAM = 128 << 20
	}
	if cfg.RAM < 2<<20 {
		return nil, fmt.Errorf("-m %d MiB: at least 2 MiB of RAM is needed", cfg.RAM>>20)
	}
	if cfg.RAM > 64<<30 {
		return nil, fmt.Errorf("-m %d MiB: at most 64 GiB of RAM is supported", cfg.RAM>>20)
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.CPUs < 1 || cfg.CPUs > 64 {
		return nil, fmt.Errorf("-smp %d: must be between 1 and 64", cfg.CPUs)
	}
	if cfg.Serial == nil {
		cfg.Serial = io.Discard
	}
	serialLog := &SerialLog{max: 64 << 10}
	userSerial := cfg.Serial
	cfg.Serial = io.MultiWriter(cfg.Serial, serialLog)
	if cfg.DebugCon == nil {
		cfg.DebugCon = cfg.Serial
	}
	if cfg.RTCBase.IsZero() {
		cfg.RTCBase = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Quantum == 0 {
		cfg.Quantum = 100000
	}
	if cfg.NSPerInsn == 0 {
		cfg.NSPerInsn = 1
	}
	m := &Machine{cfg: cfg, Threads: hoststack.NewRegistry(), Serial: serialLog, userSerial: userSerial}
	m.RAM = make([]byte, cfg.RAM) // untouched pages cost no host memory
	m.Low = cfg.RAM
	if m.Low > BelowHoleMax {
		m.Low = BelowHoleMax
	}
	limit := memmap.PhysAddr(1 << 32)
	if high := cfg.RAM - m.Low; high > 0 {
		limit = memmap.PhysAddr(1<<32 + high)
	}
	m.Mem = memmap.New(limit)
	m.Mem.AddRAM("pc.ram", 0, m.RAM[:m.Low])
	if cfg.RAM > m.Low {
		m.Mem.AddRAM("pc.ram (above 4G)", 1<<32, m.RAM[m.Low:])
	}
	m.TBs = tb.NewCache()
	m.Clock = vclock.New()
	m.newPCI()

	m.PIC = devices.NewPIC()
	m.PIC.Register(m.Mem)
	m.APICBus = devices.NewAPICBus()
	m.IOAPIC = devices.NewIOAPIC(uint8(cfg.CPUs), m.APICBus)
	m.IOAPIC.Register(m.Mem)
	m.irq = &irqRouter{pic: m.PIC, ioapic: m.IOAPIC}
	m.Mem.AddMMIO("lapic", devices.LAPICDefaultBase, 0x1000, lapicRouter{m}, 1)
	m.PIT = devices.NewPIT(m.Clock, m.irq)
	m.PIT.Register(m.Mem)
	m.CMOS = devices.NewCMOS(m.Clock, m.irq, cfg.RTCBase)
	m.CMOS.SetMemory(m.Low, cfg.RAM-m.Low)
	m.CMOS.SetCPUs(cfg.CPUs)
	m.CMOS.Register(m.Mem)
	m.UART = devices.NewUART("serial0", 0x3F8, 4, m.irq, cfg.Serial)
	m.UART.Register(m.Mem)
	m.POST = devices.NewPOST()
	m.POST.Register(m.Mem)
	// QEMU: port 0x92 reads 0 at power-on although the A20 line is enabled.
	m.Port92 = devices.NewPort92(m.setA20, m.requestReset, false)
	m.Port92.Register(m.Mem)
	base, size := cfg.Platform.DebugExitBase, cfg.Platform.DebugExitSize
	if base == 0 {
		base = devices.DebugExitDefaultBase
	}
	if size == 0 {
		size = devices.DebugExitDefaultSize
	}
	m.DebugExit = devices.NewDebugExit(base, size, m.debugExit)
	m.DebugExit.Register(m.Mem)
	m.DebugCon = devices.NewDebugCon(cfg.DebugCon)
	m.DebugCon.Register(m.Mem)
	m.ACPIPM = devices.NewACPIPM(m.Clock, m.powerOff)
	m.ACPIPM.Register(m.Mem)
	if err := m.addPlatform(); err != nil {
		return nil, err
	}
	return m, nil
}

// Config returns the machine's configuration.
func (m *Machine) Config() Config { return m.cfg }

// LoadBIOS maps a firmware ROM ending at 4 GiB (see loader.LoadBIOS).
func (m *Machine) LoadBIOS(rom []byte) error {
	if m.sealed {
		return fmt.Errorf("machine already started")
	}
	im, err := loader.LoadBIOS(m.Mem, rom)
	if err != nil {
		return err
	}
	m.Image = im
	return nil
}

// LoadKernel loads a multiboot or ELF64 kernel (see loader.LoadKernelOpts).
// Like QEMU booting -kernel after SeaBIOS ran, the guest also finds ACPI
// tables (RSDP/RSDT/XSDT/MADT/FADT/FACS/DSDT) and an MP table at
// 0xF0000-0xF2FFF and fw_cfg on ports 0x510-0x51B (package firmware).
func (m *Machine) LoadKernel(file []byte, name string, opt loader.Options) error {
	if m.sealed {
		return fmt.Errorf("machine already started")
	}
	opt.CPUs = m.cfg.CPUs
	// QEMU's default CPU model (qemu64) has an AMD vendor, for which QEMU's
	// pc machine reserves the HyperTransport hole below 1 TiB; guests
	// comparing memory maps with QEMU's default see the same entry.
	opt.AMDHole = true
	if opt.HighRAM == 0 {
		opt.HighRAM = m.cfg.RAM - m.Low
	}
	fc := firmware.Config{CPUs: m.cfg.CPUs, RAMBelow4G: m.Low, RAMAbove4G: m.cfg.RAM - m.Low}
	tabs, err := firmware.BuildTables(fc)
	if err != nil {
		return fmt.Errorf("firmware tables: %v", err)
	}
	// Tables first: a kernel placed over them wins, as under QEMU where
	// SeaBIOS wrote them before the kernel was loaded.
	if err := tabs.Install(m.Mem); err != nil {
		return fmt.Errorf("firmware tables: %v", err)
	}
	im, err := loader.LoadKernelOpts(m.Mem, m.RAM[:m.Low], file, name, opt)
	if err != nil {
		return err
	}
	m.Image = im
	mb, err := firmware.MultibootFromImage(m.Mem, im)
	if err != nil {
		return fmt.Errorf("fw_cfg: %v", err)
	}
	m.FwCfg = firmware.NewFwCfg(firmware.FwCfgConfig{CPUs: m.cfg.CPUs, MaxCPUs: fc.APICIDLimit(),
		RAMBelow4G: m.Low, RAMAbove4G: m.cfg.RAM - m.Low, AMDHole: true,
		Mem: firmware.SpaceMem{S: m.Mem, Invalidate: m.invalidatePhys}, Tables: &tabs, Multiboot: mb})
	m.FwCfg.Register(m.Mem)
	m.pciFirmwareState()
	return nil
}

// invalidatePhys drops translated code in a physical range written by a
// device (fw_cfg DMA).
func (m *Machine) invalidatePhys(pa, n uint64) {
	for p := pa &^ 0xFFF; p < pa+n; p += 0x1000 {
		if m.TBs.InvalidatePage(p, "dma") > 0 {
			m.Mem.SetDirty(memmap.PhysAddr(p), memmap.ClientCode)
		}
	}
}

// Start seals the memory map and creates the vCPUs in the image's entry
// state. It must be called once, after loading.
func (m *Machine) Start() error {
	if m.sealed {
		return fmt.Errorf("machine already started")
	}
	if m.Image == nil {
		return fmt.Errorf("no guest image loaded")
	}
	m.Mem.Seal()
	m.sealed = true
	sh := &cpu.Shared{Mem: m.Mem, TBs: m.TBs, Hooks: m.cfg.Hooks}
	m.shared = sh
	for i := 0; i < m.cfg.CPUs; i++ {
		c := cpu.New(cpu.Config{ID: i, Shared: sh})
		sh.CPUs = append(sh.CPUs, c)
		l := devices.NewLAPIC(uint8(i), m.Clock, m.APICBus, devices.LAPICHooks{
			INIT: c.INIT, SIPI: func(v uint8) { m.sipi(c, v) }, NMI: c.InjectNMI, Kick: c.Wake,
			TSC: c.TSC, NSPerTSC: m.cfg.NSPerInsn}, m.PIC)
		l.AcceptPIC(i == 0)
		c.SetIntController(l)
		c.APICBaseHook = l.SetBase
		m.LAPICs = append(m.LAPICs, l)
	}
	m.CPUs = sh.CPUs
	for _, c := range m.CPUs {
		m.workers = append(m.workers, m.startWorker(c))
	}
	m.installHooks() // catchpoints armed before Start
	m.applyEntry()
	return nil
}

// Close stops the vCPU goroutines. A parked vCPU (inside a catchpoint) is
// released first. The machine cannot run afterwards.
func (m *Machine) Close() {
	for _, w := range m.workers {
		if w.parked {
			w.parked = false
			w.resume <- struct{}{}
			<-w.done
		}
		close(w.turn)
		<-w.gone
	}
	m.workers = nil
}

// applyEntry puts the boot CPU in the image's entry state and the
// application processors in wait-for-SIPI; the BSP's LAPIC is put in
// virtual-wire mode (LINT0 ExtINT, LINT1 NMI) as firmware leaves it.
func (m *Machine) applyEntry() {
	for i, c := range m.CPUs {
		c.Reset()
		m.LAPICs[i].Reset()
		if i > 0 {
			c.SetWaitForSIPI()
		}
	}
	m.LAPICs[0].ConfigureVirtualWire()
	ApplyEntry(m.CPUs[0], &m.Image.Entry)
}

// ApplyEntry puts a CPU in a loader's entry state.
func ApplyEntry(c *cpu.CPU, e *loader.EntryState) {
	c.R[cpu.RAX], c.R[cpu.RBX], c.R[cpu.RCX], c.R[cpu.RDX] = e.RAX, e.RBX, e.RCX, e.RDX
	c.R[cpu.RSI], c.R[cpu.RDI], c.R[cpu.RSP] = e.RSI, e.RDI, e.RSP
	c.SetControl(e.CR0, e.CR3, e.CR4, e.EFER)
	c.GDTR = cpu.DTable{Base: e.GDTBase, Limit: uint32(e.GDTLimit)}
	c.IDTR = cpu.DTable{Base: e.IDTBase, Limit: uint32(e.IDTLimit)}
	for i, s := range []loader.Seg{e.ES, e.CS, e.SS, e.DS, e.FS, e.GS} {
		c.SetSegment(i, s.Selector, s.Base, s.Limit, s.Attr)
	}
	c.EIP = e.RIP
	c.SetFlags(e.RFLAGS)
	c.SetA20(true)
}

func (m *Machine) setA20(on bool) {
	for _, c := range m.CPUs {
		c.SetA20(on)
	}
}

func (m *Machine) requestReset() {
	m.resetReq = true
	for _, c := range m.CPUs {
		c.RequestExit()
	}
}

func (m *Machine) powerOff() {
	if m.exit == nil {
		m.exit = &Stop{Kind: StopPowerOff, Status: 0}
	}
	for _, c := range m.CPUs {
		c.RequestExit()
	}
}

func (m *Machine) debugExit(status int) {
	if m.exit == nil {
		m.exit = &Stop{Kind: StopDebugExit, Status: status}
	}
	for _, c := range m.CPUs {
		c.RequestExit()
	}
}

// StopKind says why a run ended.
type StopKind int

const (
	StopDebugExit     StopKind = iota // the guest wrote to isa-debug-exit
	StopShutdown                      // triple fault (and no -reboot)
	StopHaltedForever                 // every vCPU halted, nothing can wake them
	StopPaused                        // Pause was called
	StopInternalError                 // the emulator failed (a bug)
	StopCanceled                      // the context was canceled
	StopBreakpoint                    // a vCPU reached an instruction breakpoint
	StopWatchpoint                    // a vCPU hit a data watchpoint
	StopStep                          // a single step finished
	StopCatch                         // a catchpoint fired
	StopPowerOff                      // ACPI S5 (PM1a_CNT SLP_EN with SLP_TYP 0)
	StopWatchdog                      // Config.SpinWatchdog: every vCPU spins in place
)

var stopNames = [...]string{"debug-exit", "shutdown", "halted", "paused", "internal error", "canceled",
	"breakpoint", "watchpoint", "step", "catchpoint", "power-off", "watchdog"}

func (k StopKind) String() string { return stopNames[k] }

// Stop describes the end of a run.
type Stop struct {
	Kind StopKind
	// Status is the process exit status glassbox uses for this stop.
	Status int
	CPU    int
	Err    error
	// Watch is the watchpoint hit (StopWatchpoint).
	Watch *cpu.WatchHit
	// Catch is the catchpoint event (StopCatch); the vCPU goroutine is
	// parked inside the code path until the next Run.
	Catch *CatchEvent
}

// Pause asks Run to return StopPaused at the next quantum boundary. It may
// be called from any goroutine; a pause requested while Run is not
// executing makes the next Run return at once (ClearPause drops it).
func (m *Machine) Pause() {
	m.stopReq.Store(true)
}

// RunFor is Run that also returns StopPaused after about n retired
// instructions (at the first quantum boundary past n): a deterministic
// bounded run for scripts.
func (m *Machine) RunFor(ctx context.Context, n uint64) *Stop {
	if n == 0 {
		n = 1
	}
	m.runLimit = n
	defer func() { m.runLimit = 0 }()
	return m.Run(ctx)
}

// ClearPause drops a pending pause request.
func (m *Machine) ClearPause() { m.stopReq.Store(false) }

// Run executes the guest until it exits, shuts down, halts forever, is
// paused or ctx is canceled. It may be called again after a pause.
func (m *Machine) Run(ctx context.Context) *Stop {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.sealed {
		return &Stop{Kind: StopInternalError, Status: 2, Err: fmt.Errorf("machine not started")}
	}
	defer m.Threads.Name("main-loop")()
	m.inRun.Store(true)
	defer m.inRun.Store(false)
	workers := m.workers
	if workers == nil {
		return &Stop{Kind: StopInternalError, Status: 2, Err: fmt.Errorf("machine closed")}
	}
	// A pause requested before Run started is honoured (see ClearPause).
	for {
		if m.exit != nil {
			s := m.exit
			m.exit = nil
			return s
		}
		if m.stopReq.Load() {
			m.stopReq.Store(false)
			return &Stop{Kind: StopPaused}
		}
		if err := ctx.Err(); err != nil {
			return &Stop{Kind: StopCanceled, Status: 2, Err: err}
		}
		allHalted := true
		var ran uint64
		for i, w := range workers {
			m.current = i
			m.turn.Store(int32(i))
			before := m.CPUs[i].ICount
			m.catch.running.Store(true)
			if w.parked {
				// Resume the vCPU inside the code path it was parked in.
				w.parked = false
				w.resume <- struct{}{}
			} else {
				budget := m.cfg.Quantum
				if m.runLimit > 0 && m.runLimit < budget {
					budget = m.runLimit // RunFor: stop close to the limit
				}
				w.turn <- budget
			}
			var ex cpu.Exit
			select {
			case ex = <-w.done:
			case ev := <-m.catch.events:
				m.catch.running.Store(false)
				w.parked = true
				ran += m.CPUs[i].ICount - before
				m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
				return &Stop{Kind: StopCatch, CPU: i, Catch: ev}
			}
			m.catch.running.Store(false)
			m.progress.Add(1)
			ran += m.CPUs[i].ICount - before
			switch ex.Reason {
			case cpu.ExitInternalError:
				return &Stop{Kind: StopInternalError, Status: 2, CPU: i, Err: ex.Err}
			case cpu.ExitShutdown:
				if m.cfg.Reboot {
					m.resetReq = true
				} else {
					return &Stop{Kind: StopShutdown, Status: 2, CPU: i}
				}
			case cpu.ExitHalt, cpu.ExitWaitSIPI:
			case cpu.ExitBreakpoint:
				m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
				return &Stop{Kind: StopBreakpoint, CPU: i}
			case cpu.ExitWatchpoint:
				m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
				return &Stop{Kind: StopWatchpoint, CPU: i, Watch: ex.Watch}
			case cpu.ExitCatch:
				m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
				return &Stop{Kind: StopCatch, CPU: i}
			default:
				allHalted = false
			}
			if m.serialStop {
				m.serialStop = false
				m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
				return &Stop{Kind: StopPaused, CPU: i}
			}
			if m.exit != nil || m.resetReq {
				break
			}
		}
		m.Clock.Advance(int64(ran) * m.cfg.NSPerInsn)
		m.UART.Poll()
		if m.cfg.SpinWatchdog > 0 && m.exit == nil {
			if i, fire := m.spinCheck(ran); fire {
				err := fmt.Errorf("every running vCPU has spun in place for %d instructions", m.cfg.SpinWatchdog)
				if m.spin.loop != "" {
					err, m.spin.loop = errors.New(m.spin.loop), ""
				}
				return &Stop{Kind: StopWatchdog, Status: 2, CPU: i, Err: err}
			}
		}
		if m.runLimit > 0 {
			if ran >= m.runLimit {
				m.runLimit = 0
				return &Stop{Kind: StopPaused}
			}
			m.runLimit -= ran
		}
		if m.resetReq {
			m.resetReq = false
			m.reset()
			continue
		}
		if allHalted && m.exit == nil {
			if m.wakeable() {
				if t, ok := m.Clock.NextDeadline(); ok {
					m.Clock.AdvanceTo(t)
				}
				continue
			}
			return &Stop{Kind: StopHaltedForever, Status: 0}
		}
	}
}

// wakeable reports whether some halted vCPU can still be woken: it has
// interrupts enabled and a timer is armed or an interrupt is pending.
func (m *Machine) wakeable() bool {
	for _, c := range m.CPUs {
		if c.WaitingForSIPI() || c.Flags()&cpu.FLAG_IF == 0 {
			continue
		}
		if c.IntController().Pending() {
			return true
		}
		if _, ok := m.Clock.NextDeadline(); ok {
			return true
		}
	}
	return false
}

// SetCurrentCPU names the vCPU that will access the LAPIC page next (the
// baton holder; the debugger sets it before stepping a vCPU).
func (m *Machine) SetCurrentCPU(i int) { m.current = i }

// irqRouter fans ISA IRQ lines out to the 8259 pair and the I/O APIC (ISA
// IRQ 0 is wired to I/O APIC pin 2, as the MADT override says).
type irqRouter struct {
	pic    *devices.PIC
	ioapic *devices.IOAPIC
}

func (r *irqRouter) SetIRQ(line int, level bool) {
	r.pic.SetIRQ(line, level)
	pin := line
	if line == 0 {
		pin = 2
	}
	r.ioapic.SetIRQ(pin, level)
}

// lapicRouter sends accesses to the LAPIC page to the running vCPU's LAPIC.
type lapicRouter struct{ m *Machine }

func (r lapicRouter) ReadMMIO(off uint64, size int) uint64 {
	return r.m.LAPICs[r.m.current].ReadMMIO(off, size)
}

func (r lapicRouter) WriteMMIO(off uint64, size int, v uint64) {
	r.m.LAPICs[r.m.current].WriteMMIO(off, size, v)
}

// reset performs a PC reset (port 0x92 bit 0, triple fault with -reboot):
// the vCPUs return to the image's entry state; RAM is kept.
func (m *Machine) reset() {
	m.TBs.Flush()
	m.Port92.Reset()
	m.applyEntry()
	if m.cfg.OnReset != nil {
		m.cfg.OnReset(m)
	}
}

type vcpuWorker struct {
	c      *cpu.CPU
	thread *hoststack.Thread
	turn   chan uint64
	done   chan cpu.Exit
	gone   chan struct{}
	resume chan struct{} // releases a vCPU parked in a catchpoint
	parked bool          // owned by the main loop
}

// startWorker starts the goroutine of one vCPU, named "CPU n/TCG" in the
// machine's thread registry (and pprof label glassbox.thread). Its state
// note says what it is doing for host stack dumps.
func (m *Machine) startWorker(c *cpu.CPU) *vcpuWorker {
	w := &vcpuWorker{c: c, turn: make(chan uint64), done: make(chan cpu.Exit), gone: make(chan struct{}),
		resume: make(chan struct{})}
	name := fmt.Sprintf("CPU %d/TCG", c.ID)
	ready := make(chan struct{})
	go func() {
		w.thread = m.Threads.Register(name)
		defer w.thread.Done()
		defer close(w.gone)
		close(ready)
		for {
			if c.Halted {
				w.setState(hoststack.StateHalted)
			} else if c.WaitingForSIPI() {
				w.setState(hoststack.StateWaitSIPI)
			} else {
				w.setState(hoststack.StateWaitBaton)
			}
			budget, ok := <-w.turn
			if !ok {
				return
			}
			w.setState(hoststack.StateRunningGuest)
			w.done <- c.Exec(budget)
		}
	}()
	<-ready
	return w
}

func (w *vcpuWorker) setState(s *hoststack.State) { w.thread.Set(s) }

// Report writes the state a person needs after a stop: registers, mode,
// last POST code, the exception chain.
func (m *Machine) Report(w io.Writer, s *Stop) {
	switch s.Kind {
	case StopShutdown:
		fmt.Fprintf(w, "glassbox: guest shutdown: triple fault on CPU %d\n", s.CPU)
	case StopHaltedForever:
		fmt.Fprintf(w, "glassbox: every vCPU is halted and nothing can wake it (interrupts disabled or no event pending)\n")
	case StopInternalError:
		fmt.Fprintf(w, "glassbox: internal error (an emulator bug, please report): %v\n", s.Err)
	case StopDebugExit:
		fmt.Fprintf(w, "glassbox: guest exited via isa-debug-exit: status %d\n", s.Status)
	case StopWatchdog:
		fmt.Fprintf(w, "glassbox: watchdog: %v\n", s.Err)
	}
	if code, ok := m.POST.Last(); ok {
		fmt.Fprintf(w, "last POST code: %#02x\n", code)
	} else {
		fmt.Fprintf(w, "last POST code: none\n")
	}
	for _, c := range m.CPUs {
		WriteRegs(w, c)
		if ch := c.ExcChain; len(ch) > 0 && s.Kind == StopShutdown {
			fmt.Fprintf(w, "exception chain: %s\n", FormatChain(ch))
		}
	}
}

// FormatChain renders an exception chain like "#PF(0x2) cr2=0x1000 → #DF → triple fault".
func FormatChain(ch []cpu.Exception) string {
	s := ""
	for i, e := range ch {
		if i > 0 {
			s += " -> "
		}
		if e.Vector < 0 {
			s += "triple fault"
			continue
		}
		n := cpu.VectorNames[e.Vector]
		if n == "" {
			n = fmt.Sprintf("vector %d", e.Vector)
		}
		s += n
		if e.HasCode {
			s += fmt.Sprintf("(%#x)", e.Code)
		}
		if e.Vector == cpu.VecPF {
			s += fmt.Sprintf(" cr2=%#x", e.CR2)
		}
	}
	return s
}

// WriteRegs prints a CPU's registers in the style of QEMU's `info registers`.
func WriteRegs(w io.Writer, c *cpu.CPU) {
	r := &c.R
	fmt.Fprintf(w, "CPU#%d mode=%s halted=%v icount=%d\n", c.ID, c.Mode(), c.Halted, c.ICount)
	if c.Mode() == cpu.ModeLong64 {
		for i := 0; i < 16; i += 4 {
			fmt.Fprintf(w, "%-3s=%016x %-3s=%016x %-3s=%016x %-3s=%016x\n",
				cpu.RegNames64[i], r[i], cpu.RegNames64[i+1], r[i+1], cpu.RegNames64[i+2], r[i+2], cpu.RegNames64[i+3], r[i+3])
		}
		fmt.Fprintf(w, "RIP=%016x RFL=%08x [%s] CPL=%d\n", c.EIP, c.Flags(), FlagString(c.Flags()), c.CPL())
	} else {
		fmt.Fprintf(w, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", uint32(r[cpu.RAX]), uint32(r[cpu.RBX]), uint32(r[cpu.RCX]), uint32(r[cpu.RDX]))
		fmt.Fprintf(w, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", uint32(r[cpu.RSI]), uint32(r[cpu.RDI]), uint32(r[cpu.RBP]), uint32(r[cpu.RSP]))
		fmt.Fprintf(w, "EIP=%08x EFL=%08x [%s] CPL=%d\n", uint32(c.EIP), uint32(c.Flags()), FlagString(c.Flags()), c.CPL())
	}
	for i := 0; i < cpu.NumSeg; i++ {
		s := &c.Seg[i]
		fmt.Fprintf(w, "%s =%04x %016x %08x %04x\n", upper(cpu.SegNames[i]), s.Sel, s.Base, s.Limit, s.Attr)
	}
	fmt.Fprintf(w, "LDT=%04x %016x %08x %04x\n", c.LDTR.Sel, c.LDTR.Base, c.LDTR.Limit, c.LDTR.Attr)
	fmt.Fprintf(w, "TR =%04x %016x %08x %04x\n", c.TR.Sel, c.TR.Base, c.TR.Limit, c.TR.Attr)
	fmt.Fprintf(w, "GDT=     %016x %08x\n", c.GDTR.Base, c.GDTR.Limit)
	fmt.Fprintf(w, "IDT=     %016x %08x\n", c.IDTR.Base, c.IDTR.Limit)
	fmt.Fprintf(w, "CR0=%08x CR2=%016x CR3=%016x CR4=%08x\n", c.CR0, c.CR2, c.CR3, c.CR4)
	fmt.Fprintf(w, "EFER=%016x\n", c.EFER)
}

func upper(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 32
		}
	}
	return string(b)
}

// FlagString renders EFLAGS like QEMU: "ODITSZAPC" letters or '-'.
func FlagString(f uint64) string {
	const names = "ODITSZ-A-P-C"
	bitsFor := []uint{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}
	out := make([]byte, 0, 9)
	for i, b := range bitsFor {
		if names[i] == '-' {
			continue
		}
		if f&(1<<b) != 0 {
			out = append(out, names[i])
		} else {
			out = append(out, '-')
		}
	}
	return string(out)
}

// RunUntilSerial is RunFor that also stops right after the instruction
// whose serial output makes the output written from now on match re.
func (m *Machine) RunUntilSerial(ctx context.Context, re *regexp.Regexp, n uint64) (*Stop, bool) {
	l := m.Serial
	l.mu.Lock()
	l.match, l.matchFrom, l.matched = re, l.total, false
	l.onMatch = func() {
		m.serialStop = true
		m.CPUs[m.current].RequestExit()
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.match, l.onMatch = nil, nil
		l.mu.Unlock()
	}()
	st := m.RunFor(ctx, n)
	l.mu.Lock()
	matched := l.matched
	l.mu.Unlock()
	return st, matched
}

// SerialOutput is the writer COM1 output goes to (besides the log).
func (m *Machine) SerialOutput() io.Writer { return m.userSerial }

// SetSerialOutput redirects COM1 output (the serial log keeps recording).
// With followDebugCon, port 0xE9 output follows it too.
func (m *Machine) SetSerialOutput(w io.Writer, followDebugCon bool) {
	m.userSerial = w
	tee := io.MultiWriter(w, m.Serial)
	m.UART.SetOutput(tee)
	if followDebugCon {
		m.DebugCon.SetOutput(tee)
	}
}

// SerialLog keeps the tail of the guest's serial output. Safe for
// concurrent use.
type SerialLog struct {
	mu    sync.Mutex
	buf   []byte
	max   int
	total uint64

	match     *regexp.Regexp // RunUntilSerial: stop when new output matches
	matchFrom uint64
	matched   bool
	onMatch   func()
}

func (l *SerialLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	l.total += uint64(len(p))
	if len(l.buf) > l.max {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-l.max:]...)
	}
	if l.match != nil && !l.matched {
		n := l.total - l.matchFrom
		if n > uint64(len(l.buf)) {
			n = uint64(len(l.buf))
		}
		if l.match.Match(l.buf[uint64(len(l.buf))-n:]) {
			l.matched = true
			if l.onMatch != nil {
				l.onMatch()
			}
		}
	}
	return len(p), nil
}

// Bytes returns the kept output and the total number of bytes ever written.
func (l *SerialLog) Bytes() ([]byte, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf...), l.total
}
