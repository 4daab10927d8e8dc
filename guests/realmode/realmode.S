/*
 * realmode: a 64 KiB BIOS ROM that never leaves real mode (except for the
 * two instructions it takes to load a 4 GiB segment limit for unreal mode).
 *
 * Linked at 0: every label is its offset within segment F000 (the ROM's
 * last 64 KiB appear at 0xF0000). The reset vector at offset 0xFFF0 jumps
 * to F000:start. Variables live in low RAM at 0000:0600 and are accessed
 * with an SS: override (SS stays 0).
 *
 * Tests: IVT dispatch (INT n, INT3, INTO, #DE, #UD) and IRET; segment
 * arithmetic and 16-bit offset wrap; default segments of BP/BX addressing;
 * A20 gating via port 0x92; unreal mode; 16-bit string instructions;
 * far calls/returns/jumps; 32-bit operands in real mode.
 */
	.code16
	.set COM1, 0x3F8
	.set FAILS, 0x600       /* failed checks */
	.set SAVED_IP, 0x602    /* written by the interrupt handlers */
	.set SAVED_CS, 0x604
	.set SAVED_FL, 0x606
	.set HANDLER_FL, 0x608
	.set HITS, 0x60A
	.set FARPTR, 0x620      /* offset:segment for indirect far transfers */

/* PRINT "text": print a string (stored in .rodata) */
	.macro PRINT s
	.pushsection .rodata
str\@:	.asciz "\s"
	.popsection
	pushw %si
	movw $str\@, %si
	call puts
	popw %si
	.endm

/* YESNO: print "yes" if ZF=1, else "NO" and count a failure. */
	.macro YESNO
	call yesno
	.endm

/* HEX16 reg / HEX32 reg / HEX8 reg: print a register or memory word in hex */
	.macro HEX16 x
	pushw %ax
	movw \x, %ax
	call puthex16
	popw %ax
	.endm
	.macro HEX32 x
	pushl %eax
	movl \x, %eax
	call puthex32
	popl %eax
	.endm
	.macro HEX8 x
	pushw %ax
	movb \x, %al
	call puthex8
	popw %ax
	.endm

	.text
start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ss
	movw $0x7C00, %sp
	movw %ax, %ds
	movw %ax, %es
	movw $0, %ss:FAILS
	call uart_init
	PRINT "realmode: CS="
	HEX16 %cs
	PRINT " SS:SP=0000:7c00\n"

/* ---------------------------------------------------------------- */
/* 1. Interrupts through the IVT                                     */
/* ---------------------------------------------------------------- */
	movw $int60, 0x60*4             /* DS=0: the IVT */
	movw %cs, 0x60*4+2
	movw $int3_h, 3*4
	movw %cs, 3*4+2
	movw $into_h, 4*4
	movw %cs, 4*4+2
	movw $de_h, 0*4
	movw %cs, 0*4+2
	movw $ud_h, 6*4
	movw %cs, 6*4+2

	PRINT "[int] INT 60h: "
	pushw $0
	popfw                           /* FLAGS = 0002: CF=0 IF=0 */
	movw $0x1234, %ax
	int $0x60
ret60:
	pushfw
	popw %bx
	PRINT "AX="
	HEX16 %ax
	PRINT " CF="
	movw %bx, %ax
	andw $1, %ax
	HEX16 %ax
	PRINT " saved FLAGS="
	HEX16 %ss:SAVED_FL
	PRINT " FLAGS in handler="
	HEX16 %ss:HANDLER_FL
	PRINT " return CS:IP ok: "
	cmpw $0xF000, %ss:SAVED_CS
	jne 1f
	cmpw $ret60, %ss:SAVED_IP
1:	YESNO

	PRINT "[int] INT3 (CC) returns after itself: "
	int3
ret3:
	cmpw $ret3, %ss:SAVED_IP
	YESNO

	PRINT "[int] INTO with OF=0 does nothing, with OF=1 calls vector 4: "
	movw $0, %ss:HITS
	pushw $0x0000
	popfw
	into
	pushw $0x0800
	popfw
	into
