/*
 * systest32: exercises the system architecture in 32-bit protected mode:
 * privilege levels (IRET to ring 3, INT 0x80 system calls, call gates),
 * protection faults, legacy and PAE paging (error codes, CR2, accessed and
 * dirty bits, 4 MiB pages, INVLPG, NX), a double fault, interrupt vs trap
 * gates, and PIT timer interrupts through the 8259 PIC.
 *
 * Everything printed is independent of where the linker put the code:
 * test pages live at fixed linear addresses and no code address is shown.
 */
#include "lib.h"

/* ------------------------------------------------------------------ */
/* Descriptors                                                          */
/* ------------------------------------------------------------------ */

struct tss {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap;
} __attribute__((packed));

static struct tss tss ALIGNED(16);
static u8 ring0_stack[8192] ALIGNED(16);  /* TSS.ESP0: traps from ring 3 land here */
static u8 user_stack[8192] ALIGNED(16);

#define SEL_CALLGATE 0x33 /* GDT[6], RPL 3 */

void gate_entry(void);
u32 enter_user(void (*fn)(void), u32 user_esp);
NORETURN void return_to_kernel(u32 value);

static void setup_descriptors(void)
{
	gdt_load(); /* flat ring-0 and ring-3 code/data at 0x08 0x10 0x1B 0x23 */

	tss.ss0 = SEL_KDATA;
	tss.esp0 = (u32)(ring0_stack + sizeof(ring0_stack));
	tss.iomap = sizeof(tss); /* no I/O bitmap: ring 3 gets #GP on IN/OUT */
	gdt_set(5, (u32)&tss, sizeof(tss) - 1, 0x89, 0x0); /* P, DPL 0, available 32-bit TSS */

	/* GDT[6]: 32-bit call gate, DPL 3, to gate_entry in ring 0, copying 2 dwords. */
	u32 off = (u32)gate_entry;
	gdt[6] = (off & 0xFFFF) | ((u64)SEL_KCODE << 16) | ((u64)2 << 32) | ((u64)0xEC << 40) |
		 ((u64)(off >> 16) << 48);

	printf("[gdt] null, kcode=%04x kdata=%04x ucode=%04x udata=%04x tss=%04x callgate=%04x\n", SEL_KCODE,
	       SEL_KDATA, SEL_UCODE, SEL_UDATA, SEL_TSS, SEL_CALLGATE);
	u32 type_before = (u32)(gdt[5] >> 40) & 0xF;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
	u32 type_after = (u32)(gdt[5] >> 40) & 0xF;
	u16 tr;
	__asm__ volatile("str %0" : "=r"(tr));
	printf("[tss] ltr: TR=%04x, descriptor type %x -> %x (busy)\n", tr, type_before, type_after);

	idt_init();
	idt_set_stub(0x80, 0xEE); /* interrupt gate, DPL 3: INT 0x80 allowed from ring 3 */
	idt_set_stub(0x81, 0x8F); /* trap gate, DPL 0 */
	printf("[idt] 256 interrupt gates; 0x80 DPL 3; 0x81 trap gate\n");

	/* The BIOS left the PIC programmed: mask everything until the timer test. */
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
}

/* ------------------------------------------------------------------ */
/* Traps                                                                */
/* ------------------------------------------------------------------ */

static volatile u32 fault_resume; /* ring-0 faults: where to continue (0 = unexpected) */
static volatile int faults;
static volatile u32 err_hide; /* error-code bits not to print (see the PAE test) */
#define FAULTED 0xFA017ED

static const char *vec_name(u32 v)
{
	switch (v) {
	case 6: return "#UD";
	case 8: return "#DF";
	case 11: return "#NP";
	case 13: return "#GP";
	case 14: return "#PF";
	default: return "#??";
	}
}

/* Expected faults: print them, then resume (ring 0) or go back to the
 * kernel (ring 3). */
