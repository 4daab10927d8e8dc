package symbols

import (
	"debug/dwarf"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/loclist"
	"github.com/go-delve/delve/pkg/dwarf/op"
)

// noEntryError is gdb's NO_ENTRY_VALUE_ERROR: an entry value cannot be
// resolved. Values depending on it are <optimized out>.
type noEntryError struct{ msg string }

func (e *noEntryError) Error() string { return e.msg }

func noEntry(format string, args ...any) error {
	return &noEntryError{fmt.Sprintf(format, args...)}
}

func isNoEntry(err error) bool {
	var ne *noEntryError
	return errors.As(err, &ne)
}

// errOptimizedOut marks a value whose location is empty or unknown at pc.
var errOptimizedOut = errors.New("optimized out")

// errSynthetic marks a DW_OP_implicit_pointer value.
var errSynthetic = errors.New("synthetic pointer")

type evaluator struct {
	t     *Table
	mem   Memory
	depth int
}

// value is a computed variable value.
type value struct {
	bytes []byte
	err   error // errOptimizedOut, errSynthetic, a memory error, ...
}

// locExpr returns the location expression of attr at pc (a single
// expression or the matching entry of a location list).
func (ev *evaluator) locExpr(cu *cunit, attr *dwarf.Field, pc uint64) ([]byte, error) {
	if attr == nil {
		return nil, errOptimizedOut
	}
	switch attr.Class {
	case dwarf.ClassExprLoc, dwarf.ClassBlock:
		b, _ := attr.Val.([]byte)
		if len(b) == 0 {
			return nil, errOptimizedOut
		}
		return b, nil
	case dwarf.ClassLocListPtr, dwarf.ClassLocList:
		off, ok := attr.Val.(int64)
		if !ok {
			return nil, errOptimizedOut
		}
		e, err := ev.findLoclist(cu, off, pc)
		if err != nil {
			return nil, err
		}
		if e == nil || len(e.Instr) == 0 {
			return nil, errOptimizedOut
		}
		return e.Instr, nil
	}
	return nil, errOptimizedOut
}

func (ev *evaluator) findLoclist(cu *cunit, off int64, pc uint64) (e *loclist.Entry, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("bad location list (%v)", r)
		}
	}()
	img := cu.img
	var debugAddr *godwarf.DebugAddr
	if img.addrSec != nil {
		debugAddr = img.addrSec.GetSubsection(cu.addrBase)
	}
	if cu.version >= 5 {
		if len(img.loclists) == 0 || off < 0 || off >= int64(len(img.loclists)) {
			return nil, errOptimizedOut
		}
		return loclist.NewDwarf5Reader(img.loclists).Find(int(off), img.offset, cu.lowPC, pc, debugAddr)
	}
	if len(img.debugLoc) == 0 || off < 0 || off >= int64(len(img.debugLoc)) {
		return nil, errOptimizedOut
	}
	return loclist.NewDwarf2Reader(img.debugLoc, img.ptrSize).Find(int(off), img.offset, cu.lowPC, pc, debugAddr)
}

// frameBase evaluates the function's DW_AT_frame_base in frame u.
func (ev *evaluator) frameBase(u *uframe) (int64, error) {
	if u.fn == nil || u.fn.frameBase == nil {
		return 0, errors.New("no frame base")
	}
	expr, err := ev.locExpr(u.fn.cu, u.fn.frameBase, u.lookupPC)
	if err != nil {
		return 0, err
	}
	regs := u.regs.dwarfRegs(u.fn.cu.img.offset)
	regs.CFA = int64(u.cfa)
	v, pieces, err := execute(*regs, expr, u.ptrSize(), ev.mem)
	if err != nil {
		return 0, err
	}
	if len(pieces) == 1 && pieces[0].Kind == op.RegPiece {
		r, ok := u.regs.get(pieces[0].Val)
		if !ok {
			return 0, errOptimizedOut
		}
		return int64(r), nil
	}
	return v, nil
}

