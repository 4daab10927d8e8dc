// Package guestbuild builds the test guests under guests/ and runs them under
// QEMU, the reference ("oracle") emulator.
//
// Every guest is a directory guests/<name>/ holding:
//
//	build.sh         bash recipe: build.sh OUTDIR writes OUTDIR/<name>.elf or OUTDIR/<name>.rom
//	qemu_args        QEMU arguments for the guest, one per line; "{image}" is
//	                 replaced by the path of the built image
//	expected.txt     the exact serial (COM1) output recorded from QEMU
//	expected_status  QEMU's exit status (the guest writes CODE to the
//	                 isa-debug-exit port 0xF4; QEMU exits with (CODE<<1)|1)
//
// Builds need only gcc, as, ld and objcopy; they are cached per test binary
// run, so many tests may call [Build] for the same guest cheaply.
package guestbuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// QEMUTimeout bounds one RunQEMU call.
const QEMUTimeout = 30 * time.Second

// BaseQEMUArgs are prepended to every RunQEMU invocation: a headless PC
// (i440FX) under TCG, nothing but what the guest asks for, COM1 on stdout,
// and the isa-debug-exit device at port 0xF4 through which guests exit.
var BaseQEMUArgs = []string{
	"-machine", "pc",
	"-accel", "tcg",
	"-nodefaults",
	"-display", "none",
	"-no-reboot",
	"-serial", "stdio",
	"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
}

// Tools a guest build needs.
var buildTools = []string{"bash", "gcc", "as", "ld", "objcopy"}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error

	cacheMu  sync.Mutex
	cacheDir string
	cache    = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Root returns the module root (the directory holding glassbox's go.mod),
// found by walking up from the working directory.
func Root(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && isGlassboxMod(data) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("guestbuild: no go.mod for module glassbox above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

func isGlassboxMod(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" && f[1] == "glassbox" {
			return true
		}
	}
	return false
}

// Dir returns the source directory of guest name.
func Dir(t testing.TB, name string) string {
	t.Helper()
	d := filepath.Join(Root(t), "guests", name)
	if _, err := os.Stat(filepath.Join(d, "build.sh")); err != nil {
		t.Fatalf("guestbuild: guest %q: %v", name, err)
	}
	return d
}

// Build builds guest name (guests/<name>/build.sh) into a temporary
// directory and returns the path of the image it produced (<name>.rom for raw
// BIOS ROMs, otherwise <name>.elf). Builds are cached for the life of the
// test binary. If the toolchain is missing the test is skipped.
func Build(t testing.TB, name string) string {
	t.Helper()
	for _, tool := range buildTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("guestbuild: %s not installed (guests need gcc, binutils and bash: apt-get install gcc binutils)", tool)
		}
	}
	src := Dir(t, name)

	cacheMu.Lock()
	r := cache[name]
	if r == nil {
		r = &buildResult{}
		cache[name] = r
	}
	if cacheDir == "" {
		d, err := os.MkdirTemp("", "glassbox-guests-")
		if err != nil {
			cacheMu.Unlock()
			t.Fatal(err)
		}
		cacheDir = d
	}
	base := cacheDir
	cacheMu.Unlock()

	// The build reads the guest's sources in a subprocess, which go test's
	// cache cannot see: read them here so that a changed source re-runs
	// the test instead of reporting a cached result.
	TrackSources(filepath.Join(src, ".."), ".c", ".h", ".S", ".ld", ".sh", ".txt")
	r.once.Do(func() { r.path, r.err = build(src, filepath.Join(base, name), name) })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// BuildInto builds guest name into outDir (not cached) and returns the image
// path. Useful for reproducibility checks.
func BuildInto(t testing.TB, name, outDir string) string {
	t.Helper()
	for _, tool := range buildTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("guestbuild: %s not installed (guests need gcc, binutils and bash: apt-get install gcc binutils)", tool)
		}
	}
	p, err := build(Dir(t, name), outDir, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TrackSources reads every file under dir whose name ends in one of exts
// (errors ignored). go test caches a test's result keyed on the files the
// test process opened; tests that hand sources to a subprocess (gcc, go
// build) call this so that editing those sources invalidates the cache.
func TrackSources(dir string, exts ...string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); n != "." && n != ".." && strings.HasPrefix(n, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		for _, e := range exts {
			if strings.HasSuffix(path, e) {
				os.ReadFile(path)
				break
			}
		}
		return nil
	})
}

