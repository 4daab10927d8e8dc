package cpu

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"glassbox/tb"
)

// seqForms are the non-branch fastForms: material for random TBs.
func seqForms() [][]byte {
	var out [][]byte
	for _, f := range fastForms {
		switch {
		case f[0]&0xF0 == 0x70, f[0] == 0x0F && f[1]&0xF0 == 0x80, f[0] == 0xEB, f[0] == 0xE9, f[0] == 0xE8, f[0] == 0xC3:
			continue
		}
		out = append(out, f)
	}
	return out
}

// TestTBMatchesGeneric runs random TBs of specialised forms (ending in a
// Jcc or a JMP) whole through runOps, with the translation-time hints and
// fused pairs in place, and op by op through the generic handlers from the
// same random states; registers, EIP, EFLAGS and memory must agree, and a
// fault must come from the same op with the same state (flags exact at
// the faulting op). A run limited to the first op must match that op
// alone.
func TestTBMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	forms := seqForms()
	for n := 0; n < 3000; n++ {
		var code []byte
		k := 1 + r.Intn(8)
		for j := 0; j < k; j++ {
			code = append(code, forms[r.Intn(len(forms))]...)
		}
		if r.Intn(2) == 0 {
			code = append(code, 0x70|byte(r.Intn(16)), 0x10)
		} else {
			code = append(code, 0xEB, 0x10)
		}
		code = append(code, asm32.hlt...)
		name := fmt.Sprintf("% x", code)
		fc, fmem := testCPU(t, 1<<16, code)
		gc, gmem := testCPU(t, 1<<16, code)
		ops := fc.findTB().Ops
		if len(ops) != k+1 {
			t.Fatalf("%s: %d ops, want %d", name, len(ops), k+1)
		}
		for it := 0; it < 20; it++ {
			for i := range fc.R {
				v := r.Uint64()
				switch i {
				case RSI, RDI:
					v = 0x2000 + uint64(r.Intn(0x800))
				case RSP:
					v = v&^0xFFFFFFFF | uint64(0x2400+r.Intn(0x800))
				}
				if r.Intn(5) == 0 {
					v = fc.R[RAX]
				}
				fc.R[i], gc.R[i] = v, v
			}
			r.Read(fmem[0x2000:0x3000])
			copy(gmem[0x2000:0x3000], fmem[0x2000:0x3000])
			l, f := randomLazy(r)
			fc.cc, gc.cc, fc.flags, gc.flags = l, l, f, f
			limit := uint32(0xFFFFFFFF)
			if it%4 == 3 {
				limit = 0x2000 + uint32(r.Intn(0x1000))
			}
			fc.SetSegment(DS, 0x10, 0, limit, 0xC093)
			gc.SetSegment(DS, 0x10, 0, limit, 0xC093)
			fc.EIP, gc.EIP = ops[0].EIP, ops[0].EIP
			whole := it%5 != 4
			run := ops
			if !whole {
				run = ops[:1]
			}
			ff, fat := runOpsCatch(fc, run)
			var gf *Exception
			gat := -1
			for i := range run {
				g := run[i]
				g.Fn, g.Hint = fnGeneric, 0
				if gf = runCatch(gc, &g); gf != nil {
					gat = i
					break
				}
			}
			if (ff == nil) != (gf == nil) || ff != nil && (*ff != *gf || fat != gat) {
				t.Fatalf("%s: fast fault %v at op %d, generic %v at op %d", name, ff, fat, gf, gat)
			}
			if fc.R != gc.R || fc.getFlags() != gc.getFlags() || !bytes.Equal(fmem[0x2000:0x3000], gmem[0x2000:0x3000]) ||
				ff == nil && whole && fc.EIP != gc.EIP {
				t.Fatalf("%s (whole %v, fault %v):\nfast    R=%x EIP=%#x flags=%#x\ngeneric R=%x EIP=%#x flags=%#x",
					name, whole, ff, fc.R, fc.EIP, fc.getFlags(), gc.R, gc.EIP, gc.getFlags())
			}
		}
	}
}

// runOpsCatch runs ops through runOps and returns the exception raised,
// if any, with the index of the op it was attributed to (c.curOp).
func runOpsCatch(c *CPU, ops []tb.Op) (e *Exception, at int) {
	defer func() {
		if r := recover(); r != nil {
			if r != errGuestFault {
				panic(r)
			}
			x := c.exc
			e, at = &x, c.curOp
		}
	}()
	c.runOps(ops)
	return nil, -1
}
