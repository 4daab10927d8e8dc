package devices

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"glassbox/memmap"
)

// Standard PC serial port bases and IRQs.
const (
	COM1Base = 0x3F8
	COM2Base = 0x2F8
	COM3Base = 0x3E8
	COM4Base = 0x2E8
	COM1IRQ  = 4
	COM2IRQ  = 3
)

// UART register bits.
const (
	uartIERRx  = 0x01 // received data available
	uartIERTx  = 0x02 // THR empty
	uartIERLS  = 0x04 // receiver line status
	uartIERMS  = 0x08 // modem status
	uartIIRNo  = 0x01
	uartIIRMS  = 0x00
	uartIIRTx  = 0x02
	uartIIRRx  = 0x04
	uartIIRLS  = 0x06
	uartIIRCTI = 0x0C
	uartIIRFE  = 0xC0

	uartLCRDLAB = 0x80

	uartMCRDTR  = 0x01
	uartMCRRTS  = 0x02
	uartMCROUT1 = 0x04
	uartMCROUT2 = 0x08
	uartMCRLoop = 0x10

	uartLSRDR     = 0x01
	uartLSROE     = 0x02
	uartLSRPE     = 0x04
	uartLSRFE     = 0x08
	uartLSRBI     = 0x10
	uartLSRTHRE   = 0x20
	uartLSRTEMT   = 0x40
	uartLSRErrors = uartLSROE | uartLSRPE | uartLSRFE | uartLSRBI

	uartMSRDCTS = 0x01
	uartMSRDDSR = 0x02
	uartMSRTERI = 0x04
	uartMSRDDCD = 0x08
	uartMSRCTS  = 0x10
	uartMSRDSR  = 0x20
	uartMSRRI   = 0x40
	uartMSRDCD  = 0x80

	uartFIFOSize = 16
)

// UART is a National 16550A serial port.
//
// Registers: RBR/THR, IER, IIR/FCR, LCR (DLAB selects the divisor latch),
// MCR, LSR, MSR, SCR. Transmission completes instantly: every byte written
// to THR goes to the output writer at once (or, in loopback mode, to the
// receiver), so LSR.THRE and LSR.TEMT always read 1 and the transmit FIFO is
// always empty. The receiver has a 16-byte FIFO (FCR bit 0; the other FCR
// bits only take effect with bit 0 set, as on the 16550A) with trigger
// levels 1/4/8/14 and clear bits; IIR bits 7-6 read 11 when the FIFOs are
// enabled. Without the FIFO the receiver holds one byte and a byte arriving
// while DR is set overwrites it and sets OE; with the FIFO a byte arriving
// when it is full is dropped and sets OE. Host input never overruns: Poll
// moves bytes from the Feed queue only as room allows.
//
// Interrupt priorities (IIR): receiver line status (OE/PE/FE/BI, cleared by
// reading LSR) > received data available (FIFO at or above the trigger
// level, or DR without FIFO) and character timeout (FIFO non-empty but below
// the trigger level after a Poll; cleared by reading RBR) > THR empty > modem
// status (MSR delta bits, cleared by reading MSR). The THR-empty interrupt
// is pending when IER.ETBEI is set and THR is empty: it is raised when
// ETBEI goes from 0 to 1 (THR is always empty) and after every byte written
// to THR (which first clears it, so the IRQ line pulses and an
// edge-triggered PIC sees a new interrupt), and cleared by reading IIR while
// it is the reported source (as in QEMU's serial.c and real 16550As).
//
// Modem lines: outside loopback CTS, DSR and DCD are asserted and RI is
// not. In loopback mode (MCR bit 4) the outputs are looped back: CTS=RTS,
// DSR=DTR, RI=OUT1, DCD=OUT2, changes set the MSR delta bits, transmitted
// bytes are received, and host input stays queued.
//
// IRQ gating: on a PC the UART's interrupt output reaches the ISA bus only
// through a buffer enabled by the OUT2 modem-control output, which the chip
// forces inactive in loopback mode. So by default the IRQ line is asserted
// when an interrupt is pending, MCR.OUT2 is set and loopback is off. QEMU's
// serial.c does not gate (its IRQ follows the pending interrupt alone);
// SetOUT2Gating(false) selects that behaviour. Like QEMU, the UART comes out
// of reset with MCR = OUT2 (a real 16550A resets MCR to 0), so guests that
// never program MCR still get interrupts, as they do under QEMU.
type UART struct {
	name string
	base uint16
	line int
	irq  IRQSink
	out  io.Writer

	ier, lcr, mcr, scr, fcr uint8
	dll, dlm                uint8
	lsrErr                  uint8 // OE/PE/FE/BI
	msrLines                uint8 // upper nibble: DCD RI DSR CTS
	msrDelta                uint8 // lower nibble
	fifoOn                  bool
	itl                     int
	rx                      [uartFIFOSize]byte
	rxHead, rxCount         int
	lastRBR                 uint8
	thrIP                   bool
	timeoutIP               bool
	irqLevel                bool
	gateOUT2                bool
	txBuf                   [1]byte

	txBytes, rxBytes, overruns uint64

	mu     sync.Mutex
	queue  []byte // host input; queue[qHead:] is still to be delivered
	qHead  int
	queued atomic.Int64
}

