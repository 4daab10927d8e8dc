// Package hostcpu is a host-CPU oracle for differential testing of the
// emulator's user-level (ring 3, 64-bit mode) instructions: it runs an
// instruction natively on the host and captures the resulting architectural
// state, so the emulator can be compared against real silicon.
//
// # How it works
//
// A small C program (csrc/helper.c, embedded) is compiled with the machine's gcc
// into a per-process temporary directory the first time it is needed (see
// [Available]) and run as a child process — not cgo, so a wild instruction
// can only ever kill the child, never the Go test process. A [Runner] owns
// one child and talks to it over stdin/stdout in batches (the wire protocol
// is described in runner.go).
//
// For every case the child
//
//   - fills the code page at [CodeAddr] with int3 (0xCC) and copies the
//     instruction bytes to its start,
//   - loads the data region [DataAddr, DataAddr+DataSize) from State.Data,
//   - loads the x87 state (FXRSTOR), RFLAGS (only the arithmetic flags and
//     DF, see [InputFlags]), MXCSR, XMM0–XMM15 and all sixteen GPRs
//     including RSP,
//   - jumps to CodeAddr and lets the code run until a signal stops it.
//
// The int3 right after the code (or any int3 of the fill further on, which a
// forward branch may reach) stops a case normally: Fault is [FaultNone] and
// RIP is the address of that int3, so RIP = CodeAddr+len(code) for a
// straight-line instruction. A fault stops it with Fault set to the exception
// vector and RIP at the faulting instruction (for #PF also FaultAddr).
// Either way the captured state is the state at that point: for a fault
// that is the state the instruction left behind (normally the input, or the
// partial progress of a REP string instruction).
//
// The data region is preceded and followed by unmapped guard pages, so any
// access just outside it gives #PF with the address. The guest stack, when
// an instruction uses one, is simply RSP pointing into the data region.
//
// # State conventions
//
// RFLAGS in a [Result] contains only the six arithmetic flags and DF, plus
// the always-one bit 1; IF, RF, AC and friends are not part of the
// comparison. 16-bit addressing does not exist in 64-bit mode, so address
// sizes are 64 and 32 (0x67 prefix) only.
package hostcpu

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Fixed guest addresses. They must agree with helper.c.
const (
	// CodeAddr is where the instruction bytes are placed (one RWX page,
	// CodePageSize bytes, filled with int3 after the code).
	CodeAddr = 0x20000000
	// CodePageSize is the size of the code page.
	CodePageSize = 0x1000
	// MaxCodeLen is the longest code sequence a case may have.
	MaxCodeLen = 4000
	// DataAddr is the start of the read/write data region.
	DataAddr = 0x10000000
	// DataSize is the size of the data region: two pages, so accesses
	// that cross a page boundary (at DataAddr+PageSize) work.
	DataSize = 0x2000
	// PageSize is the host (and guest) page size.
	PageSize = 0x1000
)

// RFLAGS bits.
const (
	FlagCF uint64 = 1 << 0
	FlagPF uint64 = 1 << 2
	FlagAF uint64 = 1 << 4
	FlagZF uint64 = 1 << 6
	FlagSF uint64 = 1 << 7
	FlagDF uint64 = 1 << 10
	FlagOF uint64 = 1 << 11

	// StatusFlags are the six arithmetic flags.
	StatusFlags = FlagCF | FlagPF | FlagAF | FlagZF | FlagSF | FlagOF
	// InputFlags are the RFLAGS bits taken from State.RFLAGS when a case
	// is loaded; all other bits are ignored (TF, IF, IOPL, AC... are never
	// changed). They are also the bits reported in Result.State.RFLAGS
	// (together with bit 1, which always reads as one).
	InputFlags = StatusFlags | FlagDF
)

// GPR indices into State.GPR, in x86 register-encoding order.
const (
	RAX = iota
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

// Exception vectors as reported in Result.Fault.
const (
	FaultNone = -1 // the code ran to the int3 fill
	FaultDE   = 0  // divide error (DIV/IDIV by zero or quotient overflow)
	FaultDB   = 1
	FaultBP   = 3 // an int3 inside the code itself (RIP is after it)
	FaultUD   = 6
	FaultSS   = 12
	FaultGP   = 13
	FaultPF   = 14 // FaultAddr holds the address
	FaultMF   = 16
	FaultAC   = 17
	FaultXM   = 19 // unmasked SIMD floating-point exception
	// FaultTimeout: the code did not stop within ~100-150 ms of CPU time
	// and was aborted by the helper's watchdog.
	FaultTimeout = 256
)

// FaultName returns a short name for a Result.Fault value ("#DE", "none").
func FaultName(v int) string {
	switch v {
	case FaultNone:
		return "none"
	case FaultDE:
		return "#DE"
	case FaultDB:
		return "#DB"
	case FaultBP:
		return "#BP"
	case FaultUD:
		return "#UD"
	case FaultSS:
		return "#SS"
	case FaultGP:
		return "#GP"
	case FaultPF:
		return "#PF"
	case FaultMF:
		return "#MF"
	case FaultAC:
		return "#AC"
	case FaultXM:
		return "#XM"
	case FaultTimeout:
		return "timeout"
	}
	return fmt.Sprintf("vector %d", v)
}

// State is the user-visible architectural state of one case.
type State struct {
	GPR    [16]uint64 // RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 (x86 encoding order)
	RFLAGS uint64     // only InputFlags are loaded / reported (plus bit 1 on output)
	XMM    [16][2]uint64
	MXCSR  uint32 // bits 0..15; reserved bits are ignored on input
	X87    X87State
	// Data is the contents of the data region (DataSize bytes at
	// DataAddr). On input nil means all zeros; on output it is always
	// DataSize bytes.
	Data []byte
}

// X87State is the x87 FPU state in FXSAVE's terms. A zero FCW on input
// means the FNINIT state (0x37F, all registers empty).
type X87State struct {
	FCW, FSW uint16 // FSW includes TOP (bits 11-13)
	FTW      uint8  // abridged tag word: bit i set = physical register i is valid
	ST       [8]F80 // ST(0)..ST(7) in stack order
}

// F80 is an 80-bit extended value: sign/exponent and significand.
type F80 struct {
	SE uint16
	M  uint64
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	if s.Data != nil {
		s.Data = append([]byte(nil), s.Data...)
	}
	return s
}

// Result is what one case did.
type Result struct {
	State State
	// Fault is FaultNone or the exception vector that stopped the code.
	Fault int
	// FaultAddr is the faulting address for #PF, otherwise 0.
	FaultAddr uint64
	// RIP is where execution stopped: the int3 reached after the code
	// (CodeAddr+len(code) for a non-branching instruction) or the faulting
	// instruction.
	RIP uint64
}

//go:embed csrc/helper.c
var helperSource string

var build struct {
	mu   sync.Mutex
	dir  string
	path string
	err  error
}

// helperPath builds the helper once per process (or after Cleanup) and
// returns the path of the executable.
func helperPath() (string, error) {
	build.mu.Lock()
	defer build.mu.Unlock()
	if build.err != nil {
		return "", build.err
	}
	if build.path != "" {
		if _, err := os.Stat(build.path); err == nil {
			return build.path, nil
		}
	}
	build.path, build.err = compileHelper()
	return build.path, build.err
}

func compileHelper() (string, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("hostcpu: host oracle needs linux/amd64, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	cc := "gcc"
	if v := os.Getenv("HOSTCPU_CC"); v != "" {
		cc = v
	}
	ccPath, err := exec.LookPath(cc)
	if err != nil {
		return "", fmt.Errorf("hostcpu: no C compiler to build the host oracle helper (%s not found; set HOSTCPU_CC to override): %w", cc, err)
	}
	dir, err := os.MkdirTemp("", "glassbox-hostcpu-")
	if err != nil {
		return "", fmt.Errorf("hostcpu: %w", err)
	}
	src := filepath.Join(dir, "helper.c")
	bin := filepath.Join(dir, "helper")
	if err := os.WriteFile(src, []byte(helperSource), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("hostcpu: %w", err)
	}
	cmd := exec.Command(ccPath, "-O2", "-std=gnu11", "-Wall", "-fcf-protection=none", "-o", bin, src)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("hostcpu: building helper with %s failed: %v\n%s", ccPath, err, strings.TrimSpace(string(out)))
	}
	build.dir = dir
	return bin, nil
}

// Available reports whether the host oracle can be used: nil if the helper
// is (or could now be) built, otherwise an error saying why not (not
// linux/amd64, no gcc, compile failure). Tests should t.Skip on a non-nil
// error. The result is cached for the life of the process.
func Available() error {
	_, err := helperPath()
	return err
}

// Cleanup removes the per-process build directory of the helper. Call it
// from TestMain after m.Run; a later NewRunner rebuilds. Runners that are
// still alive keep working until their child has to be restarted.
func Cleanup() {
	build.mu.Lock()
	defer build.mu.Unlock()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	build.dir, build.path = "", ""
}

var errClosed = errors.New("hostcpu: runner is closed")
