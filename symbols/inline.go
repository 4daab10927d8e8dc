package symbols

// Inlined-function frames, as gdb shows them ("Inline Functions" in the gdb
// manual). Every DW_TAG_inlined_subroutine whose ranges cover a frame's
// lookup pc (the pc for frame 0, pc-1 for callers) becomes a frame of its
// own, innermost first, in front of the real frame that holds its code:
//
//	#0  inner (q=9, p=8) at inline.c:36        the innermost inlined call
//	#1  outer (a=4) at inline.c:46             the call of inner, in outer
//	#2  mid (n=2) at inline.c:68               the call of outer, in mid
//
// An inline frame shares the registers of its real frame (its arguments are
// evaluated in them). The innermost frame of the chain is located by the
// line table; each outer one by the DW_AT_call_file/DW_AT_call_line of the
// inlined call it contains, and prints no address.
//
// At a stop that is not a single step or a breakpoint at an address (an
// interrupt, a watchpoint, a breakpoint on a function name, a watchdog),
// gdb does not enter an inlined call whose code starts exactly at the pc:
// it shows the function that contains the call, at the call's line, as if
// the call had not started yet (a later "step" enters it). A block starts
// at the pc when the pc is its entry (the start of its first range, which
// is what gdb 13 takes for the entry) or, in units whose blocks have
// several ranges, when the pc starts one of its ranges and the byte before
// belongs to neither the block nor a block inside it. Frames of tail calls
// (tailcall.go) get no inline frames: a tail call made in an inlined call
// shows as one tail-call frame of the inlined function (the innermost at
// the tail call), with its arguments.

import (
	"debug/dwarf"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

// inlineBlock is a DW_TAG_inlined_subroutine.
type inlineBlock struct {
	fn     *function
	parent *inlineBlock // the enclosing inlined call (nil: fn itself)
	depth  int
	name   string
	// ranges are the block's own address ranges, in DWARF order; entry
	// is the start of the first one.
	ranges   [][2]uint64
	entry    uint64
	callFile int64 // DW_AT_call_file (-1 when absent)
	callLine int
	params   []*param
}

func (b *inlineBlock) contains(pc uint64) bool {
	for _, r := range b.ranges {
		if pc >= r[0] && pc < r[1] {
			return true
		}
	}
	return false
}

// addInline records an inlined subroutine of fn; it returns the block that
// encloses n's children (n's own, or parent when n is not usable: no name,
// no code).
func (cu *cunit) addInline(n *godwarf.Tree, fn *function, parent *inlineBlock, rdr *dwarf.Reader) *inlineBlock {
	img := cu.img
	if fn == nil {
		return parent
	}
	name, _ := n.Val(dwarf.AttrName).(string)
	raw := rawEntry(rdr, n.Offset)
	if name == "" || raw == nil {
		return parent
	}
	b := &inlineBlock{fn: fn, parent: parent, name: name, callFile: -1}
	if parent != nil {
		b.depth = parent.depth + 1
	}
	rngs, err := img.dw.Ranges(raw)
	if err != nil {
		return parent
	}
	for _, r := range rngs {
		if r[1] > r[0] {
			b.ranges = append(b.ranges, [2]uint64{r[0] + img.offset, r[1] + img.offset})
		}
	}
	if len(b.ranges) == 0 {
		return parent
	}
	if len(b.ranges) > 1 {
		cu.blockMap = true
	}
	b.entry = b.ranges[0][0]
	if v, ok := raw.Val(dwarf.AttrCallFile).(int64); ok {
		b.callFile = v
	}
	if v, ok := raw.Val(dwarf.AttrCallLine).(int64); ok {
		b.callLine = int(v)
	}
	// The parameters: those of the inlined instance, in its order, then
	// those of the abstract origin the instance does not mention (they
	// have no location).
	seen := map[dwarf.Offset]bool{}
	for _, c := range n.Children {
		if c.Tag != dwarf.TagFormalParameter {
			continue
		}
		if ce := rawEntry(rdr, c.Offset); ce != nil {
			if o, ok := ce.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
				seen[o] = true
			}
		}
		b.params = append(b.params, paramOf(c))
	}
	if o, ok := raw.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
		b.params = append(b.params, originParams(rdr, o, seen)...)
	}
	fn.inlines = append(fn.inlines, b)
	return b
}

