package cpu

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"glassbox/tb"
)

// fastForms are encodings (32-bit code) of the forms with specialised
// handlers; each must get one (Fn != 0).
var fastForms = [][]byte{
	{0x70, 0x05}, {0x71, 0x05}, {0x72, 0x05}, {0x73, 0x05}, {0x74, 0x05}, {0x75, 0x05}, {0x76, 0x05}, {0x77, 0x05},
	{0x78, 0x05}, {0x79, 0x05}, {0x7A, 0x05}, {0x7B, 0x05}, {0x7C, 0x05}, {0x7D, 0x05}, {0x7E, 0x05}, {0x7F, 0x05},
	{0x0F, 0x8C, 0x10, 0, 0, 0},
	{0x89, 0xC8}, {0x8B, 0xD3}, // mov r32, r32
	{0xBE, 0x78, 0x56, 0x34, 0x92},         // mov esi, imm32
	{0x8B, 0x06}, {0x8B, 0x44, 0x8E, 0x10}, // mov r32, m32
	{0x89, 0x1E}, {0x89, 0x5C, 0x8F, 0x04}, // mov m32, r32
	{0xC7, 0x06, 0x11, 0x22, 0x33, 0x84},                         // mov m32, imm32
	{0x88, 0x1E}, {0xC6, 0x06, 0x5A}, {0x8A, 0x06}, {0x8A, 0x16}, // byte moves
	{0x0F, 0xB6, 0x06}, {0x0F, 0xB7, 0x46, 0x03}, {0x0F, 0xB6, 0xC3}, // movzx
	{0x8D, 0x44, 0x8E, 0x10}, {0x8D, 0x04, 0x13}, // lea
	{0x01, 0xD8}, {0x83, 0xC0, 0x7F}, {0x83, 0xC0, 0x80}, {0x81, 0xC3, 0xFF, 0xFF, 0xFF, 0x7F}, // add
	{0x29, 0xD8}, {0x83, 0xE8, 0x05}, {0x2D, 0x00, 0x00, 0x00, 0x80}, // sub
	{0x39, 0xD8}, {0x83, 0xF8, 0x05}, {0x3D, 0x01, 0x00, 0x00, 0x80}, {0x3B, 0x06}, {0x80, 0x3E, 0x41}, // cmp
	{0x21, 0xD8}, {0x83, 0xE0, 0xF0}, {0x09, 0xD8}, {0x83, 0xC8, 0x01}, // and, or
	{0x31, 0xD8}, {0x31, 0xC0}, {0x35, 0x55, 0xAA, 0x55, 0xAA}, // xor
	{0x85, 0xD8}, {0xA9, 0x00, 0x00, 0x00, 0x80}, {0xF7, 0xC3, 0x01, 0x00, 0x00, 0x00}, // test
	{0x40}, {0x43}, {0xFF, 0xC0}, {0x48}, {0xFF, 0xC8}, // inc, dec
	{0xC1, 0xE0, 0x05}, {0xD1, 0xE0}, {0xC1, 0xE0, 0x00}, {0xC1, 0xE0, 0x1F}, {0xC1, 0xE0, 0x21}, // shl
	{0xC1, 0xE8, 0x07}, {0xD1, 0xE8}, {0xC1, 0xE8, 0x00}, // shr
	{0xC1, 0xF8, 0x03}, {0xD1, 0xF8}, {0xC1, 0xF8, 0x1F}, // sar
	{0x6B, 0xC3, 0x07}, {0x6B, 0xC3, 0x80}, {0x0F, 0xAF, 0xC3}, {0x69, 0xC3, 0x00, 0x00, 0x01, 0x00}, {0xF7, 0xE3}, // imul, mul
	{0x6B, 0x06, 0x07}, {0x0F, 0xAF, 0x06}, {0xF7, 0x26}, {0x66, 0xF7, 0xE3}, // imul/mul with memory or 16-bit operands
	{0x30, 0xD8}, {0x00, 0xD8}, {0x28, 0xD8}, {0x38, 0xD8}, {0x20, 0xD8}, {0x08, 0xD8}, {0x84, 0xD8}, {0x32, 0xC3}, // 8-bit ALU
	{0xF6, 0xC4, 0x20}, {0xF6, 0xC7, 0x81}, // test ah/bh, imm8
	{0xEB, 0x10}, {0xE9, 0x00, 0x01, 0x00, 0x00}, // jmp rel
	{0x53}, {0x54}, {0x5B}, {0x5C}, // push ebx, push esp, pop ebx, pop esp
	{0xE8, 0x00, 0x01, 0x00, 0x00}, {0xC3}, // call rel32, ret
	{0x0F, 0x44, 0xC3}, {0x0F, 0x4F, 0xD1}, {0x0F, 0x42, 0xF8}, // cmove eax, ebx; cmovg edx, ecx; cmovb edi, eax
	{0x0F, 0x94, 0xC0}, {0x0F, 0x9F, 0xC3}, {0x0F, 0x92, 0xC1}, // sete al; setg bl; setb cl
	{0x90}, {0x0F, 0x1F, 0x44, 0x00, 0x00}, {0x66, 0x90}, // nops
	{0xC1, 0xC0, 0x05}, {0xD1, 0xC0}, {0xC1, 0xC8, 0x07}, {0xD1, 0xC8}, {0xC1, 0xC0, 0x00}, {0xC1, 0xC8, 0x1F}, // rol, ror
}