// NewUART returns a 16550A named name (for the port map, e.g. "com1") at
// ports base..base+7 raising ISA IRQ irqLine on irq, transmitting to out
// (nil discards).
func NewUART(name string, base uint16, irqLine int, irq IRQSink, out io.Writer) *UART {
	u := &UART{name: name, base: base, line: irqLine, irq: sinkOrNop(irq), out: out, gateOUT2: true}
	if int(base)+8 > 65536 {
		u.base = 65536 - 8
	}
	u.Reset()
	return u
}

// Reset puts the registers in their reset state (QEMU's serial_reset): IER
// 0, IIR 0x01, LCR 0, MCR OUT2, LSR THRE|TEMT, MSR DCD|DSR|CTS, divisor 12
// (9600 baud), FIFOs off and empty. Queued host input is kept.
func (u *UART) Reset() {
	u.ier, u.lcr, u.scr, u.fcr = 0, 0, 0, 0
	u.mcr = uartMCROUT2
	u.dll, u.dlm = 12, 0
	u.lsrErr = 0
	u.msrLines = uartMSRDCD | uartMSRDSR | uartMSRCTS
	u.msrDelta = 0
	u.fifoOn = false
	u.itl = 1
	u.rxHead, u.rxCount = 0, 0
	u.lastRBR = 0
	u.thrIP = false
	u.timeoutIP = false
	u.updateIRQ()
}

// Register maps the UART's eight ports.
func (u *UART) Register(s *memmap.Space) { s.AddPorts(u.name, u.base, 8, u) }

// SetOutput replaces the transmit writer (nil discards).
func (u *UART) SetOutput(w io.Writer) { u.out = w }

// Output returns the transmit writer.
func (u *UART) Output() io.Writer { return u.out }

// SetOUT2Gating selects whether the IRQ line is gated by MCR.OUT2 (and
// disabled in loopback mode) as on a PC (true, the default) or follows the
// pending interrupt alone as in QEMU (false).
func (u *UART) SetOUT2Gating(on bool) {
	u.gateOUT2 = on
	u.updateIRQ()
}

// Feed queues host input for the receiver. It may be called from any
// goroutine; the bytes reach the guest at the next Poll.
func (u *UART) Feed(b []byte) {
	if len(b) == 0 {
		return
	}
	u.mu.Lock()
	u.queue = append(u.queue, b...)
	u.queued.Store(int64(len(u.queue) - u.qHead))
	u.mu.Unlock()
}

// Queued returns how many fed bytes wait for room in the receiver. It may be
// called from any goroutine.
func (u *UART) Queued() int { return int(u.queued.Load()) }

// Poll moves queued input into the receiver as room allows (not in loopback
// mode), raises the character-timeout interrupt when the FIFO holds data
// below its trigger level, and updates the IRQ line. Call it from the
// machine loop on the baton goroutine.
func (u *UART) Poll() {
	if u.mcr&uartMCRLoop == 0 && u.queued.Load() > 0 {
		u.mu.Lock()
		for u.qHead < len(u.queue) && u.rxCount < u.rxCap() {
			u.push(u.queue[u.qHead])
			u.qHead++
		}
		switch {
		case u.qHead == len(u.queue):
			u.queue, u.qHead = u.queue[:0], 0
			if cap(u.queue) > 64<<10 {
				u.queue = nil // drop a large buffer once drained
			}
		case u.qHead > 4096 && u.qHead > len(u.queue)/2:
			n := copy(u.queue, u.queue[u.qHead:])
			u.queue, u.qHead = u.queue[:n], 0
		}
		u.queued.Store(int64(len(u.queue) - u.qHead))
		u.mu.Unlock()
	}
	if u.fifoOn && u.rxCount > 0 && u.rxCount < u.itl {
		u.timeoutIP = true
	}
	u.updateIRQ()
}

func (u *UART) rxCap() int {
	if u.fifoOn {
		return uartFIFOSize
	}
	return 1
}

func (u *UART) push(b byte) {
	u.rxBytes++
	u.rx[(u.rxHead+u.rxCount)%uartFIFOSize] = b
	u.rxCount++
}

// receive delivers a byte from the line (loopback) to the receiver.
func (u *UART) receive(b byte) {
	if u.rxCount < u.rxCap() {
		u.push(b)
		return
	}
	u.lsrErr |= uartLSROE
	u.overruns++
	if !u.fifoOn {
		u.rx[u.rxHead] = b // the holding register is overwritten
		u.rxBytes++
	}
}

func (u *UART) clearRx() {
	u.rxHead, u.rxCount = 0, 0
	u.timeoutIP = false
}

// In implements memmap.PortIO.
func (u *UART) In(port uint16, size int) uint32 { return inBytes(u, port, size) }

// Out implements memmap.PortIO.
func (u *UART) Out(port uint16, size int, v uint32) { outBytes(u, port, size, v) }

func (u *UART) owns(port uint16) bool { return port-u.base < 8 }

func (u *UART) in8(port uint16) uint8 {
	switch port - u.base {
	case 0:
		if u.lcr&uartLCRDLAB != 0 {
			return u.dll
		}
		if u.rxCount > 0 {
			u.lastRBR = u.rx[u.rxHead]
			u.rxHead = (u.rxHead + 1) % uartFIFOSize
			u.rxCount--
		}
		u.timeoutIP = false
		u.updateIRQ()
		return u.lastRBR
	case 1:
		if u.lcr&uartLCRDLAB != 0 {
			return u.dlm
		}
		return u.ier
	case 2:
		id := u.iirID()
		v := id
		if u.fifoOn {
			v |= uartIIRFE
		}
		if id == uartIIRTx {
			u.thrIP = false
			u.updateIRQ()
		}
		return v
	case 3:
		return u.lcr
	case 4:
		return u.mcr
	case 5:
		v := u.lsr()
		if u.lsrErr != 0 {
			u.lsrErr = 0
			u.updateIRQ()
		}
		return v
	case 6:
		v := u.msrLines | u.msrDelta
		if u.msrDelta != 0 {
			u.msrDelta = 0
			u.updateIRQ()
		}
		return v
	default:
		return u.scr
	}
}

func (u *UART) out8(port uint16, v uint8) {
	switch port - u.base {
	case 0:
		if u.lcr&uartLCRDLAB != 0 {
			u.dll = v
			return
		}
		u.thrIP = false
		u.updateIRQ()
		u.txBytes++
		if u.mcr&uartMCRLoop != 0 {
			u.receive(v)
		} else if u.out != nil {
			u.txBuf[0] = v
			_, _ = u.out.Write(u.txBuf[:])
		}
		u.thrIP = true // THR emptied at once
		u.updateIRQ()
	case 1:
		if u.lcr&uartLCRDLAB != 0 {
			u.dlm = v
			return
		}
		changed := (u.ier ^ v) & 0x0F
		u.ier = v & 0x0F
		if changed&uartIERTx != 0 {
			u.thrIP = u.ier&uartIERTx != 0
		}
		u.updateIRQ()
	case 2:
		u.writeFCR(v)
	case 3:
		u.lcr = v
	case 4:
		u.mcr = v & 0x1F
		u.updateModemLines()
		u.updateIRQ()
	case 5, 6:
		// LSR and MSR writes are for factory test: ignored.
	default:
		u.scr = v
	}
}

func (u *UART) writeFCR(v uint8) {
	en := v&0x01 != 0
	if en != u.fifoOn {
		u.clearRx() // changing the FIFO enable clears both FIFOs
	}
	if !en {
		u.fifoOn = false
		u.fcr = 0
		u.itl = 1
		u.updateIRQ()
		return
	}
	u.fifoOn = true
	if v&0x02 != 0 {
		u.clearRx()
	}
	if v&0x04 != 0 {
		u.thrIP = u.ier&uartIERTx != 0 // transmit FIFO reset: THR empty
	}
	u.fcr = v & 0xC9
	u.itl = [4]int{1, 4, 8, 14}[v>>6]
	u.updateIRQ()
}

func (u *UART) lsr() uint8 {
	v := u.lsrErr | uartLSRTHRE | uartLSRTEMT
	if u.rxCount > 0 {
		v |= uartLSRDR
	}
	return v
}

func (u *UART) updateModemLines() {
	var lines uint8
	if u.mcr&uartMCRLoop != 0 {
		if u.mcr&uartMCRRTS != 0 {
			lines |= uartMSRCTS
		}
		if u.mcr&uartMCRDTR != 0 {
			lines |= uartMSRDSR
		}
		if u.mcr&uartMCROUT1 != 0 {
			lines |= uartMSRRI
		}
		if u.mcr&uartMCROUT2 != 0 {
			lines |= uartMSRDCD
		}
	} else {
		lines = uartMSRDCD | uartMSRDSR | uartMSRCTS
	}
	changed := lines ^ u.msrLines
	if changed&uartMSRCTS != 0 {
		u.msrDelta |= uartMSRDCTS
	}
	if changed&uartMSRDSR != 0 {
		u.msrDelta |= uartMSRDDSR
	}
	if changed&uartMSRDCD != 0 {
		u.msrDelta |= uartMSRDDCD
	}
	if u.msrLines&uartMSRRI != 0 && lines&uartMSRRI == 0 {
		u.msrDelta |= uartMSRTERI // trailing edge of RI
	}
	u.msrLines = lines
}

// iirID returns the interrupt identification (low 4 bits of IIR).
func (u *UART) iirID() uint8 {
	switch {
	case u.ier&uartIERLS != 0 && u.lsrErr != 0:
		return uartIIRLS
	case u.ier&uartIERRx != 0 && u.rxCount > 0 && (!u.fifoOn || u.rxCount >= u.itl):
		return uartIIRRx
	case u.ier&uartIERRx != 0 && u.timeoutIP && u.rxCount > 0:
		return uartIIRCTI
	case u.ier&uartIERTx != 0 && u.thrIP:
		return uartIIRTx
	case u.ier&uartIERMS != 0 && u.msrDelta != 0:
		return uartIIRMS
	}
	return uartIIRNo
}

func (u *UART) updateIRQ() {
	lvl := u.iirID() != uartIIRNo
	if u.gateOUT2 && (u.mcr&uartMCROUT2 == 0 || u.mcr&uartMCRLoop != 0) {
		lvl = false
	}
	if lvl != u.irqLevel {
		u.irqLevel = lvl
		u.irq.SetIRQ(u.line, lvl)
	}
}

// IRQLevel reports the level the UART drives on its IRQ line.
func (u *UART) IRQLevel() bool { return u.irqLevel }

// Info writes the UART's registers.
func (u *UART) Info(w io.Writer) {
	div := uint16(u.dlm)<<8 | uint16(u.dll)
	baud := 0
	if div != 0 {
		baud = 115200 / int(div)
	}
	iir := u.iirID()
	if u.fifoOn {
		iir |= uartIIRFE
	}
	fmt.Fprintf(w, "%s: base=%#x irq=%d level=%d out2_gating=%d\n", u.name, u.base, u.line, b2u(u.irqLevel), b2u(u.gateOUT2))
	fmt.Fprintf(w, "  ier=%02x iir=%02x fcr=%02x lcr=%02x mcr=%02x lsr=%02x msr=%02x scr=%02x divisor=%d (%d baud)\n",
		u.ier, iir, u.fcr, u.lcr, u.mcr, u.lsr(), u.msrLines|u.msrDelta, u.scr, div, baud)
	fmt.Fprintf(w, "  fifo=%d trigger=%d rx_count=%d thr_ipending=%d timeout_ipending=%d queued=%d tx=%d rx=%d overruns=%d\n",
		b2u(u.fifoOn), u.itl, u.rxCount, b2u(u.thrIP), b2u(u.timeoutIP), u.Queued(), u.txBytes, u.rxBytes, u.overruns)
}

func (u *UART) String() string {
	var b strings.Builder
	u.Info(&b)
	return b.String()
}
