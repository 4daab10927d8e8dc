/*
 * Multiboot v1 entry point shared by the multiboot guests.
 * The boot loader (QEMU -kernel, GRUB, ...) enters _start in 32-bit protected
 * mode with flat segments, paging off, EAX=0x2BADB002 and EBX=&multiboot_info.
 */
	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002                 /* magic */
	.long 0x00000003                 /* flags: page-align modules, want memory info */
	.long -(0x1BADB002 + 0x00000003) /* checksum */

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	movl %eax, %esi                  /* keep magic and info pointer */
	movl %ebx, %ebp

	/* Zero .bss (the stack lives there too; nothing is on it yet). */
	cld
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	pushl $0x2                       /* EFLAGS: everything clear */
	popfl

	pushl %ebp                       /* kmain(magic, info) */
	pushl %esi
	call kmain
	pushl $0x7E                      /* kmain returned: exit code 0x7E */
	call exit_qemu

	.bss
	.align 16
	.space 32768
	.globl stack_top
stack_top:
