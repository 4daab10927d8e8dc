/*
 * tasks: hardware task switching in 32-bit protected mode.
 *   1. CALL to a TSS descriptor: task B runs with NT set and a back link to
 *      task A, then IRET returns to A through the link.
 *   2. JMP to a task gate: task C runs (not nested: no back link, NT clear),
 *      and JMPs back to A's TSS.
 *   3. A double fault delivered through a task gate: #DE whose gate is not
 *      present becomes #NP, then #DF, which runs task D with the error code
 *      on its stack.
 * Everything is printed over COM1 and compared with QEMU.
 */
#include "lib.h"

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt, iomap;
};

static struct tss32 tss_a, tss_b, tss_c, tss_d;
static u8 stack_b[4096] ALIGNED(16), stack_c[4096] ALIGNED(16), stack_d[4096] ALIGNED(16);

#define SEL_TSS_A 0x28
#define SEL_TSS_B 0x30
#define SEL_TSS_C 0x38
#define SEL_TSS_D 0x40
#define SEL_GATE_C 0x48

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

static void task_b(void)
{
	for (;;) {
		printf("B: running, TR=%x NT=%d link=%x A busy=%d B busy=%d\n", str(), (eflags() >> 14) & 1,
		       tss_b.link, busy(SEL_TSS_A), busy(SEL_TSS_B));
		__asm__ volatile("iret");
	}
}

static void task_c(void)
{
	for (;;) {
		printf("C: running, TR=%x NT=%d A busy=%d C busy=%d\n", str(), (eflags() >> 14) & 1, busy(SEL_TSS_A),
		       busy(SEL_TSS_C));
		__asm__ volatile("ljmp $0x28, $0");
	}
}

void task_d(u32 err);
void task_d(u32 err)
{
	printf("D: double fault task, error code=%x TR=%x NT=%d link=%x\n", err, str(), (eflags() >> 14) & 1,
	       tss_d.link);
	printf("tasks: PASS\n");
	exit_qemu(0);
}

/* task D's entry: the CPU pushed the #DF error code on D's stack. */
__asm__(".text\n.globl task_d_entry\ntask_d_entry:\n\tcall task_d\n1:\thlt\n\tjmp 1b\n");
void task_d_entry(void);

static void init_task(struct tss32 *t, void (*entry)(void), u8 *stack)
{
	t->eip = (u32)entry;
	t->eflags = 2;
	t->esp = (u32)(stack + 4096 - 16);
	t->cs = SEL_KCODE;
	t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
	t->iomap = sizeof(struct tss32);
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	gdt_load();
	idt_init();
	init_task(&tss_b, task_b, stack_b);
	init_task(&tss_c, task_c, stack_c);
	init_task(&tss_d, task_d_entry, stack_d);
	tss_a.iomap = sizeof(struct tss32);
	gdt_set(SEL_TSS_A >> 3, (u32)&tss_a, sizeof(struct tss32) - 1, 0x89, 0);
	gdt_set(SEL_TSS_B >> 3, (u32)&tss_b, sizeof(struct tss32) - 1, 0x89, 0);
	gdt_set(SEL_TSS_C >> 3, (u32)&tss_c, sizeof(struct tss32) - 1, 0x89, 0);
	gdt_set(SEL_TSS_D >> 3, (u32)&tss_d, sizeof(struct tss32) - 1, 0x89, 0);
	gdt[SEL_GATE_C >> 3] = ((u64)SEL_TSS_C << 16) | ((u64)0x85 << 40); /* task gate to C */
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS_A));
	printf("A: TR=%x busy=%d\n", str(), busy(SEL_TSS_A));

	__asm__ volatile("lcall $0x30, $0" ::: "memory");
	printf("A: back from B, TR=%x NT=%d A busy=%d B busy=%d B saved eip in task_b=%d\n", str(), (eflags() >> 14) & 1,
	       busy(SEL_TSS_A), busy(SEL_TSS_B), tss_b.eip > (u32)task_b && tss_b.eip < (u32)task_b + 0x100);

	__asm__ volatile("ljmp $0x48, $0" ::: "memory");
	printf("A: back from C, TR=%x NT=%d A busy=%d C busy=%d\n", str(), (eflags() >> 14) & 1, busy(SEL_TSS_A),
	       busy(SEL_TSS_C));

	idt[0] &= ~((u64)0x80 << 40);                                   /* #DE gate not present */
	idt[8] = ((u64)SEL_TSS_D << 16) | ((u64)0x85 << 40);              /* #DF: task gate to D */
	volatile u32 zero = 0;
	volatile u32 x = 100 / zero;
	printf("A: not reached %x\n", x);
	exit_qemu(0x7d);
}
