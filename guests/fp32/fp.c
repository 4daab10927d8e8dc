/*
 * fp32: x87 and SSE/SSE2 in 32-bit protected mode, compared with QEMU.
 *
 * fp.c is built for the x87 (gcc -m32 default) and holds kmain, the
 * exception handlers (#NM, #MF, #XM, #UD) and the x87 tests: arithmetic at
 * every precision and rounding control, conversions (FIST/FISTTP/FBSTP),
 * compares and FXAM, FPREM/FSCALE/FXTRACT/FRNDINT/FSQRT, the constants,
 * numeric kernels, unmasked exceptions reported as #MF at the next waiting
 * instruction, #NM with CR0.TS/EM, and FNSAVE/FRSTOR/FXSAVE/FXRSTOR.
 * Values are printed as bit patterns. Transcendentals (FSIN...) are printed
 * only to 9 decimal places: glassbox and QEMU both compute them in
 * binary64, not bit-exactly like the hardware.
 */
#include "fp.h"

volatile int nm_count, mf_count, xm_count, ud_count;
volatile u32 last_fsw, last_mxcsr;

typedef long double ld;

static void print_ld(const char *what, ld v)
{
	union {
		ld v;
		struct {
			u64 m;
			u16 se;
		} __attribute__((packed)) b;
	} u;
	u.v = v;
	printf("%s = %04x_%016llx\n", what, u.b.se, u.b.m);
}

static void print_d(const char *what, double v)
{
	union {
		double v;
		u64 b;
	} u;
	u.v = v;
	printf("%s = %016llx\n", what, u.b);
}

static inline u16 fnstsw(void)
{
	u16 v;
	__asm__ volatile("fnstsw %0" : "=am"(v));
	return v;
}
static inline u16 fnstcw(void)
{
	u16 v;
	__asm__ volatile("fnstcw %0" : "=m"(v));
	return v;
}
static inline void fldcw(u16 v) { __asm__ volatile("fldcw %0" : : "m"(v)); }

static void nm_handler(struct trapframe *f)
{
	nm_count++;
	__asm__ volatile("clts");
	write_cr0(read_cr0() & ~4u); /* clear EM too */
}

static void mf_handler(struct trapframe *f)
{
	mf_count++;
	last_fsw = fnstsw();
	__asm__ volatile("fnclex");
}

static void xm_handler(struct trapframe *f)
{
	u32 m;
	xm_count++;
	__asm__ volatile("stmxcsr %0" : "=m"(m));
	last_mxcsr = m;
	m = (m & ~0x3Fu) | 0x1F80; /* clear flags, mask everything */
	__asm__ volatile("ldmxcsr %0" : : "m"(m));
}

static void ud_handler(struct trapframe *f)
{
	ud_count++;
	write_cr4(read_cr4() | (1u << 9) | (1u << 10)); /* OSFXSR, OSXMMEXCPT */
}

static volatile ld vx[8];
static volatile double vd[8];

static void arith(void)
{
	static const char *pcn[4] = {"24", "??", "53", "64"};
	static const char *rcn[4] = {"near", "down", "up", "zero"};
	vx[0] = 1;
	vx[1] = 3;
	vx[2] = 10;
	vx[3] = -7;
	for (int pc = 0; pc < 4; pc++) {
		if (pc == 1)
			continue;
		for (int rc = 0; rc < 4; rc++) {
			fldcw((0x37F & ~0xF00) | pc << 8 | rc << 10);
			ld a = vx[0] / vx[1];
			ld b = vx[2] / vx[3];
			ld c = a * b + vx[1];
			ld d = __builtin_sqrtl(vx[2]);
			ld e = vx[3] - a;
			printf("[x87] pc %s rc %s:\n", pcn[pc], rcn[rc]);
			print_ld("  1/3", a);
			print_ld("  10/-7", b);
			print_ld("  1/3*10/-7+3", c);
			print_ld("  sqrt(10)", d);
			print_ld("  -7-1/3", e);
			printf("  fsw %04x\n", fnstsw() & 0x3F7F);
			__asm__ volatile("fnclex");
		}
	}
	fldcw(0x37F);
}

static void conversions(void)
{
	static const double vals[] = {2.5, -2.5, 3.5, -0.5, 1e10, -2147483648.0, 2147483648.0, 1e300, -1e-300, 0.0 / 0.0};
	for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		vd[0] = vals[i];
		for (int rc = 0; rc < 4; rc++) {
			s32 r32;
			s64 r64;
			s16 r16;
			fldcw(0x37F | rc << 10);
			__asm__ volatile("fldl %3\n\tfistl %0\n\tfistpll %1\n\tfldl %3\n\tfistps %2"
					 : "=m"(r32), "=m"(r64), "=m"(r16)
					 : "m"(vd[0]));
			/* C1 (0x200) is left out: real CPUs set it when FIST
			 * rounded up (glassbox does, checked against the host
			 * CPU by conformance/hostdiff); QEMU 7.2 leaves it 0. */
			printf("[fist] %016llx rc %d: %08x %016llx %04x fsw %04x\n", *(volatile u64 *)&vd[0], rc, r32,
			       r64, (u16)r16, fnstsw() & 0x3D7F);
			__asm__ volatile("fnclex");
		}
		s32 t;
		u8 bcd[10];
		__asm__ volatile("fldl %2\n\tfisttpl %0\n\tfldl %2\n\tfbstp %1" : "=m"(t), "=m"(bcd) : "m"(vd[0]));
		printf("[fisttp/fbstp] %08x ", t);
		for (int j = 9; j >= 0; j--)
			printf("%02x", bcd[j]);
		printf(" fsw %04x\n", fnstsw() & 0x3D7F);
		__asm__ volatile("fnclex");
	}
	fldcw(0x37F);
	/* FILD/FBLD */
	u8 bcd[10] = {0x21, 0x43, 0x65, 0x87, 0x09, 0x21, 0x43, 0x65, 0x87, 0x80};
	ld v;
	__asm__ volatile("fbld %1" : "=t"(v) : "m"(bcd));
	print_ld("[fbld] -876543210987654321", v);
	s64 big = -1234567890123456789LL;
	__asm__ volatile("fildll %1" : "=t"(v) : "m"(big));
	print_ld("[fild] -1234567890123456789", v);
	float f = 16777217.0f;
	vd[1] = 16777217.0;
	f = (float)vd[1];
	printf("[fst m32] %08x\n", *(u32 *)&f);
}

static void compares(void)
{
	static const double vals[] = {1.0, -1.0, 0.0, -0.0, 1.0 / 0.0, 0.0 / 0.0, 4.9e-324};
	int n = sizeof vals / sizeof vals[0];
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			u16 sw;
			u32 fl;
			vd[0] = vals[i];
			vd[1] = vals[j];
			__asm__ volatile("fldl %2\n\tfldl %3\n\tfucomp %%st(1)\n\tfnstsw %0\n\tfcomip %%st(0), %%st(0)\n\t"
					 "fldl %2\n\tfldl %3\n\tfucomip %%st(1), %%st(0)\n\tpushf\n\tpop %1\n\tfstp %%st(0)"
					 : "=&a"(sw), "=&r"(fl)
					 : "m"(vd[0]), "m"(vd[1]));
			/* Only ZF PF CF: FCOMI clears OF SF AF on real CPUs
			 * (glassbox too, checked by hostdiff); QEMU keeps them. */
			printf("[fcom] %d %d: C3C2C0 %x eflags %x\n", i, j, (sw >> 12 & 4) | (sw >> 9 & 2) | (sw >> 8 & 1),
			       fl & 0x45);
		}
		u16 sw;
		__asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %0\n\tfstp %%st(0)" : "=a"(sw) : "m"(vd[0]));
		printf("[fxam] %d: %04x\n", i, sw & 0x4700);
	}
	__asm__ volatile("fnclex");
}

static void misc(void)
{
	ld r;
	u16 sw;
	vx[0] = 1000000.5L;
	vx[1] = 3.25L;
	__asm__ volatile("1: fprem\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tjnz 1b" : "=t"(r), "=a"(sw) : "0"(vx[0]), "u"(vx[1]));
	print_ld("[fprem] 1000000.5 rem 3.25", r);
	printf("[fprem] q bits C0C3C1 %x\n", (sw >> 8 & 1) << 2 | (sw >> 14 & 1) << 1 | (sw >> 9 & 1));
	vx[0] = 1e4000L;
	vx[1] = 3.0L;
	int loops = 0;
	do {
		__asm__ volatile("fprem1\n\tfnstsw %%ax" : "=t"(r), "=a"(sw) : "0"(vx[0]), "u"(vx[1]));
		vx[0] = r;
		loops++;
	} while (sw & 0x400);
	print_ld("[fprem1] 1e4000 rem 3", r);
	printf("[fprem1] %d partial steps\n", loops);
	vx[0] = 1.5L;
	vx[1] = -3.75L;
	__asm__ volatile("fscale" : "=t"(r) : "0"(vx[0]), "u"(vx[1]));
	print_ld("[fscale] 1.5 * 2^-3", r);
	ld sig, ex;
	__asm__ volatile("fxtract" : "=t"(sig), "=u"(ex) : "0"(vx[1]));
	print_ld("[fxtract] sig(-3.75)", sig);
	print_ld("[fxtract] exp(-3.75)", ex);
	for (int rc = 0; rc < 4; rc++) {
		fldcw(0x37F | rc << 10);
		__asm__ volatile("frndint" : "=t"(r) : "0"(vx[1]));
		printf("[frndint] rc %d: ", rc);
		print_ld("-3.75", r);
		__asm__ volatile("fldpi" : "=t"(r));
		print_ld("  fldpi", r);
		__asm__ volatile("fldl2e" : "=t"(r));
		print_ld("  fldl2e", r);
		__asm__ volatile("fldln2" : "=t"(r));
		print_ld("  fldln2", r);
	}
	fldcw(0x37F);
	__asm__ volatile("fnclex");
	/* Transcendentals: to 9 decimal places. */
	static const double xs[] = {0.5, 1.0, 2.0, -0.75};
	for (int i = 0; i < 4; i++) {
		ld x = xs[i], s, c, t, one, a, e, l;
		__asm__ volatile("fsin" : "=t"(s) : "0"(x));
		__asm__ volatile("fcos" : "=t"(c) : "0"(x));
		__asm__ volatile("fptan" : "=t"(one), "=u"(t) : "0"(x));
		__asm__ volatile("fpatan" : "=t"(a) : "0"(x), "u"((ld)1.0) : "st(1)");
		__asm__ volatile("f2xm1" : "=t"(e) : "0"(x));
		__asm__ volatile("fyl2x" : "=t"(l) : "0"(x < 0 ? -x : x), "u"((ld)2.0) : "st(1)");
		printf("[trans] x=%d/4: sin %lld cos %lld tan %lld atan %lld 2^x-1 %lld 2log2 %lld\n", (int)(x * 4),
		       (s64)(s * 1e9L), (s64)(c * 1e9L), (s64)(t * 1e9L), (s64)(a * 1e9L), (s64)(e * 1e9L),
		       (s64)(l * 1e9L));
	}
}

