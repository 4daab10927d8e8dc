/*
 * AP startup for the smp guest.
 *
 * tramp_start..tramp_end is copied to TRAMP_BASE (0x8000) by the BSP; a
 * STARTUP IPI with vector 0x08 starts an AP there in real mode (CS=0x0800,
 * IP=0). The trampoline loads its own small GDT (flat 32-bit code 0x08 and
 * data 0x10, the same selectors as guests/lib's GDT), sets CR0.PE and far-
 * jumps to ap_entry32, which runs in place in the kernel image (above 1 MiB).
 * ap_entry32 takes an AP index with LOCK XADD, uses it to pick its stack,
 * and calls ap_main(index).
 */
#define TRAMP_BASE 0x8000
#define AP_STACK_SIZE 4096
#define MAX_APS 31
#define TADDR(x) (TRAMP_BASE + ((x) - tramp_start))

	.text
	.code16
	.globl tramp_start, tramp_end
tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl TADDR(tramp_gdtr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $ap_entry32
	.align 8
tramp_gdt:
	.quad 0
	.quad 0x00CF9A000000FFFF        /* 0x08: code, flat, 32-bit */
	.quad 0x00CF92000000FFFF        /* 0x10: data, flat */
tramp_gdtr:
	.word tramp_gdtr - tramp_gdt - 1
	.long TADDR(tramp_gdt)
tramp_end:

	.code32
ap_entry32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $1, %eax
	lock xaddl %eax, ap_next_index  /* this AP's index: 0, 1, 2, ... */
	cmpl $MAX_APS, %eax
	jae 2f                          /* more APs than stacks: stay parked */
	movl %eax, %ecx
	incl %ecx
	shll $12, %ecx                  /* (index + 1) * AP_STACK_SIZE */
	leal ap_stacks(%ecx), %esp
	pushl %eax
	call ap_main
2:	cli
	hlt
	jmp 2b

	.bss
	.align 16
	.globl ap_stacks
ap_stacks:
	.space MAX_APS * AP_STACK_SIZE
	.align 4
	.globl ap_next_index
ap_next_index:
	.long 0
