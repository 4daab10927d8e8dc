package guestbuild_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"glassbox/internal/guestbuild"
)

// fp64Mnemonics are instructions guests/fp64's gcc -O2 build must contain,
// so that the guest (compared with QEMU and with the host CPU) really
// exercises them: packed SSE from the vectorized loops, scalar SSE2
// arithmetic and conversions, MXCSR and x87 control, and x87 arithmetic for
// long double. If a compiler change drops one, the guest no longer covers it.
var fp64Mnemonics = []string{
	// packed, from -O2's vectorizer (matmul, axpy, dot4, min/max loops)
	"mulpd", "addpd", "mulps", "addps", "minpd", "maxpd", "minps", "maxps",
	// scalar SSE/SSE2
	"addsd", "subsd", "mulsd", "divsd", "sqrtsd", "minsd", "maxsd", "addss", "divss", "sqrtss",
	"comisd", "ucomisd", "comiss",
	"cvttsd2si", "cvtsd2si", "cvttss2si", "cvtsi2sd", "cvtsi2ss", "cvtsd2ss", "cvtss2sd",
	"andpd", "andnpd", "orpd",
	"ldmxcsr", "stmxcsr",
	// x87 (long double)
	"fldt", "fstpt", "fldl", "fstpl", "flds", "fstps", "fildll", "fistpll", "fldcw", "fnstcw", "fnstsw",
	"fsqrt", "faddp", "fmulp", "fdivrp", "fcomi", "fucomi", "fxch", "fchs",
}

// TestFP64InstructionMix disassembles the fp64 guest's x86-64 build (the
// ELF64 before objcopy) and requires every mnemonic in fp64Mnemonics. With
// -v it logs the count of each SSE/x87 mnemonic (guests/README.md quotes it).
func TestFP64InstructionMix(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed")
	}
	img := guestbuild.Build(t, "fp64")
	elf64 := filepath.Join(filepath.Dir(img), "fp64.obj", "fp64.elf64")
	out, err := exec.Command(objdump, "-d", "--no-show-raw-insn", elf64).Output()
	if err != nil {
		t.Fatalf("objdump -d %s: %v", elf64, err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		// "  1000a0:\tmulpd  %xmm1,%xmm0"
		f := strings.SplitN(line, "\t", 2)
		if len(f) != 2 || !strings.HasSuffix(strings.TrimSpace(f[0]), ":") {
			continue
		}
		if w := strings.Fields(f[1]); len(w) > 0 {
			counts[w[0]]++
		}
	}
	for _, m := range fp64Mnemonics {
		if counts[m] == 0 {
			t.Errorf("the gcc -O2 build of guests/fp64 has no %s", m)
		}
	}
	var fp []string
	for m, n := range counts {
		if isFPMnemonic(m) {
			fp = append(fp, fmt.Sprintf("%s %d", m, n))
		}
	}
	sort.Strings(fp)
	t.Logf("SSE/x87 mnemonics in fp64 (%d kinds): %s", len(fp), strings.Join(fp, ", "))
}

// isFPMnemonic reports whether m is an SSE/SSE2 or x87 instruction (the
// families fp64 is about), as objdump spells them.
func isFPMnemonic(m string) bool {
	if strings.HasPrefix(m, "f") || strings.HasPrefix(m, "cvt") || strings.HasSuffix(m, "mxcsr") {
		return true
	}
	for _, s := range []string{"pd", "ps", "sd", "ss"} {
		if strings.HasSuffix(m, s) {
			return true
		}
	}
	return false
}
