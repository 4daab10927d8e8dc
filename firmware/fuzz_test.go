package firmware

import (
	"encoding/binary"
	"testing"
)

// FuzzFwCfg drives the port and DMA interface with arbitrary sequences of
// port accesses and memory stores (descriptors included). The device must
// never panic, never touch memory outside the guest's, keep its offset
// within the selected item, and keep answering the signature.
func FuzzFwCfg(f *testing.F) {
	le := binary.LittleEndian
	seed := func(ops ...[]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	out := func(port byte, size byte, v uint32) []byte {
		b := []byte{0, port, size, 0, 0, 0, 0}
		le.PutUint32(b[3:], v)
		return b
	}
	in := func(port, size byte) []byte { return []byte{1, port, size} }
	store := func(addr uint16, v uint32) []byte {
		b := []byte{2, 0, 0, 0, 0, 0, 0}
		le.PutUint16(b[1:], addr)
		le.PutUint32(b[3:], v)
		return b
	}
	f.Add(seed(out(0, 2, 0), in(1, 1), in(1, 1), in(0, 1), in(1, 2)))
	f.Add(seed(out(0, 2, 0x19), in(1, 1), in(1, 1), in(1, 1), in(1, 1), in(1, 1)))
	// A DMA: descriptor at 0x100 reading the directory to 0x400.
	f.Add(seed(store(0x100, bswap32(0x19<<16|DMASelect|DMARead)), store(0x104, bswap32(64)),
		store(0x108, 0), store(0x10C, bswap32(0x400)), out(4, 4, 0), out(8, 4, bswap32(0x100))))
	f.Add(seed(store(0x100, bswap32(0x05<<16|DMASelect|DMAWrite)), store(0x104, bswap32(2)),
		out(8, 4, bswap32(0x100)), out(4, 4, bswap32(7)), out(8, 4, bswap32(0xFFF0))))
	f.Add(seed(store(0x100, bswap32(0x7FFF<<16|DMASelect|DMARead)), store(0x104, 0xFFFFFFFF),
		store(0x10C, bswap32(0x1000)), out(8, 4, bswap32(0x100)), in(4, 4), in(7, 1)))

	tabs, err := BuildTables(Config{CPUs: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &sliceMem{make([]byte, 1<<16)}
		cfg := testCfg(m)
		cfg.Tables = &tabs
		cfg.Multiboot = &Multiboot{Entry: 1, LoadAddr: 2, Image: []byte{1, 2, 3}, InfoAddr: 0x9500, Info: make([]byte, 88)}
		dev := NewFwCfg(cfg)
		sizes := []int{1, 2, 4}
		for len(data) >= 3 {
			op, port, size := data[0]%3, 0x50E+uint16(data[1]%16), sizes[int(data[2])%3]
			switch op {
			case 0:
				if len(data) < 7 {
					return
				}
				dev.Out(port, size, le.Uint32(data[3:])&uint32(1<<(8*size)-1))
				data = data[7:]
			case 1:
				dev.In(port, size)
				data = data[3:]
			case 2:
				if len(data) < 7 {
					return
				}
				a := int(le.Uint16(data[1:]))
				if a+4 <= len(m.b) {
					copy(m.b[a:], data[3:7])
				}
				data = data[7:]
			}
			dev.mu.Lock()
			if e := dev.entryFor(dev.cur); e != nil && dev.off > uint32(len(e.data)) {
				t.Fatalf("offset %d past item %#x of %d bytes", dev.off, dev.cur, len(e.data))
			}
			dev.mu.Unlock()
		}
		// The device still works: select and read the signature.
		dev.Out(0x510, 2, 0)
		var sig []byte
		for i := 0; i < 4; i++ {
			sig = append(sig, byte(dev.In(0x511, 1)))
		}
		if string(sig) != "QEMU" || dev.In(0x514, 4) != 0x554D4551 {
			t.Fatalf("signature %q after the sequence", sig)
		}
	})
}