func build(src, out, name string) (string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(src, "build.sh"), out)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "LC_ALL=C", "SOURCE_DATE_EPOCH=0")
	log, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("guestbuild: building %s: %v\n%s", name, err, log)
	}
	for _, ext := range []string{".rom", ".elf"} {
		p := filepath.Join(out, name+ext)
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("guestbuild: %s/build.sh produced neither %s.rom nor %s.elf in %s\n%s", name, name, name, out, log)
}

// Cleanup removes the build cache. Call it from TestMain after m.Run if the
// temporary directory should not outlive the test binary.
func Cleanup() {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cacheDir != "" {
		os.RemoveAll(cacheDir)
		cacheDir = ""
		cache = map[string]*buildResult{}
	}
}

// QEMU returns the path of qemu-system-x86_64, or skips the test.
func QEMU(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed: apt-get install qemu-system-x86")
	}
	return p
}

// RunQEMU runs qemu-system-x86_64 with BaseQEMUArgs followed by args and
// returns what the guest wrote to COM1 and QEMU's exit status. It fails the
// test if QEMU does not exit within QEMUTimeout or cannot be started.
func RunQEMU(t testing.TB, args ...string) (serial []byte, exitStatus int) {
	t.Helper()
	qemu := QEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), QEMUTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, append(append([]string{}, BaseQEMUArgs...), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = nil // /dev/null: the serial port sees no input
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("qemu timed out after %v: %v\nargs: %q\nserial so far:\n%s\nstderr:\n%s",
			QEMUTimeout, err, args, stdout.Bytes(), stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Logf("qemu stderr: %s", stderr.Bytes())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		// QEMU reports its own errors (missing image, bad option) with
		// status 1, which is also what a guest writing 0 to port 0xF4
		// produces; tell them apart by QEMU's message on stderr (our
		// guests always print something before they exit).
		if ee.ExitCode() == 1 && stdout.Len() == 0 && stderr.Len() > 0 {
			t.Fatalf("qemu failed: %s\nargs: %q", stderr.Bytes(), args)
		}
		return stdout.Bytes(), ee.ExitCode()
	default:
		t.Fatalf("running qemu: %v\nstderr:\n%s", err, stderr.Bytes())
		return nil, -1
	}
}

// QEMUArgs returns the guest's recorded QEMU arguments (guests/<name>/qemu_args)
// with "{image}" replaced by image.
func QEMUArgs(t testing.TB, name, image string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(t, name), "qemu_args"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		args = append(args, strings.ReplaceAll(line, "{image}", image))
	}
	return args
}

// Expected returns the guest's recorded serial output and QEMU exit status.
func Expected(t testing.TB, name string) (serial []byte, status int) {
	t.Helper()
	d := Dir(t, name)
	serial, err := os.ReadFile(filepath.Join(d, "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.ReadFile(filepath.Join(d, "expected_status"))
	if err != nil {
		t.Fatal(err)
	}
	status, err = strconv.Atoi(strings.TrimSpace(string(st)))
	if err != nil {
		t.Fatalf("guestbuild: %s/expected_status: %v", name, err)
	}
	return serial, status
}

// GuestExitCode converts a QEMU exit status back into the code the guest
// wrote to port 0xF4 (QEMU exits with (code<<1)|1).
func GuestExitCode(status int) int { return status >> 1 }

// FilterLines drops every line starting with one of prefixes (for example
// "cpuid:", whose content legitimately differs between emulators).
func FilterLines(out []byte, prefixes ...string) []byte {
	var b bytes.Buffer
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		keep := true
		for _, p := range prefixes {
			if bytes.HasPrefix(line, []byte(p)) {
				keep = false
				break
			}
		}
		if keep {
			b.Write(line)
		}
	}
	return b.Bytes()
}

// Diff describes the first difference between want and got, line by line,
// or returns "" if they are equal.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	wl := strings.SplitAfter(string(want), "\n")
	gl := strings.SplitAfter(string(got), "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("first difference at line %d:\nwant: %q\ngot:  %q\n(want %d lines, got %d)", i+1, w, g, len(wl), len(gl))
		}
	}
	return "outputs differ"
}
