package firmware

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/loader"
	"glassbox/memmap"
)

// sliceMem is guest memory [0, len) for DMA tests; everything else is not
// accessible.
type sliceMem struct{ b []byte }

func (m *sliceMem) ReadPhys(pa uint64, b []byte) {
	if pa > uint64(len(m.b)) || uint64(len(b)) > uint64(len(m.b))-pa {
		panic("ReadPhys outside memory")
	}
	copy(b, m.b[pa:])
}

func (m *sliceMem) WritePhys(pa uint64, b []byte) {
	if pa > uint64(len(m.b)) || uint64(len(b)) > uint64(len(m.b))-pa {
		panic("WritePhys outside memory")
	}
	copy(m.b[pa:], b)
}

func (m *sliceMem) Accessible(pa, n uint64, write bool) bool {
	return pa <= uint64(len(m.b)) && n <= uint64(len(m.b))-pa
}

// portGuest drives a device through a memmap.Space as IN/OUT would.
type portGuest struct {
	s *memmap.Space
}

func newPortGuest(cfg FwCfgConfig) (*portGuest, *FwCfg) {
	f := NewFwCfg(cfg)
	s := memmap.New(1 << 20)
	f.Register(s)
	return &portGuest{s: s}, f
}

func (g *portGuest) sel(k uint16) { g.s.Out(0x510, 2, uint32(k)) }
func (g *portGuest) read(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.s.In(0x511, 1))
	}
	return b
}
func (g *portGuest) item(k uint16, n int) []byte { g.sel(k); return g.read(n) }

func testCfg(mem Mem) FwCfgConfig {
	return FwCfgConfig{CPUs: 4, RAMBelow4G: 0xC0000000, RAMAbove4G: 0x60000000, AMDHole: true, Mem: mem}
}

func TestFwCfgPorts(t *testing.T) {
	g, _ := newPortGuest(testCfg(&sliceMem{make([]byte, 4096)}))
	le := binary.LittleEndian
	if got := g.item(KeySignature, 4); string(got) != "QEMU" {
		t.Errorf("signature %q", got)
	}
	if got := le.Uint32(g.item(KeyID, 4)); got != 3 {
		t.Errorf("ID %#x, want 3 (traditional + DMA)", got)
	}
	if got := g.item(KeyUUID, 16); !bytes.Equal(got, make([]byte, 16)) {
		t.Errorf("UUID % x", got)
	}
	if got := le.Uint64(g.item(KeyRAMSize, 8)); got != 0x120000000 {
		t.Errorf("RAM size %#x", got)
	}
	if got := g.item(KeyNbCPUs, 4); !bytes.Equal(got, []byte{4, 0, 0, 0}) {
		t.Errorf("nb_cpus % x (2 bytes, then zeros past the end)", got)
	}
	if got := le.Uint16(g.item(KeyMaxCPUs, 2)); got != 4 {
		t.Errorf("max_cpus %d", got)
	}
	if got := g.item(KeyNUMA, 48); !bytes.Equal(got, make([]byte, 48)) {
		t.Errorf("NUMA % x", got)
	}
	// The write-channel bit is ignored; unknown and out-of-range keys read 0.
	if got := g.item(KeyWriteChannel|KeyNbCPUs, 2); got[0] != 4 {
		t.Errorf("key 0x4005 % x, want the CPU count", got)
	}
	for _, k := range []uint16{0x06, 0x09, 0x1A, 0x3F, 0x3FFF, 0x1234, 0xFFFF, 0xC005, 0x8004} {
		if got := g.item(k, 8); !bytes.Equal(got, make([]byte, 8)) {
			t.Errorf("key %#x: % x, want zeros", k, got)
		}
	}
	// Selecting rewinds; byte reads of 0x510 read data too; wider reads give
	// 0 and do not advance; data writes and odd-width selects are ignored.
	g.sel(0)
	if b := g.s.In(0x510, 1); b != 'Q' {
		t.Errorf("inb 0x510 = %#x", b)
	}
	if v := g.s.In(0x511, 2) | g.s.In(0x511, 4) | g.s.In(0x510, 2); v != 0 {
		t.Errorf("wide reads = %#x", v)
	}
	if got := g.read(3); string(got) != "EMU" {
		t.Errorf("after wide reads: %q", got)
	}
	g.sel(KeyNbCPUs)
	g.s.Out(0x511, 1, 0x55)
	g.s.Out(0x510, 1, 0)
	g.s.Out(0x510, 4, 0)
	g.s.Out(0x511, 2, 0)
	if got := g.read(1); got[0] != 4 {
		t.Errorf("ignored writes changed the selection: % x", got)
	}
	// Unassigned neighbours and the DMA signature registers.
	if v := g.s.In(0x512, 1); v != 0xFF {
		t.Errorf("port 0x512 = %#x", v)
	}
	var sig []byte
	for p := uint16(0x514); p < 0x51C; p++ {
		sig = append(sig, byte(g.s.In(p, 1)))
	}
	if string(sig) != "QEMU CFG" || g.s.In(0x514, 4) != 0x554D4551 || g.s.In(0x518, 4) != 0x47464320 || g.s.In(0x51A, 2) != 0x4746 {
		t.Errorf("DMA signature %q %#x", sig, g.s.In(0x514, 4))
	}
	if v := g.s.In(0x515, 4) | g.s.In(0x51A, 4) | g.s.In(0x51B, 2); v != 0 {
		t.Errorf("unaligned DMA register reads = %#x", v)
	}
}

