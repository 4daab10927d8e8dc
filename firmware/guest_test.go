package firmware

// A Go transcription of testdata/fwdump/fwdump.c: it reads glassbox's
// tables from guest memory and talks to the fw_cfg device through the port
// space exactly as the C kernel does under QEMU, and prints the same lines
// in the same format. Keep the two in step.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"

	"glassbox/memmap"
)

type dumper struct {
	s   *memmap.Space
	out bytes.Buffer
	// scratch guest-physical buffers for the DMA descriptor and data
	dmaDesc, dmaBuf uint64
	bssEnd          uint32 // the kernel's __bss_end symbol
}

func (d *dumper) printf(format string, a ...any) { fmt.Fprintf(&d.out, format, a...) }

func (d *dumper) mem(pa uint64, n int) []byte {
	b := make([]byte, n)
	d.s.ReadDebug(memmap.PhysAddr(pa), b)
	return b
}
func (d *dumper) rd8(pa uint64) uint32  { return uint32(d.mem(pa, 1)[0]) }
func (d *dumper) rd16(pa uint64) uint32 { return uint32(binary.LittleEndian.Uint16(d.mem(pa, 2))) }
func (d *dumper) rd32(pa uint64) uint32 { return binary.LittleEndian.Uint32(d.mem(pa, 4)) }
func (d *dumper) rd64(pa uint64) uint64 { return binary.LittleEndian.Uint64(d.mem(pa, 8)) }

func sum8(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return s
}

func okStr(c bool) string {
	if c {
		return "ok"
	}
	return "BAD"
}

func hexs(b []byte) string {
	var sb strings.Builder
	for _, v := range b {
		fmt.Fprintf(&sb, " %02x", v)
	}
	return sb.String()
}

func quote(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('?')
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

func areaName(a uint64) string {
	switch {
	case a >= 0xF0000 && a < 0x100000:
		return "f-segment"
	case a >= 0xE0000 && a < 0xF0000:
		return "e-segment"
	case a >= 0x9FC00 && a < 0xA0000:
		return "ebda"
	}
	return "other"
}

func (d *dumper) ebda() uint64 { return uint64(d.rd16(0x40E)) << 4 }

func (d *dumper) scan(start, length uint64, sig string, checklen uint64, len16 int) uint64 {
	for a := start; a+checklen <= start+length; a += 16 {
		if string(d.mem(a, len(sig))) != sig {
			continue
		}
		n := checklen
		if len16 >= 0 {
			n = uint64(d.rd8(a+uint64(len16))) * 16
		}
		if n >= checklen && sum8(d.mem(a, int(n))) == 0 {
			return a
		}
	}
	return 0
}

func (d *dumper) tableLine(what string, t uint64) {
	h := d.mem(t, 36)
	l := binary.LittleEndian.Uint32(h[4:])
	d.printf("acpi %s: signature %s\n", what, h[0:4])
	d.printf("acpi %s: revision %d\n", what, h[8])
	d.printf("acpi %s: length %d\n", what, l)
	d.printf("acpi %s: checksum %s\n", what, okStr(sum8(d.mem(t, int(l))) == 0))
	d.printf("acpi %s: oem %s %s revision %08x\n", what, quote(h[10:16]), quote(h[16:24]), binary.LittleEndian.Uint32(h[24:]))
	d.printf("acpi %s: creator %s revision %08x\n", what, quote(h[28:32]), binary.LittleEndian.Uint32(h[32:]))
}

func (d *dumper) dumpMADT(t uint64) {
	l := uint64(d.rd32(t + 4))
	d.printf("madt: lapic address %08x flags %08x\n", d.rd32(t+36), d.rd32(t+40))
	for off := uint64(44); off+2 <= l; {
		e := t + off
		typ, n := d.rd8(e), d.rd8(e+1)
		if n < 2 {
			d.printf("madt: bad entry length %d\n", n)
			break
		}
		switch typ {
		case 0:
			d.printf("madt: lapic uid %d apic %d flags %08x\n", d.rd8(e+2), d.rd8(e+3), d.rd32(e+4))
		case 1:
			d.printf("madt: ioapic id %d address %08x gsi %d\n", d.rd8(e+2), d.rd32(e+4), d.rd32(e+8))
		case 2:
			d.printf("madt: override bus %d irq %d gsi %d flags %04x\n", d.rd8(e+2), d.rd8(e+3), d.rd32(e+4), d.rd16(e+8))
		case 4:
			d.printf("madt: lapic-nmi uid %02x flags %04x lint %d\n", d.rd8(e+2), d.rd16(e+3), d.rd8(e+5))
		default:
			d.printf("madt: type %d length %d:%s\n", typ, n, hexs(d.mem(e+2, int(n)-2)))
		}
		off += uint64(n)
	}
}

func (d *dumper) sleepPkg(dsdt uint64, name string) {
	l := uint64(d.rd32(dsdt + 4))
	body := d.mem(dsdt, int(l))
	for i := uint64(36); i+6 <= l; i++ {
		p := body[i:]
		if p[0] == 0x08 && string(p[1:5]) == name {
			n := uint64(8)
			if p[5] == 0x12 {
				n = 1 + uint64(p[6]&0x3f)
			}
			if i+5+n > l {
				n = l - i - 5
			}
			d.printf("dsdt: %s%s\n", name, hexs(p[5:5+n]))
			return
		}
	}
	d.printf("dsdt: %s absent\n", name)
}

var fadtFields = []struct {
	name      string
	off, size int
}{
	{"INT_MODEL", 44, 1}, {"PM_PROFILE", 45, 1}, {"SCI_INT", 46, 2}, {"SMI_CMD", 48, 4},
	{"ACPI_ENABLE", 52, 1}, {"ACPI_DISABLE", 53, 1}, {"S4BIOS_REQ", 54, 1}, {"PSTATE_CNT", 55, 1},
	{"PM1a_EVT_BLK", 56, 4}, {"PM1b_EVT_BLK", 60, 4}, {"PM1a_CNT_BLK", 64, 4}, {"PM1b_CNT_BLK", 68, 4},
	{"PM2_CNT_BLK", 72, 4}, {"PM_TMR_BLK", 76, 4}, {"GPE0_BLK", 80, 4}, {"GPE1_BLK", 84, 4},
	{"PM1_EVT_LEN", 88, 1}, {"PM1_CNT_LEN", 89, 1}, {"PM2_CNT_LEN", 90, 1}, {"PM_TMR_LEN", 91, 1},
	{"GPE0_BLK_LEN", 92, 1}, {"GPE1_BLK_LEN", 93, 1}, {"GPE1_BASE", 94, 1}, {"CST_CNT", 95, 1},
	{"P_LVL2_LAT", 96, 2}, {"P_LVL3_LAT", 98, 2}, {"FLUSH_SIZE", 100, 2}, {"FLUSH_STRIDE", 102, 2},
	{"DUTY_OFFSET", 104, 1}, {"DUTY_WIDTH", 105, 1}, {"DAY_ALRM", 106, 1}, {"MON_ALRM", 107, 1},
	{"CENTURY", 108, 1}, {"IAPC_BOOT_ARCH", 109, 2}, {"FLAGS", 112, 4},
}

var fadtGAS = []struct {
	name string
	off  int
}{
	{"RESET_REG", 116}, {"X_PM1a_EVT_BLK", 148}, {"X_PM1b_EVT_BLK", 160},
	{"X_PM1a_CNT_BLK", 172}, {"X_PM1b_CNT_BLK", 184}, {"X_PM2_CNT_BLK", 196},
	{"X_PM_TMR_BLK", 208}, {"X_GPE0_BLK", 220}, {"X_GPE1_BLK", 232},
}

func (d *dumper) dumpFADT(t uint64) {
	l := d.rd32(t + 4)
	rev := d.rd8(t + 8)
	for _, f := range fadtFields {
		var v uint32
		switch f.size {
		case 1:
			v = d.rd8(t + uint64(f.off))
		case 2:
			v = d.rd16(t + uint64(f.off))
		default:
			v = d.rd32(t + uint64(f.off))
		}
		d.printf("fadt: %s %x\n", f.name, v)
	}
	if rev >= 3 && l >= 244 {
		d.printf("fadt: RESET_VALUE %x\n", d.rd8(t+128))
		for _, f := range fadtGAS {
			g := d.mem(t+uint64(f.off), 12)
			d.printf("fadt: %s space %d width %d offset %d access %d address %x\n", f.name, g[0], g[1], g[2], g[3], binary.LittleEndian.Uint64(g[4:]))
		}
	}
	facs, dsdt := uint64(d.rd32(t+36)), uint64(d.rd32(t+40))
	if rev >= 3 && l >= 148 {
		xfacs, xdsdt := d.rd64(t+132), d.rd64(t+140)
		a, b := "zero", "zero"
		switch {
		case xfacs == facs:
			a = "equals FIRMWARE_CTRL"
		case xfacs != 0:
			a = "differs"
		}
		switch {
		case xdsdt == dsdt:
			b = "equals DSDT"
		case xdsdt != 0:
			b = "differs"
		}
		d.printf("fadt: X_FIRMWARE_CTRL %s, X_DSDT %s\n", a, b)
	}
	fc, ds := "zero", "zero"
	if facs != 0 {
		fc = "64-byte aligned"
		if facs&63 != 0 {
			fc = "unaligned"
		}
	}
	if dsdt != 0 {
		ds = "nonzero"
	}
	d.printf("fadt: FIRMWARE_CTRL %s, DSDT %s\n", fc, ds)
	if facs != 0 {
		f := d.mem(facs, 64)
		le := binary.LittleEndian
		d.printf("facs: signature %s length %d hwsig %08x waking %08x lock %08x flags %08x version %d\n", quote(f[0:4]),
			le.Uint32(f[4:]), le.Uint32(f[8:]), le.Uint32(f[12:]), le.Uint32(f[16:]), le.Uint32(f[20:]), f[32])
	}
	if dsdt != 0 {
		d.tableLine("dsdt", dsdt)
		d.sleepPkg(dsdt, "_S3_")
		d.sleepPkg(dsdt, "_S4_")
		d.sleepPkg(dsdt, "_S5_")
	}
}

func (d *dumper) dumpACPI() {
	var rsdp uint64
	if e := d.ebda(); e != 0 {
		rsdp = d.scan(e, 1024, "RSD PTR ", 20, -1)
	}
	if rsdp == 0 {
		rsdp = d.scan(0xE0000, 0x20000, "RSD PTR ", 20, -1)
	}
	if rsdp == 0 {
		d.printf("acpi rsdp: none\n")
		return
	}
	rev := d.rd8(rsdp + 15)
	d.printf("acpi rsdp: area %s, checksum ok\n", areaName(rsdp))
	d.printf("acpi rsdp: revision %d\n", rev)
	d.printf("acpi rsdp: oem %s\n", quote(d.mem(rsdp+9, 6)))
	if rev >= 2 {
		l := d.rd32(rsdp + 20)
		d.printf("acpi rsdp: length %d, extended checksum %s\n", l, okStr(sum8(d.mem(rsdp, int(l))) == 0))
		x := "zero"
		if d.rd64(rsdp+24) != 0 {
			x = "nonzero"
		}
		d.printf("acpi rsdp: xsdt address %s\n", x)
	}
	rsdt := uint64(d.rd32(rsdp + 16))
	var xsdt uint64
	if rev >= 2 {
		xsdt = uint64(uint32(d.rd64(rsdp + 24)))
	}
	if rsdt != 0 {
		d.tableLine("rsdt", rsdt)
		d.printf("acpi rsdt: tables")
		for off := uint64(36); off+4 <= uint64(d.rd32(rsdt+4)); off += 4 {
			d.printf(" %s", quote(d.mem(uint64(d.rd32(rsdt+off)), 4)))
		}
		d.printf("\n")
	} else {
		d.printf("acpi rsdt: none\n")
	}
	if xsdt != 0 {
		d.tableLine("xsdt", xsdt)
		d.printf("acpi xsdt: tables")
		for off := uint64(36); off+8 <= uint64(d.rd32(xsdt+4)); off += 8 {
			d.printf(" %s", quote(d.mem(uint64(d.rd32(xsdt+off)), 4)))
		}
		d.printf("\n")
	} else {
		d.printf("acpi xsdt: none\n")
	}
	root, step := rsdt, uint64(4)
	if rsdt == 0 {
		root, step = xsdt, 8
	}
	var madt, fadt uint64
	for off := uint64(36); root != 0 && off+step <= uint64(d.rd32(root+4)); off += step {
		t := uint64(d.rd32(root + off))
		switch string(d.mem(t, 4)) {
		case "APIC":
			madt = t
		case "FACP":
			fadt = t
		default:
			d.tableLine("other table", t)
		}
	}
	if rsdt != 0 && xsdt != 0 {
		rl, xl := d.rd32(rsdt+4)-36, d.rd32(xsdt+4)-36
		same := rl == xl/2
		for i := uint64(0); same && 36+4*i < uint64(d.rd32(rsdt+4)); i++ {
			same = d.rd32(rsdt+36+4*i) == uint32(d.rd64(xsdt+36+8*i)) && d.rd32(xsdt+40+8*i) == 0
		}
		yn := "no"
		if same {
			yn = "yes"
		}
		d.printf("acpi xsdt: lists the rsdt's tables in order: %s\n", yn)
	}
	if fadt != 0 {
		d.tableLine("fadt", fadt)
		d.dumpFADT(fadt)
	} else {
		d.printf("acpi: no FACP\n")
	}
	if madt != 0 {
		d.tableLine("madt", madt)
		d.dumpMADT(madt)
	} else {
		d.printf("acpi: no APIC\n")
	}
}

func (d *dumper) dumpMP() {
	var fp uint64
	if e := d.ebda(); e != 0 {
		fp = d.scan(e, 1024, "_MP_", 16, 8)
	}
	if fp == 0 {
		fp = d.scan(0x9FC00, 1024, "_MP_", 16, 8)
	}
	if fp == 0 {
		fp = d.scan(0xF0000, 0x10000, "_MP_", 16, 8)
	}
	if fp == 0 {
		d.printf("mp: none\n")
		return
	}
	d.printf("mp: floating pointer area %s checksum ok length %d spec %d features%s\n", areaName(fp), d.rd8(fp+8), d.rd8(fp+9), hexs(d.mem(fp+11, 5)))
	t := uint64(d.rd32(fp + 4))
	if t == 0 {
		d.printf("mp: no configuration table\n")
		return
	}
	l := uint64(d.rd16(t + 4))
	d.printf("mp: config area %s signature %s checksum %s spec %d oem %s product %s lapic %08x entries %d oemtable %08x/%d ext %d/%02x\n",
		areaName(t), okStr(string(d.mem(t, 4)) == "PCMP"), okStr(sum8(d.mem(t, int(l))) == 0), d.rd8(t+6),
		quote(d.mem(t+8, 8)), quote(d.mem(t+16, 12)), d.rd32(t+36), d.rd16(t+34), d.rd32(t+28), d.rd16(t+32), d.rd16(t+40), d.rd8(t+42))
	itype := []string{"INT", "NMI", "SMI", "ExtINT"}
	e := t + 44
	for i := uint32(0); i < d.rd16(t+34) && e < t+l; i++ {
		switch d.rd8(e) {
		case 0:
			d.printf("mp: cpu apic %d version %02x flags %02x signature %08x features %08x\n", d.rd8(e+1), d.rd8(e+2), d.rd8(e+3), d.rd32(e+4), d.rd32(e+8))
			e += 20
		case 1:
			d.printf("mp: bus %d %s\n", d.rd8(e+1), quote(d.mem(e+2, 6)))
			e += 8
		case 2:
			d.printf("mp: ioapic id %d version %02x flags %02x address %08x\n", d.rd8(e+1), d.rd8(e+2), d.rd8(e+3), d.rd32(e+4))
			e += 8
		case 3, 4:
			kind := "intsrc"
			if d.rd8(e) == 4 {
				kind = "lintsrc"
			}
			it := "?"
			if v := d.rd8(e + 1); v < 4 {
				it = itype[v]
			}
			d.printf("mp: %s %s flags %04x bus %d irq %02x apic %02x pin %d\n", kind, it, d.rd16(e+2), d.rd8(e+4), d.rd8(e+5), d.rd8(e+6), d.rd8(e+7))
			e += 8
		default:
			d.printf("mp: unknown entry type %d\n", d.rd8(e))
			return
		}
	}
}

// Port I/O through the space, as the guest's IN/OUT instructions.
func (d *dumper) inb(p uint16) uint32     { return d.s.In(p, 1) }
func (d *dumper) inw(p uint16) uint32     { return d.s.In(p, 2) }
func (d *dumper) inl(p uint16) uint32     { return d.s.In(p, 4) }
func (d *dumper) outb(p uint16, v uint32) { d.s.Out(p, 1, v) }
func (d *dumper) outw(p uint16, v uint32) { d.s.Out(p, 2, v) }
func (d *dumper) outl(p uint16, v uint32) { d.s.Out(p, 4, v) }

func (d *dumper) sel(key uint16) { d.outw(FwCfgPortSel, uint32(key)) }
func (d *dumper) read(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(d.inb(FwCfgPortData))
	}
	return b
}

// dma runs one transfer with the descriptor at d.dmaDesc and returns the
// control word the device left.
func (d *dumper) dma(control uint32, buf uint64, length uint32) uint32 {
	var desc [16]byte
	binary.BigEndian.PutUint32(desc[0:], control)
	binary.BigEndian.PutUint32(desc[4:], length)
	binary.BigEndian.PutUint64(desc[8:], buf)
	d.s.WriteDebug(memmap.PhysAddr(d.dmaDesc), desc[:])
	d.outl(FwCfgPortDMA, bswap32(0))
	d.outl(FwCfgPortDMA+4, bswap32(uint32(d.dmaDesc)))
	return binary.BigEndian.Uint32(d.mem(d.dmaDesc, 4))
}

func (d *dumper) fill(pa uint64, v byte, n int) {
	d.s.WriteDebug(memmap.PhysAddr(pa), bytes.Repeat([]byte{v}, n))
}

var keyNames = []string{"SIGNATURE", "ID", "UUID", "RAM_SIZE", "NOGRAPHIC", "NB_CPUS", "MACHINE_ID",
	"KERNEL_ADDR", "KERNEL_SIZE", "KERNEL_CMDLINE", "INITRD_ADDR", "INITRD_SIZE",
	"BOOT_DEVICE", "NUMA", "BOOT_MENU", "MAX_CPUS", "KERNEL_ENTRY", "KERNEL_DATA",
	"INITRD_DATA", "CMDLINE_ADDR", "CMDLINE_SIZE", "CMDLINE_DATA", "SETUP_ADDR",
	"SETUP_SIZE", "SETUP_DATA", "FILE_DIR"}

func keyName(k uint16) string {
	if int(k) < len(keyNames) {
		return keyNames[k]
	}
	switch k {
	case 0x8000:
		return "ACPI_TABLES"
	case 0x8001:
		return "SMBIOS_ENTRIES"
	case 0x8002:
		return "IRQ0_OVERRIDE"
	case 0x8003:
		return "E820_TABLE"
	case 0x8004:
		return "HPET"
	}
	return "?"
}

func (d *dumper) dumpKey(k uint16) {
	d.sel(k)
	d.printf("fwcfg: key %04x %s:%s\n", k, keyName(k), hexs(d.read(16)))
}

type dirFile struct {
	size uint32
	key  uint16
	name string
}

func (d *dumper) dumpFwCfg() {
	d.sel(0)
	sig := d.read(4)
	d.printf("fwcfg: signature %s\n", quote(sig))
	if string(sig) != "QEMU" {
		return
	}
	for k := uint16(0); k < 0x20; k++ {
		d.dumpKey(k)
	}
	for k := uint16(0x8000); k < 0x8006; k++ {
		d.dumpKey(k)
	}
	for _, k := range []uint16{0x0020, 0x3fff, 0x4005, 0xc005, 0xffff} {
		d.dumpKey(k)
	}

	le := binary.LittleEndian
	d.sel(0x08)
	ksize := le.Uint32(d.read(4))
	d.sel(0x07)
	kaddr := le.Uint32(d.read(4))
	d.sel(0x12)
	d.read(24)
	mods := le.Uint32(d.read(4))
	d.read(36)
	name := le.Uint32(d.read(4))
	img, s0, s1 := d.bssEnd-kaddr, mods-kaddr, name+5-kaddr
	d.sel(0x11)
	var crc1, crc2 uint32
	for i := uint32(0); i < ksize; i++ {
		c := d.read(1)
		if i < img {
			crc1 = crc32.Update(crc1, crc32.IEEETable, c)
		}
		if i >= s0 && i < s1 {
			crc2 = crc32.Update(crc2, crc32.IEEETable, c)
		}
	}
	d.printf("fwcfg: key 0011 KERNEL_DATA: %d bytes, image [0, %x) crc32 %08x, strings [%x, %x) crc32 %08x\n", ksize, img, crc1, s0, s1, crc2)
	d.sel(0x0b)
	isize := le.Uint32(d.read(4))
	d.sel(0x12)
	for i := uint32(0); i < isize; i += 16 {
		n := min(isize-i, 16)
		d.printf("fwcfg: key 0012 INITRD_DATA +%02x:%s\n", i, hexs(d.read(int(n))))
	}

	d.sel(0x19)
	cb := d.read(4)
	dir := append([]byte(nil), cb...)
	count := binary.BigEndian.Uint32(cb)
	d.printf("fwcfg: files %d\n", count)
	var files []dirFile
	for i := uint32(0); i < count && i < 64; i++ {
		e := d.read(64)
		dir = append(dir, e...)
		f := dirFile{size: binary.BigEndian.Uint32(e), key: binary.BigEndian.Uint16(e[4:])}
		n := bytes.IndexByte(e[8:], 0)
		if n < 0 {
			n = 56
		}
		f.name = string(e[8 : 8+n])
		files = append(files, f)
		d.printf("fwcfg: file %04x size %d reserved %04x \"%s\"\n", f.key, f.size, le.Uint16(e[6:]), f.name)
	}
	for _, f := range files {
		switch {
		case f.name == "etc/e820":
			d.sel(f.key)
			for j := uint32(0); j+20 <= f.size; j += 20 {
				e := d.read(20)
				d.printf("fwcfg: etc/e820: %016x %016x %d\n", le.Uint64(e), le.Uint64(e[8:]), le.Uint32(e[16:]))
			}
		case f.size <= 64:
			d.sel(f.key)
			d.printf("fwcfg: \"%s\":%s\n", f.name, hexs(d.read(int(f.size))))
		}
	}

	// Port access widths.
	d.sel(0)
	v := d.inb(FwCfgPortSel)
	d.printf("fwcfg port: inb 0x510 -> %02x, then inb 0x511 x3:%s\n", v, hexs(d.read(3)))
	d.sel(0)
	v = d.inw(FwCfgPortData)
	d.printf("fwcfg port: inw 0x511 -> %04x, then:%s\n", v, hexs(d.read(4)))
	d.sel(0)
	v = d.inl(FwCfgPortData)
	d.printf("fwcfg port: inl 0x511 -> %08x, then:%s\n", v, hexs(d.read(4)))
	d.sel(0)
	v = d.inw(FwCfgPortSel)
	d.printf("fwcfg port: inw 0x510 -> %04x, then:%s\n", v, hexs(d.read(4)))
	d.sel(5)
	d.outb(FwCfgPortSel, 0)
	d.outb(FwCfgPortData, 0)
	d.printf("fwcfg port: select 5, outb 0x510 0, outb 0x511 0, then:%s\n", hexs(d.read(2)))
	d.sel(5)
	d.outl(FwCfgPortSel, 0)
	d.printf("fwcfg port: select 5, outl 0x510 0, then:%s\n", hexs(d.read(2)))
	d.sel(5)
	d.outw(FwCfgPortData, 0)
	d.printf("fwcfg port: select 5, outw 0x511 0, then:%s\n", hexs(d.read(4)))

	d.printf("fwcfg dma: inb 0x514..0x51b:")
	for p := uint16(0); p < 8; p++ {
		d.printf(" %02x", d.inb(FwCfgPortDMA+p))
	}
	d.printf("\n")
	d.printf("fwcfg dma: inw 0x514 %04x inw 0x516 %04x inw 0x51a %04x inl 0x514 %08x inl 0x518 %08x\n",
		d.inw(FwCfgPortDMA), d.inw(FwCfgPortDMA+2), d.inw(FwCfgPortDMA+6), d.inl(FwCfgPortDMA), d.inl(FwCfgPortDMA+4))
	d.printf("fwcfg dma: inl 0x515 %08x inl 0x51a %08x inw 0x51b %04x\n", d.inl(FwCfgPortDMA+1), d.inl(FwCfgPortDMA+6), d.inw(FwCfgPortDMA+7))
	d.printf("fwcfg port: inb 0x512 %02x inb 0x513 %02x inb 0x51c %02x\n", d.inb(0x512), d.inb(0x513), d.inb(0x51c))

	buf := d.dmaBuf
	n := 4 + 64*count
	c := d.dma(0x19<<16|0x08|0x02, buf, n)
	same := "yes"
	if !bytes.Equal(d.mem(buf, int(n)), dir) {
		same = "no"
	}
	d.printf("fwcfg dma: select 0019 read %d: control %08x, same as the port read: %s\n", n, c, same)
	for _, f := range files {
		if f.name != "etc/e820" {
			continue
		}
		d.fill(buf, 0xAA, 64)
		c = d.dma(uint32(f.key)<<16|0x08|0x04, 0, 20)
		c2 := d.dma(0x02, buf, 24)
		d.printf("fwcfg dma: etc/e820 select+skip 20 control %08x, read 24 control %08x:%s\n", c, c2, hexs(d.mem(buf, 24)))
	}
	d.fill(buf, 0xAA, 16)
	c = d.dma(0x05<<16|0x08|0x02, buf, 8)
	d.printf("fwcfg dma: select 0005 read 8 (past the end): control %08x:%s\n", c, hexs(d.mem(buf, 8)))
	d.fill(buf, 0xAA, 16)
	c = d.dma(0x7fff<<16|0x08|0x02, buf, 8)
	d.printf("fwcfg dma: select 7fff read 8 (unknown key): control %08x:%s\n", c, hexs(d.mem(buf, 8)))
	d.fill(buf, 0xAA, 16)
	c = d.dma(0xffff<<16|0x08|0x02, buf, 8)
	d.printf("fwcfg dma: select ffff read 8 (invalid key): control %08x:%s\n", c, hexs(d.mem(buf, 8)))
	d.s.WriteDebug(memmap.PhysAddr(buf), []byte{9, 0})
	c = d.dma(0x05<<16|0x08|0x10, buf, 2)
	d.sel(5)
	d.printf("fwcfg dma: select 0005 write 2: control %08x, key 0005 now:%s\n", c, hexs(d.read(2)))
	c = d.dma(0x7fff<<16|0x08|0x10, buf, 2)
	d.printf("fwcfg dma: select 7fff write 2: control %08x\n", c)
	c = d.dma(0x05<<16|0x08|0x10, buf, 0)
	d.printf("fwcfg dma: select 0005 write 0: control %08x\n", c)
	c = d.dma(0x05<<16|0x08, buf, 4)
	d.printf("fwcfg dma: select 0005 only (length 4): control %08x, then port:%s\n", c, hexs(d.read(2)))
	c = d.dma(0, buf, 4)
	d.printf("fwcfg dma: control 0: control %08x\n", c)
	c = d.dma(0xe0, buf, 4)
	d.printf("fwcfg dma: control 000000e0 (unknown bits): control %08x\n", c)
	d.fill(buf, 0xAA, 16)
	c = d.dma(0x08|0x02|0x04|0x10, buf, 4)
	d.printf("fwcfg dma: select 0000 read|skip|write 4: control %08x:%s\n", c, hexs(d.mem(buf, 4)))
	d.sel(0)
	d.read(2)
	d.fill(buf, 0xAA, 16)
	c = d.dma(0x02, buf, 4)
	d.printf("fwcfg dma: port select 0000, port read 2, dma read 4: control %08x:%s\n", c, hexs(d.mem(buf, 4)))
	c = d.dma(0x08|0x02, 0xC0000000, 4)
	d.printf("fwcfg dma: read 4 to unassigned 0xc0000000: control %08x\n", c)

	// Only the low half written.
	d.fill(buf, 0xAA, 16)
	var desc [16]byte
	binary.BigEndian.PutUint32(desc[0:], 0x08|0x02)
	binary.BigEndian.PutUint32(desc[4:], 4)
	binary.BigEndian.PutUint64(desc[8:], buf)
	d.s.WriteDebug(memmap.PhysAddr(d.dmaDesc), desc[:])
	d.outl(FwCfgPortDMA+4, bswap32(uint32(d.dmaDesc)))
	d.printf("fwcfg dma: low half only: control %08x:%s\n", binary.BigEndian.Uint32(d.mem(d.dmaDesc, 4)), hexs(d.mem(buf, 4)))
	// A stale high half.
	binary.BigEndian.PutUint32(desc[0:], 0x08|0x02)
	d.s.WriteDebug(memmap.PhysAddr(d.dmaDesc), desc[:4])
	d.outl(FwCfgPortDMA, bswap32(1))
	d.outl(FwCfgPortDMA, bswap32(0))
	d.outw(FwCfgPortDMA+4, 0x1234)
	d.outl(FwCfgPortDMA+4, bswap32(uint32(d.dmaDesc)))
	d.printf("fwcfg dma: high 1, high 0, outw, low: control %08x\n", binary.BigEndian.Uint32(d.mem(d.dmaDesc, 4)))
}

// dump runs the whole transcription and returns its output.
func (d *dumper) dump() string {
	d.printf("fwdump: begin (multiboot magic ok)\n")
	d.dumpACPI()
	d.dumpMP()
	d.dumpFwCfg()
	d.printf("fwdump: end\n")
	return d.out.String()
}
