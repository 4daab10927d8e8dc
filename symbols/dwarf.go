package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/dwarf/reader"
)

// DWARF 5 and GNU call-site tags and attributes.
const (
	tagCallSite             dwarf.Tag  = 0x48
	tagCallSiteParameter    dwarf.Tag  = 0x49
	tagGNUCallSite          dwarf.Tag  = 0x4109
	tagGNUCallSiteParameter dwarf.Tag  = 0x410a
	attrCallReturnPC        dwarf.Attr = 0x7d
	attrCallValue           dwarf.Attr = 0x7e
	attrCallOrigin          dwarf.Attr = 0x7f
	attrCallTailCall        dwarf.Attr = 0x82
	attrCallTarget          dwarf.Attr = 0x83
	attrCallDataValue       dwarf.Attr = 0x86
	attrGNUCallSiteValue    dwarf.Attr = 0x2111
	attrGNUCallSiteDataVal  dwarf.Attr = 0x2112
	attrGNUCallSiteTarget   dwarf.Attr = 0x2113
	attrGNUTailCall         dwarf.Attr = 0x2115
	attrAddrBase            dwarf.Attr = 0x73
	attrCallAllCalls        dwarf.Attr = 0x7a
	attrCallAllTailCalls    dwarf.Attr = 0x7c
	attrGNUAllTailCallSites dwarf.Attr = 0x2116
	attrGNUAllCallSites     dwarf.Attr = 0x2117
)

// cunit is one DWARF compilation unit. Its functions, call sites and line
// table are read on first use.
type cunit struct {
	img      *image
	entry    *dwarf.Entry
	name     string
	compDir  string
	producer string
	version  int
	lowPC    uint64 // base address for location lists (biased)
	addrBase uint64
	ranges   [][2]uint64

	loaded  bool
	loadErr error
	funcs   []*function
	calls   map[uint64]*callSite // by return address
	// hasLoclist: some variable has a location list (gdb's
	// cu->has_loclist, which makes the unit's locations "valid").
	hasLoclist bool
	lines      *lineTable
	linesOK    bool
	// blockMap: some function, lexical block or inlined call of the unit
	// has several address ranges (gdb then keeps an address map of the
	// unit's blocks, which tells where a block's ranges are entered).
	blockMap bool
}

type cuRange struct {
	lo, hi uint64
	cu     *cunit
}

// function is a DW_TAG_subprogram with code.
type function struct {
	cu        *cunit
	name      string
	entry     uint64
	ranges    [][2]uint64
	frameBase *dwarf.Field
	params    []*param
	// tailCalls are the function's tail call sites, kept only when the
	// producer says the list is complete (DW_AT_call_all_calls or
	// DW_AT_call_all_tail_calls, or their GNU forms), as gdb does: only
	// a complete list can rule out other paths through the function.
	tailCalls    []*callSite
	allTailCalls bool
	// inlines are the inlined calls in the function, at any depth.
	inlines []*inlineBlock
}

type param struct {
	name    string
	typeOff dwarf.Offset
	hasType bool
	loc     *dwarf.Field
	// constVal is DW_AT_const_value (an int64 or a []byte), used when the
	// parameter has no location.
	constVal any
}

// callSite is a DW_TAG_call_site (or DW_TAG_GNU_call_site).
type callSite struct {
	cu       *cunit
	returnPC uint64
	tail     bool
	// Target: exactly one of these is set.
	targetAddr  uint64
	hasAddr     bool
	targetName  string
	targetExpr  []byte
	params      []callParam
	callerEntry uint64
}

const (
	paramReg = iota
	paramFBOffset
)

type callParam struct {
	kind      int
	reg       uint64
	fbOffset  int64
	value     []byte
	dataValue []byte
}

