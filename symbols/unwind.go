package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/op"
)

// Frame is one frame of a backtrace.
type Frame struct {
	Level int
	// PC is the frame's pc: the current pc for frame 0, the return
	// address for the outer frames.
	PC uint64
	// Func is the function name ("" when unknown; gdb prints "??").
	Func string
	// FuncAddr is the entry address of Func (0 when unknown).
	FuncAddr uint64
	Args     []Arg
	// File and Line locate PC (PC-1 for outer frames, like gdb); File is
	// "" when there is no line information.
	File string
	Line int
	// CFA is the canonical frame address (the caller's stack pointer
	// before the call), 0 if unknown.
	CFA uint64
	// PrintPC is gdb's frame_show_address: the address is printed unless
	// PC is exactly the start of an is_stmt line-table row (frame 0
	// stopped at a breakpoint on a line).
	PrintPC bool
	// Regs are the registers of this frame as unwound (registers that
	// the unwind information does not restore keep the inner frame's
	// values, like gdb).
	Regs Regs
	// TailCall marks a tail-call frame: a function that left through a
	// tail call, put back from the call-site DWARF like gdb does (PC is
	// its tail call site's return address).
	TailCall bool
	// Inline marks an inline frame: a call of an inlined function, shown
	// in front of the real frame that holds its code (it has that
	// frame's registers; see inline.go).
	Inline bool
	// Stop, when set on the last frame, is printed after it: "Backtrace
	// stopped: ..." or "(More stack frames follow...)".
	Stop string
}

// Arg is a function argument as gdb prints it in a frame line.
type Arg struct {
	Name string
	// Value is gdb's rendering: "5", "0x1234 <table+8>",
	// "0x100244 <greeting> \"hello\"", "104 'h'", "...",
	// "<optimized out>".
	Value string
	// Entry is the value at function entry (from the caller's call site,
	// DW_OP_entry_value style) when it is known and differs from Value;
	// gdb prints it as ", name@entry=Entry".
	Entry string
	// EntryEqual is set when the entry value is known and equal to Value;
	// gdb then prints "name=name@entry=Value".
	EntryEqual bool
}

// regState holds a frame's registers by DWARF register number.
type regState struct {
	bits int
	val  [17]uint64
	ok   [17]bool
}

// DWARF register numbers.
const (
	i386PC, i386SP, i386BP    = 8, 4, 5
	amd64PC, amd64SP, amd64BP = 16, 7, 6
)

// amd64 DWARF register n is GPR index amd64DwarfToGPR[n].
var amd64DwarfToGPR = [16]int{0, 2, 1, 3, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15}

func (r *regState) pcReg() uint64 {
	if r.bits == 64 {
		return amd64PC
	}
	return i386PC
}

func (r *regState) spReg() uint64 {
	if r.bits == 64 {
		return amd64SP
	}
	return i386SP
}

func (r *regState) bpReg() uint64 {
	if r.bits == 64 {
		return amd64BP
	}
	return i386BP
}

func (r *regState) n() int {
	if r.bits == 64 {
		return 17
	}
	return 9
}

func (r *regState) mask() uint64 {
	if r.bits == 64 {
		return ^uint64(0)
	}
	return 0xffffffff
}

func (r *regState) get(n uint64) (uint64, bool) {
	if n >= uint64(r.n()) || !r.ok[n] {
		return 0, false
	}
	return r.val[n], true
}

func (r *regState) set(n uint64, v uint64) {
	if n < uint64(r.n()) {
		r.val[n], r.ok[n] = v&r.mask(), true
	}
}

func (r *regState) pc() uint64 { return r.val[r.pcReg()] }
func (r *regState) sp() uint64 { return r.val[r.spReg()] }