ret4:
	cmpw $1, %ss:HITS
	jne 1f
	cmpw $ret4, %ss:SAVED_IP
1:	YESNO

	PRINT "[int] #DE: saved IP points at the DIV: "
	movw $0x0100, %ax
	movb $0, %bl
de_insn:
	divb %bl                        /* 2 bytes; the handler skips it */
	cmpw $de_insn, %ss:SAVED_IP
	YESNO
	PRINT "[int] #UD: saved IP points at UD2: "
ud_insn:
	ud2
	cmpw $ud_insn, %ss:SAVED_IP
	YESNO

/* ---------------------------------------------------------------- */
/* 2. Segments and 16-bit addressing                                 */
/* ---------------------------------------------------------------- */
	PRINT "[seg] 1234:5678 and 179b:0008 are both linear 179b8: "
	movw $0x1234, %ax
	movw %ax, %ds
	movw $0xBEEF, 0x5678
	movw $0x179B, %ax
	movw %ax, %es
	cmpw $0xBEEF, %es:0x0008
	YESNO

	PRINT "[seg] DS=2000 BX=ffff: [BX+1] wraps to 2000:0000: "
	movw $0x2000, %ax
	movw %ax, %ds
	movb $0xAA, 0x0000              /* 0x20000 */
	movw $0x3000, %ax
	movw %ax, %es
	movb $0x55, %es:0x0000          /* 0x30000 = 2000:10000 without the wrap */
	movw $0xFFFF, %bx
	movb 1(%bx), %al
	cmpb $0xAA, %al
	YESNO

	PRINT "[seg] [BP] defaults to SS, [BX] to DS: "
	pushw $0x5A5A
	movw %sp, %bp
	movw %sp, %bx
	movw $0x1111, (%bx)             /* DS=2000: 2000:7bfe, not the stack */
	movw (%bp), %ax                 /* SS:7bfe */
	movw (%bx), %cx
	movw %ds:(%bp), %dx             /* override */
	popw %si
	HEX16 %ax
	PRINT " "
	HEX16 %cx
	PRINT " "
	HEX16 %dx
	PRINT "\n"

	PRINT "[seg] LEA 1234(BX,SI) with BX=f000 SI=2000 (16-bit wrap): "
	movw $0xF000, %bx
	movw $0x2000, %si
	leaw 0x1234(%bx,%si), %ax
	HEX16 %ax
	PRINT "\n"

	PRINT "[seg] LES from memory: "
	xorw %ax, %ax
	movw %ax, %ds
	movw $0x4321, FARPTR
	movw $0x8765, FARPTR+2
	lesw FARPTR, %di
	movw %es, %ax
	HEX16 %ax
	PRINT ":"
	HEX16 %di
	PRINT "\n"
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es

/* ---------------------------------------------------------------- */
/* 3. A20 gate (port 0x92 bit 1)                                      */
/* ---------------------------------------------------------------- */
	PRINT "[a20] at reset: port 0x92="
	inb $0x92, %al
	HEX8 %al
	call a20_wraps
	inb $0x92, %al
	andb $0xFC, %al                 /* A20 off (never write bit 0: reset) */
	outb %al, $0x92
	PRINT "[a20] off:      port 0x92="
	inb $0x92, %al
	HEX8 %al
	call a20_wraps
	inb $0x92, %al
	orb $0x02, %al
	andb $0xFE, %al
	outb %al, $0x92
	PRINT "[a20] on:       port 0x92="
	inb $0x92, %al
	HEX8 %al
	call a20_wraps

/* ---------------------------------------------------------------- */
/* 4. Unreal mode: 4 GiB limits in DS/ES, back in real mode           */
/* ---------------------------------------------------------------- */
	PRINT "[unreal] PE on, load DS/ES from a 4 GiB descriptor, PE off\n"
	lgdtl %cs:gdt_desc
	movl %cr0, %eax
	orb $1, %al
	movl %eax, %cr0
	jmp 1f                          /* CS keeps its real-mode cache */
1:	movw $0x08, %bx
	movw %bx, %ds
	movw %bx, %es
	andb $0xFE, %al
	movl %eax, %cr0
	jmp 2f
2:	xorw %ax, %ax                   /* real-mode loads set the base, keep the limit */
	movw %ax, %ds
	movw %ax, %es
	movl $0x00200000, %esi
	movl $0xC0FFEE01, (%esi)        /* 67h prefix: 32-bit address in real mode */
	movl $0x01000000, %edi
	movl $0x12345678, %es:(%edi)
	PRINT "[unreal] [00200000]="
	HEX32 (%esi)
	PRINT " [01000000]="
	HEX32 %es:(%edi)
	PRINT "\n"
	PRINT "[unreal] DS=1000 ESI=001f0000 reads 00200000: "
	movw $0x1000, %ax
	movw %ax, %ds
	movl $0x001F0000, %esi
	cmpl $0xC0FFEE01, (%esi)
	YESNO
	xorw %ax, %ax
	movw %ax, %ds

/* ---------------------------------------------------------------- */
/* 5. 16-bit string instructions                                      */
/* ---------------------------------------------------------------- */
	movw $0x2000, %ax               /* 2000:0000..003f = 01 04 07 ... */
	movw %ax, %es
	xorw %di, %di
	movw $64, %cx
	movb $1, %al
1:	stosb
	addb $3, %al
	loop 1b
	movb $0xEE, %es:0xFFFF          /* last byte of the segment */
	movw $0x3000, %ax               /* clear 3000:0000..00ff */
	movw %ax, %es
	xorw %di, %di
	movw $128, %cx
	xorw %ax, %ax
	rep stosw

	PRINT "[str] rep movsb 2000:0005 -> 3000:0010 cx=7: "
	movw $0x2000, %ax
	movw %ax, %ds
	movw $0x3000, %ax
	movw %ax, %es
	movw $5, %si
	movw $0x10, %di
	movw $7, %cx
	cld
	rep movsb
	call show_sdc
	movw $0x10, %bx
	call dump8

	PRINT "[str] std rep movsw 2000:0020 -> 3000:0030 cx=3: "
	movw $0x20, %si
	movw $0x30, %di
	movw $3, %cx
	std
	rep movsw
	cld
	call show_sdc
	movw $0x2C, %bx
	call dump8

	PRINT "[str] rep movsb from SI=ffff wraps to 0000: "
	movw $0xFFFF, %si
	movw $0x40, %di
	movw $3, %cx
	rep movsb
	call show_sdc
	movw $0x40, %bx
	call dump8

	PRINT "[str] repe cmpsb (differs at 4): "
	xorw %si, %si
	movw $0x50, %di
	movw $8, %cx
	rep movsb                       /* copy 8 bytes, then spoil one */
	movb $0, %es:0x54
	xorw %si, %si
	movw $0x50, %di
	movw $8, %cx
	repe cmpsb
	pushfw
	call show_sdc
	popw %ax
	andw $0x8D5, %ax
	PRINT " flags="
	HEX16 %ax
	PRINT "\n"

	PRINT "[str] repne scasb for 16 in 2000:0000: "
	movw $0x2000, %ax
	movw %ax, %es
	xorw %di, %di
	movw $64, %cx
	movb $0x16, %al
	repne scasb
	call show_sdc
	PRINT "\n"

	PRINT "[str] lodsw x2, std lodsb: "
	movw $0x2000, %ax
	movw %ax, %ds
	movw $0x10, %si
	lodsw
	movw %ax, %bx
	lodsw
	movw %ax, %dx
	std
	lodsb
	cld
	HEX16 %bx
	PRINT " "
	HEX16 %dx
	PRINT " "
	HEX8 %al
	PRINT " si="
	HEX16 %si
	PRINT "\n"
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es

