package cpu

import (
	"testing"
)

// aluLoop: ECX iterations of 8 ALU instructions + LOOP (9 instructions).
//
//	mov ecx, N        ; b9 imm32
//	l: add eax, ebx   ; 01 d8
//	   xor edx, eax   ; 31 c2
//	   sub ebx, 3     ; 83 eb 03
//	   and esi, edx   ; 21 d6
//	   or  edi, eax   ; 09 c7
//	   inc eax        ; 40
//	   shl edx, 1     ; d1 e2
//	   cmp eax, ebx   ; 39 d8
//	   loop l         ; e2 ee
//	   hlt
func aluLoop(n uint32) []byte {
	return []byte{0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24),
		0x01, 0xd8, 0x31, 0xc2, 0x83, 0xeb, 0x03, 0x21, 0xd6, 0x09, 0xc7, 0x40, 0xd1, 0xe2, 0x39, 0xd8,
		0xe2, 0xee, 0xf4}
}

// memLoop: a memory-heavy loop: load, add, store through ESI, 64 KiB window.
//
//	mov ecx, N           ; b9 imm32
//	mov esi, 0x10000     ; be 00 00 01 00
//	l: mov eax, [esi]    ; 8b 06
//	   add eax, ecx      ; 01 c8
//	   mov [esi+4], eax  ; 89 46 04
//	   add esi, 8        ; 83 c6 08
//	   and esi, 0x1ffff  ; 81 e6 ff ff 01 00
//	   or  esi, 0x10000  ; 81 ce 00 00 01 00
//	   loop l            ; e2 e8
//	   hlt
func memLoop(n uint32) []byte {
	return []byte{0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24),
		0xbe, 0x00, 0x00, 0x01, 0x00,
		0x8b, 0x06, 0x01, 0xc8, 0x89, 0x46, 0x04, 0x83, 0xc6, 0x08,
		0x81, 0xe6, 0xff, 0xff, 0x01, 0x00, 0x81, 0xce, 0x00, 0x00, 0x01, 0x00,
		0xe2, 0xe8, 0xf4}
}

func runToHalt(b *testing.B, c *CPU) uint64 {
	start := c.ICount
	for !c.Halted {
		ex := c.Exec(1 << 30)
		if ex.Reason == ExitInternalError {
			b.Fatal(ex.Err)
		}
		if ex.Reason != ExitHalt && ex.Reason != ExitBudget {
			b.Fatalf("unexpected exit %v", ex.Reason)
		}
	}
	return c.ICount - start
}

func benchLoop(b *testing.B, code []byte) {
	c, _ := testCPU(b, 1<<20, code)
	b.ReportAllocs()
	b.ResetTimer()
	var insns uint64
	for i := 0; i < b.N; i++ {
		c.EIP = 0x1000
		c.Halted = false
		insns += runToHalt(b, c)
	}
	b.ReportMetric(float64(insns)/b.Elapsed().Seconds()/1e6, "MIPS")
}

// BenchmarkALUTB executes TBs of register ALU ops.
func BenchmarkALUTB(b *testing.B) { benchLoop(b, aluLoop(100000)) }

// BenchmarkMemTB executes TBs dominated by loads and stores through the TLB.
func BenchmarkMemTB(b *testing.B) { benchLoop(b, memLoop(100000)) }

// BenchmarkTLBHit measures a TLB-hit load.
func BenchmarkTLBHit(b *testing.B) {
	c, _ := testCPU(b, 1<<20, asm32.hlt)
	c.rd32(0x2000) // fill
	b.ReportAllocs()
	b.ResetTimer()
	var s uint32
	for i := 0; i < b.N; i++ {
		s += c.rd32(0x2000 + uint64(i&0xFF)*4)
	}
	_ = s
}

// BenchmarkTBLookupHit measures finding an already translated TB.
func BenchmarkTBLookupHit(b *testing.B) {
	c, _ := testCPU(b, 1<<20, aluLoop(1))
	c.findTB()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.findTB()
	}
}

// sseLoop: ECX iterations of five SSE/SSE2 instructions + LOOP.
//
//	mov ecx, N             ; b9 imm32
//	l: addsd xmm0, xmm1    ; f2 0f 58 c1
//	   mulsd xmm2, xmm0    ; f2 0f 59 d0
//	   divsd xmm3, xmm1    ; f2 0f 5e d9
//	   paddd xmm4, xmm5    ; 66 0f fe e5
//	   cvtsi2sd xmm6, eax  ; f2 0f 2a f0
//	   loop l              ; e2 ea
//	   hlt
func sseLoop(n uint32) []byte {
	return []byte{0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24),
		0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x0f, 0x59, 0xd0, 0xf2, 0x0f, 0x5e, 0xd9, 0x66, 0x0f, 0xfe, 0xe5,
		0xf2, 0x0f, 0x2a, 0xf0, 0xe2, 0xea, 0xf4}
}

// x87Loop: ECX iterations of five x87 instructions + LOOP.
//
//	mov ecx, N           ; b9 imm32
//	l: fld1              ; d9 e8
//	   fadd st0, st0     ; d8 c0
//	   fmul st0, st0     ; d8 c8
//	   fsqrt             ; d9 fa
//	   fstp st0          ; dd d8
//	   loop l            ; e2 f4
//	   hlt
func x87Loop(n uint32) []byte {
	return []byte{0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24),
		0xd9, 0xe8, 0xd8, 0xc0, 0xd8, 0xc8, 0xd9, 0xfa, 0xdd, 0xd8, 0xe2, 0xf4, 0xf4}
}

func benchFP(b *testing.B, code []byte) {
	c, _ := testCPU(b, 1<<20, code)
	c.CR4 |= CR4_OSFXSR
	s := c.FPU()
	s.XMM[1][0] = 0x3FF0000000000000 // 1.0
	s.XMM[3][0] = 0x4008000000000000 // 3.0
	c.SetFPU(s)
	b.ReportAllocs()
	b.ResetTimer()
	var insns uint64
	for i := 0; i < b.N; i++ {
		c.EIP = 0x1000
		c.Halted = false
		insns += runToHalt(b, c)
	}
	b.ReportMetric(float64(insns)/b.Elapsed().Seconds()/1e6, "MIPS")
}

// BenchmarkSSETB executes TBs of scalar-double and packed-integer SSE2.
func BenchmarkSSETB(b *testing.B) { benchFP(b, sseLoop(100000)) }

// BenchmarkX87TB executes TBs of x87 arithmetic (FSQRT included).
func BenchmarkX87TB(b *testing.B) { benchFP(b, x87Loop(100000)) }
