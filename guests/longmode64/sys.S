/*
 * longmode64 64-bit system code: interrupt stubs, fault catching, ring-3
 * entry and exit, the SYSCALL entry point, compatibility-mode code, and the
 * ring-3 test programs.
 */
#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UCODE32 0x1B
#define SEL_UDATA   0x23
#define SEL_UCODE64 0x2B
#define SEL_KCODE32 0x30

	.text
	.code64
	.altmacro

/* ---- interrupt entry: struct frame in longmode64.c ---- */
	.macro STUB vec
	.align 16
stub_\vec:
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0                        /* no CPU error code: push a dummy */
	.endif
	pushq $\vec
	jmp trap_common
	.endm

	.set i, 0
	.rept 256
	STUB %i
	.set i, i + 1
	.endr

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi                 /* trap_dispatch(frame); RSP is 16-byte aligned here */
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                  /* vector, error code */
	iretq

	.macro STUBADDR vec
	.quad stub_\vec
	.endm
	.section .rodata
	.align 8
	.globl trap_stubs
trap_stubs:
	.set i, 0
	.rept 256
	STUBADDR %i
	.set i, i + 1
	.endr
	.text

/*
 * long catch_fault(void (*fn)(u64), u64 arg): calls fn(arg) with catch_armed
 * set. If fn returns, returns -1 (fn's RAX is left in catch_value). If a
 * ring-0 exception happens, trap_dispatch records it and IRETQs to
 * catch_resume with RSP = catch_rsp, and catch_fault returns the vector.
 */
	.globl catch_fault, catch_resume
catch_fault:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, catch_rsp(%rip)
	subq $8, %rsp                   /* keep the ABI's 16-byte alignment for fn */
	movq %rdi, %rax
	movq %rsi, %rdi
	movq $1, catch_armed(%rip)
	call *%rax
	movq $0, catch_armed(%rip)
	movq %rax, catch_value(%rip)
	addq $8, %rsp
	movq $-1, %rax
	jmp 1f
catch_resume:
	movq $0, catch_armed(%rip)
	movq catch_vec(%rip), %rax
1:	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* Probes: single faulting instructions at known addresses. */
	.globl probe_load, probe_load_insn, probe_store, probe_store_insn
	.globl probe_call, probe_call_insn
probe_load:                             /* u64 probe_load(u64 addr) */
probe_load_insn:
	movq (%rdi), %rax
	ret
probe_store:                            /* void probe_store(u64 addr, u64 value) */
probe_store_insn:
	movq %rsi, (%rdi)
	ret
probe_call:                             /* u64 probe_call(u64 fn) */
	subq $8, %rsp
probe_call_insn:
	call *%rdi
	addq $8, %rsp
	ret

/*
 * u64 enter_user(u64 rip, u64 rsp, u64 cs): IRETQ to ring 3 (SS=0x23,
 * RFLAGS=0x2, DS=ES=0x23). Ring-3 code never returns: a system call or
 * trap handler calls return_to_kernel(value), which drops the ring-0 stack
 * it runs on and makes enter_user return value.
 */
	.globl enter_user, return_to_kernel
enter_user:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, kernel_ctx_rsp(%rip)
	movw $SEL_UDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	pushq $SEL_UDATA                /* SS */
	pushq %rsi                      /* RSP */
	pushq $0x2                      /* RFLAGS */
	pushq %rdx                      /* CS */
	pushq %rdi                      /* RIP */
	iretq

return_to_kernel:
	movq %rdi, %rax
	movq kernel_ctx_rsp(%rip), %rsp
	movw $SEL_KDATA, %dx
	movw %dx, %ss
	movw %dx, %ds
	movw %dx, %es
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/*
 * SYSCALL entry (LSTAR). SYSCALL does not switch stacks: save the user RSP
 * and move to syscall_stack. Records RCX, R11, the handler's RFLAGS, CS and
 * SS in globals before calling syscall_c(nr=RAX, a1=RDI, a2=RSI).
 */
	.globl syscall_entry
syscall_entry:
	movq %rsp, sc_user_rsp(%rip)
	leaq syscall_stack_top(%rip), %rsp
	pushfq                          /* before any flag-changing instruction */
	popq sc_rflags(%rip)
	movq %rcx, sc_rcx(%rip)
	movq %r11, sc_r11(%rip)
	movw %cs, sc_cs(%rip)
	movw %ss, sc_ss(%rip)
	pushq %rcx
	pushq %r11
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rdx, %rcx
	movq %rsi, %rdx
	movq %rdi, %rsi
	movq %rax, %rdi
	subq $8, %rsp
	call syscall_c
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	popq %r11
	popq %rcx
	movq sc_user_rsp(%rip), %rsp
	sysretq

/* ---- compatibility mode (ring 0, CS=0x30) ---- */

/*
 * u64 compat_call(void): far CALL (m16:32) into a 32-bit code segment; the
 * compat code runs 32-bit-only encodings and returns with a 32-bit RETF.
 * Result: EAX from compat code; compat_out[] filled in.
 */
	.globl compat_call, compat_jump
