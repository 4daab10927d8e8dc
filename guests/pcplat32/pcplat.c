/*
 * pcplat32: the QEMU PC platform pieces bare-metal test kernels rely on
 * (kvm-unit-tests style), checked against QEMU's pc machine:
 *   - PCI configuration mechanism #1 (0xCF8/0xCFC) and bus 0 enumeration,
 *   - QEMU's pci-testdev (BAR sizing, decode enable, relocation, its tests),
 *   - QEMU's pc-testdev (scratch port 0xE0/0xE8, flush port 0xE4, IRQ
 *     lines 0x2000+n through the 8259 and the I/O APIC, iomem 0xFF000000),
 *   - PIT/RTC interrupts through the I/O APIC and the LAPIC, PIT channel 2
 *     through port 0x61 (counts and flags only: nothing time dependent).
 * Run with -device pci-testdev -device pc-testdev.
 */
#include "lib.h"

static inline u16 inw(u16 p) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u8 rd8(u32 a) { return *(volatile u8 *)a; }
static inline u16 rd16(u32 a) { return *(volatile u16 *)a; }
static inline u32 rd32(u32 a) { return *(volatile u32 *)a; }
static inline void wr8(u32 a, u8 v) { *(volatile u8 *)a = v; }
static inline void wr16(u32 a, u16 v) { *(volatile u16 *)a = v; }
static inline void wr32(u32 a, u32 v) { *(volatile u32 *)a = v; }

/* ---------------------------------------------------------------- PCI */

static u32 cfgaddr(int bus, int dev, int fn, int off)
{
	return 0x80000000u | (u32)bus << 16 | (u32)dev << 11 | (u32)fn << 8 | (off & 0xFC);
}
static u32 cfg_rd32(int b, int d, int f, int o) { outl(0xCF8, cfgaddr(b, d, f, o)); return inl(0xCFC); }
static u16 cfg_rd16(int b, int d, int f, int o) { outl(0xCF8, cfgaddr(b, d, f, o)); return inw(0xCFC + (o & 2)); }
static u8 cfg_rd8(int b, int d, int f, int o) { outl(0xCF8, cfgaddr(b, d, f, o)); return inb(0xCFC + (o & 3)); }
static void cfg_wr32(int b, int d, int f, int o, u32 v) { outl(0xCF8, cfgaddr(b, d, f, o)); outl(0xCFC, v); }
static void cfg_wr16(int b, int d, int f, int o, u16 v) { outl(0xCF8, cfgaddr(b, d, f, o)); outw(0xCFC + (o & 2), v); }
static void cfg_wr8(int b, int d, int f, int o, u8 v) { outl(0xCF8, cfgaddr(b, d, f, o)); outb(0xCFC + (o & 3), v); }

static int tdev = -1; /* pci-testdev's device number */

static void pci_enumerate(void)
{
	printf("[pci] bus 0 enumeration\n");
	for (int d = 0; d < 32; d++) {
		int nfn = 1;
		for (int f = 0; f < nfn; f++) {
			u32 id = cfg_rd32(0, d, f, 0);
			if (id == 0xFFFFFFFF)
				continue;
			u8 hdr = cfg_rd8(0, d, f, 0x0E);
			if (f == 0 && (hdr & 0x80))
				nfn = 8;
			u32 cls = cfg_rd32(0, d, f, 0x08);
			u32 sub = cfg_rd32(0, d, f, 0x2C);
			printf("  00:%02x.%x %04x:%04x rev %02x class %06x hdr %02x subsys %04x:%04x cmd %04x sts %04x pin %d line %d\n",
			       d, f, id & 0xFFFF, id >> 16, cls & 0xFF, cls >> 8, hdr, sub & 0xFFFF, sub >> 16,
			       cfg_rd16(0, d, f, 4), cfg_rd16(0, d, f, 6), cfg_rd8(0, d, f, 0x3D), cfg_rd8(0, d, f, 0x3C));
			for (int b = 0; b < 6; b++) {
				u32 v = cfg_rd32(0, d, f, 0x10 + 4 * b);
				if (v)
					printf("    BAR%d %08x\n", b, v);
			}
			if (id == 0x00051b36)
				tdev = d;
		}
	}
}

