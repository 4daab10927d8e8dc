package machine

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"

	"glassbox/internal/guestbuild"
	"glassbox/loader"
)

// runBenchGuest runs guests/bench with work size n ("-append n=N") on a
// fresh machine and returns the serial output and retired instructions.
func runBenchGuest(tb testing.TB, img []byte, n string) (string, uint64) {
	out, insns, _ := runBenchGuestStats(tb, img, n, 0)
	return out, insns
}

// runBenchGuestStats is runBenchGuest with a given quantum (0: the
// default) that also returns how many TBs were generated.
func runBenchGuestStats(tb testing.TB, img []byte, n string, quantum uint64) (string, uint64, uint64) {
	tb.Helper()
	var out bytes.Buffer
	m := bootKernel(tb, Config{RAM: 128 << 20, CPUs: 1, Serial: &out, Quantum: quantum}, img, "bench.elf", loader.Options{Cmdline: "n=" + n})
	defer m.Close()
	st := m.Run(context.Background())
	if st.Kind != StopDebugExit || st.Status != 1 {
		tb.Fatalf("bench n=%s: stop %v status %d err %v\n%s", n, st.Kind, st.Status, st.Err, out.String())
	}
	return out.String(), m.CPUs[0].ICount, m.TBs.Stats.Generated
}

func benchGuestImage(tb testing.TB) []byte {
	img, err := os.ReadFile(guestbuild.Build(tb, "bench"))
	if err != nil {
		tb.Fatal(err)
	}
	return img
}

// BenchmarkBenchGuest runs the whole benchmark guest (boot, paging, six
// kernels, serial output, isa-debug-exit) in-process, one run per
// iteration, and reports guest MIPS. allocs/op are per whole run (machine
// creation included); TestBenchGuestNoAllocPerInsn shows none of them
// depends on the number of instructions executed.
func BenchmarkBenchGuest(b *testing.B) {
	img := benchGuestImage(b)
	b.ReportAllocs()
	b.ResetTimer()
	var insns uint64
	for i := 0; i < b.N; i++ {
		_, n := runBenchGuest(b, img, "1")
		insns += n
	}
	b.ReportMetric(float64(insns)/b.Elapsed().Seconds()/1e6, "MIPS")
	b.ReportMetric(float64(insns)/float64(b.N), "insns/op")
}

// TestBenchGuestNoAllocPerInsn runs the benchmark guest with work sizes 1
// and 3: the same code, the same translations, the same output length, and
// about three times the instructions. Steady-state execution allocates
// nothing, so the two runs must allocate the same number of objects
// (machine set-up and translation are the same in both), give or take the
// few objects the Go runtime allocates on its own (0-5 seen). Anything
// allocated per vCPU turn would add over 300 (n=3 runs 337 more 100,000-
// instruction turns), anything per TB execution or per instruction
// millions.
func TestBenchGuestNoAllocPerInsn(t *testing.T) {
	img := benchGuestImage(t)
	runBenchGuest(t, img, "1") // warm up lazily initialised globals
	mallocs := func(n string) (uint64, uint64, uint64) {
		var a, b runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&a)
		_, insns, gen := runBenchGuestStats(t, img, n, 0)
		runtime.ReadMemStats(&b)
		return b.Mallocs - a.Mallocs, insns, gen
	}
	m1, i1, g1 := mallocs("1")
	m3, i3, g3 := mallocs("3")
	if i3 < 2*i1 {
		t.Fatalf("n=3 ran %d instructions, n=1 %d: the work size did not scale", i3, i1)
	}
	t.Logf("n=1: %d instructions, %d TBs, %d allocations; n=3: %d instructions, %d TBs, %d allocations", i1, g1, m1, i3, g3, m3)
	if g1 != g3 {
		t.Fatalf("n=1 generated %d TBs, n=3 %d: the runs do not translate the same code", g1, g3)
	}
	const runtimeNoise = 16
	if m3 > m1+runtimeNoise {
		t.Errorf("%d more allocations for %d more instructions: the steady state allocates", m3-m1, i3-i1)
	}
}
