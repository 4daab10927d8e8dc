/*
 * crash: a kernel that crashes the way real ones do, for the crash-report
 * and script examples. It turns paging on (one 4 MiB identity page), drops
 * its IDT (limit 0), and then its innermost function dereferences an
 * unmapped pointer: #PF, which cannot be delivered (#GP on the IDT limit),
 * turns into #DF, which cannot be delivered either: triple fault.
 * Under QEMU with -no-reboot the run ends after the two lines below.
 */
#include "lib.h"

static u32 page_dir[1024] __attribute__((aligned(4096)));

struct config {
	u32 magic;
	u32 count;
	u32 fields[4];
};

__attribute__((noinline)) static u32 read_field(const struct config *cfg, int idx)
{
	return cfg->fields[idx]; /* faults: cfg points at unmapped memory */
}

__attribute__((noinline)) static u32 sum_fields(const struct config *cfg, int n)
{
	u32 s = 0;
	for (int i = 0; i < n; i++)
		s += read_field(cfg, i);
	return s;
}

__attribute__((noinline)) static u32 load_config(u32 addr, int n)
{
	printf("crash: loading config at %08x\n", addr);
	return sum_fields((const struct config *)addr, n);
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	page_dir[0] = 0x00000083; /* 4 MiB page at 0: present, writable, PS */
	write_cr4(read_cr4() | 0x10); /* CR4.PSE */
	write_cr3((u32)page_dir);
	write_cr0(read_cr0() | 0x80000000u); /* CR0.PG */
	struct __attribute__((packed)) {
		u16 limit;
		u32 base;
	} no_idt = {0, 0};
	__asm__ volatile("lidt %0" : : "m"(no_idt));
	printf("crash: paging on, no IDT\n");
	u32 v = load_config(0xdead0000u, 3);
	printf("crash: not reached %x\n", v);
	exit_qemu(0x7c);
}