static void pci_mechanism(void)
{
	printf("[pci] configuration mechanism #1\n");
	outl(0xCF8, 0x80000000);
	printf("  CF8 reads back %08x\n", inl(0xCF8));
	printf("  00:00.0 dword %08x bytes %02x %02x %02x %02x words %04x %04x\n", inl(0xCFC),
	       inb(0xCFC), inb(0xCFD), inb(0xCFE), inb(0xCFF), inw(0xCFC), inw(0xCFE));
	outl(0xCF8, 0x00000000);
	printf("  enable bit clear: %08x\n", inl(0xCFC));
	printf("  00:1f.7: %08x  bus 1: %08x  00:01.2: %08x\n", cfg_rd32(0, 31, 7, 0), cfg_rd32(1, 0, 0, 0),
	       cfg_rd32(0, 1, 2, 0));
	cfg_wr32(0, 0, 0, 0, 0x12345678);
	printf("  vendor/device after a write: %08x\n", cfg_rd32(0, 0, 0, 0));
	cfg_wr32(0, 1, 0, 0x08, 0);
	printf("  01.0 class/rev after a write: %08x\n", cfg_rd32(0, 1, 0, 0x08));
	u8 line = cfg_rd8(0, 1, 3, 0x3C);
	cfg_wr8(0, 1, 3, 0x3C, 0x5A);
	printf("  01.3 interrupt line writable: %02x, pin %02x\n", cfg_rd8(0, 1, 3, 0x3C), cfg_rd8(0, 1, 3, 0x3D));
	cfg_wr8(0, 1, 3, 0x3C, line);
	/* a 4-byte write to 0xCF8 latches; byte writes do not */
	outl(0xCF8, cfgaddr(0, 2, 0, 0));
	outb(0xCF8, 0x08);
	printf("  after outb 0xCF8: CF8=%08x\n", inl(0xCF8));
}

/* ------------------------------------------------------------- pci-testdev */

#define MMIO_BASE 0xFE000000u
#define PIO_BASE 0xD000u

static u32 bar0, bar1;

static u32 size_bar(int o)
{
	u32 old = cfg_rd32(0, tdev, 0, o);
	cfg_wr32(0, tdev, 0, o, 0xFFFFFFFF);
	u32 v = cfg_rd32(0, tdev, 0, o);
	cfg_wr32(0, tdev, 0, o, old);
	return v;
}

static u8 t_rd8(int pio, u32 off) { return pio ? inb(bar1 + off) : rd8(bar0 + off); }
static u32 t_rd32(int pio, u32 off) { return pio ? inl(bar1 + off) : rd32(bar0 + off); }
static void t_wr8(int pio, u32 off, u8 v) { if (pio) outb(bar1 + off, v); else wr8(bar0 + off, v); }
static void t_wr16(int pio, u32 off, u16 v) { if (pio) outw(bar1 + off, v); else wr16(bar0 + off, v); }
static void t_wr32(int pio, u32 off, u32 v) { if (pio) outl(bar1 + off, v); else wr32(bar0 + off, v); }

static void testdev_run(int pio, int test)
{
	char name[32];
	t_wr8(pio, 0, test);
	u8 width = t_rd8(pio, 1);
	u32 off = t_rd32(pio, 4);
	u8 data = t_rd8(pio, 8);
	int i;
	for (i = 0; i < 31; i++) {
		name[i] = t_rd8(pio, 16 + i);
		if (!name[i])
			break;
	}
	name[i] = 0;
	printf("  %s test %d: hdr %08x width %d offset %d data %02x count %u name \"%s\"\n", pio ? "pio" : "mmio",
	       test, t_rd32(pio, 0), width, off, data, t_rd32(pio, 12), name);
	for (i = 0; i < 5; i++)
		t_wr8(pio, off, data);
	u32 c1 = t_rd32(pio, 12);
	for (i = 0; i < 3; i++)
		t_wr8(pio, off, data ^ 1);
	u32 c2 = t_rd32(pio, 12);
	for (i = 0; i < 2; i++)
		t_wr16(pio, off, data);
	u32 c3 = t_rd32(pio, 12);
	t_wr32(pio, off, data);
	u32 c4 = t_rd32(pio, 12);
	t_wr8(pio, off + 1, data);
	printf("    counts: 5 byte writes of data %u, +3 other bytes %u, +2 word writes %u, +1 dword %u, +1 next %u\n",
	       c1, c2, c3, c4, t_rd32(pio, 12));
}

static void pci_testdev(void)
{
	printf("[pci-testdev]\n");
	if (tdev < 0) {
		printf("  not found\n");
		return;
	}
	printf("  BAR0 size mask %08x BAR1 size mask %08x BAR2 %08x\n", size_bar(0x10), size_bar(0x14), size_bar(0x18));
	bar0 = cfg_rd32(0, tdev, 0, 0x10) & ~0xFu;
	bar1 = cfg_rd32(0, tdev, 0, 0x14) & ~0x3u;
	/* relocate both BARs */
	cfg_wr32(0, tdev, 0, 0x10, MMIO_BASE);
	cfg_wr32(0, tdev, 0, 0x14, PIO_BASE);
	printf("  relocated: BAR0 %08x BAR1 %08x\n", cfg_rd32(0, tdev, 0, 0x10), cfg_rd32(0, tdev, 0, 0x14));
	u32 old0 = bar0, old1 = bar1;
	bar0 = MMIO_BASE;
	bar1 = PIO_BASE;
	t_wr8(0, 0, 0);
	t_wr8(1, 0, 0);
	printf("  old addresses: mmio %08x pio %08x; new: mmio %08x pio %08x\n", rd32(old0 + 4), inl(old1 + 4),
	       t_rd32(0, 4), t_rd32(1, 4));
	u16 cmd = cfg_rd16(0, tdev, 0, 4);
	cfg_wr16(0, tdev, 0, 4, cmd & ~3);
	printf("  decode off: mmio %08x pio %08x\n", t_rd32(0, 4), t_rd32(1, 4));
	cfg_wr16(0, tdev, 0, 4, cmd & ~2);
	printf("  io decode only: mmio %08x pio %08x\n", t_rd32(0, 4), t_rd32(1, 4));
	cfg_wr16(0, tdev, 0, 4, cmd);
	printf("  both on: mmio %08x pio %08x\n", t_rd32(0, 4), t_rd32(1, 4));
	for (int pio = 0; pio < 2; pio++)
		for (int t = 0; t < 3; t++)
			testdev_run(pio, t);
	t_wr8(0, 0, 3);
	printf("  test 3 (none): hdr %08x offset %08x\n", t_rd32(0, 0), t_rd32(0, 4));
	t_wr8(1, 0, 1);
	printf("  past the header: %08x %08x, beyond: %08x, mmio second half %08x\n", t_rd32(1, 36), t_rd32(1, 40),
	       t_rd32(1, 200), t_rd32(0, 2048));
	cfg_wr32(0, tdev, 0, 0x10, old0);
	cfg_wr32(0, tdev, 0, 0x14, old1 | 1);
	bar0 = old0;
	bar1 = old1;
	printf("  restored: BAR0 %08x BAR1 %08x mmio %08x\n", cfg_rd32(0, tdev, 0, 0x10), cfg_rd32(0, tdev, 0, 0x14),
	       t_rd32(0, 4));
}

/* -------------------------------------------------------------- pc-testdev */

static int __attribute__((noinline)) flushed_page_code(int x) { return x * 3 + 1; }

static void pc_testdev(void)
{
	printf("[pc-testdev] scratch port 0xE0\n");
	outl(0xE0, 0x12345678);
	printf("  bytes %02x %02x %02x %02x words %04x %04x %04x dword %08x\n", inb(0xE0), inb(0xE1), inb(0xE2),
	       inb(0xE3), inw(0xE0), inw(0xE1), inw(0xE2), inl(0xE0));
	outb(0xE2, 0xAA);
	printf("  after outb 0xE2: %08x\n", inl(0xE0));
	outw(0xE1, 0xBBCC);
	printf("  after outw 0xE1: %08x\n", inl(0xE0));
	printf("  byte-wise alias 0xE8: %08x %04x %02x\n", inl(0xE8), inw(0xEA), inb(0xEB));
	outl(0xE8, 0xCAFEF00D);
	outb(0xEA, 0x11);
	printf("  after outl 0xE8, outb 0xEA: %08x\n", inl(0xE0));

	printf("[pc-testdev] flush page port 0xE4\n");
	printf("  reads: dword %08x\n", inl(0xE4));
	int before = flushed_page_code(5);
	outl(0xE4, (u32)flushed_page_code);
	outl(0xE4, (u32)&before);
	printf("  code on the flushed page still runs: %d %d\n", before, flushed_page_code(7));

	printf("[pc-testdev] iomem 0xFF000000\n");
	u32 io = 0xFF000000;
	printf("  initial %08x %08x\n", rd32(io), rd32(io + 0xFFFC));
	wr32(io, 0x11223344);
	wr16(io + 4, 0x5566);
	wr8(io + 6, 0x77);
	wr32(io + 0xFFFC, 0xDEADBEEF);
	printf("  %08x %08x bytes %02x %02x words %04x %04x last %08x %02x\n", rd32(io), rd32(io + 4), rd8(io + 1),
	       rd8(io + 6), rd16(io + 1), rd16(io + 5), rd32(io + 0xFFFC), rd8(io + 0xFFFF));
}

