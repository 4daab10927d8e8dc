package hostcpu

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/arch/x86/x86asm"
)

// isBranch reports whether the form may legitimately stop somewhere other
// than CodeAddr+len(code).
func isBranch(f Form) bool {
	for _, p := range []string{"J", "CALL", "RET", "LOOP"} {
		if strings.HasPrefix(f.Name, p) {
			return true
		}
	}
	return false
}

func TestFormTable(t *testing.T) {
	fs := Forms()
	t.Logf("%d forms", len(fs))
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Name == "" || f.Gen == nil {
			t.Errorf("incomplete form %+v", f)
		}
		if seen[f.Name] {
			t.Errorf("duplicate %q", f.Name)
		}
		seen[f.Name] = true
		if f.FlagMask&^StatusFlags != 0 {
			t.Errorf("%s: FlagMask %#x has non-status bits", f.Name, f.FlagMask)
		}
	}
	// Spot-check the table against the SDM.
	want := map[string]uint64{
		"ADD r/m32, r32":                      0,
		"AND r/m8, imm8":                      FlagAF,
		"MUL r/m64":                           FlagSF | FlagZF | FlagAF | FlagPF,
		"IMUL r16, r/m16, imm8":               FlagSF | FlagZF | FlagAF | FlagPF,
		"DIV r/m32":                           StatusFlags,
		"BT r/m64, imm8":                      FlagOF | FlagSF | FlagAF | FlagPF,
		"BSF r32, r/m32":                      FlagCF | FlagOF | FlagSF | FlagAF | FlagPF,
		"SHL r/m8, CL [count 0]":              0,
		"SHL r/m8, 1":                         FlagAF,
		"SHL r/m8, CL [count 2..7]":           FlagAF | FlagOF,
		"SHR r/m16, imm8 [count 16..31]":      FlagAF | FlagOF | FlagCF,
		"SAR r/m8, CL [count 8..31]":          FlagAF | FlagOF,
		"RCL r/m8, CL [count 2..31]":          FlagOF,
		"ROL r/m64, imm8 [count 1]":           0,
		"SHLD r/m32, r32, CL [count 1]":       FlagAF,
		"SHRD r/m64, r64, imm8 [count 2..63]": FlagAF | FlagOF,
		"UCOMISD xmm, xmm/m64":                0,
	}
	byName := map[string]Form{}
	for _, f := range fs {
		byName[f.Name] = f
	}
	for name, m := range want {
		f, ok := byName[name]
		if !ok {
			t.Errorf("missing form %q", name)
			continue
		}
		if f.FlagMask != m {
			t.Errorf("%s: FlagMask %s, want %s", name, FlagString(f.FlagMask), FlagString(m))
		}
	}
	if f := byName["BSR r64, r/m64 [source 0]"]; f.RegMask != 1<<RBX {
		t.Errorf("BSR zero-source RegMask = %#x", f.RegMask)
	}
}

// TestFormsDecode checks that every generator produces exactly one
// instruction that x86asm decodes in 64-bit mode with the full length.
func TestFormsDecode(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 20
	}
	for fi, f := range Forms() {
		rng := rand.New(rand.NewPCG(1, uint64(fi)))
		bad := 0
		for i := 0; i < n; i++ {
			code, in := f.Gen(rng)
			inst, err := x86asm.Decode(code, 64)
			if err != nil || inst.Len != len(code) {
				if bad == 0 {
					t.Errorf("%s: % x: decoded %q len %d err %v", f.Name, code, inst, inst.Len, err)
				}
				bad++
			}
			if len(in.Data) != DataSize {
				t.Fatalf("%s: Data is %d bytes", f.Name, len(in.Data))
			}
		}
		if bad > 1 {
			t.Errorf("%s: %d/%d bad encodings", f.Name, bad, n)
		}
	}
}

func TestFormsDeterministic(t *testing.T) {
	for fi, f := range Forms() {
		c1, s1 := f.Gen(rand.New(rand.NewPCG(9, uint64(fi))))
		c2, s2 := f.Gen(rand.New(rand.NewPCG(9, uint64(fi))))
		if !bytes.Equal(c1, c2) || !reflect.DeepEqual(s1, s2) {
			t.Errorf("%s: generator is not a function of the rng", f.Name)
		}
	}
}

