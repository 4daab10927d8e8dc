package hostcpu

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// newRunner returns a runner or skips the test if the oracle is unavailable.
func newRunner(t testing.TB) *Runner {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("host CPU oracle unavailable: %v", err)
	}
	r, err := NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func run(t *testing.T, r *Runner, code []byte, in State) Result {
	t.Helper()
	res, err := r.Run(code, in)
	if err != nil {
		t.Fatalf("Run(% x): %v", code, err)
	}
	return res
}

func expectNoFault(t *testing.T, res Result, code []byte) {
	t.Helper()
	if res.Fault != FaultNone {
		t.Fatalf("% x: fault %s at %#x (addr %#x), want none", code, FaultName(res.Fault), res.RIP, res.FaultAddr)
	}
	if want := uint64(CodeAddr + len(code)); res.RIP != want {
		t.Fatalf("% x: RIP %#x, want %#x", code, res.RIP, want)
	}
}

func TestAddKnownResult(t *testing.T) {
	r := newRunner(t)
	code := []byte{0x48, 0x01, 0xD8} // add rax, rbx
	var in State
	for i := range in.GPR {
		in.GPR[i] = 0x1111111111111111 * uint64(i)
	}
	in.GPR[RAX] = 0x7fffffffffffffff
	in.GPR[RBX] = 1
	in.RFLAGS = FlagCF | FlagZF | FlagDF // CF/ZF must be recomputed, DF kept
	in.XMM[3] = [2]uint64{0x0123456789abcdef, 0xfedcba9876543210}
	in.MXCSR = 0x1f80
	res := run(t, r, code, in)
	expectNoFault(t, res, code)
	want := in.GPR
	want[RAX] = 0x8000000000000000
	if res.State.GPR != want {
		t.Errorf("GPR = %x, want %x", res.State.GPR, want)
	}
	// 0x7fff...f + 1: OF (signed overflow), SF, AF (carry out of bit 3),
	// PF (low byte 0x00 has even parity); CF and ZF clear; DF unchanged.
	if want := FlagOF | FlagSF | FlagAF | FlagPF | FlagDF | 2; res.State.RFLAGS != want {
		t.Errorf("RFLAGS = %#x (%s), want %#x (%s)", res.State.RFLAGS, FlagString(res.State.RFLAGS), want, FlagString(want))
	}
	if res.State.XMM != in.XMM || res.State.MXCSR != in.MXCSR {
		t.Errorf("XMM/MXCSR changed: %x %#x", res.State.XMM, res.State.MXCSR)
	}
	if len(res.State.Data) != DataSize {
		t.Errorf("Data is %d bytes", len(res.State.Data))
	}

	// sub al, 1 with AL=0: borrow, AF, SF, PF(0xff: 8 ones).
	code = []byte{0x2C, 0x01}
	in = State{}
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	if res.State.GPR[RAX] != 0xff {
		t.Errorf("sub al,1: RAX = %#x", res.State.GPR[RAX])
	}
	if want := FlagCF | FlagAF | FlagSF | FlagPF | 2; res.State.RFLAGS != want {
		t.Errorf("sub al,1: RFLAGS = %s, want %s", FlagString(res.State.RFLAGS), FlagString(want))
	}
}

func TestDivideByZero(t *testing.T) {
	r := newRunner(t)
	code := []byte{0x48, 0xF7, 0xF3} // div rbx
	var in State
	in.GPR[RAX], in.GPR[RDX], in.GPR[RBX] = 1234, 5, 0
	res := run(t, r, code, in)
	if res.Fault != FaultDE || res.RIP != CodeAddr {
		t.Fatalf("div rbx (rbx=0): fault %s at %#x, want #DE at %#x", FaultName(res.Fault), res.RIP, CodeAddr)
	}
	if res.State.GPR != in.GPR {
		t.Errorf("GPRs changed by a faulting DIV: %x", res.State.GPR)
	}
	// Quotient overflow: rdx:rax / 1 with rdx != 0.
	in.GPR[RBX] = 1
	res = run(t, r, code, in)
	if res.Fault != FaultDE || res.RIP != CodeAddr {
		t.Fatalf("div overflow: fault %s at %#x", FaultName(res.Fault), res.RIP)
	}
	// And a clean one: (5<<64 + 1234) / 7.
	in.GPR[RBX] = 7
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	// 5*2^64 + 1234 = 7*q + rem
	q, rem := uint64(0xb6db6db6db6db78b), uint64(5)
	if res.State.GPR[RAX] != q || res.State.GPR[RDX] != rem {
		t.Errorf("div: q=%#x r=%#x, want %#x %#x", res.State.GPR[RAX], res.State.GPR[RDX], q, rem)
	}
}