static void fault_handler(struct trapframe *f)
{
	int user = (f->cs & 3) == 3;
	faults++;
	if (err_hide)
		printf("  %s err&~%x=%04x", vec_name(f->vec), err_hide, f->err & ~err_hide);
	else
		printf("  %s err=%04x", vec_name(f->vec), f->err);
	if (f->vec == 14)
		printf(" cr2=%08x", read_cr2());
	printf(" cs=%04x\n", f->cs & 0xFFFF);
	if (user)
		return_to_kernel(FAULTED);
	if (!fault_resume)
		unexpected_trap(f);
	f->eip = fault_resume;
	fault_resume = 0;
}

/* Run one instruction in ring 0 that may fault; resume after it. The
 * instruction may use EAX as a scratch register. */
#define KTRY(insn, ...)                                                                   \
	__asm__ volatile("movl $1f, %[res]\n\t" insn "\n1:"                                \
			 : [res] "=m"(fault_resume)                                       \
			 : __VA_ARGS__                                                    \
			 : "eax", "memory")

/* INT 0x80 system calls: EAX = function, EBX = argument, result in EAX. */
enum { SYS_EXIT, SYS_PUTS, SYS_HEX, SYS_INFO };

static void syscall_handler(struct trapframe *f)
{
	switch (f->eax) {
	case SYS_EXIT:
		return_to_kernel(f->ebx);
	case SYS_PUTS:
		puts((const char *)f->ebx);
		break;
	case SYS_HEX:
		printf("%08x", f->ebx);
		break;
	case SYS_INFO: {
		u16 cs, ss;
		u32 esp;
		__asm__ volatile("mov %%cs, %0\n\tmov %%ss, %1\n\tmov %%esp, %2" : "=r"(cs), "=r"(ss), "=r"(esp));
		int on_ring0_stack = esp > (u32)ring0_stack && esp <= (u32)ring0_stack + sizeof(ring0_stack);
		printf("  int 0x80: handler cs=%04x ss=%04x on TSS.esp0 stack=%s; saved cs=%04x ss=%04x "
		       "eflags=%08x arg=%08x\n",
		       cs, ss, on_ring0_stack ? "yes" : "no", f->cs & 0xFFFF, f->ss & 0xFFFF, f->eflags & ~0x8D5u,
		       f->ebx);
		f->eax = f->ebx + 1;
		break;
	}
	default:
		unexpected_trap(f);
	}
}

static inline u32 syscall(u32 n, u32 arg)
{
	u32 r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(arg) : "memory");
	return r;
}
static void uputs(const char *s) { syscall(SYS_PUTS, (u32)s); }
static void uhex(u32 v) { syscall(SYS_HEX, v); }
#define UEXIT(v)                      \
	do {                          \
		syscall(SYS_EXIT, v); \
		for (;;)              \
			;             \
	} while (0)

static u32 run_user(void (*fn)(void)) { return enter_user(fn, (u32)(user_stack + sizeof(user_stack))); }

/* ------------------------------------------------------------------ */
/* Ring 3                                                               */
/* ------------------------------------------------------------------ */

static void user_syscall(void)
{
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	u32 r = syscall(SYS_INFO, 0x1233);
	uputs("  ring 3: cs=");
	uhex(cs);
	uputs(" syscall returned ");
	uhex(r);
	uputs("\n");
	UEXIT(0x600D);
}

static void user_cli(void)
{
	__asm__ volatile("cli");
	UEXIT(0);
}

static void user_load_kernel_ds(void)
{
	__asm__ volatile("movw $0x10, %%ax\n\tmovw %%ax, %%ds" : : : "eax");
	UEXIT(0);
}

static void user_out(void)
{
	outb(0x80, 0x55);
	UEXIT(0);
}

static void user_int_dpl0(void)
{
	__asm__ volatile("int $0x81");
	UEXIT(0);
}

static void user_read_cr0(void)
{
	(void)read_cr0();
	UEXIT(0);
}