func (img *image) loadDWARF(f *elf.File) {
	defer func() {
		if r := recover(); r != nil {
			img.warn("malformed debug information (%v)", r)
			img.dw, img.units, img.cuRanges = nil, nil, nil
		}
	}()
	img.loadFrames(f)
	if f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil {
		return
	}
	dw, err := f.DWARF()
	if err != nil {
		img.warn("bad DWARF: %v", err)
		return
	}
	img.dw = dw
	img.debugLoc, _ = godwarf.GetDebugSectionElf(f, "loc")
	img.loclists, _ = godwarf.GetDebugSectionElf(f, "loclists")
	img.lineStr, _ = godwarf.GetDebugSectionElf(f, "line_str")
	img.lineSec, _ = godwarf.GetDebugSectionElf(f, "line")
	if a, err := godwarf.GetDebugSectionElf(f, "addr"); err == nil && len(a) > 0 {
		img.addrSec = godwarf.ParseAddr(a)
	}
	info, _ := godwarf.GetDebugSectionElf(f, "info")
	versions := unitVersions(info)

	rdr := reader.New(dw)
	last := dwarf.Offset(0)
	for first := true; ; first = false {
		e, err := rdr.Next()
		if err != nil {
			img.warn("bad DWARF: %v", err)
			break
		}
		if e == nil {
			break
		}
		if !first && e.Offset <= last {
			// A malformed DW_AT_sibling can send debug/dwarf backwards.
			img.warn("bad DWARF: entries out of order at %#x", e.Offset)
			break
		}
		last = e.Offset
		if e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit {
			rdr.SkipChildren()
			continue
		}
		cu := &cunit{img: img, entry: e, version: 4}
		cu.name, _ = e.Val(dwarf.AttrName).(string)
		cu.compDir, _ = e.Val(dwarf.AttrCompDir).(string)
		cu.producer, _ = e.Val(dwarf.AttrProducer).(string)
		if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
			cu.lowPC = lo + img.offset
		}
		if ab, ok := e.Val(attrAddrBase).(int64); ok {
			cu.addrBase = uint64(ab)
		}
		for _, u := range versions {
			if int64(e.Offset) >= u.start && int64(e.Offset) < u.end {
				cu.version = u.version
				break
			}
		}
		rngs, err := dw.Ranges(e)
		if err != nil {
			img.warn("compilation unit %s: %v", cu.name, err)
		}
		for _, r := range rngs {
			if r[1] > r[0] {
				cu.ranges = append(cu.ranges, [2]uint64{r[0] + img.offset, r[1] + img.offset})
				img.cuRanges = append(img.cuRanges, cuRange{r[0] + img.offset, r[1] + img.offset, cu})
			}
		}
		img.units = append(img.units, cu)
		rdr.SkipChildren()
	}
	sort.SliceStable(img.cuRanges, func(i, j int) bool { return img.cuRanges[i].lo < img.cuRanges[j].lo })
}

type unitVersion struct {
	start, end int64
	version    int
}

// unitVersions reads the unit headers of .debug_info (debug/dwarf does not
// export a unit's version, which selects the location list format).
func unitVersions(info []byte) []unitVersion {
	var out []unitVersion
	off := int64(0)
	for off+6 <= int64(len(info)) {
		l := int64(binary.LittleEndian.Uint32(info[off:]))
		hdr := int64(4)
		if l == 0xffffffff {
			if off+14 > int64(len(info)) {
				break
			}
			l = int64(binary.LittleEndian.Uint64(info[off+4:]))
			hdr = 12
		}
		if l < 2 || l > int64(len(info))-off-hdr {
			break
		}
		v := int(binary.LittleEndian.Uint16(info[off+hdr:]))
		out = append(out, unitVersion{off, off + hdr + l, v})
		off += hdr + l
	}
	return out
}

func (img *image) loadFrames(f *elf.File) {
	parse := func(name string, data []byte, ehAddr uint64) {
		defer func() {
			if r := recover(); r != nil {
				img.warn("malformed %s (%v)", name, r)
			}
		}()
		fdes, err := frame.Parse(data, binary.LittleEndian, img.offset, img.ptrSize, ehAddr)
		if err != nil {
			img.warn("%s: %v", name, err)
		}
		img.fdes = img.fdes.Append(fdes)
	}
	if s := f.Section(".eh_frame"); s != nil && s.Type != elf.SHT_NOBITS && s.Addr != 0 {
		if data, err := s.Data(); err == nil && len(data) > 0 {
			parse(".eh_frame", data, s.Addr)
		}
	}
	if data, err := godwarf.GetDebugSectionElf(f, "frame"); err == nil && len(data) > 0 {
		parse(".debug_frame", data, 0)
	}
}

// cuFor returns the compilation unit whose ranges contain pc.
func (img *image) cuFor(pc uint64) *cunit {
	var best *cunit
	bestSize := ^uint64(0)
	i := sort.Search(len(img.cuRanges), func(i int) bool { return img.cuRanges[i].lo > pc })
	for j := i - 1; j >= 0; j-- {
		r := img.cuRanges[j]
		if pc >= r.lo && pc < r.hi && r.hi-r.lo < bestSize {
			best, bestSize = r.cu, r.hi-r.lo
		}
	}
	return best
}

func (t *Table) cuFor(pc uint64) *cunit {
	for _, img := range t.images {
		if cu := img.cuFor(pc); cu != nil {
			return cu
		}
	}
	return nil
}

// load reads the functions and call sites of the unit.
func (cu *cunit) load() error {
	if cu.loaded {
		return cu.loadErr
	}
	cu.loaded = true
	cu.calls = map[uint64]*callSite{}
	defer func() {
		if r := recover(); r != nil {
			cu.loadErr = fmt.Errorf("malformed DWARF in %s (%v)", cu.name, r)
			cu.img.warn("%v", cu.loadErr)
		}
	}()
	img := cu.img
	tree, err := godwarf.LoadTree(cu.entry.Offset, img.dw, img.offset)
	if err != nil {
		cu.loadErr = err
		img.warn("compilation unit %s: %v", cu.name, err)
		return err
	}
	rdr := img.dw.Reader()
	cu.walk(tree, nil, nil, rdr)
	sort.SliceStable(cu.funcs, func(i, j int) bool { return cu.funcs[i].ranges[0][0] < cu.funcs[j].ranges[0][0] })
	return nil
}

func rawEntry(rdr *dwarf.Reader, off dwarf.Offset) *dwarf.Entry {
	rdr.Seek(off)
	e, err := rdr.Next()
	if err != nil || e == nil || e.Offset != off {
		return nil
	}
	return e
}

func (cu *cunit) walk(n *godwarf.Tree, fn *function, blk *inlineBlock, rdr *dwarf.Reader) {
	img := cu.img
	if n.Tag == dwarf.TagVariable || n.Tag == dwarf.TagFormalParameter {
		if f := n.AttrField(dwarf.AttrLocation); f != nil && (f.Class == dwarf.ClassLocList || f.Class == dwarf.ClassLocListPtr) {
			cu.hasLoclist = true
		}
	}
	switch n.Tag {
	case dwarf.TagSubprogram:
		if len(n.Ranges) == 0 {
			break
		}
		raw := rawEntry(rdr, n.Offset)
		if raw == nil {
			break
		}
		f := &function{cu: cu, ranges: n.Ranges}
		f.name, _ = n.Val(dwarf.AttrName).(string)
		if lo, ok := raw.Val(dwarf.AttrLowpc).(uint64); ok {
			f.entry = lo + img.offset
		} else if ep, ok := raw.Val(dwarf.AttrEntrypc).(uint64); ok {
			f.entry = ep + img.offset
		} else if rngs, err := img.dw.Ranges(raw); err == nil && len(rngs) > 0 {
			f.entry = rngs[0][0] + img.offset
		} else {
			f.entry = n.Ranges[0][0]
		}
		if rngs, err := img.dw.Ranges(raw); err == nil && len(rngs) > 1 {
			cu.blockMap = true
		}
		f.frameBase = raw.AttrField(dwarf.AttrFrameBase)
		for _, a := range []dwarf.Attr{attrCallAllCalls, attrCallAllTailCalls, attrGNUAllCallSites, attrGNUAllTailCallSites} {
			if b, ok := raw.Val(a).(bool); ok && b {
				f.allTailCalls = true
			} else if b, ok := n.Val(a).(bool); ok && b {
				f.allTailCalls = true
			}
		}
		for _, c := range n.Children {
			if c.Tag != dwarf.TagFormalParameter {
				continue
			}
			f.params = append(f.params, paramOf(c))
		}
		cu.funcs = append(cu.funcs, f)
		fn, blk = f, nil
	case dwarf.TagInlinedSubroutine:
		blk = cu.addInline(n, fn, blk, rdr)
	case dwarf.TagLexDwarfBlock:
		if raw := rawEntry(rdr, n.Offset); raw != nil {
			if rngs, err := img.dw.Ranges(raw); err == nil && len(rngs) > 1 {
				cu.blockMap = true
			}
		}
	case tagCallSite, tagGNUCallSite:
		cu.addCallSite(n, fn, rdr)
		return
	}
	for _, c := range n.Children {
		cu.walk(c, fn, blk, rdr)
	}
}

func (cu *cunit) addCallSite(n *godwarf.Tree, fn *function, rdr *dwarf.Reader) {
	img := cu.img
	raw := rawEntry(rdr, n.Offset)
	if raw == nil {
		return
	}
	cs := &callSite{cu: cu}
	if fn != nil {
		cs.callerEntry = fn.entry
	}
	ret, ok := raw.Val(attrCallReturnPC).(uint64)
	if !ok {
		ret, ok = raw.Val(dwarf.AttrLowpc).(uint64)
	}
	if !ok {
		return
	}
	cs.returnPC = ret + img.offset
	if b, ok := raw.Val(attrCallTailCall).(bool); ok && b {
		cs.tail = true
	}
	if b, ok := raw.Val(attrGNUTailCall).(bool); ok && b {
		cs.tail = true
	}
	if e, ok := raw.Val(attrCallTarget).([]byte); ok {
		cs.targetExpr = e
	} else if e, ok := raw.Val(attrGNUCallSiteTarget).([]byte); ok {
		cs.targetExpr = e
	} else {
		origin, ok := raw.Val(attrCallOrigin).(dwarf.Offset)
		if !ok {
			origin, ok = raw.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		}
		if ok {
			cu.resolveCallOrigin(cs, origin, rdr)
		}
	}
	for _, c := range n.Children {
		if c.Tag != tagCallSiteParameter && c.Tag != tagGNUCallSiteParameter {
			continue
		}
		pe := rawEntry(rdr, c.Offset)
		if pe == nil {
			continue
		}
		loc, _ := pe.Val(dwarf.AttrLocation).([]byte)
		var cp callParam
		if r, ok := blockToReg(loc); ok {
			cp.kind, cp.reg = paramReg, r
		} else if off, ok := blockToSPOffset(loc, img.bits); ok {
			cp.kind, cp.fbOffset = paramFBOffset, off
		} else {
			continue
		}
		cp.value, _ = pe.Val(attrCallValue).([]byte)
		if cp.value == nil {
			cp.value, _ = pe.Val(attrGNUCallSiteValue).([]byte)
		}
		cp.dataValue, _ = pe.Val(attrCallDataValue).([]byte)
		if cp.dataValue == nil {
			cp.dataValue, _ = pe.Val(attrGNUCallSiteDataVal).([]byte)
		}
		cs.params = append(cs.params, cp)
	}
	cu.calls[cs.returnPC] = cs
	if cs.tail && fn != nil && fn.allTailCalls {
		fn.tailCalls = append(fn.tailCalls, cs)
	}
}

// resolveCallOrigin sets the static target of a call site from the DIE its
// DW_AT_call_origin refers to, like gdb: a declaration is looked up by name,
// a definition gives its entry address.
func (cu *cunit) resolveCallOrigin(cs *callSite, off dwarf.Offset, rdr *dwarf.Reader) {
	img := cu.img
	e := rawEntry(rdr, off)
	if e == nil {
		return
	}
	// Follow abstract origins to find a name/declaration flag.
	full, _ := godwarf.LoadAbstractOriginAndSpecification(e, img.dw.Reader())
	if decl, _ := full.Val(dwarf.AttrDeclaration).(bool); decl {
		name, _ := full.Val(dwarf.AttrLinkageName).(string)
		if name == "" {
			name, _ = full.Val(dwarf.AttrName).(string)
		}
		cs.targetName = name
		return
	}
	if lo, ok := e.Val(dwarf.AttrLowpc).(uint64); ok {
		cs.targetAddr, cs.hasAddr = lo+img.offset, true
		return
	}
	if rngs, err := img.dw.Ranges(e); err == nil && len(rngs) > 0 {
		cs.targetAddr, cs.hasAddr = rngs[0][0]+img.offset, true
		return
	}
	if name, ok := full.Val(dwarf.AttrName).(string); ok {
		cs.targetName = name
	}
}

// funcFor returns the innermost DWARF function containing pc.
func (cu *cunit) funcFor(pc uint64) *function {
	if cu.load() != nil && len(cu.funcs) == 0 {
		return nil
	}
	var best *function
	var bestSize uint64
	for _, f := range cu.funcs {
		for _, r := range f.ranges {
			if pc >= r[0] && pc < r[1] {
				size := r[1] - r[0]
				if best == nil || size < bestSize {
					best, bestSize = f, size
				}
			}
		}
	}
	return best
}

func (t *Table) funcFor(pc uint64) *function {
	if cu := t.cuFor(pc); cu != nil {
		return cu.funcFor(pc)
	}
	return nil
}

func (img *image) funcByName(name string) *function {
	for _, cu := range img.units {
		if cu.load() != nil {
			continue
		}
		for _, f := range cu.funcs {
			if f.name == name {
				return f
			}
		}
	}
	return nil
}

