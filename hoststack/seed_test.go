package hoststack

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSeedAnalysis finishes the TODO of ../shared/seeds/001_*.txt (copied to
// testdata/qemu-seed-001.txt): the gdb backtrace of every thread of a
// QEMU migration destination that "hangs". The golden file holds the
// grouped thread view and the report; testdata/qemu-seed-001.md explains
// it.
func TestSeedAnalysis(t *testing.T) {
	in, err := os.ReadFile("testdata/qemu-seed-001.txt")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := ParseGDB(in)
	if err != nil {
		t.Fatal(err)
	}
	rep := Analyze(snap, Facts{})
	if rep.Kind != KindStopped || !strings.HasPrefix(rep.Verdict, "STOPPED, not a deadlock: all 8 vCPU threads are parked in qemu_wait_io_event") {
		t.Errorf("verdict: %s", rep.Verdict)
	}
	if !strings.Contains(strings.Join(rep.Locks, "\n"), "qemu_global_mutex (the BQL, QEMU's big lock): no thread waits to acquire it; 8 threads released it") {
		t.Errorf("BQL evidence: %q", rep.Locks)
	}
	var got bytes.Buffer
	got.WriteString("== thread apply all bt, grouped (hoststack.Write) ==\n\n")
	if err := Write(&got, snap, Options{Group: true}); err != nil {
		t.Fatal(err)
	}
	got.WriteString("\n== hoststack.Analyze ==\n\n")
	got.WriteString(rep.String())
	const golden = "testdata/qemu-seed-001.analysis.golden"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSeedAnalysis -update)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("analysis differs from %s (go test -run TestSeedAnalysis -update to accept):\n%s", golden, got.String())
	}
}
