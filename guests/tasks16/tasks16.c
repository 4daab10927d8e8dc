/*
 * tasks16: 16-bit TSSs (SDM Vol. 3 §8.6, figure 8-12).
 *
 * Checked against QEMU 7.2 (expected.txt):
 *   1. With a 16-bit TSS in TR (LTR), ring 3 enters ring 0 through an
 *      interrupt gate and a call gate: both take SS0:SP0 from the 16-bit
 *      TSS (offsets 4 and 2). IN at CPL 3 with IOPL 0 is #GP(0): a 16-bit
 *      TSS has no I/O permission bitmap.
 *   2. CALL from the 16-bit task to a 32-bit TSS: the 32-bit task runs with
 *      NT set, a back link to the 16-bit TSS, both busy, CR0.TS set and its
 *      registers loaded from its TSS.
 *
 *   3. Task switches between a 32-bit task and 16-bit tasks both ways:
 *      a. CALL to a 16-bit TSS, IRET back (NT, back link, busy bits);
 *      b. JMP through a task gate to a 16-bit TSS, JMP back to the 32-bit TSS;
 *      c. INT n through a task gate to a 16-bit TSS, IRET back.
 *      Each 16-bit task (16-bit code and stack segments) records its 32-bit
 *      registers (low halves from the TSS, upper halves kept from the
 *      outgoing task: EAX=0x7777...., EBX=0x8888....), EFLAGS, segment
 *      registers (FS/GS null) and TR; the 32-bit task prints what was saved
 *      in the 16-bit TSS (16-bit layout) and checks its own registers
 *      survived. QEMU 7.2 loses the arithmetic flags of a task entered by
 *      CALL (the new task sees stale ones), so for (a) only the
 *      non-arithmetic flags are printed; (b) and (c) print all of them.
 */
#include "lib.h"

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt, iomap;
};

struct tss16 {
	u16 link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags;
	u16 ax, cx, dx, bx, sp, bp, si, di;
	u16 es, cs, ss, ds, ldt;
	u8 pad[0x68 - 0x2C]; /* room for an emulator that writes past the limit */
} __attribute__((packed));

/* What a 16-bit task records (written by the .code16 stubs below). */
struct rec16 {
	u32 eax, ebx, esp, eflags;
	u16 fs, gs, cs, ss, es, ds, tr, pad;
};

#define SEL_A32 0x28    /* 32-bit TSS of the main task */
#define SEL_K16 0x30    /* 16-bit TSS for the ring-3 tests */
#define SEL_T32 0x38    /* 32-bit TSS called from the 16-bit task */
#define SEL_C16 0x40    /* 16-bit TSSs of the "all" tests */
#define SEL_D16 0x48
#define SEL_E16 0x50
#define SEL_CODE16 0x58 /* 16-bit code, base code16_start */
#define SEL_DATA16 0x60 /* 16-bit data, base &rec */
#define SEL_STACK16 0x68 /* 16-bit stack (B=0), base stack16 */
#define SEL_GATE_D 0x70 /* task gate to D16 */
#define SEL_CALLG 0x7B  /* call gate, DPL 3, to ring-0 gate_target */

static struct tss32 tss_a, tss_t;
static struct tss16 tss_k, tss_c, tss_d, tss_e;
struct rec16 rec[3];
static u8 stack_t[4096] ALIGNED(16), ustack[4096] ALIGNED(16), stack16[3][1024] ALIGNED(16);

static u32 eflags(void)
{
	u32 f;
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
	return f;
}

static u32 str(void)
{
	u16 s;
	__asm__ volatile("str %0" : "=r"(s));
	return s;
}

static int busy(int sel) { return (int)((gdt[sel >> 3] >> 41) & 1); }

/* ---- ring-3 tests with a 16-bit TSS in TR ---- */

u32 kern_esp;
u32 gate_frame[5]; /* ESP at entry, then the call gate's EIP CS ESP SS */
static u32 int80_top, int80_ss, gp_top, gp_err, gp_eip;

