/*
 * fp64 numeric kernels (see kernels.h). Built with gcc -O2 for the default
 * x86-64 target: float and double use SSE2 (scalar, and packed where -O2
 * vectorizes: the matrix multiplies, AXPY, the 4-way dot products, min/max
 * over arrays), long double uses the x87. Nothing here depends on the
 * environment except MXCSR and the x87 control word, which the SysV ABI
 * fixes at 0x1F80 and 0x037F on entry and which the kernels restore.
 *
 * Every value is printed as its IEEE bit pattern and as a decimal rendering
 * made by an exact formatter (integer arithmetic only, correctly rounded
 * half-to-even to 17/9/21 significant digits: enough to identify a double/
 * float/long double), so comparing lines compares results bit for bit.
 * Exception flags are printed as MXCSR & 0x3D and FSW & 0x3D: IE ZE OE UE PE.
 * The denormal flag (DE, bit 1) is left out because QEMU 7.2 does not set it
 * for SSE; the host CPU and glassbox do (conformance/hostdiff checks it).
 *
 * Inputs come from volatile variables or from an LCG filled at run time, so
 * gcc cannot fold the arithmetic at compile time. Values that C leaves
 * undefined (out-of-range float-to-integer conversions) are deliberate: the
 * generated instructions (CVTTSD2SI, FISTP, ...) define them on x86, and
 * the host build runs the same instructions.
 */
#include "kernels.h"

typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;
typedef unsigned short u16;
typedef short s16;

/* ---- Output ---------------------------------------------------------- */

static void out(const char *s)
{
	while (*s)
		fp_putc(*s++);
}

static void out_hex(u64 v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		fp_putc("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

static void out_u(u64 v)
{
	char b[24];
	int n = 0;
	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		fp_putc(b[--n]);
}

static void out_s(s64 v)
{
	if (v < 0) {
		fp_putc('-');
		out_u(-(u64)v);
	} else {
		out_u((u64)v);
	}
}

/*
 * Exact decimal rendering of (-1)^neg * m * 2^e with prec significant
 * digits. The value is an integer N times 10^dexp: N = m * 2^e for e >= 0,
 * and N = m * 5^-e with dexp = e for e < 0 (m / 2^k = m * 5^k / 10^k).
 * N is kept in base 10^9 limbs, its decimal digits are all produced, and
 * the rounding to prec digits is half-to-even on the exact digit string.
 * Long double extremes need about 11,500 digits; NLIMB covers them.
 */
#define LIMB_BASE 1000000000u
#define NLIMB 1400
static u32 limb[NLIMB];
static int nlimb;
static char digs[NLIMB * 9 + 1];

static void big_mul(u32 k)
{
	u64 carry = 0;
	for (int i = 0; i < nlimb; i++) {
		u64 t = (u64)limb[i] * k + carry;
		limb[i] = (u32)(t % LIMB_BASE);
		carry = t / LIMB_BASE;
	}
	while (carry) {
		limb[nlimb++] = (u32)(carry % LIMB_BASE);
		carry /= LIMB_BASE;
	}
}

static void out_dec(int neg, u64 m, int e, int prec)
{
	char d[32];
	int E;
	if (neg)
		fp_putc('-');
	if (m == 0) {
		for (int i = 0; i < prec; i++)
			d[i] = '0';
		E = 0;
	} else {
		while (!(m & 1)) {
			m >>= 1;
			e++;
		}
		nlimb = 0;
		do {
			limb[nlimb++] = (u32)(m % LIMB_BASE);
			m /= LIMB_BASE;
		} while (m);
		int dexp = 0;
		if (e > 0) {
			for (; e >= 31; e -= 31)
				big_mul(1u << 31);
			if (e)
				big_mul(1u << e);
		} else if (e < 0) {
			dexp = e;
			int k = -e;
			for (; k >= 13; k -= 13)
				big_mul(1220703125u); /* 5^13 */
			u32 p = 1;
			while (k--)
				p *= 5;
			big_mul(p);
		}
		/* Digits, most significant first. */
		int L = 0;
		char tmp[10];
		int t = 0;
		u32 top = limb[nlimb - 1];
		do {
			tmp[t++] = (char)('0' + top % 10);
			top /= 10;
		} while (top);
		while (t)
			digs[L++] = tmp[--t];
		for (int i = nlimb - 2; i >= 0; i--) {
			u32 v = limb[i];
			for (int j = 8; j >= 0; j--) {
				digs[L + j] = (char)('0' + v % 10);
				v /= 10;
			}
			L += 9;
		}
		E = L - 1 + dexp;
		for (int i = 0; i < prec; i++)
			d[i] = i < L ? digs[i] : '0';
		if (L > prec) {
			int up;
			if (digs[prec] != '5') {
				up = digs[prec] > '5';
			} else {
				up = (d[prec - 1] - '0') & 1; /* a tie: to even */
				for (int i = prec + 1; i < L; i++)
					if (digs[i] != '0')
						up = 1;
			}
			if (up) {
				int i = prec - 1;
				while (i >= 0 && d[i] == '9')
					d[i--] = '0';
				if (i < 0) {
					d[0] = '1';
					E++;
				} else {
					d[i]++;
				}
			}
		}
	}
	fp_putc(d[0]);
	fp_putc('.');
	for (int i = 1; i < prec; i++)
		fp_putc(d[i]);
	fp_putc('e');
	fp_putc(E < 0 ? '-' : '+');
	if (E < 0)
		E = -E;
	if (E < 10)
		fp_putc('0');
	out_u((u64)E);
}

static u64 dbits(double x)
{
	union {
		double d;
		u64 u;
	} v = {x};
	return v.u;
}

static double dfrom(u64 b)
{
	union {
		u64 u;
		double d;
	} v = {b};
	return v.d;
}

static u32 fbits(float x)
{
	union {
		float f;
		u32 u;
	} v = {x};
	return v.u;
}

static float ffrom(u32 b)
{
	union {
		u32 u;
		float f;
	} v = {b};
	return v.f;
}

union ldbits {
	long double x;
	struct {
		u64 m;
		u16 se;
	} b;
};

static long double ldfrom(u16 se, u64 m)
{
	union ldbits v;
	v.x = 0;
	v.b.m = m;
	v.b.se = se;
	return v.x;
}

/* Decimal rendering without the bit pattern (also used by the host self check). */
void fp_print_double(double x)
{
	u64 b = dbits(x);
	int ex = (int)(b >> 52 & 0x7FF), neg = (int)(b >> 63);
	u64 fr = b & ((1ull << 52) - 1);
	if (ex == 0x7FF)
		out(fr ? (neg ? "-nan" : "nan") : (neg ? "-inf" : "inf"));
	else if (ex == 0)
		out_dec(neg, fr, -1074, 17);
	else
		out_dec(neg, fr | 1ull << 52, ex - 1075, 17);
}

void fp_print_float(float x)
{
	u32 b = fbits(x);
	int ex = (int)(b >> 23 & 0xFF), neg = (int)(b >> 31);
	u32 fr = b & 0x7FFFFF;
	if (ex == 0xFF)
		out(fr ? (neg ? "-nan" : "nan") : (neg ? "-inf" : "inf"));
	else if (ex == 0)
		out_dec(neg, fr, -149, 9);
	else
		out_dec(neg, fr | 1u << 23, ex - 150, 9);
}

void fp_print_ldouble(long double x)
{
	union ldbits v;
	v.x = x;
	int ex = v.b.se & 0x7FFF, neg = v.b.se >> 15;
	if (ex == 0x7FFF)
		out(v.b.m << 1 ? (neg ? "-nan" : "nan") : (neg ? "-inf" : "inf"));
	else
		out_dec(neg, v.b.m, (ex ? ex : 1) - 16383 - 63, 21);
}

int fp_all;

static const char *section;

static void name(const char *n)
{
	fp_putc('[');
	out(section);
	out("] ");
	out(n);
	out(" = ");
}

static void pd(const char *n, double x)
{
	name(n);
	out_hex(dbits(x), 16);
	fp_putc(' ');
	fp_print_double(x);
	fp_putc('\n');
}

static void pf(const char *n, float x)
{
	name(n);
	out_hex(fbits(x), 8);
	fp_putc(' ');
	fp_print_float(x);
	fp_putc('\n');
}

static void pld(const char *n, long double x)
{
	union ldbits v;
	v.x = x;
	name(n);
	out_hex(v.b.se, 4);
	out_hex(v.b.m, 16);
	fp_putc(' ');
	fp_print_ldouble(x);
	fp_putc('\n');
}

static void pi(const char *n, s64 v)
{
	name(n);
	out_s(v);
	fp_putc('\n');
}

static void px(const char *n, u64 v, int digits)
{
	name(n);
	out_hex(v, digits);
	fp_putc('\n');
}

/* ---- Control and status registers ---------------------------------- */

static inline void set_mxcsr(u32 v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v) : "memory");
}

