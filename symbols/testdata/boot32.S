/* Multiboot entry for the 32-bit test kernel: sets up a stack in .bss and
 * calls kmain(magic, info). The CFI marks _start as the outermost frame. */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003
	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

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
	.cfi_undefined eip
	mov $boot_stack_top, %esp
	xor %ebp, %ebp
	push %ebx
	push %eax
	call kmain
1:	cli
	hlt
	jmp 1b
	.cfi_endproc
	.size _start, . - _start

/* int call_via_asm(int (*fn)(int), int arg): a frame-pointer function
 * without CFI, unwound by the prologue analyzer. */
	.globl call_via_asm
	.type call_via_asm, @function
call_via_asm:
	push %ebp
	mov %esp, %ebp
	pushl 12(%ebp)
	call *8(%ebp)
	leave
	ret
	.size call_via_asm, . - call_via_asm

	.section .note.GNU-stack, "", @progbits
