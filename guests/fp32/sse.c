/*
 * fp32 SSE/SSE2 part (built with -msse2 -mfpmath=sse): scalar and packed
 * arithmetic under every MXCSR rounding mode, FTZ and DAZ, conversions with
 * out-of-range values, integer SIMD, SSE with CR4.OSFXSR clear (#UD) and
 * with CR0.TS set (#NM).
 */
#include "fp.h"

typedef float v4sf __attribute__((vector_size(16)));
typedef double v2df __attribute__((vector_size(16)));
typedef int v4si __attribute__((vector_size(16)));
typedef short v8hi __attribute__((vector_size(16)));
typedef char v16qi __attribute__((vector_size(16)));

static inline u32 stmxcsr(void)
{
	u32 v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	/* DE (bit 1) is left out: QEMU 7.2 does not report denormal
	 * operands for SSE; glassbox does, as the host CPU does (hostdiff). */
	return v & ~2u;
}
static inline void ldmxcsr(u32 v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }

static volatile double d[8];
static volatile float f[8];

static void pd(const char *s, double v)
{
	union {
		double v;
		u64 b;
	} u = {v};
	printf("%s %016llx", s, u.b);
}
static void pf(const char *s, float v)
{
	union {
		float v;
		u32 b;
	} u = {v};
	printf("%s %08x", s, u.b);
}

static void scalar(void)
{
	static const char *rcn[4] = {"near", "down", "up", "zero"};
	d[0] = 1;
	d[1] = 3;
	d[2] = 2.2250738585072014e-308; /* min normal */
	d[3] = 0.75;
	f[0] = 1;
	f[1] = 3;
	f[2] = 1.17549435e-38f;
	for (int mode = 0; mode < 16; mode++) {
		int rc = mode & 3, ftz = mode >> 2 & 1, daz = mode >> 3 & 1;
		ldmxcsr(0x1F80 | rc << 13 | ftz << 15 | daz << 6);
		printf("[sse] rc %s ftz %d daz %d:", rcn[rc], ftz, daz);
		pd(" 1/3", d[0] / d[1]);
		pd(" tiny*.75", d[2] * d[3]);
		pd(" tiny/3+0", d[2] / d[1] * d[1]);
		pd(" sqrt3", __builtin_sqrt(d[1]));
		pf(" f1/3", f[0] / f[1]);
		pf(" ftiny*.75", f[2] * 0.75f);
		pf(" (float)1/3", (float)(d[0] / d[1]));
		printf(" mxcsr %08x\n", stmxcsr());
	}
	ldmxcsr(0x1F80);
}

static void conversions(void)
{
	static const double vals[] = {2.5, -2.5, 1e10, -2147483648.0, 2147483648.0, 9.3e18, -9.3e18, 0.0 / 0.0, -0.0};
	for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		d[0] = vals[i];
		s32 t, n;
		s64 t64;
		ldmxcsr(0x1F80);
		__asm__ volatile("cvttsd2si %1, %0" : "=r"(t) : "m"(d[0]));
		__asm__ volatile("cvtsd2si %1, %0" : "=r"(n) : "m"(d[0]));
		t64 = (s64)d[0]; /* x87 on 32-bit: FISTTP or FNSTCW/FISTP sequence */
		printf("[cvt] %016llx: cvttsd2si %08x cvtsd2si %08x (s64) %016llx mxcsr %08x\n", *(volatile u64 *)&d[0],
		       t, n, t64, stmxcsr());
	}
	ldmxcsr(0x1F80);
	v4si iv = {1, -2, 0x7FFFFFFF, (int)0x80000000};
	v4sf fv = __builtin_ia32_cvtdq2ps(iv);
	v2df dv = __builtin_ia32_cvtdq2pd(iv);
	printf("[cvt] cvtdq2ps %08x %08x %08x %08x cvtdq2pd %016llx %016llx mxcsr %08x\n", ((u32 *)&fv)[0],
	       ((u32 *)&fv)[1], ((u32 *)&fv)[2], ((u32 *)&fv)[3], ((u64 *)&dv)[0], ((u64 *)&dv)[1], stmxcsr());
}

static void packed(void)
{
	v2df a = {1.5, -2.25}, b = {0.1, 3.0};
	v4sf x = {1.0f, 2.0f, 3.0f, 4.0f}, y = {0.5f, -1.0f, 1e-45f, 3.0f};
	v2df s = a + b, p = a * b, q = a / b;
	v4sf fs = x / y, mn = __builtin_ia32_minps(x, y), mx = __builtin_ia32_maxps(x, y);
	v4sf cm = (v4sf)__builtin_ia32_cmpltps(x, y);
	printf("[packed] addpd %016llx %016llx mulpd %016llx %016llx divpd %016llx %016llx\n", ((u64 *)&s)[0],
	       ((u64 *)&s)[1], ((u64 *)&p)[0], ((u64 *)&p)[1], ((u64 *)&q)[0], ((u64 *)&q)[1]);
	printf("[packed] divps %08x %08x %08x %08x minps %08x %08x maxps %08x %08x cmpltps %08x %08x\n",
	       ((u32 *)&fs)[0], ((u32 *)&fs)[1], ((u32 *)&fs)[2], ((u32 *)&fs)[3], ((u32 *)&mn)[1], ((u32 *)&mn)[2],
	       ((u32 *)&mx)[1], ((u32 *)&mx)[2], ((u32 *)&cm)[0], ((u32 *)&cm)[1]);
	printf("[packed] mxcsr %08x\n", stmxcsr());
	v8hi h1 = {1, -1, 32767, -32768, 100, 200, 300, 400}, h2 = {1, 1, 1, -1, 2, 3, 4, 5};
	v8hi sat = __builtin_ia32_paddsw128(h1, h2), mul = h1 * h2;
	v4si mad = __builtin_ia32_pmaddwd128(h1, h2);
	v16qi c1 = {0, 1, 2, -6, -5, -4, -3, -2, -1, 9, 10, 11, 12, 13, 14, 15};
	v16qi c2 = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
	v16qi us = __builtin_ia32_paddusb128(c1, c2);
	int mask = __builtin_ia32_pmovmskb128(__builtin_ia32_pcmpgtb128(c1, c2));
	printf("[simd] paddsw %04x %04x %04x %04x pmullw %04x %04x pmaddwd %08x %08x paddusb %02x %02x pmovmskb(pcmpgtb) %04x\n",
	       (u16)sat[0], (u16)sat[1], (u16)sat[2], (u16)sat[3], (u16)mul[2], (u16)mul[3], mad[0], mad[1], (u8)us[3], (u8)us[8],
	       mask);
	v4si sh = __builtin_ia32_psradi128((v4si){-64, 64, -1, 1 << 30}, 3);
	v4si shuf = __builtin_ia32_pshufd((v4si){10, 20, 30, 40}, 0x1B);
	printf("[simd] psrad %08x %08x %08x %08x pshufd %d %d %d %d\n", sh[0], sh[1], sh[2], sh[3], shuf[0], shuf[1],
	       shuf[2], shuf[3]);
	/* A dot product and a reduction in SSE double. */
	double acc = 0;
	for (int i = 1; i <= 1000; i++)
		acc += 1.0 / ((double)i * i);
	pd("[kernel] sum 1/i^2 (1000)", acc);
	printf("\n");
}

static void exceptions(void)
{
	/* Unmasked SIMD exceptions (#XM, or #UD without CR4.OSXMMEXCPT) are
	 * not here: QEMU 7.2 only sets the MXCSR flags. conformance/hostdiff
	 * checks them against the host CPU instead. */
	/* SSE with CR4.OSFXSR clear: #UD, the handler sets it. */
	ldmxcsr(0x1F80);
	d[0] = 1;
	d[1] = 3;
	write_cr4(read_cr4() & ~(3u << 9));
	d[6] = d[0] + d[1];
	printf("[#UD] OSFXSR=0: #UD %d, result ok %d\n", ud_count, d[6] == 4.0);
	/* #NM with TS set. */
	int nm = nm_count;
	write_cr0(read_cr0() | 8);
	d[7] = d[1] * d[1];
	printf("[#NM] sse with TS: #NM +%d result ok %d\n", nm_count - nm, d[7] == 9.0);
	/* Misaligned MOVAPS: #GP(0) is not handled; just check MOVUPS works. */
	static u8 buf[32] ALIGNED(16);
	for (int i = 0; i < 32; i++)
		buf[i] = i;
	v4sf u;
	__asm__ volatile("movups %1, %0" : "=x"(u) : "m"(buf[3]));
	printf("[movups] %08x %08x\n", ((u32 *)&u)[0], ((u32 *)&u)[3]);
}

void sse_tests(void)
{
	printf("[sse] mxcsr at entry %08x\n", stmxcsr());
	scalar();
	conversions();
	packed();
	exceptions();
}