func TestStoreShowsInData(t *testing.T) {
	r := newRunner(t)
	code := []byte{0x48, 0x89, 0x43, 0x10} // mov [rbx+0x10], rax
	var in State
	in.GPR[RAX] = 0x1122334455667788
	in.GPR[RBX] = DataAddr + 0x100
	in.Data = make([]byte, DataSize)
	for i := range in.Data {
		in.Data[i] = byte(i * 7)
	}
	res := run(t, r, code, in)
	expectNoFault(t, res, code)
	want := append([]byte(nil), in.Data...)
	binary.LittleEndian.PutUint64(want[0x110:], in.GPR[RAX])
	if string(res.State.Data) != string(want) {
		t.Errorf("data mismatch at 0x110: % x", res.State.Data[0x108:0x120])
	}
	if in.Data[0x110] != 0x70 { // byte(0x110*7)
		t.Errorf("Run modified the input Data")
	}

	// A store that crosses the page boundary in the middle of the region.
	in.GPR[RBX] = DataAddr + PageSize - 3 - 0x10
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	if got := binary.LittleEndian.Uint64(res.State.Data[PageSize-3:]); got != in.GPR[RAX] {
		t.Errorf("page-crossing store: got %#x", got)
	}

	// push / pop use a stack in the data region.
	code = []byte{0x50, 0x5B} // push rax; pop rbx
	in = State{}
	in.GPR[RAX] = 0xdeadbeefcafef00d
	in.GPR[RSP] = DataAddr + 0x800
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	if res.State.GPR[RBX] != in.GPR[RAX] || res.State.GPR[RSP] != in.GPR[RSP] {
		t.Errorf("push/pop: rbx=%#x rsp=%#x", res.State.GPR[RBX], res.State.GPR[RSP])
	}
	if got := binary.LittleEndian.Uint64(res.State.Data[0x7f8:]); got != in.GPR[RAX] {
		t.Errorf("pushed value in data = %#x", got)
	}
}

func TestFaults(t *testing.T) {
	r := newRunner(t)
	var in State
	in.GPR[RBX] = DataAddr + DataSize // first byte after the region
	cases := []struct {
		name  string
		code  []byte
		setup func(*State)
		fault int
		addr  uint64
		rip   uint64
	}{
		{"ud2", []byte{0x0F, 0x0B}, nil, FaultUD, 0, CodeAddr},
		{"load after region", []byte{0x48, 0x8B, 0x03}, nil, FaultPF, DataAddr + DataSize, CodeAddr},
		{"store before region", []byte{0x88, 0x43, 0xFF}, func(s *State) { s.GPR[RBX] = DataAddr }, FaultPF, DataAddr - 1, CodeAddr},
		{"crossing the end", []byte{0x48, 0x8B, 0x03}, func(s *State) { s.GPR[RBX] = DataAddr + DataSize - 4 }, FaultPF, DataAddr + DataSize, CodeAddr},
		{"non-canonical", []byte{0x48, 0x8B, 0x03}, func(s *State) { s.GPR[RBX] = 0x8000000000000000 }, FaultGP, 0, CodeAddr},
		{"privileged", []byte{0xF4}, nil, FaultGP, 0, CodeAddr}, // hlt
		{"int3 in code", []byte{0x90, 0xCC, 0x90}, nil, FaultBP, 0, CodeAddr + 2},
		{"fault on 2nd insn", []byte{0x90, 0x0F, 0x0B}, nil, FaultUD, 0, CodeAddr + 1},
		{"sse unmasked #XM", []byte{0xF2, 0x0F, 0x5E, 0xC1}, func(s *State) { // divsd xmm0, xmm1 by 0
			s.MXCSR = 0x1f80 &^ (1 << 9) // unmask ZE
			s.XMM[0][0] = math.Float64bits(1)
		}, FaultXM, 0, CodeAddr},
		{"movdqa misaligned", []byte{0x66, 0x0F, 0x6F, 0x43, 0x01}, func(s *State) { s.GPR[RBX] = DataAddr }, FaultGP, 0, CodeAddr},
		{"jump to data (NX)", []byte{0xFF, 0xE3}, func(s *State) { s.GPR[RBX] = DataAddr + 0x40 }, FaultPF, DataAddr + 0x40, DataAddr + 0x40},
	}
	for _, c := range cases {
		s := in
		if c.setup != nil {
			c.setup(&s)
		}
		res := run(t, r, c.code, s)
		if res.Fault != c.fault || res.FaultAddr != c.addr || res.RIP != c.rip {
			t.Errorf("%s: fault %s addr %#x RIP %#x; want %s addr %#x RIP %#x", c.name,
				FaultName(res.Fault), res.FaultAddr, res.RIP, FaultName(c.fault), c.addr, c.rip)
		}
	}
}