// execute runs a DWARF expression with delve's op package.
func execute(regs op.DwarfRegisters, expr []byte, ptrSize int, mem Memory) (v int64, pieces []op.Piece, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, pieces, err = 0, nil, fmt.Errorf("DWARF expression error (%v)", r)
		}
	}()
	expr, sizes := widenDerefSizes(expr, ptrSize)
	read := memReader(mem)
	if sizes != nil {
		// The k-th memory read is the k-th dereference: read only the
		// bytes the expression asked for.
		k := 0
		read = func(buf []byte, addr uint64) (int, error) {
			n := len(buf)
			if k < len(sizes) && sizes[k] < n {
				n = sizes[k]
			}
			k++
			clear(buf)
			if err := readFull(mem, addr, buf[:n]); err != nil {
				return 0, err
			}
			return len(buf), nil
		}
	}
	return op.ExecuteStackProgram(regs, expr, ptrSize, read)
}

// widenDerefSizes rewrites the DW_OP_deref_size and DW_OP_xderef_size
// operations whose size delve's op package cannot read (it reads 2, 4
// or 8 bytes) into a wider read masked to the size asked for, and returns
// the size each dereference reads, in order, so that the memory reader
// can read exactly those bytes (a wider read could fail where gdb's does
// not). Expressions with branches (whose offsets the rewrite would break)
// and those that need no rewrite are returned as they are, with nil sizes.
func widenDerefSizes(expr []byte, ptrSize int) (out []byte, sizes []int) {
	changed, branches := false, false
	var order []int
	for i := 0; i < len(expr); {
		c := expr[i]
		next, ok := opNext(expr, i, ptrSize)
		if !ok {
			return expr, nil
		}
		switch c {
		case 0x2f, 0x28: // DW_OP_skip, DW_OP_bra
			branches = true
		case 0x06, 0x18: // DW_OP_deref, DW_OP_xderef
			order = append(order, ptrSize)
		case 0x94, 0x95: // DW_OP_deref_size, DW_OP_xderef_size
			n := int(expr[i+1])
			order = append(order, n)
			wide := 0
			switch {
			case n == 1:
				wide = 2
			case n == 3:
				wide = 4
			case n > 4 && n < 8:
				wide = 8
			}
			if wide != 0 {
				out = append(out, c, byte(wide), 0x10) // ...; DW_OP_constu mask; DW_OP_and
				out = binary.AppendUvarint(out, 1<<(8*n)-1)
				out = append(out, 0x1a)
				changed = true
				i = next
				continue
			}
		}
		out = append(out, expr[i:next]...)
		i = next
	}
	if !changed || branches {
		return expr, nil
	}
	return out, order
}

// regsFor prepares delve's registers for evaluating in frame u.
func (ev *evaluator) regsFor(u *uframe) *op.DwarfRegisters {
	var base uint64
	if u.fn != nil {
		base = u.fn.cu.img.offset
	} else if u.img != nil {
		base = u.img.offset
	}
	regs := u.regs.dwarfRegs(base)
	regs.CFA = int64(u.cfa)
	if fb, err := ev.frameBase(u); err == nil {
		regs.FrameBase = fb
	}
	return regs
}

// evalLocation evaluates a location expression in frame u and reads a value
// of size bytes from the location.
func (ev *evaluator) evalLocation(u *uframe, expr []byte, size int) value {
	if hasImplicitPointer(expr, u.ptrSize()) {
		return value{err: errSynthetic}
	}
	expr, err := ev.resolveEntryValues(u, expr)
	if err != nil {
		if isNoEntry(err) {
			return value{err: errOptimizedOut}
		}
		return value{err: err}
	}
	regs := ev.regsFor(u)
	v, pieces, err := execute(*regs, expr, u.ptrSize(), ev.mem)
	if err != nil {
		return value{err: err}
	}
	return ev.assemble(u, v, pieces, size)
}

// assemble reads a value from an evaluated location.
func (ev *evaluator) assemble(u *uframe, addr int64, pieces []op.Piece, size int) value {
	mask := u.regs.mask()
	if len(pieces) == 0 {
		buf := make([]byte, size)
		if err := readFull(ev.mem, uint64(addr)&mask, buf); err != nil {
			return value{err: err}
		}
		return value{bytes: buf}
	}
	var out []byte
	for _, p := range pieces {
		n := p.Size
		if n == 0 {
			n = size
		}
		chunk := make([]byte, n)
		switch p.Kind {
		case op.AddrPiece:
			if err := readFull(ev.mem, p.Val&mask, chunk); err != nil {
				return value{err: err}
			}
		case op.RegPiece:
			r, ok := u.regs.get(p.Val)
			if !ok {
				return value{err: errOptimizedOut}
			}
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], r)
			copy(chunk, b[:])
		case op.ImmPiece:
			if p.Bytes != nil {
				copy(chunk, p.Bytes)
			} else {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], p.Val)
				copy(chunk, b[:])
			}
		}
		out = append(out, chunk...)
	}
	if len(out) < size {
		out = append(out, make([]byte, size-len(out))...)
	}
	return value{bytes: out[:size]}
}

