package target

import (
	"fmt"
	"io"

	"glassbox/symbols"
)

// Guest debug information: ELF symbols and DWARF of the guest's kernel and
// any files loaded with -symbols / `symbols load`.

// LoadSymbols loads an ELF file's symbols and DWARF at a load offset and
// merges them with those already loaded.
func (t *Target) LoadSymbols(path string, offset uint64) error {
	tab, err := symbols.Load(path, offset)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.syms == nil {
		t.syms = tab
	} else {
		t.syms.Merge(tab)
	}
	return nil
}

// Symbols returns the loaded guest debug information (nil when none).
func (t *Target) Symbols() *symbols.Table {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.syms
}

// backtraceOptions tells the unwinder how vCPU i stopped at pc: after a
// single step or at a breakpoint (glassbox's breakpoints are at addresses,
// like gdb's "break *ADDR") gdb's frame 0 is inside the inlined calls that
// start at the pc; after a pause, a watchpoint, a watchdog or a catchpoint
// (and for the vCPUs that were merely paused) it is in their caller, at
// the line of the call.
func (t *Target) backtraceOptions(i int, pc uint64) symbols.Options {
	st := t.LastStop()
	enter := st != nil && st.CPU == i && st.PC == pc && (st.Reason == "breakpoint" || st.Reason == "step")
	return symbols.Options{EnterInline: enter}
}

// Backtrace unwinds vCPU i's guest stack with the loaded symbols/DWARF
// (frame pointers and symbol+offset as fallbacks) and prints it in gdb's
// format.
func (t *Target) Backtrace(w io.Writer, i int, max int) error {
	tab := t.Symbols()
	if tab == nil {
		return fmt.Errorf("no symbols loaded (boot an ELF kernel, or use -symbols FILE / symbols load FILE)")
	}
	r, err := t.Regs(i)
	if err != nil {
		return err
	}
	mem := symbols.MemoryFunc(func(a uint64, b []byte) (int, error) { return t.ReadLinear(i, a, b) })
	frames, err := tab.BacktraceWith(mem, symbols.Regs{PC: r.PC, GPR: r.GPR, Bits: r.Bits}, max, t.backtraceOptions(i, r.PC))
	if err != nil && len(frames) == 0 {
		return err
	}
	symbols.FormatGDB(w, frames)
	return nil
}