static inline u32 get_mxcsr(void)
{
	u32 v;
	__asm__ volatile("stmxcsr %0" : "=m"(v) : : "memory");
	return v;
}

static inline void set_fcw(u16 v)
{
	__asm__ volatile("fldcw %0" : : "m"(v) : "memory");
}

static inline u16 get_fcw(void)
{
	u16 v;
	__asm__ volatile("fnstcw %0" : "=m"(v) : : "memory");
	return v;
}

static inline u16 get_fsw(void)
{
	u16 v;
	__asm__ volatile("fnstsw %0" : "=m"(v) : : "memory");
	return v;
}

static inline void fnclex(void)
{
	__asm__ volatile("fnclex" : : : "memory");
}

#define MXCSR_DEFAULT 0x1F80u
#define FCW_DEFAULT 0x037Fu
#define FLAGS 0x3D /* IE ZE OE UE PE, not DE */

/* ---- Inputs ----------------------------------------------------------- */

static u64 lcg_state;

static u32 lcg(void)
{
	lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
	return (u32)(lcg_state >> 33);
}

/* A rounded double in about [-3.6, 3.6). */
static double rnd(void)
{
	return ((s32)lcg() - 0x40000000) / 3.0e8;
}

static u64 hash;

static void hash_add(u64 bits)
{
	hash = (hash << 7 | hash >> 57) ^ bits;
}

/* ---- Kernels: formatter check ---------------------------------------- */

static volatile double vd[8];
static volatile float vf[8];
static volatile long double vld[8];
static volatile s64 vs[4];
static volatile u64 vu[4];

