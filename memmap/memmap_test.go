package memmap

import (
	"strings"
	"sync"
	"testing"
)

type fakeMMIO struct {
	reads, writes []uint64
	val           uint64
}

func (f *fakeMMIO) ReadMMIO(off uint64, size int) uint64 {
	f.reads = append(f.reads, off)
	return f.val
}
func (f *fakeMMIO) WriteMMIO(off uint64, size int, v uint64) {
	f.writes = append(f.writes, off)
	f.val = v
}

type fakePort struct{ last uint32 }

func (p *fakePort) In(port uint16, size int) uint32     { return 0x1234 }
func (p *fakePort) Out(port uint16, size int, v uint32) { p.last = v }

func newSpace() (*Space, []byte, []byte, *fakeMMIO) {
	s := New(1 << 32)
	ram := make([]byte, 1<<20)
	rom := make([]byte, 64<<10)
	for i := range rom {
		rom[i] = byte(i)
	}
	s.AddRAM("ram", 0, ram)
	s.AddROM("rom", 0xFFFF0000, rom, 0)
	s.AddROM("rom alias", 0xF0000, rom, 1)
	dev := &fakeMMIO{}
	s.AddMMIO("dev", 0xFEE00000, 0x1000, dev, 0)
	s.Seal()
	return s, ram, rom, dev
}

func TestRAMReadWrite(t *testing.T) {
	s, ram, _, _ := newSpace()
	s.Write(0x1000, 4, 0xdeadbeef)
	if ram[0x1000] != 0xef || ram[0x1003] != 0xde {
		t.Fatalf("RAM bytes % x", ram[0x1000:0x1004])
	}
	if v := s.Read(0x1001, 2); v != 0xadbe {
		t.Fatalf("Read = %#x", v)
	}
	s.Write(0x2000, 8, 0x0102030405060708)
	if v := s.Read(0x2000, 8); v != 0x0102030405060708 {
		t.Fatalf("Read64 = %#x", v)
	}
}

func TestROMIgnoresWritesAndAliases(t *testing.T) {
	s, _, rom, _ := newSpace()
	s.Write(0xFFFF0010, 1, 0x99)
	if rom[0x10] != 0x10 {
		t.Fatalf("ROM write went through: %#x", rom[0x10])
	}
	if s.Stats().ROMWrites.Load() != 1 {
		t.Fatalf("ROM write not counted")
	}
	// the alias at 0xF0000 (higher priority than RAM) shows the same bytes
	if v := s.Read(0xF0010, 1); v != 0x10 {
		t.Fatalf("alias read %#x", v)
	}
	if v := s.Read(0xFFFFFFF0, 1); v != 0xF0 {
		t.Fatalf("reset vector byte %#x", v)
	}
	// WriteDebug may patch ROM (loaders), visible through both mappings
	s.WriteDebug(0xFFFF0020, []byte{0xAA})
	if s.Read(0xF0020, 1) != 0xAA {
		t.Fatalf("debug write not visible through alias")
	}
}

func TestUnassigned(t *testing.T) {
	s, _, _, _ := newSpace()
	for _, size := range []int{1, 2, 4, 8} {
		want := uint64(1)<<(8*size) - 1
		if size == 8 {
			want = ^uint64(0)
		}
		if v := s.Read(0x80000000, size); v != want {
			t.Errorf("unassigned read size %d = %#x, want all ones", size, v)
		}
	}
	s.Write(0x80000000, 4, 1) // dropped, no panic
	if s.Stats().UnassignedWrites.Load() != 1 || s.Stats().UnassignedReads.Load() != 4 {
		t.Fatalf("counters: %d writes %d reads", s.Stats().UnassignedWrites.Load(), s.Stats().UnassignedReads.Load())
	}
	// an access straddling RAM's end and unassigned space is split
	s2 := New(0x4000)
	s2.AddRAM("small", 0, make([]byte, 0x2000))
	s2.Seal()
	s2.Write(0x1FFE, 4, 0x11223344)
	if v := s2.Read(0x1FFE, 4); v != 0xFFFF3344 {
		t.Fatalf("straddling read %#x", v)
	}
	var buf [4]byte
	if n := s2.ReadDebug(0x1FFE, buf[:]); n != 2 || buf[2] != 0xFF {
		t.Fatalf("ReadDebug n=%d % x", n, buf)
	}
	// unassigned ports read all ones, writes are dropped
	if v := s.In(0x1234, 2); v != 0xFFFF {
		t.Fatalf("unassigned port read %#x", v)
	}
	s.Out(0x1234, 1, 5)
	if s.PortName(0x1234) != "unassigned" {
		t.Fatalf("port name %q", s.PortName(0x1234))
	}
}

