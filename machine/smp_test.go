package machine

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"glassbox/internal/guestbuild"
	"glassbox/loader"
)

func runSMP(t *testing.T, img []byte, cpus int) (string, uint64) {
	t.Helper()
	var out bytes.Buffer
	m := bootKernel(t, Config{RAM: 128 << 20, CPUs: cpus, Serial: &out}, img, "smp.elf", loader.Options{})
	st := m.Run(context.Background())
	if st.Kind != StopDebugExit || st.Status != 1 {
		t.Fatalf("-smp %d: stop %v status %d\n%s", cpus, st.Kind, st.Status, out.String())
	}
	var n uint64
	for _, c := range m.CPUs {
		n += c.ICount
	}
	return out.String(), n
}

// filterSMP drops the lines that name the CPU model (vendor, features).
func filterSMP(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, "cpuid:") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// TestSMPGuest: guests/smp starts every AP with INIT-SIPI-SIPI and counts
// with LOCK XADD and a LOCK CMPXCHG spinlock; totals must be exact and the
// output must equal QEMU's, including how many CPUs the MP table, the ACPI
// MADT and fw_cfg report.
func TestSMPGuest(t *testing.T) {
	elf := guestbuild.Build(t, "smp")
	img, err := os.ReadFile(elf)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cpus int
		file string
	}{{1, "expected_smp1.txt"}, {2, "expected_smp2.txt"}, {4, "expected.txt"}, {8, "expected_smp8.txt"}} {
		want, err := os.ReadFile(guestbuild.Dir(t, "smp") + "/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := runSMP(t, img, c.cpus)
		if filterSMP(got) != filterSMP(string(want)) {
			t.Errorf("-smp %d differs from QEMU:\n%s", c.cpus, guestbuild.Diff([]byte(filterSMP(string(want))), []byte(filterSMP(got))))
		}
	}
}

// TestSMPDeterministic: the same 4-vCPU guest run 20 times gives
// byte-identical output and the same total instruction count.
func TestSMPDeterministic(t *testing.T) {
	elf := guestbuild.Build(t, "smp")
	img, _ := os.ReadFile(elf)
	out1, n1 := runSMP(t, img, 4)
	for i := 1; i < 20; i++ {
		out, n := runSMP(t, img, 4)
		if out != out1 || n != n1 {
			t.Fatalf("run %d differs: %d vs %d instructions\n%s\n---\n%s", i+1, n, n1, out, out1)
		}
	}
	t.Logf("20 runs: identical output, %d instructions each", n1)
}
