// Package softfloat is the IEEE 754 arithmetic behind glassbox's x87 and
// SSE units, written for x86 semantics rather than for Go's: every result
// is computed exactly (or with a sticky bit) and rounded once under an
// explicit rounding mode, with the x86 exception flags, tininess detected
// after rounding (SDM Vol. 1 §4.9.1.5), MXCSR.FTZ/DAZ, x87 precision
// control, and x86's NaN rules (SDM Vol. 1 Table 4-7: SSE returns the first
// NaN operand, x87 the QNaN or the NaN with the larger significand; invalid
// operations return the "real indefinite" QNaN).
//
// Numbers are handled unpacked ([Num]); one rounding routine ([Ctx.Round])
// packs results for the three formats (binary32, binary64 and the x87's
// 80-bit extended format, [F32], [F64], [F80]). Nothing here allocates.
package softfloat

import (
	"math"
	"math/bits"
)

// Exception flags, in the bit positions of MXCSR and the x87 status word.
const (
	FlagIE = 1 << 0 // invalid operation
	FlagDE = 1 << 1 // denormal operand
	FlagZE = 1 << 2 // divide by zero
	FlagOE = 1 << 3 // overflow
	FlagUE = 1 << 4 // underflow
	FlagPE = 1 << 5 // precision (inexact)
	// FlagUp is not architectural: it records that the last rounding
	// went away from zero in magnitude (the x87 reports it in C1).
	FlagUp = 1 << 9
)

// Rounding modes, encoded as in MXCSR.RC and the x87 control word's RC.
const (
	RoundNearest = 0
	RoundDown    = 1
	RoundUp      = 2
	RoundZero    = 3
)

// Class of a Num.
const (
	Zero = iota
	Normal
	Inf
	NaN
	// Unsupported is an 80-bit encoding the 387 and later reject
	// (unnormals, pseudo-NaNs, pseudo-infinities): an invalid operand.
	Unsupported
)

// Num is an unpacked number. For Normal, the value is
// Mant/2^63 × 2^Exp with bit 63 of Mant set (denormal inputs are
// normalized, so Exp may lie below the format's minimum). For NaN, Mant is
// the significand in the 80-bit layout: bit 63 set, bit 62 the quiet bit,
// the payload below it left-aligned.
type Num struct {
	Cls  uint8
	Sign bool
	Exp  int32
	Mant uint64
}

// Format describes a binary format: significand precision in bits
// (including the integer bit) and the exponent range of normal numbers.
type Format struct {
	Prec       int
	EMin, EMax int32
}

// The formats. The x87's precision control keeps the extended exponent
// range with fewer significand bits: [F80P24], [F80P53].
var (
	F32    = Format{24, -126, 127}
	F64    = Format{53, -1022, 1023}
	F80    = Format{64, -16382, 16383}
	F80P24 = Format{24, -16382, 16383}
	F80P53 = Format{53, -16382, 16383}
)

// Ctx carries the rounding environment and accumulates exception flags.
type Ctx struct {
	RC  uint8
	FTZ bool // flush tiny results to zero (MXCSR.FTZ; only with UE masked)
	DAZ bool // denormal inputs are zero (MXCSR.DAZ)
	X87 bool // x87 NaN rules instead of SSE's
	// UEMasked tells Round whether FTZ may apply; with X87, an unmasked
	// underflow (and OEUnmasked, an unmasked overflow) delivers the result
	// with its exponent wrapped by 3×2^13 into range, as the x87 does for
	// its exception handler (SDM Vol. 1 §8.5.4, §8.5.5).
	UEMasked   bool
	OEUnmasked bool
	Flags      uint16
}

// IsSNaN reports a signaling NaN.
func (n Num) IsSNaN() bool { return n.Cls == NaN && n.Mant&(1<<62) == 0 }

// Quiet returns n with the quiet bit set.
func (n Num) Quiet() Num { n.Mant |= 1 << 62; return n }

// Indefinite is the default QNaN ("real indefinite").
var Indefinite = Num{Cls: NaN, Sign: true, Mant: 3 << 62}

// ---- unpacking and packing ----

func (c *Ctx) denormal(sign bool, exp int32, m uint64) Num {
	if c.DAZ {
		return Num{Cls: Zero, Sign: sign}
	}
	c.Flags |= FlagDE
	s := bits.LeadingZeros64(m)
	return Num{Cls: Normal, Sign: sign, Exp: exp - int32(s), Mant: m << s}
}

// UnpackF32 unpacks a binary32 value (setting DE for a denormal unless DAZ).
func (c *Ctx) UnpackF32(v uint32) Num {
	sign := v>>31 != 0
	e := int32(v >> 23 & 0xFF)
	f := uint64(v & 0x7FFFFF)
	switch e {
	case 0:
		if f == 0 {
			return Num{Cls: Zero, Sign: sign}
		}
		return c.denormal(sign, -126, f<<40)
	case 0xFF:
		if f == 0 {
			return Num{Cls: Inf, Sign: sign}
		}
		return Num{Cls: NaN, Sign: sign, Mant: 1<<63 | f<<40}
	}
	return Num{Cls: Normal, Sign: sign, Exp: e - 127, Mant: 1<<63 | f<<40}
}

// UnpackF64 unpacks a binary64 value.
func (c *Ctx) UnpackF64(v uint64) Num {
	sign := v>>63 != 0
	e := int32(v >> 52 & 0x7FF)
	f := v & (1<<52 - 1)
	switch e {
	case 0:
		if f == 0 {
			return Num{Cls: Zero, Sign: sign}
		}
		return c.denormal(sign, -1022, f<<11)
	case 0x7FF:
		if f == 0 {
			return Num{Cls: Inf, Sign: sign}
		}
		return Num{Cls: NaN, Sign: sign, Mant: 1<<63 | f<<11}
	}
	return Num{Cls: Normal, Sign: sign, Exp: e - 1023, Mant: 1<<63 | f<<11}
}

// UnpackF80 unpacks an 80-bit extended value (sign/exponent word and
// significand).
func (c *Ctx) UnpackF80(se uint16, m uint64) Num {
	sign := se>>15 != 0
	e := int32(se & 0x7FFF)
	switch {
	case e == 0:
		if m == 0 {
			return Num{Cls: Zero, Sign: sign}
		}
		// Denormals and pseudo-denormals (integer bit set) both have
		// the exponent of 1-bias.
		return c.denormal(sign, -16382, m)
	case e == 0x7FFF:
		if m>>63 == 0 {
			return Num{Cls: Unsupported, Sign: sign, Mant: m}
		}
		if m<<1 == 0 {
			return Num{Cls: Inf, Sign: sign}
		}
		return Num{Cls: NaN, Sign: sign, Mant: m}
	case m>>63 == 0:
		return Num{Cls: Unsupported, Sign: sign, Exp: e - 16383, Mant: m}
	}
	return Num{Cls: Normal, Sign: sign, Exp: e - 16383, Mant: m}
}

// PackF32 packs a number already representable in binary32 (a result of
// Round with F32, or a NaN).
func PackF32(n Num) uint32 {
	s := uint32(0)
	if n.Sign {
		s = 1 << 31
	}
	switch n.Cls {
	case Zero:
		return s
	case Inf:
		return s | 0x7F800000
	case NaN, Unsupported:
		return s | 0x7F800000 | uint32(n.Mant>>40)&0x7FFFFF
	}
	f := uint32(n.Mant >> 40)
	if n.Mant>>63 == 0 {
		return s | f
	}
	return s | uint32(n.Exp+127)<<23 | f&0x7FFFFF
}

// PackF64 packs a number representable in binary64.
func PackF64(n Num) uint64 {
	s := uint64(0)
	if n.Sign {
		s = 1 << 63
	}
	switch n.Cls {
	case Zero:
		return s
	case Inf:
		return s | 0x7FF<<52
	case NaN, Unsupported:
		return s | 0x7FF<<52 | n.Mant>>11&(1<<52-1)
	}
	f := n.Mant >> 11
	if n.Mant>>63 == 0 {
		return s | f
	}
	return s | uint64(n.Exp+1023)<<52 | f&(1<<52-1)
}

// PackF80 packs a number representable in the extended format.
func PackF80(n Num) (se uint16, m uint64) {
	if n.Sign {
		se = 0x8000
	}
	switch n.Cls {
	case Zero:
		return se, 0
	case Inf:
		return se | 0x7FFF, 1 << 63
	case NaN:
		return se | 0x7FFF, n.Mant
	case Unsupported:
		return se | uint16(n.Exp+16383)&0x7FFF, n.Mant
	}
	if n.Mant>>63 == 0 {
		return se, n.Mant
	}
	if n.Exp < F80.EMin {
		// Not rounded to the format (a caller's shortcut): denormalize,
		// truncating.
		d := uint(F80.EMin - n.Exp)
		if d >= 64 {
			return se, 0
		}
		return se, n.Mant >> d
	}
	return se | uint16(n.Exp+16383), n.Mant
}

// x87BiasAdjust is the exponent wrap of unmasked x87 overflow/underflow.
const x87BiasAdjust = 3 << 13

// ---- rounding ----

// roundSig keeps the top p bits of hi (lo is below hi) and rounds them
// under rc. It returns the kept bits (possibly 1<<p after a carry) and
// whether the value was inexact.
func roundSig(sign bool, hi, lo uint64, p int, rc uint8) (kept uint64, inexact, up bool) {
	var r uint64
	var sticky bool
	if p < 64 {
		kept = hi >> (64 - p)
		r = hi << p
		sticky = lo != 0
	} else {
		kept = hi
		r = lo
	}
	inexact = r != 0 || sticky
	inc := false
	switch rc {
	case RoundNearest:
		inc = r > 1<<63 || r == 1<<63 && (sticky || kept&1 != 0)
	case RoundDown:
		inc = inexact && sign
	case RoundUp:
		inc = inexact && !sign
	}
	if inc {
		kept++
	}
	return kept, inexact, inc
}

// roundKeep rounds like roundSig and renormalizes a carry out of the top
// bit: it returns p significant bits (bit p-1 set unless the input was
// below it) and whether the exponent must grow by one.
func roundKeep(sign bool, hi, lo uint64, p int, rc uint8) (kept uint64, carry, inexact, up bool) {
	kept, inexact, up = roundSig(sign, hi, lo, p, rc)
	if p == 64 {
		if up && kept == 0 { // 2^64 wrapped around
			return 1 << 63, true, inexact, up
		}
		return kept, false, inexact, up
	}
	if kept>>p != 0 {
		return kept >> 1, true, inexact, up
	}
	return kept, false, inexact, up
}

// shr128 shifts hi:lo right by s, folding the lost bits into bit 0.
func shr128(hi, lo uint64, s uint) (uint64, uint64) {
	switch {
	case s == 0:
		return hi, lo
	case s < 64:
		st := lo<<(64-s) != 0
		lo = lo>>s | hi<<(64-s)
		hi >>= s
		if st {
			lo |= 1
		}
	case s < 128:
		st := lo != 0 || hi<<(128-s) != 0
		lo = hi >> (s - 64)
		hi = 0
		if st {
			lo |= 1
		}
	default:
		st := hi|lo != 0
		hi, lo = 0, 0
		if st {
			lo = 1
		}
	}
	return hi, lo
}

