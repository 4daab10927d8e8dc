package gdbstub

import (
	"regexp"
	"strings"
	"testing"

	"glassbox/machine"
)

// TestGDBSMP drives the real gdb on a 4-vCPU guest (guests/smp): break in
// the application processors' C entry, then `info threads` lists the four
// vCPUs and `thread N` shows each one's own registers.
func TestGDBSMP(t *testing.T) {
	gdbPath(t)
	elf, addr := serveGuest(t, "smp", machine.Config{RAM: 128 << 20, CPUs: 4})

	out := runGDB(t, "file "+elf, "target remote "+addr, "break ap_main", "continue",
		"info threads", "thread 1", "p/x $pc", "thread 2", "p/x $pc", "thread 4", "p/x $pc", "detach")
	if n := len(regexp.MustCompile(`(?m)^[* ] +[1-4] +Thread [1-4]`).FindAllString(out, -1)); n != 4 {
		t.Fatalf("info threads lists %d vCPUs, want 4:\n%s", n, out)
	}
	if !strings.Contains(out, "Breakpoint 1, ") || !strings.Contains(out, "ap_main") {
		t.Fatalf("no stop in ap_main:\n%s", out)
	}
	pcs := regexp.MustCompile(`(?m)^\$\d+ = (0x[0-9a-f]+)`).FindAllStringSubmatch(out, -1)
	if len(pcs) != 3 {
		t.Fatalf("want 3 pc values:\n%s", out)
	}
	distinct := map[string]bool{}
	for _, p := range pcs {
		distinct[p[1]] = true
	}
	t.Logf("gdb session:\n%s", out)
	if len(distinct) < 2 {
		t.Fatalf("every vCPU shows the same pc %v: threads do not show their own registers\n%s", pcs, out)
	}
}
