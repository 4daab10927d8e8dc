/*
 * Host build of the benchmark kernels (see kernels.h): prints the same
 * checksum lines as the guest for "n=N" given as the first argument.
 */
#include <stdio.h>
#include "kernels.h"

int main(int argc, char **argv)
{
	bk_u32 n = bench_parse_n(argc > 1 ? argv[1] : "", 1);
	struct bench_result res[BENCH_NKERNELS];
	bench_run(n, res);
	for (int i = 0; i < BENCH_NKERNELS; i++)
		printf("%s: %08x\n", res[i].name, res[i].sum);
	return 0;
}
