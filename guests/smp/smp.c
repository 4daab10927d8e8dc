/*
 * smp: starts every application processor and tests shared-memory atomics.
 *
 *  1. Finds the CPUs three ways, each printed on a line starting "found:":
 *     the MP floating pointer ("_MP_" in the EBDA, 0x9FC00 or 0xF0000-0xFFFFF)
 *     and its processor entries; the ACPI RSDP ("RSD PTR " in the EBDA or
 *     0xE0000-0xFFFFF), RSDT/XSDT and the MADT's enabled local APIC entries;
 *     and the QEMU fw_cfg interface (port 0x510 key 0x05, the CPU count).
 *  2. Enables the BSP's local APIC (xAPIC MMIO at the base from MSR 0x1B),
 *     copies a real-mode trampoline to 0x8000 and sends INIT, STARTUP,
 *     STARTUP to each AP the MADT (or MP table) lists. The AP goes from real
 *     mode to protected mode, picks its stack with LOCK XADD and enters C.
 *  3. Once all APs have checked in, every CPU (the BSP too) does 10000 rounds
 *     of LOCK XADD on a shared counter and of a non-atomic increment under a
 *     LOCK CMPXCHG spinlock. The BSP waits for the APs with bounded loops (an
 *     iteration count, no timer), then prints the totals, checks that the old
 *     values XADD returned were exactly 0..total-1 (their sum), and that the
 *     APIC IDs the CPUs read from their own APICs are distinct and are the
 *     ones the tables list.
 *
 * The output depends only on the number of CPUs, never on their order.
 */
#include "lib.h"

#define ITERATIONS 10000
#define MAX_CPUS   32 /* the BSP + MAX_APS (trampoline.S) */
#define MAX_APS    31
#define TRAMP_BASE 0x8000

/* Bounds for the busy-wait loops (iterations of PAUSE). Under QEMU TCG one
 * iteration takes well under a microsecond; these bounds only matter when an
 * AP never shows up. */
#define DELAY_INIT     200000
#define DELAY_SIPI     20000
#define TIMEOUT_ARRIVE 20000000
#define TIMEOUT_DONE   200000000

extern const u8 tramp_start[], tramp_end[];
extern volatile u32 ap_next_index;
void ap_main(u32 index);

static inline void cpu_pause(void) { __asm__ volatile("pause" ::: "memory"); }

static inline u32 atomic_xadd(volatile u32 *p, u32 v)
{
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
	return v;
}

static inline void spin_lock(volatile u32 *l)
{
	for (;;) {
		u32 old = 0;
		u8 ok;
		__asm__ volatile("lock cmpxchgl %3, %1\n\tsete %0"
				 : "=q"(ok), "+m"(*l), "+a"(old)
				 : "r"(1u)
				 : "memory", "cc");
		if (ok)
			return;
		while (*l)
			cpu_pause();
	}
}

static inline void spin_unlock(volatile u32 *l)
{
	__asm__ volatile("" ::: "memory");
	*l = 0;
}

/* ------------------------------------------------------------------ */
/* Shared state                                                         */
/* ------------------------------------------------------------------ */

static volatile u32 xadd_counter;
static volatile u32 locked_counter;
static volatile u32 counter_lock;
static volatile u32 go;
/* -append deadlock: CPU 0 and CPU 1 take two locks in opposite orders. */
static volatile u32 deadlock_mode, lock_a, lock_b, b_taken;
static volatile u32 ap_arrived, ap_done;
static volatile u64 xadd_sums[MAX_CPUS]; /* per CPU: sum of the old values XADD returned */
static volatile u32 cpu_apic_id[MAX_CPUS];

/* ------------------------------------------------------------------ */
/* Local APIC                                                           */
/* ------------------------------------------------------------------ */

#define APIC_ID    0x20
#define APIC_SVR   0xF0
#define APIC_ICRLO 0x300
#define APIC_ICRHI 0x310