static void kernels(void)
{
	/* Leibniz series for pi, 100000 terms, in long double and double. */
	ld s = 0;
	double sd = 0;
	for (int k = 0; k < 100000; k++) {
		ld t = 1.0L / (2 * k + 1);
		s += (k & 1) ? -t : t;
		sd += (k & 1) ? -(double)t : (double)t;
	}
	print_ld("[kernel] leibniz(1e5)*4", s * 4);
	print_d("[kernel] leibniz double", sd * 4);
	/* Mandelbrot escape counts over a 32x16 grid. */
	u32 crc = 0;
	int total = 0;
	for (int y = 0; y < 16; y++)
		for (int x = 0; x < 32; x++) {
			double cr = -2.0 + x * (2.5 / 32), ci = -1.0 + y * (2.0 / 16), zr = 0, zi = 0;
			int n = 0;
			while (n < 200 && zr * zr + zi * zi < 4.0) {
				double t = zr * zr - zi * zi + cr;
				zi = 2 * zr * zi + ci;
				zr = t;
				n++;
			}
			total += n;
			crc = crc32_update(crc, &n, 1);
		}
	printf("[kernel] mandelbrot iterations %d crc %08x\n", total, crc);
}

static void exceptions(void)
{
	/* Unmasked zero-divide: recorded at FDIV, #MF at the next waiting insn. */
	write_cr0(read_cr0() | (1u << 5)); /* NE */
	fldcw(0x37F & ~0x4);
	vx[0] = 1;
	vx[1] = 0;
	u16 sw;
	/* Only no-wait instructions until the FWAIT: real CPUs (and glassbox)
	 * also report #MF at the next waiting x87 instruction, QEMU only at
	 * FWAIT. */
	/* FDIV, not FDIVP: with an unmasked #Z real CPUs (and glassbox) leave
	 * TOP unchanged, QEMU pops anyway. */
	__asm__ volatile("fnclex\n\tfldt %1\n\tfldt %2\n\tfdivr %%st, %%st(1)\n\tfnstsw %0"
			 : "=m"(sw)
			 : "m"(vx[0]), "m"(vx[1]));
	printf("[#MF] after fdiv by 0 (no wait yet): count %d fsw %04x\n", mf_count, sw & 0xBF7F);
	__asm__ volatile("fwait");
	printf("[#MF] after fwait: count %d fsw-at-#MF %04x fsw now %04x\n", mf_count, last_fsw & 0xBF7F,
	       fnstsw() & 0xBF7F);
	__asm__ volatile("fstp %st(0)\n\tfstp %st(0)");
	fldcw(0x37F);
	/* Stack overflow/underflow with masked exceptions. */
	__asm__ volatile("fninit");
	for (int i = 0; i < 9; i++)
		__asm__ volatile("fld1");
	/* Only TOP: QEMU does not model stack faults (IE|SF, C1); real CPUs
	 * and glassbox do (checked by hostdiff's FLD and FST forms). */
	printf("[stack] 9 pushes: TOP %d\n", fnstsw() >> 11 & 7);
	__asm__ volatile("fninit\n\tfstp %st(0)");
	printf("[stack] pop empty: TOP %d\n", fnstsw() >> 11 & 7);
	__asm__ volatile("fninit");
	/* #NM: CR0.TS and CR0.EM. */
	write_cr0(read_cr0() | 8);
	vx[2] = 2;
	vx[3] = vx[2] * vx[2];
	printf("[#NM] TS: count %d, result ok %d\n", nm_count, vx[3] == 4);
	write_cr0(read_cr0() | 4);
	vx[3] = vx[2] + vx[2];
	printf("[#NM] EM: count %d, result ok %d\n", nm_count, vx[3] == 4);
}

static void save_restore(void)
{
	static u8 area[108] ALIGNED(16);
	static u8 fx[512] ALIGNED(16);
	ld a;
	__asm__ volatile("fninit\n\tfldpi\n\tfld1\n\tfldz");
	fldcw(0x27F);
	__asm__ volatile("fnsave %0" : "=m"(area));
	u16 sw_after = fnstsw(), cw_after = fnstcw();
	printf("[fnsave] cw %04x sw %04x tw %04x; after: cw %04x sw %04x\n", *(u16 *)&area[0], *(u16 *)&area[4],
	       *(u16 *)&area[8], cw_after, sw_after);
	printf("[fnsave] st0 %04x_%016llx st2 %04x_%016llx\n", *(u16 *)&area[36], *(u64 *)&area[28],
	       *(u16 *)&area[56], *(u64 *)&area[48]);
	__asm__ volatile("frstor %0" : : "m"(area));
	__asm__ volatile("fstpt %0" : "=m"(a));
	print_ld("[frstor] popped st0", a);
	printf("[frstor] cw %04x sw %04x\n", fnstcw(), fnstsw());
	__asm__ volatile("fxsave %0" : "=m"(fx));
	printf("[fxsave] fcw %04x fsw %04x ftw %02x mxcsr %08x mask %08x st0 %04x_%016llx\n", *(u16 *)&fx[0],
	       *(u16 *)&fx[2], fx[4], *(u32 *)&fx[24], *(u32 *)&fx[28], *(u16 *)&fx[40], *(u64 *)&fx[32]);
	__asm__ volatile("fninit");
	__asm__ volatile("fxrstor %0" : : "m"(fx));
	__asm__ volatile("fstpt %0" : "=m"(a));
	print_ld("[fxrstor] popped st0", a);
	printf("[fxrstor] cw %04x sw %04x\n", fnstcw(), fnstsw());
	u8 env[28];
	__asm__ volatile("fnstenv %0" : "=m"(env));
	printf("[fnstenv] cw %04x sw %04x tw %04x; cw after %04x\n", *(u16 *)&env[0], *(u16 *)&env[4],
	       *(u16 *)&env[8], fnstcw());
	__asm__ volatile("fninit");
}

/* gdb_fp_probe: gdbstub's real-gdb test breaks here to read a known
 * x87/SSE state: ST0 = 1, ST1 = pi, FCW 0x27F, MXCSR 0x3F80 (round down),
 * XMM1 = {1.5, -2.0}. Nothing is printed. */
void gdb_fp_probe(void) __attribute__((noinline));
void gdb_fp_probe(void) { __asm__ volatile("" : : : "memory"); }

static void probe(void)
{
	static const u64 x1[2] ALIGNED(16) = {0x3FF8000000000000ULL, 0xC000000000000000ULL};
	u32 m = 0x3F80;
	__asm__ volatile("fninit\n\tfldpi\n\tfld1");
	fldcw(0x27F);
	__asm__ volatile("movups %0, %%xmm1\n\tldmxcsr %1" : : "m"(x1), "m"(m));
	gdb_fp_probe();
	m = 0x1F80;
	__asm__ volatile("fninit\n\tldmxcsr %0" : : "m"(m));
}

void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	printf("fp32: x87 and SSE\n");
	gdt_load();
	idt_init();
	set_trap_handler(7, nm_handler);
	set_trap_handler(16, mf_handler);
	set_trap_handler(19, xm_handler);
	set_trap_handler(6, ud_handler);
	idt_load();
	u32 r[4];
	cpuid(1, 0, r);
	printf("cpuid: 1: edx=%08x (fpu=%d fxsr=%d sse=%d sse2=%d)\n", r[3], r[3] & 1, r[3] >> 24 & 1, r[3] >> 25 & 1,
	       r[3] >> 26 & 1);
	printf("[init] cr0 %08x fcw %04x fsw %04x\n", read_cr0() & 0x3F, fnstcw(), fnstsw());
	write_cr0((read_cr0() & ~4u) | 2u); /* EM=0 MP=1 */
	write_cr4(read_cr4() | (1u << 9) | (1u << 10)); /* OSFXSR, OSXMMEXCPT */
	__asm__ volatile("fninit");
	printf("[fninit] fcw %04x fsw %04x\n", fnstcw(), fnstsw());
	probe();
	arith();
	conversions();
	compares();
	misc();
	kernels();
	exceptions();
	save_restore();
	sse_tests();
	printf("[counts] #NM %d #MF %d #XM %d #UD %d\n", nm_count, mf_count, xm_count, ud_count);
	printf("fp32: done\n");
	exit_qemu(0);
}