// randomLazy returns an arbitrary lazy-flags state of every kind.
func randomLazy(r *rand.Rand) (lazyFlags, uint64) {
	sizes := []uint8{1, 2, 4, 8}
	l := lazyFlags{op: ccOp(r.Intn(int(ccShift) + 1)), size: sizes[r.Intn(4)], a: r.Uint64(), b: r.Uint64(), res: r.Uint64()}
	if r.Intn(3) == 0 {
		l.a = l.b // equal operands: the carry-in cases
	}
	switch l.op {
	case ccAdd, ccSub:
		l.carry = uint64(r.Intn(2))
	case ccInc, ccDec:
		l.carry = uint64(r.Intn(2)) * FLAG_CF
	case ccShift:
		l.carry = r.Uint64() & (FLAG_CF | FLAG_OF | FLAG_AF)
	}
	return l, r.Uint64()&flagsArith | 2
}

// TestFastHandlersMatchGeneric runs every specialised form and the generic
// handler of the same op from identical random states (registers, memory,
// lazy flags of every kind) and requires identical registers, EIP, EFLAGS
// and memory afterwards. The generic handlers are the ones checked against
// the host CPU and the 80286 data.
func TestFastHandlersMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	faults := 0
	for _, code := range fastForms {
		name := fmt.Sprintf("% x", code)
		fc, fmem := testCPU(t, 1<<16, cat(code, asm32.hlt))
		gc, gmem := testCPU(t, 1<<16, cat(code, asm32.hlt))
		ft := fc.findTB()
		op := ft.Ops[0]
		if op.Fn == fnGeneric {
			t.Errorf("%s: no specialised handler selected", name)
			continue
		}
		gop := op
		gop.Fn = fnGeneric
		for i := 0; i < 2000; i++ {
			for n := range fc.R {
				v := r.Uint64()
				switch n {
				case RSI, RDI:
					v = 0x2000 + uint64(r.Intn(0x800))
				case RCX:
					v = v&^0xFFFFFFFF | uint64(r.Intn(0x100))
				case RSP:
					v = v&^0xFFFFFFFF | uint64(0x2400+r.Intn(0x800))
				}
				fc.R[n], gc.R[n] = v, v
			}
			r.Read(fmem[0x2000:0x3000])
			copy(gmem[0x2000:0x3000], fmem[0x2000:0x3000])
			l, f := randomLazy(r)
			fc.cc, gc.cc = l, l
			fc.flags, gc.flags = f, f
			fc.EIP, gc.EIP = op.EIP, op.EIP
			// Every fourth state: a DS limit inside the buffer, so that some
			// accesses fault (#GP) and the fast paths must refuse them.
			limit := uint32(0xFFFFFFFF)
			if i%4 == 3 {
				limit = 0x2000 + uint32(r.Intn(0x1000))
			}
			fc.SetSegment(DS, 0x10, 0, limit, 0xC093)
			gc.SetSegment(DS, 0x10, 0, limit, 0xC093)
			// and every fourth a CS limit that some branch targets exceed
			csLimit := uint32(0xFFFFFFFF)
			if i%4 == 2 {
				csLimit = 0x1100 + uint32(r.Intn(0x7FFFFFFF))
			}
			fc.SetSegment(CS, 0x08, 0, csLimit, 0xC09B)
			gc.SetSegment(CS, 0x08, 0, csLimit, 0xC09B)
			ff, gf := runCatch(fc, &op), runCatch(gc, &gop)
			if (ff == nil) != (gf == nil) || ff != nil && *ff != *gf {
				t.Fatalf("%s: fast path fault %v, generic %v (DS limit %#x, ESI %#x)", name, ff, gf, limit, fc.R[RSI])
			}
			if ff != nil {
				faults++
			}
			if fc.R != gc.R || fc.EIP != gc.EIP || fc.getFlags() != gc.getFlags() || !bytes.Equal(fmem[0x2000:0x3000], gmem[0x2000:0x3000]) {
				t.Fatalf("%s (fn %d) from lazy state %+v flags %#x:\nfast    R=%x EIP=%#x flags=%#x\ngeneric R=%x EIP=%#x flags=%#x",
					name, op.Fn, l, f, fc.R, fc.EIP, fc.getFlags(), gc.R, gc.EIP, gc.getFlags())
			}
		}
	}
	if faults == 0 {
		t.Fatal("no state made a memory form fault: the segment-limit cases test nothing")
	}
	t.Logf("%d forms, %d faulting runs", len(fastForms), faults)
}