// Round rounds sign × (hi:lo)/2^127 × 2^exp — hi:lo normalized, bit 63 of
// hi set — to format f, with overflow, underflow (tininess after
// rounding), FTZ and the precision flag.
func (c *Ctx) Round(sign bool, exp int32, hi, lo uint64, f Format) Num {
	p := f.Prec
	// Rounding with an unbounded exponent decides tininess.
	kept, carry, inexact, up := roundKeep(sign, hi, lo, p, c.RC)
	e := exp
	if carry {
		e++
	}
	if e > f.EMax && c.X87 && c.OEUnmasked {
		c.Flags |= FlagOE
		if inexact {
			c.Flags |= FlagPE
			if up {
				c.Flags |= FlagUp
			}
		}
		return Num{Cls: Normal, Sign: sign, Exp: e - x87BiasAdjust, Mant: kept << (64 - p)}
	}
	if e > f.EMax {
		c.Flags |= FlagOE | FlagPE
		if c.RC == RoundNearest || c.RC == RoundUp && !sign || c.RC == RoundDown && sign {
			c.Flags |= FlagUp
			return Num{Cls: Inf, Sign: sign}
		}
		return Num{Cls: Normal, Sign: sign, Exp: f.EMax, Mant: ^uint64(0) << (64 - p)}
	}
	if e >= f.EMin {
		if inexact {
			c.Flags |= FlagPE
			if up {
				c.Flags |= FlagUp
			}
		}
		return Num{Cls: Normal, Sign: sign, Exp: e, Mant: kept << (64 - p)}
	}
	// Tiny.
	if c.X87 && !c.UEMasked {
		c.Flags |= FlagUE
		if inexact {
			c.Flags |= FlagPE
			if up {
				c.Flags |= FlagUp
			}
		}
		return Num{Cls: Normal, Sign: sign, Exp: e + x87BiasAdjust, Mant: kept << (64 - p)}
	}
	if c.FTZ && c.UEMasked {
		c.Flags |= FlagUE | FlagPE
		return Num{Cls: Zero, Sign: sign}
	}
	h, l := shr128(hi, lo, uint(f.EMin-exp))
	kept, inexact, up = roundSig(sign, h, l, p, c.RC)
	if p == 64 && up && kept == 0 {
		kept = 1 << 63 // cannot happen from below 2^EMin, but stay safe
	}
	if inexact {
		c.Flags |= FlagUE | FlagPE
		if up {
			c.Flags |= FlagUp
		}
	} else if !c.UEMasked {
		c.Flags |= FlagUE
	}
	if kept == 0 {
		return Num{Cls: Zero, Sign: sign}
	}
	return Num{Cls: Normal, Sign: sign, Exp: f.EMin, Mant: kept << (64 - p)}
}

// RoundNum rounds an unpacked number to format f (a format conversion).
// NaNs are quieted (IE for a signaling one); the payload is truncated.
func (c *Ctx) RoundNum(a Num, f Format) Num {
	switch a.Cls {
	case Normal:
		return c.Round(a.Sign, a.Exp, a.Mant, 0, f)
	case NaN:
		if a.IsSNaN() {
			c.Flags |= FlagIE
		}
		a = a.Quiet()
		a.Mant &= ^uint64(0) << (64 - f.Prec)
		return a
	case Unsupported:
		c.Flags |= FlagIE
		return Indefinite
	}
	return a
}

// ---- NaN propagation ----

// nan2 returns the NaN result of a two-operand operation where at least one
// operand is a NaN, and sets IE for a signaling one.
func (c *Ctx) nan2(a, b Num) Num {
	if a.IsSNaN() || b.IsSNaN() {
		c.Flags |= FlagIE
	}
	if a.Cls == Unsupported || b.Cls == Unsupported {
		c.Flags |= FlagIE
		return Indefinite
	}
	if !c.X87 {
		if a.Cls == NaN {
			return a.Quiet()
		}
		return b.Quiet()
	}
	if a.Cls != NaN {
		return b.Quiet()
	}
	if b.Cls != NaN {
		return a.Quiet()
	}
	// Two NaNs: a QNaN wins over an SNaN; otherwise the larger significand.
	if a.IsSNaN() != b.IsSNaN() {
		if a.IsSNaN() {
			return b
		}
		return a
	}
	if b.Mant<<1 > a.Mant<<1 {
		return b.Quiet()
	}
	if b.Mant<<1 == a.Mant<<1 && !b.Sign {
		return b.Quiet()
	}
	return a.Quiet()
}

func isNaNish(n Num) bool { return n.Cls == NaN || n.Cls == Unsupported }

func (c *Ctx) invalid() Num {
	c.Flags |= FlagIE
	return Indefinite
}

// ---- arithmetic ----

// Add returns a+b (or a-b with sub) rounded to f.
func (c *Ctx) Add(a, b Num, sub bool, f Format) Num {
	if isNaNish(a) || isNaNish(b) {
		return c.nan2(a, b)
	}
	if sub {
		b.Sign = !b.Sign
	}
	switch {
	case a.Cls == Inf && b.Cls == Inf:
		if a.Sign != b.Sign {
			return c.invalid()
		}
		return a
	case a.Cls == Inf:
		return a
	case b.Cls == Inf:
		return b
	case a.Cls == Zero && b.Cls == Zero:
		if a.Sign == b.Sign {
			return a
		}
		return Num{Cls: Zero, Sign: c.RC == RoundDown}
	case a.Cls == Zero:
		return c.Round(b.Sign, b.Exp, b.Mant, 0, f)
	case b.Cls == Zero:
		return c.Round(a.Sign, a.Exp, a.Mant, 0, f)
	}
	if a.Exp < b.Exp || a.Exp == b.Exp && a.Mant < b.Mant {
		a, b = b, a
	}
	// One bit of headroom: value = (hi:lo)/2^127 × 2^(exp).
	exp := a.Exp + 1
	ah, al := a.Mant>>1, a.Mant<<63
	bh, bl := shr128(b.Mant>>1, b.Mant<<63, uint(a.Exp-b.Exp))
	var h, l uint64
	if a.Sign == b.Sign {
		var cy uint64
		l, cy = bits.Add64(al, bl, 0)
		h, _ = bits.Add64(ah, bh, cy)
	} else {
		var bw uint64
		l, bw = bits.Sub64(al, bl, 0)
		h, _ = bits.Sub64(ah, bh, bw)
		if h|l == 0 {
			return Num{Cls: Zero, Sign: c.RC == RoundDown}
		}
	}
	var s int
	if h != 0 {
		s = bits.LeadingZeros64(h)
	} else {
		s = 64 + bits.LeadingZeros64(l)
	}
	h, l = shl128(h, l, uint(s))
	return c.Round(a.Sign, exp-int32(s), h, l, f)
}

func shl128(hi, lo uint64, s uint) (uint64, uint64) {
	switch {
	case s == 0:
		return hi, lo
	case s < 64:
		return hi<<s | lo>>(64-s), lo << s
	case s < 128:
		return lo << (s - 64), 0
	}
	return 0, 0
}

// Mul returns a×b rounded to f.
func (c *Ctx) Mul(a, b Num, f Format) Num {
	if isNaNish(a) || isNaNish(b) {
		return c.nan2(a, b)
	}
	sign := a.Sign != b.Sign
	switch {
	case a.Cls == Inf || b.Cls == Inf:
		if a.Cls == Zero || b.Cls == Zero {
			return c.invalid()
		}
		return Num{Cls: Inf, Sign: sign}
	case a.Cls == Zero || b.Cls == Zero:
		return Num{Cls: Zero, Sign: sign}
	}
	h, l := bits.Mul64(a.Mant, b.Mant)
	exp := a.Exp + b.Exp + 1
	if h>>63 == 0 {
		h, l = shl128(h, l, 1)
		exp--
	}
	return c.Round(sign, exp, h, l, f)
}

// Div returns a/b rounded to f.
func (c *Ctx) Div(a, b Num, f Format) Num {
	if isNaNish(a) || isNaNish(b) {
		return c.nan2(a, b)
	}
	sign := a.Sign != b.Sign
	switch {
	case a.Cls == Inf && b.Cls == Inf, a.Cls == Zero && b.Cls == Zero:
		return c.invalid()
	case a.Cls == Inf:
		return Num{Cls: Inf, Sign: sign}
	case b.Cls == Inf, a.Cls == Zero:
		return Num{Cls: Zero, Sign: sign}
	case b.Cls == Zero:
		c.Flags |= FlagZE
		return Num{Cls: Inf, Sign: sign}
	}
	var q, r uint64
	exp := a.Exp - b.Exp
	if a.Mant < b.Mant {
		q, r = bits.Div64(a.Mant, 0, b.Mant)
		exp--
	} else {
		q, r = bits.Div64(a.Mant>>1, a.Mant<<63, b.Mant)
	}
	q2, r2 := bits.Div64(r, 0, b.Mant)
	if r2 != 0 {
		q2 |= 1
	}
	return c.Round(sign, exp, q, q2, f)
}

