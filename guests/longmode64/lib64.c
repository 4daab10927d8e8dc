/* Serial output, printf, exit and string helpers for longmode64. */
#include "lib64.h"

#define COM1 0x3F8

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x07); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) /* LSR.THRE */
		;
	outb(COM1, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void pad_out(int n, char pad)
{
	while (n-- > 0)
		putc(pad);
}

static void put_num(u64 v, unsigned base, int upper, int neg, int width, char pad, int left)
{
	char buf[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	if (!left)
		pad_out(width - n, pad);
	int len = n;
	while (n)
		putc(buf[--n]);
	if (left)
		pad_out(width - len, ' ');
}

void printf(const char *fmt, ...)
{
	__builtin_va_list ap;
	__builtin_va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int left = 0, width = 0, lng = 0;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			putc((char)__builtin_va_arg(ap, int));
			break;
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			int len = (int)strlen(s);
			if (!left)
				pad_out(width - len, ' ');
			puts(s);
			if (left)
				pad_out(width - len, ' ');
			break;
		}
		case 'd': {
			s64 v = lng ? __builtin_va_arg(ap, s64) : __builtin_va_arg(ap, s32);
			put_num(v < 0 ? -(u64)v : (u64)v, 10, 0, v < 0, width, pad, left);
			break;
		}
		case 'u': {
			u64 v = lng ? __builtin_va_arg(ap, u64) : __builtin_va_arg(ap, u32);
			put_num(v, 10, 0, 0, width, pad, left);
			break;
		}
		case 'x':
		case 'X': {
			u64 v = lng ? __builtin_va_arg(ap, u64) : __builtin_va_arg(ap, u32);
			put_num(v, 16, *fmt == 'X', 0, width, pad, left);
			break;
		}
		case '%':
			putc('%');
			break;
		default:
			putc('%');
			putc(*fmt);
			break;
		}
	}
	__builtin_va_end(ap);
}

void exit_qemu(u32 code)
{
	outl(0xF4, code);
	for (;;) /* not under QEMU (or the port is absent): stop here */
		__asm__ volatile("cli; hlt");
}

void *memset(void *d, int c, size_t n)
{
	u8 *p = d;
	while (n--)
		*p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