func TestMMIOAndPorts(t *testing.T) {
	s := New(1 << 20)
	dev := &fakeMMIO{val: 7}
	s.AddMMIO("dev", 0x10000, 0x1000, dev, 0)
	p := &fakePort{}
	s.AddPorts("p", 0x3F8, 8, p)
	s.Seal()
	if v := s.Read(0x10008, 4); v != 7 || len(dev.reads) != 1 || dev.reads[0] != 8 {
		t.Fatalf("MMIO read %#x %v", v, dev.reads)
	}
	s.Write(0x10010, 2, 0xbeef)
	if dev.val != 0xbeef || dev.writes[0] != 0x10 {
		t.Fatalf("MMIO write %v", dev.writes)
	}
	if s.In(0x3FD, 1) != 0x1234 {
		t.Fatalf("port read")
	}
	s.Out(0x3F8, 1, 0x141)
	if p.last != 0x41 {
		t.Fatalf("port write not masked to size: %#x", p.last)
	}
	var b strings.Builder
	s.WriteMtree(&b)
	for _, want := range []string{"address-space: memory", "0000000000010000-0000000000010fff (prio 0, i/o): dev", "03f8-03ff (i/o): p"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("mtree lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDirtyBitmaps(t *testing.T) {
	s, _, _, _ := newSpace()
	// everything starts dirty for every client
	if !s.AllDirty(0x5000) || !s.IsDirty(0x5000, ClientCode) {
		t.Fatal("pages must start dirty")
	}
	if !s.TestAndClearDirty(0x5000, ClientCode) {
		t.Fatal("test-and-clear must report the set bit")
	}
	if s.TestAndClearDirty(0x5123, ClientCode) {
		t.Fatal("second test-and-clear must report clear")
	}
	if s.IsDirty(0x5FFF, ClientCode) || s.AllDirty(0x5000) {
		t.Fatal("code bit should be clear")
	}
	// a guest store marks MIGRATION and DISPLAY but never CODE
	s.ClearRange(0, 1<<20, ClientMigration)
	s.ClearRange(0, 1<<20, ClientDisplay)
	s.Write(0x5004, 4, 1)
	if !s.IsDirty(0x5000, ClientMigration) || !s.IsDirty(0x5000, ClientDisplay) || s.IsDirty(0x5000, ClientCode) {
		t.Fatal("store must set migration and display only")
	}
	if n := s.CountDirty(0, 1<<20, ClientMigration); n != 1 {
		t.Fatalf("CountDirty = %d", n)
	}
	// ranges spanning several bitmap words
	s.SetRange(0x3F000, 0x42000, ClientMigration)
	if n := s.CountDirty(0, 1<<20, ClientMigration); n != 1+0x42 {
		t.Fatalf("after SetRange CountDirty = %d", n)
	}
	if !s.TestAndClearRange(0x3F000, 0x42000, ClientMigration) || s.CountDirty(0, 1<<20, ClientMigration) != 1 {
		t.Fatal("TestAndClearRange")
	}
	// pages beyond the bitmap are always dirty and can't be protected
	small := New(0x2000)
	if !small.IsDirty(0x5000, ClientCode) || small.TestAndClearDirty(0x5000, ClientCode) {
		t.Fatal("beyond-limit page must stay dirty")
	}
	if _, err := ParseClient("display"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseClient("bogus"); err == nil {
		t.Fatal("bad client accepted")
	}
}

// TestDirtyConcurrent sets and test-and-clears bits of the same words from
// several goroutines: every set is observed by exactly one clear.
func TestDirtyConcurrent(t *testing.T) {
	s := New(1 << 24)
	s.ClearRange(0, 1<<24, ClientMigration)
	const workers, rounds = 4, 2000
	var wg sync.WaitGroup
	var seen [workers]int
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			page := PhysAddr(w) << PageShift // distinct pages, same bitmap word
			for i := 0; i < rounds; i++ {
				s.SetDirty(page, ClientMigration)
				if s.TestAndClearDirty(page, ClientMigration) {
					seen[w]++
				}
			}
		}(w)
	}
	wg.Wait()
	for w, n := range seen {
		if n != rounds {
			t.Errorf("worker %d observed %d of %d sets", w, n, rounds)
		}
	}
}
