package firmware

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"glassbox/memmap"
)

// An independent little parser for the tables: it reads the installed
// image the way a kernel does and checks every structural rule.

type img struct {
	t    *testing.T
	base uint64
	b    []byte
}

func (m img) at(pa uint64, n int) []byte {
	m.t.Helper()
	if pa < m.base || pa+uint64(n) > m.base+uint64(len(m.b)) {
		m.t.Fatalf("pointer %#x+%d outside the table area [%#x,%#x)", pa, n, m.base, m.base+uint64(len(m.b)))
	}
	return m.b[pa-m.base : pa-m.base+uint64(n)]
}

func sumOK(b []byte) bool {
	var s byte
	for _, v := range b {
		s += v
	}
	return s == 0
}

// sdt checks an ACPI table header and returns the whole table.
func (m img) sdt(pa uint64, sig string) []byte {
	m.t.Helper()
	h := m.at(pa, 36)
	if string(h[:4]) != sig {
		m.t.Fatalf("table at %#x: signature %q, want %q", pa, h[:4], sig)
	}
	n := binary.LittleEndian.Uint32(h[4:])
	tb := m.at(pa, int(n))
	if !sumOK(tb) {
		m.t.Errorf("%s: bad checksum", sig)
	}
	if string(tb[10:16]) != "BOCHS " || string(tb[16:24]) != "BXPC    " || string(tb[28:32]) != CreatorID {
		m.t.Errorf("%s: OEM %q %q creator %q", sig, tb[10:16], tb[16:24], tb[28:32])
	}
	return tb
}

type madtFacts struct {
	lapicAddr, flags uint32
	cpus             [][3]uint32 // uid, apic id, flags
	ioapics          [][3]uint32 // id, address, gsi base
	overrides        [][4]uint32 // bus, irq, gsi, flags
	nmis             [][3]uint32 // uid, flags, lint
}

func parseMADT(t *testing.T, tb []byte) madtFacts {
	le := binary.LittleEndian
	f := madtFacts{lapicAddr: le.Uint32(tb[36:]), flags: le.Uint32(tb[40:])}
	for off := 44; off < len(tb); {
		if off+2 > len(tb) || tb[off+1] < 2 || off+int(tb[off+1]) > len(tb) {
			t.Fatalf("MADT entry at %d runs past the table", off)
		}
		e := tb[off : off+int(tb[off+1])]
		want := map[byte]int{0: 8, 1: 12, 2: 10, 4: 6}[e[0]]
		if len(e) != want {
			t.Fatalf("MADT entry type %d has length %d, want %d", e[0], len(e), want)
		}
		switch e[0] {
		case 0:
			f.cpus = append(f.cpus, [3]uint32{uint32(e[2]), uint32(e[3]), le.Uint32(e[4:])})
		case 1:
			f.ioapics = append(f.ioapics, [3]uint32{uint32(e[2]), le.Uint32(e[4:]), le.Uint32(e[8:])})
		case 2:
			f.overrides = append(f.overrides, [4]uint32{uint32(e[2]), uint32(e[3]), le.Uint32(e[4:]), uint32(le.Uint16(e[8:]))})
		case 4:
			f.nmis = append(f.nmis, [3]uint32{uint32(e[2]), uint32(le.Uint16(e[3:])), uint32(e[5])})
		}
		off += len(e)
	}
	return f
}

type mpFacts struct {
	cpus    [][2]uint32 // apic id, flags
	buses   []string
	ioapics [][2]uint32 // id, address
	ints    []string    // "type/irqtype bus irq -> apic pin"
}

