package repl

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Command is one entry of the command table.
type Command struct {
	// Name is the full name: one word, or a group and a sub-command
	// ("info registers", "tb list").
	Name string
	// Aliases are other full names ("c" for continue).
	Aliases []string
	// Args is the positional-argument synopsis ("ADDR [LEN]").
	Args string
	// Flags are the -flags the command accepts (-json included).
	Flags []Flag
	// MinArgs and MaxArgs bound the positional arguments (MaxArgs -1: any).
	MinArgs, MaxArgs int
	// Help is the one-line summary; Long the full description (Markdown).
	Help, Long string
	// Category groups commands in help and the docs.
	Category string
	// NeedsStopped commands need the guest stopped (everything that looks
	// at or changes guest state).
	NeedsStopped bool
	// Suffix commands take a /FMT suffix on their name (x/4xw).
	Suffix bool
	// Streams commands write their output as it happens instead of
	// buffering it (run control, so that "Continuing." shows at once).
	Streams bool
	// Run is the handler: positional arguments after flags are removed.
	Run func(ctx *Context, args []string) error
}

// Flag is one -flag of a command.
type Flag struct {
	Name string
	// Arg names the flag's value ("N", "PADDR"); empty for a boolean flag.
	Arg string
	// Values lists the accepted values, if fixed.
	Values []string
	Help   string
}

func (c *Command) flag(name string) *Flag {
	for i := range c.Flags {
		if c.Flags[i].Name == name {
			return &c.Flags[i]
		}
	}
	return nil
}

func (c *Command) sub() string {
	if i := strings.IndexByte(c.Name, ' '); i >= 0 {
		return c.Name[i+1:]
	}
	return ""
}

// Usage is the command's synopsis.
func (c *Command) Usage() string {
	var b strings.Builder
	b.WriteString(c.Name)
	if c.Suffix {
		b.WriteString("[/FMT]")
	}
	for _, f := range c.Flags {
		b.WriteString(" [-" + f.Name)
		switch {
		case len(f.Values) > 0:
			b.WriteString(" " + strings.Join(f.Values, "|"))
		case f.Arg != "":
			b.WriteString(" " + f.Arg)
		}
		b.WriteString("]")
	}
	if c.Args != "" {
		b.WriteString(" " + c.Args)
	}
	return b.String()
}

// Common flags.
var (
	flagJSON = Flag{Name: "json", Help: "print one JSON document instead of text"}
	flagCPU  = Flag{Name: "cpu", Arg: "N", Help: "the vCPU to use (default: the selected one, see `cpu`)"}
)

// Category names, in help order.
var categories = []string{
	"Running", "Breakpoints", "CPU state", "Memory", "Translation blocks",
	"Software TLB", "Dirty bits", "Guest stacks", "Scripts", "Host", "Other",
}

var (
	tableOnce sync.Once
	table     []*Command
	tableIdx  *cmdIndex
)

type cmdIndex struct {
	byName     map[string]*Command
	groups     map[string][]*Command // group word -> sub-commands
	groupAlias map[string]string
	topWords   []string
}

// Commands returns the command table (for completion and documentation).
// The caller must not modify the entries.
func Commands() []*Command {
	tableOnce.Do(buildTable)
	return table
}

func index() *cmdIndex {
	tableOnce.Do(buildTable)
	return tableIdx
}

func buildTable() {
	table = commandTable()
	idx := &cmdIndex{byName: map[string]*Command{}, groups: map[string][]*Command{},
		groupAlias: map[string]string{"i": "info"}}
	top := map[string]bool{}
	for _, c := range table {
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			if idx.byName[n] != nil {
				panic("BUG: repl: duplicate command name " + n)
			}
			idx.byName[n] = c
			top[strings.Fields(n)[0]] = true
		}
		if g, _, ok := strings.Cut(c.Name, " "); ok {
			idx.groups[g] = append(idx.groups[g], c)
		}
	}
	for w := range top {
		idx.topWords = append(idx.topWords, w)
	}
	sort.Strings(idx.topWords)
	tableIdx = idx
}

func commandTable() []*Command {
	return []*Command{
		// ---- Running
		{Name: "continue", Aliases: []string{"c", "cont"}, Category: "Running", MaxArgs: 0,
			NeedsStopped: true, Streams: true, Run: cmdContinue,
			Help: "resume the guest until a stop, Ctrl-C or its exit",
			Long: "All vCPUs run. Interactively, Ctrl-C (or typing `pause`) stops the guest " +
				"and returns to the prompt; Ctrl-D stops it and quits. The stop reason " +
				"and the next instruction are printed like gdb does."},
		{Name: "stepi", Aliases: []string{"si"}, Category: "Running", Args: "[N]", MaxArgs: 1,
			Flags: []Flag{flagCPU}, NeedsStopped: true, Streams: true, Run: cmdStepi,
			Help: "execute N instructions (default 1)",
			Long: "The other vCPUs stay stopped (all-stop, like gdb's stepi). An empty line " +
				"repeats the last stepi interactively."},
		{Name: "pause", Aliases: []string{"stop", "interrupt"}, Category: "Running", MaxArgs: 0, Run: cmdPause,
			Help: "stop the running guest (same as Ctrl-C)"},
		{Name: "until", Aliases: []string{"u"}, Category: "Running", Args: "ADDR", MinArgs: 1, MaxArgs: 1,
			NeedsStopped: true, Streams: true, Run: cmdUntil,
			Help: "run to linear ADDR (a temporary breakpoint)",
			Long: "Like `break ADDR`, `continue`, `delete`: the guest may stop earlier at another " +
				"breakpoint or watchpoint."},
		{Name: "cpu", Category: "Running", Args: "[N]", MaxArgs: 1, Run: cmdCPU,
			Help: "select the vCPU commands work on (show it)",
			Long: "Commands that look at one vCPU (registers, memory, stepi, TLB) use the selected one " +
				"unless given -cpu N. A stop selects the vCPU that stopped."},
		{Name: "quit", Aliases: []string{"q", "exit"}, Category: "Running", MaxArgs: 0, Run: cmdQuit,
			Help: "leave glassbox",
			Long: "The exit status is the guest's if it exited, else 0. Ctrl-D does the same, also " +
				"while the guest runs."},

		// ---- Breakpoints
		{Name: "break", Aliases: []string{"b", "br"}, Category: "Breakpoints", Args: "ADDR", MinArgs: 1, MaxArgs: 1,
			Flags:        []Flag{{Name: "phys", Help: "ADDR is a guest-physical address"}},
			NeedsStopped: true, Run: cmdBreak,
			Help: "set a breakpoint at linear address ADDR",
			Long: "Breakpoints are machine-wide (every vCPU stops there). Setting one flushes " +
				"the translated code so that blocks end before it. ADDR may be an expression " +
				"such as `$pc+0x10`."},
		{Name: "watch", Aliases: []string{"wa"}, Category: "Breakpoints", Args: "ADDR [LEN]", MinArgs: 1, MaxArgs: 2,
			Flags: []Flag{
				{Name: "w", Help: "stop on writes (the default)"},
				{Name: "r", Help: "stop on reads"},
				{Name: "a", Help: "stop on reads and writes"},
				{Name: "phys", Help: "ADDR is a physical address"}},
			NeedsStopped: true, Run: cmdWatch,
			Help: "set a data watchpoint on LEN bytes (default 4)",
			Long: "ADDR is linear unless -phys. The guest stops after the access, with the " +
				"accessing instruction's address."},
		{Name: "delete", Aliases: []string{"d"}, Category: "Breakpoints", Args: "[ID...]", MaxArgs: -1,
			NeedsStopped: true, Run: cmdDelete,
			Help: "delete breakpoints/watchpoints (all without ID)"},
		{Name: "catch", Category: "Breakpoints", Args: "KIND [ARG]", MinArgs: 1, MaxArgs: 2,
			NeedsStopped: true, Run: cmdCatch,
			Help: "stop inside the emulator at an event (tlb-fill, tb-gen, code-protect, smc, exception, triple-fault, io, hlt, mode-switch, sipi)",
			Long: "The vCPU goroutine stays parked inside the emulator code path that produced the event " +
				"(e.g. inside the TLB fill), so the host stacks show the real call chain. ARG filters: " +
				"tlb-fill linear page, tb-gen linear PC, code-protect physical page, smc physical address, " +
				"exception vector, io port, sipi target vCPU (the sender is parked inside its ICR write). `delete ID` removes it."},
		{Name: "info catchpoints", Category: "Breakpoints", MaxArgs: 0,
			Flags: []Flag{flagJSON}, Run: cmdInfoCatchpoints,
			Help: "list catchpoints"},
		{Name: "info breakpoints", Aliases: []string{"info watchpoints"}, Category: "Breakpoints", MaxArgs: 0,
			Flags: []Flag{flagJSON}, Run: cmdInfoBreakpoints,
			Help: "list breakpoints and watchpoints"},

		// ---- CPU state
		{Name: "info registers", Category: "CPU state", MaxArgs: 0,
			Flags:        []Flag{{Name: "a", Help: "also the x87/SSE state (QEMU's layout: FPRn is physical register n)"}, flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoRegisters,
			Help: "registers: GPRs, flags, segments, CRs, DRs",
			Long: "RFLAGS is decoded like QEMU (`[ODITSZAPC]`, a letter for each set flag). " +
				"Each segment shows selector, cached base, limit and attributes (the " +
				"descriptor's high dword flags, as QEMU prints them), then type, DPL and " +
				"the P, D/B, L, G bits. CR0, CR4 and EFER list their set bits by name."},
		{Name: "info cpus", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagJSON},
			NeedsStopped: true, Run: cmdInfoCPUs,
			Help: "vCPUs: state, mode, PC, executed instructions"},
		{Name: "info mode", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoMode,
			Help: "operating mode, code width, CPL, paging mode"},
		{Name: "info gdt", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoGDT,
			Help: "decode the global descriptor table",
			Long: "The table is read at GDTR.base through the vCPU's page tables; each entry shows its " +
				"selector, raw value, base, limit (scaled by G), type, DPL and the P, D/B, L, G bits."},
		{Name: "info idt", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoIDT,
			Help: "decode the interrupt descriptor table (or IVT)",
			Long: "Only present gates are listed (all IVT vectors in real mode)."},
		{Name: "info ldt", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoLDT,
			Help: "decode the local descriptor table"},
		{Name: "info tss", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdInfoTSS,
			Help: "decode the task-state segment"},
		{Name: "info lapic", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON}, Run: cmdInfoLAPIC,
			Help: "local APIC state of a vCPU (registers, IRR/ISR/TMR, LVT, timer)"},
		{Name: "info ioapic", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagJSON}, Run: cmdInfoIOAPIC,
			Help: "I/O APIC state (redirection table)"},
		{Name: "info pic", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagJSON}, Run: cmdInfoPIC,
			Help: "8259 PIC pair state (IRR, ISR, IMR, vector base, ELCR)"},
		{Name: "info post", Category: "CPU state", MaxArgs: 0, Flags: []Flag{flagJSON}, Run: cmdInfoPOST,
			Help: "last POST code written to port 0x80"},

		// ---- Memory
		{Name: "x", Category: "Memory", Args: "[ADDR]", MaxArgs: 1, Suffix: true,
			Flags: []Flag{flagCPU, flagJSON}, NeedsStopped: true, Run: cmdX,
			Help: "examine memory at linear ADDR (gdb's x/NFU)",
			Long: "FMT is gdb's: a count N, a format F (`x` hex, `d` signed, `u` unsigned, " +
				"`o` octal, `t` binary, `c` char, `s` string, `i` instruction) and a unit " +
				"U (`b` 1, `h` 2, `w` 4, `g` 8 bytes). N defaults to 1, F and U to the last ones " +
				"used (first `x` and `w`; `c` and `s` read bytes). Without ADDR, continues after " +
				"the last examined address. At most 1 MiB, or 65536 strings or instructions. " +
				"Memory is read through the vCPU's page tables without side effects " +
				"(no accessed/dirty bits, no TLB fill)."},
		{Name: "xp", Category: "Memory", Args: "[PADDR]", MaxArgs: 1, Suffix: true,
			Flags: []Flag{flagJSON}, NeedsStopped: true, Run: cmdXP,
			Help: "examine physical memory at PADDR"},
		{Name: "disas", Aliases: []string{"disassemble"}, Category: "Memory", Args: "[ADDR [N]]", MaxArgs: 2,
			Flags: []Flag{{Name: "16", Help: "decode 16-bit code"}, {Name: "32", Help: "decode 32-bit code"},
				{Name: "64", Help: "decode 64-bit code"}, flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdDisas,
			Help: "disassemble N instructions (default 10) at ADDR",
			Long: "Decoding uses the vCPU's current code width unless -16/-32/-64 is given; " +
				"the syntax is GNU (AT&T), as gdb prints it. `=>` marks the PC."},
		{Name: "gva2gpa", Category: "Memory", Args: "ADDR", MinArgs: 1, MaxArgs: 1,
			Flags: []Flag{flagCPU, flagJSON}, NeedsStopped: true, Run: cmdGva2gpa,
			Help: "translate a linear address, showing each level",
			Long: "Each paging-structure entry read (its address, value and flags) is shown, then the " +
				"physical address and page size, or why the address is not mapped. Like the debugger's " +
				"memory reads, the walk has no side effects."},
		{Name: "info tlb", Category: "Memory", Args: "[ADDR [LEN]]", MaxArgs: 2,
			Flags: []Flag{flagCPU, flagJSON}, NeedsStopped: true, Run: cmdInfoTLB,
			Help: "page-table mappings (QEMU's page-table walk)",
			Long: "One line per mapped page (large pages once): linear address, physical " +
				"address and the leaf entry's flags `XGPDACTUW` (NX, global, large page, " +
				"dirty, accessed, cache disable, write-through, user, writable). ADDR and " +
				"LEN restrict the linear range. For the software TLB see `tlb dump`."},
		{Name: "info mem", Category: "Memory", MaxArgs: 0,
			Flags: []Flag{flagCPU, flagJSON}, NeedsStopped: true, Run: cmdInfoMem,
			Help: "mapped linear ranges and their protection",
			Long: "QEMU's `info mem`: contiguous linear ranges with the same effective protection " +
				"(`u` user, `r` read, `w` write, and `x` execute when EFER.NXE is on), from a walk " +
				"of the page tables in guest memory."},
		{Name: "info mtree", Category: "Memory", MaxArgs: 0, Flags: []Flag{flagJSON},
			NeedsStopped: true, Run: cmdInfoMtree,
			Help: "physical memory map and I/O port map"},
		{Name: "dump-memory", Aliases: []string{"pmemsave"}, Category: "Memory", Args: "FILE PADDR LEN", MinArgs: 3, MaxArgs: 3,
			NeedsStopped: true, Run: cmdDumpMemory,
			Help: "save physical memory to FILE"},

		// ---- Translation blocks
		{Name: "tb list", Category: "Translation blocks", MaxArgs: 0,
			Flags: []Flag{flagCPU,
				{Name: "page", Arg: "PADDR", Help: "only TBs built from this physical page"},
				{Name: "sort", Arg: "KEY", Values: []string{"id", "hits", "recent", "size"}, Help: "order (default id)"},
				{Name: "n", Arg: "N", Help: "show at most N TBs (default all)"},
				{Name: "all", Help: "include recently invalidated TBs and why they were dropped"},
				flagJSON},
			NeedsStopped: true, Run: cmdTBList,
			Help: "list translation blocks",
			Long: "Columns: ID, linear PC, physical PC, guest bytes, instructions, executions, " +
				"decode width, TB flags and state. The TB cache is shared by all vCPUs; " +
				"-cpu only checks the vCPU exists. `hits` sorts by execution count, `recent` " +
				"by generation (newest first), `size` by guest bytes."},
		{Name: "tb show", Category: "Translation blocks", Args: "ID|PC", MinArgs: 1, MaxArgs: 1,
			Flags: []Flag{flagJSON}, NeedsStopped: true, Run: cmdTBShow,
			Help: "one TB: keys, pages, bytes, code, counters, state",
			Long: "A decimal number is a TB ID; a 0x number or an expression like `$pc` is a " +
				"linear PC (the valid TB for it, else the newest invalidated one)."},
		{Name: "tb stats", Aliases: []string{"info jit"}, Category: "Translation blocks", MaxArgs: 0,
			Flags: []Flag{flagJSON}, NeedsStopped: true, Run: cmdTBStats,
			Help: "translation statistics (QEMU's info jit)"},
		{Name: "tb flush", Category: "Translation blocks", MaxArgs: 0, NeedsStopped: true, Run: cmdTBFlush,
			Help: "drop all translated code"},
		{Name: "info exec-history", Aliases: []string{"info history"}, Category: "Translation blocks", MaxArgs: 0,
			Flags:        []Flag{flagCPU, {Name: "n", Arg: "N", Help: "show the last N TBs (default 16)"}, flagJSON},
			NeedsStopped: true, Run: cmdExecHistory,
			Help: "the last TBs a vCPU executed",
			Long: "An always-on ring buffer of the last 64 TB executions per vCPU, shown oldest first " +
				"with each TB's PC and first instruction: after a crash, how the guest got there."},

		// ---- Software TLB
		{Name: "tlb dump", Category: "Software TLB", MaxArgs: 0,
			Flags: []Flag{flagCPU, {Name: "all", Help: "both MMU indexes (default: the one for the current CPL)"},
				{Name: "page", Arg: "ADDR", Help: "only entries for the page holding linear ADDR"}, flagJSON},
			NeedsStopped: true, Run: cmdTLBDump,
			Help: "valid software-TLB entries of a vCPU",
			Long: "Columns: slot, virtual page, physical page, host backing (ram, rom, mmio), " +
				"permissions (rwx), slow-path flags (NOTDIRTY: page holds code or is clean " +
				"for a dirty client; MMIO; WATCH: a watchpoint covers it), guest page size, " +
				"global, user, and hits since the entry was filled."},
		{Name: "tlb stats", Category: "Software TLB", MaxArgs: 0, Flags: []Flag{flagCPU, flagJSON},
			NeedsStopped: true, Run: cmdTLBStats,
			Help: "software-TLB counters of a vCPU"},
		{Name: "tlb flush", Category: "Software TLB", Args: "[ADDR]", MaxArgs: 1, Flags: []Flag{flagCPU},
			NeedsStopped: true, Run: cmdTLBFlush,
			Help: "flush the software TLB (or one page)"},

		// ---- Dirty bits
		{Name: "dirty", Category: "Dirty bits", Args: "[PADDR [LEN]]", MaxArgs: 2,
			Flags: []Flag{{Name: "client", Arg: "C", Values: []string{"code", "migration", "display"},
				Help: "only pages that client tracks: code = write-protected code pages, migration/display = pages written since that client's last clear"},
				flagJSON},
			NeedsStopped: true, Run: cmdDirty,
			Help: "physical pages and their dirty bits",
			Long: "Runs of pages in the same state print as one line. Without an address, only " +
				"RAM and ROM pages that some client tracks (a clear bit) are listed; with " +
				"PADDR (LEN default one page) every page of the range is. CODE `prot` means " +
				"the page holds translated code and stores to it take the slow path; " +
				"MIGR/DISP `dirty` mean written since that client's last `dirty clear`."},
		{Name: "dirty map", Category: "Dirty bits", Args: "[PADDR LEN]", MaxArgs: 2,
			Flags: []Flag{{Name: "client", Arg: "C", Values: []string{"migration", "display"},
				Help: "which client's dirty bits mark written pages (default migration)"}, flagJSON},
			NeedsStopped: true, Run: cmdDirtyMap,
			Help: "character map of code and written memory",
			Long: "One character per page or group of pages (64 per row), per RAM/ROM region " +
				"or over PADDR LEN. `C` some page holds translated code (write-protected), " +
				"`W` some page was written since the client's last clear, `.` clean, " +
				"` ` unassigned."},
		{Name: "dirty clear", Category: "Dirty bits", Args: "[PADDR [LEN]]", MaxArgs: 2,
			Flags:        []Flag{{Name: "client", Arg: "C", Values: []string{"migration", "display"}, Help: "the client to clear (required)"}},
			NeedsStopped: true, Run: cmdDirtyClear,
			Help: "clear a client's dirty bits",
			Long: "The code client cannot be cleared: translation manages it (`tb flush`)."},
		{Name: "dirty stats", Category: "Dirty bits", MaxArgs: 0, Flags: []Flag{flagJSON},
			NeedsStopped: true, Run: cmdDirtyStats,
			Help: "dirty and code-protected pages per region"},

		// ---- Guest debug information
		{Name: "bt", Aliases: []string{"backtrace", "where"}, Category: "Guest stacks", Args: "[all]", MaxArgs: 1,
			Flags: []Flag{flagCPU, {Name: "n", Arg: "N", Help: "at most N frames"}}, NeedsStopped: true, Run: cmdBT,
			Help: "guest backtrace of a vCPU (or `bt all`) in gdb's format, from DWARF CFI, frame pointers or symbols",
			Long: "Argument values come from DWARF locations, including DW_OP_entry_value resolved from the " +
				"caller's call-site parameters as gdb does. Load symbols with -symbols FILE or `symbols load`."},
		{Name: "symbols load", Category: "Guest stacks", Args: "FILE [OFFSET]", MinArgs: 1, MaxArgs: 2, Run: cmdSymbolsLoad,
			Help: "load an ELF file's symbols and DWARF (merged with those loaded)"},
		{Name: "info symbol", Category: "Guest stacks", Args: "ADDR", MinArgs: 1, MaxArgs: 1, Flags: []Flag{flagJSON}, Run: cmdInfoSymbol,
			Help: "the symbol an address belongs to, as gdb prints it"},
		{Name: "info line", Category: "Guest stacks", Args: "ADDR", MinArgs: 1, MaxArgs: 1, Flags: []Flag{flagJSON}, Run: cmdInfoLine,
			Help: "the source line of an address, as gdb prints it"},
		{Name: "list", Category: "Guest stacks", Args: "[FILE:LINE]", MaxArgs: 1, Flags: []Flag{flagCPU}, NeedsStopped: true,
			Run: cmdList, Help: "source lines around the vCPU's current line (or FILE:LINE)"},

		// ---- Scripts
		{Name: "run-until", Category: "Scripts", Args: "KIND [ARG]", MinArgs: 1, MaxArgs: 2,
			Flags:        []Flag{{Name: "max", Arg: "N", Help: "give up after N instructions (default 1e9)"}},
			NeedsStopped: true, Streams: true, Run: cmdRunUntil,
			Help: "run until serial REGEX | pc ADDR | icount N | catch | exit | halt | fault | watchdog | stop, within a bound",
			Long: "Runs in deterministic chunks and checks the condition between them; fails (script status 1) " +
				"when the bound is reached or the guest stops first."},
		{Name: "expect", Category: "Scripts", Args: "serial REGEX | reg NAME OP V | mem ADDR TYPE OP V | stop REASON | exit STATUS | bt FUNC... | output REGEX",
			MinArgs: 1, MaxArgs: -1, NeedsStopped: true, Run: cmdExpect,
			Help: "check a condition; a failure prints expected and found and makes a script exit 1",
			Long: "OP is == or !=; TYPE is u8, u16, u32 or u64; REASON is a stop reason (breakpoint, watchpoint, " +
				"step, paused, exited, shutdown, halted, catchpoint, watchdog). `expect bt F1 F2 ...` checks that the " +
				"selected vCPU's backtrace starts with frames in functions F1, F2, ... (innermost first); " +
				"`expect output REGEX` matches the output of the previous command (not run-until/continue, which stream)."},

		{Name: "set", Category: "Scripts", Args: "[NAME = VALUE]", MinArgs: 0, MaxArgs: -1, Run: cmdSet,
			Help: "define a script variable (later lines use it as ${NAME}), or set $REG = EXPR on the selected vCPU",
			Long: "VALUE is the rest of the line (quotes group words). ${NAME} is replaced before a script line runs; " +
				"an undefined name is an error. `set` alone lists the variables. `set $eax = 0x10` (gdb's form) writes " +
				"a register of the selected vCPU (-cpu N selects another): GPRs, rip/eip/pc, eflags, segment " +
				"selectors, cr0-cr4, cr8, efer, fs_base, gs_base, dr0-dr7.",
			Flags: []Flag{flagCPU}},
		{Name: "source", Category: "Scripts", Args: "FILE", MinArgs: 1, MaxArgs: 1, Run: cmdSource,
			Help: "run the commands in FILE as a script (relative paths are relative to the sourcing script)"},
		{Name: "on", Category: "Scripts", Args: "crash|exit { COMMANDS }", MinArgs: 0, MaxArgs: -1, Run: cmdOn,
			Help: "(scripts) commands to run once when the guest crashes or ends",
			Long: "`on crash {` ... `}` runs after a triple fault, an emulator error or a watchdog stop; " +
				"`on exit {` ... `}` after the guest exits, halts forever or powers off. " +
				"One-line form: `on crash { report crash; bt all }`."},
		{Name: "echo", Category: "Scripts", Args: "TEXT...", MaxArgs: -1, Run: cmdEcho,
			Help: "print TEXT (escapes \\n \\t \\\\ are processed)"},
		{Name: "send-serial", Category: "Scripts", Args: "TEXT", MinArgs: 1, MaxArgs: -1, Run: cmdSendSerial,
			Help: "queue TEXT as input on COM1 (escapes \\n \\r \\t \\xNN \\\\); the guest reads it when it runs"},
		{Name: "dump-guest-memory", Category: "Scripts", Args: "FILE", MinArgs: 1, MaxArgs: 1, NeedsStopped: true,
			Run:  cmdDumpGuestMemory,
			Help: "write an ELF core file of guest RAM and every vCPU's registers (gdb KERNEL FILE opens it)",
			Long: "Like QEMU's dump-guest-memory: ELF64/x86-64 when vCPU 0 is in long mode, else ELF32/i386, " +
				"one NT_PRSTATUS note per vCPU (a gdb thread each). With paging on, PT_LOAD segments carry the " +
				"virtual addresses vCPU 0's page tables map; RAM nothing maps is included at its physical address. " +
				"All-zero pages are holes in a sparse file."},
		{Name: "report crash", Category: "Scripts", MaxArgs: 0, Flags: []Flag{flagJSON}, NeedsStopped: true, Run: cmdReportCrash,
			Help: "crash report: stop reason, exception chain, registers, faulting instruction, backtrace, page walk of CR2, exec history, last serial lines, for every vCPU"},

		// ---- Host (the emulator's own goroutines)
		{Name: "info threads", Category: "Host", MaxArgs: 0, Flags: []Flag{flagJSON}, Run: cmdInfoThreads,
			Help: "list the emulator's goroutines gdb-style (number, goroutine, name, state)"},
		{Name: "threads bt", Category: "Host", MaxArgs: 0,
			Flags: []Flag{{Name: "group", Help: "fold identical stacks and say how many"},
				{Name: "filter", Arg: "NAME", Help: "only threads whose name contains NAME"},
				{Name: "n", Arg: "N", Help: "at most N frames per thread"}},
			Run:  cmdThreadsBT,
			Help: "every goroutine's stack in gdb's format (also spelled `thread apply all bt`)",
			Long: "Named like QEMU's threads: \"CPU n/TCG\" per vCPU, main-loop, gdbstub, uart-input. " +
				"With a catchpoint stop, the vCPU goroutine is parked inside the emulator code path, " +
				"so its stack shows the real chain (exec loop → TB find → TLB fill ...). " +
				"Frame addresses are host addresses and differ between builds."},
		{Name: "analyze hang", Category: "Host", MaxArgs: 0, Run: cmdAnalyzeHang,
			Help: "who waits on what: a verdict first (deadlock, dead, lost wakeup, stuck, no hang), then the evidence"},

		// ---- Other
		{Name: "help", Aliases: []string{"h", "?"}, Category: "Other", Args: "[COMMAND]", MaxArgs: 2, Run: cmdHelp,
			Help: "list the commands, or describe one"},
	}
}

