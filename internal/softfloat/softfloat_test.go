package softfloat

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Go's float64/float32 arithmetic on amd64 is the host's SSE2 with
// round-to-nearest: an oracle for results (not flags) in that mode.

func randF64(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return []float64{0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1), math.MaxFloat64,
			math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 0.5, 3}[r.IntN(11)]
	case 1:
		return math.Float64frombits(r.Uint64())
	case 2: // denormal range
		return math.Float64frombits(r.Uint64() & (1<<53 - 1))
	}
	return math.Float64frombits(uint64(r.IntN(2))<<63 | uint64(1023-30+r.IntN(60))<<52 | r.Uint64()&(1<<52-1))
}

func sameF64(a, b uint64) bool {
	if math.IsNaN(math.Float64frombits(a)) && math.IsNaN(math.Float64frombits(b)) {
		return true // payload rules differ from Go's; checked by the host oracle
	}
	return a == b
}

func TestF64AgainstGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		x, y := randF64(r), randF64(r)
		c := &Ctx{UEMasked: true}
		a, b := c.UnpackF64(math.Float64bits(x)), c.UnpackF64(math.Float64bits(y))
		checks := []struct {
			name string
			got  Num
			want float64
		}{
			{"add", c.Add(a, b, false, F64), x + y},
			{"sub", c.Add(a, b, true, F64), x - y},
			{"mul", c.Mul(a, b, F64), x * y},
			{"div", c.Div(a, b, F64), x / y},
			{"sqrt", c.Sqrt(a, F64), math.Sqrt(x)},
		}
		for _, ch := range checks {
			if g := PackF64(ch.got); !sameF64(g, math.Float64bits(ch.want)) {
				t.Fatalf("%s(%x, %x): got %x, want %x", ch.name, math.Float64bits(x), math.Float64bits(y), g, math.Float64bits(ch.want))
			}
		}
		// binary32 via conversion of the operands
		fx, fy := float32(x), float32(y)
		a32, b32 := c.UnpackF32(math.Float32bits(fx)), c.UnpackF32(math.Float32bits(fy))
		if g, w := PackF32(c.Mul(a32, b32, F32)), math.Float32bits(fx*fy); g != w && !(fx*fy != fx*fy) {
			t.Fatalf("mul32(%x, %x): got %x, want %x", math.Float32bits(fx), math.Float32bits(fy), g, w)
		}
		if g, w := PackF32(c.Add(a32, b32, false, F32)), math.Float32bits(fx+fy); g != w && !(fx+fy != fx+fy) {
			t.Fatalf("add32(%x, %x): got %x, want %x", math.Float32bits(fx), math.Float32bits(fy), g, w)
		}
		if g, w := PackF32(c.RoundNum(a, F32)), math.Float32bits(fx); g != w && x == x {
			t.Fatalf("cvt(%x): got %x, want %x", math.Float64bits(x), g, w)
		}
		if x == x && !math.IsInf(x, 0) && math.Abs(x) < 9e18 {
			v, _ := c.ToInt(a, 64, RoundZero)
			if v != int64(x) {
				t.Fatalf("trunc(%v): got %d want %d", x, v, int64(x))
			}
		}
	}
}

func TestFlags(t *testing.T) {
	c := &Ctx{UEMasked: true}
	one := FromInt(1)
	three := FromInt(3)
	c.Div(one, three, F64)
	if c.Flags&^FlagUp != FlagPE {
		t.Fatalf("1/3 flags %#x", c.Flags)
	}
	c.Flags = 0
	c.Div(one, Num{Cls: Zero}, F64)
	if c.Flags != FlagZE {
		t.Fatalf("1/0 flags %#x", c.Flags)
	}
	c.Flags = 0
	r := c.Mul(c.UnpackF64(math.Float64bits(1e-300)), c.UnpackF64(math.Float64bits(1e-300)), F64)
	if c.Flags&^FlagUp != FlagUE|FlagPE || r.Cls != Zero {
		t.Fatalf("underflow flags %#x %+v", c.Flags, r)
	}
	c.Flags = 0
	c.RC = RoundZero
	r = c.Mul(c.UnpackF64(math.Float64bits(1e300)), c.UnpackF64(math.Float64bits(1e300)), F64)
	if c.Flags != FlagOE|FlagPE || PackF64(r) != math.Float64bits(math.MaxFloat64) {
		t.Fatalf("overflow RZ flags %#x %x", c.Flags, PackF64(r))
	}
}
