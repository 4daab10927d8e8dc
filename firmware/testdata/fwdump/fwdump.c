/*
 * fwdump: prints, over COM1, what a multiboot kernel finds of the firmware
 * interfaces of a QEMU pc machine booted with -kernel: the ACPI tables
 * (RSDP found by scanning, RSDT/XSDT, MADT entries, FADT fields, FACS, the
 * DSDT's sleep packages), the MP table (floating pointer and every
 * configuration table entry) and fw_cfg (every well-known key, the file
 * directory, etc/e820, the port access widths and the DMA interface).
 *
 * The output is the oracle for glassbox's firmware package: its test formats
 * the same facts from glassbox's own tables and fw_cfg device, line by line,
 * in exactly this format (firmware/oracle_test.go), so keep the two in step.
 * Nothing printed depends on where QEMU/SeaBIOS placed a table; addresses
 * are reported only as "area" names or as checks (nonzero, aligned).
 */
#include "lib.h"

static u16 rd16(const void *p) { return *(const u16 *)p; }
static u32 rd32(const void *p) { return *(const u32 *)p; }
static u64 rd64(const void *p) { return *(const u64 *)p; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
/* outl with a memory clobber: the device reads and writes guest memory (DMA). */
static inline void outl_dma(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory"); }

static u8 sum8(const u8 *p, u32 n)
{
	u8 s = 0;
	for (u32 i = 0; i < n; i++)
		s += p[i];
	return s;
}

static const char *ok(int c) { return c ? "ok" : "BAD"; }

/* Print n bytes of p as " xx xx ...". */
static void hex(const u8 *p, u32 n)
{
	for (u32 i = 0; i < n; i++)
		printf(" %02x", p[i]);
}

/* Print a fixed-length, maybe unterminated, string in quotes. */
static void str(const u8 *p, u32 n)
{
	putc('"');
	for (u32 i = 0; i < n; i++)
		putc(p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?');
	putc('"');
}

static const char *area(u32 a)
{
	if (a >= 0xF0000 && a < 0x100000)
		return "f-segment";
	if (a >= 0xE0000 && a < 0xF0000)
		return "e-segment";
	if (a >= 0x9FC00 && a < 0xA0000)
		return "ebda";
	return "other";
}

static u32 ebda_base(void)
{
	u32 a = 0x40E; /* BDA: EBDA segment (hidden from gcc's null-page bounds check) */
	__asm__("" : "+r"(a));
	u32 seg = *(const volatile u16 *)a;
	return seg ? seg << 4 : 0;
}

/* Search [start, start+len) on 16-byte boundaries for sig whose first
 * checklen bytes (len16_off >= 0: p[len16_off]*16 bytes) sum to 0. */
static const u8 *scan(u32 start, u32 len, const char *sig, u32 siglen, u32 checklen, int len16_off)
{
	for (u32 a = start; a + checklen <= start + len; a += 16) {
		const u8 *p = (const u8 *)a;
		if (memcmp(p, sig, siglen) != 0)
			continue;
		u32 n = len16_off >= 0 ? p[len16_off] * 16u : checklen;
		if (n >= checklen && sum8(p, n) == 0)
			return p;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* ACPI                                                                 */
/* ------------------------------------------------------------------ */

static void table_line(const char *what, const u8 *t)
{
	const char *sig = (const char *)t;
	printf("acpi %s: signature %c%c%c%c\n", what, sig[0], sig[1], sig[2], sig[3]);
	printf("acpi %s: revision %u\n", what, t[8]);
	printf("acpi %s: length %u\n", what, rd32(t + 4));
	printf("acpi %s: checksum %s\n", what, ok(sum8(t, rd32(t + 4)) == 0));
	printf("acpi %s: oem ", what);
	str(t + 10, 6);
	putc(' ');
	str(t + 16, 8);
	printf(" revision %08x\n", rd32(t + 24));
	printf("acpi %s: creator ", what);
	str(t + 28, 4);
	printf(" revision %08x\n", rd32(t + 32));
}

static void dump_madt(const u8 *t)
{
	u32 len = rd32(t + 4);
	printf("madt: lapic address %08x flags %08x\n", rd32(t + 36), rd32(t + 40));
	for (u32 off = 44; off + 2 <= len; off += t[off + 1]) {
		const u8 *e = t + off;
		if (e[1] < 2) {
			printf("madt: bad entry length %u\n", e[1]);
			break;
		}
		switch (e[0]) {
		case 0:
			printf("madt: lapic uid %u apic %u flags %08x\n", e[2], e[3], rd32(e + 4));
			break;
		case 1:
			printf("madt: ioapic id %u address %08x gsi %u\n", e[2], rd32(e + 4), rd32(e + 8));
			break;
		case 2:
			printf("madt: override bus %u irq %u gsi %u flags %04x\n", e[2], e[3], rd32(e + 4), rd16(e + 8));
			break;
		case 4:
			printf("madt: lapic-nmi uid %02x flags %04x lint %u\n", e[2], rd16(e + 3), e[5]);
			break;
		default:
			printf("madt: type %u length %u:", e[0], e[1]);
			hex(e + 2, e[1] - 2);
			printf("\n");
		}
	}
}

static void sleep_pkg(const u8 *dsdt, const char *name)
{
	u32 len = rd32(dsdt + 4);
	for (u32 i = 36; i + 6 <= len; i++) {
		const u8 *p = dsdt + i;
		if (p[0] == 0x08 && memcmp(p + 1, name, 4) == 0) {
			/* Name(_Sx, Package(){...}): PackageOp, 1-byte PkgLength */
			u32 n = p[5] == 0x12 ? 1u + (p[6] & 0x3f) : 8u;
			if (i + 5 + n > len)
				n = len - i - 5;
			printf("dsdt: %s", name);
			hex(p + 5, n);
			printf("\n");
			return;
		}
	}
	printf("dsdt: %s absent\n", name);
}

struct fld { const char *name; u8 off, size; };

static const struct fld fadt_fields[] = {
	{"INT_MODEL", 44, 1}, {"PM_PROFILE", 45, 1}, {"SCI_INT", 46, 2}, {"SMI_CMD", 48, 4},
	{"ACPI_ENABLE", 52, 1}, {"ACPI_DISABLE", 53, 1}, {"S4BIOS_REQ", 54, 1}, {"PSTATE_CNT", 55, 1},
	{"PM1a_EVT_BLK", 56, 4}, {"PM1b_EVT_BLK", 60, 4}, {"PM1a_CNT_BLK", 64, 4}, {"PM1b_CNT_BLK", 68, 4},
	{"PM2_CNT_BLK", 72, 4}, {"PM_TMR_BLK", 76, 4}, {"GPE0_BLK", 80, 4}, {"GPE1_BLK", 84, 4},
	{"PM1_EVT_LEN", 88, 1}, {"PM1_CNT_LEN", 89, 1}, {"PM2_CNT_LEN", 90, 1}, {"PM_TMR_LEN", 91, 1},
	{"GPE0_BLK_LEN", 92, 1}, {"GPE1_BLK_LEN", 93, 1}, {"GPE1_BASE", 94, 1}, {"CST_CNT", 95, 1},
	{"P_LVL2_LAT", 96, 2}, {"P_LVL3_LAT", 98, 2}, {"FLUSH_SIZE", 100, 2}, {"FLUSH_STRIDE", 102, 2},
	{"DUTY_OFFSET", 104, 1}, {"DUTY_WIDTH", 105, 1}, {"DAY_ALRM", 106, 1}, {"MON_ALRM", 107, 1},
	{"CENTURY", 108, 1}, {"IAPC_BOOT_ARCH", 109, 2}, {"FLAGS", 112, 4},
	{0, 0, 0},
};

/* Generic address structures of the ACPI 2.0 FADT (revision >= 3). */
static const struct fld fadt_gas[] = {
	{"RESET_REG", 116, 12}, {"X_PM1a_EVT_BLK", 148, 12}, {"X_PM1b_EVT_BLK", 160, 12},
	{"X_PM1a_CNT_BLK", 172, 12}, {"X_PM1b_CNT_BLK", 184, 12}, {"X_PM2_CNT_BLK", 196, 12},
	{"X_PM_TMR_BLK", 208, 12}, {"X_GPE0_BLK", 220, 12}, {"X_GPE1_BLK", 232, 12},
	{0, 0, 0},
};

static void dump_fadt(const u8 *t)
{
	u32 len = rd32(t + 4);
	for (const struct fld *f = fadt_fields; f->name; f++) {
		if (f->size == 0)
			continue;
		u32 v = f->size == 1 ? t[f->off] : f->size == 2 ? rd16(t + f->off) : rd32(t + f->off);
		printf("fadt: %s %x\n", f->name, v);
	}
	if (t[8] >= 3 && len >= 244) {
		printf("fadt: RESET_VALUE %x\n", t[128]);
		for (const struct fld *f = fadt_gas; f->name; f++) {
			const u8 *g = t + f->off;
			printf("fadt: %s space %u width %u offset %u access %u address %llx\n", f->name, g[0], g[1], g[2], g[3], rd64(g + 4));
		}
	}
	u32 facs = rd32(t + 36), dsdt = rd32(t + 40);
	u64 xfacs = 0, xdsdt = 0;
	if (t[8] >= 3 && len >= 148) {
		xfacs = rd64(t + 132);
		xdsdt = rd64(t + 140);
		printf("fadt: X_FIRMWARE_CTRL %s, X_DSDT %s\n", xfacs == facs ? "equals FIRMWARE_CTRL" : xfacs ? "differs" : "zero",
		       xdsdt == dsdt ? "equals DSDT" : xdsdt ? "differs" : "zero");
	}
	printf("fadt: FIRMWARE_CTRL %s, DSDT %s\n", facs ? ((facs & 63) ? "unaligned" : "64-byte aligned") : "zero",
	       dsdt ? "nonzero" : "zero");
	if (facs) {
		const u8 *f = (const u8 *)facs;
		printf("facs: signature ");
		str(f, 4);
		printf(" length %u hwsig %08x waking %08x lock %08x flags %08x version %u\n", rd32(f + 4), rd32(f + 8),
		       rd32(f + 12), rd32(f + 16), rd32(f + 20), f[32]);
	}
	if (dsdt) {
		const u8 *d = (const u8 *)dsdt;
		table_line("dsdt", d);
		sleep_pkg(d, "_S3_");
		sleep_pkg(d, "_S4_");
		sleep_pkg(d, "_S5_");
	}
}

static void dump_acpi(void)
{
	const u8 *rsdp = NULL;
	u32 ebda = ebda_base();
	if (ebda)
		rsdp = scan(ebda, 1024, "RSD PTR ", 8, 20, -1);
	if (!rsdp)
		rsdp = scan(0xE0000, 0x20000, "RSD PTR ", 8, 20, -1);
	if (!rsdp) {
		printf("acpi rsdp: none\n");
		return;
	}
	printf("acpi rsdp: area %s, checksum ok\n", area((u32)rsdp));
	printf("acpi rsdp: revision %u\n", rsdp[15]);
	printf("acpi rsdp: oem ");
	str(rsdp + 9, 6);
	printf("\n");
	if (rsdp[15] >= 2) {
		printf("acpi rsdp: length %u, extended checksum %s\n", rd32(rsdp + 20), ok(sum8(rsdp, rd32(rsdp + 20)) == 0));
		printf("acpi rsdp: xsdt address %s\n", rd64(rsdp + 24) ? "nonzero" : "zero");
	}
	const u8 *rsdt = (const u8 *)rd32(rsdp + 16);
	const u8 *xsdt = rsdp[15] >= 2 ? (const u8 *)(u32)rd64(rsdp + 24) : NULL;
	const u8 *madt = NULL, *fadt = NULL;
	if (rsdt) {
		table_line("rsdt", rsdt);
		printf("acpi rsdt: tables");
		for (u32 off = 36; off + 4 <= rd32(rsdt + 4); off += 4) {
			const u8 *t = (const u8 *)rd32(rsdt + off);
			putc(' ');
			str(t, 4);
		}
		printf("\n");
	} else {
		printf("acpi rsdt: none\n");
	}
	if (xsdt) {
		table_line("xsdt", xsdt);
		printf("acpi xsdt: tables");
		for (u32 off = 36; off + 8 <= rd32(xsdt + 4); off += 8) {
			const u8 *t = (const u8 *)rd32(xsdt + off);
			putc(' ');
			str(t, 4);
		}
		printf("\n");
	} else {
		printf("acpi xsdt: none\n");
	}
	/* The tables the kernel would use: through the RSDT (present in both). */
	const u8 *root = rsdt ? rsdt : xsdt;
	u32 step = rsdt ? 4 : 8;
	for (u32 off = 36; root && off + step <= rd32(root + 4); off += step) {
		const u8 *t = (const u8 *)rd32(root + off);
		if (!memcmp(t, "APIC", 4))
			madt = t;
		else if (!memcmp(t, "FACP", 4))
			fadt = t;
		else
			table_line("other table", t);
	}
	if (rsdt && xsdt) {
		int same = rd32(rsdt + 4) - 36 == (rd32(xsdt + 4) - 36) / 2;
		for (u32 i = 0; same && 36 + 4 * i < rd32(rsdt + 4); i++)
			same = rd32(rsdt + 36 + 4 * i) == (u32)rd64(xsdt + 36 + 8 * i) && rd32(xsdt + 40 + 8 * i) == 0;
		printf("acpi xsdt: lists the rsdt's tables in order: %s\n", same ? "yes" : "no");
	}
	if (fadt) {
		table_line("fadt", fadt);
		dump_fadt(fadt);
	} else {
		printf("acpi: no FACP\n");
	}
	if (madt) {
		table_line("madt", madt);
		dump_madt(madt);
	} else {
		printf("acpi: no APIC\n");
	}
}

/* ------------------------------------------------------------------ */
/* MP table                                                             */
/* ------------------------------------------------------------------ */

static void dump_mp(void)
{
	const u8 *fp = NULL;
	u32 ebda = ebda_base();
	if (ebda)
		fp = scan(ebda, 1024, "_MP_", 4, 16, 8);
	if (!fp)
		fp = scan(0x9FC00, 1024, "_MP_", 4, 16, 8);
	if (!fp)
		fp = scan(0xF0000, 0x10000, "_MP_", 4, 16, 8);
	if (!fp) {
		printf("mp: none\n");
		return;
	}
	printf("mp: floating pointer area %s checksum ok length %u spec %u features", area((u32)fp), fp[8], fp[9]);
	hex(fp + 11, 5);
	printf("\n");
	const u8 *t = (const u8 *)rd32(fp + 4);
	if (!t) {
		printf("mp: no configuration table\n");
		return;
	}
	u16 len = rd16(t + 4);
	printf("mp: config area %s signature %s checksum %s spec %u oem ", area((u32)t), ok(!memcmp(t, "PCMP", 4)),
	       ok(sum8(t, len) == 0), t[6]);
	str(t + 8, 8);
	printf(" product ");
	str(t + 16, 12);
	printf(" lapic %08x entries %u oemtable %08x/%u ext %u/%02x\n", rd32(t + 36), rd16(t + 34), rd32(t + 28),
	       rd16(t + 32), rd16(t + 40), t[42]);
	const u8 *e = t + 44;
	static const char *itype[] = {"INT", "NMI", "SMI", "ExtINT"};
	for (u32 i = 0; i < rd16(t + 34) && e < t + len; i++) {
		switch (e[0]) {
		case 0:
			printf("mp: cpu apic %u version %02x flags %02x signature %08x features %08x\n", e[1], e[2], e[3],
			       rd32(e + 4), rd32(e + 8));
			e += 20;
			break;
		case 1:
			printf("mp: bus %u ", e[1]);
			str(e + 2, 6);
			printf("\n");
			e += 8;
			break;
		case 2:
			printf("mp: ioapic id %u version %02x flags %02x address %08x\n", e[1], e[2], e[3], rd32(e + 4));
			e += 8;
			break;
		case 3:
		case 4:
			printf("mp: %s %s flags %04x bus %u irq %02x apic %02x pin %u\n", e[0] == 3 ? "intsrc" : "lintsrc",
			       e[1] < 4 ? itype[e[1]] : "?", rd16(e + 2), e[4], e[5], e[6], e[7]);
			e += 8;
			break;
		default:
			printf("mp: unknown entry type %u\n", e[0]);
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* fw_cfg                                                               */
/* ------------------------------------------------------------------ */

#define FW_SEL 0x510
#define FW_DATA 0x511
#define FW_DMA 0x514

static void fw_select(u16 key) { outw(FW_SEL, key); }
static void fw_read(void *buf, u32 n)
{
	u8 *p = buf;
	for (u32 i = 0; i < n; i++)
		p[i] = inb(FW_DATA);
}
static u32 be32(u32 v) { return __builtin_bswap32(v); }

struct file { u32 size; u16 select; char name[57]; };
extern u8 __bss_end[]; /* guests/lib/link.ld: the end of the loaded image */

static struct file files[64];
static u32 nfiles;
static u8 dirbuf[4 + 64 * 64], dmabuf[4 + 64 * 64];

static struct dma { u32 control, length; u64 address; } __attribute__((aligned(16))) dma;

/* One DMA transfer; the descriptor's address is written as two halves. */
static u32 fw_dma(u32 control, void *buf, u32 len)
{
	dma.control = be32(control);
	dma.length = be32(len);
	dma.address = (u64)be32((u32)buf) << 32; /* big-endian 64-bit, high half 0 */
	outl_dma(FW_DMA, be32(0));
	outl_dma(FW_DMA + 4, be32((u32)&dma));
	return be32(dma.control);
}

static const char *key_name(u16 k)
{
	static const char *n[] = {"SIGNATURE", "ID", "UUID", "RAM_SIZE", "NOGRAPHIC", "NB_CPUS", "MACHINE_ID",
				  "KERNEL_ADDR", "KERNEL_SIZE", "KERNEL_CMDLINE", "INITRD_ADDR", "INITRD_SIZE",
				  "BOOT_DEVICE", "NUMA", "BOOT_MENU", "MAX_CPUS", "KERNEL_ENTRY", "KERNEL_DATA",
				  "INITRD_DATA", "CMDLINE_ADDR", "CMDLINE_SIZE", "CMDLINE_DATA", "SETUP_ADDR",
				  "SETUP_SIZE", "SETUP_DATA", "FILE_DIR"};
	if (k < sizeof n / sizeof n[0])
		return n[k];
	switch (k) {
	case 0x8000: return "ACPI_TABLES";
	case 0x8001: return "SMBIOS_ENTRIES";
	case 0x8002: return "IRQ0_OVERRIDE";
	case 0x8003: return "E820_TABLE";
	case 0x8004: return "HPET";
	}
	return "?";
}

static void dump_key(u16 k)
{
	u8 b[16];
	fw_select(k);
	fw_read(b, 16);
	printf("fwcfg: key %04x %s:", k, key_name(k));
	hex(b, 16);
	printf("\n");
}

static void dump_fwcfg(void)
{
	u8 b[16];
	fw_select(0);
	fw_read(b, 4);
	printf("fwcfg: signature ");
	str(b, 4);
	printf("\n");
	if (memcmp(b, "QEMU", 4) != 0)
		return;
	for (u16 k = 0; k < 0x20; k++)
		dump_key(k);
	for (u16 k = 0x8000; k < 0x8006; k++)
		dump_key(k);
	dump_key(0x0020);
	dump_key(0x3fff);
	dump_key(0x4005);
	dump_key(0xc005);
	dump_key(0xffff);

	/* The multiboot items (0x07/0x08/0x10/0x11, 0x0a/0x0b/0x12). */
	u32 ksize, kaddr, isize, mods, name;
	fw_select(0x08);
	fw_read(&ksize, 4);
	fw_select(0x07);
	fw_read(&kaddr, 4);
	fw_select(0x12);
	fw_read(b, 16);
	fw_read(b, 8);
	fw_read(&mods, 4); /* mods_addr: the page after the kernel image */
	fw_read(b, 4);
	fw_read(b, 16);
	fw_read(b, 16);
	fw_read(&name, 4); /* boot_loader_name: the last string QEMU puts there */
	/* QEMU leaves the rest of the kernel's last page and of the string page
	 * uninitialised (g_realloc): only the image and the strings are
	 * deterministic. */
	u32 img = (u32)__bss_end - kaddr, s0 = mods - kaddr, s1 = name + 5 - kaddr, crc1 = 0, crc2 = 0;
	fw_select(0x11);
	for (u32 i = 0; i < ksize; i++) {
		u8 c = inb(FW_DATA);
		if (i < img)
			crc1 = crc32_update(crc1, &c, 1);
		if (i >= s0 && i < s1)
			crc2 = crc32_update(crc2, &c, 1);
	}
	printf("fwcfg: key 0011 KERNEL_DATA: %u bytes, image [0, %x) crc32 %08x, strings [%x, %x) crc32 %08x\n", ksize, img, crc1,
	       s0, s1, crc2);
	fw_select(0x0b);
	fw_read(&isize, 4);
	fw_select(0x12);
	for (u32 i = 0; i < isize; i += 16) {
		u32 n = isize - i < 16 ? isize - i : 16;
		fw_read(b, n);
		printf("fwcfg: key 0012 INITRD_DATA +%02x:", i);
		hex(b, n);
		printf("\n");
	}

	/* File directory (port reads). */
	u32 count;
	fw_select(0x19);
	fw_read(&count, 4);
	memcpy(dirbuf, &count, 4);
	count = be32(count);
	printf("fwcfg: files %u\n", count);
	for (u32 i = 0; i < count && i < 64; i++) {
		u8 e[64];
		fw_read(e, 64);
		memcpy(dirbuf + 4 + 64 * i, e, 64);
		struct file *f = &files[nfiles++];
		f->size = be32(rd32(e));
		f->select = (u16)(e[4] << 8 | e[5]);
		memcpy(f->name, e + 8, 56);
		f->name[56] = 0;
		printf("fwcfg: file %04x size %u reserved %04x \"%s\"\n", f->select, f->size, rd16(e + 6), f->name);
	}
	for (u32 i = 0; i < nfiles; i++) {
		struct file *f = &files[i];
		if (!memcmp(f->name, "etc/e820", 9)) {
			fw_select(f->select);
			for (u32 j = 0; j + 20 <= f->size; j += 20) {
				u8 e[20];
				fw_read(e, 20);
				printf("fwcfg: etc/e820: %016llx %016llx %u\n", rd64(e), rd64(e + 8), rd32(e + 16));
			}
		} else if (f->size <= 64) {
			fw_select(f->select);
			fw_read(b, f->size);
			printf("fwcfg: \"%s\":", f->name);
			hex(b, f->size);
			printf("\n");
		}
	}

	/* Port access widths. */
	fw_select(0);
	u32 v = inb(FW_SEL);
	fw_read(b, 3);
	printf("fwcfg port: inb 0x510 -> %02x, then inb 0x511 x3:", v);
	hex(b, 3);
	printf("\n");
	fw_select(0);
	v = inw(FW_DATA);
	fw_read(b, 4);
	printf("fwcfg port: inw 0x511 -> %04x, then:", v);
	hex(b, 4);
	printf("\n");
	fw_select(0);
	v = inl(FW_DATA);
	fw_read(b, 4);
	printf("fwcfg port: inl 0x511 -> %08x, then:", v);
	hex(b, 4);
	printf("\n");
	fw_select(0);
	v = inw(FW_SEL);
	fw_read(b, 4);
	printf("fwcfg port: inw 0x510 -> %04x, then:", v);
	hex(b, 4);
	printf("\n");
	fw_select(5);
	outb(FW_SEL, 0);
	outb(FW_DATA, 0);
	fw_read(b, 2);
	printf("fwcfg port: select 5, outb 0x510 0, outb 0x511 0, then:");
	hex(b, 2);
	printf("\n");
	fw_select(5);
	outl(FW_SEL, 0);
	fw_read(b, 2);
	printf("fwcfg port: select 5, outl 0x510 0, then:");
	hex(b, 2);
	printf("\n");
	fw_select(5);
	outw(FW_DATA, 0);
	fw_read(b, 4);
	printf("fwcfg port: select 5, outw 0x511 0, then:");
	hex(b, 4);
	printf("\n");

	/* DMA registers: the signature "QEMU CFG". */
	printf("fwcfg dma: inb 0x514..0x51b:");
	for (u16 p = 0; p < 8; p++)
		printf(" %02x", inb(FW_DMA + p));
	printf("\n");
	printf("fwcfg dma: inw 0x514 %04x inw 0x516 %04x inw 0x51a %04x inl 0x514 %08x inl 0x518 %08x\n", inw(FW_DMA),
	       inw(FW_DMA + 2), inw(FW_DMA + 6), inl(FW_DMA), inl(FW_DMA + 4));
	printf("fwcfg dma: inl 0x515 %08x inl 0x51a %08x inw 0x51b %04x\n", inl(FW_DMA + 1), inl(FW_DMA + 6), inw(FW_DMA + 7));
	printf("fwcfg port: inb 0x512 %02x inb 0x513 %02x inb 0x51c %02x\n", inb(0x512), inb(0x513), inb(0x51c));

	/* DMA transfers. */
	u32 c = fw_dma(0x19 << 16 | 0x08 | 0x02, dmabuf, 4 + 64 * count);
	printf("fwcfg dma: select 0019 read %u: control %08x, same as the port read: %s\n", 4 + 64 * count, c,
	       memcmp(dmabuf, dirbuf, 4 + 64 * count) ? "no" : "yes");
	for (u32 i = 0; i < nfiles; i++) {
		if (memcmp(files[i].name, "etc/e820", 9))
			continue;
		memset(dmabuf, 0xAA, 64);
		c = fw_dma((u32)files[i].select << 16 | 0x08 | 0x04, NULL, 20);
		u32 c2 = fw_dma(0x02, dmabuf, 24);
		printf("fwcfg dma: etc/e820 select+skip 20 control %08x, read 24 control %08x:", c, c2);
		hex(dmabuf, 24);
		printf("\n");
	}
	memset(dmabuf, 0xAA, 16);
	c = fw_dma(0x05 << 16 | 0x08 | 0x02, dmabuf, 8);
	printf("fwcfg dma: select 0005 read 8 (past the end): control %08x:", c);
	hex(dmabuf, 8);
	printf("\n");
	memset(dmabuf, 0xAA, 16);
	c = fw_dma(0x7fff << 16 | 0x08 | 0x02, dmabuf, 8);
	printf("fwcfg dma: select 7fff read 8 (unknown key): control %08x:", c);
	hex(dmabuf, 8);
	printf("\n");
	memset(dmabuf, 0xAA, 16);
	c = fw_dma(0xffff << 16 | 0x08 | 0x02, dmabuf, 8);
	printf("fwcfg dma: select ffff read 8 (invalid key): control %08x:", c);
	hex(dmabuf, 8);
	printf("\n");
	dmabuf[0] = 9;
	dmabuf[1] = 0;
	c = fw_dma(0x05 << 16 | 0x08 | 0x10, dmabuf, 2);
	fw_select(5);
	fw_read(b, 2);
	printf("fwcfg dma: select 0005 write 2: control %08x, key 0005 now:", c);
	hex(b, 2);
	printf("\n");
	c = fw_dma(0x7fff << 16 | 0x08 | 0x10, dmabuf, 2);
	printf("fwcfg dma: select 7fff write 2: control %08x\n", c);
	c = fw_dma(0x05 << 16 | 0x08 | 0x10, dmabuf, 0);
	printf("fwcfg dma: select 0005 write 0: control %08x\n", c);
	c = fw_dma(0x05 << 16 | 0x08, dmabuf, 4);
	fw_read(b, 2);
	printf("fwcfg dma: select 0005 only (length 4): control %08x, then port:", c);
	hex(b, 2);
	printf("\n");
	c = fw_dma(0, dmabuf, 4);
	printf("fwcfg dma: control 0: control %08x\n", c);
	c = fw_dma(0xe0, dmabuf, 4);
	printf("fwcfg dma: control 000000e0 (unknown bits): control %08x\n", c);
	memset(dmabuf, 0xAA, 16);
	c = fw_dma(0x00 << 16 | 0x08 | 0x02 | 0x04 | 0x10, dmabuf, 4);
	printf("fwcfg dma: select 0000 read|skip|write 4: control %08x:", c);
	hex(dmabuf, 4);
	printf("\n");
	fw_select(0);
	fw_read(b, 2);
	memset(dmabuf, 0xAA, 16);
	c = fw_dma(0x02, dmabuf, 4);
	printf("fwcfg dma: port select 0000, port read 2, dma read 4: control %08x:", c);
	hex(dmabuf, 4);
	printf("\n");
	c = fw_dma(0x00 << 16 | 0x08 | 0x02, (void *)0xC0000000, 4);
	printf("fwcfg dma: read 4 to unassigned 0xc0000000: control %08x\n", c);
	/* Only the low half written: the high half is 0 after a transfer. */
	memset(dmabuf, 0xAA, 16);
	dma.control = be32(0x00 << 16 | 0x08 | 0x02);
	dma.length = be32(4);
	dma.address = (u64)be32((u32)dmabuf) << 32;
	outl_dma(FW_DMA + 4, be32((u32)&dma));
	printf("fwcfg dma: low half only: control %08x:", be32(dma.control));
	hex(dmabuf, 4);
	printf("\n");
	/* A stale high half: written, then a 16-bit write, then the low half. */
	dma.control = be32(0x00 << 16 | 0x08 | 0x02);
	outl_dma(FW_DMA, be32(1));
	outl_dma(FW_DMA, be32(0));
	outw(FW_DMA + 4, 0x1234);
	outl_dma(FW_DMA + 4, be32((u32)&dma));
	printf("fwcfg dma: high 1, high 0, outw, low: control %08x\n", be32(dma.control));
}

void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	printf("fwdump: begin (multiboot magic %s)\n", magic == MB_MAGIC ? "ok" : "BAD");
	dump_acpi();
	dump_mp();
	dump_fwcfg();
	printf("fwdump: end\n");
	exit_qemu(0);
}
