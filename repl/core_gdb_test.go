package repl

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"glassbox/internal/guestbuild"
	"glassbox/loader"
	"glassbox/machine"
	"glassbox/target"
)

// TestCoreFPRegistersInGDB: a core written by dump-guest-memory at a known
// x87/SSE state (guests/fp32's gdb_fp_probe: ST0 = 1, ST1 = pi, FCW 0x27F,
// MXCSR 0x3F80, XMM1 = {1.5, -2}) shows that state in real gdb, as the
// live session through the stub does (gdbstub's TestGDBFloat).
func TestCoreFPRegistersInGDB(t *testing.T) {
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed: skipping the core-file FP register check")
	}
	elf := guestbuild.Build(t, "fp32")
	img, err := os.ReadFile(elf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := machine.New(machine.Config{RAM: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadKernel(img, elf, loader.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var out bytes.Buffer
	r := New(target.New(m), &out)
	guardRuns(r)
	core := filepath.Join(t.TempDir(), "fp.core")
	for _, l := range []string{"break gdb_fp_probe", "continue", "dump-guest-memory " + core} {
		if err := r.Exec(l); err != nil {
			t.Fatalf("%s: %v\n%s", l, err, out.String())
		}
	}
	g, err := exec.Command(gdb, "-batch", "-nx", elf, core, "-ex", "p $st0", "-ex", "p $st1", "-ex", "p/x $fctrl",
		"-ex", "p/x $ftag", "-ex", "p/x $fstat", "-ex", "p/x $mxcsr", "-ex", "p $xmm1.v2_double").CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, g)
	}
	for _, want := range []string{`\$1 = 1\n`, `\$2 = 3\.14159265358979323\d*\n`, `\$3 = 0x27f\n`, `\$4 = 0xfff\n`,
		`\$5 = 0x3000\n`, `\$6 = 0x3f80\n`, `\$7 = \{1\.5, -2\}`} {
		if !regexp.MustCompile(want).Match(g) {
			t.Errorf("gdb on the core: no match for %s", want)
		}
	}
	if t.Failed() {
		t.Logf("gdb output:\n%s", g)
	}
}