// Sqrt returns √a rounded to f.
func (c *Ctx) Sqrt(a Num, f Format) Num {
	switch a.Cls {
	case NaN, Unsupported:
		return c.nan2(a, a)
	case Zero:
		return a
	case Inf:
		if a.Sign {
			return c.invalid()
		}
		return a
	}
	if a.Sign {
		return c.invalid()
	}
	// √(Mant/2^63 × 2^Exp) = √N / 2^63 × 2^(Exp>>1), with N = Mant×2^63
	// for an even exponent and Mant×2^64 for an odd one; √N has 64 bits.
	nh, nl := a.Mant>>1, a.Mant<<63
	if a.Exp&1 != 0 {
		nh, nl = a.Mant, 0
	}
	r, remH, remL := sqrt128(nh, nl)
	// The next bit is 1 iff N ≥ (r+½)², i.e. rem > r; √N is never exactly
	// r+½, so the sticky bit is "rem != 0" below that and always set above.
	var l uint64
	if remH != 0 || remL > r {
		l = 1<<63 | 1
	} else if remL != 0 {
		l = 1
	}
	return c.Round(false, a.Exp>>1, r, l, f)
}

// sqrt128 returns r = ⌊√N⌋ for N = hi:lo ≥ 2^126 and the remainder N - r².
func sqrt128(hi, lo uint64) (r, remH, remL uint64) {
	est := math.Sqrt(float64(hi)*0x1p64 + float64(lo))
	if est >= 0x1p64 {
		r = ^uint64(0)
	} else {
		r = uint64(est)
	}
	if hi < r { // one Newton step: r = (r + N/r) / 2
		q, _ := bits.Div64(hi, lo, r)
		r = r>>1 + q>>1 + r&q&1
	}
	less := func(ah, al, bh, bl uint64) bool { return ah < bh || ah == bh && al < bl }
	for {
		ph, pl := bits.Mul64(r, r)
		if !less(hi, lo, ph, pl) {
			break
		}
		r--
	}
	for r != ^uint64(0) {
		ph, pl := bits.Mul64(r+1, r+1)
		if less(hi, lo, ph, pl) {
			break
		}
		r++
	}
	ph, pl := bits.Mul64(r, r)
	var bw uint64
	remL, bw = bits.Sub64(lo, pl, 0)
	remH, _ = bits.Sub64(hi, ph, bw)
	return r, remH, remL
}

// Compare orders a and b: -1, 0, 1, or 2 for unordered. IE is set for a
// signaling NaN, or for any NaN when quietNaNInvalid is set (COMISS, FCOM).
func (c *Ctx) Compare(a, b Num, quietNaNInvalid bool) int {
	if isNaNish(a) || isNaNish(b) {
		if quietNaNInvalid || a.IsSNaN() || b.IsSNaN() || a.Cls == Unsupported || b.Cls == Unsupported {
			c.Flags |= FlagIE
		}
		return 2
	}
	if a.Cls == Zero && b.Cls == Zero {
		return 0
	}
	// Map to a sortable key: class order Zero < Normal < Inf in magnitude.
	mag := func(n Num) (int, int32, uint64) {
		switch n.Cls {
		case Zero:
			return 0, 0, 0
		case Inf:
			return 2, 0, 0
		}
		return 1, n.Exp, n.Mant
	}
	if a.Sign != b.Sign && !(a.Cls == Zero || b.Cls == Zero) {
		if a.Sign {
			return -1
		}
		return 1
	}
	ka, ea, ma := mag(a)
	kb, eb, mb := mag(b)
	r := 0
	switch {
	case ka != kb:
		r = cmpInt(ka, kb)
	case ea != eb:
		r = cmpInt(int(ea), int(eb))
	case ma != mb:
		if ma < mb {
			r = -1
		} else {
			r = 1
		}
	}
	// Magnitudes compared; a zero has no sign for ordering.
	neg := a.Sign
	if a.Cls == Zero {
		neg = b.Sign
	}
	if neg {
		r = -r
	}
	return r
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}

// ---- integers ----

// FromInt returns the exact unpacked value of v.
func FromInt(v int64) Num {
	if v == 0 {
		return Num{Cls: Zero}
	}
	sign := v < 0
	m := uint64(v)
	if sign {
		m = -m
	}
	s := bits.LeadingZeros64(m)
	return Num{Cls: Normal, Sign: sign, Exp: 63 - int32(s), Mant: m << s}
}

// FromUint returns the exact unpacked value of v.
func FromUint(v uint64) Num {
	if v == 0 {
		return Num{Cls: Zero}
	}
	s := bits.LeadingZeros64(v)
	return Num{Cls: Normal, Exp: 63 - int32(s), Mant: v << s}
}

// RoundInt rounds a to an integral value under rc (FRNDINT, ROUNDSD):
// the result is still a Num. PE is set when inexact.
func (c *Ctx) RoundInt(a Num, rc uint8) Num {
	switch a.Cls {
	case NaN, Unsupported:
		return c.nan2(a, a)
	case Zero, Inf:
		return a
	}
	if a.Exp >= 63 {
		return a
	}
	mag, inexact, up := intPart(a, rc)
	if inexact {
		c.Flags |= FlagPE
		if up {
			c.Flags |= FlagUp
		}
	}
	if mag == 0 {
		return Num{Cls: Zero, Sign: a.Sign}
	}
	r := FromUint(mag)
	r.Sign = a.Sign
	return r
}

// intPart returns |a| rounded to an integer under rc (a.Exp < 64), which
// may be 2^64 only if it does not fit, reported as a wrap to 0 with up;
// callers check ranges before that matters.
func intPart(a Num, rc uint8) (mag uint64, inexact, up bool) {
	if a.Exp < -1 {
		// |a| < 0.5: rounds to 0 or 1.
		inc := rc == RoundDown && a.Sign || rc == RoundUp && !a.Sign
		if inc {
			return 1, true, true
		}
		return 0, true, false
	}
	// Integer bits: Exp+1 of them; the rest is the fraction.
	ib := int(a.Exp) + 1 // 0..64
	var ipart, frac uint64
	if ib == 0 {
		ipart, frac = 0, a.Mant
	} else if ib >= 64 {
		return a.Mant, false, false
	} else {
		ipart, frac = a.Mant>>(64-ib), a.Mant<<ib
	}
	if frac == 0 {
		return ipart, false, false
	}
	inc := false
	switch rc {
	case RoundNearest:
		inc = frac > 1<<63 || frac == 1<<63 && ipart&1 != 0
	case RoundDown:
		inc = a.Sign
	case RoundUp:
		inc = !a.Sign
	}
	if inc {
		ipart++
	}
	return ipart, true, inc
}

// ToInt converts a to a signed integer of the given width in bits (16, 32
// or 64) under rc. Out-of-range values and NaNs set IE and return the
// integer indefinite (only the sign bit set); ok is false then.
func (c *Ctx) ToInt(a Num, width int, rc uint8) (v int64, ok bool) {
	indef := int64(-1) << (width - 1)
	switch a.Cls {
	case Zero:
		return 0, true
	case NaN, Unsupported, Inf:
		c.Flags |= FlagIE
		return indef, false
	}
	if a.Exp >= int32(width) {
		c.Flags |= FlagIE
		return indef, false
	}
	mag, inexact, up := intPart(a, rc)
	limit := uint64(1) << (width - 1) // |min|
	if !a.Sign && mag >= limit || a.Sign && mag > limit {
		c.Flags |= FlagIE
		return indef, false
	}
	if inexact {
		c.Flags |= FlagPE
		if up {
			c.Flags |= FlagUp
		}
	}
	if a.Sign {
		return -int64(mag), true
	}
	return int64(mag), true
}