static void k_format(void)
{
	section = "format";
	pd("1", 1.0);
	pd("0.1", 0.1);
	pd("-2.5", -2.5);
	pd("1e23", 1e23);
	pd("2^53+2", 9007199254740994.0);
	pd("dbl_max", 1.7976931348623157e308);
	pd("dbl_min", 2.2250738585072014e-308);
	pd("dbl_true_min", 4.9406564584124654e-324);
	pd("-0", -0.0);
	pd("inf", dfrom(0x7FF0000000000000ull));
	pd("nan", dfrom(0x7FF8000000000001ull));
	pf("0.1f", 0.1f);
	pf("flt_max", 3.40282347e38f);
	pf("flt_true_min", 1.40129846e-45f);
	pf("-nan", ffrom(0xFFC00000u));
	pld("0.1L", 0.1L);
	pld("ldbl_max", 1.18973149535723176502e4932L);
	pld("ldbl_true_min", 3.64519953188247460253e-4951L);
	pld("-inf L", ldfrom(0xFFFF, 0x8000000000000000ull));
}

/* ---- Kernels: dot products, AXPY, matrix multiply ------------------- */

#define N 64
#define M 8
static double xa[N], xb[N], ya[N];
static float fa[N], fb[N], fy[N];
static double A[M][M], B[M][M], C[M][M];
static float FA[M][M], FB[M][M], FC[M][M];

static double dot_seq(const double *a, const double *b)
{
	double s = 0;
	for (int i = 0; i < N; i++)
		s += a[i] * b[i];
	return s;
}

/* Four partial sums: -O2's SLP vectorizer turns pairs of them into
 * MULPD/ADDPD on two-lane accumulators. */
static double dot4(const double *a, const double *b)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (int i = 0; i < N; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	return (s0 + s1) + (s2 + s3);
}

static float fdot4(const float *a, const float *b)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	for (int i = 0; i < N; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	return (s0 + s1) + (s2 + s3);
}

static float fdot_seq(const float *a, const float *b)
{
	float s = 0;
	for (int i = 0; i < N; i++)
		s += a[i] * b[i];
	return s;
}

/* y = alpha*x + y: the loop vectorizes to MULPD/ADDPD (MULPS/ADDPS). */
static void axpy(double alpha)
{
	for (int i = 0; i < N; i++)
		ya[i] = alpha * xa[i] + ya[i];
}

static void faxpy(float alpha)
{
	for (int i = 0; i < N; i++)
		fy[i] = alpha * fa[i] + fy[i];
}

/* C = A*B in i-k-j order: the inner loop over j vectorizes. */
static void matmul(void)
{
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < M; j++)
			C[i][j] = 0;
		for (int k = 0; k < M; k++) {
			double a = A[i][k];
			for (int j = 0; j < M; j++)
				C[i][j] += a * B[k][j];
		}
	}
}

static void fmatmul(void)
{
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < M; j++)
			FC[i][j] = 0;
		for (int k = 0; k < M; k++) {
			float a = FA[i][k];
			for (int j = 0; j < M; j++)
				FC[i][j] += a * FB[k][j];
		}
	}
}

static void k_linalg(void)
{
	section = "linalg";
	lcg_state = 12345;
	for (int i = 0; i < N; i++) {
		xa[i] = rnd();
		xb[i] = rnd();
		ya[i] = rnd();
		fa[i] = (float)rnd();
		fb[i] = (float)rnd();
		fy[i] = (float)rnd();
	}
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++) {
			A[i][j] = rnd();
			B[i][j] = rnd();
			FA[i][j] = (float)rnd();
			FB[i][j] = (float)rnd();
		}
	set_mxcsr(MXCSR_DEFAULT);
	pd("dot seq", dot_seq(xa, xb));
	pd("dot 4-way", dot4(xa, xb));
	pf("fdot seq", fdot_seq(fa, fb));
	pf("fdot 4-way", fdot4(fa, fb));
	vd[0] = 0.7;
	vf[0] = -1.3f;
	for (int r = 0; r < 10; r++) {
		axpy(vd[0]);
		faxpy(vf[0]);
	}
	hash = 0;
	for (int i = 0; i < N; i++)
		hash_add(dbits(ya[i]));
	px("axpy x10 hash", hash, 16);
	pd("axpy y[0]", ya[0]);
	pd("axpy y[63]", ya[63]);
	hash = 0;
	for (int i = 0; i < N; i++)
		hash_add(fbits(fy[i]));
	px("faxpy x10 hash", hash, 16);
	pf("faxpy y[1]", fy[1]);
	matmul();
	fmatmul();
	hash = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++)
			hash_add(dbits(C[i][j]));
	px("matmul hash", hash, 16);
	pd("matmul C[0][0]", C[0][0]);
	pd("matmul C[3][5]", C[3][5]);
	pd("matmul C[7][7]", C[7][7]);
	/* C = A*B again with C as A: powers of A*B. */
	for (int r = 0; r < 4; r++) {
		for (int i = 0; i < M; i++)
			for (int j = 0; j < M; j++)
				A[i][j] = C[i][j] * 0.25;
		matmul();
	}
	hash = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++)
			hash_add(dbits(C[i][j]));
	px("matmul^5 hash", hash, 16);
	pd("matmul^5 C[2][6]", C[2][6]);
	hash = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < M; j++)
			hash_add(fbits(FC[i][j]));
	px("fmatmul hash", hash, 16);
	pf("fmatmul C[0][0]", FC[0][0]);
	pf("fmatmul C[7][1]", FC[7][1]);
	px("mxcsr flags", get_mxcsr() & FLAGS, 2);
}

/* ---- Kernels: Newton sqrt, exp and log series ----------------------- */

static double newton_sqrt(double a, int *iters)
{
	double x = a > 1 ? a : 1;
	int n = 0;
	for (; n < 5000; n++) {
		double nx = 0.5 * (x + a / x);
		if (nx >= x)
			break;
		x = nx;
	}
	*iters = n;
	return x;
}

