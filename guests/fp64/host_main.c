/*
 * Host build of the fp64 kernels (kernels.c): prints the same lines as the
 * guest between its header and trailer. With the argument "selfcheck" it
 * instead compares the exact formatter with the C library's printf for
 * random bit patterns (printf's %.16e/%.8e/%.20Le are correctly rounded in
 * glibc) and prints the number of mismatches.
 */
#include <stdio.h>
#include <string.h>
#include "kernels.h"

static char buf[16384];
static size_t nbuf;
static int capture;

void fp_putc(int c)
{
	if (capture) {
		if (nbuf + 1 < sizeof buf)
			buf[nbuf++] = (char)c;
		return;
	}
	putchar(c);
}

static unsigned long long state = 0x243F6A8885A308D3ull;

static unsigned long long rnd64(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static int check(const char *want)
{
	buf[nbuf] = 0;
	int bad = strcmp(buf, want) != 0;
	if (bad)
		fprintf(stderr, "formatter: %s, printf: %s\n", buf, want);
	nbuf = 0;
	return bad;
}

static int selfcheck(void)
{
	char want[16384];
	int bad = 0, n = 0;
	capture = 1;
	for (int i = 0; i < 20000; i++) {
		unsigned long long b = rnd64();
		if (i & 1) /* also many small exponents and denormals */
			b &= 0x80FFFFFFFFFFFFFFull;
		double d;
		memcpy(&d, &b, 8);
		if (d - d != 0) /* inf, nan */
			continue;
		fp_print_double(d);
		snprintf(want, sizeof want, "%.16e", d);
		bad += check(want);
		float f;
		unsigned int fb = (unsigned int)b;
		memcpy(&f, &fb, 4);
		if (f - f == 0) {
			fp_print_float(f);
			snprintf(want, sizeof want, "%.8e", (double)f);
			bad += check(want);
		}
		if (i % 4 == 0) {
			long double x = 0;
			unsigned short se = (unsigned short)(rnd64() & 0xFFFF);
			if ((se & 0x7FFF) == 0x7FFF)
				se ^= 1;
			unsigned long long m = b | ((se & 0x7FFF) ? 1ull << 63 : 0);
			if (!(se & 0x7FFF))
				m &= ~(1ull << 63);
			memcpy(&x, &m, 8);
			memcpy((char *)&x + 8, &se, 2);
			fp_print_ldouble(x);
			snprintf(want, sizeof want, "%.20Le", x);
			bad += check(want);
		}
		n++;
	}
	capture = 0;
	printf("selfcheck: %d values, %d mismatches\n", n, bad);
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "selfcheck") == 0)
		return selfcheck();
	fp_all = 1;
	fp_run();
	return 0;
}
