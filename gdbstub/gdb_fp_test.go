package gdbstub

import (
	"net"
	"os"
	"testing"

	"glassbox/internal/guestbuild"
	"glassbox/loader"
	"glassbox/machine"
	"glassbox/target"
)

// TestGDBFloat reads the x87 and SSE registers with the real gdb at a
// known state: guests/fp32 calls gdb_fp_probe with ST0 = 1, ST1 = pi,
// FCW 0x27F, MXCSR 0x3F80 and XMM1 = {1.5, -2.0} (see guests/fp32/fp.c).
func TestGDBFloat(t *testing.T) {
	gdbPath(t)
	elf, addr := serveGuest(t, "fp32", machine.Config{RAM: 128 << 20, Serial: &syncBuffer{}})

	out := runGDB(t, "file "+elf, "target remote "+addr, "break gdb_fp_probe", "continue",
		"p $st0", "p $st1", "p/x $fctrl", "p/x $ftag", "p/x $fstat", "p/x $mxcsr", "p $xmm1.v2_double",
		"info float",
		"set $st0 = 2.5", "p $st0", "set $xmm1.v2_double[0] = 3.25", "p $xmm1.v2_double",
		"set $mxcsr = 0x1fa0", "p/x $mxcsr", "set $fctrl = 0x37f", "p/x $fctrl", "p $st1", "detach")
	expect(t, out,
		`Breakpoint 1, .*gdb_fp_probe`,
		`\$1 = 1\n`,
		`\$2 = 3\.14159265358979323\d*\n`,
		`\$3 = 0x27f\n`,
		`\$4 = 0xfff`,    // ST(0) and ST(1) valid (00), the rest empty
		`\$5 = 0x3000\n`, // TOP = 6
		`\$6 = 0x3f80\n`,
		`\$7 = \{1\.5, -2\}`,
		`R7: Valid\s+0x4000c90fdaa22168c235 \+3\.14159`,
		`=>R6: Valid\s+0x3fff8000000000000000 \+1\s`,
		`R5: Empty`,
		`TOP: 6`,
		`Control Word:\s+0x027f`,
		`PC: Double Precision \(53-bits\)`,
		`RC: Round to nearest`,
		`Tag Word:\s+0x0fff`,
		`Opcode:\s+0xd9e8`, // FLD1, the last non-control x87 instruction
		// writes reach the vCPU and read back
		`\$8 = 2\.5\n`,
		`\$9 = \{3\.25, -2\}`,
		`\$10 = 0x1fa0\n`,
		`\$11 = 0x37f\n`,
		`\$12 = 3\.14159265358979323\d*\n`, // ST1 untouched
	)
	t.Logf("gdb session:\n%s", out)
}

// serveGuest boots repository guest name on a machine with cfg, serves it
// on a loopback port and returns the guest ELF and the address for
// gdb's `target remote`; the test's cleanup stops both.
func serveGuest(t *testing.T, name string, cfg machine.Config) (elf, addr string) {
	t.Helper()
	elf = guestbuild.Build(t, name)
	img, err := os.ReadFile(elf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := machine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadKernel(img, elf, loader.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(target.New(m), Config{Log: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done; m.Close() })
	return elf, ln.Addr().String()
}
