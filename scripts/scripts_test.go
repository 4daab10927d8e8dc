package scripts

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"glassbox/internal/guestbuild"
)

var (
	glassbox  string
	trackOnce sync.Once
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glassbox-scripts")
	if err != nil {
		panic(err)
	}
	glassbox = filepath.Join(dir, "glassbox")
	out, err := exec.Command("go", "build", "-o", glassbox, "glassbox/cmd/glassbox").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scriptEnv gives the environment the scripts' `# glassbox:` headers
// need: the repository guests they run, built for this test.
func scriptEnv(t *testing.T, name string) []string {
	switch name {
	case "seed-001-hang.gb", "deadlock-spinlocks.gb":
		return []string{"SMP_ELF=" + guestbuild.Build(t, "smp")}
	case "crash-pagefault.gb":
		return []string{"CRASH_ELF=" + guestbuild.Build(t, "crash")}
	}
	return nil
}

// runScript runs `glassbox script NAME` in a fresh directory (scripts may
// write files there, e.g. the crash example's core) and returns its output
// and the directory.
func runScriptIn(t *testing.T, name string) (string, string) {
	t.Helper()
	// The binary is built from the whole module by a subprocess (TestMain):
	// read the module's Go files and the script here, while go test logs
	// the files a test opens, so that its cache sees changes to them.
	trackOnce.Do(func() { guestbuild.TrackSources("..", ".go", "go.mod", "go.sum", ".gb") })
	abs, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(glassbox, "script", abs)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), scriptEnv(t, name)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v (a script exits 0 when every expectation held)\n%s", name, err, out.String())
	}
	return out.String(), dir
}

func runScript(t *testing.T, name string) string {
	t.Helper()
	out, _ := runScriptIn(t, name)
	return out
}

// hostNoise matches what legitimately differs between runs: goroutine IDs,
// host addresses and Go argument words in host stack frames.
var hostNoise = regexp.MustCompile(`goroutine \d+|0x[0-9a-f]{8,16}\??|\(\d+ goroutines?|in goroutine \d+|goroutines with this stack: [\d, ]+|^(\s+\d+\s+)\d+(\s+")`)

func normalize(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			continue // host stack depth varies (blank separators)
		}
		if strings.HasPrefix(l, "#") || strings.HasPrefix(strings.TrimSpace(l), "created by") {
			// host frame: keep only the function name and file
			if i := strings.Index(l, " in "); i >= 0 {
				l = l[i+4:]
				if j := strings.Index(l, " ("); j >= 0 {
					l = l[:j]
				}
			}
		}
		l = hostNoise.ReplaceAllString(l, "${1}X${2}")
		b.WriteString(strings.Join(strings.Fields(l), " ") + "\n") // column widths follow goroutine IDs
	}
	return b.String()
}

// TestScriptsDeterministic runs every repository script twice.
func TestScriptsDeterministic(t *testing.T) {
	files, _ := filepath.Glob("*.gb")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		a, b := normalize(runScript(t, f)), normalize(runScript(t, f))
		if a != b {
			t.Errorf("%s: output differs between two runs:\n--- first\n%s\n--- second\n%s", f, a, b)
		}
	}
}

// chain returns the function names of the CPU thread's frames, innermost
// first.
func chain(out string, afterLine string) []string {
	i := strings.Index(out, afterLine)
	if i < 0 {
		return nil
	}
	var fns []string
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if strings.HasPrefix(l, "(glassbox)") {
			break
		}
		if !strings.HasPrefix(l, "#") {
			continue
		}
		if j := strings.Index(l, " in "); j >= 0 {
			l = l[j+4:]
		} else {
			l = strings.TrimSpace(l[strings.Index(l, " "):])
		}
		if j := strings.Index(l, " ("); j >= 0 {
			l = l[:j]
		}
		fns = append(fns, l)
	}
	return fns
}

// TestSeed000Chains checks the function chains (names and order, not
// addresses) the first seed script prints.
func TestSeed000Chains(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("host stack addresses need an ELF binary")
	}
	out := runScript(t, "seed-000-tlb-fill.gb")
	parts := strings.SplitN(out, "(glassbox) catch code-protect", 2)
	if len(parts) != 2 {
		t.Fatalf("unexpected output:\n%s", out)
	}
	want1 := []string{"glassbox/machine.(*Machine).fire", "glassbox/machine.(*Machine).installHooks.func1",
		"glassbox/cpu.(*CPU).installTLB", "glassbox/cpu.(*CPU).fillTLB", "glassbox/cpu.(*CPU).fetchPage",
		"glassbox/cpu.(*CPU).lookupTB", "glassbox/cpu.(*CPU).findTB", "glassbox/cpu.(*CPU).runSome",
		"glassbox/cpu.(*CPU).Exec", "glassbox/machine.(*Machine).startWorker.func1"}
	want2 := []string{"glassbox/machine.(*Machine).fire", "glassbox/machine.(*Machine).installHooks.func3",
		"glassbox/cpu.(*CPU).protectCode", "glassbox/cpu.(*CPU).linkTB", "glassbox/cpu.(*CPU).genTB",
		"glassbox/cpu.(*CPU).lookupTB", "glassbox/cpu.(*CPU).findTB", "glassbox/cpu.(*CPU).runSome",
		"glassbox/cpu.(*CPU).Exec", "glassbox/machine.(*Machine).startWorker.func1"}
	for i, c := range []struct {
		text string
		want []string
	}{{parts[0], want1}, {parts[1], want2}} {
		got := chain(c.text, "(glassbox) threads bt -filter CPU")
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("chain %d:\n got %q\nwant %q\n%s", i+1, got, c.want, c.text)
		}
	}
	if !strings.Contains(parts[1], "prot") || !strings.Contains(out, "[guest exited with status 1]") {
		t.Errorf("dirty view or final exit missing:\n%s", out)
	}
}