// runCatch runs one op and returns the exception it raised, if any.
func runCatch(c *CPU, op *tb.Op) (e *Exception) {
	defer func() {
		if r := recover(); r != nil {
			if r != errGuestFault {
				panic(r)
			}
			x := c.exc
			e = &x
		}
	}()
	c.execFast(op)
	return nil
}

// TestCondMatchesFlags: every condition code evaluated from a lazy state
// (including condSub's shortcut) equals its definition over the
// materialised EFLAGS (SDM Vol. 1 Appendix B).
func TestCondMatchesFlags(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	c, _ := testCPU(t, 1<<16, asm32.hlt)
	for i := 0; i < 200000; i++ {
		l, f := randomLazy(r)
		c.cc, c.flags = l, f
		e := c.getFlags()
		cf, zf, sf, of, pf := e&FLAG_CF != 0, e&FLAG_ZF != 0, e&FLAG_SF != 0, e&FLAG_OF != 0, e&FLAG_PF != 0
		want := [8]bool{of, cf, zf, cf || zf, sf, pf, sf != of, zf || sf != of}
		for cc := uint8(0); cc < 16; cc++ {
			w := want[cc>>1] != (cc&1 != 0)
			if got := c.cond(cc); got != w {
				t.Fatalf("cond %#x from %+v flags %#x (EFLAGS %#x): got %v, want %v", cc, l, f, e, got, w)
			}
		}
		// af agrees with the materialised AF too.
		if c.af() != e&FLAG_AF {
			t.Fatalf("af from %+v: %#x, EFLAGS %#x", l, c.af(), e)
		}
	}
}

// TestFusedJccMatchesGeneric: a CMP/SUB/TEST followed by the Jcc ending its
// TB runs as one fused handler; from random states, the pair must leave
// the registers, EIP and EFLAGS the generic handlers leave, for every
// condition, and a run limited to the first op must run only that op.
func TestFusedJccMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	firsts := [][]byte{{0x39, 0xD8}, {0x83, 0xF8, 0x05}, {0x3D, 0x00, 0x00, 0x00, 0x80}, {0x29, 0xD8}, {0x83, 0xE9, 0x01},
		{0x85, 0xD8}, {0xA9, 0x00, 0x00, 0x00, 0x80}, {0x85, 0xC0}, {0xF6, 0xC4, 0x81}, {0xF6, 0xC7, 0x01}}
	for _, first := range firsts {
		for cc := byte(0); cc < 16; cc++ {
			code := cat(first, []byte{0x70 | cc, 0x10}, asm32.hlt)
			name := fmt.Sprintf("% x", code)
			fc, _ := testCPU(t, 1<<16, code)
			gc, _ := testCPU(t, 1<<16, code)
			ops := fc.findTB().Ops
			if len(ops) != 2 || fusedFn[fastFn(&ops[0])] != ops[0].Fn || ops[1].Fn != fnJcc {
				t.Fatalf("%s: not fused: %d ops, fn %d/%d", name, len(ops), ops[0].Fn, ops[1].Fn)
			}
			g0, g1 := ops[0], ops[1]
			g0.Fn, g1.Fn = fnGeneric, fnGeneric
			for i := 0; i < 300; i++ {
				for n := range fc.R {
					v := r.Uint64()
					if r.Intn(4) == 0 {
						v = fc.R[RAX] // equal operands
					}
					fc.R[n], gc.R[n] = v, v
				}
				l, f := randomLazy(r)
				fc.cc, gc.cc, fc.flags, gc.flags = l, l, f, f
				fc.EIP, gc.EIP = ops[0].EIP, ops[0].EIP
				if n := fc.runOps(ops); n != 2 {
					t.Fatalf("%s: runOps returned %d", name, n)
				}
				gc.execFast(&g0)
				gc.execFast(&g1)
				if fc.R != gc.R || fc.EIP != gc.EIP || fc.getFlags() != gc.getFlags() {
					t.Fatalf("%s: fused R=%x EIP=%#x flags=%#x, generic R=%x EIP=%#x flags=%#x",
						name, fc.R, fc.EIP, fc.getFlags(), gc.R, gc.EIP, gc.getFlags())
				}
				// Limited to the first op: the Jcc must not run.
				fc.EIP = ops[0].EIP
				if n := fc.runOps(ops[:1]); n != 1 || fc.EIP != ops[0].EIP {
					t.Fatalf("%s: a one-op run ran the Jcc (n=%d, EIP %#x)", name, n, fc.EIP)
				}
			}
		}
	}
}