// TestFormsOnHost runs every form's cases on the host and checks the
// generators: each case must have the form's expected outcome (so memory
// operands land in the data region, divide classes divide as intended...),
// straight-line forms must stop right after the instruction, and running a
// case twice must give identical results.
func TestFormsOnHost(t *testing.T) {
	r := newRunner(t)
	n := 64
	if testing.Short() {
		n = 8
	}
	fs := Forms()
	var codes [][]byte
	var ins []State
	var which []int
	for fi, f := range fs {
		rng := rand.New(rand.NewPCG(2, uint64(fi)))
		for i := 0; i < n; i++ {
			code, in := f.Gen(rng)
			codes, ins, which = append(codes, code), append(ins, in), append(which, fi)
		}
	}
	res, err := r.RunBatch(codes, ins)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := r.RunBatch(codes, ins)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[int]int{}
	for i, re := range res {
		f := fs[which[i]]
		var problem string
		switch {
		case re.Fault != f.Fault:
			problem = "fault " + FaultName(re.Fault) + ", form expects " + FaultName(f.Fault)
		case re.Fault == FaultNone && !isBranch(f) && re.RIP != CodeAddr+uint64(len(codes[i])):
			problem = "stopped at unexpected RIP"
		}
		if err := Compare(re, res2[i], f); err != nil {
			problem = "not reproducible: " + err.Error()
		}
		if problem != "" {
			if bad[which[i]] == 0 {
				inst, _ := x86asm.Decode(codes[i], 64)
				t.Errorf("%s: % x (%v): %s (RIP %#x, fault addr %#x)", f.Name, codes[i], inst, problem, re.RIP, re.FaultAddr)
			}
			bad[which[i]]++
		}
	}
}

// TestThroughput runs 10,000 random cases drawn from all forms in one batch.
func TestThroughput(t *testing.T) {
	r := newRunner(t)
	const n = 10000
	fs := Forms()
	rng := rand.New(rand.NewPCG(3, 3))
	codes := make([][]byte, n)
	ins := make([]State, n)
	t0 := time.Now()
	for i := range codes {
		codes[i], ins[i] = fs[rng.IntN(len(fs))].Gen(rng)
	}
	t1 := time.Now()
	res, err := r.RunBatch(codes, ins)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(t1)
	t.Logf("generated %d cases in %v (%.0f cases/s); host ran them in %v: %.0f cases/s",
		n, t1.Sub(t0), n/t1.Sub(t0).Seconds(), d, n/d.Seconds())
	if len(res) != n {
		t.Fatalf("%d results", len(res))
	}
	if d > 30*time.Second {
		t.Errorf("too slow: %v", d)
	}
}

func TestCompare(t *testing.T) {
	var f Form
	for _, x := range Forms() {
		if x.Name == "MUL r/m32" {
			f = x
		}
	}
	want := Result{Fault: FaultNone, RIP: CodeAddr + 2}
	want.State.Data = make([]byte, DataSize)
	want.State.RFLAGS = FlagCF | FlagOF | FlagZF | 2
	want.State.GPR[RAX] = 0x12
	got := want
	got.State = want.State.Clone()
	if err := Compare(want, got, f); err != nil {
		t.Fatalf("identical results differ: %v", err)
	}
	// Undefined flags (SF ZF AF PF for MUL) are ignored...
	got.State.RFLAGS = FlagCF | FlagOF | FlagSF | FlagPF | 2
	if err := Compare(want, got, f); err != nil {
		t.Errorf("masked flags compared: %v", err)
	}
	// ...defined ones are not.
	got.State.RFLAGS &^= FlagCF
	got.State.GPR[RAX] = 0x13
	got.State.GPR[RBX] = 1
	got.State.XMM[5][1] = 7
	got.State.Data[0x123] = 0xAB
	got.State.Data[0x124] = 0xCD
	got.State.MXCSR = 1
	got.RIP++
	err := Compare(want, got, f)
	if err == nil {
		t.Fatal("differences not reported")
	}
	msg := err.Error()
	t.Logf("diff:\n%s", msg)
	for _, s := range []string{
		"MUL r/m32", "RAX: want 0x0000000000000012, got 0x0000000000000013", "RBX:",
		"differ in CF", "XMM5:", "MXCSR:", "data[0x10000123..0x10000125]: want 00 00, got ab cd", "RIP:",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("diff lacks %q", s)
		}
	}
	if strings.Contains(msg, "RCX") {
		t.Errorf("diff mentions an equal register")
	}
	// RegMask hides registers; fault mismatch is reported.
	f.RegMask = 1<<RAX | 1<<RBX
	got2 := got
	got2.Fault = FaultDE
	msg = Compare(want, got2, f).Error()
	if strings.Contains(msg, "RAX") || strings.Contains(msg, "RBX") || !strings.Contains(msg, "fault: want none, got #DE") {
		t.Errorf("RegMask/fault handling wrong:\n%s", msg)
	}
}