static void user_callgate(void)
{
	u32 before, after, r;
	__asm__ volatile("movl %%esp, %[b]\n\t"
			 "pushl $0x1111\n\t"
			 "pushl $0x2222\n\t"
			 "lcall $0x33, $0\n\t" /* the offset is ignored: the gate supplies it */
			 "movl %%esp, %[a]"
			 : [b] "=&r"(before), [a] "=&r"(after), "=a"(r)
			 :
			 : "memory");
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	uputs("  back in ring 3: cs=");
	uhex(cs);
	uputs(" eax=");
	uhex(r);
	uputs(after == before ? " params popped: yes\n" : " params popped: NO\n");
	UEXIT(0);
}

void gate_c(u32 *regs);
void gate_c(u32 *regs)
{
	u16 cs, ds;
	__asm__ volatile("mov %%cs, %0\n\tmov %%ds, %1" : "=r"(cs), "=r"(ds));
	printf("  call gate: cs=%04x (CPL %u) ds=%04x params %08x %08x caller cs=%04x ss=%04x\n", cs, cs & 3, ds,
	       regs[11], regs[10], regs[9] & 0xFFFF, regs[13] & 0xFFFF);
	regs[7] = regs[10] + regs[11]; /* EAX */
}

static void test_rings(void)
{
	printf("[ring3] IRET to ring 3, INT 0x80 back to ring 0\n");
	u32 v = run_user(user_syscall);
	printf("  sys_exit value %08x\n", v);

	printf("[ring3] CLI with IOPL=0\n");
	run_user(user_cli);
	printf("[ring3] load ring-0 data selector into DS\n");
	run_user(user_load_kernel_ds);
	printf("[ring3] OUT without I/O permission\n");
	run_user(user_out);
	printf("[ring3] INT 0x81 through a DPL-0 gate\n");
	run_user(user_int_dpl0);
	printf("[ring3] MOV from CR0\n");
	run_user(user_read_cr0);
	printf("[ring3] far call through a call gate to ring 0 (2 params) and RETF back\n");
	run_user(user_callgate);
	printf("  faults so far: %d\n", faults);
}

/* ------------------------------------------------------------------ */
/* Legacy 32-bit paging                                                 */
/* ------------------------------------------------------------------ */

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_A 0x020
#define PTE_D 0x040
#define PDE_PS 0x080

static u32 pd[1024] ALIGNED(4096);
static u32 pt_low[1024] ALIGNED(4096);  /* 0-4 MiB identity, user+writable */
static u32 pt_test[1024] ALIGNED(4096); /* 4-8 MiB: test pages */
static u8 frames[8][4096] ALIGNED(4096);

/* Fixed linear addresses of the test pages (PDE 1). */
#define VA_SUPER 0x00400000u   /* supervisor-only, writable */
#define VA_RO 0x00401000u      /* user, read-only */
#define VA_NP 0x00402000u      /* not present */
#define VA_READ 0x00403000u    /* A/D test: read */
#define VA_WRITE 0x00404000u   /* A/D test: written */
#define VA_UNUSED 0x00405000u  /* A/D test: untouched */
#define VA_SWITCH 0x00406000u  /* INVLPG test */
#define VA_PSE 0x00800000u     /* PDE 2: 4 MiB page aliasing physical 0 */

static void flush_tlb(void) { write_cr3(read_cr3()); }

static void show_ad(const char *what, u32 e, int show_d)
{
	printf("  %s: A=%u", what, (e & PTE_A) ? 1 : 0);
	if (show_d)
		printf(" D=%u", (e & PTE_D) ? 1 : 0);
	putc('\n');
}

static void user_read_super(void)
{
	(void)*(volatile u32 *)VA_SUPER;
	UEXIT(0);
}

static void user_write_ro(void)
{
	*(volatile u32 *)VA_RO = 1;
	UEXIT(0);
}

static void user_read_np(void)
{
	(void)*(volatile u32 *)VA_NP;
	UEXIT(0);
}

static void user_read_ro(void)
{
	u32 v = *(volatile u32 *)VA_RO;
	uputs("  user read of read-only user page: ");
	uhex(v);
	uputs("\n");
	UEXIT(0);
}