// paramOf reads a DW_TAG_formal_parameter.
func paramOf(c *godwarf.Tree) *param {
	p := &param{loc: c.AttrField(dwarf.AttrLocation)}
	if p.loc == nil {
		switch v := c.Val(dwarf.AttrConstValue).(type) {
		case int64, []byte:
			p.constVal = v
		}
	}
	p.name, _ = c.Val(dwarf.AttrName).(string)
	p.typeOff, p.hasType = c.Val(dwarf.AttrType).(dwarf.Offset)
	return p
}

// originParams returns the formal parameters of the DIE at off that are
// not in seen.
func originParams(rdr *dwarf.Reader, off dwarf.Offset, seen map[dwarf.Offset]bool) []*param {
	e := rawEntry(rdr, off)
	if e == nil || !e.Children {
		return nil
	}
	var out []*param
	for i := 0; i < 1<<16; i++ {
		c, err := rdr.Next()
		if err != nil || c == nil || c.Tag == 0 {
			break
		}
		if c.Tag == dwarf.TagFormalParameter && !seen[c.Offset] {
			p := &param{}
			p.name, _ = c.Val(dwarf.AttrName).(string)
			p.typeOff, p.hasType = c.Val(dwarf.AttrType).(dwarf.Offset)
			out = append(out, p)
		}
		if c.Children {
			rdr.SkipChildren()
		}
	}
	return out
}

// inlineChain returns the inlined calls of fn covering pc, innermost
// first.
func (fn *function) inlineChain(pc uint64) []*inlineBlock {
	var best *inlineBlock
	for _, b := range fn.inlines {
		if b.contains(pc) && (best == nil || b.depth > best.depth) {
			best = b
		}
	}
	var out []*inlineBlock
	for b := best; b != nil && len(out) <= best.depth; b = b.parent {
		out = append(out, b)
	}
	return out
}

// startsAt reports whether the inlined call b starts at pc (see the
// comment at the top of the file).
func (b *inlineBlock) startsAt(pc uint64) bool {
	if pc == b.entry {
		return true
	}
	if !b.fn.cu.blockMap || pc == 0 {
		return false
	}
	start := false
	for _, r := range b.ranges {
		if r[0] == pc {
			start = true
		}
	}
	if !start {
		return false
	}
	for _, c := range b.fn.inlineChain(pc - 1) {
		if c == b {
			return false
		}
	}
	return true
}

// inlineFrames returns the inline frames to show for the real frame u
// (innermost first) and, when frame 0 does not enter the innermost
// inlined calls of its chain, the outermost of those skipped (the call
// frame 0 stands at).
func (t *Table) inlineFrames(u *uframe, enter bool) (shown []*inlineBlock, skipped *inlineBlock) {
	if u.tail || u.fn == nil || len(u.fn.inlines) == 0 {
		return nil, nil
	}
	chain := u.fn.inlineChain(u.lookupPC)
	if u.level == 0 && !enter {
		for len(chain) > 0 && chain[0].startsAt(u.pc) {
			skipped = chain[0]
			chain = chain[1:]
		}
	}
	return chain, skipped
}

// tailInline returns the innermost inlined call containing the tail call
// of the tail-call frame u (nil when u is not one, or the tail call is
// not in an inlined call).
func (t *Table) tailInline(u *uframe) *inlineBlock {
	if !u.tail || u.fn == nil {
		return nil
	}
	if chain := u.fn.inlineChain(u.lookupPC); len(chain) > 0 {
		return chain[0]
	}
	return nil
}

// callSal is where the inlined call b is: its DW_AT_call_file and
// DW_AT_call_line.
func (b *inlineBlock) callSal() (string, int) {
	lt := b.fn.cu.lineTable()
	if lt == nil || b.callFile < 0 {
		return "", 0
	}
	return lt.fileName(b.callFile, b.fn.cu.version), b.callLine
}