static volatile u32 *lapic;

static u32 lapic_read(u32 reg) { return lapic[reg / 4]; }
static void lapic_write(u32 reg, u32 v) { lapic[reg / 4] = v; }

static void lapic_enable(void)
{
	lapic_write(APIC_SVR, lapic_read(APIC_SVR) | 0x100 | 0xFF); /* APIC on, spurious vector 0xFF */
}

static void delay(u32 n)
{
	for (volatile u32 i = 0; i < n; i++)
		cpu_pause();
}

static int icr_wait_idle(void)
{
	for (u32 i = 0; i < 1000000; i++)
		if (!(lapic_read(APIC_ICRLO) & (1u << 12))) /* delivery status */
			return 1;
	return 0;
}

static void send_ipi(u32 apic_id, u32 icr_lo)
{
	lapic_write(APIC_ICRHI, apic_id << 24);
	lapic_write(APIC_ICRLO, icr_lo);
	if (!icr_wait_idle())
		printf("ipi to %u (icr %x): delivery status stuck\n", apic_id, icr_lo);
}

/* ------------------------------------------------------------------ */
/* CPU discovery                                                        */
/* ------------------------------------------------------------------ */

static u32 table_ids[MAX_CPUS + 8];
static u32 n_table_ids;

static u8 sum8(const void *p, u32 n)
{
	const u8 *b = p;
	u8 s = 0;
	while (n--)
		s += *b++;
	return s;
}

static u32 rd32(const void *p) { return *(const u32 *)p; }
static u16 rd16(const void *p) { return *(const u16 *)p; }

/* Search [start, start+len) on 16-byte boundaries for a signature whose
 * structure (of checklen bytes, or len16*16 if len16_off >= 0) sums to 0. */
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

static u32 ebda_base(void)
{
	u32 a = 0x40E; /* BDA word: EBDA segment (hidden from gcc's null-page bounds check) */
	__asm__("" : "+r"(a));
	u32 seg = *(const volatile u16 *)a;
	return seg ? seg << 4 : 0;
}

/* MP specification 1.4 floating pointer and configuration table. */
static int find_mp(u32 *ids, u32 *nids)
{
	const u8 *fp = NULL;
	u32 ebda = ebda_base();
	if (ebda)
		fp = scan(ebda, 1024, "_MP_", 4, 16, 8);
	if (!fp)
		fp = scan(0x9FC00, 1024, "_MP_", 4, 16, 8);
	if (!fp)
		fp = scan(0xF0000, 0x10000, "_MP_", 4, 16, 8);
	if (!fp)
		return -1;
	u32 cfg = rd32(fp + 4);
	if (cfg == 0 || fp[11] != 0)
		return -2; /* a default configuration: no table */
	const u8 *t = (const u8 *)cfg;
	if (memcmp(t, "PCMP", 4) != 0 || sum8(t, rd16(t + 4)) != 0)
		return -3;
	u32 count = rd16(t + 34), n = 0;
	const u8 *e = t + 44;
	for (u32 i = 0; i < count; i++) {
		if (e[0] == 0) { /* processor: type, APIC ID, version, flags (bit 0: enabled) */
			if (e[3] & 1) {
				if (n < MAX_CPUS + 8)
					ids[n] = e[1];
				n++;
			}
			e += 20;
		} else {
			e += 8;
		}
	}
	*nids = n;
	return 0;
}

static const u8 *acpi_table(const u8 *rsdp, const char *sig)
{
	u32 rsdt = rd32(rsdp + 16);
	if (rsdp[15] >= 2 && rsdt == 0) {
		u32 xsdt = rd32(rsdp + 24); /* below 4 GiB in practice */
		const u8 *x = (const u8 *)xsdt;
		if (!xsdt || memcmp(x, "XSDT", 4) || sum8(x, rd32(x + 4)))
			return NULL;
		for (u32 off = 36; off + 8 <= rd32(x + 4); off += 8) {
			const u8 *t = (const u8 *)rd32(x + off);
			if (!memcmp(t, sig, 4) && sum8(t, rd32(t + 4)) == 0)
				return t;
		}
		return NULL;
	}
	const u8 *r = (const u8 *)rsdt;
	if (!rsdt || memcmp(r, "RSDT", 4) || sum8(r, rd32(r + 4)))
		return NULL;
	for (u32 off = 36; off + 4 <= rd32(r + 4); off += 4) {
		const u8 *t = (const u8 *)rd32(r + off);
		if (!memcmp(t, sig, 4) && sum8(t, rd32(t + 4)) == 0)
			return t;
	}
	return NULL;
}

static int find_madt(u32 *ids, u32 *nids)
{
	const u8 *rsdp = NULL;
	u32 ebda = ebda_base();
	if (ebda)
		rsdp = scan(ebda, 1024, "RSD PTR ", 8, 20, -1);
	if (!rsdp)
		rsdp = scan(0xE0000, 0x20000, "RSD PTR ", 8, 20, -1);
	if (!rsdp)
		return -1;
	const u8 *madt = acpi_table(rsdp, "APIC");
	if (!madt)
		return -2;
	u32 len = rd32(madt + 4), n = 0;
	for (u32 off = 44; off + 2 <= len && madt[off + 1] >= 2; off += madt[off + 1]) {
		const u8 *e = madt + off;
		u32 id, flags;
		if (e[0] == 0) { /* processor local APIC: uid, APIC ID, flags */
			id = e[3];
			flags = rd32(e + 4);
		} else if (e[0] == 9) { /* processor local x2APIC */
			id = rd32(e + 4);
			flags = rd32(e + 8);
		} else {
			continue;
		}
		if (flags & 1) {
			if (n < MAX_CPUS + 8)
				ids[n] = id;
			n++;
		}
	}
	*nids = n;
	return 0;
}

/* QEMU fw_cfg (I/O interface): selector 0x510, data 0x511. */
static int fw_cfg_cpus(u32 *ncpus)
{
	outw(0x510, 0x0000); /* FW_CFG_SIGNATURE */
	char sig[4];
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(0x511);
	if (memcmp(sig, "QEMU", 4) != 0)
		return -1;
	outw(0x510, 0x0005); /* FW_CFG_NB_CPUS, 16-bit little endian */
	u32 lo = inb(0x511), hi = inb(0x511);
	*ncpus = lo | hi << 8;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The test                                                             */
/* ------------------------------------------------------------------ */

static void work(u32 slot)
{
	u64 sum = 0;
	for (u32 i = 0; i < ITERATIONS; i++) {
		sum += atomic_xadd(&xadd_counter, 1);
		spin_lock(&counter_lock);
		locked_counter = locked_counter + 1; /* plain load, add, store */
		spin_unlock(&counter_lock);
	}
	xadd_sums[slot] = sum;
}

static void load_kernel_tables(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) gdtr = {sizeof(gdt) - 1, (u32)gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp $0x08, $1f\n"
			 "1:\n\t"
			 "movw $0x10, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 :
			 : "m"(gdtr)
			 : "eax", "memory");
	idt_load();
}

void ap_main(u32 index)
{
	load_kernel_tables();
	lapic_enable();
	cpu_apic_id[index + 1] = lapic_read(APIC_ID) >> 24;
	atomic_xadd(&ap_arrived, 1);
	while (!go)
		cpu_pause();
	if (deadlock_mode) {
		if (index == 0) {
			spin_lock(&lock_b);
			b_taken = 1;
			spin_lock(&lock_a); /* held by CPU 0, which waits for lock_b */
		}
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	work(index + 1);
	atomic_xadd(&ap_done, 1);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* has_word: the command line contains w as a blank-separated word. */
static int has_word(const char *s, const char *w)
{
	size_t n = 0;
	while (w[n])
		n++;
	for (const char *p = s; *p; p++) {
		if ((p == s || p[-1] == ' ') && memcmp(p, w, n) == 0 && (p[n] == 0 || p[n] == ' '))
			return 1;
	}
	return 0;
}

static const char *yn(int b) { return b ? "yes" : "no"; }

void kmain(u32 magic, struct mb_info *info);
void kmain(u32 magic, struct mb_info *info)
{
	serial_init();
	gdt_load();
	idt_init();
	outb(0x21, 0xFF); /* mask the 8259s: we never enable interrupts anyway */
	outb(0xA1, 0xFF);
	printf("smp: multiboot magic ok: %s\n", yn(magic == MB_MAGIC));

	u32 r[4], v[4];
	cpuid(0, 0, r);
	v[0] = r[1];
	v[1] = r[3];
	v[2] = r[2];
	v[3] = 0;
	cpuid(1, 0, r);
	printf("cpuid: vendor %s, 1:edx=%08x (apic=%u), initial APIC ID %u\n", (const char *)v, r[3], (r[3] >> 9) & 1,
	       r[1] >> 24);
	if (!(r[3] & (1u << 9))) {
		printf("smp: FAIL (no local APIC)\n");
		exit_qemu(1);
	}

	/* Discovery. */
	u32 mp_ids[MAX_CPUS + 8], n_mp = 0, madt_ids[MAX_CPUS + 8], n_madt = 0, n_fw = 0;
	int mp = find_mp(mp_ids, &n_mp), madt = find_madt(madt_ids, &n_madt), fw = fw_cfg_cpus(&n_fw);
	if (mp == 0)
		printf("found: mp table: %u cpus\n", n_mp);
	else
		printf("found: mp table: none (%d)\n", mp);
	if (madt == 0)
		printf("found: acpi madt: %u cpus\n", n_madt);
	else
		printf("found: acpi madt: none (%d)\n", madt);
	if (fw == 0)
		printf("found: fw_cfg: %u cpus\n", n_fw);
	else
		printf("found: fw_cfg: none\n");

	u32 want = 0;
	const char *source = "none";
	if (madt == 0 && n_madt > 0) {
		want = n_madt;
		source = "acpi madt";
		memcpy(table_ids, madt_ids, sizeof(u32) * (n_madt < MAX_CPUS + 8 ? n_madt : MAX_CPUS + 8));
	} else if (mp == 0 && n_mp > 0) {
		want = n_mp;
		source = "mp table";
		memcpy(table_ids, mp_ids, sizeof(u32) * (n_mp < MAX_CPUS + 8 ? n_mp : MAX_CPUS + 8));
	} else if (fw == 0 && n_fw > 0) {
		want = n_fw;
		source = "fw_cfg";
	}
	n_table_ids = source[0] == 'a' || source[0] == 'm' ? want : 0;
	if (want > MAX_CPUS) {
		printf("smp: %u cpus, only %u supported\n", want, MAX_CPUS);
		want = MAX_CPUS;
		if (n_table_ids > MAX_CPUS)
			n_table_ids = MAX_CPUS;
	}

	/* The BSP's local APIC. */
	u64 apic_base = rdmsr(0x1B);
	if (!(apic_base & (1u << 11)))
		wrmsr(0x1B, apic_base | (1u << 11));
	lapic = (volatile u32 *)(u32)(apic_base & 0xFFFFF000u);
	lapic_enable();
	u32 bsp_id = lapic_read(APIC_ID) >> 24;
	cpu_apic_id[0] = bsp_id;
	printf("lapic: base %08x, BSP flag %u, BSP APIC ID %u, software enabled %u\n", (u32)apic_base & 0xFFFFF000u,
	       (u32)(apic_base >> 8) & 1, bsp_id, (lapic_read(APIC_SVR) >> 8) & 1);

	/* Start the APs: INIT, STARTUP, STARTUP, each AP in turn. */
	memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
	u32 sipi = 0x4600 | (TRAMP_BASE >> 12); /* STARTUP, level assert, vector 0x08 */
	if (n_table_ids) {
		printf("found: using the %s: INIT-SIPI-SIPI to each AP it lists\n", source);
		for (u32 i = 0; i < n_table_ids; i++) {
			if (table_ids[i] == bsp_id)
				continue;
			send_ipi(table_ids[i], 0x4500); /* INIT, level assert */
			delay(DELAY_INIT);
			send_ipi(table_ids[i], sipi);
			delay(DELAY_SIPI);
			send_ipi(table_ids[i], sipi);
			delay(DELAY_SIPI);
		}
	} else {
		printf("found: using %s%s: INIT-SIPI-SIPI broadcast to all but self\n", source,
		       want ? " (count only)" : "");
		send_ipi(0, 0xC4500);
		delay(DELAY_INIT);
		send_ipi(0, 0xC0000 | sipi);
		delay(DELAY_SIPI);
		send_ipi(0, 0xC0000 | sipi);
		delay(DELAY_SIPI);
	}

	/* Wait for the APs to check in (bounded: want may be unknown or wrong). */
	u32 expect_aps = want ? want - 1 : MAX_APS;
	for (u32 t = 0; t < TIMEOUT_ARRIVE && ap_arrived < expect_aps; t++)
		cpu_pause();
	u32 arrived = ap_arrived;
	u32 cpus = 1 + arrived;
	printf("APs started: %u\n", arrived);

	/* Everybody counts. */
	if (info->flags & 4 && has_word((const char *)info->cmdline, "deadlock") && arrived > 0) {
		printf("smp: deadlock demo: CPU 0 takes lock_a then lock_b, CPU 1 takes lock_b then lock_a\n");
		deadlock_mode = 1;
		spin_lock(&lock_a);
		go = 1;
		while (!b_taken)
			cpu_pause();
		spin_lock(&lock_b); /* held by CPU 1, which waits for lock_a */
		printf("smp: not reached\n");
		exit_qemu(1);
	}
	go = 1;
	work(0);
	for (u32 t = 0; t < TIMEOUT_DONE && ap_done < arrived; t++)
		cpu_pause();
	u32 done = ap_done;
	if (done != arrived)
		printf("only %u of %u APs finished\n", done, arrived);

	/* Checks. */
	u32 xt = xadd_counter, lt = locked_counter;
	u64 sum = 0;
	for (u32 i = 0; i < cpus; i++)
		sum += xadd_sums[i];
	u64 n = xt;
	int sum_ok = done == arrived && sum == n * (n - 1) / 2;
	int ids_distinct = 1, ids_listed = 1;
	for (u32 i = 0; i < cpus; i++) {
		for (u32 j = 0; j < i; j++)
			if (cpu_apic_id[i] == cpu_apic_id[j])
				ids_distinct = 0;
		if (n_table_ids) {
			int listed = 0;
			for (u32 k = 0; k < n_table_ids; k++)
				if (table_ids[k] == cpu_apic_id[i])
					listed = 1;
			if (!listed)
				ids_listed = 0;
		}
	}
	printf("APIC IDs read by the CPUs are distinct: %s\n", yn(ids_distinct));
	if (n_table_ids)
		printf("found: APIC IDs read by the CPUs are listed in the %s: %s\n", source, yn(ids_listed));
	printf("old values returned by XADD are 0..xadd-1: %s\n", yn(sum_ok));
	printf("cpus=%u xadd=%u locked=%u\n", cpus, xt, lt);

	int ok = xt == cpus * ITERATIONS && lt == cpus * ITERATIONS && sum_ok && ids_distinct && ids_listed &&
		 (want == 0 || cpus == want);
	if (!ok) {
		printf("smp: FAIL (expected %u cpus from %s)\n", want, source);
		exit_qemu(1);
	}
	printf("smp: PASS\n");
	exit_qemu(0);
}
