/*
 * mb32hello: the smallest multiboot v1 kernel. It checks the boot magic,
 * prints what the boot loader told it (command line, memory sizes, memory
 * map) and exits with code 0x10 through the isa-debug-exit port (QEMU exit
 * status 0x21).
 */
#include "lib.h"

/* QEMU passes "<kernel path> <-append string>" as the command line (GRUB
 * does much the same); print the path's last component only, so the output
 * doesn't depend on where the image was built. */
static void print_cmdline(const char *s)
{
	const char *end = s;
	while (*end && *end != ' ')
		end++;
	const char *base = s;
	for (const char *p = s; p < end; p++)
		if (*p == '/')
			base = p + 1;
	puts("cmdline: \"");
	puts(base);
	puts("\"\n");
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	if (magic != MB_MAGIC) {
		printf("bad multiboot magic %08x\n", magic);
		exit_qemu(0x11);
	}
	printf("multiboot magic ok, flags=%08x\n", mbi->flags);
	if (mbi->flags & (1 << 2))
		print_cmdline((const char *)mbi->cmdline);
	if (mbi->flags & (1 << 0))
		printf("mem_lower=%uK mem_upper=%uK\n", mbi->mem_lower, mbi->mem_upper);
	if (mbi->flags & (1 << 6)) {
		u32 n = 0;
		u32 p = mbi->mmap_addr;
		while (p < mbi->mmap_addr + mbi->mmap_length) {
			struct mb_mmap *e = (struct mb_mmap *)p;
			n++;
			p += e->size + 4;
		}
		printf("mmap: %u entries\n", n);
		for (p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length;) {
			struct mb_mmap *e = (struct mb_mmap *)p;
			printf("  %016llx-%016llx type %u\n", e->addr, e->addr + e->len - 1, e->type);
			p += e->size + 4;
		}
	}
	puts("hello from multiboot\n");
	exit_qemu(0x10);
}
