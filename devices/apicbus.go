package devices

// APIC interrupt delivery: the message format shared by the local APICs
// (ICR, LVT) and the I/O APIC (redirection entries), and the bus that routes
// messages between them.
//
// The model is the Pentium 4 / Xeon system-bus delivery of the xAPIC
// architecture (Intel SDM Vol. 3, chapter 11): a message is delivered at
// once to every local APIC that matches its destination, there are no bus
// arbitration cycles, no retries and no checksums. Delivery is synchronous:
// when Deliver returns, every target has accepted (or refused) the message
// and the hooks of the targets have run.

// Physical addresses of the APIC register pages (the architectural
// defaults; relocation is not supported, see [LAPIC.SetBase]).
const (
	LAPICDefaultBase  = 0xFEE00000
	IOAPICDefaultBase = 0xFEC00000
)

// Delivery modes, as encoded in the ICR, the LVT entries and the I/O APIC
// redirection entries (bits 8-10).
const (
	DeliveryFixed          = 0
	DeliveryLowestPriority = 1
	DeliverySMI            = 2
	DeliveryNMI            = 4
	DeliveryINIT           = 5
	DeliveryStartup        = 6 // SIPI
	DeliveryExtINT         = 7
)

// Destination shorthands, as encoded in ICR bits 18-19.
const (
	ShorthandNone             = 0
	ShorthandSelf             = 1
	ShorthandAllIncludingSelf = 2
	ShorthandAllExcludingSelf = 3
)

// Message is one interrupt message on the APIC bus.
//
// Dest is the destination field (xAPIC: only its low 8 bits are used): a
// physical APIC ID when Logical is false, a logical destination (matched
// against each target's LDR under its DFR model) when Logical is true. 0xFF
// is a broadcast in both destination modes. Mode is a Delivery* constant.
// Level and LevelTrig are the ICR's level (assert) and trigger-mode bits
// (the I/O APIC sends Level=true and its entry's trigger mode). Shorthand is
// a Shorthand* constant; when it is not ShorthandNone, Dest and Logical are
// ignored. Source is the APIC ID of the sending local APIC, or -1 for the
// I/O APIC (or any other non-LAPIC source); it is needed by the self and
// all-excluding-self shorthands.
type Message struct {
	// X2: Dest is a 32-bit x2APIC destination (else 8 bits).
	X2        bool
	Dest      uint32
	Logical   bool
	Mode      int
	Vector    uint8
	Level     bool
	LevelTrig bool
	Shorthand int
	Source    int
}

// APICBus connects the local APICs and the I/O APICs of a machine (the
// system bus of the xAPIC architecture). Like every device it is
// single-threaded: see the package documentation.
type APICBus struct {
	lapics  []*LAPIC
	ioapics []*IOAPIC
}

// NewAPICBus returns a bus with nothing attached.
func NewAPICBus() *APICBus { return &APICBus{} }

// Add attaches a local APIC. NewLAPIC already attaches the LAPIC to the bus
// it is given; adding one twice (or a nil one) does nothing. Targets are
// visited in the order they were added.
func (b *APICBus) Add(l *LAPIC) {
	if b == nil || l == nil {
		return
	}
	for _, x := range b.lapics {
		if x == l {
			return
		}
	}
	b.lapics = append(b.lapics, l)
	l.bus = b // EOI broadcasts and IPIs of l go through this bus
}

// LAPICs returns the attached local APICs in the order they were added.
func (b *APICBus) LAPICs() []*LAPIC {
	if b == nil {
		return nil
	}
	return append([]*LAPIC(nil), b.lapics...)
}

func (b *APICBus) addIOAPIC(a *IOAPIC) {
	for _, x := range b.ioapics {
		if x == a {
			return
		}
	}
	b.ioapics = append(b.ioapics, a)
}

// Deliver routes m to its targets:
//
//   - Fixed: every target that is enabled (globally and by software) and
//     receives a legal vector (>= 16) sets the vector in its IRR (and its
//     TMR bit to the trigger mode). Illegal vectors set ESR bit 6 in the
//     receiver instead.
//   - Lowest priority: delivered as Fixed to exactly one target, the one
//     with the lowest APIC ID among the matching, enabled targets (a
//     deterministic stand-in for the hardware's arbitration; TPR/focus are
//     not considered).
//   - SMI: ignored (there is no SMM).
//   - NMI, INIT, Startup: the target's hooks are called (INIT also resets
//     the target's LAPIC, keeping its ID); they are accepted by
//     software-disabled LAPICs too.
//   - ExtINT: the target fetches its vector from the 8259 PIC with its next
//     Ack (only LAPICs created with a PIC accept it).
//
// Level-triggered messages with Level clear (the INIT level de-assert IPI,
// or a de-asserting fixed message) are ignored, as are the reserved
// delivery modes 3. LAPICs that are globally disabled (IA32_APIC_BASE bit
// 11 clear) do not receive anything.
func (b *APICBus) Deliver(m Message) {
	if b == nil {
		return
	}
	var src *LAPIC
	if m.Source >= 0 {
		for _, l := range b.lapics {
			if int(l.id) == m.Source {
				src = l
				break
			}
		}
	}
	b.deliver(m, src)
}

// deliver routes m (sent by src, nil for the I/O APIC) and returns how many
// local APICs accepted it.
func (b *APICBus) deliver(m Message, src *LAPIC) int {
	if b == nil {
		return 0
	}
	switch m.Mode {
	case DeliveryFixed, DeliveryLowestPriority, DeliveryNMI, DeliveryINIT, DeliveryStartup, DeliveryExtINT:
	default:
		return 0 // SMI, reserved modes
	}
	if m.LevelTrig && !m.Level {
		return 0 // de-assert: only meaningful for INIT, which ignores it
	}
	var buf [16]*LAPIC
	targets := buf[:0]
	switch m.Shorthand {
	case ShorthandSelf:
		if src != nil {
			targets = append(targets, src)
		}
	case ShorthandAllIncludingSelf:
		targets = append(targets, b.lapics...)
	case ShorthandAllExcludingSelf:
		for _, l := range b.lapics {
			if l != src {
				targets = append(targets, l)
			}
		}
	case ShorthandNone:
		for _, l := range b.lapics {
			if l.matches(m) {
				targets = append(targets, l)
			}
		}
	default:
		return 0
	}
	if m.Mode == DeliveryLowestPriority {
		var best *LAPIC
		for _, l := range targets {
			if !l.hwEnabled || !l.swEnabled() {
				continue
			}
			if best == nil || l.id < best.id {
				best = l
			}
		}
		if best == nil {
			return 0
		}
		targets = append(targets[:0], best)
		m.Mode = DeliveryFixed
	}
	n := 0
	for _, l := range targets {
		if l.receive(m) {
			n++
		}
	}
	return n
}

// eoi broadcasts the EOI of a level-triggered vector to the I/O APICs.
func (b *APICBus) eoi(vector uint8) {
	if b == nil {
		return
	}
	for _, a := range b.ioapics {
		a.EOI(vector)
	}
}

// assembleRead builds a size-byte little-endian read at off from a register
// page made of 16-byte slots whose first 4 bytes hold a 32-bit register
// (the other 12 bytes read as 0), as in the APIC register pages. reg is
// called once per slot touched. Bytes at or beyond limit read as 0.
func assembleRead(off uint64, size int, limit uint64, reg func(slot uint64) uint32) uint64 {
	if size < 1 {
		size = 1
	}
	if size > 8 {
		size = 8
	}
	var v uint64
	haveSlot := false
	var lastSlot uint64
	var cur uint32
	for i := 0; i < size; i++ {
		a := off + uint64(i)
		if a < off || a >= limit {
			break
		}
		b := a & 0xF
		if b >= 4 {
			continue
		}
		slot := a &^ 0xF
		if !haveSlot || slot != lastSlot {
			cur = reg(slot)
			lastSlot, haveSlot = slot, true
		}
		v |= uint64(uint8(cur>>(8*b))) << (8 * uint(i))
	}
	return v
}

func deliveryModeName(m int) string {
	switch m {
	case DeliveryFixed:
		return "Fixed"
	case DeliveryLowestPriority:
		return "LowPri"
	case DeliverySMI:
		return "SMI"
	case DeliveryNMI:
		return "NMI"
	case DeliveryINIT:
		return "INIT"
	case DeliveryStartup:
		return "SIPI"
	case DeliveryExtINT:
		return "ExtINT"
	}
	return "Reserved"
}
