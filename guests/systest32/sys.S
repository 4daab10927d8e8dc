/*
 * Privilege transitions for systest32.
 *
 * enter_user(fn, user_esp) IRETs to fn in ring 3 (CS=0x1B, SS=DS=0x23,
 * EFLAGS=0x002: IF=0, IOPL=0). Ring-3 code never returns; instead a trap
 * handler (INT 0x80 function 0, or a fault) calls return_to_kernel(value),
 * which abandons the ring-0 trap stack and makes enter_user return value.
 */
	.text
	.globl enter_user
enter_user:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl %esp, kernel_ctx_esp
	movl 20(%esp), %eax             /* fn */
	movl 24(%esp), %ecx             /* user stack top */
	pushl $0x23                     /* SS: user data, RPL 3 */
	pushl %ecx                      /* ESP */
	pushl $0x002                    /* EFLAGS */
	pushl $0x1B                     /* CS: user code, RPL 3 */
	pushl %eax                      /* EIP */
	movw $0x23, %dx
	movw %dx, %ds
	movw %dx, %es
	movw %dx, %fs
	movw %dx, %gs
	iretl

	.globl return_to_kernel
return_to_kernel:
	movl 4(%esp), %eax
	movl kernel_ctx_esp, %esp
	movw $0x10, %dx
	movw %dx, %ds
	movw %dx, %es
	movw %dx, %fs
	movw %dx, %gs
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/*
 * Call gate target (ring 0). The CPU switched to the TSS ring-0 stack and
 * copied the gate's 2 parameter dwords: after PUSHAD the stack holds
 * regs[0..7], then EIP, CS, param (pushed last), param (pushed first),
 * caller ESP, caller SS. gate_c(regs) may change the saved EAX.
 */
	.globl gate_entry
gate_entry:
	pushal
	pushl %esp
	call gate_c
	addl $4, %esp
	popal
	lret $8                         /* return to ring 3, dropping the 2 params on both stacks */

	.bss
	.align 4
kernel_ctx_esp:
	.long 0
