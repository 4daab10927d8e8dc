package devices

import (
	"fmt"
	"testing"

	"glassbox/vclock"
)

type irqEvent struct {
	line  int
	level bool
	at    int64
}

func (e irqEvent) String() string { return fmt.Sprintf("irq%d=%v@%d", e.line, e.level, e.at) }

// fakeIRQ records SetIRQ calls (with the virtual time when clk is set).
type fakeIRQ struct {
	clk    *vclock.Clock
	levels [16]bool
	events []irqEvent
}

func (f *fakeIRQ) SetIRQ(line int, level bool) {
	var at int64
	if f.clk != nil {
		at = f.clk.Now()
	}
	if line >= 0 && line < 16 {
		f.levels[line] = level
	}
	f.events = append(f.events, irqEvent{line, level, at})
}

// rises returns the times of rising edges on line.
func (f *fakeIRQ) rises(line int) []int64 {
	var out []int64
	for _, e := range f.events {
		if e.line == line && e.level {
			out = append(out, e.at)
		}
	}
	return out
}

func (f *fakeIRQ) reset() { f.events = nil }

// portDev is the common shape of the devices under test.
type portDev interface {
	In(port uint16, size int) uint32
	Out(port uint16, size int, v uint32)
}

func in8(d portDev, port uint16) uint8     { return uint8(d.In(port, 1)) }
func out8(d portDev, port uint16, v uint8) { d.Out(port, 1, uint32(v)) }
func expect8(t *testing.T, what string, got, want uint8) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %#02x, want %#02x", what, got, want)
	}
}
