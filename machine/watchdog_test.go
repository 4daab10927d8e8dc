package machine

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/hoststack"
	"glassbox/loader"
)

// romAt returns a 64 KiB ROM whose reset vector holds code.
func romAt(code ...byte) []byte {
	rom := make([]byte, 64<<10)
	copy(rom[0xFFF0:], code)
	return rom
}

func startROM(t *testing.T, cfg Config, rom []byte) *Machine {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadBIOS(rom); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSpinWatchdog: `jmp $` spins in place and the watchdog stops it; a
// loop that counts (its registers change) is not a spin, however tight.
func TestSpinWatchdog(t *testing.T) {
	m := startROM(t, Config{SpinWatchdog: 5_000_000}, romAt(0xEB, 0xFE))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := m.RunFor(context.Background(), 100_000_000)
	if st.Kind != StopWatchdog || st.Status != 2 || st.Err == nil {
		t.Fatalf("jmp $: stop %v (%v), want watchdog", st.Kind, st.Err)
	}
	if n := m.CPUs[0].ICount; n < 5_000_000 || n > 8_000_000 {
		t.Errorf("fired after %d instructions, want just past 5M (+ one sample)", n)
	}
	f := m.HangFacts("stopped (watchdog)")
	if len(f.VCPUs) != 1 || !f.VCPUs[0].Spinning {
		t.Errorf("facts: %+v", f.VCPUs)
	}

	// inc eax; jmp back: same two instructions, registers change.
	m2 := startROM(t, Config{SpinWatchdog: 5_000_000}, romAt(0x66, 0x40, 0xEB, 0xFC))
	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if st := m2.RunFor(context.Background(), 30_000_000); st.Kind != StopPaused {
		t.Errorf("counting loop: stop %v (%v), want paused at the bound", st.Kind, st.Err)
	}
}

// TestSpinWatchdogSMPGuest: the SMP guest's waits (APs parked in PAUSE
// loops while the BSP works, the BSP polling while APs finish) never look
// like a machine-wide spin, even with a small threshold.
func TestSpinWatchdogSMPGuest(t *testing.T) {
	img := guestImage(t, "smp")
	for _, cpus := range []int{1, 4} {
		var out bytes.Buffer
		m := bootKernel(t, Config{RAM: 128 << 20, CPUs: cpus, Serial: &out, SpinWatchdog: 2_000_000}, img, "smp.elf", loader.Options{})
		st := m.Run(context.Background())
		m.Close()
		if st.Kind != StopDebugExit || !strings.Contains(out.String(), "smp: PASS") {
			t.Errorf("-smp %d: stop %v (%v)\n%s", cpus, st.Kind, st.Err, out.String())
		}
	}
}

// blockingPort is a device whose OUT blocks until released: an emulator
// bug as the host watchdog sees it.
type blockingPort struct{ release chan struct{} }

func (b *blockingPort) In(uint16, int) uint32 { return 0 }
func (b *blockingPort) Out(uint16, int, uint32) {
	<-b.release
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostWatchdog: a vCPU blocked inside a device handler stops every
// turn; the host watchdog notices, prints the analysis with the blocked
// goroutine and its host frames, and stays quiet once turns resume.
func TestHostWatchdog(t *testing.T) {
	// mov dx, 0x700; out dx, al; hlt
	m := startROM(t, Config{}, romAt(0xBA, 0x00, 0x07, 0xEE, 0xF4))
	dev := &blockingPort{release: make(chan struct{})}
	m.Mem.AddPorts("blocker", 0x700, 1, dev)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var out syncBuf
	stop := m.StartHostWatchdog(50*time.Millisecond, &out)
	defer stop()
	done := make(chan *Stop)
	go func() { done <- m.Run(context.Background()) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "hang analysis") && !strings.Contains(out.String(), "Threads:") {
		if time.Now().After(deadline) {
			t.Fatalf("the host watchdog did not fire; output so far:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(dev.release)
	st := <-done
	if st.Kind != StopHaltedForever {
		t.Errorf("after release: stop %v", st.Kind)
	}
	s := out.String()
	for _, want := range []string{"no vCPU finished a turn for 50ms (the emulator is stuck, not the guest)",
		`STUCK (host): no vCPU retired an instruction in the last 50ms: "CPU 0/TCG" is blocked (channel) in glassbox/machine.(*blockingPort).Out`} {
		if !strings.Contains(s, want) {
			t.Errorf("watchdog output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "glassbox: watchdog:"); n != 1 {
		t.Errorf("watchdog reported %d times for one stall", n)
	}
}

// TestExceptionLoopWatchdog: a #DE handler that returns to the faulting
// DIV makes an exception loop; the watchdog reports it as such.
func TestExceptionLoopWatchdog(t *testing.T) {
	rom := make([]byte, 64<<10)
	copy(rom[0xFF00:], []byte{
		0x31, 0xC0, // xor ax, ax
		0x8E, 0xD8, // mov ds, ax
		0xC7, 0x06, 0x00, 0x00, 0x20, 0xFF, // mov word [0], 0xff20 (IVT vector 0: offset)
		0xC7, 0x06, 0x02, 0x00, 0x00, 0xF0, // mov word [2], 0xf000 (segment)
		0x31, 0xDB, // xor bx, bx
		0xF6, 0xF3, // div bl -> #DE, the handler IRETs back here
	})
	rom[0xFF20] = 0xCF                                       // iret
	copy(rom[0xFFF0:], []byte{0xEA, 0x00, 0xFF, 0x00, 0xF0}) // jmp f000:ff00
	m := startROM(t, Config{SpinWatchdog: 1 << 40}, rom)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st := m.RunFor(context.Background(), 50_000_000)
	if st.Kind != StopWatchdog || st.Err == nil || !strings.Contains(st.Err.Error(), "exception loop on CPU 0: #DE at 0xff12 delivered") {
		t.Fatalf("stop %v (%v), want an exception-loop watchdog stop", st.Kind, st.Err)
	}
}

// TestPausedDeadlockAnalysis: without the watchdog, a user who pauses the
// deadlocked guest (here: a bounded run) gets the same diagnosis — vCPUs
// spinning in place when paused are analysed as running.
func TestPausedDeadlockAnalysis(t *testing.T) {
	m := bootKernel(t, Config{RAM: 128 << 20, CPUs: 2}, guestImage(t, "smp"), "smp.elf", loader.Options{Cmdline: "deadlock"})
	if st := m.RunFor(context.Background(), 30_000_000); st.Kind != StopPaused {
		t.Fatalf("stop %v (%v)", st.Kind, st.Err)
	}
	rep := hoststack.Analyze(hoststack.Snapshot{}, m.HangFacts("stopped (paused)"))
	if rep.Kind != hoststack.KindDeadlock || !strings.Contains(rep.Verdict, "CPU 0 spins on lock") {
		t.Errorf("verdict %q (%v)", rep.Verdict, rep.Kind)
	}
}

// TestSpinWatchdogIgnoresPortPolling: a guest polling a UART's line
// status for input that has not arrived is waiting for the host, not stuck.
func TestSpinWatchdogIgnoresPortPolling(t *testing.T) {
	// mov dx, 0x3fd; l: in al, dx; test al, 1; jz l; hlt
	m := startROM(t, Config{SpinWatchdog: 5_000_000}, romAt(0xBA, 0xFD, 0x03, 0xEC, 0xA8, 0x01, 0x74, 0xFB, 0xF4))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if st := m.RunFor(context.Background(), 30_000_000); st.Kind != StopPaused {
		t.Errorf("polling loop: stop %v (%v), want paused at the bound", st.Kind, st.Err)
	}
}
