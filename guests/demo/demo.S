/*
 * glassbox demo ROM: a 64 KiB BIOS image that shows off the CPU.
 *
 * The CPU starts at the reset vector 0xFFFFFFF0 (CS=F000, CS.base=FFFF0000,
 * real mode). The ROM's last 64 KiB are also visible at 0xF0000-0xFFFFF, and
 * this image is linked at 0xF0000: real-mode code runs with CS=F000 (offset =
 * address - 0xF0000) and the 32-bit code runs at its link address in a flat
 * segment. Nothing is copied to RAM.
 *
 * Phases (each writes a POST code to port 0x80):
 *   01 real mode: banner, reset CR0       02 A20 on via port 0x92
 *   03 protected mode (GDT in ROM)        04 IDT in RAM (#UD #GP #PF)
 *   05 paging: identity map 0-4 MiB       06.. fault and paging demos
 *   AA done: "demo: PASS", exit code 0 via isa-debug-exit (port 0xF4)
 *
 * RAM used: 0x1000 IDT, 0x10000 page directory, 0x11000 page table,
 * 0x200000-0x204FFF test pages, stack below 0x80000, 0x500 variables.
 */

	.set ROMBASE, 0xF0000
	.set COM1, 0x3F8
	.set IDT, 0x1000
	.set PD, 0x10000
	.set PT0, 0x11000
	.set STACK32, 0x80000
	.set RECOVER_EIP, 0x500   /* where #GP resumes */
	.set FAILS, 0x504         /* number of failed checks */
	.set PAGE_NP, 0x200000    /* starts not present */
	.set PAGE_RO, 0x201000    /* starts read-only */
	.set PAGE_UNTOUCHED, 0x202000
	.set PAGE_READ, 0x203000
	.set PAGE_WRITTEN, 0x204000

	.macro POST code
	movb $\code, %al
	outb %al, $0x80
	.endm

/* ------------------------------------------------------------------ */
/* 16-bit real mode                                                    */
/* ------------------------------------------------------------------ */

	.macro PRINT16 s
	.pushsection .text, 1           /* same section: offset is a constant */
str\@:	.asciz "\s"
	.popsection
	movw $(str\@ - rom_start), %si
	call puts16
	.endm

	.code16
	.text
rom_start:                              /* = 0xF0000, offset 0 in segment F000 */
start16:
	cli
	cld
	movl %cr0, %ebx                 /* keep the reset value of CR0 */
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7C00, %sp
	movw %cs, %ax
	movw %ax, %ds                   /* DS=CS=F000: strings are in the ROM */
	POST 0x01
	call uart_init16
	PRINT16 "glassbox demo ROM\n"
	PRINT16 "POST 01 real mode: CS="
	movw %cs, %ax
	call puthex16
	PRINT16 " IP="
	call 1f                         /* push IP, then pop it */
1:	popw %ax
	call puthex16
	PRINT16 " CR0="
	movl %ebx, %eax
	call puthex32_16
	PRINT16 "\n"

	/* A20: the "fast A20" bit of System Control Port A. Bit 0 would reset. */
	POST 0x02
	inb $0x92, %al
	orb $0x02, %al
	andb $0xFE, %al
	outb %al, $0x92
	PRINT16 "POST 02 A20 enabled, port 0x92="
	inb $0x92, %al
	movzbw %al, %ax
	call puthex16
	PRINT16 "\n"

	/* Protected mode: the GDT and its descriptor live in the ROM. */
	lgdtl (gdt_desc - rom_start)
	movl %cr0, %eax
	andl $0x9FFFFFFF, %eax          /* clear CD and NW: caches on, like a real BIOS */
	orl $1, %eax                    /* PE */
	movl %eax, %cr0
	ljmpl $0x08, $start32           /* 32-bit far jump into the flat code segment */

/* 16-bit helpers. puts16: DS:SI string. puthex16: AX. puthex32_16: EAX. */
uart_init16:
	movw $COM1+1, %dx
	movb $0x00, %al                 /* no UART interrupts */
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x80, %al                 /* DLAB */
	outb %al, %dx
	movw $COM1, %dx
	movb $0x01, %al                 /* divisor 1: 115200 baud */
	outb %al, %dx
	movw $COM1+1, %dx
	movb $0x00, %al
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x03, %al                 /* 8N1 */
	outb %al, %dx
	ret

putc16:
	pushw %dx
	pushw %ax
	movw $COM1+5, %dx
1:	inb %dx, %al
	testb $0x20, %al                /* LSR.THRE: transmitter ready */
	jz 1b
	popw %ax
	movw $COM1, %dx
	outb %al, %dx
	popw %dx
	ret

puts16:
	pushw %ax
1:	lodsb
	testb %al, %al
	jz 2f
	call putc16
	jmp 1b
2:	popw %ax
	ret

puthex32_16:
	rorl $16, %eax
	call puthex16
	rorl $16, %eax
	/* fall through */
puthex16:
	pushw %cx
	pushw %ax
	movw $4, %cx
1:	rolw $4, %ax
	pushw %ax
	andb $0x0F, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 2f
	addb $('a' - '9' - 1), %al
2:	call putc16
	popw %ax
	loop 1b
	popw %ax
	popw %cx
	ret

/* ------------------------------------------------------------------ */
/* 32-bit protected mode                                               */
/* ------------------------------------------------------------------ */

	.macro PRINT s
	.pushsection .rodata
str\@:	.asciz "\s"
	.popsection
	pushl %esi
	movl $str\@, %esi
	call puts32
	popl %esi
	.endm

	.macro PRINTHEX reg
	pushl %eax
	movl \reg, %eax
	call puthex32
	popl %eax
	.endm

	/* CHECK actual, expected: count a failure if they differ */
	.macro CHECK actual, expected
	cmpl \expected, \actual
	je 1f
	incl FAILS
	PRINT "    ^^^ unexpected value\n"
1:
	.endm

	.code32
start32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movl $STACK32, %esp
	movl $0, FAILS
	POST 0x03
	PRINT "POST 03 protected mode, CR0="
	movl %cr0, %eax
	PRINTHEX %eax
	PRINT "\n"

	/* IDT: 32 interrupt gates (selector 0x08, P=1 DPL=0 type 0xE). The
	 * stubs are 16 bytes apart, starting at exc_stubs. */
	POST 0x04
	movl $IDT, %edi
	movl $exc_stubs, %edx
	movl $32, %ecx
1:	movl %edx, %eax
	andl $0xFFFF, %eax
	orl $(0x08 << 16), %eax
	movl %eax, (%edi)               /* offset 15..0, selector */
	movl %edx, %eax
	andl $0xFFFF0000, %eax
	orl $0x8E00, %eax
	movl %eax, 4(%edi)              /* offset 31..16, P DPL type */
	addl $8, %edi
	addl $16, %edx
	loop 1b
	lidtl idt_desc
	PRINT "POST 04 IDT loaded: 32 exception gates\n"

	/* Page tables: identity map 0-4 MiB with 4 KiB pages (P|RW), which
	 * covers RAM, the stack and this ROM at 0xF0000. */
	POST 0x05
	movl $PT0, %edi
	movl $0x003, %eax
	movl $1024, %ecx
1:	stosl
	addl $0x1000, %eax
	loop 1b
	movl $PD, %edi
	xorl %eax, %eax
	movl $1024, %ecx
	rep stosl
	movl $(PT0 | 0x003), PD
	andl $~1, PT0 + (PAGE_NP >> 12) * 4   /* not present */
	andl $~2, PT0 + (PAGE_RO >> 12) * 4   /* read-only */
	movl $0xCAFEBABE, PAGE_NP             /* paging is still off: physical writes */
	movl $0x12345678, PAGE_RO
	movl $0x11111111, PAGE_READ
	movl $PD, %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $0x80010000, %eax                 /* PG and WP */
	movl %eax, %cr0
	PRINT "POST 05 paging on: CR0="
	movl %cr0, %eax
	PRINTHEX %eax
	PRINT " CR3="
	movl %cr3, %eax
	PRINTHEX %eax
	PRINT "\n"

	/* (1) read a not-present page: #PF, the handler maps it, the MOV restarts. */
	POST 0x06
	PRINT "[1] read not-present page 00200000\n"
	movl PAGE_NP, %eax
	PRINT "    handler mapped the page, MOV restarted: read "
	PRINTHEX %eax
	PRINT "\n"
	CHECK %eax, $0xCAFEBABE

	/* (2) write a read-only page with CR0.WP=1: #PF error 3 (P|W). */
	POST 0x07
	PRINT "[2] write read-only page 00201000\n"
	movl $0x600DF00D, PAGE_RO
	movl PAGE_RO, %eax
	PRINT "    handler made it writable, MOV restarted: wrote "
	PRINTHEX %eax
	PRINT "\n"
	CHECK %eax, $0x600DF00D

	/* (3) Accessed/dirty bits the CPU set in the PTEs. */
	POST 0x08
	movl PAGE_READ, %eax
	movl $0x22222222, PAGE_WRITTEN
	movl $PAGE_NP, %ebx
	movl $note_np, %esi
	call show_ad
	movl $PAGE_RO, %ebx
	movl $note_ro, %esi
	call show_ad
	movl $PAGE_UNTOUCHED, %ebx
	movl $note_untouched, %esi
	call show_ad
	movl $PAGE_READ, %ebx
	movl $note_read, %esi
	call show_ad
	movl $PAGE_WRITTEN, %ebx
	movl $note_written, %esi
	call show_ad

	/* (4) UD2: #UD, the handler skips the 2-byte instruction. */
	POST 0x09
	PRINT "[4] ud2\n"
	movl $0, %ecx
	ud2
	movl $1, %ecx                   /* executed after the handler returns */
	PRINT "    resumed after ud2\n"
	CHECK %ecx, $1

	/* (5) A selector beyond the GDT limit: #GP with the selector as error code. */
	POST 0x0A
	PRINT "[5] load selector 0x0028 into ES (GDT has 3 entries)\n"
	movl $1f, RECOVER_EIP
	movw $0x28, %ax
	movw %ax, %es
1:	PRINT "    recovered, ES="
	movw %es, %ax
	movzwl %ax, %eax
	PRINTHEX %eax
	PRINT "\n"

	/* (6) Compute something: CRC-32 (IEEE) of a well-known string. */
	POST 0x0B
	movl $fox, %esi
	movl $(fox_end - fox), %ecx
	call crc32
	PRINT "[6] crc32(\"The quick brown fox jumps over the lazy dog\") = "
	PRINTHEX %eax
	PRINT "\n"
	CHECK %eax, $0x414FA339

	POST 0xAA
	cmpl $0, FAILS
	jne 1f
	PRINT "demo: PASS\n"
	movl $0, %eax
	jmp exit
1:	PRINT "demo: FAIL\n"
	movl $1, %eax
exit:
	movw $0xF4, %dx                 /* isa-debug-exit: QEMU exits with (EAX<<1)|1 */
	outl %eax, %dx
2:	cli                             /* no such device: just stop */
	hlt
	jmp 2b

/* show_ad: print the A and D bits of the PTE mapping EBX, then the note at ESI. */
show_ad:
	PRINT "[3] PTE of page "
	PRINTHEX %ebx
	movl %ebx, %eax
	shrl $12, %eax
	movl PT0(,%eax,4), %eax
	PRINT ": A="
	pushl %eax
	shrl $5, %eax
	andl $1, %eax
	addl $'0', %eax
	call putc32
	popl %eax
	PRINT " D="
	shrl $6, %eax
	andl $1, %eax
	addl $'0', %eax
	call putc32
	call puts32
	PRINT "\n"
	ret

/* crc32: ESI=data, ECX=length -> EAX. Bitwise, reflected polynomial 0xEDB88320. */
crc32:
	pushl %edx
	pushl %ebx
	movl $0xFFFFFFFF, %eax
1:	xorb (%esi), %al
	incl %esi
	movl $8, %edx
2:	movl %eax, %ebx
	shrl $1, %eax
	andl $1, %ebx
	negl %ebx
	andl $0xEDB88320, %ebx
	xorl %ebx, %eax
	decl %edx
	jnz 2b
	loop 1b
	notl %eax
	popl %ebx
	popl %edx
	ret

/* ------------------------------------------------------------------ */
/* Exception handling                                                  */
/* ------------------------------------------------------------------ */

/* One 16-byte stub per vector 0..31: push a dummy error code where the CPU
 * doesn't push one, push the vector number, and go to exc_common. */
	.macro EXCSTUB vec
	.balign 16, 0xCC
	.if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17)
	pushl $\vec
	.else
	pushl $0
	pushl $\vec
	.endif
	jmp exc_common
	.endm

	.balign 16, 0xCC
exc_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXCSTUB \v
	.endr

