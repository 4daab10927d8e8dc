/* Entry for the 64-bit user-style test program (run natively under gdb):
 * sets up a stack in .bss, calls kmain(magic, info) and exits. */
	.section .bss
	.align 16
	.globl boot_stack
	.type boot_stack, @object
boot_stack:
	.skip 16384
	.size boot_stack, 16384
boot_stack_top:

	.text
	.globl _start
	.type _start, @function
_start:
	.cfi_startproc
	.cfi_undefined rip
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	mov $0x2badb002, %edi
	xor %esi, %esi
	call kmain
	mov $60, %eax
	xor %edi, %edi
	syscall
	.cfi_endproc
	.size _start, . - _start

/* int call_via_asm(int (*fn)(int), int arg): a frame-pointer function
 * without CFI, unwound by the prologue analyzer. */
	.globl call_via_asm
	.type call_via_asm, @function
call_via_asm:
	push %rbp
	mov %rsp, %rbp
	mov %rdi, %rax
	mov %esi, %edi
	call *%rax
	leave
	ret
	.size call_via_asm, . - call_via_asm

	.section .note.GNU-stack, "", @progbits