/* ---------------------------------------------------- interrupts */

#define LAPIC 0xFEE00000u
#define IOAPIC 0xFEC00000u

static void ioapic_write(int reg, u32 v) { wr32(IOAPIC, reg); wr32(IOAPIC + 0x10, v); }
static u32 ioapic_read(int reg) { wr32(IOAPIC, reg); return rd32(IOAPIC + 0x10); }
static void lapic_eoi(void) { wr32(LAPIC + 0xB0, 0); }

static volatile u32 hits[48];
static volatile int lower_in_handler = -1; /* pc-testdev line to lower before EOI */
static volatile int pic_mode;
static volatile u32 mask_after; /* nonzero: mask I/O APIC pin 11 once hits[0x2B] reaches it */

static void irq_handler(struct trapframe *f)
{
	hits[f->vec]++;
	if (mask_after && f->vec == 0x2B && hits[0x2B] >= mask_after)
		ioapic_write(0x10 + 2 * 11, 0x2B | 1 << 15 | 1 << 16);
	if (lower_in_handler >= 0)
		outb(0x2000 + lower_in_handler, 0);
	if (pic_mode) {
		if (f->vec >= 0x28)
			outb(0xA0, 0x20);
		outb(0x20, 0x20);
	} else {
		lapic_eoi();
	}
}

static void pic_init(void)
{
	outb(0x20, 0x11); outb(0xA0, 0x11);
	outb(0x21, 0x20); outb(0xA1, 0x28);
	outb(0x21, 0x04); outb(0xA1, 0x02);
	outb(0x21, 0x01); outb(0xA1, 0x01);
	outb(0x21, 0xFF); outb(0xA1, 0xFF);
}

static void settle(void)
{
	/* let pending interrupts in */
	__asm__ volatile("sti; nop; nop; nop; cli" ::: "memory");
}

static void irq_lines_pic(void)
{
	printf("[pc-testdev] IRQ lines 0x2000+n through the 8259\n");
	pic_mode = 1;
	outb(0x21, 0xFB); /* cascade */
	outb(0xA1, 0xBF); /* IRQ14 */
	outb(0x2000 + 14, 1);
	settle();
	u32 a = hits[0x2E];
	outb(0x2000 + 14, 1); /* still high: no new edge */
	settle();
	u32 b = hits[0x2E];
	outb(0x2000 + 14, 0);
	outb(0x2000 + 14, 1);
	settle();
	u32 c = hits[0x2E];
	outb(0x2000 + 14, 0);
	outw(0x2000 + 14, 0x0101); /* only byte accesses reach the lines */
	settle();
	u32 d = hits[0x2E];
	outb(0x2000 + 14, 0x80); /* any nonzero value raises */
	settle();
	outb(0x2000 + 14, 0);
	printf("  raise %u, raise again %u, lower+raise %u, word write %u, value 0x80 %u; reads %02x %04x\n", a, b,
	       c, d, hits[0x2E], inb(0x2000 + 14), inw(0x2000));
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	pic_mode = 0;
}