func parseMP(t *testing.T, m img, fp uint64) mpFacts {
	le := binary.LittleEndian
	f := m.at(fp, 16)
	if string(f[:4]) != "_MP_" || !sumOK(f) || f[8] != 1 || f[9] != 4 || f[11] != 0 {
		t.Fatalf("bad MP floating pointer % x", f)
	}
	ct := uint64(le.Uint32(f[4:]))
	h := m.at(ct, 44)
	tb := m.at(ct, int(le.Uint16(h[4:])))
	if string(tb[:4]) != "PCMP" || !sumOK(tb) || tb[6] != 4 {
		t.Fatalf("bad MP configuration table header % x", h)
	}
	if string(tb[8:16]) != "BOCHSCPU" || le.Uint32(tb[36:]) != LAPICAddr {
		t.Errorf("MP config: OEM %q lapic %#x", tb[8:16], le.Uint32(tb[36:]))
	}
	var r mpFacts
	off := 44
	for i := 0; i < int(le.Uint16(tb[34:])); i++ {
		if off >= len(tb) {
			t.Fatalf("MP entry %d past the table", i)
		}
		e := tb[off:]
		switch e[0] {
		case 0:
			r.cpus = append(r.cpus, [2]uint32{uint32(e[1]), uint32(e[3])})
			if e[2] != LAPICVersion {
				t.Errorf("MP cpu version %#x", e[2])
			}
			off += 20
		case 1:
			r.buses = append(r.buses, fmt.Sprintf("%d %s", e[1], strings.TrimSpace(string(e[2:8]))))
			off += 8
		case 2:
			r.ioapics = append(r.ioapics, [2]uint32{uint32(e[1]), le.Uint32(e[4:])})
			off += 8
		case 3, 4:
			r.ints = append(r.ints, fmt.Sprintf("%d/%d/%04x %d %d -> %d %d", e[0], e[1], le.Uint16(e[2:]), e[4], e[5], e[6], e[7]))
			off += 8
		default:
			t.Fatalf("MP entry type %d", e[0])
		}
	}
	if off != len(tb) {
		t.Errorf("MP entries end at %d, table length %d", off, len(tb))
	}
	return r
}

func TestTablesStructure(t *testing.T) {
	for _, c := range []Config{
		{CPUs: 1}, {CPUs: 2}, {CPUs: 4}, {CPUs: 8}, {CPUs: 64},
		{CPUs: 4, MaxCPUs: 8}, {CPUs: 255}, {CPUs: 6, CoresPerSocket: 3},
		{CPUs: 4, CoresPerSocket: 1, NoPCI: true, SleepS3S4: true},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			tabs, err := BuildTables(c)
			if err != nil {
				t.Fatal(err)
			}
			checkTables(t, c, tabs)
		})
	}
}

func checkTables(t *testing.T, c Config, tabs Tables) {
	le := binary.LittleEndian
	base := tabs.Blobs[0].Addr
	m := img{t: t, base: base, b: tabs.Image(base, base+tabs.Size())}
	maxc := c.MaxCPUs
	if maxc == 0 {
		maxc = c.CPUs
	}
	// Blobs are in order and do not overlap; the area is in the BIOS range.
	for i := 1; i < len(tabs.Blobs); i++ {
		if tabs.Blobs[i].Addr < tabs.Blobs[i-1].End() {
			t.Errorf("%s overlaps %s", tabs.Blobs[i].Name, tabs.Blobs[i-1].Name)
		}
	}
	if base < 0xF0000 || base+tabs.Size() > 0x100000 {
		t.Errorf("table area [%#x,+%#x) outside the F segment", base, tabs.Size())
	}

	// The RSDP, found by a scan as a kernel does.
	var rsdp uint64
	for a := uint64(0xE0000); a < 0x100000; a += 16 {
		if a >= base && a+36 <= base+uint64(len(m.b)) && string(m.at(a, 8)) == "RSD PTR " && sumOK(m.at(a, 20)) {
			rsdp = a
			break
		}
	}
	if rsdp != tabs.RSDP || rsdp%16 != 0 {
		t.Fatalf("scan found the RSDP at %#x, tables say %#x", rsdp, tabs.RSDP)
	}
	p := m.at(rsdp, 36)
	if p[15] != 2 || le.Uint32(p[20:]) != 36 || !sumOK(p) {
		t.Errorf("RSDP revision %d length %d extended checksum ok %v", p[15], le.Uint32(p[20:]), sumOK(p))
	}
	rsdt := m.sdt(uint64(le.Uint32(p[16:])), "RSDT")
	xsdt := m.sdt(le.Uint64(p[24:]), "XSDT")
	var fromR, fromX []uint64
	for off := 36; off < len(rsdt); off += 4 {
		fromR = append(fromR, uint64(le.Uint32(rsdt[off:])))
	}
	for off := 36; off < len(xsdt); off += 8 {
		fromX = append(fromX, le.Uint64(xsdt[off:]))
	}
	if !reflect.DeepEqual(fromR, fromX) || len(fromR) != 2 {
		t.Fatalf("RSDT %x and XSDT %x differ", fromR, fromX)
	}
	fadt := m.sdt(fromR[0], "FACP")
	madt := m.sdt(fromR[1], "APIC")

	// FADT.
	if len(fadt) != 244 || fadt[8] != 3 {
		t.Errorf("FADT length %d revision %d", len(fadt), fadt[8])
	}
	facs, dsdtAddr := uint64(le.Uint32(fadt[36:])), uint64(le.Uint32(fadt[40:]))
	if facs%64 != 0 || le.Uint64(fadt[132:]) != facs || le.Uint64(fadt[140:]) != dsdtAddr {
		t.Errorf("FACS %#x (X %#x), DSDT %#x (X %#x)", facs, le.Uint64(fadt[132:]), dsdtAddr, le.Uint64(fadt[140:]))
	}
	for _, f := range []struct {
		off, size int
		want      uint32
	}{
		{46, 2, 9}, {48, 4, 0}, {56, 4, 0x600}, {64, 4, 0x604}, {76, 4, 0x608},
		{88, 1, 4}, {89, 1, 2}, {91, 1, 4}, {80, 4, 0},
	} {
		var v uint32
		switch f.size {
		case 1:
			v = uint32(fadt[f.off])
		case 2:
			v = uint32(le.Uint16(fadt[f.off:]))
		default:
			v = le.Uint32(fadt[f.off:])
		}
		if v != f.want {
			t.Errorf("FADT offset %d = %#x, want %#x", f.off, v, f.want)
		}
	}
	if le.Uint32(fadt[112:])&(1<<8) != 0 {
		t.Error("FADT TMR_VAL_EXT set: the PM timer is 24-bit")
	}
	for _, g := range []struct {
		off  int
		bits byte
		port uint64
	}{{148, 32, 0x600}, {172, 16, 0x604}, {208, 32, 0x608}} {
		b := fadt[g.off : g.off+12]
		if b[0] != 1 || b[1] != g.bits || le.Uint64(b[4:]) != g.port {
			t.Errorf("FADT GAS at %d: % x", g.off, b)
		}
	}
	fc := m.at(facs, 64)
	if string(fc[:4]) != "FACS" || le.Uint32(fc[4:]) != 64 {
		t.Errorf("FACS % x", fc[:8])
	}
	dsdt := m.sdt(dsdtAddr, "DSDT")
	if !bytes.Contains(dsdt, []byte{0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0, 0, 0, 0}) {
		t.Errorf("DSDT has no Name(_S5, Package(){0,0,0,0}): % x", dsdt[36:])
	}
	if got := bytes.Contains(dsdt, []byte("_S3_")); got != c.SleepS3S4 {
		t.Errorf("DSDT _S3_ present %v, want %v", got, c.SleepS3S4)
	}

	// MADT.
	f := parseMADT(t, madt)
	if f.lapicAddr != 0xFEE00000 || f.flags != 1 {
		t.Errorf("MADT lapic %#x flags %#x", f.lapicAddr, f.flags)
	}
	if len(f.cpus) != maxc {
		t.Fatalf("MADT lists %d CPUs, want %d", len(f.cpus), maxc)
	}
	for i, cpu := range f.cpus {
		en := uint32(0)
		if i < c.CPUs {
			en = 1
		}
		if cpu != [3]uint32{uint32(i), uint32(c.APICID(i)), en} {
			t.Errorf("MADT CPU %d: %v", i, cpu)
		}
	}
	if !reflect.DeepEqual(f.ioapics, [][3]uint32{{0, 0xFEC00000, 0}}) {
		t.Errorf("MADT I/O APICs %v", f.ioapics)
	}
	wantOv := [][4]uint32{{0, 0, 2, 0}, {0, 5, 5, 0xD}, {0, 9, 9, 0xD}, {0, 10, 10, 0xD}, {0, 11, 11, 0xD}}
	if !reflect.DeepEqual(f.overrides, wantOv) {
		t.Errorf("MADT overrides %v, want %v", f.overrides, wantOv)
	}
	if !reflect.DeepEqual(f.nmis, [][3]uint32{{0xFF, 0, 1}}) {
		t.Errorf("MADT local APIC NMIs %v", f.nmis)
	}

	// MP table, found by a scan of the F segment.
	var fp uint64
	for a := base; a+16 <= base+uint64(len(m.b)); a += 16 {
		if string(m.at(a, 4)) == "_MP_" && sumOK(m.at(a, 16)) {
			fp = a
			break
		}
	}
	if fp == 0 || fp != tabs.MPFloat {
		t.Fatalf("MP floating pointer found at %#x, tables say %#x", fp, tabs.MPFloat)
	}
	mp := parseMP(t, m, fp)
	cores := c.CoresPerSocket
	if cores == 0 {
		cores = maxc
	}
	pkg := 1
	if cores > 1 {
		pkg = 1 << bitsFor(cores)
	}
	var wantCPUs [][2]uint32
	for id := 0; id < c.APICIDLimit(); id += pkg {
		fl := uint32(0)
		for i := 0; i < c.CPUs; i++ {
			if c.APICID(i) == id {
				fl = 1
			}
		}
		if id == 0 {
			fl |= 2
		}
		wantCPUs = append(wantCPUs, [2]uint32{uint32(id), fl})
	}
	if !reflect.DeepEqual(mp.cpus, wantCPUs) {
		t.Errorf("MP CPUs %v, want %v", mp.cpus, wantCPUs)
	}
	isa := 0
	wantBuses := []string{"0 ISA"}
	var wantInts []string
	if !c.NoPCI {
		isa = 1
		wantBuses = []string{"0 PCI", "1 ISA"}
		wantInts = append(wantInts, "3/0/0001 0 4 -> 0 9")
	}
	if !reflect.DeepEqual(mp.buses, wantBuses) {
		t.Errorf("MP buses %q, want %q", mp.buses, wantBuses)
	}
	if !reflect.DeepEqual(mp.ioapics, [][2]uint32{{0, 0xFEC00000}}) {
		t.Errorf("MP I/O APICs %v", mp.ioapics)
	}
	for _, irq := range []int{0, 1, 3, 4, 6, 7, 8, 12, 13, 14, 15} {
		pin := irq
		if irq == 0 {
			pin = 2
		}
		wantInts = append(wantInts, fmt.Sprintf("3/0/0000 %d %d -> 0 %d", isa, irq, pin))
	}
	wantInts = append(wantInts, fmt.Sprintf("4/3/0000 %d 0 -> 0 0", isa), fmt.Sprintf("4/1/0000 %d 0 -> 255 1", isa))
	if !reflect.DeepEqual(mp.ints, wantInts) {
		t.Errorf("MP interrupt entries\n%q\nwant\n%q", mp.ints, wantInts)
	}
}

func TestTablesErrors(t *testing.T) {
	for _, c := range []Config{
		{CPUs: 0}, {CPUs: 256}, {CPUs: 4, MaxCPUs: 2}, {CPUs: 4, Base: 0xF0008},
		{CPUs: 4, Base: 0x9FC00}, {CPUs: 4, Base: 0xE0000}, {CPUs: 255, CoresPerSocket: 1, Base: 0xFF000},
		{CPUs: 4, RAMBelow4G: 512 << 10}, {CPUs: 4, CoresPerSocket: 5},
		{CPUs: 200, CoresPerSocket: 3}, // APIC IDs above 254
		{CPUs: 1, OEMID: "TOOLONG"}, {CPUs: 1, IOAPICID: 300},
	} {
		if _, err := BuildTables(c); err == nil {
			t.Errorf("BuildTables(%+v) succeeded", c)
		}
	}
}

func TestTablesFixedAddresses(t *testing.T) {
	for _, n := range []int{1, 255} {
		tabs, err := BuildTables(Config{CPUs: n, CoresPerSocket: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := []uint64{tabs.RSDP, tabs.MPFloat, tabs.FACS, tabs.RSDT, tabs.XSDT, tabs.FADT, tabs.DSDT, tabs.MADT, tabs.MPConfig}
		want := []uint64{0xF0000, 0xF0030, 0xF0040, 0xF0080, 0xF00C0, 0xF0100, 0xF0200, 0xF0300, 0xF0C00}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d CPUs: addresses %x, want %x", n, got, want)
		}
		if end := tabs.Blobs[len(tabs.Blobs)-1].End(); end > 0xF20A0 {
			t.Errorf("%d CPUs: tables end at %#x", n, end)
		}
	}
}

func TestAPICIDTopology(t *testing.T) {
	c := Config{CPUs: 6, CoresPerSocket: 3}
	var ids []int
	for i := 0; i < 6; i++ {
		ids = append(ids, c.APICID(i))
	}
	if !reflect.DeepEqual(ids, []int{0, 1, 2, 4, 5, 6}) || c.APICIDLimit() != 7 {
		t.Errorf("APIC IDs %v limit %d (QEMU: 0 1 2 4 5 6, MAX_CPUS 7)", ids, c.APICIDLimit())
	}
	if c := (Config{CPUs: 4}); c.APICID(3) != 3 || c.APICIDLimit() != 4 {
		t.Error("one socket: APIC ID = index")
	}
}

func TestInstall(t *testing.T) {
	tabs, err := BuildTables(Config{CPUs: 4})
	if err != nil {
		t.Fatal(err)
	}
	ram := make([]byte, 2<<20)
	s := memmap.New(uint64ToPA(len(ram)))
	s.AddRAM("pc.ram", 0, ram)
	for i := 0xF0000; i < 0x100000; i++ {
		ram[i] = 0xCC
	}
	if err := tabs.Install(s); err != nil {
		t.Fatal(err)
	}
	for _, b := range tabs.Blobs {
		if !bytes.Equal(ram[b.Addr:b.End()], b.Data) {
			t.Errorf("%s not installed at %#x", b.Name, b.Addr)
		}
	}
	if ram[0xF0000+OffRSDP+36] != 0 || ram[0xF2FFF] != 0xCC {
		t.Error("gaps are not zeroed or bytes past the area were touched")
	}
	checkTables(t, Config{CPUs: 4}, tabs)

	// A BIOS ROM over the area: refused, nothing written.
	ram2 := make([]byte, 2<<20)
	s2 := memmap.New(uint64ToPA(len(ram2)))
	s2.AddRAM("pc.ram", 0, ram2)
	rom := make([]byte, 128<<10)
	s2.AddROM("isa-bios", 0xE0000, rom, 1)
	if err := tabs.Install(s2); err == nil || !strings.Contains(err.Error(), "isa-bios") {
		t.Errorf("Install over a ROM: %v", err)
	}
	if !bytes.Equal(rom, make([]byte, len(rom))) || !bytes.Equal(ram2, make([]byte, len(ram2))) {
		t.Error("a refused Install wrote something")
	}
	// No RAM there at all.
	s3 := memmap.New(1 << 20)
	s3.AddRAM("pc.ram", 0, make([]byte, 640<<10))
	if err := tabs.Install(s3); err == nil {
		t.Error("Install into unassigned memory succeeded")
	}
	if err := (Tables{}).Install(s); err == nil {
		t.Error("Install of no tables succeeded")
	}
}

func uint64ToPA(n int) memmap.PhysAddr { return memmap.PhysAddr(n) }