func regsToState(regs Regs, bits int) regState {
	rs := regState{bits: bits}
	if bits == 64 {
		for d := 0; d < 16; d++ {
			rs.set(uint64(d), regs.GPR[amd64DwarfToGPR[d]])
		}
		rs.set(amd64PC, regs.PC)
	} else {
		for d := 0; d < 8; d++ {
			rs.set(uint64(d), regs.GPR[d])
		}
		rs.set(i386PC, regs.PC)
	}
	return rs
}

func (r *regState) toRegs() Regs {
	out := Regs{Bits: r.bits}
	if r.bits == 64 {
		for d := 0; d < 16; d++ {
			out.GPR[amd64DwarfToGPR[d]] = r.val[d]
		}
	} else {
		for d := 0; d < 8; d++ {
			out.GPR[d] = r.val[d]
		}
	}
	out.PC = r.pc()
	return out
}

// dwarfRegs converts to delve's register set for the op package.
func (r *regState) dwarfRegs(staticBase uint64) *op.DwarfRegisters {
	regs := make([]*op.DwarfRegister, r.n())
	for i := 0; i < r.n(); i++ {
		if r.ok[i] {
			regs[i] = op.DwarfRegisterFromUint64(r.val[i])
		}
	}
	return op.NewDwarfRegisters(staticBase, regs, binary.LittleEndian, r.pcReg(), r.spReg(), r.bpReg(), 0)
}

// uframe is a frame during unwinding.
type uframe struct {
	level     int
	regs      regState
	pc        uint64
	lookupPC  uint64 // pc for frame 0, pc-1 for callers (gdb's address in block)
	cfa       uint64
	hasCFA    bool
	img       *image
	fn        *function
	funcStart uint64
	name      string
	caller    *uframe
	stop      string
	// viaCFI: the frame was unwound with its CFI; entrySPOff is then the
	// CFA's offset from the stack pointer at the function's entry, when
	// the CFA is SP-based there (hasEntrySP).
	viaCFI     bool
	entrySPOff int64
	hasEntrySP bool
	// tail marks a tail-call frame (see tailcall.go).
	tail bool
}

func (u *uframe) ptrSize() int {
	if u.regs.bits == 64 {
		return 8
	}
	return 4
}

// bitsFor picks the code width for pc: the ELF class of the file covering
// it, else the register view's, else 32.
func (t *Table) bitsFor(pc uint64, regBits int) int {
	if img := t.imageFor(pc); img != nil {
		return img.bits
	}
	if regBits == 64 {
		return 64
	}
	return 32
}

// maxFrames bounds a backtrace when the caller asks for all frames.
const maxFrames = 10000

// Backtrace unwinds the stack of a paused vCPU from regs, reading guest
// memory through mem, and returns at most max frames (all, up to 10000,
// when max <= 0).
// Argument values are computed for every frame. The error is non-nil only
// when not even frame 0 can be built.
func (t *Table) Backtrace(mem Memory, regs Regs, max int) (frames []Frame, err error) {
	return t.BacktraceWith(mem, regs, max, Options{})
}

// Options tune a backtrace to how the vCPU stopped.
type Options struct {
	// EnterInline says the vCPU stopped after a single step or at a
	// breakpoint set at an address: frame 0 is then in the inlined calls
	// whose code starts exactly at the pc. Otherwise (an interrupt, a
	// watchpoint, a breakpoint on a function name) frame 0 is the
	// function making those calls, at the line of the call, like gdb.
	EnterInline bool
}

// BacktraceWith is Backtrace with options.
func (t *Table) BacktraceWith(mem Memory, regs Regs, max int, opts Options) (frames []Frame, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			frames, err = nil, fmt.Errorf("symbols: backtrace failed on malformed debug information: %v", r)
		}
	}()
	return t.backtrace(mem, regs, max, opts)
}

