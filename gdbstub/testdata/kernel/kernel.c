/*
 * gdbstub test kernel (built by the tests with gcc -m32 -g -O0): a few
 * functions with locals for break/bt/finish/p, a global to watch, a
 * spin loop to interrupt, output on COM1 and an exit through
 * isa-debug-exit (port 0xf4).
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

int global_var;                 /* watched by the tests */
volatile int release;           /* set by the debugger to end spin() */
volatile u32 counter;           /* spin() counts here */

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void serial_putc(char c)
{
	while (!(inb(0x3f8 + 5) & 0x20))
		;
	outb(0x3f8, c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

int add(int a, int b)
{
	int local_var = a * 2 + b;
	return local_var;
}

int compute(int n)
{
	int sum = 0;
	for (int i = 0; i < n; i++)
		sum = add(sum, i);
	return sum;
}

void set_global(int v)
{
	global_var = v;
}

void spin(void)
{
	while (!release)
		counter++;
}

void kmain(void)
{
	serial_puts("kernel: start\n");
	int r = compute(5);
	set_global(42);
	set_global(r);
	serial_puts("kernel: spinning\n");
	spin();
	serial_puts("kernel: done\n");
	outl(0xf4, 0x10);
	for (;;)
		__asm__ volatile("cli; hlt");
}
