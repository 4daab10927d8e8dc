package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// frameOf turns an unwound frame into a Frame with gdb's rendering of its
// arguments and location.
func (t *Table) frameOf(ev *evaluator, u *uframe) Frame {
	f := Frame{Level: u.level, PC: u.pc, Func: u.name, FuncAddr: u.funcStart, Regs: u.regs.toRegs(), TailCall: u.tail}
	if u.hasCFA {
		f.CFA = u.cfa
	}
	s := t.findLine(u.lookupPC)
	if s.ok {
		f.File, f.Line = s.file, s.line
	}
	f.PrintPC = !s.ok || u.pc != s.pc || !s.stmt
	if u.fn != nil {
		for _, p := range u.fn.params {
			f.Args = append(f.Args, t.arg(ev, u, p, u.funcStart))
		}
	}
	return f
}

// framesOf returns the frames shown for the unwound frame u: its inline
// frames (see inline.go), then u itself.
func (t *Table) framesOf(ev *evaluator, u *uframe, enter bool) []Frame {
	real := t.frameOf(ev, u)
	if b := t.tailInline(u); b != nil {
		real.Func, real.FuncAddr, real.Args = b.name, b.entry, nil
		for _, p := range b.params {
			real.Args = append(real.Args, t.arg(ev, u, p, 0))
		}
		return []Frame{real}
	}
	chain, skipped := t.inlineFrames(u, enter)
	if len(chain) == 0 && skipped == nil {
		return []Frame{real}
	}
	var out []Frame
	inside := skipped // the inlined call the next frame out stands at
	for i, b := range chain {
		f := Frame{PC: u.pc, Func: b.name, FuncAddr: b.entry, CFA: real.CFA, Regs: real.Regs, Inline: true}
		if i == 0 && inside == nil {
			f.File, f.Line, f.PrintPC = real.File, real.Line, real.PrintPC
		} else {
			f.File, f.Line = inside.callSal()
		}
		for _, p := range b.params {
			// gdb shows no entry values for an inlined call's
			// arguments.
			f.Args = append(f.Args, t.arg(ev, u, p, 0))
		}
		out = append(out, f)
		inside = b
	}
	real.File, real.Line = inside.callSal()
	real.PrintPC = false
	return append(out, real)
}

// arg computes a parameter of u's function (entry is its entry address)
// or of one of its inlined calls (entry is 0: no entry value).
func (t *Table) arg(ev *evaluator, u *uframe, p *param, entry uint64) Arg {
	a := Arg{Name: p.name}
	img := u.fn.cu.img
	var typ godwarf.Type
	if p.hasType {
		var err error
		typ, err = img.typeOf(p.typeOff)
		if err != nil {
			a.Value = "<error: " + err.Error() + ">"
			return a
		}
	}
	size := int(typeSize(typ, u.ptrSize()))
	val, entryVal := ev.paramValues(u, p, size, entry)
	a.Value = t.formatValue(ev, u, typ, val)
	if entryVal != nil {
		switch {
		case entryVal.err != nil:
			a.Entry = "<error: " + entryVal.err.Error() + ">"
		case val.err == nil && bytes.Equal(val.bytes, entryVal.bytes):
			a.EntryEqual = true
		default:
			a.Entry = t.formatValue(ev, u, typ, *entryVal)
		}
	}
	return a
}

// resolve strips typedefs and qualifiers.
func resolve(typ godwarf.Type) godwarf.Type {
	for i := 0; i < 64 && typ != nil; i++ {
		switch x := typ.(type) {
		case *godwarf.TypedefType:
			typ = x.Type
		case *godwarf.QualType:
			typ = x.Type
		default:
			return typ
		}
	}
	return typ
}

func typeSize(typ godwarf.Type, ptrSize int) int64 {
	rt := resolve(typ)
	if rt == nil {
		return int64(ptrSize)
	}
	if _, ok := rt.(*godwarf.PtrType); ok {
		return int64(ptrSize)
	}
	s := rt.Size()
	if s <= 0 || s > 1<<20 {
		return int64(ptrSize)
	}
	return s
}

func isScalar(typ godwarf.Type) bool {
	switch resolve(typ).(type) {
	case *godwarf.StructType, *godwarf.ArrayType:
		return false
	}
	return true
}