static float newton_sqrtf(float a)
{
	float x = a > 1 ? a : 1;
	for (int n = 0; n < 500; n++) {
		float nx = 0.5f * (x + a / x);
		if (nx >= x)
			break;
		x = nx;
	}
	return x;
}

static const double LN2_HI = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
static const double LN2_LO = 1.90821492927058770002e-10; /* 0x3dea39ef35793c76 */

/* exp(x) = 2^k * exp(r), r = x - k ln2 in [-ln2/2, ln2/2], Taylor series. */
static double my_exp(double x)
{
	int k = (int)(x * 1.4426950408889634 + (x < 0 ? -0.5 : 0.5));
	double r = (x - k * LN2_HI) - k * LN2_LO;
	double term = 1, sum = 1;
	for (int n = 1; n < 30; n++) {
		term = term * r / n;
		sum += term;
	}
	/* Scale by 2^k in two steps so that k down to -1074 works. */
	int k1 = k / 2, k2 = k - k1;
	sum *= dfrom((u64)(1023 + k1) << 52);
	return sum * dfrom((u64)(1023 + k2) << 52);
}

/* log(x) = e ln2 + 2 atanh((m-1)/(m+1)), m in [sqrt(1/2), sqrt(2)). */
static double my_log(double x)
{
	u64 b = dbits(x);
	int e = (int)(b >> 52) - 1023;
	double m = dfrom((b & ((1ull << 52) - 1)) | 0x3FF0000000000000ull);
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, p = s, sum = 0;
	for (int n = 1; n < 60; n += 2) {
		sum += p / n;
		p *= s2;
	}
	return e * LN2_HI + (e * LN2_LO + 2 * sum);
}

static void k_series(void)
{
	static const double sq[] = {2, 10, 0.5, 12345.678, 1e-300, 1e300, 5e-324};
	static const double ex[] = {-20, -1, 0.5, 1, 10, 700, -740};
	static const double lg[] = {2, 10, 0.1, 1e-300, 1e300, 7.5};
	section = "series";
	for (unsigned i = 0; i < sizeof sq / sizeof sq[0]; i++) {
		vd[0] = sq[i];
		int it;
		double nw = newton_sqrt(vd[0], &it);
		double hw = __builtin_sqrt(vd[0]);
		pd("sqrt arg", vd[0]);
		pd(" newton", nw);
		pi(" newton iterations", it);
		pd(" sqrtsd", hw);
		pi(" ulps newton-sqrtsd", (s64)(dbits(nw) - dbits(hw)));
	}
	vf[0] = 3.0f;
	pf("newton sqrtf 3", newton_sqrtf(vf[0]));
	pf("sqrtss 3", __builtin_sqrtf(vf[0]));
	for (unsigned i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		vd[0] = ex[i];
		pd("exp arg", vd[0]);
		pd(" exp", my_exp(vd[0]));
	}
	for (unsigned i = 0; i < sizeof lg / sizeof lg[0]; i++) {
		vd[0] = lg[i];
		double l = my_log(vd[0]);
		pd("log arg", vd[0]);
		pd(" log", l);
		pd(" exp(log)", my_exp(l));
	}
}

/* ---- Kernels: conversions ------------------------------------------- */

static void k_convert(void)
{
	static const u64 dv[] = {
		0x0000000000000000ull, /* 0 */
		0x8000000000000000ull, /* -0 */
		0x3FE0000000000000ull, /* 0.5 */
		0xBFE0000000000000ull, /* -0.5 */
		0x3FF8000000000000ull, /* 1.5 */
		0xC004000000000000ull, /* -2.5 */
		0x41DFFFFFFFE00000ull, /* 2147483647.5 */
		0x41E0000000000000ull, /* 2^31 */
		0xC1E0000000100000ull, /* -2147483648.5 */
		0x41EFFFFFFFE00000ull, /* 4294967295 */
		0x41F0000000000000ull, /* 2^32 */
		0x43DFFFFFFFFFFFFFull, /* 2^63 - 1024 */
		0x43E0000000000000ull, /* 2^63 */
		0xC3E0000000000000ull, /* -2^63 */
		0xC3E0000000000001ull, /* below -2^63 */
		0x43EFFFFFFFFFFFFFull, /* 2^64 - 2048 */
		0x43F0000000000000ull, /* 2^64 */
		0x7E37E43C8800759Cull, /* 1e300 */
		0x3810000000000000ull, /* 2^-126 */
		0x47EFFFFFF0000000ull, /* FLT_MAX + half an ulp: rounds to inf */
		0x47EFFFFFEFFFFFFFull, /* just below: rounds to FLT_MAX */
		0x36A0000000000000ull, /* 2^-149 */
		0x3690000000000000ull, /* 2^-150: ties to 0 */
		0x0000000000000001ull, /* double denormal */
		0x7FF0000000000000ull, /* inf */
		0xFFF0000000000000ull, /* -inf */
		0x7FF8000000000000ull, /* qnan */
		0xFFF8000000000123ull, /* -qnan with payload */
		0x7FF4000000000001ull, /* snan */
	};
	section = "convert";
	for (unsigned i = 0; i < sizeof dv / sizeof dv[0]; i++) {
		vd[0] = dfrom(dv[i]);
		pd("double", vd[0]);
		set_mxcsr(MXCSR_DEFAULT);
		vs[0] = (s32)vd[0];
		u32 f = get_mxcsr() & FLAGS;
		name(" (int) (long) (unsigned) (unsigned long) (short) lrint");
		out_hex((u32)vs[0], 8);
		fp_putc(' ');
		set_mxcsr(MXCSR_DEFAULT);
		vs[0] = (s64)vd[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		out_hex((u64)vs[0], 16);
		fp_putc(' ');
		set_mxcsr(MXCSR_DEFAULT);
		vu[0] = (u32)vd[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		out_hex(vu[0], 8);
		fp_putc(' ');
		set_mxcsr(MXCSR_DEFAULT);
		vu[0] = (u64)vd[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		out_hex(vu[0], 16);
		fp_putc(' ');
		set_mxcsr(MXCSR_DEFAULT);
		vs[0] = (s16)vd[0];
		out_hex((u16)vs[0], 4);
		fp_putc(' ');
		vs[1] = __builtin_lrint(vd[0]);
		u32 f2 = get_mxcsr() & FLAGS;
		out_hex((u64)vs[1], 16);
		out(" flags ");
		out_hex(f, 8);
		fp_putc(' ');
		out_hex(f2, 2);
		fp_putc('\n');
		set_mxcsr(MXCSR_DEFAULT);
		vf[0] = (float)vd[0];
		f = get_mxcsr() & FLAGS;
		pf(" (float)", vf[0]);
		px(" (float) flags", f, 2);
		set_mxcsr(MXCSR_DEFAULT);
		vd[1] = (double)vf[0];
		f = get_mxcsr() & FLAGS;
		pd(" (double)(float)", vd[1]);
		px(" (double)(float) flags", f, 2);
		set_mxcsr(MXCSR_DEFAULT);
		vs[0] = (s32)vf[0];
		vs[1] = (s64)vf[0];
		vu[0] = (u64)vf[0];
		f = get_mxcsr() & FLAGS;
		name(" float: (int) (long) (unsigned long)");
		out_hex((u32)vs[0], 8);
		fp_putc(' ');
		out_hex((u64)vs[1], 16);
		fp_putc(' ');
		out_hex(vu[0], 16);
		out(" flags ");
		out_hex(f, 2);
		fp_putc('\n');
		fnclex();
		vld[0] = (long double)vd[0];
		pld(" (long double)", vld[0]);
		px(" (long double) fsw", get_fsw() & FLAGS, 2);
	}
	/* sNaN float to double: quieted, IE. */
	set_mxcsr(MXCSR_DEFAULT);
	vf[1] = ffrom(0x7F800001u);
	vd[1] = vf[1];
	u32 f = get_mxcsr() & FLAGS;
	pd("(double)snanf", vd[1]);
	px("(double)snanf flags", f, 2);

	static const u64 iv[] = {
		0, 1, 0xFFFFFFFFFFFFFFFFull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull,
		0x0020000000000001ull, /* 2^53+1: rounds */
		0x0020000000000003ull, /* 2^53+3: rounds up */
		0x8000000000000401ull, /* 2^63+1025 */
		0x8000000000000C00ull, /* 2^63+3072: tie */
		0xFFFFFFFFFFFFFC00ull, /* 2^64-1024 */
		0x0000000001000001ull, /* 2^24+1 */
		0xFFFFFFFFFF000001ull, /* -(2^24-1)+... as signed */
		0x00000000FFFFFFFFull, 0x123456789ABCDEF1ull,
	};
	section = "int2fp";
	for (unsigned i = 0; i < sizeof iv / sizeof iv[0]; i++) {
		vu[0] = iv[i];
		px("value", vu[0], 16);
		set_mxcsr(MXCSR_DEFAULT);
		vd[0] = (double)(s64)vu[0];
		f = get_mxcsr() & FLAGS;
		pd(" (double)(long)", vd[0]);
		set_mxcsr(MXCSR_DEFAULT);
		vd[0] = (double)vu[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		pd(" (double)(unsigned long)", vd[0]);
		set_mxcsr(MXCSR_DEFAULT);
		vf[0] = (float)(s64)vu[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		pf(" (float)(long)", vf[0]);
		set_mxcsr(MXCSR_DEFAULT);
		vf[0] = (float)vu[0];
		f = f << 8 | (get_mxcsr() & FLAGS);
		pf(" (float)(unsigned long)", vf[0]);
		px(" mxcsr flags", f, 8);
		vd[0] = (double)(s32)vu[0];
		pd(" (double)(int)", vd[0]);
		vf[0] = (float)(u32)vu[0];
		pf(" (float)(unsigned)", vf[0]);
		fnclex();
		vld[0] = (long double)(s64)vu[0];
		vld[1] = (long double)vu[0];
		pld(" (long double)(long)", vld[0]);
		pld(" (long double)(unsigned long)", vld[1]);
		px(" fsw", get_fsw() & FLAGS, 2);
	}
	set_mxcsr(MXCSR_DEFAULT);
}

/* ---- Kernels: comparisons, min and max with NaNs -------------------- */

static double dmin(double a, double b) { return a < b ? a : b; }
static double dmax(double a, double b) { return a > b ? a : b; }

static double pa[4], pb[4], pmin[4], pmax[4];
static float qa[4], qb[4], qmin[4], qmax[4];

static void k_compare(void)
{
	static const u64 cv[] = {
		0x3FF0000000000000ull, /* 1 */
		0x4000000000000000ull, /* 2 */
		0x0000000000000000ull, /* +0 */
		0x8000000000000000ull, /* -0 */
		0x7FF0000000000000ull, /* inf */
		0x7FF8000000000000ull, /* qnan */
		0xFFF8000000000005ull, /* -qnan, payload 5 */
	};
	const unsigned n = sizeof cv / sizeof cv[0];
	section = "compare";
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++) {
			vd[0] = dfrom(cv[i]);
			vd[1] = dfrom(cv[j]);
			set_mxcsr(MXCSR_DEFAULT);
			double a = vd[0], b = vd[1];
			vs[0] = (a < b) | (a <= b) << 1 | (a == b) << 2 | (a != b) << 3 | (a > b) << 4 |
				(a >= b) << 5 | __builtin_isunordered(a, b) << 6;
			u32 f = get_mxcsr() & FLAGS;
			set_mxcsr(MXCSR_DEFAULT);
			vd[2] = dmin(vd[0], vd[1]);
			vd[3] = dmax(vd[0], vd[1]);
			f = f << 8 | (get_mxcsr() & FLAGS);
			name("a b lt|le|eq|ne|gt|ge|un min max flags");
			out_hex(cv[i], 16);
			fp_putc(' ');
			out_hex(cv[j], 16);
			fp_putc(' ');
			out_hex((u64)vs[0], 2);
			fp_putc(' ');
			out_hex(dbits(vd[2]), 16);
			fp_putc(' ');
			out_hex(dbits(vd[3]), 16);
			fp_putc(' ');
			out_hex(f, 4);
			fp_putc('\n');
		}
	/* Packed: the loops over four elements become MINPD/MAXPD (MINPS/MAXPS). */
	for (unsigned i = 0; i < 4; i++) {
		pa[i] = dfrom(cv[(i * 3) % n]);
		pb[i] = dfrom(cv[(i * 5 + 2) % n]);
		qa[i] = (float)dfrom(cv[(i * 2 + 3) % n]);
		qb[i] = (float)dfrom(cv[(i + 4) % n]);
	}
	set_mxcsr(MXCSR_DEFAULT);
	for (unsigned i = 0; i < 4; i++) {
		pmin[i] = pa[i] < pb[i] ? pa[i] : pb[i];
		pmax[i] = pa[i] > pb[i] ? pa[i] : pb[i];
	}
	for (unsigned i = 0; i < 4; i++) {
		qmin[i] = qa[i] < qb[i] ? qa[i] : qb[i];
		qmax[i] = qa[i] > qb[i] ? qa[i] : qb[i];
	}
	u32 f = get_mxcsr() & FLAGS;
	for (unsigned i = 0; i < 4; i++) {
		name("packed min max");
		out_hex(dbits(pmin[i]), 16);
		fp_putc(' ');
		out_hex(dbits(pmax[i]), 16);
		fp_putc(' ');
		out_hex(fbits(qmin[i]), 8);
		fp_putc(' ');
		out_hex(fbits(qmax[i]), 8);
		fp_putc('\n');
	}
	px("packed min max flags", f, 2);
	/* Long double compares (FUCOMIP/FCOMIP). */
	for (unsigned i = 0; i < n; i++) {
		vld[0] = dfrom(cv[i]);
		vld[1] = 1.0L;
		fnclex();
		long double a = vld[0], b = vld[1];
		vs[0] = (a < b) | (a <= b) << 1 | (a == b) << 2 | (a != b) << 3 | (a > b) << 4 | (a >= b) << 5 |
			__builtin_isunordered(a, b) << 6;
		u16 sw = get_fsw() & FLAGS;
		name("ld a vs 1: lt|le|eq|ne|gt|ge|un fsw");
		out_hex(cv[i], 16);
		fp_putc(' ');
		out_hex((u64)vs[0], 2);
		fp_putc(' ');
		out_hex(sw, 2);
		fp_putc('\n');
	}
	set_mxcsr(MXCSR_DEFAULT);
}

/* ---- Kernels: rounding modes through MXCSR and the x87 control word - */

static void k_rounding(void)
{
	static const char *rcn[4] = {"nearest", "down", "up", "zero"};
	section = "mxcsr";
	vd[0] = 1;
	vd[1] = 3;
	vd[2] = 2;
	vd[3] = 1e308;
	vd[4] = 1e-308;
	vd[5] = -2.5;
	vs[0] = 0x0020000000000001ll;
	vs[1] = -0x0020000000000001ll;
	vf[0] = 1;
	vf[1] = 3;
	for (u32 rc = 0; rc < 4; rc++) {
		u32 mode = MXCSR_DEFAULT | rc << 13;
		u32 f = 0;
		section = rcn[rc];
#define SSE_OP(label, var, expr, print)                                 \
	do {                                                            \
		set_mxcsr(mode);                                        \
		var = (expr);                                           \
		u32 fl_ = get_mxcsr();                                  \
		set_mxcsr(MXCSR_DEFAULT);                               \
		print(label, var);                                      \
		px(label " flags", fl_ & FLAGS, 2);                     \
		f |= fl_;                                               \
	} while (0)
		SSE_OP("1/3", vd[6], vd[0] / vd[1], pd);
		SSE_OP("-1/3", vd[6], -vd[0] / vd[1], pd);
		SSE_OP("2/3", vd[6], vd[2] / vd[1], pd);
		SSE_OP("sqrt(2)", vd[6], __builtin_sqrt(vd[2]), pd);
		SSE_OP("1e308*10", vd[6], vd[3] * 10, pd);
		SSE_OP("-1e308*10", vd[6], -vd[3] * 10, pd);
		SSE_OP("1e-308*1e-10", vd[6], vd[4] * 1e-10, pd);
		SSE_OP("1+2^-60", vd[6], vd[0] + 0x1p-60, pd);
		SSE_OP("1-2^-60", vd[6], vd[0] - 0x1p-60, pd);
		SSE_OP("1/3f", vf[2], vf[0] / vf[1], pf);
		SSE_OP("(float)(1/3)", vf[2], (float)(vd[0] / vd[1]), pf);
		SSE_OP("(double)(2^53+1)", vd[6], (double)vs[0], pd);
		SSE_OP("(double)-(2^53+1)", vd[6], (double)vs[1], pd);
		SSE_OP("(float)(2^53+1)", vf[2], (float)vs[0], pf);
		SSE_OP("lrint(-2.5)", vs[2], __builtin_lrint(vd[5]), pi);
		SSE_OP("(long)-2.5", vs[2], (s64)vd[5], pi);
		SSE_OP("rint(-2.5)", vd[6], __builtin_rint(vd[5]), pd);
		SSE_OP("rint(1/3)", vd[6], __builtin_rint(vd[0] / vd[1]), pd);
		/* A dot product under this rounding mode. */
		set_mxcsr(mode);
		vd[6] = dot_seq(xa, xb);
		set_mxcsr(MXCSR_DEFAULT);
		pd("dot", vd[6]);
		set_mxcsr(mode);
		vd[6] = dot4(xa, xb);
		set_mxcsr(MXCSR_DEFAULT);
		pd("dot 4-way", vd[6]);
		px("all flags", f & FLAGS, 2);
#undef SSE_OP
	}
	set_mxcsr(MXCSR_DEFAULT);

	/* x87: precision control 24/53/64 bits times the four rounding modes. */
	static const u16 pcs[3] = {0, 2, 3};
	static const char *pcn[3] = {"pc24", "pc53", "pc64"};
	vld[0] = 1;
	vld[1] = 3;
	vld[2] = 2;
	vu[0] = 0xFFFFFFFFFFFFFFFFull;
	vld[3] = -2.5L;
	vd[7] = 9007199254740991.0; /* 2^53 - 1 */
	for (int p = 0; p < 3; p++)
		for (u32 rc = 0; rc < 4; rc++) {
			u16 cw = (u16)((FCW_DEFAULT & ~0xF00u) | (u32)pcs[p] << 8 | rc << 10);
			static char sec[24];
			const char *a = pcn[p], *b = rcn[rc];
			int k = 0;
			while (*a)
				sec[k++] = *a++;
			sec[k++] = ' ';
			while (*b)
				sec[k++] = *b++;
			sec[k] = 0;
			section = sec;
#define X87_OP(label, var, expr, print)                                 \
	do {                                                            \
		fnclex();                                               \
		set_fcw(cw);                                            \
		var = (expr);                                           \
		u16 sw_ = get_fsw();                                    \
		u16 cw_ = get_fcw();                                    \
		set_fcw(FCW_DEFAULT);                                   \
		print(label, var);                                      \
		px(label " fsw cw", (u32)(sw_ & FLAGS) << 16 | cw_, 6); \
	} while (0)
			X87_OP("1/3", vld[4], vld[0] / vld[1], pld);
			X87_OP("-1/3", vld[4], -vld[0] / vld[1], pld);
			X87_OP("sqrt(2)", vld[4], __builtin_sqrtl(vld[2]), pld);
			X87_OP("(ld)(2^64-1)", vld[4], (long double)vu[0], pld);
			X87_OP("(double)(1/3)", vd[6], (double)(vld[0] / vld[1]), pd);
			X87_OP("(float)(1/3)", vf[2], (float)(vld[0] / vld[1]), pf);
			X87_OP("lrintl(-2.5)", vs[2], __builtin_lrintl(vld[3]), pi);
			X87_OP("(long)-2.5L", vs[2], (s64)vld[3], pi);
			/*
			 * QEMU 7.2 rounds a double memory operand of an x87
			 * instruction (FLD m64, FMUL m64, ...) to the precision
			 * control when it converts it to extended; the hardware
			 * takes it exactly. Under PC24 a double with more than 24
			 * significant bits therefore gives QEMU a different
			 * result (a product one ulp off). These lines are printed
			 * only with fp_all set and are checked against the host
			 * CPU (cmd/glassbox TestFP64GuestMatchesHost).
			 */
			if (pcs[p] != 0 || fp_all) {
				X87_OP("(long)(1/3*3e18)", vs[2], (s64)(vld[0] / vld[1] * 3e18L), pi);
				X87_OP("fld m64 2^53-1", vld[4], (long double)vd[7], pld);
				X87_OP("fmul m64 (1/3)*3e17", vld[4], vld[0] / vld[1] * 3e17L, pld);
			}
#undef X87_OP
		}
	set_fcw(FCW_DEFAULT);
}

/* ---- Kernels: Kahan summation ---------------------------------------- */

static void k_kahan(void)
{
	section = "kahan";
	vd[0] = 0.1;
	double x = vd[0];
	double naive = 0, sum = 0, c = 0;
	for (int i = 0; i < 10000; i++) {
		naive += x;
		double y = x - c;
		double t = sum + y;
		c = (t - sum) - y;
		sum = t;
	}
	pd("sum 0.1 x10000 naive", naive);
	pd("sum 0.1 x10000 kahan", sum);
	double fwd = 0, rev = 0;
	sum = 0;
	c = 0;
	for (int k = 1; k <= 4000; k++) {
		double term = 1.0 / ((double)k * k);
		fwd += term;
		double y = term - c;
		double t = sum + y;
		c = (t - sum) - y;
		sum = t;
	}
	for (int k = 4000; k >= 1; k--)
		rev += 1.0 / ((double)k * k);
	pd("sum 1/k^2 forward", fwd);
	pd("sum 1/k^2 reverse", rev);
	pd("sum 1/k^2 kahan", sum);
	float fs = 0, fc = 0, fn = 0;
	vf[0] = 0.01f;
	float fx = vf[0];
	for (int i = 0; i < 10000; i++) {
		fn += fx;
		float y = fx - fc;
		float t = fs + y;
		fc = (t - fs) - y;
		fs = t;
	}
	pf("float sum 0.01 x10000 naive", fn);
	pf("float sum 0.01 x10000 kahan", fs);
}

/* ---- Kernels: long double (x87) --------------------------------------- */

static long double ld_atan_inv(int n)
{
	/* atan(1/n) = sum (-1)^k / ((2k+1) n^(2k+1)) */
	long double x = 1.0L / n, x2 = x * x, p = x, sum = 0;
	for (int k = 0; k < 40; k++) {
		long double t = p / (2 * k + 1);
		sum += (k & 1) ? -t : t;
		p *= x2;
	}
	return sum;
}

static void k_long_double(void)
{
	section = "x87";
	set_fcw(FCW_DEFAULT);
	long double h = 0;
	for (int k = 1; k <= 10000; k++)
		h += 1.0L / k;
	pld("harmonic 10000", h);
	long double pi_l = 16 * ld_atan_inv(5) - 4 * ld_atan_inv(239);
	pld("pi (Machin)", pi_l);
	pd("(double)pi", (double)pi_l);
	vld[0] = 2;
	long double a = vld[0], x = 2;
	int it = 0;
	for (; it < 100; it++) {
		long double nx = 0.5L * (x + a / x);
		if (nx >= x)
			break;
		x = nx;
	}
	pld("newton sqrt(2)", x);
	pi("newton iterations", it);
	pld("fsqrt(2)", __builtin_sqrtl(vld[0]));
	/* Dot product in extended precision against the double one. */
	long double ds = 0;
	for (int i = 0; i < N; i++)
		ds += (long double)xa[i] * xb[i];
	pld("dot extended", ds);
	pd("(double)dot extended", (double)ds);
	/* Factorial until it overflows the double range but not the extended. */
	long double f = 1;
	for (int k = 1; k <= 200; k++)
		f *= k;
	pld("200!", f);
	pd("(double)200!", (double)f);

	static const struct {
		u16 se;
		u64 m;
	} lv[] = {
		{0x3FFF, 0x8000000000000000ull}, /* 1 */
		{0xBFFF, 0xC000000000000000ull}, /* -1.5 */
		{0x403D, 0xFFFFFFFFFFFFFFFFull}, /* 2^63 - 0.5: 2^62+... */
		{0x403E, 0x8000000000000000ull}, /* 2^63 */
		{0x403E, 0xFFFFFFFFFFFFFFFFull}, /* 2^64 - 1 */
		{0x403F, 0x8000000000000000ull}, /* 2^64 */
		{0xC03D, 0x8000000000000000ull}, /* -2^62 */
		{0xC03E, 0x8000000000000000ull}, /* -2^63 */
		{0xC03E, 0x8000000000000001ull}, /* -2^63 - 1 */
		{0x3FFE, 0xAAAAAAAAAAAAAAABull}, /* 2/3 */
		{0x43FE, 0x8000000000000000ull}, /* 2^1024: (double) overflows */
		{0x3C01, 0x8000000000000000ull}, /* 2^-1022 */
		{0x3BCD, 0xC000000000000000ull}, /* 1.5 * 2^-1074: double denormal */
		{0x0000, 0x0000000000000001ull}, /* extended denormal */
		{0x7FFF, 0x8000000000000000ull}, /* inf */
		{0x7FFF, 0xC000000000000000ull}, /* qnan */
		{0xFFFF, 0xC000000000000000ull}, /* real indefinite */
	};
	section = "x87 convert";
	for (unsigned i = 0; i < sizeof lv / sizeof lv[0]; i++) {
		vld[0] = ldfrom(lv[i].se, lv[i].m);
		pld("value", vld[0]);
		fnclex();
		vs[0] = (s64)vld[0];
		u32 sw = get_fsw() & FLAGS;
		fnclex();
		vu[0] = (u64)vld[0];
		sw = sw << 8 | (get_fsw() & FLAGS);
		fnclex();
		vs[1] = (s32)vld[0];
		sw = sw << 8 | (get_fsw() & FLAGS);
		name(" (long) (unsigned long) (int) fsw");
		out_hex((u64)vs[0], 16);
		fp_putc(' ');
		out_hex(vu[0], 16);
		fp_putc(' ');
		out_hex((u32)vs[1], 8);
		fp_putc(' ');
		out_hex(sw, 6);
		fp_putc('\n');
		fnclex();
		vd[0] = (double)vld[0];
		sw = get_fsw() & FLAGS;
		pd(" (double)", vd[0]);
		fnclex();
		vf[0] = (float)vld[0];
		sw = sw << 8 | (get_fsw() & FLAGS);
		pf(" (float)", vf[0]);
		px(" (double) (float) fsw", sw, 4);
	}
	set_fcw(FCW_DEFAULT);
}

void fp_run(void)
{
	set_mxcsr(MXCSR_DEFAULT);
	set_fcw(FCW_DEFAULT);
	k_format();
	k_linalg();
	k_series();
	k_convert();
	k_compare();
	k_rounding();
	k_kahan();
	k_long_double();
	set_mxcsr(MXCSR_DEFAULT);
	set_fcw(FCW_DEFAULT);
}