// resolveEntryValues replaces every DW_OP_entry_value(block) of expr by a
// constant: the value the block had on entry to u's function, found the way
// gdb does (dwarf_expr_reg_to_entry_parameter): in the caller's
// DW_TAG_call_site for u's return address, the DW_TAG_call_site_parameter
// for the same register, whose DW_AT_call_value is evaluated in the
// caller's frame.
func (ev *evaluator) resolveEntryValues(u *uframe, expr []byte) ([]byte, error) {
	var out []byte
	changed := false
	hasBranch := false
	for i := 0; i < len(expr); {
		opc := expr[i]
		next, ok := opNext(expr, i, u.ptrSize())
		if !ok {
			if changed {
				return nil, errors.New("DWARF-2 expression error: malformed expression")
			}
			return expr, nil
		}
		if opc == 0x28 || opc == 0x2f {
			hasBranch = true
		}
		if opc != 0xa3 && opc != 0xf3 {
			out = append(out, expr[i:next]...)
			i = next
			continue
		}
		l, n := uleb(expr[i+1:])
		block := expr[i+1+n : i+1+n+int(l)]
		var v uint64
		var err error
		if reg, ok := blockToReg(block); ok {
			v, err = ev.entryValue(u, paramReg, reg, 0, -1)
		} else if reg, sz, ok := blockToRegDeref(block, u.ptrSize()); ok {
			v, err = ev.entryValue(u, paramReg, reg, 0, sz)
		} else {
			err = errors.New("DWARF-2 expression error: DW_OP_entry_value is supported only for single DW_OP_reg* or for DW_OP_breg*(0)+DW_OP_deref*")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, byte(op.DW_OP_const8u))
		out = binary.LittleEndian.AppendUint64(out, v)
		changed = true
		i = next
	}
	if changed && hasBranch {
		return nil, errors.New("DWARF-2 expression error: DW_OP_entry_value with branches is not supported")
	}
	return out, nil
}

// entryValue returns the entry value of a parameter of u's function
// described by kind/reg/fbOff; derefSize >= 0 asks for the pointed-to
// value (DW_AT_call_data_value).
func (ev *evaluator) entryValue(u *uframe, kind int, reg uint64, fbOff int64, derefSize int) (uint64, error) {
	cp, caller, err := ev.callSiteParam(u, kind, reg, fbOff)
	if err != nil {
		return 0, err
	}
	src := cp.value
	if derefSize >= 0 {
		src = cp.dataValue
	}
	if src == nil {
		return 0, noEntry("Cannot resolve DW_AT_call_data_value")
	}
	v, err := ev.evalValueExpr(caller, src)
	if err != nil {
		return 0, err
	}
	if derefSize >= 0 && derefSize < 8 {
		v &= 1<<(8*derefSize) - 1
	}
	return v, nil
}

// evalValueExpr evaluates a DWARF expression that computes a value (not a
// location) in frame u.
func (ev *evaluator) evalValueExpr(u *uframe, expr []byte) (uint64, error) {
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > 8 {
		return 0, noEntry("DW_OP_entry_value resolving recursion is too deep")
	}
	expr, err := ev.resolveEntryValues(u, expr)
	if err != nil {
		return 0, err
	}
	regs := ev.regsFor(u)
	v, pieces, err := execute(*regs, expr, u.ptrSize(), ev.mem)
	if err != nil {
		return 0, err
	}
	if len(pieces) == 1 {
		switch pieces[0].Kind {
		case op.RegPiece:
			r, ok := u.regs.get(pieces[0].Val)
			if !ok {
				return 0, noEntry("register unavailable")
			}
			return r, nil
		case op.ImmPiece:
			if pieces[0].Bytes != nil {
				var b [8]byte
				copy(b[:], pieces[0].Bytes)
				return binary.LittleEndian.Uint64(b[:]), nil
			}
			return pieces[0].Val & u.regs.mask(), nil
		}
	}
	if len(pieces) > 1 {
		return 0, noEntry("composite call site value")
	}
	return uint64(v) & u.regs.mask(), nil
}

// callSiteParam is gdb's dwarf_expr_reg_to_entry_parameter.
func (ev *evaluator) callSiteParam(u *uframe, kind int, reg uint64, fbOff int64) (*callParam, *uframe, error) {
	t := ev.t
	caller := u.caller
	if caller == nil {
		return nil, nil, noEntry("DW_OP_entry_value resolving requires caller of %#x", u.funcStart)
	}
	cs := t.callSiteFor(caller.pc)
	if cs == nil {
		return nil, nil, noEntry("DW_OP_entry_value resolving cannot find DW_TAG_call_site %#x", caller.pc)
	}
	target, err := ev.callTarget(cs, caller)
	if err != nil {
		return nil, nil, err
	}
	if target != u.funcStart {
		return nil, nil, noEntry("DW_OP_entry_value resolving expects callee at %#x but the called frame is for %#x", target, u.funcStart)
	}
	if err := ev.verifyNoSelfTailcall(u.funcStart); err != nil {
		return nil, nil, err
	}
	for i := range cs.params {
		p := &cs.params[i]
		if p.kind == kind && (kind == paramReg && p.reg == reg || kind == paramFBOffset && p.fbOffset == fbOff) {
			return p, caller, nil
		}
	}
	return nil, nil, noEntry("Cannot find matching parameter at DW_TAG_call_site %#x", caller.pc)
}

// callTarget computes a call site's callee address; caller is nil when
// the frame is not available (tail call chains).
func (ev *evaluator) callTarget(cs *callSite, caller *uframe) (uint64, error) {
	switch {
	case cs.hasAddr:
		return cs.targetAddr, nil
	case cs.targetName != "":
		for _, img := range ev.t.images {
			if i, ok := img.byName[cs.targetName]; ok {
				return img.syms[i].addr, nil
			}
		}
		return 0, noEntry("Cannot find function %q for a call site target", cs.targetName)
	case cs.targetExpr != nil:
		if caller == nil {
			return 0, noEntry("DW_AT_call_target DWARF block resolving requires known frame which is currently not unwound")
		}
		expr, err := ev.resolveEntryValues(caller, cs.targetExpr)
		if err != nil {
			return 0, err
		}
		regs := ev.regsFor(caller)
		v, pieces, err := execute(*regs, expr, caller.ptrSize(), ev.mem)
		if err != nil {
			return 0, noEntry("%v", err)
		}
		if len(pieces) == 1 && pieces[0].Kind == op.RegPiece {
			r, ok := caller.regs.get(pieces[0].Val)
			if !ok {
				return 0, noEntry("call target register unavailable")
			}
			return r, nil
		}
		if len(pieces) == 1 && pieces[0].Kind == op.ImmPiece {
			return pieces[0].Val & caller.regs.mask(), nil
		}
		return uint64(v) & caller.regs.mask(), nil
	}
	return 0, noEntry("DW_AT_call_target is not specified at DW_TAG_call_site")
}

// verifyNoSelfTailcall is gdb's func_verify_no_selftailcall: entry values
// are unreliable if the function can reach itself through tail calls.
func (ev *evaluator) verifyNoSelfTailcall(addr uint64) error {
	todo := []uint64{addr}
	seen := map[uint64]bool{}
	for len(todo) > 0 {
		a := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		fn := ev.t.funcFor(a)
		if fn == nil || fn.entry != a {
			return noEntry("DW_TAG_call_site resolving failed to find function name for address %#x", a)
		}
		for _, cs := range fn.tailCalls {
			target, err := ev.callTarget(cs, nil)
			if err != nil {
				return err
			}
			if target == addr {
				return noEntry("DW_OP_entry_value resolving has found function %q at %#x can call itself via tail calls", fn.name, addr)
			}
			if !seen[target] {
				seen[target] = true
				todo = append(todo, target)
			}
		}
	}
	return nil
}

// paramValues computes a parameter's current value and its entry value
// (gdb's read_frame_arg with "print entry-values default"); funcEntry is
// the entry of the function p belongs to, 0 for no entry value.
func (ev *evaluator) paramValues(u *uframe, p *param, size int, funcEntry uint64) (val value, entry *value) {
	cu := u.fn.cu
	if p.loc == nil && p.constVal != nil {
		// DW_AT_const_value: the value itself, in the target's byte
		// order; it has no entry value.
		b := make([]byte, max(size, 8))
		switch v := p.constVal.(type) {
		case int64:
			binary.LittleEndian.PutUint64(b, uint64(v))
		case []byte:
			if len(v) < size {
				return value{err: errOptimizedOut}, nil
			}
			copy(b, v)
		}
		return value{bytes: b[:size]}, nil
	}
	expr, err := ev.locExpr(cu, p.loc, u.lookupPC)
	if err != nil {
		val = value{err: err}
	} else {
		val = ev.evalLocation(u, expr, size)
	}
	// The entry value: the location at the function's entry must be a
	// register or DW_OP_fbreg, resolved through the caller's call site.
	if funcEntry == 0 {
		return val, nil
	}
	eexpr, err := ev.locExpr(cu, p.loc, funcEntry)
	if err != nil {
		return val, nil
	}
	var v uint64
	if reg, ok := blockToReg(eexpr); ok {
		v, err = ev.entryParamValue(u, paramReg, reg, 0)
	} else if off, ok := blockToFBOffset(eexpr); ok {
		v, err = ev.entryParamValue(u, paramFBOffset, 0, off)
	} else {
		return val, nil
	}
	if err != nil {
		if isNoEntry(err) || errors.Is(err, errOptimizedOut) {
			return val, nil
		}
		return val, &value{err: err}
	}
	b := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(b, v)
	return val, &value{bytes: b[:size]}
}

// entryParamValue is gdb's value_of_dwarf_reg_entry: DW_AT_call_value of
// the matching call site parameter, evaluated in the caller.
func (ev *evaluator) entryParamValue(u *uframe, kind int, reg uint64, fbOff int64) (uint64, error) {
	cp, caller, err := ev.callSiteParam(u, kind, reg, fbOff)
	if err != nil {
		return 0, err
	}
	if cp.value == nil {
		return 0, noEntry("no DW_AT_call_value")
	}
	return ev.evalValueExpr(caller, cp.value)
}

// opNext returns the offset of the DWARF operation after the one at i.
func opNext(b []byte, i int, ptrSize int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	c := b[i]
	i++
	fixed := func(n int) (int, bool) {
		if i+n > len(b) {
			return 0, false
		}
		return i + n, true
	}
	leb := func(k int) (int, bool) {
		for ; k > 0; k-- {
			_, n := uleb(b[i:])
			if n == 0 {
				return 0, false
			}
			i += n
		}
		return i, true
	}
	switch {
	case c == 0x03:
		return fixed(ptrSize)
	case c == 0x08 || c == 0x09 || c == 0x15 || c == 0x94 || c == 0x95:
		return fixed(1)
	case c == 0x0a || c == 0x0b || c == 0x28 || c == 0x2f || c == 0x98:
		return fixed(2)
	case c == 0x0c || c == 0x0d || c == 0x99 || c == 0x9a || c == 0xfa:
		return fixed(4)
	case c == 0x0e || c == 0x0f:
		return fixed(8)
	case c == 0x10 || c == 0x11 || c == 0x23 || c >= 0x70 && c <= 0x91 || c == 0x93 ||
		c == 0xa1 || c == 0xa2 || c == 0xa8 || c == 0xa9 || c == 0xf7 || c == 0xf9 || c == 0xfb || c == 0xfc:
		return leb(1)
	case c == 0x92 || c == 0x9d || c == 0xa5 || c == 0xf5:
		return leb(2)
	case c == 0x9e || c == 0xa3 || c == 0xf3:
		l, n := uleb(b[i:])
		if n == 0 || uint64(len(b)-i-n) < l {
			return 0, false
		}
		return i + n + int(l), true
	case c == 0xa0 || c == 0xf2:
		if i+4 > len(b) {
			return 0, false
		}
		i += 4
		return leb(1)
	case c == 0xa4 || c == 0xf4:
		if _, n := uleb(b[i:]); n == 0 {
			return 0, false
		} else {
			i += n
		}
		if i >= len(b) || i+1+int(b[i]) > len(b) {
			return 0, false
		}
		return i + 1 + int(b[i]), true
	case c == 0xa6 || c == 0xf6:
		i++
		return leb(1)
	}
	return i, true
}

func hasImplicitPointer(b []byte, ptrSize int) bool {
	for i := 0; i < len(b); {
		if b[i] == 0xa0 || b[i] == 0xf2 {
			return true
		}
		n, ok := opNext(b, i, ptrSize)
		if !ok {
			return false
		}
		i = n
	}
	return false
}
