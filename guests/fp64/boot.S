/*
 * fp64 boot: multiboot v1 entry in 32-bit protected mode, an identity map of
 * the first 1 GiB with 2 MiB pages, the switch to 64-bit long mode, and the
 * FPU/SSE set-up that code from gcc's default x86-64 target needs.
 *
 * Built as x86-64 objects, linked at 1 MiB and converted to ELF32 with
 * objcopy, as guests/longmode64 is (QEMU's -kernel loader refuses ELF64).
 *
 * Before any C code runs:
 *   CR0: MP=1 (WAIT/FWAIT honour TS), EM=0 (no x87/SSE emulation trap),
 *        NE=1 (x87 errors as #MF, not IRQ13), TS=0
 *   CR4: OSFXSR=1 (SSE instructions and FXSAVE/FXRSTOR with XMM state),
 *        OSXMMEXCPT=1 (unmasked SIMD exceptions as #XM, not #UD)
 *   FNINIT (FCW 0x037F) and MXCSR 0x1F80: the SysV ABI's initial state.
 * Every exception vector 0-31 goes to fp64_trap, which prints it and exits.
 */
#define MB_FLAGS 0x00000003

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

	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	/* Long mode (CPUID 0x80000001 EDX.29), SSE2 and FXSR (CPUID 1 EDX.26, .24). */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_features
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_features
	movl $1, %eax
	cpuid
	andl $0x05000000, %edx
	cmpl $0x05000000, %edx
	jne no_features

	movl $pdpt + 3, pml4
	movl $pd0 + 3, pdpt
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                 /* P|RW|PS */
	movl %eax, pd0(,%ecx,8)
	incl %ecx
	cmpl $512, %ecx
	jb 1b

	movl %cr4, %eax
	orl $0x620, %eax                /* PAE | OSFXSR | OSXMMEXCPT */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx
	rdmsr
	orl $0x100, %eax                /* EFER.LME */
	wrmsr
	lgdt gdt_ptr32
	movl %cr0, %eax
	andl $~0x0000000C, %eax         /* EM=0, TS=0 */
	orl $0x80000023, %eax           /* PG | NE | MP | PE */
	movl %eax, %cr0
	ljmp $0x08, $start64

no_features:
	movl $no_feat_msg, %esi
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
	movw %ax, %fs
	movw %ax, %gs
	movq $boot_stack_top, %rsp

	/* IDT: vectors 0-31, 64-bit interrupt gates to trap_stubs + 16*n. */
	leaq idt(%rip), %rdi
	leaq trap_stubs(%rip), %rdx
	xorl %ecx, %ecx
7:	movq %rdx, %rax
	movw %ax, (%rdi)                /* offset 15:0 */
	movw $0x08, 2(%rdi)             /* selector */
	movw $0x8E00, 4(%rdi)           /* P, DPL 0, 64-bit interrupt gate */
	shrq $16, %rax
	movw %ax, 6(%rdi)               /* offset 31:16 */
	shrq $16, %rax
	movl %eax, 8(%rdi)              /* offset 63:32 */
	movl $0, 12(%rdi)
	addq $16, %rdi
	addq $16, %rdx
	incl %ecx
	cmpl $32, %ecx
	jb 7b
	lidt idt_ptr(%rip)

	fninit
	ldmxcsr mxcsr_init(%rip)

	movl %esi, %edi                 /* kmain(magic, info) */
	movl %ebp, %esi
	call kmain                      /* RSP is 16-byte aligned before the call */
	movl $0x7E, %eax
	outl %eax, $0xF4
8:	hlt
	jmp 8b

/* One 16-byte stub per vector: push a zero error code where the CPU pushes
 * none, push the vector, go to the common code. */
	.align 16
trap_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.align 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
	.endr

trap_common:
	popq %rdi                       /* vector */
	popq %rsi                       /* error code */
	movq (%rsp), %rdx               /* RIP */
	andq $-16, %rsp
	call fp64_trap                  /* does not return */
9:	hlt
	jmp 9b

	.section .rodata
no_feat_msg:
	.asciz "fp64: CPU lacks long mode, SSE2 or FXSR\n"
	.align 4
mxcsr_init:
	.long 0x1F80

	.data
	.align 16
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF        /* 0x08 kernel code, 64-bit */
	.quad 0x00CF92000000FFFF        /* 0x10 kernel data */
gdt_end:
gdt_ptr32:
	.word gdt_end - gdt - 1
	.long gdt
	.align 8
idt_ptr:
	.word 32 * 16 - 1
	.quad idt

	.bss
	.align 4096
pml4:	.space 4096
pdpt:	.space 4096
pd0:	.space 4096
idt:	.space 32 * 16
	.align 16
	.space 65536
	.globl boot_stack_top
boot_stack_top:
