package symbols

import (
	"strings"
	"testing"
)

// tailGraph builds a table with one unit of functions, each 0x100 bytes
// at 0x1000*(i+1), and their tail calls: edges "A>B" are tail calls from
// A to B (their return address is A's entry + 0x10*k), and the caller's
// call site, at 0x100 + 5 in no function, calls the first function named.
type tailGraph struct {
	tab   *Table
	cu    *cunit
	funcs map[string]*function
	sites map[string]*callSite // "A>B"
}

func newTailGraph(t *testing.T, names string, complete bool, edges ...string) *tailGraph {
	t.Helper()
	img := &image{bits: 32, ptrSize: 4, byName: map[string]int{}}
	cu := &cunit{img: img, loaded: true, calls: map[uint64]*callSite{}}
	img.units = []*cunit{cu}
	img.cuRanges = []cuRange{{0, 0x100000, cu}}
	g := &tailGraph{tab: &Table{images: []*image{img}}, cu: cu, funcs: map[string]*function{}, sites: map[string]*callSite{}}
	for i, n := range strings.Fields(names) {
		a := uint64(0x1000 * (i + 1))
		f := &function{cu: cu, name: n, entry: a, ranges: [][2]uint64{{a, a + 0x100}}, allTailCalls: complete}
		cu.funcs = append(cu.funcs, f)
		g.funcs[n] = f
	}
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		f, tf := g.funcs[from], g.funcs[to]
		if f == nil {
			t.Fatalf("edge %s: no function %s", e, from)
		}
		cs := &callSite{cu: cu, tail: true, returnPC: f.entry + 0x10*uint64(len(f.tailCalls)+1)}
		if tf != nil {
			cs.targetAddr, cs.hasAddr = tf.entry, true
		} else {
			cs.targetAddr, cs.hasAddr = 0x90000, true // no function there
		}
		cu.calls[cs.returnPC] = cs
		if f.allTailCalls {
			f.tailCalls = append(f.tailCalls, cs)
		}
		g.sites[e] = cs
	}
	return g
}

// chain returns the tail-call frames' functions between a caller calling
// first and the callee, as "A B" from the callee's side.
func (g *tailGraph) chain(first, callee string) string {
	caller := &callSite{cu: g.cu, returnPC: 0x105, targetAddr: g.funcs[first].entry, hasAddr: true}
	g.cu.calls[caller.returnPC] = caller
	ev := &evaluator{t: g.tab}
	var names []string
	for _, cs := range g.tab.tailChain(ev, caller.returnPC, g.funcs[callee].entry) {
		names = append(names, g.tab.funcFor(cs.returnPC-1).name)
	}
	return strings.Join(names, " ")
}

func TestTailChain(t *testing.T) {
	for _, c := range []struct {
		desc     string
		funcs    string
		complete bool
		edges    []string
		first    string
		callee   string
		want     string
	}{
		{"direct call", "A B", true, []string{"A>B"}, "B", "B", ""},
		{"one tail call", "A B", true, []string{"A>B"}, "A", "B", "A"},
		{"two tail calls", "A B C", true, []string{"A>B", "B>C"}, "A", "C", "B A"},
		{"no path", "A B C", true, []string{"A>B"}, "A", "C", ""},
		{"incomplete tail call lists", "A B", false, []string{"A>B"}, "A", "B", ""},
		{"unknown function on the way", "A B C", true, []string{"A>X", "A>B", "B>C"}, "A", "C", ""},
		{"common start and end", "A X C D Y E", true,
			[]string{"A>X", "X>C", "X>D", "C>Y", "D>Y", "Y>E"}, "A", "E", "Y A"},
		{"common start only", "A X C D E", true,
			[]string{"A>X", "X>C", "X>D", "C>E", "D>E"}, "A", "E", "A"},
		{"two ways, nothing in common", "P L B", true,
			[]string{"P>L", "P>B", "B>L", "L>B"}, "P", "L", ""},
		{"a self tail call on the way", "A B", true, []string{"A>A", "A>B"}, "A", "B", "A"},
	} {
		g := newTailGraph(t, c.funcs, c.complete, c.edges...)
		if got := g.chain(c.first, c.callee); got != c.want {
			t.Errorf("%s: tail-call frames %q, want %q", c.desc, got, c.want)
		}
	}
}

// TestTailChainBounded: a graph with exponentially many paths gives up
// (no frames) instead of enumerating them all.
func TestTailChainBounded(t *testing.T) {
	names := "S"
	var edges []string
	prev := "S"
	for i := 0; i < 30; i++ {
		a, b, j := "a"+string(rune('A'+i)), "b"+string(rune('A'+i)), "j"+string(rune('A'+i))
		names += " " + a + " " + b + " " + j
		edges = append(edges, prev+">"+a, prev+">"+b, a+">"+j, b+">"+j)
		prev = j
	}
	names += " E"
	edges = append(edges, prev+">E")
	g := newTailGraph(t, names, true, edges...)
	if got := g.chain("S", "E"); got != "" {
		t.Errorf("tail-call frames %q, want none", got)
	}
}
