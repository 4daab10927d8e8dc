package repl

import (
	"strings"
	"testing"
)

// hostCommands print host goroutine IDs and addresses, which differ run to
// run; TestHostCommands checks their structure instead of a golden file.
var hostCommands = map[string]bool{"info threads": true, "threads bt": true, "analyze hang": true}

// TestHostCommands reproduces the first seed from the REPL: stop at the
// TLB fill of the reset vector's code page, then print the vCPU
// goroutine's host stack — the chain exec loop → TB find → TB table
// lookup → code page address → TLB fill → page walk result installed.
func TestHostCommands(t *testing.T) {
	r, out, _ := demo(t)
	run := func(line string) string {
		out.Reset()
		if err := r.Exec(line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return out.String()
	}
	run("catch tlb-fill 0xfffff000")
	if s := run("continue"); !strings.Contains(s, "tlb fill la=0xfffffff0") {
		t.Fatalf("continue: %s", s)
	}
	bt := run("thread apply all bt -filter CPU")
	if !strings.Contains(bt, `"CPU 0/TCG"`) || !strings.Contains(bt, "parked in a catchpoint") {
		t.Fatalf("no parked CPU thread:\n%s", bt)
	}
	pos := len(bt)
	for _, f := range []string{"glassbox/cpu.(*CPU).Exec", "glassbox/cpu.(*CPU).runSome", "glassbox/cpu.(*CPU).findTB",
		"glassbox/cpu.(*CPU).lookupTB", "glassbox/cpu.(*CPU).fetchPage", "glassbox/cpu.(*CPU).fillTLB",
		"glassbox/cpu.(*CPU).installTLB", "glassbox/machine.(*Machine).fire"} {
		i := strings.LastIndex(bt[:pos], " in "+f+" ")
		if i < 0 {
			t.Fatalf("chain lacks %s (or out of order):\n%s", f, bt)
		}
		pos = i
	}
	if !strings.Contains(bt, "#0  0x") {
		t.Errorf("frames not in gdb format:\n%s", bt)
	}
	th := run("info threads")
	if !strings.Contains(th, `"CPU 0/TCG"`) || !strings.Contains(th, "Goroutine") {
		t.Errorf("info threads:\n%s", th)
	}
	if g := run("threads bt -group -n 3"); !strings.Contains(g, "Thread ") {
		t.Errorf("grouped dump:\n%s", g)
	}
	rep := run("analyze hang")
	if first := strings.SplitN(rep, "\n", 2)[0]; first == "" || strings.Contains(strings.ToLower(first), "deadlock") {
		t.Errorf("analyze hang verdict %q for a machine stopped at a catchpoint:\n%s", first, rep)
	}
	if !strings.Contains(rep, "catchpoint") {
		t.Errorf("analysis does not mention the parked vCPU:\n%s", rep)
	}
	if err := r.Exec("threads bt -n x"); err == nil {
		t.Error("bad -n accepted")
	}
}
