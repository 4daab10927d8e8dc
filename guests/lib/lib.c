/* Serial output, printf, CRC32, exit and string helpers for the guests. */
#include "lib.h"

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

u32 crc_value;
int crc_enabled;

u32 crc32_update(u32 crc, const void *p, size_t n)
{
	const u8 *b = p;
	u32 c = ~crc;
	while (n--) {
		c ^= *b++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320 & -(c & 1));
	}
	return ~c;
}

u32 crc32(const void *p, size_t n) { return crc32_update(0, p, n); }

void putc(char c)
{
	if (crc_enabled)
		crc_value = crc32_update(crc_value, &c, 1);
	while (!(inb(COM1 + 5) & 0x20)) /* LSR.THRE */
		;
	outb(COM1, (u8)c);
}

void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void put_u64_hex(u64 v, int width, int upper, char pad, int left)
{
	char buf[17];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		buf[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	int len = n;
	if (!left)
		for (int i = len; i < width; i++)
			putc(pad);
	while (n)
		putc(buf[--n]);
	if (left)
		for (int i = len; i < width; i++)
			putc(' ');
}

static void put_u32_dec(u32 v, int neg, int width, char pad, int left)
{
	char buf[12];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10); /* 32-bit division only */
		v /= 10;
	} while (v);
	if (neg)
		buf[n++] = '-';
	int len = n;
	if (!left)
		for (int i = len; i < width; i++)
			putc(pad);
	while (n)
		putc(buf[--n]);
	if (left)
		for (int i = len; i < width; i++)
			putc(' ');
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
				for (int i = len; i < width; i++)
					putc(' ');
			puts(s);
			if (left)
				for (int i = len; i < width; i++)
					putc(' ');
			break;
		}
		case 'd': {
			s32 v = __builtin_va_arg(ap, s32);
			put_u32_dec(v < 0 ? -(u32)v : (u32)v, v < 0, width, pad, left);
			break;
		}
		case 'u':
			put_u32_dec(__builtin_va_arg(ap, u32), 0, width, pad, left);
			break;
		case 'x':
		case 'X':
			if (lng >= 2)
				put_u64_hex(__builtin_va_arg(ap, u64), width, *fmt == 'X', pad, left);
			else
				put_u64_hex(__builtin_va_arg(ap, u32), width, *fmt == 'X', pad, left);
			break;
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
	/* Not under QEMU (or the port is absent): stop here. */
	for (;;)
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

void *memmove(void *d, const void *s, size_t n)
{
	u8 *p = d;
	const u8 *q = s;
	if (p < q) {
		while (n--)
			*p++ = *q++;
	} else {
		while (n--)
			p[n] = q[n];
	}
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