/* ---------------------------------------------------------------- */
/* 6. Far calls, returns and jumps                                    */
/* ---------------------------------------------------------------- */
	PRINT "[far] lcall f800:xxxx: callee saw CS="
	lcall $0xF800, $(farproc - 0x8000)
ret_far1:
	HEX16 %ax
	PRINT " caller CS:IP on stack="
	HEX16 %dx
	PRINT ":"
	cmpw $ret_far1, %bx
	YESNO

	PRINT "[far] params + retf 4: sum="
	movw %sp, %di
	pushw $0x1111
	pushw $0x2222
	lcall $0xF800, $(farproc_params - 0x8000)
	HEX16 %ax
	PRINT " SP balanced: "
	cmpw %sp, %di
	YESNO

	PRINT "[far] indirect lcall through memory: CS="
	movw $(farproc - 0x8000), %ss:FARPTR
	movw $0xF800, %ss:FARPTR+2
	lcall *%ss:FARPTR
	HEX16 %ax
	PRINT "\n"

	PRINT "[far] indirect ljmp there and direct ljmp back: "
	movw $(farjump - 0x8000), %ss:FARPTR
	movw $0xF800, %ss:FARPTR+2
	movw $0, %ax
	ljmp *%ss:FARPTR
far_back:
	cmpw $0xF800, %ax
	YESNO

	PRINT "[far] push cs; call near; retf: "
	movw $0, %ax
	pushw %cs
	call nearfar
	cmpw $0x4242, %ax
	YESNO

/* ---------------------------------------------------------------- */
/* 7. 32-bit operands in real mode                                    */
/* ---------------------------------------------------------------- */
	PRINT "[op32] "
	movl $0x89ABCDEF, %eax
	addl $0x76543211, %eax          /* = 0 with carry */
	pushfw
	popw %bx
	andw $0x8D5, %bx
	HEX32 %eax
	PRINT " flags="
	HEX16 %bx
	movw %sp, %cx
	pushl $0x11223344               /* 66h push: 4 bytes */
	movw %sp, %dx
	popl %eax
	subw %dx, %cx
	PRINT " pushl moved SP by "
	HEX16 %cx
	PRINT " popped "
	HEX32 %eax
	movl $0x80000000, %ebx
	shrdl $4, %ebx, %eax
	PRINT " shrd "
	HEX32 %eax
	PRINT "\n"

/* ---------------------------------------------------------------- */
	cmpw $0, %ss:FAILS
	jne 1f
	PRINT "realmode: PASS\n"
	movl $0, %eax
	jmp exit
1:	PRINT "realmode: FAIL\n"
	movl $1, %eax
exit:
	movw $0xF4, %dx                 /* isa-debug-exit */
	outl %eax, %dx
2:	hlt
	jmp 2b

/* ---------------------------------------------------------------- */
/* Interrupt handlers                                                 */
/* ---------------------------------------------------------------- */
/* save the IRET frame ([BP+2] IP, [BP+4] CS, [BP+6] FLAGS) */
save_frame:                             /* called with BP = frame - 2 */
	pushw %ax
	movw 2(%bp), %ax
	movw %ax, %ss:SAVED_IP
	movw 4(%bp), %ax
	movw %ax, %ss:SAVED_CS
	movw 6(%bp), %ax
	movw %ax, %ss:SAVED_FL
	popw %ax
	ret

int60:                                  /* AX = 2*AX+1, return with CF=1 */
	pushw %bp
	movw %sp, %bp
	call save_frame
	pushfw
	popw %ss:HANDLER_FL
	orw $1, 6(%bp)                  /* CF in the caller's FLAGS */
	shlw $1, %ax
	incw %ax
	popw %bp
	iret

int3_h:
into_h:
	pushw %bp
	movw %sp, %bp
	call save_frame
	incw %ss:HITS
	popw %bp
	iret

de_h:                                   /* faults: skip the 2-byte instruction */
ud_h:
	pushw %bp
	movw %sp, %bp
	call save_frame
	addw $2, 2(%bp)
	popw %bp
	iret

