// Package sst runs the SingleStepTests 80286 real-mode conformance data
// (../shared/conformance/sst286) through glassbox's CPU. Each test is one
// instruction captured on real silicon; see that directory's README for
// the format and for the ways a 386+ legitimately differs from an 80286.
//
// Exclusions are rules, listed in Exclusions with their reasons; a test is
// never dropped silently. The runner reports pass/fail/excluded per file.
package sst

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"glassbox/cpu"
	"glassbox/memmap"
	"glassbox/tb"
)

// Test is one SingleStepTests case.
type Test struct {
	Name      string   `json:"name"`
	Bytes     []int    `json:"bytes"`
	Initial   State    `json:"initial"`
	Final     State    `json:"final"`
	FlagsMask *int     `json:"flags_mask"`
	Exception *ExcInfo `json:"exception"`
	Hash      string   `json:"hash"`
}

// State is a register/memory snapshot.
type State struct {
	Regs map[string]int `json:"regs"`
	RAM  [][2]int       `json:"ram"`
}

// ExcInfo describes an exception the instruction raised.
type ExcInfo struct {
	Number      int `json:"number"`
	FlagAddress int `json:"flag_address"`
}

// Load reads one gzip-compressed JSON file of tests.
func Load(path string) ([]Test, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var ts []Test
	if err := json.NewDecoder(z).Decode(&ts); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// Dir finds the sst286 data directory (../shared/conformance/sst286 beside
// the repository), or returns an error saying where it looked.
func Dir() (string, error) {
	if d := os.Getenv("GLASSBOX_SST286"); d != "" {
		return d, nil
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "conformance", "sst286")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			return "", fmt.Errorf("sst286 data not found at %s (set GLASSBOX_SST286)", p)
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// Exclusion is a documented rule for tests where a modern x86 differs from
// the 80286 by design.
type Exclusion struct {
	ID     string
	Reason string
}

// Exclusions lists every rule (README "Differences between an 80286 and a
// modern x86 CPU in real mode", items by number).
var Exclusions = []Exclusion{
	{"long-insn", "instruction longer than 10 bytes: the 286 raises #GP(13), a 386+ allows 15 (README item 5)"},
	{"lock-ud", "LOCK on a non-lockable instruction or register destination: accepted by the 286, #UD on a 386+ (README item 4)"},
	{"ss-vector", "stack-segment limit violation: the 286 reports vector 13, a 386+ raises #SS (vector 12) (README item 6)"},
	{"sreg-fs-gs", "MOV Sreg with reg field 4/5: #UD on the 286, MOV to/from FS/GS on a 386+ (README item 7)"},
	{"c0-of", "C0 /0-/5 (rotate/shift by imm8) with a count other than 1: OF is undefined (SDM), but upstream flags_mask does not mask it for C0 while it does for C1/D2/D3 (README item 3)"},
	{"string-fault-regs", "a word string instruction faulting at offset 0xFFFF: the 286 has already stepped SI/DI (and CX) when it raises #13; a 386+ faults before updating them so the instruction restarts cleanly. Applied only when both raise #13 and SI/DI/CX are the only differences"},
	{"no-fpu", "ESC D8 with no coprocessor: the 286 skips it, glassbox's CPU has an x87 (README item 8)"},
}

// Result counts one file's outcome.
type Result struct {
	File     string
	Pass     int
	Fail     int
	Excluded map[string]int
	// Masked counts tests compared under the "c0-of" flag-mask rule.
	Masked int
	// Failures holds the first few failure descriptions.
	Failures []string
}

// Runner executes tests on one reusable CPU.
type Runner struct {
	masked int // tests whose flag mask rule "c0-of" applied (they still must pass)
	mem    *memmap.Space
	ram    []byte
	cpu    *cpu.CPU
	tbs    *tb.Cache
}

// NewRunner builds a 16 MiB flat machine (A20 on, no devices).
func NewRunner() *Runner {
	r := &Runner{ram: make([]byte, 16<<20)}
	r.mem = memmap.New(16 << 20)
	r.mem.AddRAM("ram", 0, r.ram)
	r.mem.Seal()
	r.tbs = tb.NewCache()
	sh := &cpu.Shared{Mem: r.mem, TBs: r.tbs}
	r.cpu = cpu.New(cpu.Config{Shared: sh})
	sh.CPUs = []*cpu.CPU{r.cpu}
	return r
}

var regOrder = []struct {
	name string
	idx  int
}{{"ax", cpu.RAX}, {"cx", cpu.RCX}, {"dx", cpu.RDX}, {"bx", cpu.RBX}, {"sp", cpu.RSP},
	{"bp", cpu.RBP}, {"si", cpu.RSI}, {"di", cpu.RDI}}

var segOrder = []struct {
	name string
	idx  int
}{{"es", cpu.ES}, {"cs", cpu.CS}, {"ss", cpu.SS}, {"ds", cpu.DS}}

func prefixBytes(b []int) []int {
	n := 0
	for n < len(b) {
		switch b[n] {
		case 0x26, 0x2E, 0x36, 0x3E, 0xF0, 0xF2, 0xF3:
			n++
			continue
		}
		break
	}
	return b[:n]
}

// staticExclusion applies the rules that depend only on the test input.
func staticExclusion(file string, t *Test) string {
	if len(t.Bytes)-1 > 10 {
		return "long-insn"
	}
	base := strings.TrimSuffix(filepath.Base(file), ".json.gz")
	if base == "D8" {
		return "no-fpu"
	}
	p := len(prefixBytes(t.Bytes))
	if p < len(t.Bytes)-1 {
		op := t.Bytes[p]
		if (op == 0x8C || op == 0x8E) && p+1 < len(t.Bytes) {
			if r := t.Bytes[p+1] >> 3 & 7; r == 4 || r == 5 {
				return "sreg-fs-gs"
			}
		}
	}
	return ""
}

// Run executes one test and returns "" (pass), an exclusion ID prefixed
// with "excluded:", or a failure description.
func (r *Runner) Run(file string, t *Test) string {
	if ex := staticExclusion(file, t); ex != "" {
		return "excluded:" + ex
	}
	c := r.cpu
	r.tbs.Flush()
	c.Reset()
	for _, kv := range t.Initial.RAM {
		r.ram[kv[0]] = byte(kv[1])
	}
	for _, ro := range regOrder {
		c.R[ro.idx] = uint64(t.Initial.Regs[ro.name])
	}
	for _, so := range segOrder {
		sel := uint16(t.Initial.Regs[so.name])
		attr := uint16(0x93) // real mode: every segment is read/write data
		c.SetSegment(so.idx, sel, uint64(sel)<<4, 0xFFFF, attr)
	}
	c.SetSegment(cpu.FS, 0, 0, 0xFFFF, 0x93)
	c.SetSegment(cpu.GS, 0, 0, 0xFFFF, 0x93)
	c.EIP = uint64(t.Initial.Regs["ip"])
	c.SetFlags(uint64(t.Initial.Regs["flags"]) & 0x0FFF)
	c.SetA20(true)
	ex := c.Exec(64)
	defer func() {
		for _, kv := range t.Initial.RAM {
			r.ram[kv[0]] = 0
		}
		for _, kv := range t.Final.RAM {
			r.ram[kv[0]] = 0
		}
	}()
	if ex.Reason == cpu.ExitInternalError {
		return "internal error: " + ex.Err.Error()
	}
	if ex.Reason != cpu.ExitHalt {
		if rule := outcomeExclusion(c, t); rule != "" {
			return "excluded:" + rule
		}
		return fmt.Sprintf("did not halt: %v at %04x:%04x (first exception %d)", ex.Reason, c.Seg[cpu.CS].Sel, c.EIP, c.ExcFirst())
	}
	mask := 0x0FFF
	if t.FlagsMask != nil {
		mask = *t.FlagsMask & 0x0FFF
	}
	if m := c0OFMask(file, t); m != 0 {
		mask &= m
		r.masked++
	}
	want := func(name string) int {
		if v, ok := t.Final.Regs[name]; ok {
			return v
		}
		return t.Initial.Regs[name]
	}
	var diffs []string
	stringRegsOnly := true
	for _, ro := range regOrder {
		if got, w := int(c.R[ro.idx]&0xFFFF), want(ro.name); got != w {
			diffs = append(diffs, fmt.Sprintf("%s=%04x want %04x", ro.name, got, w))
			if ro.idx != cpu.RSI && ro.idx != cpu.RDI && ro.idx != cpu.RCX {
				stringRegsOnly = false
			}
		}
	}
	nRegDiffs := len(diffs)
	for _, so := range segOrder {
		if got, w := int(c.Seg[so.idx].Sel), want(so.name); got != w {
			diffs = append(diffs, fmt.Sprintf("%s=%04x want %04x", so.name, got, w))
		}
	}
	if got, w := int(c.EIP&0xFFFF), want("ip"); got != w {
		diffs = append(diffs, fmt.Sprintf("ip=%04x want %04x", got, w))
	}
	if got, w := int(c.Flags())&mask, want("flags")&mask; got != w {
		diffs = append(diffs, fmt.Sprintf("flags=%04x want %04x (mask %04x)", got, w, mask))
	}
	fa := -1
	if t.Exception != nil {
		ss := want("ss")
		sp := want("sp")
		fa = ss*16 + (sp+4)&0xFFFF
	}
	for _, kv := range t.Final.RAM {
		got := int(r.ram[kv[0]])
		w := kv[1]
		if kv[0] == fa {
			got &= mask & 0xFF
			w &= mask & 0xFF
		} else if kv[0] == fa+1 {
			got &= mask >> 8
			w &= mask >> 8
		}
		if got != w {
			diffs = append(diffs, fmt.Sprintf("[%06x]=%02x want %02x", kv[0], got, w))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	if rule := outcomeExclusion(c, t); rule != "" {
		return "excluded:" + rule
	}
	if stringRegsOnly && nRegDiffs == len(diffs) && t.Exception != nil && t.Exception.Number == 13 &&
		c.ExcFirst() == cpu.VecGP && isStringOpcode(t) {
		return "excluded:string-fault-regs"
	}
	return strings.Join(diffs, " ")
}

func isStringOpcode(t *Test) bool {
	p := len(prefixBytes(t.Bytes))
	if p >= len(t.Bytes) {
		return false
	}
	switch t.Bytes[p] {
	case 0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF:
		return true
	}
	return false
}

// outcomeExclusion applies the rules that need the emulator's outcome: the
// instruction raised exactly the exception a 386+ raises where the 286
// behaves differently (documented in Exclusions).
func outcomeExclusion(c *cpu.CPU, t *Test) string {
	first := c.ExcFirst()
	if first == cpu.VecUD && hasLock(t) && (t.Exception == nil || t.Exception.Number != cpu.VecUD) {
		return "lock-ud"
	}
	if t.Exception != nil && t.Exception.Number == 13 && first == cpu.VecSS {
		return "ss-vector"
	}
	return ""
}

// c0OFMask implements rule "c0-of": it returns ^OF for C0 shifts and
// rotates whose masked count is not 1 (0 when the rule does not apply).
func c0OFMask(file string, t *Test) int {
	base := filepath.Base(file)
	if !strings.HasPrefix(base, "C0.") {
		return 0
	}
	p := len(prefixBytes(t.Bytes))
	imm := t.Bytes[len(t.Bytes)-2] // the byte before the HLT is imm8
	_ = p
	if imm&0x1F != 1 {
		return 0x0FFF &^ 0x800
	}
	return 0
}

func hasLock(t *Test) bool {
	for _, b := range prefixBytes(t.Bytes) {
		if b == 0xF0 {
			return true
		}
	}
	return false
}

// RunFile runs every test in one file.
func (r *Runner) RunFile(path string) (Result, error) {
	ts, err := Load(path)
	if err != nil {
		return Result{}, err
	}
	res := Result{File: filepath.Base(path), Excluded: map[string]int{}}
	r.masked = 0
	for i := range ts {
		out := r.Run(path, &ts[i])
		switch {
		case out == "":
			res.Pass++
		case strings.HasPrefix(out, "excluded:"):
			res.Excluded[strings.TrimPrefix(out, "excluded:")]++
		default:
			res.Fail++
			if len(res.Failures) < 5 {
				res.Failures = append(res.Failures, fmt.Sprintf("#%d %s (% x): %s", i, ts[i].Name, ts[i].Bytes, out))
			}
		}
	}
	res.Masked = r.masked
	return res, nil
}