func (t *Table) backtrace(mem Memory, regs Regs, max int, opts Options) ([]Frame, error) {
	if mem == nil {
		return nil, errors.New("symbols: no memory to read the stack from")
	}
	bits := t.bitsFor(regs.PC, regs.Bits)
	limit := max
	if limit <= 0 {
		limit = maxFrames
	}
	f0 := &uframe{level: 0, regs: regsToState(regs, bits)}
	t.describe(f0)
	frames := []*uframe{f0}
	ev := &evaluator{t: t, mem: mem}
	ids := map[[2]uint64]bool{}
	if probe, _ := t.unwindOne(mem, f0); probe != nil || f0.hasCFA {
		if f0.hasCFA {
			ids[[2]uint64{f0.cfa, f0.funcStart}] = true
		}
	}
	for len(frames) <= limit {
		cur := frames[len(frames)-1]
		// Checks gdb makes before unwinding past a frame.
		if t.insideMain(cur) || t.insideEntry(cur) || cur.level > 0 && cur.pc == 0 {
			cur.stop = "-"
			break
		}
		if cur.level > 0 && cur.hasCFA && cur.caller == nil && !frames[len(frames)-2].tail &&
			frames[len(frames)-2].hasCFA && cur.cfa < frames[len(frames)-2].cfa {
			cur.stop = "Backtrace stopped: previous frame inner to this frame (corrupt stack?)"
			break
		}
		prev, stop := t.unwindOne(mem, cur)
		if prev == nil {
			cur.stop = stop
			if stop == "" {
				cur.stop = "-" // outermost: no message
			}
			break
		}
		// Tail-call frames go between cur and its caller.
		for _, tf := range t.tailFrames(ev, cur, prev) {
			cur.caller = tf
			frames = append(frames, tf)
			cur = tf
		}
		prev.level = cur.level + 1
		t.describe(prev)
		// The CFA of prev is known only once prev is unwound; gdb's frame
		// id check uses it, so compute it now without keeping the result.
		if probe, _ := t.unwindOne(mem, prev); probe != nil || prev.hasCFA {
			id := [2]uint64{prev.cfa, prev.funcStart}
			if prev.hasCFA && ids[id] {
				cur.stop = "Backtrace stopped: previous frame identical to this frame (corrupt stack?)"
				break
			}
			if prev.hasCFA {
				ids[id] = true
			}
		}
		cur.caller = prev
		frames = append(frames, prev)
	}
	// Each real frame comes with its inline frames.
	var out []Frame
	last := -1
	for i, u := range frames {
		if len(out) >= limit {
			break
		}
		out = append(out, t.framesOf(ev, u, opts.EnterInline)...)
		last = i
	}
	more := len(out) > limit || len(out) == limit && last < len(frames)-1
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Level = i
	}
	if more && len(out) > 0 {
		out[len(out)-1].Stop = "(More stack frames follow...)"
	} else if len(out) > 0 {
		if s := frames[last].stop; s != "-" {
			out[len(out)-1].Stop = s
		}
	}
	return out, nil
}

// describe fills in the pc-derived fields of a frame.
func (t *Table) describe(u *uframe) {
	u.pc = u.regs.pc()
	u.lookupPC = u.pc
	if u.level > 0 && u.pc > 0 {
		u.lookupPC = u.pc - 1
	}
	u.img = t.imageFor(u.lookupPC)
	u.fn = t.funcFor(u.lookupPC)
	if u.fn != nil {
		u.name, u.funcStart = u.fn.name, u.fn.entry
		return
	}
	for _, img := range t.images {
		if m, _ := img.lookupMsym(u.lookupPC); m != nil {
			u.name = m.name
			if img.sectionAt(m.addr) != nil {
				u.funcStart = m.addr
			}
			return
		}
	}
}

func (t *Table) insideMain(u *uframe) bool {
	if len(t.images) == 0 || u.funcStart == 0 {
		return false
	}
	img := t.images[0]
	if i, ok := img.byName["main"]; ok {
		return img.syms[i].addr == u.funcStart
	}
	return false
}

func (t *Table) insideEntry(u *uframe) bool {
	return len(t.images) > 0 && u.funcStart != 0 && u.funcStart == t.images[0].entry
}

func (t *Table) fdeFor(pc uint64) *frame.FrameDescriptionEntry {
	for _, img := range t.images {
		if fde, err := img.fdes.FDEForPC(pc); err == nil {
			return fde
		}
	}
	return nil
}

// unwindOne computes the caller of u. It returns nil and a stop message
// ("" for the outermost frame) when there is no caller.
func (t *Table) unwindOne(mem Memory, u *uframe) (*uframe, string) {
	if u.level == 0 && t.epilogueFrame(mem, u) {
		return t.unwindFixed(mem, u, u.regs.sp()-uint64(u.ptrSize()))
	}
	if fde := t.fdeFor(u.lookupPC); fde != nil {
		return t.unwindCFI(mem, u, fde)
	}
	return t.unwindPrologue(mem, u)
}

// epilogueFrame is gdb's i386/amd64 epilogue unwinder: frame 0 stopped on a
// "ret" in code whose CFI does not describe epilogues.
func (t *Table) epilogueFrame(mem Memory, u *uframe) bool {
	if cu := t.cuFor(u.pc); cu != nil && cu.gccEpilogueValid() {
		return false
	}
	var b [1]byte
	if readFull(mem, u.pc, b[:]) != nil {
		return false
	}
	return b[0] == 0xc3
}

func (t *Table) unwindCFI(mem Memory, u *uframe, fde *frame.FrameDescriptionEntry) (prev *uframe, stop string) {
	defer func() {
		if r := recover(); r != nil {
			prev, stop = nil, fmt.Sprintf("Backtrace stopped: bad call frame information (%v)", r)
		}
	}()
	ctx, err := fde.EstablishFrame(u.lookupPC)
	if err != nil {
		return nil, "Backtrace stopped: " + err.Error()
	}
	ps := u.ptrSize()
	var cfa uint64
	switch ctx.CFA.Rule {
	case frame.RuleCFA:
		v, ok := u.regs.get(ctx.CFA.Reg)
		if !ok {
			return nil, "Backtrace stopped: frame did not save the PC"
		}
		cfa = (v + uint64(ctx.CFA.Offset)) & u.regs.mask()
	case frame.RuleExpression:
		v, err := t.evalCFIExpr(mem, u, ctx.CFA.Expression, 0, false)
		if err != nil {
			return nil, "Backtrace stopped: " + err.Error()
		}
		cfa = v & u.regs.mask()
	default:
		return nil, "Backtrace stopped: frame did not save the PC"
	}
	u.cfa, u.hasCFA = cfa, true
	u.viaCFI = true
	u.hasEntrySP = false
	if u.funcStart != 0 && u.funcStart >= fde.Begin() && u.funcStart < fde.End() {
		if ectx, err := fde.EstablishFrame(u.funcStart); err == nil && ectx.CFA.Rule == frame.RuleCFA && ectx.CFA.Reg == u.regs.spReg() {
			u.entrySPOff, u.hasEntrySP = ectx.CFA.Offset, true
		}
	}
	next := &uframe{level: u.level + 1, regs: u.regs}
	// Unspecified registers keep their value (gdb's default), SP is the
	// CFA, PC comes from the return address column.
	next.regs.set(u.regs.spReg(), cfa)
	raReg := ctx.RetAddrReg
	raKnown := false
	var pcErr error
	for reg, rule := range ctx.Regs {
		if reg >= uint64(u.regs.n()) {
			continue
		}
		val, known, err := t.applyRule(mem, u, rule, reg, cfa, ps)
		if reg == raReg {
			if rule.Rule == frame.RuleUndefined {
				return nil, ""
			}
			if err != nil {
				pcErr = err
			}
		}
		if known {
			next.regs.set(reg, val)
			if reg == raReg {
				raKnown = true
			}
		} else {
			next.regs.ok[reg] = false
		}
	}
	if pcErr != nil {
		return nil, "Backtrace stopped: " + pcErr.Error()
	}
	if raReg < uint64(u.regs.n()) {
		if raKnown || !hasRule(ctx, raReg) {
			v, _ := next.regs.get(raReg)
			if raReg != u.regs.pcReg() {
				next.regs.set(u.regs.pcReg(), v)
			}
		}
	}
	return next, ""
}

func hasRule(ctx *frame.FrameContext, reg uint64) bool {
	_, ok := ctx.Regs[reg]
	return ok
}

func (t *Table) applyRule(mem Memory, u *uframe, rule frame.DWRule, reg, cfa uint64, ps int) (uint64, bool, error) {
	switch rule.Rule {
	case frame.RuleUndefined:
		return 0, false, nil
	case frame.RuleSameVal:
		v, ok := u.regs.get(reg)
		return v, ok, nil
	case frame.RuleOffset:
		v, err := readUint(mem, (cfa+uint64(rule.Offset))&u.regs.mask(), ps)
		return v, err == nil, err
	case frame.RuleValOffset:
		return cfa + uint64(rule.Offset), true, nil
	case frame.RuleRegister:
		v, ok := u.regs.get(rule.Reg)
		return v, ok, nil
	case frame.RuleExpression:
		addr, err := t.evalCFIExpr(mem, u, rule.Expression, cfa, true)
		if err != nil {
			return 0, false, err
		}
		v, err := readUint(mem, addr&u.regs.mask(), ps)
		return v, err == nil, err
	case frame.RuleValExpression:
		v, err := t.evalCFIExpr(mem, u, rule.Expression, cfa, true)
		return v, err == nil, err
	case frame.RuleCFA:
		v, ok := u.regs.get(rule.Reg)
		return v + uint64(rule.Offset), ok, nil
	case frame.RuleFramePointer:
		a := (cfa + uint64(rule.Offset)) & u.regs.mask()
		if a < cfa {
			v, err := readUint(mem, a, ps)
			return v, err == nil, err
		}
		v, ok := u.regs.get(reg)
		return v, ok, nil
	}
	return 0, false, nil
}

// evalCFIExpr evaluates a CFI DWARF expression; pushCFA pushes the CFA
// first as DW_CFA_expression requires.
func (t *Table) evalCFIExpr(mem Memory, u *uframe, expr []byte, cfa uint64, pushCFA bool) (res uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bad DWARF expression (%v)", r)
		}
	}()
	regs := u.regs.dwarfRegs(0)
	if pushCFA {
		regs.CFA = int64(cfa)
		expr = append([]byte{byte(op.DW_OP_call_frame_cfa)}, expr...)
	}
	v, pieces, err := op.ExecuteStackProgram(*regs, expr, u.ptrSize(), memReader(mem))
	if err != nil {
		return 0, err
	}
	if len(pieces) > 0 {
		return 0, errors.New("unsupported CFI expression")
	}
	return uint64(v), nil
}

func memReader(mem Memory) op.ReadMemoryFunc {
	return func(buf []byte, addr uint64) (int, error) {
		if err := readFull(mem, addr, buf); err != nil {
			return 0, err
		}
		return len(buf), nil
	}
}

// unwindPrologue is gdb's i386/amd64 prologue-analyzer unwinder, used for
// code without CFI: it follows the frame-pointer chain, using the
// function's first instructions to tell whether the frame is set up yet.
func (t *Table) unwindPrologue(mem Memory, u *uframe) (*uframe, string) {
	ps := uint64(u.ptrSize())
	bp, _ := u.regs.get(u.regs.bpReg())
	sp := u.regs.sp()
	if u.regs.bits == 32 && bp == 0 {
		return nil, "" // outermost frame
	}
	pa := prologue{spOffset: -int64(ps), locals: -1, saved: map[uint64]int64{}}
	if u.funcStart != 0 {
		if u.regs.bits == 64 {
			pa.analyze64(mem, u.funcStart, u.pc)
		} else {
			pa.analyze32(mem, u.funcStart, u.pc)
		}
	}
	var base uint64
	switch {
	case pa.locals >= 0:
		base = bp
	case u.regs.bits == 32 && u.funcStart == 0 && readCode(mem, u.pc, 1) != nil:
		// gdb: in an unknown function, assume a typical frame with
		// the caller's %ebp saved at %ebp.
		base = bp
		pa.saved[i386BP] = 0
	default:
		base = sp + uint64(pa.spOffset)
		if u.regs.bits == 32 {
			base = uint64(int64(sp) + pa.spOffset) // 64-bit arithmetic, like gdb's CORE_ADDR
		}
	}
	// Like gdb, frame addresses are computed in 64 bits (a 32-bit
	// frame at 0xfffffffc has its CFA at 0x100000004); memory reads and
	// register values are truncated.
	if base&u.regs.mask() == 0 {
		return nil, ""
	}
	return t.unwindFixed(mem, u, base, pa.saved)
}

// unwindFixed unwinds a frame whose return address is at base+ptrsize and
// whose caller's stack pointer is base+2*ptrsize (gdb's i386/amd64 frame
// caches). saved holds other registers' offsets from base.
func (t *Table) unwindFixed(mem Memory, u *uframe, base uint64, saved ...map[uint64]int64) (*uframe, string) {
	ps := uint64(u.ptrSize())
	m := u.regs.mask()
	u.cfa, u.hasCFA = base+2*ps, true
	ra, err := readUint(mem, (base+ps)&m, int(ps))
	if err != nil {
		return nil, "Backtrace stopped: " + err.Error()
	}
	next := &uframe{level: u.level + 1, regs: u.regs}
	next.regs.set(u.regs.pcReg(), ra)
	next.regs.set(u.regs.spReg(), base+2*ps)
	if len(saved) > 0 {
		for reg, off := range saved[0] {
			if v, err := readUint(mem, (base+uint64(off))&m, int(ps)); err == nil {
				next.regs.set(reg, v)
			} else {
				next.regs.ok[reg] = false
			}
		}
	}
	return next, ""
}

// prologue is the state of gdb's prologue analysis.
type prologue struct {
	spOffset int64
	locals   int64
	saved    map[uint64]int64 // DWARF register -> offset from the frame base
}

func readCode(mem Memory, addr uint64, n int) []byte {
	b := make([]byte, n)
	if readFull(mem, addr, b) != nil {
		return nil
	}
	return b
}

func (p *prologue) analyze32end(mem Memory, pc uint64) uint64 {
	return p.analyze32(mem, pc, ^uint64(0))
}

func (p *prologue) analyze64end(mem Memory, pc uint64) uint64 {
	return p.analyze64(mem, pc, ^uint64(0))
}

// analyze32 follows i386_analyze_prologue: [endbr32] push %ebp;
// mov %esp,%ebp; [sub $N,%esp]; push %reg... It returns the address after
// the analysed instructions.
func (p *prologue) analyze32(mem Memory, pc, limit uint64) uint64 {
	if b := readCode(mem, pc, 4); b != nil && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfb {
		pc += 4
	}
	// i386_skip_noop: nop, mov %edi,%edi.
	for {
		if b := readCode(mem, pc, 2); b != nil && b[0] == 0x90 {
			pc++
		} else if b != nil && b[0] == 0x8b && b[1] == 0xff {
			pc += 2
		} else {
			break
		}
	}
	if limit <= pc {
		return limit
	}
	b := readCode(mem, pc, 1)
	if b == nil {
		return pc
	}
	if b[0] == 0x55 {
		p.saved[i386BP] = 0
		p.spOffset += 4
		pc++
		if limit <= pc {
			return limit
		}
		// Instructions gcc may move between push %ebp and
		// mov %esp,%ebp (gdb's i386_frame_setup_skip_insns).
		skip := uint64(0)
		for pc+skip < limit {
			n := frameSetupSkip(readCode(mem, pc+skip, 6))
			if n == 0 {
				break
			}
			skip += uint64(n)
		}
		if limit <= pc+skip {
			return limit
		}
		mv := readCode(mem, pc+skip, 3)
		switch {
		case mv == nil:
			return pc + skip
		case mv[0] == 0x89 && mv[1] == 0xe5, mv[0] == 0x8b && mv[1] == 0xec:
			pc += skip + 2
		case mv[0] == 0x8d && mv[1] == 0x2c && mv[2] == 0x24:
			pc += skip + 3
		default:
			return pc
		}
		p.locals = 0
		if limit <= pc {
			return limit
		}
		if s := readCode(mem, pc, 6); s != nil {
			switch {
			case s[0] == 0x83 && s[1] == 0xec: // sub $imm8, %esp
				p.locals = int64(int8(s[2]))
				pc += 3
			case s[0] == 0x81 && s[1] == 0xec: // sub $imm32, %esp
				p.locals = int64(int32(binary.LittleEndian.Uint32(s[2:])))
				pc += 6
			case s[0] == 0x8d && s[1] == 0x64: // lea -N(%esp), %esp
				p.locals = -int64(int8(s[3]))
				pc += 4
			}
		}
	} else if b[0] == 0xc8 { // enter $N, $0
		if e := readCode(mem, pc, 4); e != nil {
			p.locals = int64(binary.LittleEndian.Uint16(e[1:]))
			pc += 4
		}
	}
	// i386_analyze_register_saves.
	off := int64(0)
	if p.locals > 0 {
		off -= p.locals
	}
	for i := 0; i < 8 && pc < limit; i++ {
		c := readCode(mem, pc, 1)
		if c == nil || c[0] < 0x50 || c[0] > 0x57 {
			break
		}
		off -= 4
		p.saved[uint64(c[0]-0x50)] = off
		p.spOffset += 4
		pc++
	}
	return pc
}

// analyze64 follows amd64_analyze_prologue: [endbr64] push %rbp;
// mov %rsp,%rbp. It returns the address after the analysed instructions.
func (p *prologue) analyze64(mem Memory, pc, limit uint64) uint64 {
	if limit <= pc {
		return limit
	}
	if b := readCode(mem, pc, 4); b != nil && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa {
		pc += 4
		if limit <= pc {
			return limit
		}
	}
	b := readCode(mem, pc, 4)
	if b == nil || b[0] != 0x55 {
		return pc
	}
	p.saved[amd64BP] = 0
	p.spOffset += 8
	if limit <= pc+1 {
		return limit
	}
	switch {
	case b[1] == 0x48 && (b[2] == 0x89 && b[3] == 0xe5 || b[2] == 0x8b && b[3] == 0xec):
		p.locals = 0
		return pc + 4
	case b[1] == 0x89 && b[2] == 0xe5 || b[1] == 0x8b && b[2] == 0xec:
		p.locals = 0
		return pc + 3
	}
	return pc + 1
}

// frameSetupSkip returns the length of the instruction at b if it is one
// of gdb's i386_frame_setup_skip_insns, else 0.
func frameSetupSkip(b []byte) int {
	if len(b) < 6 {
		return 0
	}
	switch {
	case b[0]&0xfa == 0xb0, b[0]&0xfb == 0xb2: // movb $imm8, %al/%ah/%cl/%ch/%dl/%dh
		return 2
	case b[0]&0xfe == 0xb8, b[0] == 0xba, b[0] == 0xa1: // movl $imm32, %eax/%ecx/%edx; movl m32, %eax
		return 5
	case b[0] == 0x89 && b[1]&0xf7 == 0x05, b[0] == 0x89 && b[1] == 0x15: // movl %eax/%ecx/%edx, m32
		return 6
	case b[0]&0xfd == 0x29 || b[0]&0xfd == 0x31: // subl/xorl r32, r32 (both encodings)
		if b[1] == 0xc0 || b[1] == 0xc9 || b[1] == 0xd2 {
			return 2
		}
	}
	return 0
}
