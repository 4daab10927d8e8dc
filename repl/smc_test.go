package repl

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/machine"
	"glassbox/target"
)

// smcGuest is a tiny real-mode ROM that copies a routine to RAM at 0x1000,
// calls it, patches the immediate of its first instruction from ROM code
// (a store to a page holding translated code), and calls it again. A
// second routine at 0x2000 patches its own immediate while it runs.
const smcGuest = `
	.code16
	.text
start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7000, %sp
	movw %ax, %es
	movw %cs, %ax
	movw %ax, %ds
	movw $routine, %si
	movw $0x1000, %di
	movw $(routine_end - routine), %cx
	rep movsb
	movw $routine2, %si
	movw $0x2000, %di
	movw $(routine2_end - routine2), %cx
	rep movsb
	xorw %ax, %ax
	movw %ax, %ds
	lcall $0, $0x1000          /* AX = 0x1111 */
	movw %ax, %bx
patch:
	movw $0x2222, 0x1001       /* patch the immediate of the MOV at 0x1000 */
second:
	lcall $0, $0x1000          /* AX = 0x2222 */
	movw %ax, %cx
	lcall $0, $0x2000          /* DX = 0x5555, and the routine patches itself */
	movw %dx, %si
	lcall $0, $0x2000          /* DX = 0x6666 */
	movw %dx, %di
done:
	movw $0xf4, %dx
	xorl %eax, %eax
	outl %eax, %dx
	hlt

routine:
	movw $0x1111, %ax
	lret
routine_end:

routine2:
	movw $0x5555, %dx
	addw $0x1111, 0x2001       /* self-modifying: bump our own immediate (DS=0) */
	lret
routine2_end:
`

// buildSMCGuest assembles smcGuest with `as --32` into a 64 KiB ROM whose
// reset vector jumps to start (CS=F000, offset 0 = ROM offset 0). It
// returns the ROM and the linear addresses of the labels.
func buildSMCGuest(t *testing.T) ([]byte, map[string]uint64) {
	t.Helper()
	as, err := exec.LookPath("as")
	if err != nil {
		t.Skip("GNU as not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "smc.S")
	obj := filepath.Join(dir, "smc.o")
	if err := os.WriteFile(src, []byte(smcGuest), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(as, "--32", "-o", obj, src).CombinedOutput(); err != nil {
		t.Skipf("as --32 failed (no i386 support?): %v\n%s", err, out)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	code, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]uint64{}
	for _, s := range syms {
		if s.Section == elf.SectionIndex(sectionIndex(f, ".text")) && s.Name != "" {
			labels[s.Name] = 0xF0000 + s.Value
		}
	}
	rom := bytes.Repeat([]byte{0xFF}, 0x10000)
	copy(rom, code)
	copy(rom[0xFFF0:], []byte{0xEA, 0x00, 0x00, 0x00, 0xF0}) // ljmp $0xf000,$0
	return rom, labels
}

func sectionIndex(f *elf.File, name string) int {
	for i, s := range f.Sections {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func TestSelfModifyingCode(t *testing.T) {
	rom, labels := buildSMCGuest(t)
	for _, l := range []string{"patch", "second", "done"} {
		if labels[l] == 0 {
			t.Fatalf("label %s missing from the assembled guest (%v)", l, labels)
		}
	}
	m, err := machine.New(machine.Config{RAM: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadBIOS(rom); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	tg := target.New(m)
	var out bytes.Buffer
	r := New(tg, &out)
	guardRuns(r)
	run := func(line string) string {
		t.Helper()
		out.Reset()
		if err := r.Exec(line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return out.String()
	}
	jsonRun := func(line string, v any) {
		t.Helper()
		decodeOne(t, run(line), v)
	}
	type tbs struct {
		TBs []tbJSON `json:"tbs"`
	}
	type runs struct {
		Ranges []dirtyRunJSON `json:"ranges"`
	}
	pageTBs := func(page string) (valid, invalid []tbJSON) {
		var l tbs
		jsonRun("tb list -all -page "+page+" -json", &l)
		for _, x := range l.TBs {
			if x.Valid {
				valid = append(valid, x)
			} else {
				invalid = append(invalid, x)
			}
		}
		return
	}
	codeProtected := func(page string) bool {
		var d runs
		jsonRun("dirty "+page+" -json", &d)
		if len(d.Ranges) != 1 {
			t.Fatalf("dirty %s: %d ranges, want 1", page, len(d.Ranges))
		}
		return d.Ranges[0].CodeProtected
	}
	for _, l := range []string{"patch", "second", "done"} {
		run("break " + hexAddr(labels[l]))
	}

	// 1. The routine ran once: one valid TB on page 0x1000, write-protected.
	if s := run("continue"); !strings.Contains(s, "Breakpoint 1") {
		t.Fatalf("continue: %q", s)
	}
	v, inv := pageTBs("0x1000")
	if len(v) != 1 || v[0].PC != 0x1000 || len(inv) != 0 {
		t.Fatalf("before the patch: valid %+v invalid %+v, want one valid TB at 0x1000", v, inv)
	}
	oldID := v[0].ID
	if !codeProtected("0x1000") {
		t.Fatalf("before the patch: page 0x1000 holds code but is not write-protected")
	}
	t.Logf("before the patch:\n%s%s", run("tb list -all -page 0x1000"), run("dirty 0x1000"))

	// 2. The ROM code stored to 0x1001: the TB is invalidated (smc) and
	//    the page is no longer write-protected.
	if s := run("continue"); !strings.Contains(s, "Breakpoint 2") {
		t.Fatalf("continue: %q", s)
	}
	v, inv = pageTBs("0x1000")
	if len(v) != 0 || len(inv) != 1 || inv[0].ID != oldID || !strings.Contains(inv[0].InvalidatedBy, "smc") {
		t.Fatalf("after the patch: valid %+v invalid %+v, want TB %d invalidated by smc", v, inv, oldID)
	}
	if codeProtected("0x1000") {
		t.Fatalf("after the patch: page 0x1000 is still write-protected with no code on it")
	}
	var st tbStatsJSON
	jsonRun("tb stats -json", &st)
	if st.SMCEvents == 0 {
		t.Errorf("tb stats: no SMC event counted")
	}
	t.Logf("after the patch:\n%s%s", run("tb list -all -page 0x1000"), run("dirty 0x1000"))

	// 3. The routine ran again: a new TB was generated from the patched
	//    bytes and the page is protected again.
	if s := run("continue"); !strings.Contains(s, "Breakpoint 3") {
		t.Fatalf("continue: %q", s)
	}
	v, inv = pageTBs("0x1000")
	if len(v) != 1 || v[0].ID == oldID || v[0].PC != 0x1000 || len(inv) != 1 || inv[0].ID != oldID {
		t.Fatalf("after re-execution: valid %+v invalid %+v, want a new TB at 0x1000 and TB %d invalid", v, inv, oldID)
	}
	var show tbShowJSON
	jsonRun("tb show "+itoa(v[0].ID)+" -json", &show)
	if !strings.HasPrefix(show.Bytes, "b8 22 22") {
		t.Errorf("new TB bytes %q, want the patched b8 22 22", show.Bytes)
	}
	if !codeProtected("0x1000") {
		t.Fatalf("after re-execution: page 0x1000 is not write-protected again")
	}
	t.Logf("after re-execution:\n%s%s", run("tb list -all -page 0x1000"), run("dirty 0x1000"))

	// The guest saw its own patches: BX, CX, SI, DI.
	regs, _ := tg.Regs(0)
	want := map[string]uint64{"bx": 0x1111, "cx": 0x2222, "si": 0x5555, "di": 0x6666}
	for name, w := range want {
		if v, _ := r.regValue(name); v != w {
			t.Errorf("%s = %#x, want %#x (regs %+v)", name, v, w, regs.GPR)
		}
	}
	// The routine that patched itself left invalidated TBs behind.
	_, inv2 := pageTBs("0x2000")
	if len(inv2) == 0 {
		t.Errorf("no invalidated TB on page 0x2000 after self-modification")
	}
	if s := run("continue"); !strings.Contains(s, "exited") {
		t.Errorf("final continue: %q", s)
	}
}