compat_call:
	pushq %rbx
	lcall *compat_call_ptr(%rip)
	popq %rbx
	movl %eax, %eax
	ret

	.code32
compat_call_target:
	movl $0x7FFFFFFF, %eax
	.byte 0x40                      /* INC EAX here; a REX prefix in 64-bit mode */
	movl %eax, compat_out           /* DS-relative absolute store */
	movl %esp, %ecx
	pushl $0x55
	subl %esp, %ecx                 /* 4: pushes are 32-bit */
	popl %edx
	movl %ecx, compat_out + 4
	movl 4(%esp), %edx              /* the far CALL pushed CS (32-bit slot) */
	movl %edx, compat_out + 8
	movl %cs, %edx
	movl %edx, compat_out + 12
	movl compat_in, %eax            /* 32-bit load */
	addl %eax, %eax
	lret

	.code64
/* u64 compat_jump(void): far JMP (m16:32) to compat code, which far JMPs back. */
compat_jump:
	pushq %rbx
	movq %rsp, compat_saved_rsp(%rip)
	ljmp *compat_jump_ptr(%rip)
compat_jump_back:
	movq compat_saved_rsp(%rip), %rsp
	popq %rbx
	movl %eax, %eax
	ret

	.code32
compat_jump_target:
	movl $0x80000000, %eax
	.byte 0x48                      /* DEC EAX here; REX.W in 64-bit mode */
	movl %cs, %ecx
	movl %ecx, compat_out + 16
	ljmp $SEL_KCODE, $compat_jump_back

/* ---- ring-3 programs ---- */

/*
 * 64-bit ring 3, entered by IRETQ: SYSCALL round trip (with RFLAGS masking),
 * a report of what ring 3 saw after SYSRET, then INT 0x80 through the DPL-3
 * gate, then exit through SYSCALL 0.
 */
	.code64
	.globl user_main64, user_sc_ret
user_main64:
	movl %cs, %edi
	andl $3, %edi                   /* arg1: CPL as ring 3 sees it */
	pushq $0x40CD7                  /* AC DF OF SF ZF AF PF CF */
	popfq
	movl $42, %eax
	syscall
user_sc_ret:
	pushfq
	popq %rsi                       /* arg2: RFLAGS after SYSRET */
	pushq $0x2
	popfq
	movq %rax, %rdi                 /* arg1: the value SYSCALL 42 returned */
	movl %cs, %edx                  /* arg3: CS << 16 | SS */
	shll $16, %edx
	movw %ss, %cx
	movw %cx, %dx
	movl $1, %eax                   /* report */
	syscall
	movl $0x80, %edi
	movq %rsp, %rsi
	movl $1, %eax                   /* INT 0x80 function 1: report frame */
	int $0x80
	movq %rax, %rdi
	xorl %eax, %eax                 /* SYSCALL 0: exit(value) */
	syscall
	ud2

/* Ring-3 faults: each of these traps to ring 0, which returns to the kernel. */
	.globl user_read_super, user_write_ro, user_mov_cr0, user_swapgs, user_int_dpl0
user_read_super:
	movq 0x40005000, %rax
	ud2
user_write_ro:
	movq %rax, 0x40007000
	ud2
user_mov_cr0:
	movq %cr0, %rax
	ud2
user_swapgs:
	swapgs
	ud2
user_int_dpl0:
	int $0x81
	ud2

/* 32-bit ring 3 (compatibility mode), entered by IRETQ with CS=0x1B. */
	.globl user_compat
	.code32
user_compat:
	movl %esp, %ecx
	pushl $0
	subl %esp, %ecx                 /* 4 */
	popl %edx
	movl $5, %eax
	.byte 0x48                      /* DEC EAX -> 4 */
	shll $8, %eax
	orl %ecx, %eax
	movl %eax, %edi                 /* 0x404 */
	xorl %eax, %eax                 /* INT 0x80 function 0: exit(EDI) */
	int $0x80
	ud2
	.code64

	.section .rodata
	.align 8
compat_call_ptr:
	.long compat_call_target
	.word SEL_KCODE32
	.align 8
compat_jump_ptr:
	.long compat_jump_target
	.word SEL_KCODE32

	.data
	.align 8
	.globl compat_out, compat_in
compat_out: .long 0, 0, 0, 0, 0
compat_in:  .long 0x12345678

	.bss
	.align 16
	.globl catch_armed, catch_rsp, catch_vec, catch_value
	.globl sc_user_rsp, sc_rflags, sc_rcx, sc_r11, sc_cs, sc_ss, kernel_ctx_rsp
catch_armed:      .quad 0
catch_rsp:        .quad 0
catch_vec:        .quad 0
catch_value:      .quad 0
kernel_ctx_rsp:   .quad 0
compat_saved_rsp: .quad 0
sc_user_rsp:      .quad 0
sc_rflags:        .quad 0
sc_rcx:           .quad 0
sc_r11:           .quad 0
sc_cs:            .quad 0
sc_ss:            .quad 0
	.align 16
	.space 8192
syscall_stack_top:
