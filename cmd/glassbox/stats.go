package main

import (
	"fmt"
	"io"
	"syscall"
	"time"

	"glassbox/machine"
)

// writeStats prints the -stats report: execution, translation and TLB
// counters, wall time, MIPS and peak memory.
func writeStats(w io.Writer, m *machine.Machine, wall time.Duration) {
	var insns uint64
	for _, c := range m.CPUs {
		insns += c.ICount
	}
	st := m.TBs.Stats
	fmt.Fprintf(w, "glassbox stats:\n")
	fmt.Fprintf(w, "  instructions        %d\n", insns)
	fmt.Fprintf(w, "  wall time           %.3f s\n", wall.Seconds())
	if wall > 0 {
		fmt.Fprintf(w, "  MIPS                %.1f\n", float64(insns)/wall.Seconds()/1e6)
	}
	fmt.Fprintf(w, "  TBs generated       %d (valid now %d)\n", st.Generated, m.TBs.Len())
	fmt.Fprintf(w, "  TBs invalidated     %d\n", st.Invalidated)
	fmt.Fprintf(w, "  TB flushes          %d\n", st.Flushes)
	fmt.Fprintf(w, "  SMC events          %d\n", st.SMCEvents)
	jc := st.JCHits + st.JCMisses
	if jc > 0 {
		fmt.Fprintf(w, "  jump-cache hit rate %.2f%% (%d of %d)\n", 100*float64(st.JCHits)/float64(jc), st.JCHits, jc)
	}
	if st.Links > 0 || st.Chained > 0 {
		fmt.Fprintf(w, "  TB chaining         %d links made, %d TB entries through a link\n", st.Links, st.Chained)
	}
	if st.Lookups > 0 {
		fmt.Fprintf(w, "  TB-table hit rate   %.2f%% (%d of %d)\n", 100*float64(st.Hits)/float64(st.Lookups), st.Hits, st.Lookups)
	}
	for _, c := range m.CPUs {
		t := c.TLB()
		ts := t.Stats
		fmt.Fprintf(w, "  CPU %d TLB           hits %d, misses %d, fills %d, flushes all %d / non-global %d / page %d\n",
			c.ID, t.TotalHits(), ts.Misses, ts.Fills, ts.FlushAll, ts.FlushNonGlob, ts.FlushPage)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		fmt.Fprintf(w, "  peak RSS            %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
}
