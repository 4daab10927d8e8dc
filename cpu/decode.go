package cpu

import (
	"golang.org/x/arch/x86/x86asm"
)

// Decoding wraps x86asm. x86asm reports bytes it does not know as Op == 0
// (sometimes with no error), and omits a few encodings real CPUs accept.
// decode fixes those up by rewriting the instruction bytes to an equivalent
// documented encoding and decoding again:
//
//	82 /r          → 80 /r          (alias of group 1 with imm8, not in 64-bit mode)
//	F6/F7 /1       → F6/F7 /0       (TEST alias)
//	C0,C1,D0-D3 /6 → same /4        (SAL, alias of SHL)
//	D6             → SALC (own kind)
//	F3 0F 1E FA/FB → ENDBR64/32 (NOP)
//	0F 01 CA/CB    → CLAC/STAC (#UD here: SMAP is not in the CPUID model)

// Own kinds for instructions x86asm cannot express (above every x86asm.Op).
const (
	kindBase = 0xF000 + iota
	kSALC
	kUD    // raise #UD at execution (undecodable or invalid in this mode)
	kJcc   // cond in Args[1].Reg, target in Imm
	kSetcc // cond in Args[1].Reg
	kCmov  // cond in Args[2].Reg
	kMovToSeg
	kMovFromSeg
	kMovToCR
	kMovFromCR
	kMovToDR
	kMovFromDR
	kPopSeg
	kPushSeg
	kNop
	kFetchFault // the instruction's bytes could not be fetched: re-raise at execution
	kPause      // PAUSE: a spin-wait hint; with several vCPUs it ends the turn
)

func prefixLen(b []byte, mode int) int {
	n := 0
	for n < len(b) && n < 14 {
		switch b[n] {
		case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3:
			n++
			continue
		}
		if mode == 64 && b[n]&0xF0 == 0x40 {
			n++
			continue
		}
		break
	}
	return n
}

// decode returns the instruction at the start of b, or ok=false when the
// bytes do not form a valid instruction for this mode (the caller emits
// #UD). truncated reports that more bytes are needed.
func decode(b []byte, mode int) (inst x86asm.Inst, kind int, ok, truncated bool) {
	inst, err := x86asm.Decode(b, mode)
	if err == nil && inst.Op != 0 {
		return inst, int(inst.Op), true, false
	}
	if err == x86asm.ErrTruncated {
		return inst, 0, false, true
	}
	p := prefixLen(b, mode)
	if p >= len(b) {
		return inst, 0, false, len(b) < 15
	}
	op := b[p]
	var modrm byte
	haveModrm := p+1 < len(b)
	if haveModrm {
		modrm = b[p+1]
	}
	fix := func(nb []byte) (x86asm.Inst, int, bool, bool) {
		i2, err := x86asm.Decode(nb, mode)
		if err == x86asm.ErrTruncated {
			return i2, 0, false, true
		}
		if err != nil || i2.Op == 0 {
			return i2, 0, false, false
		}
		return i2, int(i2.Op), true, false
	}
	switch {
	case op == 0x82 && mode != 64:
		nb := append([]byte(nil), b...)
		nb[p] = 0x80
		return fix(nb)
	case (op == 0xF6 || op == 0xF7) && haveModrm && modrm>>3&7 == 1:
		nb := append([]byte(nil), b...)
		nb[p+1] &^= 0x38
		return fix(nb)
	case (op == 0xC0 || op == 0xC1 || (op >= 0xD0 && op <= 0xD3)) && haveModrm && modrm>>3&7 == 6:
		nb := append([]byte(nil), b...)
		nb[p+1] = nb[p+1]&^0x38 | 4<<3
		return fix(nb)
	case op == 0xD6 && mode != 64:
		inst = x86asm.Inst{Op: 0, Len: p + 1, Mode: mode, DataSize: mode, AddrSize: mode}
		return inst, kSALC, true, false
	case op == 0x0F && p+3 < len(b) && b[p+1] == 0x1E && (b[p+2] == 0xFA || b[p+2] == 0xFB) && p > 0 && b[p-1] == 0xF3:
		inst = x86asm.Inst{Len: p + 3, Mode: mode, DataSize: mode, AddrSize: mode}
		return inst, kNop, true, false
	case op == 0x0F && p+1 < len(b) && (b[p+1] == 0x18 || b[p+1] == 0x1F || (b[p+1] >= 0x19 && b[p+1] <= 0x1E)):
		// hint NOPs / prefetch space (0F 18-1F /r): decode as NOP with modrm.
		nb := append([]byte(nil), b...)
		nb[p+1] = 0x1F
		i2, k, ok2, tr := fix(nb)
		if ok2 {
			return i2, kNop, true, false
		}
		return i2, k, ok2, tr
	}
	return inst, 0, false, false
}