func TestBranchStopsAtFill(t *testing.T) {
	r := newRunner(t)
	code := []byte{0xEB, 0x05} // jmp +5: lands in the int3 fill
	res := run(t, r, code, State{})
	if res.Fault != FaultNone || res.RIP != CodeAddr+2+5 {
		t.Errorf("jmp +5: fault %s RIP %#x", FaultName(res.Fault), res.RIP)
	}
	code = []byte{0xE8, 0, 0, 0, 0} // call next: pushes the return address
	in := State{}
	in.GPR[RSP] = DataAddr + 0x100
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	if res.State.GPR[RSP] != DataAddr+0xf8 || binary.LittleEndian.Uint64(res.State.Data[0xf8:]) != CodeAddr+5 {
		t.Errorf("call: rsp=%#x [rsp]=%#x", res.State.GPR[RSP], binary.LittleEndian.Uint64(res.State.Data[0xf8:]))
	}
}

func TestSSEState(t *testing.T) {
	r := newRunner(t)
	var in State
	in.MXCSR = 0x1f80
	in.XMM[0] = [2]uint64{math.Float64bits(1), 0xaaaa}
	in.XMM[9] = [2]uint64{math.Float64bits(1e-30), 0xbbbb}
	code := []byte{0xF2, 0x41, 0x0F, 0x58, 0xC1} // addsd xmm0, xmm9
	res := run(t, r, code, in)
	expectNoFault(t, res, code)
	if res.State.XMM[0] != [2]uint64{math.Float64bits(1), 0xaaaa} {
		t.Errorf("xmm0 = %x", res.State.XMM[0])
	}
	if res.State.MXCSR != 0x1f80|0x20 { // PE: 1 + 1e-30 is inexact
		t.Errorf("MXCSR = %#x, want %#x", res.State.MXCSR, 0x1f80|0x20)
	}
	// Round toward zero and FTZ bits survive the load.
	in.MXCSR = 0x1f80 | 3<<13 | 1<<15
	code = []byte{0x66, 0x0F, 0xD4, 0xC1} // paddq xmm0, xmm1
	in.XMM[0] = [2]uint64{1, ^uint64(0)}
	in.XMM[1] = [2]uint64{2, 2}
	res = run(t, r, code, in)
	expectNoFault(t, res, code)
	if res.State.XMM[0] != [2]uint64{3, 1} || res.State.MXCSR != in.MXCSR {
		t.Errorf("paddq: xmm0=%x mxcsr=%#x", res.State.XMM[0], res.State.MXCSR)
	}
}

func TestSurvivesManyFaults(t *testing.T) {
	r := newRunner(t)
	faulting := [][]byte{
		{0x0F, 0x0B},       // ud2
		{0x48, 0xF7, 0xF3}, // div rbx (rbx = 0)
		{0x48, 0x8B, 0x01}, // mov rax, [rcx] (unmapped)
		{0x48, 0x8B, 0x02}, // mov rax, [rdx] (non-canonical)
		{0xFF, 0xE1},       // jmp rcx (unmapped)
	}
	var codes [][]byte
	var ins []State
	for i := 0; i < 1000; i++ {
		var s State
		s.GPR[RCX] = 0x1000 // never mapped (below mmap_min_addr)
		s.GPR[RDX] = 0x8000000000001000
		s.GPR[RSP] = uint64(i) * 0x9e3779b97f4a7c15 // garbage stack pointer
		codes = append(codes, faulting[i%len(faulting)])
		ins = append(ins, s)
	}
	want := []int{FaultUD, FaultDE, FaultPF, FaultGP, FaultPF}
	res, err := r.RunBatch(codes, ins)
	if err != nil {
		t.Fatal(err)
	}
	for i, re := range res {
		if re.Fault != want[i%len(want)] {
			t.Fatalf("case %d (% x): fault %s, want %s", i, codes[i], FaultName(re.Fault), FaultName(want[i%len(want)]))
		}
	}
	// Still alive and correct afterwards.
	var s State
	s.GPR[RAX], s.GPR[RBX] = 2, 3
	code := []byte{0x48, 0x0F, 0xAF, 0xC3} // imul rax, rbx
	res1 := run(t, r, code, s)
	expectNoFault(t, res1, code)
	if res1.State.GPR[RAX] != 6 {
		t.Errorf("imul after faults: %d", res1.State.GPR[RAX])
	}
}

func TestTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	r := newRunner(t)
	res, err := r.RunBatch([][]byte{{0xEB, 0xFE}, {0x90}}, []State{{}, {}}) // jmp $ ; nop
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Fault != FaultTimeout || res[0].RIP != CodeAddr {
		t.Errorf("jmp $: fault %s RIP %#x, want timeout", FaultName(res[0].Fault), res[0].RIP)
	}
	if res[1].Fault != FaultNone {
		t.Errorf("case after timeout: fault %s", FaultName(res[1].Fault))
	}
}

func TestChildDeathAndRestart(t *testing.T) {
	r := newRunner(t)
	// mov eax, 231 (exit_group); xor edi, edi; syscall — kills the helper.
	code := []byte{0xB8, 0xE7, 0, 0, 0, 0x31, 0xFF, 0x0F, 0x05}
	_, err := r.Run(code, State{})
	if err == nil {
		t.Fatal("no error when the helper exited")
	}
	t.Logf("expected error: %v", err)
	// The next call restarts it.
	var s State
	s.GPR[RCX] = 41
	code = []byte{0xFF, 0xC1} // inc ecx
	res := run(t, r, code, s)
	expectNoFault(t, res, code)
	if res.State.GPR[RCX] != 42 {
		t.Errorf("after restart: rcx=%d", res.State.GPR[RCX])
	}
}

func TestInputValidation(t *testing.T) {
	r := newRunner(t)
	if _, err := r.Run(make([]byte, MaxCodeLen+1), State{}); err == nil {
		t.Error("oversized code accepted")
	}
	if _, err := r.Run([]byte{0x90}, State{Data: make([]byte, 10)}); err == nil {
		t.Error("short Data accepted")
	}
	if _, err := r.RunBatch([][]byte{{0x90}}, nil); err == nil {
		t.Error("mismatched batch accepted")
	}
	// TF and other system flags are not loadable.
	code := []byte{0x90}
	res := run(t, r, code, State{RFLAGS: ^uint64(0)})
	expectNoFault(t, res, code)
	if res.State.RFLAGS != InputFlags|2 {
		t.Errorf("RFLAGS = %#x", res.State.RFLAGS)
	}
	if res, err := r.RunBatch(nil, nil); err != nil || len(res) != 0 {
		t.Errorf("empty batch: %v %v", res, err)
	}
}

func TestClosed(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	r, err := NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run([]byte{0x90}, State{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after Close: %v", err)
	}
}