type dirEntry struct {
	size uint32
	key  uint16
	name string
}

func readDir(t *testing.T, b []byte) []dirEntry {
	n := binary.BigEndian.Uint32(b)
	if len(b) < int(4+64*n) {
		t.Fatalf("directory of %d bytes for %d files", len(b), n)
	}
	var d []dirEntry
	for i := 0; i < int(n); i++ {
		e := b[4+64*i:]
		name := string(e[8:64])
		name = name[:strings.IndexByte(name, 0)]
		d = append(d, dirEntry{binary.BigEndian.Uint32(e), binary.BigEndian.Uint16(e[4:]), name})
	}
	return d
}

func TestFwCfgFiles(t *testing.T) {
	tabs, err := BuildTables(Config{CPUs: 4})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testCfg(nil)
	cfg.Tables = &tabs
	cfg.Files = []File{{"opt/glassbox/test", []byte("hello")}}
	g, f := newPortGuest(cfg)
	if id := g.item(KeyID, 4); id[0] != 1 {
		t.Errorf("ID without DMA memory: %d", id[0])
	}
	if v := g.s.In(0x514, 1); v != 0xFF {
		t.Errorf("DMA ports registered without memory: %#x", v)
	}
	g.sel(KeyFileDir)
	n := binary.BigEndian.Uint32(g.read(4))
	g.sel(KeyFileDir)
	dir := readDir(t, g.read(int(4+64*n)))
	want := []string{"etc/acpi/rsdp", "etc/acpi/tables", "etc/boot-fail-wait", "etc/e820", "etc/system-states", "opt/glassbox/test"}
	var names []string
	files := map[string][]byte{}
	for i, e := range dir {
		names = append(names, e.name)
		if e.key != uint16(KeyFileFirst+i) {
			t.Errorf("%s: key %#x", e.name, e.key)
		}
		files[e.name] = g.item(e.key, int(e.size)+4)
		if !bytes.Equal(files[e.name][e.size:], make([]byte, 4)) {
			t.Errorf("%s: reads past the end are not 0", e.name)
		}
		files[e.name] = files[e.name][:e.size]
	}
	if strings.Join(names, ",") != strings.Join(want, ",") || strings.Join(f.FileNames(), ",") != strings.Join(want, ",") {
		t.Fatalf("files %q, want %q", names, want)
	}
	e820 := files["etc/e820"]
	wantE820 := []E820Entry{{AMDHoleStart, AMDHoleEnd - AMDHoleStart, 2}, {0, 0xC0000000, 1}, {1 << 32, 0x60000000, 1}}
	if len(e820) != 20*len(wantE820) {
		t.Fatalf("etc/e820 has %d bytes", len(e820))
	}
	for i, w := range wantE820 {
		e := e820[20*i:]
		got := E820Entry{binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:]), binary.LittleEndian.Uint32(e[16:])}
		if got != w {
			t.Errorf("e820[%d] = %+v, want %+v", i, got, w)
		}
	}
	rsdp, _ := tabs.Blob("RSDP")
	if !bytes.Equal(files["etc/acpi/rsdp"], rsdp.Data) {
		t.Error("etc/acpi/rsdp is not the RSDP")
	}
	acpi := files["etc/acpi/tables"]
	madt, _ := tabs.Blob("MADT")
	if uint64(len(acpi)) != madt.End()-tabs.FACS || !bytes.Equal(acpi[tabs.MADT-tabs.FACS:], madt.Data) || string(acpi[:4]) != "FACS" {
		t.Error("etc/acpi/tables is not the installed ACPI area")
	}
	if !bytes.Equal(files["etc/boot-fail-wait"], []byte{0xFF, 0xFF, 0xFF, 0xFF}) || !bytes.Equal(files["etc/system-states"], []byte{0x80, 0, 0, 0, 0, 0x80}) {
		t.Error("boot-fail-wait or system-states")
	}
}

func TestFwCfgValidate(t *testing.T) {
	long := strings.Repeat("x", 56)
	many := make([]File, 40)
	for i := range many {
		many[i] = File{Name: "f" + string(rune('A'+i)), Data: nil}
	}
	for _, c := range []FwCfgConfig{
		{Files: []File{{Name: long}}},
		{Files: []File{{Name: ""}}},
		{Files: []File{{Name: "etc/e820"}}}, // duplicate
		{Files: many},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate accepted %d files", len(c.Files))
		}
	}
	if err := (FwCfgConfig{CPUs: 1}).Validate(); err != nil {
		t.Error(err)
	}
}

// dmaGuest runs DMA transfers with the descriptor at 0x100.
type dmaGuest struct {
	*portGuest
	m *sliceMem
}

func (g dmaGuest) dma(control, length uint32, addr uint64) uint32 {
	d := g.m.b[0x100:0x110]
	binary.BigEndian.PutUint32(d[0:], control)
	binary.BigEndian.PutUint32(d[4:], length)
	binary.BigEndian.PutUint64(d[8:], addr)
	g.s.Out(0x514, 4, 0)
	g.s.Out(0x518, 4, bswap32(0x100))
	return binary.BigEndian.Uint32(g.m.b[0x100:])
}

func TestFwCfgDMA(t *testing.T) {
	m := &sliceMem{make([]byte, 64<<10)}
	pg, _ := newPortGuest(testCfg(m))
	g := dmaGuest{pg, m}
	buf := m.b[0x1000:]

	// Read the directory by DMA and compare with the port read.
	pg.sel(KeyFileDir)
	n := binary.BigEndian.Uint32(pg.read(4))
	pg.sel(KeyFileDir)
	viaPort := pg.read(int(4 + 64*n))
	if c := g.dma(KeyFileDir<<16|DMASelect|DMARead, 4+64*n, 0x1000); c != 0 {
		t.Fatalf("directory read: control %#x", c)
	}
	if !bytes.Equal(buf[:4+64*n], viaPort) {
		t.Fatal("DMA directory differs from the port read")
	}
	var e820 dirEntry
	for _, e := range readDir(t, viaPort) {
		if e.name == "etc/e820" {
			e820 = e
		}
	}
	// Select + skip, then read across the end: zeros past it.
	for i := range buf[:64] {
		buf[i] = 0xAA
	}
	if c := g.dma(uint32(e820.key)<<16|DMASelect|DMASkip, 20, 0); c != 0 {
		t.Errorf("skip: control %#x", c)
	}
	if c := g.dma(DMARead, 44, 0x1000); c != 0 {
		t.Errorf("read: control %#x", c)
	}
	if binary.LittleEndian.Uint64(buf[8:]) != 0xC0000000 || !bytes.Equal(buf[40:44], make([]byte, 4)) || buf[44] != 0xAA {
		t.Errorf("e820 after skip: % x", buf[:48])
	}
	// Unknown key: zeros, no error. Port and DMA share the offset.
	if c := g.dma(0x7FFF<<16|DMASelect|DMARead, 8, 0x1000); c != 0 || !bytes.Equal(buf[:8], make([]byte, 8)) {
		t.Errorf("unknown key: control %#x % x", c, buf[:8])
	}
	pg.sel(KeySignature)
	pg.read(2)
	if c := g.dma(DMARead, 2, 0x1000); c != 0 || string(buf[:2]) != "MU" {
		t.Errorf("DMA after 2 port reads: %q", buf[:2])
	}
	// Errors: writes (nothing is writable), a buffer outside memory.
	if c := g.dma(KeyNbCPUs<<16|DMASelect|DMAWrite, 2, 0x1000); c != DMAError {
		t.Errorf("write: control %#x", c)
	}
	if pg.item(KeyNbCPUs, 1)[0] != 4 {
		t.Error("a DMA write changed an item")
	}
	if c := g.dma(KeyNbCPUs<<16|DMASelect|DMAWrite, 0, 0x1000); c != 0 {
		t.Errorf("write of 0 bytes: control %#x", c)
	}
	if c := g.dma(KeySignature<<16|DMASelect|DMARead, 4, 1<<40); c != DMAError {
		t.Errorf("read to unbacked memory: control %#x", c)
	}
	if c := g.dma(0x7FFF<<16|DMASelect|DMARead, 0xFFFFFFFF, 0xF000); c != DMAError {
		t.Errorf("huge zero fill past memory: control %#x", c)
	}
	if c := g.dma(KeySignature<<16|DMASelect|DMARead, 16, ^uint64(0)-4); c != DMAError {
		t.Errorf("read wrapping the address space: control %#x", c)
	}
	// No operation bits: nothing happens, control 0; read wins over others.
	if c := g.dma(0xE0, 4, 0x1000); c != 0 {
		t.Errorf("unknown control bits: %#x", c)
	}
	if c := g.dma(KeySignature<<16|DMASelect|DMARead|DMASkip|DMAWrite, 4, 0x1000); c != 0 || string(buf[:4]) != "QEMU" {
		t.Errorf("read|skip|write: %#x %q", c, buf[:4])
	}
	// A descriptor outside memory: no panic, nothing written.
	before := append([]byte(nil), m.b...)
	pg.s.Out(0x514, 4, bswap32(1))
	pg.s.Out(0x518, 4, 0)
	if !bytes.Equal(before, m.b) {
		t.Error("a DMA with an unbacked descriptor wrote memory")
	}
	// The address is reset after each transfer: a low-half write alone
	// works; 16-bit writes are ignored.
	d := m.b[0x100:0x110]
	binary.BigEndian.PutUint32(d[0:], KeySignature<<16|DMASelect|DMARead)
	binary.BigEndian.PutUint32(d[4:], 4)
	binary.BigEndian.PutUint64(d[8:], 0x2000)
	pg.s.Out(0x518, 2, 0)
	pg.s.Out(0x518, 4, bswap32(0x100))
	if string(m.b[0x2000:0x2004]) != "QEMU" || binary.BigEndian.Uint32(d) != 0 {
		t.Errorf("low-half-only DMA: %q control %#x", m.b[0x2000:0x2004], binary.BigEndian.Uint32(d))
	}
}

func TestSpaceMemDMA(t *testing.T) {
	ram := make([]byte, 1<<20)
	s := memmap.New(1 << 20)
	s.AddRAM("pc.ram", 0, ram[:0xE0000])
	s.AddROM("rom", 0xE0000, ram[0xE0000:], 1)
	var inval [][2]uint64
	f := NewFwCfg(FwCfgConfig{CPUs: 2, RAMBelow4G: 1 << 20, Mem: SpaceMem{S: s, Invalidate: func(pa, n uint64) { inval = append(inval, [2]uint64{pa, n}) }}})
	f.Register(s)
	s.Seal()
	run := func(control, length uint32, addr uint64) uint32 {
		var d [16]byte
		binary.BigEndian.PutUint32(d[0:], control)
		binary.BigEndian.PutUint32(d[4:], length)
		binary.BigEndian.PutUint64(d[8:], addr)
		s.WriteDebug(0x500, d[:])
		s.Out(0x514, 4, 0)
		s.Out(0x518, 4, bswap32(0x500))
		return binary.BigEndian.Uint32(ram[0x500:])
	}
	if c := run(KeySignature<<16|DMASelect|DMARead, 4, 0x3000); c != 0 || string(ram[0x3000:0x3004]) != "QEMU" {
		t.Errorf("DMA into RAM: %#x %q", c, ram[0x3000:0x3004])
	}
	if len(inval) == 0 || inval[0] != [2]uint64{0x3000, 4} {
		t.Errorf("Invalidate calls %v", inval)
	}
	if !s.IsDirty(0x3000, memmap.ClientMigration) {
		t.Error("DMA store not marked dirty")
	}
	if c := run(KeySignature<<16|DMASelect|DMARead, 4, 0xE1000); c != DMAError || ram[0xE1000] != 0 {
		t.Errorf("DMA into ROM: control %#x, byte %#x", c, ram[0xE1000])
	}
	if c := run(KeySignature<<16|DMASelect|DMARead, 4, 0x200000); c != DMAError {
		t.Errorf("DMA to unassigned: %#x", c)
	}
}

func TestMultibootItems(t *testing.T) {
	kernel, err := os.ReadFile(filepath.Join("testdata", oracleKernel))
	if err != nil {
		t.Fatal(err)
	}
	ram := make([]byte, 32<<20)
	s := memmap.New(32 << 20)
	s.AddRAM("pc.ram", 0, ram)
	mod := bytes.Repeat([]byte{0x5A}, 5000)
	im, err := loader.LoadKernelOpts(s, ram, kernel, "k.elf", loader.Options{Cmdline: "a b", Modules: []loader.Module{{Name: "m1", Data: mod, Cmdline: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := MultibootFromImage(s, im)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	modStart := le.Uint32(ram[0x112000:])
	if mb.LoadAddr != 0x100000 || mb.Entry != 0x10000C || mb.InfoAddr != 0x9500 || len(mb.Info) != 88 {
		t.Errorf("items %#x %#x %#x %d", mb.LoadAddr, mb.Entry, mb.InfoAddr, len(mb.Info))
	}
	if want := pageAlign(uint64(modStart)+5000) - 0x100000; uint64(len(mb.Image)) != want {
		t.Errorf("KERNEL_SIZE %#x, want %#x (through the page-aligned module)", len(mb.Image), want)
	}
	if !bytes.Equal(mb.Image, ram[0x100000:0x100000+len(mb.Image)]) {
		t.Error("KERNEL_DATA is not the loaded image")
	}
	if le.Uint32(mb.Info[4:]) != 0 || le.Uint32(mb.Info[8:]) != 0 || le.Uint32(mb.Info[44:]) != 0 || le.Uint32(mb.Info[0:]) != 0x24F || le.Uint32(mb.Info[20:]) != 1 {
		t.Errorf("INITRD_DATA % x", mb.Info)
	}
	g, _ := newPortGuest(FwCfgConfig{CPUs: 1, Multiboot: mb})
	if le.Uint32(g.item(KeyKernelSize, 4)) != uint32(len(mb.Image)) || !bytes.Equal(g.item(KeyKernelData, 64), mb.Image[:64]) ||
		le.Uint32(g.item(KeyInitrdSize, 4)) != 88 || le.Uint32(g.item(KeyKernelEntry, 4)) != 0x10000C {
		t.Error("multiboot keys through the ports")
	}
	if mb, err := MultibootFromImage(s, &loader.Image{Kind: loader.KindBIOS}); mb != nil || err != nil {
		t.Error("a BIOS image has no multiboot items")
	}
}
