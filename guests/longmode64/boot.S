/*
 * longmode64 boot: multiboot v1 entry in 32-bit protected mode, page tables,
 * and the switch to 64-bit long mode.
 *
 * The whole guest is assembled and compiled as x86-64 ELF objects (this file
 * switches to .code32 for the entry), linked at 1 MiB with ld -m elf_x86_64,
 * and converted to an ELF32 i386 image with objcopy -O elf32-i386: QEMU's
 * -kernel multiboot loader refuses ELF64 kernels, and every address here is
 * below 4 GiB, so the ELF32 program headers describe the image exactly.
 *
 * Page tables (all entries P|RW|US):
 *   pml4[0] -> pdpt
 *   pdpt[0] -> pd0: 512 2 MiB pages, identity map of 0..1 GiB
 *   pdpt[1] -> pd1, pd1[0] -> pt1: 4 KiB pages at 0x40000000 (filled in by C)
 *   pdpt[2]    1 GiB page at 0x80000000 -> 0, set by C only if CPUID says so
 */
#define MB_FLAGS 0x00000003 /* page-align modules, want memory info */

	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002
	.long MB_FLAGS
	.long -(0x1BADB002 + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	movl $boot_stack_top, %esp
	movl %eax, %esi                 /* multiboot magic */
	movl %ebx, %ebp                 /* multiboot info */

	/* Zero .bss (page tables and stacks live there). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	/* Long mode available? CPUID 0x80000001 EDX bit 29. */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	movl %edx, cpuid_ext_edx
	btl $29, %edx
	jnc no_long_mode

	/* PML4 and PDPT. */
	movl $pdpt + 7, pml4
	movl $pd0 + 7, pdpt
	movl $pd1 + 7, pdpt + 8
	movl $pt1 + 7, pd1
	/* pd0: 2 MiB identity pages, P|RW|US|PS. */
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x87, %eax
	movl %eax, pd0(,%ecx,8)
	incl %ecx
	cmpl $512, %ecx
	jb 1b

	/* CR4.PAE, CR3. */
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3

	/* EFER: LME and SCE, plus NXE if CPUID 0x80000001 EDX bit 20 allows it. */
	movl $0xC0000080, %ecx
	rdmsr
	orl $0x101, %eax
	btl $20, cpuid_ext_edx
	jnc 2f
	orl $0x800, %eax
2:	wrmsr

	/* Paging on: long mode becomes active (compatibility mode until CS.L=1). */
	lgdt gdt_ptr32
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x08, $start64

no_long_mode:
	movl $no_lm_msg, %esi
3:	lodsb
	testb %al, %al
	jz 5f
	movb %al, %bl
	movw $0x3FD, %dx
4:	inb %dx, %al
	testb $0x20, %al
	jz 4b
	movb %bl, %al
	movw $0x3F8, %dx
	outb %al, %dx
	jmp 3b
5:	movl $0x7D, %eax
	movw $0xF4, %dx
	outl %eax, %dx
6:	hlt
	jmp 6b

	.code64
start64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs                   /* FS/GS null: bases only come from the MSRs */
	movw %ax, %gs
	movq $boot_stack_top, %rsp
	movl %esi, %edi                 /* kmain(magic, info) */
	movl %ebp, %esi
	call kmain
	movl $0x7E, %eax                /* kmain returned */
	outl %eax, $0xF4
7:	hlt
	jmp 7b

	.section .rodata
no_lm_msg:
	.asciz "longmode64: CPU has no long mode\n"

/*
 * GDT. The selectors are laid out for SYSCALL/SYSRET:
 * STAR[47:32]=0x08 gives CS=0x08, SS=0x10 on SYSCALL; STAR[63:48]=0x18 gives
 * CS=0x18+16|3=0x2B, SS=0x18+8|3=0x23 on 64-bit SYSRET.
 */
	.data
	.align 16
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00AF9A000000FFFF        /* 0x08 kernel code, 64-bit (L=1) */
	.quad 0x00CF92000000FFFF        /* 0x10 kernel data */
	.quad 0x00CFFA000000FFFF        /* 0x18 user code, 32-bit (compatibility mode) */
	.quad 0x00CFF2000000FFFF        /* 0x20 user data */
	.quad 0x00AFFA000000FFFF        /* 0x28 user code, 64-bit */
	.quad 0x00CF9A000000FFFF        /* 0x30 kernel code, 32-bit (compatibility mode) */
	.quad 0, 0                      /* 0x38 TSS (16 bytes, filled in by C) */
	.fill 7, 8, 0
gdt_end:
	.globl gdt_ptr32
gdt_ptr32:
	.word gdt_end - gdt - 1
	.long gdt

	.globl cpuid_ext_edx
cpuid_ext_edx:
	.long 0

	.bss
	.align 4096
	.globl pml4, pdpt, pd0, pd1, pt1
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
pd1:	.space 4096
pt1:	.space 4096
	.space 16384
	.globl boot_stack_top
boot_stack_top:
