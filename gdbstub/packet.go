package gdbstub

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// The packet layer of the GDB Remote Serial Protocol.
//
// A packet is "$" data "#" two hex checksum digits; the checksum is the sum
// of the data bytes modulo 256. Outside packets the peer sends "+" and "-"
// acknowledgements and the interrupt byte 0x03; anything else between
// packets is line noise and is ignored. Inside packets "}" escapes the next
// byte (XOR 0x20) in binary data, and "X*N" repeats X (N-29) more times
// (run-length encoding, which gdb itself does not send but other clients
// may).

// PacketSize is the largest packet the stub accepts and advertises
// (qSupported PacketSize, in bytes of packet data).
const PacketSize = 0x4000

// maxPacket is where the parser gives up on a packet: anything longer than
// this is discarded and answered with an error (a client may ignore
// PacketSize; a little slack keeps well-behaved clients working).
const maxPacket = 4 * PacketSize

// eventKind is what the parser recognised.
type eventKind int

const (
	evPacket    eventKind = iota // a complete packet (see event.bad/tooLong)
	evAck                        // "+"
	evNack                       // "-"
	evInterrupt                  // 0x03
)

// event is one thing the peer sent.
type event struct {
	kind eventKind
	// data is the raw packet data (still escaped / run-length encoded).
	data []byte
	// bad is set when the checksum is wrong or malformed.
	bad bool
	// tooLong is set when the packet exceeded maxPacket (data is empty).
	tooLong bool
}

// parser is the byte-at-a-time framing state machine. It never fails: every
// byte sequence yields some sequence of events.
type parser struct {
	state   int // 0 between packets, 1 in data, 2/3 checksum digits
	buf     []byte
	sum     byte
	csum    [2]byte
	tooLong bool
}

const (
	psIdle = iota
	psData
	psSum1
	psSum2
)

// feed consumes one byte and reports an event when one completes.
func (p *parser) feed(b byte) (event, bool) {
	switch p.state {
	case psIdle:
		switch b {
		case '$':
			p.state = psData
			p.buf = p.buf[:0]
			p.sum = 0
			p.tooLong = false
		case '+':
			return event{kind: evAck}, true
		case '-':
			return event{kind: evNack}, true
		case 0x03:
			return event{kind: evInterrupt}, true
		}
		// anything else between packets is noise
	case psData:
		switch b {
		case '#':
			p.state = psSum1
		case '$':
			// a new packet start inside a packet: the previous one was
			// truncated; report it as bad and start over.
			ev := event{kind: evPacket, bad: true, tooLong: p.tooLong}
			p.buf = p.buf[:0]
			p.sum = 0
			p.tooLong = false
			return ev, true
		default:
			p.sum += b
			if len(p.buf) >= maxPacket {
				p.tooLong = true
			} else {
				p.buf = append(p.buf, b)
			}
		}
	case psSum1:
		p.csum[0] = b
		p.state = psSum2
	case psSum2:
		p.csum[1] = b
		p.state = psIdle
		want, err := strconv.ParseUint(string(p.csum[:]), 16, 8)
		ev := event{kind: evPacket, tooLong: p.tooLong}
		if err != nil || byte(want) != p.sum {
			ev.bad = true
		}
		if !p.tooLong {
			ev.data = append([]byte(nil), p.buf...)
		}
		return ev, true
	}
	return event{}, false
}

// checksum is the RSP checksum of data.
func checksum(data []byte) byte {
	var s byte
	for _, b := range data {
		s += b
	}
	return s
}

// frame wraps data (already escaped) in "$...#xx".
func frame(data []byte) []byte {
	out := make([]byte, 0, len(data)+4)
	out = append(out, '$')
	out = append(out, data...)
	out = append(out, '#')
	out = append(out, fmt.Sprintf("%02x", checksum(data))...)
	return out
}

// escape applies binary escaping to data for a reply: '$', '#', '}' and
// '*' become '}' followed by the byte XOR 0x20.
func escape(data []byte) []byte {
	var out []byte
	for _, b := range data {
		switch b {
		case '$', '#', '}', '*':
			out = append(out, '}', b^0x20)
		default:
			out = append(out, b)
		}
	}
	return out
}

// escapedLen is len(escape(data)) without building it.
func escapedLen(data []byte) int {
	n := len(data)
	for _, b := range data {
		switch b {
		case '$', '#', '}', '*':
			n++
		}
	}
	return n
}

var errBadEscape = errors.New("escape character at end of data")

// unescape undoes binary escaping.
func unescape(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		b := data[i]
		if b == '}' {
			i++
			if i >= len(data) {
				return nil, errBadEscape
			}
			b = data[i] ^ 0x20
		}
		out = append(out, b)
	}
	return out, nil
}

var errBadRLE = errors.New("bad run-length encoding")

// expandRLE undoes run-length encoding ("X*N" = X repeated N-29 more
// times). Escape pairs ("}" and the byte after it) are copied verbatim so
// that binary data survives; a repeat count must be a printable character
// (N-29 >= 3, as the protocol requires, though smaller counts are accepted)
// and the expansion is bounded by maxPacket.
func expandRLE(data []byte) ([]byte, error) {
	if bytes.IndexByte(data, '*') < 0 {
		return data, nil
	}
	out := make([]byte, 0, len(data)*2)
	for i := 0; i < len(data); i++ {
		b := data[i]
		switch b {
		case '}':
			out = append(out, b)
			if i+1 < len(data) {
				i++
				out = append(out, data[i])
			}
		case '*':
			if len(out) == 0 || i+1 >= len(data) {
				return nil, errBadRLE
			}
			i++
			n := int(data[i]) - 29
			if n < 0 || n > 126-29 {
				return nil, errBadRLE
			}
			if len(out)+n > maxPacket {
				return nil, errBadRLE
			}
			last := out[len(out)-1]
			for k := 0; k < n; k++ {
				out = append(out, last)
			}
		default:
			out = append(out, b)
		}
	}
	return out, nil
}

// decodePacket turns raw packet data into the command text: run-length
// encoding is expanded; binary escapes stay (the X handler undoes them on
// its data part only).
func decodePacket(raw []byte) ([]byte, error) {
	return expandRLE(raw)
}

// parseHex parses a hex number (no prefix) that fits in 64 bits.
func parseHex(s string) (uint64, error) {
	if s == "" || len(s) > 16 {
		return 0, fmt.Errorf("bad hex number %q", s)
	}
	return strconv.ParseUint(s, 16, 64)
}

// parseThreadID parses a thread id: "-1" (all), "0" (any) or a positive
// hex number. Multiprocess "pP.T" forms are accepted and the process part
// ignored.
func parseThreadID(s string) (int, error) {
	if i := indexByte(s, '.'); i >= 0 && len(s) > 0 && s[0] == 'p' {
		s = s[i+1:]
	}
	if s == "-1" {
		return -1, nil
	}
	v, err := parseHex(s)
	if err != nil || v > 1<<20 {
		return 0, fmt.Errorf("bad thread id %q", s)
	}
	return int(v), nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// hexBytes decodes a hex string into bytes.
func hexBytes(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd-length hex data")
	}
	return hex.DecodeString(s)
}

// hexText encodes s as hex (for O packets and qRcmd replies).
func hexText(s []byte) string { return hex.EncodeToString(s) }