/* ---------------------------------------------------------------- */
/* Helpers                                                            */
/* ---------------------------------------------------------------- */
/* a20_wraps: write 11h at 0000:0500 and 22h at ffff:0510 (linear
 * 100500h); the first reads 22h if the address wrapped. */
a20_wraps:
	pushw %ds
	pushw %es
	xorw %ax, %ax
	movw %ax, %ds
	movw $0xFFFF, %ax
	movw %ax, %es
	movb $0x11, 0x0500
	movb $0x22, %es:0x0510
	PRINT " wraps at 1 MiB: "
	cmpb $0x22, 0x0500
	jne 1f
	PRINT "yes\n"
	jmp 2f
1:	PRINT "no\n"
2:	popw %es
	popw %ds
	ret

/* show_sdc: print SI DI CX */
show_sdc:
	PRINT "si="
	HEX16 %si
	PRINT " di="
	HEX16 %di
	PRINT " cx="
	HEX16 %cx
	ret

/* dump8: print 8 bytes at ES:BX */
dump8:
	pushw %cx
	PRINT " ->"
	movw $8, %cx
1:	PRINT " "
	HEX8 %es:(%bx)
	incw %bx
	loop 1b
	PRINT "\n"
	popw %cx
	ret

nearfar:                                /* entered with CS pushed, returns far */
	movw $0x4242, %ax
	lret

yesno:
	jne 1f
	PRINT "yes\n"
	ret
1:	PRINT "NO\n"
	incw %ss:FAILS
	ret

uart_init:
	movw $COM1+1, %dx
	movb $0x00, %al
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x80, %al
	outb %al, %dx
	movw $COM1, %dx
	movb $0x01, %al
	outb %al, %dx
	movw $COM1+1, %dx
	movb $0x00, %al
	outb %al, %dx
	movw $COM1+3, %dx
	movb $0x03, %al
	outb %al, %dx
	ret

putc:                                   /* AL */
	pushw %dx
	pushw %ax
	movw $COM1+5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	popw %ax
	movw $COM1, %dx
	outb %al, %dx
	popw %dx
	ret

puts:                                   /* CS:SI, preserves flags for YESNO users */
	pushfw
	pushw %ax
	pushw %si
1:	movb %cs:(%si), %al
	incw %si
	testb %al, %al
	jz 2f
	call putc
	jmp 1b
2:	popw %si
	popw %ax
	popfw
	ret

puthex32:                               /* EAX */
	rorl $16, %eax
	call puthex16
	rorl $16, %eax
puthex16:                               /* AX */
	xchgb %al, %ah
	call puthex8
	xchgb %al, %ah
puthex8:                                /* AL */
	pushw %ax
	rolb $4, %al
	call nibble
	rolb $4, %al
	call nibble
	popw %ax
	ret
nibble:
	pushw %ax
	andb $0x0F, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 1f
	addb $('a' - '9' - 1), %al
1:	call putc
	popw %ax
	ret

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00CF93000000FFFF        /* 0x08: data, base 0, limit 4 GiB, accessed */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt + 0xF0000             /* linear address: segment F000 */

/* ---------------------------------------------------------------- */
/* Code reached through CS=F800 (linked at 0x8000 = F800:0000)        */
/* ---------------------------------------------------------------- */
	.section .text.far, "ax"
farproc:                                /* AX=CS, DX:BX = return address */
	pushw %bp
	movw %sp, %bp
	movw %cs, %ax
	movw 2(%bp), %bx
	movw 4(%bp), %dx
	popw %bp
	lret

farproc_params:                         /* AX = sum of the two word params; RETF 4 */
	pushw %bp
	movw %sp, %bp
	movw 6(%bp), %ax
	addw 8(%bp), %ax
	popw %bp
	lret $4

farjump:
	movw %cs, %ax
	ljmp $0xF000, $far_back

/* ---------------------------------------------------------------- */
	.section .reset, "ax"
	.globl reset
reset:
	ljmp $0xF000, $start
	.fill 16 - (. - reset), 1, 0xFF
