/*
 * gdbstub test kernel: multiboot v1 entry. The loader enters _start in
 * 32-bit protected mode with flat segments and paging off.
 */
	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002
	.long 0x00000003
	.long -(0x1BADB002 + 0x00000003)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	xorl %ebp, %ebp                  /* end of the frame chain for bt */
	pushl $0x2
	popfl
	call kmain
	movl $0x7e, %eax                 /* kmain returned: exit 0x7e */
	outl %eax, $0xf4
1:	hlt
	jmp 1b

	.bss
	.align 16
	.space 16384
	.globl stack_top
stack_top:
