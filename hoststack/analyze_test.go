package hoststack

import (
	"strings"
	"testing"
	"time"
)

// spinPCs is a TB ring of a vCPU going round a two-block spin loop.
func spinPCs(base uint64) []uint64 {
	var pcs []uint64
	for i := 0; i < 32; i++ {
		pcs = append(pcs, base+uint64(i%2)*6)
	}
	return pcs
}

// busyPCs is a TB ring of a vCPU doing real work.
func busyPCs() []uint64 {
	var pcs []uint64
	for i := 0; i < 32; i++ {
		pcs = append(pcs, 0x100000+uint64(i)*0x340)
	}
	return pcs
}

func spinner(id int, lock uint64, holder int) VCPU {
	return VCPU{ID: id, State: VCPURunning, IF: true, PC: 0x8000 + uint64(id)*0x100, RecentPCs: spinPCs(0x8000 + uint64(id)*0x100),
		Pauses: 50000, Retired: 300000,
		SpinOn: &SpinWord{Addr: lock, Value: 1, Size: 4, LastWriter: holder, LastWriterKnown: true}}
}

func analyze(t *testing.T, f Facts) Report {
	t.Helper()
	r := Analyze(Snapshot{}, f)
	t.Logf("\n%s", r)
	if !strings.HasPrefix(r.String(), r.Verdict+"\n") {
		t.Fatal("the report does not start with the verdict")
	}
	return r
}

func wantVerdict(t *testing.T, r Report, kind Kind, parts ...string) {
	t.Helper()
	if r.Kind != kind {
		t.Errorf("kind %v, want %v (verdict %q)", r.Kind, kind, r.Verdict)
	}
	for _, p := range parts {
		if !strings.Contains(r.Verdict, p) {
			t.Errorf("verdict %q lacks %q", r.Verdict, p)
		}
	}
}

func TestAnalyzeGuestSpinlockDeadlock(t *testing.T) {
	r := analyze(t, Facts{Window: time.Second, VCPUs: []VCPU{
		spinner(0, 0x1000, 1),
		spinner(1, 0x1004, 0),
	}})
	wantVerdict(t, r, KindDeadlock, "DEADLOCK (guest): ",
		"CPU 0 spins on lock 0x1000 held by CPU 1", "CPU 1 spins on lock 0x1004 held by CPU 0")
	if len(r.Cycles) != 1 || len(r.Cycles[0]) != 2 {
		t.Errorf("cycles: %q", r.Cycles)
	}
	if !strings.Contains(r.VCPUs[0], "last 32 TBs all in 0x8000-0x8006") || !strings.Contains(r.VCPUs[0], "STUCK") {
		t.Errorf("vCPU evidence: %q", r.VCPUs[0])
	}
}

// A third vCPU spinning on a deadlocked one is stuck too, but not in the cycle.
func TestAnalyzeDeadlockWithBystander(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{spinner(0, 0x1000, 1), spinner(1, 0x1004, 0), spinner(2, 0x1000, 1)}})
	wantVerdict(t, r, KindDeadlock, "CPU 0 spins on lock 0x1000 held by CPU 1")
	if len(r.Cycles) != 1 || !strings.Contains(strings.Join(r.Why, "\n"), "also stuck: CPU 2 spins on lock 0x1000 held by CPU 1") {
		t.Errorf("cycles %q, why %q", r.Cycles, r.Why)
	}
}

func TestAnalyzeSelfDeadlock(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{spinner(0, 0x2000, 0)}})
	wantVerdict(t, r, KindDeadlock, "DEADLOCK (guest): CPU 0 spins on lock 0x2000 held by CPU 0")
}

func TestAnalyzeAllHaltedInterruptsOff(t *testing.T) {
	r := analyze(t, Facts{TimerArmed: true, VCPUs: []VCPU{
		{ID: 0, State: VCPUHalted, PC: 0x1005},
		{ID: 1, State: VCPUHalted, PC: 0x2005},
	}})
	wantVerdict(t, r, KindDead, "all vCPUs halted with interrupts disabled: the guest is dead")
}

func TestAnalyzeAllHaltedNothingArmed(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{{ID: 0, State: VCPUHalted, IF: true}}})
	wantVerdict(t, r, KindDead, "nothing can wake them")
}

func TestAnalyzeWaitsForIPINobodySends(t *testing.T) {
	// CPU 0 died with interrupts off, CPU 1 spins on a lock CPU 2 holds,
	// CPU 2 sleeps waiting for an IPI.
	r := analyze(t, Facts{VCPUs: []VCPU{
		{ID: 0, State: VCPUHalted},
		spinner(1, 0x3000, 2),
		{ID: 2, State: VCPUHalted, IF: true},
	}})
	wantVerdict(t, r, KindLostWakeup, "CPU 2 waits for an IPI that no CPU will send",
		"CPU 0 is halted with interrupts disabled", "CPU 1 spins on lock 0x3000 held by CPU 2")
}

func TestAnalyzeWaitsForSIPI(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{
		{ID: 0, State: VCPUHalted},
		{ID: 1, State: VCPUWaitSIPI},
	}})
	wantVerdict(t, r, KindLostWakeup, "CPU 1 waits for a SIPI that no CPU will send")
}

