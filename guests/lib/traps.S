/*
 * Interrupt/exception entry stubs for vectors 0..255.
 * Each stub pushes a dummy error code (unless the CPU pushes one), then its
 * vector number, and joins trap_common, which builds a struct trapframe
 * (see lib.h) and calls trap_dispatch(frame). The handler may modify the
 * frame (EIP, registers) before we IRET.
 */
	.text
	.altmacro

	.macro STUB vec
	.align 8
stub_\vec:
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	/* the CPU pushed an error code */
	.else
	pushl $0
	.endif
	pushl $\vec
	jmp trap_common
	.endm

	.set i, 0
	.rept 256
	STUB %i
	.set i, i + 1
	.endr

trap_common:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movw $0x10, %ax                  /* kernel data segment */
	movw %ax, %ds
	movw %ax, %es
	cld
	pushl %esp                       /* trap_dispatch(frame) */
	call trap_dispatch
	addl $4, %esp
	popl %gs
	popl %fs
	popl %es
	popl %ds
	popal
	addl $8, %esp                    /* vector, error code */
	iretl

	.macro STUBADDR vec
	.long stub_\vec
	.endm

	.section .rodata
	.align 4
	.globl trap_stubs
trap_stubs:
	.set i, 0
	.rept 256
	STUBADDR %i
	.set i, i + 1
	.endr
