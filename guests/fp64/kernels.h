/*
 * fp64 numeric kernels: plain C built twice with gcc -O2 for gcc's default
 * x86-64 target (SSE2 for float and double, x87 for long double): once as
 * the freestanding guest (fp64.c) and once as a host program (host_main.c).
 * Both must print the same lines; cmd/glassbox's TestFP64GuestMatchesHost
 * checks that. The only thing the two builds supply is fp_putc.
 */
#ifndef FP64_KERNELS_H
#define FP64_KERNELS_H

void fp_putc(int c);
/* Nonzero: also print the results where QEMU 7.2 departs from the hardware
 * (see k_rounding). The host build sets it; the guest does when its command
 * line holds the word "all". */
extern int fp_all;
/* fp_run runs every kernel and prints its results through fp_putc. */
void fp_run(void);
/* The decimal renderings fp_run uses (17, 9 and 21 significant digits, or
 * inf/nan with a sign), exported for the host build's self check against
 * the C library's printf. */
void fp_print_double(double x);
void fp_print_float(float x);
void fp_print_ldouble(long double x);

#endif
