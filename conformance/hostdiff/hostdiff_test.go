package hostdiff

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"glassbox/conformance/hostcpu"
)

var (
	casesPerForm = flag.Int("conformance.n", 300, "random cases per instruction form (raise for soaking)")
	seedFlag     = flag.Uint64("conformance.seed", 0, "seed (0: derived from the time, printed on failure)")
	formFilter   = flag.String("conformance.form", "", "only forms whose name contains this")
	verbose      = flag.Bool("conformance.v", false, "print the XMM input of the first differing case")
)

// TestHostDiff runs every form of the host oracle on the host CPU
// and on glassbox, and compares registers, flags, memory and faults under
// the SDM's undefined-flag masks.
func TestHostDiff(t *testing.T) {
	if err := hostcpu.Available(); err != nil {
		t.Skipf("host-CPU oracle unavailable: %v", err)
	}
	r, err := hostcpu.NewRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -conformance.seed=%d)", seed, seed)
	emu := New()
	forms := hostcpu.Forms()
	type failure struct {
		form string
		n    int
		ex   string
	}
	var fails []failure
	ran, formsRun := 0, 0
	for fi, f := range forms {
		if *formFilter != "" && !strings.Contains(f.Name, *formFilter) {
			continue
		}
		rng := rand.New(rand.NewPCG(seed, uint64(fi)))
		codes := make([][]byte, 0, *casesPerForm)
		ins := make([]hostcpu.State, 0, *casesPerForm)
		for i := 0; i < *casesPerForm; i++ {
			code, in := f.Gen(rng)
			codes = append(codes, code)
			ins = append(ins, in)
		}
		formsRun++
		want, err := r.RunBatch(codes, ins)
		if err != nil {
			t.Fatalf("%s: host: %v", f.Name, err)
		}
		nf := 0
		var first string
		for i := range codes {
			got := emu.Run(codes[i], ins[i])
			ran++
			if err := hostcpu.Compare(want[i], got, f); err != nil {
				if nf == 0 {
					first = fmt.Sprintf("case %d code % x:\n%v%s", i, codes[i], err, x87Input(ins[i]))
				}
				nf++
			}
		}
		if nf > 0 {
			fails = append(fails, failure{f.Name, nf, first})
		}
	}
	sort.Slice(fails, func(i, j int) bool { return fails[i].form < fails[j].form })
	for _, f := range fails {
		t.Errorf("%s: %d of %d cases differ; first: %s", f.form, f.n, *casesPerForm, f.ex)
	}
	t.Logf("host diff: %d forms run, %d cases, %d forms with differences", formsRun, ran, len(fails))
}

// x87Input describes a case's x87 input state (for x87 forms).
func x87Input(in hostcpu.State) string {
	x := in.X87
	if x.FCW == 0 {
		if *verbose {
			s := fmt.Sprintf("\n\tinput: MXCSR %#x", in.MXCSR)
			for i, v := range in.XMM {
				s += fmt.Sprintf(" XMM%d=%016x_%016x", i, v[1], v[0])
			}
			return s
		}
		return ""
	}
	s := fmt.Sprintf("\n\tinput: FCW %#04x FSW %#04x FTW %#02x", x.FCW, x.FSW, x.FTW)
	for i, r := range x.ST {
		s += fmt.Sprintf(" ST(%d)=%04x_%016x", i, r.SE, r.M)
	}
	return s
}
