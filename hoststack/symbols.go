package hoststack

import (
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
)

// How absolute PCs are found.
//
// A Go traceback prints, per frame, the return address (innermost: the
// PC) as an offset from the function's entry ("+0x1f"), not as an
// address; runtime.Callers would give addresses, but only for the calling
// goroutine. The running binary's function table does map names to entry
// addresses: symbols reads the executable (os.Executable) with debug/elf or
// debug/macho and decodes its .gopclntab with debug/gosym. The pclntab is
// the table the runtime itself unwinds with, so it is present even in
// binaries stripped with -ldflags=-s. Generic functions are keyed by their
// printed name ("F[...]"); one printed name with several instantiations is
// ambiguous and gets no PC.
//
// The file may not match the process (replaced on disk, or loaded at
// another address: PIE). The load slide is measured on a function of this
// package, whose in-memory entry the runtime gives (runtime.FuncForPC), and
// checked on a second one; if they disagree, or the file cannot be read,
// frames keep PC 0 and print as 0x????????????????.

// symbols maps printed function names to entry PCs in this process.
type symbols struct {
	entry map[string]uint64 // 0: ambiguous
	err   error
}

// loadSymbols reads the executable's function table once per process; the
// result is immutable and describes the process, not a machine.
var loadSymbols = sync.OnceValue(func() *symbols {
	s, err := readSymbols()
	if err != nil {
		return &symbols{err: err}
	}
	return s
})

func readSymbols() (*symbols, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pclntab, text, err := pclntabOf(exe)
	if err != nil {
		return nil, err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(pclntab, text))
	if err != nil {
		return nil, err
	}
	s := &symbols{entry: make(map[string]uint64, len(tab.Funcs))}
	for i := range tab.Funcs {
		f := &tab.Funcs[i]
		name := funcNameForPrint(f.Name)
		if old, dup := s.entry[name]; dup && old != f.Entry {
			s.entry[name] = 0
			continue
		}
		s.entry[name] = f.Entry
	}
	// Measure the load slide on two functions whose addresses the runtime
	// knows.
	var slide uint64
	for i, fn := range []any{CurrentID, Parse} {
		rf := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
		if rf == nil {
			return nil, errors.New("runtime.FuncForPC failed")
		}
		fileEntry := s.entry[funcNameForPrint(rf.Name())]
		if fileEntry == 0 {
			return nil, fmt.Errorf("%s not in %s", rf.Name(), exe)
		}
		d := uint64(rf.Entry()) - fileEntry
		if i > 0 && d != slide {
			return nil, fmt.Errorf("%s does not match the running process", exe)
		}
		slide = d
	}
	for k, v := range s.entry {
		if v != 0 {
			s.entry[k] = v + slide
		}
	}
	return s, nil
}

// pclntabOf returns the Go function table of an ELF or Mach-O executable
// and the address of its text section.
func pclntabOf(exe string) ([]byte, uint64, error) {
	if f, err := elf.Open(exe); err == nil {
		defer f.Close()
		tab, text := f.Section(".gopclntab"), f.Section(".text")
		if tab == nil || text == nil {
			return nil, 0, fmt.Errorf("%s: no .gopclntab", exe)
		}
		data, err := tab.Data()
		return data, text.Addr, err
	}
	if f, err := macho.Open(exe); err == nil {
		defer f.Close()
		tab, text := f.Section("__gopclntab"), f.Section("__text")
		if tab == nil || text == nil {
			return nil, 0, fmt.Errorf("%s: no __gopclntab", exe)
		}
		data, err := tab.Data()
		return data, text.Addr, err
	}
	return nil, 0, fmt.Errorf("%s: not an ELF or Mach-O file", exe)
}

// funcNameForPrint is the runtime's: the name as tracebacks print it, with
// type arguments shown as "[...]" and runtime.gopanic as "panic".
func funcNameForPrint(name string) string {
	if name == "runtime.gopanic" {
		return "panic"
	}
	i := strings.IndexByte(name, '[')
	if i < 0 {
		return name
	}
	j := strings.LastIndexByte(name, ']')
	if j <= i {
		return name
	}
	return name[:i] + "[...]" + name[j+1:]
}

// resolvePCs fills Frame.PC for the frames of s that have an offset (or
// are not inlined) and whose function the symbol table knows.
func (sy *symbols) resolvePCs(s *Snapshot) {
	if sy.err != nil {
		return
	}
	fix := func(f *Frame) {
		if f == nil || f.PC != 0 || f.Inlined {
			return
		}
		if e := sy.entry[f.Func]; e != 0 {
			f.PC = e + f.Offset
		}
	}
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		for j := range g.Frames {
			fix(&g.Frames[j])
		}
		fix(g.CreatedBy)
	}
}
