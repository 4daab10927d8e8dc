package repl

import (
	"strings"
	"testing"
)

// atBreak stops the demo at the store into its read-only page (after the
// first page fault, before the second): paging is on and the TB cache,
// TLB and dirty bits hold interesting state.
var atBreak = []string{"break 0xf0286", "continue"}

func with(setup []string, lines ...string) []string {
	return append(append([]string{}, setup...), lines...)
}

// goldenCases: each runs its lines on a fresh demo machine and compares
// the transcript with testdata/NAME.golden.
var goldenCases = []struct {
	name  string
	lines []string
}{
	{"help", []string{"help", "help x", "help info", "help tb list", "help i r", "help nosuch"}},
	{"run_control", []string{"cpu", "si", "si 4", "stepi", "until 0xf0286", "cpu 0",
		"break 0xf0295", "b $pc+0x15", "watch 0x201000", "watch -r -phys 0x504 4", "watch -a 0x202000 8",
		"info breakpoints", "continue", "continue", "delete 3 4", "info breakpoints", "continue",
		"delete", "info breakpoints", "continue", "continue", "si", "until 0x0", "pause", "quit"}},
	{"info_registers", with([]string{"info registers"}, with(atBreak, "info registers", "info registers -a", "i r -cpu 0")...)},
	{"info_cpus", with([]string{"info cpus", "info mode"}, with(atBreak, "info cpus", "info mode", "continue", "info cpus")...)},
	{"info_gdt", with(atBreak, "info gdt", "info ldt", "info tss")},
	{"info_idt", with([]string{"info idt"}, with(atBreak, "info idt")...)},
	{"apic", with(atBreak, "info lapic", "info ioapic", "info lapic -cpu 1")},
	{"pic_post", []string{"info pic", "info post", "break -phys 0xf0000", "info breakpoints", "continue", "info post",
		"delete", "until 0xf0286", "info pic", "info post"}},
	{"x", with(atBreak, "x/8xb $esp-8", "x/4xh 0x10000", "x/4xw 0x10000", "x/2xg 0x10000", "x", "x/3dw 0x200000",
		"x/2uw 0x200000", "x/2ow 0x200000", "x/2tw 0x200000", "x/2tb 0x200000", "x/8c 0xf090d", "x/2s 0xf090d", "x/s 0xf0acf",
		"x/3i $pc", "x/4xw 0x500000", "x/4xw 0x3ffff8", "x/2xg $esp")},
	{"xp", with(atBreak, "xp/4xw 0x10000", "xp/2xg 0x11800", "xp/s 0xf0a82", "xp/4xb 0xfee00000", "xp/2i 0xffff0", "xp")},
	{"disas", with(atBreak, "disas", "disas $pc 3", "disas 0xf05b0 4", "disas -16 0xffff0 1", "disas 0x500000")},
	{"gva2gpa", with([]string{"gva2gpa 0x1000"}, with(atBreak, "gva2gpa 0x201000", "gva2gpa $pc", "gva2gpa 0x500000")...)},
	{"info_tlb", with([]string{"info tlb", "info mem"}, with(atBreak, "info tlb 0x1fe000 0x8000", "info tlb 0x3ff000", "info mem")...)},
	{"info_mtree", []string{"info mtree"}},
	{"report_crash", with(atBreak, "report crash")},
	{"symbols", []string{"bt", "info symbol 0x100000", "symbols load ../symbols/testdata/k32-O1.elf", "info symbol deep_function",
		"info symbol deep_function+3", "info line deep_function", "list kernel.c:42", "bt -n 2", "bt all", "symbols load /nonexistent",
		"list nosuch", "bt bogus"}},
	{"script_cmds", []string{"expect stop exited", "run-until icount 1000", "run-until pc 0xf0286", "expect reg eip == 0xf0286",
		"expect reg eip != 0xf0286", "expect mem 0x201000 u32 == 0", "expect mem 0x201000 u64 != 0", "expect mem 0x500000 u8 == 0",
		"run-until serial \\[3\\]", "expect serial crc32", "expect serial \\[3\\]", "run-until serial PASS -max 100",
		"run-until serial PASS", `expect serial "demo: PASS"`, "run-until exit", "expect exit 1", "expect exit 3", "expect stop exited",
		"run-until serial never -max 10", "run-until bogus", "expect bogus", "expect reg eax <= 1", "expect mem 0 u7 == 1"}},
	{"script_helpers", []string{"set", "set greeting = \"hello  there\"", "set n=3", "set", "set 9 = x", "set x y",
		"echo one two", `echo "tab\\there" \\x41`, "echo bad\\", "send-serial \"hi\\r\\n\"", "send-serial \"\\x4\"",
		"on crash { bt }", "source /nonexistent/s.gb", "source /dev/zero", "dump-guest-memory core",
		"expect bt", "expect bt main", "break 0xf0286", "continue", "expect bt nosuch",
		"info mode", "expect output protected", "expect output \"real mode\"", "expect output", "expect output (",
		"set $eax = 0x1234", "expect reg eax == 0x1234", "set $ebx = $eax+2", "expect reg ebx == 0x1236", "set $eax = -1",
		"set $nosuch = 1", "set $eax = zz"}},
	{"catch", []string{"catch tlb-fill 0xfffff000", "info catchpoints", "continue", "delete 1", "catch code-protect",
		"catch exception 14", "catch bogus", "catch hlt 3", "catch io zz", "info catchpoints", "continue", "continue",
		"info catchpoints -json", "delete", "info catchpoints"}},
	{"dump_memory", []string{"dump-memory out.bin 0x10000 0x1000", "pmemsave out.bin 0 0"}},
	{"tb_list", with(atBreak, "tb list -n 8", "tb list -sort hits -n 5", "tb list -sort size -n 3",
		"tb list -sort recent -n 3", "tb list -page 0xfffff000", "tb list -cpu 0 -n 2 -all")},
	{"tb_show", with(atBreak, "tb show 1", "tb show 0xf0237", "tb show 14", "tb show 0x0")},
	{"tb_stats", with(atBreak, "tb stats", "info jit")},
	{"tb_flush", with(atBreak, "tb flush", "tb list", "tb list -all", "si", "tb list", "tb stats")},
	{"exec_history", with(atBreak, "info exec-history -n 8", "info exec-history", "tb flush", "info exec-history -n 2")},
	{"tlb", with(atBreak, "tlb dump -all -page $pc", "tlb dump -page zz", "tlb dump", "tlb dump -all", "tlb stats", "tlb flush 0x201000", "tlb dump", "tlb flush",
		"tlb dump", "si", "tlb dump", "tlb stats")},
	{"dirty", with(atBreak, "dirty", "dirty 0x200000 0x5000", "dirty -client code", "dirty -client display 0x0 0x3000",
		"dirty clear -client migration", "dirty", "continue", "dirty -client migration", "dirty stats",
		"dirty clear -client display 0x0 0x100000", "dirty stats")},
	{"dirty_map", with(atBreak, "dirty map", "dirty clear -client migration", "continue", "dirty map",
		"dirty map 0x0 0x400000", "dirty map -client display 0xf0000 0x10000")},
	{"errors", []string{"", "# a comment", "foo", "info", "info foo", "info r", "x/9q 0", "break", "break zz",
		"tb show 99999", "tb show 0x123", "cpu 5", "stepi 0", "watch 0x0 0", "watch -r -w 0x0", "delete 99", "delete x",
		"dirty clear", "dirty clear -client code", "tb list -sort bogus", "tb list -n", "i r -foo", "x/0x 0",
		`dump-memory "unterminated`, "x $nosuch", "x 0x10+", "c extra", "di", "x/4xw", "dirty map 0x1000",
		"help info nosuch", "x 99999999999999999999999"}},
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			r, out, _ := demo(t)
			golden(t, c.name, transcript(r, out, c.lines))
		})
	}
}

// TestGoldenCoversCommands checks that every command of the table appears
// in some golden case (so new commands get a golden test).
func TestGoldenCoversCommands(t *testing.T) {
	used := map[string]bool{}
	for _, c := range goldenCases {
		for _, l := range c.lines {
			toks, err := tokenize(l)
			if err != nil || len(toks) == 0 {
				continue
			}
			if cmd, _, _, err := lookup(toks); err == nil {
				used[cmd.Name] = true
			}
		}
	}
	for _, c := range Commands() {
		if !used[c.Name] && !hostCommands[c.Name] {
			t.Errorf("command %q has no golden test", c.Name)
		}
	}
}

// TestDeterministic runs a case twice: outputs are stable run to run.
func TestDeterministic(t *testing.T) {
	lines := with(atBreak, "tb list -sort hits -n 5", "tlb dump", "info exec-history -n 4", "tb stats")
	r1, o1, _ := demo(t)
	r2, o2, _ := demo(t)
	a, b := transcript(r1, o1, lines), transcript(r2, o2, lines)
	if a != b {
		t.Fatalf("two runs differ:\n%s", diff(a, b))
	}
	if !strings.Contains(a, "Breakpoint 1") {
		t.Fatalf("no breakpoint stop:\n%s", a)
	}
}
