/*
 * ENTER/LEAVE and PUSHA/POPA tests. They run on a private stack (tstack)
 * so that the C side can report every stack word relative to its top.
 */
	.text

/* void enter_test(int level, u32 out[4]):
 * out = {ESP-T after ENTER, EBP-T after ENTER, ESP-T after LEAVE, EBP-F after LEAVE}
 * with T = tstack_top and F = fake_frame (the caller's EBP during the test). */
	.globl enter_test
enter_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl 24(%esp), %edi
	movl %esp, saved_esp
	movl $tstack_top, %esp
	movl $fake_frame, %ebp
	cmpl $0, %eax
	je 0f
	cmpl $1, %eax
	je 1f
	enter $12, $3
	jmp 2f
0:	enter $12, $0
	jmp 2f
1:	enter $12, $1
2:	movl %esp, %eax
	subl $tstack_top, %eax
	movl %eax, 0(%edi)
	movl %ebp, %eax
	subl $tstack_top, %eax
	movl %eax, 4(%edi)
	leave
	movl %esp, %eax
	subl $tstack_top, %eax
	movl %eax, 8(%edi)
	movl %ebp, %eax
	subl $fake_frame, %eax
	movl %eax, 12(%edi)
	movl saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

/* void pusha_test(u32 out[16]):
 * out[0..7]  = the PUSHAD frame from ESP upwards (EDI ... EAX)
 * out[8..15] = EAX ECX EDX EBX ESP EBP ESI EDI after POPAD (whose stored
 *              ESP slot we corrupted first: POPAD must ignore it)
 * then PUSHAW/POPAW leave their 8-word frame just below tstack_top. */
	.globl pusha_test
pusha_test:
	pushl %ebp
	pushl %ebx
	pushl %esi
	pushl %edi
	movl 20(%esp), %eax
	movl %eax, outp
	movl %esp, saved_esp
	movl $tstack_top, %esp
	movl $0xA0A0A0A0, %eax
	movl $0xC1C1C1C1, %ecx
	movl $0xD2D2D2D2, %edx
	movl $0xB3B3B3B3, %ebx
	movl $0xB5B5B5B5, %ebp
	movl $0x56565656, %esi
	movl $0xD7D7D7D7, %edi
	pushal
	movl outp, %edi
	movl %esp, %esi
	movl $8, %ecx
	cld
	rep movsl
	movl $0xBAD0BAD0, 12(%esp)      /* the saved ESP: POPAD skips it */
	xorl %eax, %eax
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %ebx, %ebx
	xorl %ebp, %ebp
	xorl %esi, %esi
	xorl %edi, %edi
	popal
	pushl %edi
	movl outp, %edi
	movl %eax, 32(%edi)
	movl %ecx, 36(%edi)
	movl %edx, 40(%edi)
	movl %ebx, 44(%edi)
	leal 4(%esp), %eax
	movl %eax, 48(%edi)
	movl %ebp, 52(%edi)
	movl %esi, 56(%edi)
	popl %eax
	movl %eax, 60(%edi)

	movl $tstack_top, %esp
	movl $0x1111AAAA, %eax
	movl $0x2222CCCC, %ecx
	movl $0x3333DDDD, %edx
	movl $0x4444BBBB, %ebx
	movl $0x5555B0B0, %ebp
	movl $0x66665151, %esi
	movl $0x7777D1D1, %edi
	pushaw
	popaw
	movl saved_esp, %esp
	popl %edi
	popl %esi
	popl %ebx
	popl %ebp
	ret

	.data
	.align 4
	/* the "enclosing frames" display that ENTER copies for levels > 1 */
	.long 0xF4F4F4F4, 0xF3F3F3F3, 0xF2F2F2F2, 0xF1F1F1F1
	.globl fake_frame
fake_frame:
	.long 0

	.bss
	.align 4
saved_esp:
	.long 0
outp:
	.long 0
	.globl tstack, tstack_top
tstack:
	.space 256
tstack_top:
