/*
 * Test guest for glassbox/symbols backtraces, compiled at -O0 and -O1 both as
 * a multiboot ELF32 kernel (boot32.S + kernel.ld) and as a 64-bit user-style
 * program (start64.S). The call chain
 *     _start -> kmain -> level1 -> level2 -> in_regs -> deep_function
 * carries int, unsigned, long, short, char, unsigned char, pointer, string,
 * struct and function-pointer arguments. On i386 in_regs takes its arguments
 * in EAX/EDX/ECX (regparm), and they are dead after its call to
 * deep_function, so at -O1 gcc describes them with DW_OP_entry_value.
 * level2 then calls bump (regparm, changes its argument), which calls tick
 * through call_via_asm, an assembly function without CFI that gdb (and
 * glassbox) unwind with the frame-pointer prologue analyzer.
 */

#if defined(__i386__)
#define REGPARM __attribute__((regparm(3)))
#else
#define REGPARM
#endif
#define NOINLINE __attribute__((noinline, noclone))

struct pair {
	int a;
	int b;
};

typedef int (*callback_t)(int);

volatile int sink;
int table[4] = { 10, 20, 30, 40 };
char greeting[] = "hello, gdb";
unsigned long counter;

NOINLINE int square(int v)
{
	sink = v;
	return v * v;
}

NOINLINE int deep_function(int depth, unsigned mask, const char *msg, char tag, int *slot)
{
	sink = depth;
	sink += (int)mask + tag + *slot + msg[0];
	return sink;
}

int call_via_asm(int (*fn)(int), int arg);

NOINLINE int tick(int v)
{
	sink = v;
	return v + 1;
}

NOINLINE REGPARM int bump(int a, unsigned b)
{
	a = a * 3 + sink;
	sink = a;
	return call_via_asm(tick, a) + a + (int)b;
}

NOINLINE REGPARM int in_regs(int x, unsigned y, char c)
{
	int local = x * 3;

	sink = local;
	return deep_function(x + 1, y ^ 0xffu, greeting, c, &table[2]) + 1;
}

NOINLINE int level2(unsigned u, const char *name, callback_t cb, long big)
{
	int r = in_regs((int)u - 7, u, name[0]);

	r += bump(r, u + 1);

	return r + cb(3) + (int)big;
}

NOINLINE int level1(int n, struct pair pr, unsigned char uc, short s)
{
	int v = level2((unsigned)(n + pr.a), greeting, square, -123456L);

	return v + pr.b + uc + s;
}

void kmain(unsigned magic, void *info)
{
	struct pair p = { 4, -5 };

	counter = magic;
	level1(-2, p, 200, -300);
	(void)info;
}