func notYet(name, why string) func(*Context, []string) error {
	return func(*Context, []string) error {
		return fmt.Errorf("%s: not available yet (%s)", name, why)
	}
}

// --- help and docs -------------------------------------------------------

func cmdHelp(ctx *Context, args []string) error {
	if len(args) > 0 {
		toks := args
		cmd, _, _, err := lookup(toks)
		if err != nil {
			// "help info": list the group
			g := strings.ToLower(args[0])
			if a, ok := index().groupAlias[g]; ok {
				g = a
			}
			if subs, ok := index().groups[g]; ok && len(args) == 1 {
				for _, c := range subs {
					ctx.Printf("  %-22s %s\n", c.Name, c.Help)
				}
				return nil
			}
			return err
		}
		ctx.Printf("usage: %s\n", wrapIndent(cmd.Usage(), 71, "       "))
		if len(cmd.Aliases) > 0 {
			ctx.Printf("aliases: %s\n", strings.Join(cmd.Aliases, ", "))
		}
		ctx.Printf("\n%s\n", wrap(capitalize(cmd.Help)+".", 78))
		if cmd.Long != "" {
			ctx.Printf("\n%s\n", wrap(strings.ReplaceAll(cmd.Long, "`", ""), 78))
		}
		if len(cmd.Flags) > 0 {
			ctx.Printf("\n")
			for _, f := range cmd.Flags {
				n := "-" + f.Name
				if f.Arg != "" {
					n += " " + f.Arg
				}
				ctx.Printf("  %-12s %s\n", n, strings.ReplaceAll(f.Help, "`", ""))
			}
		}
		return nil
	}
	for _, cat := range categories {
		ctx.Printf("%s:\n", cat)
		for _, c := range Commands() {
			if c.Category != cat {
				continue
			}
			name := c.Name
			if c.Suffix {
				name += "/FMT"
			}
			if len(c.Aliases) > 0 && !strings.Contains(c.Aliases[0], " ") {
				name += ", " + c.Aliases[0]
			}
			ctx.Printf("  %-22s %s\n", name, c.Help)
		}
	}
	ctx.Printf("\nType `help COMMAND` for details. Every info/dump command takes -json.\n")
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// wrap fills text to width columns.
func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(s) {
		if col > 0 && col+1+len(w) > width {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// WriteDocs writes docs/commands.md: the command reference generated from
// the table (`go generate ./repl` regenerates the file).
func WriteDocs(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# glassbox REPL commands\n\n")
	b.WriteString("<!-- Generated from the command table in repl/commands.go by\n")
	b.WriteString("     `go test ./repl -run TestDocs -update` (or `go generate ./repl`). Do not edit. -->\n\n")
	b.WriteString("`glassbox run -repl` starts an interactive prompt `(glassbox) `; the same\n")
	b.WriteString("commands run from scripts and as gdb `monitor` commands. Addresses are\n")
	b.WriteString("hex with `0x`; arguments that take an address accept expressions like\n")
	b.WriteString("`0x1000+16` or `$pc` / `$esp+8` (registers of the selected vCPU).\n")
	b.WriteString("Every `info` and dump command accepts `-json` and then prints exactly one\n")
	b.WriteString("JSON document. Sub-commands may be abbreviated to a unique prefix\n")
	b.WriteString("(`info reg`, `i r`).\n\n")
	b.WriteString("Interactively: Tab completes commands, sub-commands and flags; Ctrl-C\n")
	b.WriteString("stops a running guest and returns to the prompt; Ctrl-D quits (also while\n")
	b.WriteString("the guest runs); an empty line repeats `stepi` and `x`. History is kept in\n")
	b.WriteString("`~/.glassbox_history` (`GLASSBOX_HISTORY` overrides it, `-` disables it).\n\n")
	for _, cat := range categories {
		fmt.Fprintf(&b, "## %s\n\n", cat)
		for _, c := range Commands() {
			if c.Category != cat {
				continue
			}
			fmt.Fprintf(&b, "### `%s`\n\n", c.Name)
			fmt.Fprintf(&b, "    %s\n\n", c.Usage())
			if len(c.Aliases) > 0 {
				fmt.Fprintf(&b, "Aliases: `%s`.\n\n", strings.Join(c.Aliases, "`, `"))
			}
			fmt.Fprintf(&b, "%s.", capitalize(c.Help))
			if c.Long != "" {
				fmt.Fprintf(&b, " %s", c.Long)
			}
			b.WriteString("\n\n")
			for _, f := range c.Flags {
				n := "-" + f.Name
				if f.Arg != "" {
					n += " " + f.Arg
				}
				fmt.Fprintf(&b, "- `%s`: %s\n", n, f.Help)
			}
			if len(c.Flags) > 0 {
				b.WriteString("\n")
			}
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
