package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// inlineStops stop testdata/inline.c in and around inlined calls. "@f" is
// the start of the first range of the first inlined call of f (gdb 13's
// entry of the call), "@f#2" of its second call, "@f.entry" its
// DW_AT_entry_pc; kmain calls mid forever, so each group starting with
// "delete" stops in the next call of mid at the latest.
var inlineStops = []stop{
	// A breakpoint at the address where one's code starts (at -O2 also
	// mid's first instruction): gdb is in one.
	{cmds: []string{"break *@one", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"stepi"}},
	// The same address as a breakpoint on mid's name: gdb stays in mid
	// when one starts there.
	{cmds: []string{"delete", "break mid", "continue"}, notStep: true},
	// leaf called from one: a caller frame in an inlined call.
	{cmds: []string{"delete", "break leaf", "continue"}},
	{cmds: []string{"finish"}},
	// Two levels: outer, then inner inside outer.
	{cmds: []string{"delete", "break *@outer", "continue"}},
	{cmds: []string{"stepi 2"}},
	{cmds: []string{"delete", "break *@inner", "continue"}},
	{cmds: []string{"delete", "break *@inner.entry", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"delete", "break leaf", "continue"}},
	{cmds: []string{"finish"}},
	{cmds: []string{"stepi 3"}},
	// bump inlined twice into twice.
	{cmds: []string{"delete", "break *@bump", "continue"}},
	{cmds: []string{"delete", "break *@bump.entry", "continue"}},
	{cmds: []string{"delete", "break *@bump#2", "continue"}},
	{cmds: []string{"stepi"}},
	// leaf_t, reached by a tail call from the inlined tail_in at -O2.
	{cmds: []string{"delete", "break leaf_t", "continue"}},
	{cmds: []string{"stepi"}},
	{cmds: []string{"delete", "break hop", "continue"}, notStep: true},
	{cmds: []string{"stepi"}},
	// Stops at each write of sink from the start of one: a watchpoint
	// stop that lands where an inlined call starts shows the caller.
	{cmds: []string{"delete", "break *@one", "continue", "delete", "watch sink", "continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
	{cmds: []string{"continue"}, notStep: true},
}

var inlineRef = regexp.MustCompile(`@([a-z_0-9]+)(#[0-9]+)?(\.entry)?`)

// resolveInline replaces the "@f" references of cmd by addresses read from
// the ELF file's DWARF with debug/dwarf.
func resolveInline(t *testing.T, path, cmd string) string {
	return inlineRef.ReplaceAllStringFunc(cmd, func(ref string) string {
		m := inlineRef.FindStringSubmatch(ref)
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2][1:])
		}
		calls := inlinedCalls(t, path)[m[1]]
		if len(calls) < n {
			t.Fatalf("%s: no inlined call #%d of %s", path, n, m[1])
		}
		if m[3] != "" {
			return fmt.Sprintf("%#x", calls[n-1][1])
		}
		return fmt.Sprintf("%#x", calls[n-1][0])
	})
}

// inlinedCalls returns, by function name, the first range start and the
// entry pc of each inlined call.
func inlinedCalls(t *testing.T, path string) map[string][][2]uint64 {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatal(err)
	}
	names := map[dwarf.Offset]string{}
	type call struct {
		origin       dwarf.Offset
		start, entry uint64
	}
	var calls []call
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			names[e.Offset] = n
		}
		if e.Tag != dwarf.TagInlinedSubroutine {
			continue
		}
		rngs, err := d.Ranges(e)
		if err != nil || len(rngs) == 0 {
			t.Fatalf("inlined call at %#x: no ranges (%v)", e.Offset, err)
		}
		c := call{start: rngs[0][0], entry: rngs[0][0]}
		c.origin, _ = e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if ep, ok := e.Val(dwarf.AttrEntrypc).(uint64); ok {
			c.entry = ep
		}
		calls = append(calls, c)
	}
	out := map[string][][2]uint64{}
	for _, c := range calls {
		out[names[c.origin]] = append(out[names[c.origin]], [2]uint64{c.start, c.entry})
	}
	return out
}

// TestInlineFramesMatchGDB: gdb shows a frame for each inlined call
// covering the pc (nested ones too, in caller frames as well), with the
// inlined function's arguments, and does not enter an inlined call
// starting at the pc unless the stop is a single step or a breakpoint at
// an address; glassbox must show the same frames.
func TestInlineFramesMatchGDB(t *testing.T) {
	needTools(t, "gcc", "gdb")
	for _, kind := range []string{"k32", "u64"} {
		for _, opt := range []int{1, 2} {
			g := guestBuild(kind, opt)
			g.name = fmt.Sprintf("inline-%s-O%d", kind, opt)
			g.srcs[len(g.srcs)-1] = "inline.c"
			g.stops = inlineStops
			g.resolveCmd = resolveInline
			t.Run(g.name, func(t *testing.T) { compareWithGDB(t, g) })
		}
	}
}
