package repl

import (
	"bytes"
	"fmt"
	"strings"
)

// cmdReportCrash assembles the crash report from the other commands, so
// it shows exactly what they show: per vCPU the exception chain, the
// registers, the faulting instruction, the guest backtrace, the page walk
// of CR2 and its software-TLB entries, and the last TBs executed; then the
// last serial lines.
func cmdReportCrash(ctx *Context, _ []string) error {
	st := ctx.T.LastStop()
	stop := "the guest has not run yet"
	if st != nil {
		stop = st.String()
	}
	serial, _ := ctx.T.SerialOutput()
	tail := lastLines(string(serial), 10)
	type cpuReport struct {
		CPU       int      `json:"cpu"`
		Mode      string   `json:"mode"`
		PC        uint64   `json:"pc"`
		CR2       uint64   `json:"cr2"`
		Chain     []string `json:"exception_chain"`
		Insn      string   `json:"instruction"`
		Backtrace []string `json:"backtrace"`
		Walk      []string `json:"cr2_page_walk"`
		TLB       []string `json:"cr2_tlb_entries"`
		History   []string `json:"exec_history"`
		Registers string   `json:"registers"`
	}
	var cpus []cpuReport
	run := func(line string) string {
		var b bytes.Buffer
		old := ctx.R.out
		ctx.R.out = &b
		err := ctx.R.Exec(line)
		ctx.R.out = old
		if err != nil {
			return "(" + err.Error() + ")\n"
		}
		return b.String()
	}
	for i := 0; i < ctx.T.NumCPUs(); i++ {
		r, err := ctx.T.Regs(i)
		if err != nil {
			return err
		}
		c := fmt.Sprint(i)
		rep := cpuReport{CPU: i, Mode: r.Mode, PC: r.PC, CR2: r.CR2, Chain: r.ExcChain,
			Insn:      strings.TrimSpace(ctx.R.insnLine(i, r.PC, true)),
			Backtrace: splitLines(run("bt -cpu " + c)),
			Walk:      splitLines(run(fmt.Sprintf("gva2gpa -cpu %s %#x", c, r.CR2))),
			TLB:       splitLines(run(fmt.Sprintf("tlb dump -cpu %s -all -page %#x", c, r.CR2))),
			History:   splitLines(run("info exec-history -cpu " + c + " -n 8")),
			Registers: run("info registers -cpu " + c)}
		cpus = append(cpus, rep)
	}
	if ctx.Has("json") {
		return ctx.EmitJSON(map[string]any{"stop": stop, "cpus": cpus, "serial_tail": tail})
	}
	ctx.Printf("=== crash report ===\nstop: %s\n", stop)
	for _, c := range cpus {
		ctx.Printf("\n--- CPU %d (%s) ---\n", c.CPU, c.Mode)
		if len(c.Chain) > 0 {
			ctx.Printf("exception chain: %s\n", strings.Join(c.Chain, " -> "))
		}
		ctx.Printf("faulting/next instruction: %s\n", c.Insn)
		ctx.Printf("backtrace:\n%s", indent(c.Backtrace))
		ctx.Printf("page walk of CR2 (%#x):\n%s", c.CR2, indent(c.Walk))
		ctx.Printf("software TLB entries for CR2's page:\n%s", indent(c.TLB))
		ctx.Printf("last TBs executed:\n%s", indent(c.History))
		ctx.Printf("registers:\n%s", c.Registers)
	}
	ctx.Printf("\nlast serial lines:\n%s", indent(tail))
	return nil
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func lastLines(s string, n int) []string {
	l := splitLines(s)
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return l
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
