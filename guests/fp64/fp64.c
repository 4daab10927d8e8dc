/*
 * fp64: numeric kernels compiled by gcc -O2 for gcc's default x86-64 target
 * (SSE2 for float/double, x87 for long double) run as a freestanding long
 * mode kernel. boot.S enables the FPU and SSE (CR0.MP/NE, CR0.EM clear,
 * CR4.OSFXSR/OSXMMEXCPT, FNINIT, MXCSR 0x1F80) before kmain; kernels.c
 * holds the kernels and the exact formatter, shared with the host build
 * (host_main.c). Output: this file's header and trailer lines around
 * kernels.c's lines, which must equal the host program's output.
 */
#include "lib64.h"
#include "kernels.h"

static int memcmp_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 1;
	return 0;
}

void fp_putc(int c)
{
	putc((char)c);
}

/* Does the multiboot command line hold word (delimited by spaces)? */
static int has_word(u32 magic, u32 info, const char *word)
{
	const u32 *mbi = (const u32 *)(u64)info;
	if (magic != 0x2BADB002 || !(mbi[0] & 4)) /* flags bit 2: cmdline */
		return 0;
	const char *line = (const char *)(u64)mbi[4];
	size_t n = strlen(word);
	for (const char *s = line; *s; s++)
		if ((s == line || s[-1] == ' ') && !memcmp_n(s, word, n) && (s[n] == ' ' || s[n] == 0))
			return 1;
	return 0;
}

void kmain(u32 magic, u32 info)
{
	serial_init();
	fp_all = has_word(magic, info, "all");
	printf("fp64: gcc -O2 x86-64 numeric kernels\n");
	printf("fp64: cr0 MP|EM|TS|NE %lx cr4 OSFXSR|OSXMMEXCPT %lx\n", read_cr0() & 0x2E, read_cr4() & 0x600);
	fp_run();
	printf("fp64: done\n");
	exit_qemu(0);
}

NORETURN void fp64_trap(u64 vector, u64 error, u64 rip)
{
	printf("fp64: exception %lu error %lx rip %lx\n", vector, error, rip);
	exit_qemu(0x7F);
}