// TestSeed001Hang: the second seed's view of glassbox — eight vCPU
// goroutines, seven parked at a guest HLT with interrupts off, folded into
// one stack group — and the analysis the seed left as TODO.
func TestSeed001Hang(t *testing.T) {
	out := runScript(t, "seed-001-hang.gb")
	for i := 0; i < 8; i++ {
		if !strings.Contains(out, fmt.Sprintf(`"CPU %d/TCG"`, i)) {
			t.Errorf("no thread named CPU %d/TCG", i)
		}
	}
	if n := strings.Count(out, "halted   protected32"); n != 7 {
		t.Errorf("%d halted APs in info cpus, want 7", n)
	}
	if !strings.Contains(out, "(parked at guest HLT)") || !strings.Contains(out, "goroutines with this stack") {
		t.Errorf("grouped dump lacks halted vCPU threads:\n%s", out)
	}
	if !strings.Contains(out, "(glassbox) analyze hang\nSTOPPED, not a hang") || strings.Count(out, "halted, IF=0") != 7 {
		t.Errorf("analysis:\n%s", out)
	}
	if !strings.Contains(out, "[guest exited with status 1]") {
		t.Errorf("guest did not finish after the analysis:\n%s", out)
	}
}

// TestCrashReport: the crash example stops at the triple fault and its
// report names the faulting function and its callers with argument
// values, the faulting address and the #PF -> #DF -> triple-fault chain.
func TestCrashReport(t *testing.T) {
	out := runScript(t, "crash-pagefault.gb")
	for _, want := range []string{
		"exception chain: #PF(0x0) cr2=0xdead0008 -> #DF(0x0) -> triple fault",
		"#0  read_field (cfg=cfg@entry=0xdead0000, idx=idx@entry=0) at guests/crash/crash.c:21",
		"in sum_fields (cfg=cfg@entry=0xdead0000, n=3)",
		"#2  0x00101bd2 in load_config (n=3, addr=3735879680) at guests/crash/crash.c:35",
		"in kmain (magic=732803074, mbi=0x9500)",
		"mov 0x8(%eax,%edx,4),%eax",
		"not mapped: PDE not present",
		"crash: loading config at dead0000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestCrashCoreGDB: the crash example writes crash.core with
// dump-guest-memory; real gdb opening the kernel and that core shows the
// same backtrace as the REPL's bt at the same stop.
func TestCrashCoreGDB(t *testing.T) {
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("gdb not installed: skipping the core-file check (needs gdb)")
	}
	out, dir := runScriptIn(t, "crash-pagefault.gb")
	core := filepath.Join(dir, "crash.core")
	if _, err := os.Stat(core); err != nil {
		t.Fatalf("no core file: %v\n%s", err, out)
	}
	// The REPL's bt inside the report, frame lines only.
	var repl []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.TrimSpace(l) == "backtrace:":
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(l), "#"):
			repl = append(repl, strings.TrimSpace(l))
		case in:
			in = false
		}
	}
	if len(repl) < 3 {
		t.Fatalf("no backtrace in the report:\n%s", out)
	}
	elf := strings.TrimPrefix(scriptEnv(t, "crash-pagefault.gb")[0], "CRASH_ELF=")
	g := exec.Command("gdb", "-batch", "-nx", "-ex", "set width 0", "-ex", "set height 0", elf, core, "-ex", "bt")
	g.Dir = dir
	gout, err := g.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, gout)
	}
	var gdb []string
	for _, l := range strings.Split(string(gout), "\n") {
		if strings.HasPrefix(l, "#") {
			gdb = append(gdb, strings.TrimSpace(l))
		}
	}
	// gdb prints frame #0 twice (the "Program terminated" banner, then bt).
	if len(gdb) > 0 && len(gdb) == len(repl)+1 && gdb[0] == gdb[1] {
		gdb = gdb[1:]
	}
	if strings.Join(gdb, "\n") != strings.Join(repl, "\n") {
		t.Errorf("gdb on the core differs from the REPL's bt:\n--- gdb %s crash.core\n%s\n--- REPL\n%s", filepath.Base(elf), strings.Join(gdb, "\n"), strings.Join(repl, "\n"))
	}
	if !strings.Contains(string(gout), "Program terminated with signal SIGSEGV") {
		t.Errorf("gdb did not read the crashing vCPU's note:\n%s", gout)
	}
}

// TestDeadlockDiagnosis: the spin-lock deadlock example is stopped by the
// spin watchdog, and the analysis names the lock words each vCPU spins on
// and their holders; the addresses are checked against the guest ELF's
// symbol table (CPU 0 takes lock_a and waits for lock_b, CPU 1 the reverse).
func TestDeadlockDiagnosis(t *testing.T) {
	out := runScript(t, "deadlock-spinlocks.gb")
	f, err := elf.Open(strings.TrimPrefix(scriptEnv(t, "deadlock-spinlocks.gb")[0], "SMP_ELF="))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	if addr["lock_a"] == 0 || addr["lock_b"] == 0 {
		t.Fatalf("smp.elf has no lock_a/lock_b symbols")
	}
	want := fmt.Sprintf("DEADLOCK (guest): CPU 0 spins on lock %#x held by CPU 1, CPU 1 spins on lock %#x held by CPU 0",
		addr["lock_b"], addr["lock_a"])
	if !strings.Contains(out, want) {
		t.Errorf("analysis lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "[on crash: stopped: watchdog on CPU 0") {
		t.Errorf("the on crash handler did not run for the watchdog stop:\n%s", out)
	}
}
