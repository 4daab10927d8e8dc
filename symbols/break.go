package symbols

import "debug/dwarf"

// BreakpointAddr returns where gdb 13 puts "break NAME": the function's
// entry for units whose locations are valid (gcc >= 4.5 with location
// lists, i.e. optimized code) and for assembly, else the address after the prologue found by
// gdb's i386/amd64 prologue analyzer, moved to the start of the next line
// when that lands mid-line (gdb's skip_prologue_sal). file and line are
// the source position of the address.
func (t *Table) BreakpointAddr(name string) (addr uint64, file string, line int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var fn *function
	var entry uint64
	found := false
	for _, img := range t.images {
		if i, ok := img.byName[name]; ok && img.syms[i].code {
			entry, found = img.syms[i].addr, true
			break
		}
	}
	if !found {
		for _, img := range t.images {
			if f := img.funcByName(name); f != nil {
				entry, found = f.entry, true
				break
			}
		}
	}
	if !found {
		return 0, "", 0, false
	}
	fn = t.funcFor(entry)
	if fn != nil && fn.entry != entry {
		fn = nil
	}
	pc := entry
	// gdb's find_function_start_sal_1: no prologue skipping when the
	// entry has line information in a unit whose locations are valid or
	// that is assembly.
	valid := false
	if cu := t.cuFor(entry); cu != nil && t.findLine(entry).ok {
		cu.load()
		valid = cu.hasLoclist && cu.gccEpilogueValid() || cu.isAsm()
	}
	if !valid {
		pc = t.skipPrologue(entry)
		s := t.findLine(pc)
		if s.ok && s.pc != pc && s.end != 0 {
			inFunc := false
			if fn != nil {
				for _, r := range fn.ranges {
					if fn.entry <= s.end && s.end >= r[0] && s.end < r[1] {
						inFunc = true
					}
				}
			} else {
				a, _ := t.funcName(s.end)
				b, _ := t.funcName(pc)
				inFunc = a == b
			}
			if inFunc {
				pc = s.end
			}
		}
	}
	s := t.findLine(pc)
	return pc, s.file, s.line, true
}

// skipPrologue is gdb's i386_skip_prologue/amd64_skip_prologue for gcc
// code: the address after the frame setup (and, on i386, the register
// saves), or the entry when the function sets up no frame.
func (t *Table) skipPrologue(entry uint64) uint64 {
	mem := fileMemory{t.images}
	img := t.imageFor(entry)
	if img == nil {
		return entry
	}
	pa := prologue{locals: -1, saved: map[uint64]int64{}}
	if img.bits == 64 {
		end := pa.analyze64end(mem, entry)
		if pa.locals < 0 {
			return entry
		}
		return end
	}
	end := pa.analyze32end(mem, entry)
	if pa.locals < 0 {
		return entry
	}
	return end
}

// isAsm reports whether the unit is assembly (DW_LANG_Mips_Assembler, what
// gas writes).
func (cu *cunit) isAsm() bool {
	lang, _ := cu.entry.Val(dwarf.AttrLanguage).(int64)
	return lang == 0x8001
}
