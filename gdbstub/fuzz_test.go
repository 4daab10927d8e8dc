package gdbstub

import (
	"net"
	"sync"
	"testing"
	"time"

	"glassbox/guests"
	"glassbox/machine"
	"glassbox/target"
)

// discardConn is a net.Conn that swallows writes (replies of the fuzzed
// session).
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
func (discardConn) Close() error                { return nil }

func (discardConn) SetWriteDeadline(time.Time) error { return nil }

var (
	fuzzOnce   sync.Once
	fuzzServer *Server
)

// FuzzPacket feeds arbitrary bytes to the packet parser and every
// complete packet to the command dispatcher of a session on the demo
// machine (except the packets that run the guest or end the session).
// Nothing may panic or hang.
func FuzzPacket(f *testing.F) {
	for _, seed := range []string{
		"+$qSupported:swbreak+;hwbreak+#00",
		"$g#67", "$?#3f", "$m0,10#2a", "$M2000,4:deadbeef#00", "$X2000,2:}\x03a#00",
		"$qXfer:features:read:target.xml:0,ffb#00", "$qXfer:memory-map:read::0,100#00",
		"$p8#a8", "$P0=01020304#00", "$Z0,100000,1#00", "$z0,100000,1#00", "$Z2,2000,4#00",
		"$qRcmd,696e666f20726567697374657273#00", "$qRcmd,7068797320#00", "$QStartNoAckMode#b0",
		"\x03", "-", "$Hg1#00", "$qThreadExtraInfo,1#00", "$m0*\"#00", "$a*\"*#00", "$}#00",
		"$qC#b4", "$vCont?#49", "$T1#00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOnce.Do(func() {
			m, err := machine.New(machine.Config{RAM: 4 << 20})
			if err != nil {
				panic(err)
			}
			m.LoadBIOS(guests.DemoROM)
			m.Start()
			fuzzServer, err = New(target.New(m), Config{})
			if err != nil {
				panic(err)
			}
		})
		cn := newConn(fuzzServer, discardConn{})
		defer cn.dropDebugState()
		var p parser
		for _, b := range data {
			ev, ok := p.feed(b)
			if !ok {
				continue
			}
			if ev.kind == evPacket && !ev.bad && !ev.tooLong {
				d, err := decodePacket(ev.data)
				if err == nil && len(d) > 0 && skipFuzz(string(d)) {
					continue
				}
			}
			cn.event(ev)
		}
		// the escaping helpers round-trip
		u, err := unescape(escape(data))
		if err != nil || string(u) != string(data) {
			t.Fatalf("escape/unescape round trip failed for %q", data)
		}
	})
}

// skipFuzz reports packets that would run the guest or end the session.
func skipFuzz(p string) bool {
	switch p[0] {
	case 'c', 'C', 's', 'S', 'k', 'D':
		return true
	case 'v':
		return p != "vCont?" && p != "vMustReplyEmpty"
	}
	return false
}
