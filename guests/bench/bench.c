/*
 * bench: the performance benchmark guest. With paging on (4 KiB pages
 * identity-mapping the first 16 MiB), it runs the kernels of kernels.c
 * (integer compute, a sieve, CRC-32, sorting, memcpy, recursion) with the
 * work size taken from the multiboot command line ("-append n=N", default 1)
 * and prints one checksum per kernel. A host build of the same kernels
 * (host_main.c) must print the same checksums.
 */
#include "lib.h"
#include "kernels.h"

static u32 page_dir[1024] ALIGNED(4096);
static u32 page_tables[4][1024] ALIGNED(4096);

static void paging_on(void)
{
	for (u32 t = 0; t < 4; t++) {
		for (u32 i = 0; i < 1024; i++)
			page_tables[t][i] = ((t * 1024 + i) << 12) | 3; /* present, writable */
		page_dir[t] = (u32)page_tables[t] | 3;
	}
	write_cr3((u32)page_dir);
	write_cr0(read_cr0() | 0x80010000); /* PG, WP */
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	if (magic != MB_MAGIC) {
		printf("bad multiboot magic %08x\n", magic);
		exit_qemu(0x11);
	}
	u32 n = 1;
	if (mbi->flags & (1 << 2))
		n = bench_parse_n((const char *)mbi->cmdline, 1);
	paging_on();
	printf("bench n=%u paging=%s\n", n, (read_cr0() >> 31) ? "on" : "off");
	struct bench_result res[BENCH_NKERNELS];
	bench_run(n, res);
	for (int i = 0; i < BENCH_NKERNELS; i++)
		printf("%s: %08x\n", res[i].name, res[i].sum);
	puts("bench: done\n");
	exit_qemu(0);
}
