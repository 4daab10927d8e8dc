package repl

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"glassbox/gdbstub"
	"glassbox/loader"
	"glassbox/machine"
	"glassbox/target"
)

// TestBTMatchesGDB: at the same stop, the REPL's `bt` (run through gdb's
// `monitor bt`) prints exactly the frames, functions, files, lines and
// argument values that real gdb's `bt` prints, for the symbols package's
// test kernel at -O0 and -O1.
func TestBTMatchesGDB(t *testing.T) {
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		t.Skip("gdb is not installed: skipping the bt comparison with real gdb")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed: cannot build the test kernel")
	}
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "..", "symbols", "testdata")
	for _, opt := range []string{"-O0", "-O1", "64/-O0", "64/-O1"} {
		t.Run(opt, func(t *testing.T) {
			k := filepath.Join(t.TempDir(), "k.elf")
			args := []string{"-m32", "-T", "kernel.ld", "-Wl,--no-warn-rwx-segments"}
			srcs := []string{"boot32.S", "kernel.c"}
			o := opt
			if strings.HasPrefix(opt, "64/") {
				// An ELF64 without a multiboot header: glassbox enters it in
				// 64-bit mode (loader package doc); gdb uses the x86-64 layout.
				args, srcs, o = []string{"-m64"}, []string{"start64.S", "kernel.c"}, strings.TrimPrefix(opt, "64/")
			}
			args = append(args, "-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-fno-pie", "-no-pie",
				"-fno-stack-protector", "-g", "-Wl,--build-id=none", o, "-o", k)
			cmd := exec.Command("gcc", append(args, srcs...)...)
			cmd.Dir = src
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			img, _ := os.ReadFile(k)
			m, err := machine.New(machine.Config{RAM: 128 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadKernel(img, k, loader.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			tg := target.New(m) // loads the kernel's DWARF
			r := New(tg, io.Discard)
			srv, err := gdbstub.New(tg, gdbstub.Config{Log: io.Discard, Monitor: func(c string, w io.Writer) error {
				r.SetOutput(w)
				return r.Exec(c)
			}})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			core := filepath.Join(t.TempDir(), "k.core")
			g := exec.CommandContext(ctx, gdb, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0",
				"-ex", "file "+k, "-ex", "target remote "+ln.Addr().String(),
				"-ex", "break deep_function", "-ex", "continue",
				"-ex", "echo ==gdb==\\n", "-ex", "bt", "-ex", "echo ==repl==\\n", "-ex", "monitor bt", "-ex", "echo ==end==\\n",
				"-ex", "monitor dump-guest-memory "+core,
				"-ex", "info registers pc", "-ex", "x/2i $pc", "-ex", "stepi", "-ex", "p sink", "-ex", "finish",
				"-ex", "detach")
			outb, _ := g.CombinedOutput()
			out := string(outb)
			gdbBT := section(out, "==gdb==", "==repl==")
			replBT := section(out, "==repl==", "==end==")
			if len(gdbBT) < 3 {
				t.Fatalf("gdb printed no backtrace:\n%s", out)
			}
			if strings.Join(gdbBT, "\n") != strings.Join(replBT, "\n") {
				t.Fatalf("REPL bt differs from gdb bt\ngdb:\n%s\nrepl:\n%s", strings.Join(gdbBT, "\n"), strings.Join(replBT, "\n"))
			}
			// The rest of the session works in both layouts (i386 for the
			// ELF32, x86-64 for the ELF64 entered in long mode).
			for _, want := range []string{"=> 0x", "Value returned is", "$1 = "} {
				if !strings.Contains(out, want) {
					t.Errorf("gdb session lacks %q:\n%s", want, out)
				}
			}
			for _, bad := range []string{"internal-error", "packet reply is too long", "Remote failure"} {
				if strings.Contains(out, bad) {
					t.Errorf("gdb session shows %q:\n%s", bad, out)
				}
			}
			// The core file written at the same stop gives gdb the same bt.
			cout, err := exec.CommandContext(ctx, gdb, "-batch", "-nx", "-ex", "set width 0", k, core,
				"-ex", "echo ==core==\\n", "-ex", "bt", "-ex", "echo ==end==\\n").CombinedOutput()
			if err != nil {
				t.Fatalf("gdb on the core: %v\n%s", err, cout)
			}
			if coreBT := section(string(cout), "==core==", "==end=="); strings.Join(coreBT, "\n") != strings.Join(gdbBT, "\n") {
				t.Errorf("gdb on the dump-guest-memory core differs from gdb on the live stub:\ncore:\n%s\nlive:\n%s",
					strings.Join(coreBT, "\n"), strings.Join(gdbBT, "\n"))
			}
			t.Logf("%s: %d frames identical (live gdb, REPL, gdb on the core), e.g. %s", opt, len(gdbBT), gdbBT[0])
		})
	}
}

// section returns the frame lines ("#N ...") between two markers.
func section(out, from, to string) []string {
	i := strings.Index(out, from)
	j := strings.Index(out, to)
	if i < 0 || j < i {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(out[i:j], "\n") {
		if strings.HasPrefix(l, "#") {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	return lines
}