static void irq_lines_ioapic(void)
{
	printf("[pc-testdev] IRQ lines through the I/O APIC\n");
	wr32(LAPIC + 0xF0, 0x1FF); /* software enable, spurious vector 0xFF */
	printf("  ioapic redirection entries %u\n", (ioapic_read(1) >> 16 & 0xFF) + 1);
	/* pin 10 edge, vector 0x2A; pin 11 level, vector 0x2B */
	ioapic_write(0x10 + 2 * 10, 0x2A);
	ioapic_write(0x11 + 2 * 10, 0);
	ioapic_write(0x10 + 2 * 11, 0x2B | 1 << 15);
	ioapic_write(0x11 + 2 * 11, 0);
	outb(0x2000 + 10, 1);
	settle();
	u32 e1 = hits[0x2A];
	outb(0x2000 + 10, 1); /* QEMU's I/O APIC takes every assertion as an edge */
	settle();
	u32 e2 = hits[0x2A];
	outb(0x2000 + 10, 0);
	outb(0x2000 + 10, 1);
	settle();
	outb(0x2000 + 10, 0);
	printf("  edge pin 10: raise %u, again %u, lower+raise %u\n", e1, e2, hits[0x2A]);
	lower_in_handler = 11;
	outb(0x2000 + 11, 1);
	settle();
	lower_in_handler = -1;
	printf("  level pin 11, lowered in the handler: %u interrupt(s), entry %08x\n", hits[0x2B],
	       ioapic_read(0x10 + 2 * 11));
	/* level, held high: re-delivered after every EOI until the handler
	   masks the pin at the third delivery */
	u32 n0 = hits[0x2B];
	mask_after = n0 + 3;
	outb(0x2000 + 11, 1);
	settle();
	mask_after = 0;
	printf("  level pin 11 held high: %u deliveries, entry %08x\n", hits[0x2B] - n0, ioapic_read(0x10 + 2 * 11));
	outb(0x2000 + 11, 0);
	/* masked pin: raise while masked, unmask -> level interrupt delivered */
	outb(0x2000 + 11, 1);
	u32 n1 = hits[0x2B];
	settle();
	u32 n2 = hits[0x2B];
	lower_in_handler = 11;
	ioapic_write(0x10 + 2 * 11, 0x2B | 1 << 15);
	settle();
	lower_in_handler = -1;
	printf("  masked while raised: %u, after unmask: %u\n", n2 - n1, hits[0x2B] - n1);
	ioapic_write(0x10 + 2 * 10, 1 << 16);
	ioapic_write(0x10 + 2 * 11, 1 << 16);
}

static void timers(void)
{
	printf("[timers] PIT channel 0 mode 0 through I/O APIC pin 2\n");
	ioapic_write(0x10 + 2 * 2, 0x22);
	ioapic_write(0x11 + 2 * 2, 0);
	outb(0x43, 0x30); /* ch0, lobyte/hibyte, mode 0 */
	outb(0x40, 0x00);
	outb(0x40, 0x10); /* 4096 ticks */
	while (!hits[0x22])
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	outb(0x43, 0xE2); /* read-back: status of ch0 */
	u8 st = inb(0x40);
	printf("  one-shot fired: %u interrupt(s), status %02x (OUT high, mode 0)\n", hits[0x22], st);
	ioapic_write(0x10 + 2 * 2, 1 << 16);

	printf("[timers] PIT channel 2 gate/OUT through port 0x61\n");
	outb(0x61, inb(0x61) & ~3);
	outb(0x43, 0xB0); /* ch2, lobyte/hibyte, mode 0 */
	outb(0x42, 0x00);
	outb(0x42, 0x08); /* 2048 ticks */
	u8 before = inb(0x61) & 0x20;
	outb(0x61, (inb(0x61) & ~2) | 1); /* gate on, speaker off */
	u32 polls = 0;
	while (!(inb(0x61) & 0x20) && polls < 100000000)
		polls++;
	printf("  OUT before gate %s, after counting %s\n", before ? "high" : "low", inb(0x61) & 0x20 ? "high" : "low");
	outb(0x61, inb(0x61) & ~3);

	printf("[timers] RTC periodic interrupt through I/O APIC pin 8\n");
	ioapic_write(0x10 + 2 * 8, 0x28);
	ioapic_write(0x11 + 2 * 8, 0);
	outb(0x70, 0x0A);
	outb(0x71, (inb(0x71) & 0xF0) | 0x06); /* 1024 Hz */
	outb(0x70, 0x0C);
	inb(0x71);
	outb(0x70, 0x0B);
	u8 b = inb(0x71);
	outb(0x70, 0x0B);
	outb(0x71, b | 0x40); /* PIE */
	u32 flags = 0;
	while (hits[0x28] < 5) {
		__asm__ volatile("sti; hlt; cli" ::: "memory");
		outb(0x70, 0x0C);
		flags |= inb(0x71); /* acknowledge: the next periodic interrupt can come */
	}
	outb(0x70, 0x0B);
	outb(0x71, b);
	printf("  %u periodic interrupts, register C flags seen %02x\n", hits[0x28], flags);
	ioapic_write(0x10 + 2 * 8, 1 << 16);
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	printf("pcplat32: magic %s\n", magic == MB_MAGIC ? "ok" : "BAD");
	gdt_load();
	idt_init();
	for (int v = 32; v < 48; v++)
		set_trap_handler(v, irq_handler);
	idt_load();
	pic_init();

	pci_enumerate();
	pci_mechanism();
	pci_testdev();
	pc_testdev();
	irq_lines_pic();
	irq_lines_ioapic();
	timers();
	printf("pcplat32: done\n");
	exit_qemu(0);
}
