#ifndef MBFLAGS
#define MBFLAGS 0x00000003
#endif
	.text
	.globl _start
	.align 4
mbhdr:
	.long 0x1BADB002
	.long MBFLAGS
	.long -(0x1BADB002 + MBFLAGS)
#if MBFLAGS & 0x10000
	.long mbhdr      /* header_addr */
	.long mbhdr      /* load_addr: header is first byte of loaded image */
	.long _edata     /* load_end_addr */
	.long _end       /* bss_end_addr */
	.long _start     /* entry_addr */
#endif
_start:
	mov %eax, sv+0
	mov %ebx, sv+4
	mov %ecx, sv+8
	mov %edx, sv+12
	mov %esi, sv+16
	mov %edi, sv+20
	mov %esp, sv+24
	mov %ebp, sv+28
	mov $stacktop, %esp
	pushf
	pop %eax
	mov %eax, sv+32
	mov %cr0, %eax
	mov %eax, sv+36
	mov %cr3, %eax
	mov %eax, sv+40
	mov %cr4, %eax
	mov %eax, sv+44
	mov %cs, %ax
	mov %ax, sv+48
	mov %ds, %ax
	mov %ax, sv+50
	mov %es, %ax
	mov %ax, sv+52
	mov %fs, %ax
	mov %ax, sv+54
	mov %gs, %ax
	mov %ax, sv+56
	mov %ss, %ax
	mov %ax, sv+58
	sgdt sv+60
	sidt sv+68
	call kmain
1:	hlt
	jmp 1b
	.data
	.globl sv
sv:	.space 80
	.globl bssmarker
	.bss
	.align 16
bssmarker: .space 64
	.space 8192
stacktop:
	.section .note.GNU-stack,"",@progbits