// formatValue renders a value like gdb's "print frame-arguments scalars":
// aggregates are "...".
func (t *Table) formatValue(ev *evaluator, u *uframe, typ godwarf.Type, v value) string {
	if !isScalar(typ) {
		return "..."
	}
	if v.err != nil {
		var me *MemoryError
		switch {
		case errors.Is(v.err, errOptimizedOut):
			return "<optimized out>"
		case errors.Is(v.err, errSynthetic):
			return "<synthetic pointer>"
		case errors.As(v.err, &me):
			return "<error: " + me.Error() + ">"
		}
		return "<error: " + v.err.Error() + ">"
	}
	b := v.bytes
	var raw [8]byte
	copy(raw[:], b)
	u64 := binary.LittleEndian.Uint64(raw[:])
	n := len(b)
	signed := func() int64 {
		if n >= 8 {
			return int64(u64)
		}
		shift := uint(64 - 8*n)
		return int64(u64<<shift) >> shift
	}
	switch x := resolve(typ).(type) {
	case nil:
		return strconv.FormatInt(signed(), 10)
	case *godwarf.IntType:
		return strconv.FormatInt(signed(), 10)
	case *godwarf.UintType:
		return strconv.FormatUint(u64, 10)
	case *godwarf.CharType:
		return fmt.Sprintf("%d '%s'", signed(), gdbChar(byte(u64), '\''))
	case *godwarf.UcharType:
		return fmt.Sprintf("%d '%s'", u64, gdbChar(byte(u64), '\''))
	case *godwarf.BoolType:
		switch u64 {
		case 0:
			return "false"
		case 1:
			return "true"
		}
		return strconv.FormatUint(u64, 10)
	case *godwarf.EnumType:
		s := signed()
		for _, e := range x.Val {
			if e.Val == s {
				return e.Name
			}
		}
		return strconv.FormatInt(s, 10)
	case *godwarf.FloatType:
		switch n {
		case 4:
			return strconv.FormatFloat(float64(math.Float32frombits(uint32(u64))), 'g', 9, 32)
		case 8:
			return strconv.FormatFloat(math.Float64frombits(u64), 'g', 17, 64)
		}
		return "<unsupported float>"
	case *godwarf.PtrType:
		addr := u64
		if n < 8 {
			addr &= 1<<(8*n) - 1
		}
		switch el := resolve(x.Type).(type) {
		case *godwarf.FuncType:
			return hex(addr) + t.symbolic(addr)
		case *godwarf.CharType, *godwarf.UcharType:
			s := hex(addr) + t.symbolic(addr)
			if addr != 0 {
				s += " " + readCString(ev.mem, addr)
			}
			return s
		case *godwarf.IntType, *godwarf.UintType:
			if el.Size() == 1 && strings.Contains(el.Common().Name, "char") {
				s := hex(addr) + t.symbolic(addr)
				if addr != 0 {
					s += " " + readCString(ev.mem, addr)
				}
				return s
			}
		}
		return hex(addr) + t.symbolic(addr)
	}
	return hex(u64)
}

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// symbolic is gdb's print_address_symbolic for a value: " <sym+off>" or "".
func (t *Table) symbolic(addr uint64) string {
	var name string
	var loc uint64
	found := false
	fn := t.funcFor(addr)
	if fn != nil {
		name, loc, found = fn.name, fn.entry, true
	}
	var m *msym
	for _, img := range t.images {
		if mm, _ := img.lookupMsym(addr); mm != nil {
			m = mm
			break
		}
	}
	if m != nil && m.size == 0 && !m.code {
		m = nil
	}
	if m != nil && (fn == nil || m.addr == addr && loc != addr) {
		name, loc, found = m.name, m.addr, true
	}
	if !found {
		return ""
	}
	off := int64(addr - loc)
	if off == 0 {
		return " <" + name + ">"
	}
	return fmt.Sprintf(" <%s+%d>", name, off)
}

// addrWithSym renders an address like gdb's paddress plus symbol.
func (t *Table) addrWithSym(addr uint64) string {
	return hex(addr) + t.symbolic(addr)
}