static volatile u32 pse_var;

static void test_paging(void)
{
	printf("[paging] legacy 32-bit paging, 4 KiB pages\n");
	for (u32 i = 0; i < 1024; i++)
		pt_low[i] = (i << 12) | PTE_P | PTE_W | PTE_U;
	pt_low[0] = 0; /* catch NULL */
	for (u32 i = 0; i < 8; i++)
		for (u32 j = 0; j < 1024; j++)
			((u32 *)frames[i])[j] = 0x11111111 * i;
	pt_test[0] = (u32)frames[0] | PTE_P | PTE_W;         /* VA_SUPER */
	pt_test[1] = (u32)frames[1] | PTE_P | PTE_U;         /* VA_RO */
	pt_test[2] = (u32)frames[2];                         /* VA_NP: not present */
	pt_test[3] = (u32)frames[3] | PTE_P | PTE_W | PTE_U; /* VA_READ */
	pt_test[4] = (u32)frames[4] | PTE_P | PTE_W | PTE_U; /* VA_WRITE */
	pt_test[5] = (u32)frames[5] | PTE_P | PTE_W | PTE_U; /* VA_UNUSED */
	pt_test[6] = (u32)frames[6] | PTE_P | PTE_W | PTE_U; /* VA_SWITCH */
	pd[0] = (u32)pt_low | PTE_P | PTE_W | PTE_U;
	pd[1] = (u32)pt_test | PTE_P | PTE_W | PTE_U;
	write_cr3((u32)pd);
	write_cr0(read_cr0() | 0x80010000); /* PG, WP */
	printf("  paging on, WP=1\n");

	set_trap_handler(14, fault_handler);

	printf("[#PF] user read of a supervisor page\n");
	run_user(user_read_super);
	printf("[#PF] user write to a read-only user page\n");
	run_user(user_write_ro);
	run_user(user_read_ro);
	printf("[#PF] user read of a not-present page\n");
	run_user(user_read_np);
	printf("[#PF] kernel read of a not-present page\n");
	KTRY("movl (%[p]), %%eax", [p] "r"(VA_NP));
	printf("[#PF] kernel write to a read-only page, CR0.WP=1\n");
	KTRY("movl %[v], (%[p])", [p] "r"(VA_RO), [v] "r"(0x12345678));
	printf("[#PF] kernel write to a read-only page, CR0.WP=0: no fault\n");
	write_cr0(read_cr0() & ~0x10000);
	int before = faults;
	KTRY("movl %[v], (%[p])", [p] "r"(VA_RO), [v] "r"(0x12345678));
	fault_resume = 0;
	write_cr0(read_cr0() | 0x10000);
	printf("  faults: %d, page now holds %08x\n", faults - before, *(volatile u32 *)VA_RO);

	printf("[A/D] accessed and dirty bits set by the page walker\n");
	pd[1] &= ~(PTE_A | PTE_D);
	for (int i = 3; i <= 5; i++)
		pt_test[i] &= ~(PTE_A | PTE_D);
	flush_tlb();
	show_ad("PDE 1 before", pd[1], 0);
	u32 r = *(volatile u32 *)VA_READ;
	*(volatile u32 *)VA_WRITE = 0x44444444 + r;
	show_ad("PDE 1 after (4 KiB PDE: D is ignored)", pd[1], 0);
	show_ad("PTE read   ", pt_test[3], 1);
	show_ad("PTE written", pt_test[4], 1);
	show_ad("PTE unused ", pt_test[5], 1);
	printf("  frame 4 now holds %08x\n", ((u32 *)frames[4])[0]);

	printf("[INVLPG] remap %08x from frame 6 to frame 7\n", VA_SWITCH);
	u32 v1 = *(volatile u32 *)VA_SWITCH;
	pt_test[6] = (u32)frames[7] | PTE_P | PTE_W | PTE_U;
	invlpg(VA_SWITCH);
	u32 v2 = *(volatile u32 *)VA_SWITCH;
	printf("  before %08x, after invlpg %08x\n", v1, v2);

	printf("[PSE] 4 MiB page at %08x -> physical 0\n", VA_PSE);
	write_cr4(read_cr4() | 0x10); /* CR4.PSE */
	pd[2] = 0x00000000 | PDE_PS | PTE_P | PTE_W;
	flush_tlb();
	pse_var = 0x5A5A1234;
	volatile u32 *alias = (volatile u32 *)(VA_PSE + (u32)&pse_var);
	u32 a = *alias;
	printf("  read via alias: %08x (%s)\n", a, a == pse_var ? "matches" : "MISMATCH");
	show_ad("PDE 2 after read ", pd[2], 1);
	*alias = 0xA5A54321;
	show_ad("PDE 2 after write", pd[2], 1);
	printf("  variable after write via alias: %08x\n", pse_var);

	write_cr0(read_cr0() & ~0x80000000u);
	write_cr4(read_cr4() & ~0x10u);
	printf("  paging off\n");
}

/* ------------------------------------------------------------------ */
/* PAE paging with NX, and a double fault                               */
/* ------------------------------------------------------------------ */

#define PAE_NX (1ull << 63)
static u64 pdpt[4] ALIGNED(32);
static u64 pae_pd[512] ALIGNED(4096);
static u64 pae_pt[512] ALIGNED(4096);
static u8 code_frame[4096] ALIGNED(4096);

#define VA_NX 0x00200000u   /* code_frame, NX */
#define VA_X 0x00201000u    /* code_frame, executable alias */
#define VA_HOLE 0x00600000u /* PDE 3: not present */

static void df_handler(struct trapframe *f)
{
	printf("  #DF err=%04x cr2=%08x (handler ran)\n", f->err, read_cr2());
	idt_set_stub(14, 0x8E); /* put the #PF gate back */
	if (!fault_resume)
		unexpected_trap(f);
	f->eip = fault_resume; /* #DF is an abort: don't return to the saved EIP */
	fault_resume = 0;
}

static void test_pae(void)
{
	u32 r[4];
	cpuid(0x80000001, 0, r);
	printf("[PAE] PAE paging, NX %s\n", (r[3] >> 20) & 1 ? "supported" : "NOT supported");

	memset(code_frame, 0x90, sizeof(code_frame));
	code_frame[16] = 0xC3; /* ret */
	pdpt[0] = (u32)pae_pd | PTE_P; /* PDPTEs have no R/W or U/S bits */
	pae_pd[0] = 0x00000000 | PDE_PS | PTE_P | PTE_W; /* 0-2 MiB: one 2 MiB page (the kernel) */
	pae_pd[1] = (u32)pae_pt | PTE_P | PTE_W;
	pae_pt[0] = (u32)code_frame | PTE_P | PTE_W | PAE_NX;
	pae_pt[1] = (u32)code_frame | PTE_P | PTE_W;
	write_cr4(read_cr4() | 0x20); /* CR4.PAE */
	write_cr3((u32)pdpt);
	write_cr0(read_cr0() | 0x80000000);
	printf("  paging on, EFER=%08x\n", (u32)rdmsr(0xC0000080));

	/* Reserved-bit fault: error code RSVD (8). Intel CPUs also set P (bit 0)
	 * because the entry is present; QEMU 7.2 leaves P clear. Don't print P. */
	printf("[PAE] read through a PTE with bit 63 set while EFER.NXE=0: reserved bit\n");
	err_hide = 1;
	KTRY("movl (%[p]), %%eax", [p] "r"(VA_NX));
	err_hide = 0;

	wrmsr(0xC0000080, rdmsr(0xC0000080) | 0x800); /* EFER.NXE */
	printf("  EFER.NXE set, EFER=%08x\n", (u32)rdmsr(0xC0000080));
	u32 v = *(volatile u32 *)(VA_NX + 16);
	printf("[PAE] data read from the NX page: %08x (allowed)\n", v);
	printf("[PAE] call into the executable alias\n");
	((void (*)(void))(VA_X + 16))();
	printf("  returned\n");
	printf("[PAE] jump into the NX page\n");
	KTRY("jmp *%[p]", [p] "r"(VA_NX + 16));

	printf("[#DF] #PF with a not-present #PF gate\n");
	set_trap_handler(8, df_handler);
	idt[14] &= ~(1ull << 47); /* clear P in the #PF gate: delivering #PF raises #NP -> #DF */
	KTRY("movl (%[p]), %%eax", [p] "r"(VA_HOLE));
	set_trap_handler(8, NULL);

	write_cr0(read_cr0() & ~0x80000000u);
	write_cr4(read_cr4() & ~0x20u);
	wrmsr(0xC0000080, rdmsr(0xC0000080) & ~0x800ull);
	printf("  paging off\n");
}

