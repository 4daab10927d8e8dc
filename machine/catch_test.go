package machine

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"glassbox/guests"
	"glassbox/loader"
)

// vcpuStack returns the host stack of the goroutine parked in a catchpoint.
func vcpuStack(t *testing.T) string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "glassbox/machine.(*Machine).fire") {
			return g
		}
	}
	t.Fatalf("no goroutine parked in a catchpoint:\n%s", buf[:n])
	return ""
}

// funcsInOrder checks that the stack (innermost first) contains the
// functions, in the given caller→callee order.
func funcsInOrder(t *testing.T, stack string, chain []string) {
	t.Helper()
	pos := len(stack)
	for _, f := range chain {
		i := strings.LastIndex(stack[:pos], f+"(")
		if i < 0 {
			t.Fatalf("stack lacks %s (or out of order):\n%s", f, stack)
		}
		pos = i
	}
}

// TestCatchSeedChains reproduces the two chains of the first seed (a QEMU
// vCPU inside a TLB fill at the reset vector, then inside tlb_protect_code
// during TB generation) with glassbox's own goroutine stacks.
func TestCatchSeedChains(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadBIOS(guests.DemoROM); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.AddCatch("tlb-fill", 0xFFFFF000, true); err != nil {
		t.Fatal(err)
	}
	st := m.Run(context.Background())
	if st.Kind != StopCatch || st.Catch == nil || !strings.Contains(st.Catch.Detail, "la=0xfffffff0") {
		t.Fatalf("stop %+v %+v", st, st.Catch)
	}
	funcsInOrder(t, vcpuStack(t), []string{
		"glassbox/cpu.(*CPU).Exec", "glassbox/cpu.(*CPU).runSome", "glassbox/cpu.(*CPU).findTB",
		"glassbox/cpu.(*CPU).lookupTB", "glassbox/cpu.(*CPU).fetchPage", "glassbox/cpu.(*CPU).fillTLB",
		"glassbox/cpu.(*CPU).installTLB", "glassbox/machine.(*Machine).fire",
	})
	if err := m.DeleteCatch(1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddCatch("code-protect", 0, false); err != nil {
		t.Fatal(err)
	}
	st = m.Run(context.Background())
	if st.Kind != StopCatch || !strings.Contains(st.Catch.Detail, "0xfffff000") {
		t.Fatalf("stop %+v %+v", st, st.Catch)
	}
	funcsInOrder(t, vcpuStack(t), []string{
		"glassbox/cpu.(*CPU).Exec", "glassbox/cpu.(*CPU).findTB", "glassbox/cpu.(*CPU).lookupTB",
		"glassbox/cpu.(*CPU).genTB", "glassbox/cpu.(*CPU).linkTB", "glassbox/cpu.(*CPU).protectCode",
		"glassbox/machine.(*Machine).fire",
	})
	// Deleting every catchpoint removes the hooks; the guest runs to its exit.
	m.DeleteCatch(2)
	if m.shared.Hooks != nil {
		t.Fatal("hooks still installed with no catchpoint")
	}
	if st = m.Run(context.Background()); st.Kind != StopDebugExit || st.Status != 1 {
		t.Fatalf("final stop %+v", st)
	}
}

func TestCatchKindsAndErrors(t *testing.T) {
	m, _ := New(Config{})
	m.LoadBIOS(guests.DemoROM)
	m.Start()
	defer m.Close()
	if _, err := m.AddCatch("bogus", 0, false); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := m.AddCatch("hlt", 1, true); err == nil {
		t.Fatal("argument to hlt accepted")
	}
	// exception 14: the demo's first page fault
	m.AddCatch("exception", 14, true)
	st := m.Run(context.Background())
	if st.Kind != StopCatch || !strings.Contains(st.Catch.Detail, "#PF") {
		t.Fatalf("stop %+v %+v", st, st.Catch)
	}
	m.DeleteCatch(1)
	m.AddCatch("io", 0xF4, true)
	st = m.Run(context.Background())
	if st.Kind != StopCatch || !strings.Contains(st.Catch.Detail, "out port 0xf4") {
		t.Fatalf("stop %+v %+v", st, st.Catch)
	}
}

// TestCatchSIPI: `catch sipi 2` stops when the BSP's ICR write sends the
// startup IPI to vCPU 2; the BSP's goroutine is parked inside the LAPIC
// write, and vCPU 2 has left wait-for-SIPI at the vector's address.
func TestCatchSIPI(t *testing.T) {
	m := bootKernel(t, Config{RAM: 128 << 20, CPUs: 4}, guestImage(t, "smp"), "smp.elf", loader.Options{})
	cp, err := m.AddCatch("sipi", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	st := m.Run(context.Background())
	if st.Kind != StopCatch || st.Catch == nil || st.CPU != 0 ||
		!strings.Contains(st.Catch.Detail, "from CPU 0 to CPU 2: starts it at 0x") {
		t.Fatalf("stop %+v %+v", st, st.Catch)
	}
	if m.CPUs[2].WaitingForSIPI() || !m.CPUs[3].WaitingForSIPI() {
		t.Errorf("after the SIPI to CPU 2: cpu2 waiting %v, cpu3 waiting %v", m.CPUs[2].WaitingForSIPI(), m.CPUs[3].WaitingForSIPI())
	}
	// outermost first: the vCPU loop, the guest's MMIO store to the ICR,
	// the LAPIC delivering the IPI, the catchpoint
	funcsInOrder(t, vcpuStack(t), []string{"glassbox/cpu.(*CPU).Exec", "glassbox/devices.(*LAPIC).WriteMMIO",
		"glassbox/machine.(*Machine).sipi", "glassbox/machine.(*Machine).fire"})
	// The second SIPI of INIT-SIPI-SIPI finds CPU 2 running: ignored.
	st = m.Run(context.Background())
	if st.Kind != StopCatch || !strings.Contains(st.Catch.Detail, "to CPU 2: ignored (not waiting for SIPI)") {
		t.Fatalf("second SIPI: stop %+v %+v", st, st.Catch)
	}
	m.DeleteCatch(cp.ID)
	if st := m.Run(context.Background()); st.Kind != StopDebugExit {
		t.Fatalf("final stop %v", st.Kind)
	}
}