// The same AP waiting for SIPI is fine while the BSP runs.
func TestAnalyzeWaitsForSIPIWhileBSPRuns(t *testing.T) {
	r := analyze(t, Facts{Window: time.Second, VCPUs: []VCPU{
		{ID: 0, State: VCPURunning, RecentPCs: busyPCs(), Retired: 5000000},
		{ID: 1, State: VCPUWaitSIPI},
	}})
	wantVerdict(t, r, KindHealthy, "no hang: 1 of 2 vCPUs retired instructions in the last 1s")
}

func TestAnalyzeSpinOnDeadHolder(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{spinner(0, 0x1000, 1), {ID: 1, State: VCPUHalted}}})
	wantVerdict(t, r, KindStuck, "CPU 0 spins on lock 0x1000 held by CPU 1, which is halted with interrupts disabled")
}

func TestAnalyzeHealthy(t *testing.T) {
	r := analyze(t, Facts{Window: time.Second, TimerArmed: true, VCPUs: []VCPU{
		{ID: 0, State: VCPURunning, IF: true, RecentPCs: busyPCs(), Retired: 4000000},
		{ID: 1, State: VCPURunning, IF: true, RecentPCs: busyPCs(), Retired: 3000000},
		{ID: 2, State: VCPURunning, IF: true, RecentPCs: busyPCs(), Retired: 2000000},
		{ID: 3, State: VCPUHalted, IF: true},
	}})
	wantVerdict(t, r, KindHealthy, "no hang: 3 of 4 vCPUs retired instructions in the last 1s")
	if len(r.Why) != 1 || !strings.Contains(r.Why[0], "CPU 3 is halted with interrupts enabled, and a timer is armed") {
		t.Errorf("why: %q", r.Why)
	}
}

func TestAnalyzeContention(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{spinner(0, 0x1000, 1), {ID: 1, State: VCPURunning, RecentPCs: busyPCs(), Retired: 10}}})
	wantVerdict(t, r, KindSpinning, "CPU 0 spins on lock 0x1000 held by CPU 1, which is running (lock contention")
}

func TestAnalyzeSpinUnknownWord(t *testing.T) {
	r := analyze(t, Facts{VCPUs: []VCPU{{ID: 0, State: VCPURunning, RecentPCs: spinPCs(0x7c00)}}})
	wantVerdict(t, r, KindSpinning, "CPU 0 spins in 0x7c00-0x7c06 on a word that is not known")
}

func TestAnalyzePaused(t *testing.T) {
	r := analyze(t, Facts{RunState: "paused", VCPUs: []VCPU{{ID: 0, State: VCPUPaused}, {ID: 1, State: VCPUCatchpoint}}})
	wantVerdict(t, r, KindStopped, "STOPPED, not a hang: the machine is paused")
}

// A vCPU whose goroutine is stuck on a host lock is stuck with it.
func TestAnalyzeVCPUOnStuckThread(t *testing.T) {
	r := analyze(t, Facts{
		VCPUs: []VCPU{{ID: 0, State: VCPURunning, RecentPCs: busyPCs()}},
		Locks: []Lock{
			{Name: "tb.Cache.mu", Holder: "main-loop", Waiters: []string{"CPU 0/TCG"}},
			{Name: "baton", Holder: "CPU 0/TCG", Waiters: []string{"main-loop"}},
		},
	})
	wantVerdict(t, r, KindDeadlock, `DEADLOCK (host): "CPU 0/TCG" waits for lock tb.Cache.mu held by "main-loop", "main-loop" waits for lock baton held by "CPU 0/TCG"`)
	if !strings.Contains(strings.Join(r.Why, "\n"), `also stuck: CPU 0 runs on "CPU 0/TCG"`) {
		t.Errorf("why: %q", r.Why)
	}
}

// Dependencies: several edges from one thread mean "any of them".
func TestAnalyzeDependencies(t *testing.T) {
	r := analyze(t, Facts{
		VCPUs: []VCPU{{ID: 0, State: VCPUHalted}},
		Waits: []Dependency{
			{From: "main-loop", To: "CPU 0", Why: "the vCPU must return the baton"},
			{From: "gdbstub", To: "main-loop", Why: "stop reply"},
		},
	})
	wantVerdict(t, r, KindDead)
	r = analyze(t, Facts{
		VCPUs: []VCPU{{ID: 0, State: VCPURunning, Retired: 1}},
		Waits: []Dependency{{From: "a", To: "b"}, {From: "b", To: "a"}, {From: "b", To: "CPU 0"}},
	})
	wantVerdict(t, r, KindHealthy)
	r = analyze(t, Facts{Waits: []Dependency{{From: "a", To: "b", Why: "reply"}, {From: "b", To: "a"}}})
	wantVerdict(t, r, KindDeadlock, `"a" waits for "b" (reply), "b" waits for "a"`)
}

func TestAnalyzeNoFacts(t *testing.T) {
	r := analyze(t, Facts{})
	wantVerdict(t, r, KindUnknown, "NO VERDICT")
}

func TestSpinRange(t *testing.T) {
	if lo, hi, ok := SpinRange(spinPCs(0x1000)); !ok || lo != 0x1000 || hi != 0x1006 {
		t.Errorf("spin loop: %#x-%#x %v", lo, hi, ok)
	}
	if _, _, ok := SpinRange(busyPCs()); ok {
		t.Error("busy code taken for a spin")
	}
	if _, _, ok := SpinRange(spinPCs(0x1000)[:MinSpinTBs-1]); ok {
		t.Error("too few TBs taken for a spin")
	}
}