/* ------------------------------------------------------------------ */
/* Interrupt gates vs trap gates, PIT + PIC                             */
/* ------------------------------------------------------------------ */

static volatile u32 handler_eflags;

static void record_eflags(struct trapframe *f)
{
	u32 fl;
	__asm__ volatile("pushfl\n\tpopl %0" : "=r"(fl));
	handler_eflags = fl;
}

static volatile u32 ticks, spurious;

static void timer_handler(struct trapframe *f)
{
	u32 fl;
	__asm__ volatile("pushfl\n\tpopl %0" : "=r"(fl));
	if (fl & 0x200)
		printf("  IF set inside IRQ handler!\n");
	ticks++;
	outb(0x20, 0x20); /* EOI */
}

static void spurious_handler(struct trapframe *f) { spurious++; }

static void test_interrupts(void)
{
	printf("[gates] INT to a trap gate keeps IF, to an interrupt gate clears it\n");
	set_trap_handler(0x81, record_eflags);
	set_trap_handler(0x82, record_eflags);
	__asm__ volatile("sti\n\tint $0x81\n\tcli" ::: "memory"); /* PIC fully masked */
	u32 trap_if = (handler_eflags >> 9) & 1;
	__asm__ volatile("sti\n\tint $0x82\n\tcli" ::: "memory");
	u32 intr_if = (handler_eflags >> 9) & 1;
	printf("  trap gate IF=%u, interrupt gate IF=%u\n", trap_if, intr_if);

	printf("[pic] remap 8259s to 0x20/0x28, unmask IRQ0; PIT channel 0 at 100 Hz\n");
	outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 */
	outb(0xA0, 0x11);
	outb(0x21, 0x20); /* ICW2: vector base */
	outb(0xA1, 0x28);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xA1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xA1, 0x01);
	outb(0x21, 0xFE); /* only IRQ0 */
	outb(0xA1, 0xFF);
	set_trap_handler(0x20, timer_handler);
	set_trap_handler(0x27, spurious_handler);
	set_trap_handler(0x2F, spurious_handler);
	u32 divisor = 11932; /* 1193182 Hz / 11932 = 100 Hz */
	outb(0x43, 0x34);   /* channel 0, lobyte/hibyte, mode 2 (rate generator) */
	outb(0x40, divisor & 0xFF);
	outb(0x40, divisor >> 8);
	const u32 want = 10;
	__asm__ volatile("sti" ::: "memory");
	while (ticks < want)
		__asm__ volatile("hlt" ::: "memory"); /* sleep until the next interrupt */
	__asm__ volatile("cli" ::: "memory");
	outb(0x21, 0xFF);
	printf("  ticks ok: %u timer interrupts (spurious: %u)\n", want, spurious);
}

/* ------------------------------------------------------------------ */

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	printf("systest32: magic %s\n", magic == MB_MAGIC ? "ok" : "BAD");
	setup_descriptors();
	set_trap_handler(0x80, syscall_handler);
	set_trap_handler(6, fault_handler);
	set_trap_handler(13, fault_handler);

	test_rings();
	test_paging();
	test_pae();
	test_interrupts();

	printf("systest32: done, %d expected faults\n", faults);
	exit_qemu(0);
}