// gdbChar renders one byte like gdb's print_wchar (ASCII host charset).
func gdbChar(c byte, quoter byte) string {
	switch c {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	case '\v':
		return `\v`
	}
	if c >= 0x20 && c < 0x7f {
		if c == quoter || c == '\\' {
			return `\` + string(rune(c))
		}
		return string(rune(c))
	}
	return fmt.Sprintf("\\%03o", c)
}

const (
	printMax        = 200 // gdb's "print elements"
	repeatThreshold = 10  // gdb's "print repeats"
)

// readCString reads and renders the string at addr like gdb's
// val_print_string for a char pointer.
func readCString(mem Memory, addr uint64) string {
	var buf []byte
	var readErr error
	errAddr := addr
	foundNul := false
	for len(buf) < printMax {
		chunk := make([]byte, min(64, printMax-len(buf)))
		if err := readFull(mem, addr+uint64(len(buf)), chunk); err != nil {
			// Find the first unreadable byte.
			one := make([]byte, 1)
			for i := range chunk {
				if err := readFull(mem, addr+uint64(len(buf)), one); err != nil {
					readErr, errAddr = err, addr+uint64(len(buf))
					break
				}
				_ = i
				buf = append(buf, one[0])
				if one[0] == 0 {
					foundNul = true
					break
				}
			}
			break
		}
		if i := bytes.IndexByte(chunk, 0); i >= 0 {
			buf = append(buf, chunk[:i+1]...)
			foundNul = true
			break
		}
		buf = append(buf, chunk...)
	}
	force := false
	if !foundNul && readErr == nil {
		var peek [1]byte
		if readFull(mem, addr+uint64(len(buf)), peek[:]) == nil && peek[0] != 0 {
			force = true
		}
	}
	var s string
	if readErr == nil || len(buf) > 0 {
		if foundNul {
			buf = buf[:len(buf)-1]
		}
		s = gdbString(buf, force)
	}
	if readErr != nil {
		s += "<error: " + memError(errAddr).Error() + ">"
	}
	return s
}

// gdbString renders characters like gdb's generic_printstr.
func gdbString(b []byte, force bool) string {
	if len(b) == 0 {
		return `""`
	}
	type elem struct {
		c byte
		n int
	}
	var elems []elem
	pos, count := 0, 0
	for count < printMax && pos < len(b) {
		c := b[pos]
		n := 1
		for pos+n < len(b) && b[pos+n] == c {
			n++
		}
		elems = append(elems, elem{c, n})
		count += n
		pos += n
	}
	finished := pos >= len(b)
	var sb strings.Builder
	const (
		start = iota
		single
		repeat
	)
	last := start
	for _, e := range elems {
		if e.n > repeatThreshold {
			if last == single {
				sb.WriteByte('"')
			}
			if last != start {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "'%s' <repeats %d times>", gdbChar(e.c, '"'), e.n)
			last = repeat
			continue
		}
		if last != single {
			if last != start {
				sb.WriteString(", ")
			}
			sb.WriteByte('"')
		}
		for i := 0; i < e.n; i++ {
			sb.WriteString(gdbChar(e.c, '"'))
		}
		last = single
	}
	if last == single {
		sb.WriteByte('"')
	}
	if force || !finished {
		sb.WriteString("...")
	}
	return sb.String()
}

// pcString renders a frame's pc like gdb (padded to the address size).
func pcString(pc uint64, bits int) string {
	if bits == 64 {
		return fmt.Sprintf("0x%016x", pc)
	}
	return fmt.Sprintf("0x%08x", pc)
}

// FormatGDB prints frames exactly like gdb 13's "bt":
//
//	#0  deep_function (depth=-4, mask=253) at kernel.c:39
//	#1  0x00100084 in in_regs (x=x@entry=-5, y=y@entry=2, c=<optimized out>) at kernel.c:49
//	#2  0x0010001a in _start ()
//
// The address is printed unless the pc is at the start of a line-table row
// (see Frame.PrintPC); functions without a name print as "??".
func FormatGDB(w io.Writer, frames []Frame) {
	var sb strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&sb, "#%-2d ", f.Level)
		if f.PrintPC {
			sb.WriteString(pcString(f.PC, f.Regs.Bits))
			sb.WriteString(" in ")
		}
		name := f.Func
		if name == "" {
			name = "??"
		}
		sb.WriteString(name)
		sb.WriteString(" (")
		for i, a := range f.Args {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(FormatArg(a))
		}
		sb.WriteString(")")
		if f.File != "" {
			fmt.Fprintf(&sb, " at %s:%d", f.File, f.Line)
		}
		sb.WriteString("\n")
		if f.Stop != "" {
			sb.WriteString(f.Stop)
			sb.WriteString("\n")
		}
	}
	io.WriteString(w, sb.String())
}

// FormatArg renders one argument as in a gdb frame line: "x=5",
// "x=x@entry=5" or "x=6, x@entry=5".
func FormatArg(a Arg) string {
	switch {
	case a.EntryEqual:
		return a.Name + "=" + a.Name + "@entry=" + a.Value
	case a.Entry != "":
		return a.Name + "=" + a.Value + ", " + a.Name + "@entry=" + a.Entry
	}
	return a.Name + "=" + a.Value
}