void ring3_code(void);
void ring3_resume(void);
void gate_target(void);
__asm__(".text\n"
	".globl ring3_code\nring3_code:\n"
	"\tmovw $0x23, %ax\n\tmovw %ax, %ds\n\tmovw %ax, %es\n" /* IRET to ring 3 nulled them */
	"\tint $0x80\n"
	"\tinb $0x80, %al\n"          /* #GP(0): the handler skips it */
	"\tlcall $0x7B, $0\n"         /* call gate to ring 0 */
	"\tint $0x81\n"               /* back to the kernel */
	"1:\tjmp 1b\n"
	".globl gate_target\ngate_target:\n"
	"\tmovl %esp, gate_frame\n"
	"\tmovl 0(%esp), %eax\n\tmovl %eax, gate_frame+4\n"
	"\tmovl 4(%esp), %eax\n\tmovl %eax, gate_frame+8\n"
	"\tmovl 8(%esp), %eax\n\tmovl %eax, gate_frame+12\n"
	"\tmovl 12(%esp), %eax\n\tmovl %eax, gate_frame+16\n"
	"\tlret\n");

static u32 cur_ss(void)
{
	u32 s = 0;
	__asm__ volatile("movw %%ss, %w0" : "+r"(s));
	return s;
}

static void on_int80(struct trapframe *f)
{
	int80_top = (u32)&f->ss + 4; /* above the frame the CPU pushed */
	int80_ss = cur_ss();
}

static void on_gp(struct trapframe *f)
{
	gp_top = (u32)&f->ss + 4;
	gp_err = f->err;
	gp_eip = f->eip - (u32)ring3_code;
	f->eip += 2; /* skip inb $0x80, %al */
}

static void on_int81(struct trapframe *f)
{
	/* Return to ring 0 at ring3_resume (same-privilege IRET). */
	f->eip = (u32)ring3_resume;
	f->cs = SEL_KCODE;
	f->ds = f->es = f->fs = f->gs = SEL_KDATA;
}

static void ring3_tests(void)
{
	__asm__ volatile("pushl %%ebp\n\t"
			 "movl %%esp, kern_esp\n\t"
			 "pushl $0x23\n\tpushl %0\n\tpushfl\n\tpushl $0x1B\n\tpushl $ring3_code\n\t"
			 "iret\n"
			 ".globl ring3_resume\nring3_resume:\n\t"
			 "movl kern_esp, %%esp\n\t"
			 "popl %%ebp\n\t"
			 "movw $0x10, %%ax\n\tmovw %%ax, %%ss\n"
			 :
			 : "r"((u32)(ustack + sizeof(ustack)))
			 : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
	printf("ring 3 -> int 0x80 with 16-bit TR: SS=%x frame top=%x (SP0=%x)\n", int80_ss, int80_top, tss_k.sp0);
	printf("ring 3 inb with IOPL 0: #GP err=%x at ring3_code+%x, frame top=%x\n", gp_err, gp_eip, gp_top);
	printf("ring 3 -> call gate: ESP=%x, return to ring3_code+%x CS=%x, caller ESP ok=%d SS=%x\n", gate_frame[0],
	       gate_frame[1] - (u32)ring3_code, gate_frame[2], gate_frame[3] == (u32)(ustack + sizeof(ustack)),
	       gate_frame[4]);
}

/* ---- the 32-bit task called from the 16-bit one ---- */

u32 t32_regs[4];
void t32_entry(void);
void t32_main(void);
__asm__(".text\n.globl t32_entry\nt32_entry:\n"
	"\tmovl %eax, t32_regs\n\tmovl %esi, t32_regs+4\n"
	"\tmovl %esp, t32_regs+8\n"
	"\tcall t32_main\n1:\thlt\n\tjmp 1b\n");

void t32_main(void)
{
	printf("T32: TR=%x NT=%d link=%x K16 busy=%d T32 busy=%d TS=%d EAX=%x ESI=%x ESP ok=%d\n", str(),
	       (eflags() >> 14) & 1, tss_t.link, busy(SEL_K16), busy(SEL_T32), (read_cr0() >> 3) & 1, t32_regs[0],
	       t32_regs[1], t32_regs[2] == tss_t.esp);
	printf("tasks16: PASS\n");
	exit_qemu(0);
}

/* ---- "all": 16-bit tasks (.code16, CS base = code16_start) ---- */

void code16_start(void);
void c16_entry(void);
void d16_entry(void);
void e16_entry(void);
/* REC n: store the registers into rec[n] (DS = SEL_DATA16, base &rec). */
__asm__(".text\n.balign 16\n.globl code16_start\ncode16_start:\n.code16\n"
	".macro REC n\n"
	"\tmovl %eax, %ds:(\\n*32+0)\n\tmovl %ebx, %ds:(\\n*32+4)\n\tmovl %esp, %ds:(\\n*32+8)\n"
	"\tpushfl\n\tpopl %ds:(\\n*32+12)\n"
	"\tmovw %fs, %ds:(\\n*32+16)\n\tmovw %gs, %ds:(\\n*32+18)\n\tmovw %cs, %ds:(\\n*32+20)\n"
	"\tmovw %ss, %ds:(\\n*32+22)\n\tmovw %es, %ds:(\\n*32+24)\n\tmovw %ds, %ds:(\\n*32+26)\n"
	"\tstr %ax\n\tmovw %ax, %ds:(\\n*32+28)\n"
	".endm\n"
	".globl c16_entry\nc16_entry:\n\tREC 0\n\tmovw $0xC1C1, %ax\n\tmovw $0x1616, %bx\n\tiret\n"
	".globl d16_entry\nd16_entry:\n\tREC 1\n\tmovw $0xD1D1, %ax\n\tljmp $0x28, $0\n"
	".globl e16_entry\ne16_entry:\n\tREC 2\n\tmovw $0xE1E1, %ax\n\tiret\n"
	".code32\n");

static void init16(struct tss16 *t, void (*entry)(void), int n, u16 ax)
{
	t->ip = (u16)((u32)entry - (u32)code16_start);
	t->flags = 0x08D7; /* OF SF ZF AF PF CF */
	t->ax = ax;
	t->bx = 0x0B0B;
	t->sp = sizeof(stack16[n]) - 2 * n;
	t->cs = SEL_CODE16;
	t->ss = SEL_STACK16;
	t->ds = SEL_DATA16;
	t->es = SEL_KDATA;
}

static void print16(const char *name, int n, struct tss16 *t, u32 flagmask)
{
	struct rec16 *r = &rec[n];
	printf("%s: EAX=%x EBX=%x ESP=%x EFLAGS=%x FS=%x GS=%x CS=%x SS=%x ES=%x DS=%x TR=%x\n", name, r->eax,
	       r->ebx, r->esp, r->eflags & flagmask, r->fs, r->gs, r->cs, r->ss, r->es, r->ds, r->tr);
	printf("%s saved: link=%x ip=%x flags=%x ax=%x bx=%x sp=%x es=%x cs=%x ss=%x ds=%x\n", name, t->link, t->ip,
	       t->flags & flagmask, t->ax, t->bx, t->sp, t->es, t->cs, t->ss, t->ds);
}

#define ARITH_FLAGS 0x8D5 /* OF SF ZF AF PF CF */

static void all_tests(void)
{
	u32 esi;
	for (int n = 0; n < 3; n++)
		rec[n].eax = 0;
	/* a. CALL + IRET */
	__asm__ volatile("movl $0xA5A5A5A5, %%esi\n\tmovl $0x77770000, %%eax\n\tmovl $0x88880000, %%ebx\n\tlcall $0x40, $0\n\tmovl %%esi, %0"
			 : "=r"(esi)
			 :
			 : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
	print16("C16", 0, &tss_c, ~ARITH_FLAGS);
	printf("A: back from C16 TR=%x NT=%d ESI=%x A busy=%d C16 busy=%d\n", str(), (eflags() >> 14) & 1, esi,
	       busy(SEL_A32), busy(SEL_C16));
	/* b. JMP through a task gate, JMP back */
	__asm__ volatile("movl $0x5A5A5A5A, %%esi\n\tmovl $0x77770000, %%eax\n\tmovl $0x88880000, %%ebx\n\tljmp $0x70, $0\n\tmovl %%esi, %0"
			 : "=r"(esi)
			 :
			 : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
	print16("D16", 1, &tss_d, ~0u);
	printf("A: back from D16 TR=%x NT=%d ESI=%x A busy=%d D16 busy=%d A saved eip ok=%d\n", str(),
	       (eflags() >> 14) & 1, esi, busy(SEL_A32), busy(SEL_D16), tss_a.eip != 0);
	/* c. INT n through a task gate, IRET */
	__asm__ volatile("movl $0x3C3C3C3C, %%esi\n\tmovl $0x77770000, %%eax\n\tmovl $0x88880000, %%ebx\n\tint $0x82\n\tmovl %%esi, %0"
			 : "=r"(esi)
			 :
			 : "eax", "ebx", "ecx", "edx", "esi", "edi", "memory", "cc");
	print16("E16", 2, &tss_e, ~0u);
	printf("A: back from E16 TR=%x NT=%d ESI=%x A busy=%d E16 busy=%d\n", str(), (eflags() >> 14) & 1, esi,
	       busy(SEL_A32), busy(SEL_E16));
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	gdt_load();
	idt_init();
	tss_a.iomap = sizeof(struct tss32);
	gdt_set(SEL_A32 >> 3, (u32)&tss_a, sizeof(struct tss32) - 1, 0x89, 0);
	__asm__ volatile("ltr %w0" : : "r"(SEL_A32));

	/* 16-bit tasks for "all" */
	gdt_set(SEL_CODE16 >> 3, (u32)code16_start, 0xFFFF, 0x9A, 0);
	gdt_set(SEL_DATA16 >> 3, (u32)rec, 0xFFFF, 0x92, 0);
	gdt_set(SEL_STACK16 >> 3, (u32)stack16, 0xFFFF, 0x92, 0);
	init16(&tss_c, c16_entry, 0, 0x1111);
	init16(&tss_d, d16_entry, 1, 0x2222);
	init16(&tss_e, e16_entry, 2, 0x3333);
	gdt_set(SEL_C16 >> 3, (u32)&tss_c, 0x2B, 0x81, 0);
	gdt_set(SEL_D16 >> 3, (u32)&tss_d, 0x2B, 0x81, 0);
	gdt_set(SEL_E16 >> 3, (u32)&tss_e, 0x2B, 0x81, 0);
	gdt[SEL_GATE_D >> 3] = ((u64)SEL_D16 << 16) | ((u64)0x85 << 40);
	idt[0x82] = ((u64)SEL_E16 << 16) | ((u64)0x85 << 40);
	all_tests();

	/* 16-bit TSS in TR for the ring-3 tests */
	tss_k.sp0 = 0x6000;
	tss_k.ss0 = SEL_KDATA;
	gdt_set(SEL_K16 >> 3, (u32)&tss_k, 0x2B, 0x81, 0);
	gdt[SEL_CALLG >> 3] = ((u32)gate_target & 0xFFFF) | ((u64)SEL_KCODE << 16) | ((u64)0xEC << 40) |
			      ((u64)((u32)gate_target >> 16) << 48);
	idt_set_stub(0x80, 0xEE);
	idt_set_stub(0x81, 0xEE);
	set_trap_handler(0x80, on_int80);
	set_trap_handler(0x81, on_int81);
	set_trap_handler(13, on_gp);
	__asm__ volatile("ltr %w0" : : "r"(SEL_K16));
	printf("K16: TR=%x busy=%d\n", str(), busy(SEL_K16));
	ring3_tests();

	/* CALL from the 16-bit task to a 32-bit TSS */
	tss_t.eip = (u32)t32_entry;
	tss_t.eflags = 2;
	tss_t.eax = 0x13572468;
	tss_t.esi = 0x89ABCDEF;
	tss_t.esp = (u32)(stack_t + sizeof(stack_t) - 16);
	tss_t.cs = SEL_KCODE;
	tss_t.ss = tss_t.ds = tss_t.es = tss_t.fs = tss_t.gs = SEL_KDATA;
	tss_t.iomap = sizeof(struct tss32);
	gdt_set(SEL_T32 >> 3, (u32)&tss_t, sizeof(struct tss32) - 1, 0x89, 0);
	__asm__ volatile("lcall $0x38, $0" ::: "memory");
	printf("not reached\n");
	exit_qemu(0x7d);
}
