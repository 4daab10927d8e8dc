/*
 * Benchmark kernels shared by the bench guest (built freestanding for i686)
 * and the host check (the same file built by the host's gcc as an ordinary
 * program). Only fixed-width unsigned arithmetic, no library calls, no
 * undefined behaviour: both builds must compute identical checksums.
 */
#ifndef BENCH_KERNELS_H
#define BENCH_KERNELS_H

typedef unsigned char bk_u8;
typedef unsigned int bk_u32;
typedef unsigned long long bk_u64;

struct bench_result {
	const char *name;
	bk_u32 sum;
};

#define BENCH_NKERNELS 6

/* Runs every kernel with work size n (n >= 1; the work grows linearly in n)
 * and fills res[0..BENCH_NKERNELS-1]. */
void bench_run(bk_u32 n, struct bench_result *res);

/* Parses the first "n=<decimal>" word of s; returns def if absent or bad. */
bk_u32 bench_parse_n(const char *s, bk_u32 def);

#endif