/* Stack after pushal: 0..31 registers, 32 vector, 36 error code, 40 EIP, 44 CS, 48 EFLAGS. */
	.set F_VEC, 32
	.set F_ERR, 36
	.set F_EIP, 40

exc_common:
	pushal
	movl F_VEC(%esp), %ebx
	PRINT "    exception "
	cmpl $6, %ebx
	jne 1f
	PRINT "#UD"
	jmp 4f
1:	cmpl $13, %ebx
	jne 2f
	PRINT "#GP"
	jmp 4f
2:	cmpl $14, %ebx
	jne 3f
	PRINT "#PF"
	jmp 4f
3:	PRINT "vector "
	PRINTHEX %ebx
4:	PRINT " err="
	movl F_ERR(%esp), %eax
	PRINTHEX %eax
	PRINT " cr2="
	movl %cr2, %eax
	PRINTHEX %eax
	PRINT " eip="
	movl F_EIP(%esp), %eax
	PRINTHEX %eax
	PRINT "\n"

	cmpl $6, %ebx
	je ud_fix
	cmpl $13, %ebx
	je gp_fix
	cmpl $14, %ebx
	je pf_fix
	PRINT "demo: FAIL (unexpected exception)\n"
	movl $1, %eax
	jmp exit

ud_fix:                                 /* skip the UD2 (0F 0B) */
	addl $2, F_EIP(%esp)
	jmp exc_return

gp_fix:                                 /* resume where the test asked */
	movl RECOVER_EIP, %eax
	movl %eax, F_EIP(%esp)
	jmp exc_return

pf_fix:                                 /* make the page present and writable, restart */
	movl %cr2, %eax
	cmpl $0x400000, %eax
	jae 1f
	shrl $12, %eax
	orl $0x003, PT0(,%eax,4)
	movl %cr2, %eax
	invlpg (%eax)                   /* drop any stale (read-only) translation */
	jmp exc_return
1:	PRINT "demo: FAIL (#PF outside the page table)\n"
	movl $1, %eax
	jmp exit

exc_return:
	popal
	addl $8, %esp                   /* vector and error code */
	iretl

/* 32-bit output helpers. putc32: AL. puts32: ESI. puthex32: EAX. */
putc32:
	pushl %edx
	pushl %eax
	movw $COM1+5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	popl %eax
	movw $COM1, %dx
	outb %al, %dx
	popl %edx
	ret

puts32:
	pushl %esi
	pushl %eax
1:	lodsb
	testb %al, %al
	jz 2f
	call putc32
	jmp 1b
2:	popl %eax
	popl %esi
	ret

puthex32:
	pushl %ecx
	pushl %eax
	movl $8, %ecx
1:	roll $4, %eax
	pushl %eax
	andb $0x0F, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 2f
	addb $('a' - '9' - 1), %al
2:	call putc32
	popl %eax
	loop 1b
	popl %eax
	popl %ecx
	ret

/* ------------------------------------------------------------------ */
/* Read-only data                                                      */
/* ------------------------------------------------------------------ */
	.pushsection .text, 1           /* real mode reads gdt_desc at CS:offset */
	.balign 8
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00CF9B000000FFFF        /* 0x08 code: base 0, limit 4 GiB, 32-bit, ring 0, accessed */
	.quad 0x00CF93000000FFFF        /* 0x10 data: base 0, limit 4 GiB, ring 0, accessed */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt                       /* linear address of the 0xF0000 alias */
	.popsection

	.section .rodata
idt_desc:
	.word 32 * 8 - 1
	.long IDT
note_np:	.asciz "  (read after #PF)"
note_ro:	.asciz "  (written after #PF)"
note_untouched:	.asciz "  (never touched)"
note_read:	.asciz "  (read)"
note_written:	.asciz "  (written)"
fox:
	.ascii "The quick brown fox jumps over the lazy dog"
fox_end:

/* ------------------------------------------------------------------ */
/* Reset vector: linked at 0xFFFF0 = ROM offset 0xFFF0 (0xFFFFFFF0)    */
/* ------------------------------------------------------------------ */
	.section .reset, "ax"
	.code16
	.globl reset
reset:
	ljmp $0xF000, $(start16 - rom_start)   /* reload CS: base becomes 0xF0000 */
	.fill 16 - (. - reset), 1, 0xFF