// callSiteFor finds the call site whose return address is pc, in the unit
// containing pc-1 (gdb's call_site_for_pc).
func (t *Table) callSiteFor(pc uint64) *callSite {
	cu := t.cuFor(pc - 1)
	if cu == nil || cu.load() != nil && cu.calls == nil {
		return nil
	}
	return cu.calls[pc]
}

// typeOf reads a DWARF type with delve's godwarf.
func (img *image) typeOf(off dwarf.Offset) (typ godwarf.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			typ, err = nil, fmt.Errorf("malformed type at %#x (%v)", off, r)
		}
	}()
	return godwarf.ReadType(img.dw, 0, off, img.types)
}

// gccEpilogueValid reports whether gcc's CFI for this unit describes
// epilogues too (gcc >= 4.5), like gdb's epilogue_unwind_valid.
func (cu *cunit) gccEpilogueValid() bool {
	p := cu.producer
	if !strings.HasPrefix(p, "GNU ") || strings.HasPrefix(p, "GNU AS") {
		return false
	}
	for _, w := range strings.Fields(p)[1:] {
		parts := strings.SplitN(w, ".", 3)
		if len(parts) < 2 {
			continue
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			continue
		}
		return major > 4 || major == 4 && minor >= 5
	}
	return false
}

// blockToReg recognises a DWARF block that is exactly DW_OP_regN/DW_OP_regx.
func blockToReg(b []byte) (uint64, bool) {
	if len(b) == 1 && b[0] >= 0x50 && b[0] <= 0x6f {
		return uint64(b[0] - 0x50), true
	}
	if len(b) > 1 && b[0] == 0x90 {
		r, n := uleb(b[1:])
		if n > 0 && 1+n == len(b) {
			return r, true
		}
	}
	return 0, false
}

// blockToRegDeref recognises DW_OP_bregN 0; DW_OP_deref[_size N].
func blockToRegDeref(b []byte, ptrSize int) (reg uint64, size int, ok bool) {
	var i int
	switch {
	case len(b) > 0 && b[0] >= 0x70 && b[0] <= 0x8f:
		reg, i = uint64(b[0]-0x70), 1
	case len(b) > 0 && b[0] == 0x92:
		r, n := uleb(b[1:])
		if n == 0 {
			return 0, 0, false
		}
		reg, i = r, 1+n
	default:
		return 0, 0, false
	}
	off, n := sleb(b[i:])
	if n == 0 || off != 0 {
		return 0, 0, false
	}
	i += n
	if i < len(b) && b[i] == 0x06 && i+1 == len(b) {
		return reg, ptrSize, true
	}
	if i+1 < len(b) && b[i] == 0x94 && i+2 == len(b) {
		return reg, int(b[i+1]), true
	}
	return 0, 0, false
}

// blockToFBOffset recognises DW_OP_fbreg(N).
func blockToFBOffset(b []byte) (int64, bool) {
	if len(b) > 1 && b[0] == 0x91 {
		off, n := sleb(b[1:])
		if n > 0 && 1+n == len(b) {
			return off, true
		}
	}
	return 0, false
}

// blockToSPOffset recognises DW_OP_breg<SP>(N), the location of a stack
// parameter at a call site.
func blockToSPOffset(b []byte, bits int) (int64, bool) {
	sp := byte(4)
	if bits == 64 {
		sp = 7
	}
	if len(b) > 1 && b[0] == 0x70+sp {
		off, n := sleb(b[1:])
		if n > 0 && 1+n == len(b) {
			return off, true
		}
	}
	if len(b) > 2 && b[0] == 0x92 {
		r, n := uleb(b[1:])
		if n > 0 && r == uint64(sp) {
			off, m := sleb(b[1+n:])
			if m > 0 && 1+n+m == len(b) {
				return off, true
			}
		}
	}
	return 0, false
}

func uleb(b []byte) (uint64, int) {
	var v uint64
	var shift uint
	for i, c := range b {
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

func sleb(b []byte) (int64, int) {
	var v int64
	var shift uint
	for i, c := range b {
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// funcName names the function containing pc: the DWARF function, else the
// ELF symbol (gdb's find_frame_funname). It also returns the function's
// start address (0 if unknown).
func (t *Table) funcName(pc uint64) (string, uint64) {
	if fn := t.funcFor(pc); fn != nil {
		return fn.name, fn.entry
	}
	for _, img := range t.images {
		if m, _ := img.lookupMsym(pc); m != nil {
			return m.name, m.addr
		}
	}
	return "", 0
}
