/*
 * longmode64: x86-64 system and integer features in 64-bit long mode.
 *
 * boot.S (a multiboot v1 kernel, entered in 32-bit protected mode) builds
 * 4-level page tables, sets CR4.PAE, EFER.LME/SCE/NXE, CR3 and CR0.PG and
 * far-jumps to a 64-bit code segment; kmain then tests:
 *
 *  - 64-bit integer instructions: ALU, shifts/rotates, SHLD/SHRD, MUL/IMUL,
 *    DIV/IDIV (and #DE), CQO/CDQE/MOVSXD, BT/BTS/BTR/BTC, BSF/BSR, BSWAP, CMPXCHG, XADD,
 *    CMPXCHG16B (if CPUID.01H:ECX.CX16), 32-bit operations zero-extending
 *    (also CMOV with a false condition), 8/16-bit ones not, REX byte
 *    registers, R8-R15, RIP-relative addressing, 32-bit address size,
 *    JRCXZ/JECXZ, REP STOSQ/MOVSQ, PUSH sizes; opcodes that are invalid in
 *    64-bit mode (#UD). Flags are printed masked: bits the SDM leaves
 *    undefined for an instruction are dropped.
 *  - Paging: 2 MiB identity pages, 4 KiB pages at 0x40000000 (aliasing,
 *    accessed/dirty bits, INVLPG), a 1 GiB page at 0x80000000 if CPUID says
 *    1 GiB pages exist; #PF on a not-present page (error code, CR2, RIP of the
 *    faulting instruction, then restarted after mapping it), on a write to a
 *    read-only page with CR0.WP=1, on a fetch from an NX page.
 *  - IDT with 64-bit gates: UD2 (handler resumes past it), #GP(0) from a
 *    non-canonical address on IST1 (the handler checks RSP), #DF on IST2,
 *    canonical-but-unmapped addresses (#PF).
 *  - TSS64 (LTR marks it busy), ring 3 through IRETQ, INT 0x80 through a
 *    DPL-3 gate (stack switch to TSS.RSP0, SS := null), SYSCALL/SYSRET with
 *    STAR/LSTAR/FMASK, ring-3 #PF and #GP, 32-bit ring-3 code
 *    (compatibility mode) entering the kernel via INT 0x80.
 *  - FS base (MSR 0xC0000100), GS base and KERNEL_GS_BASE with SWAPGS.
 *  - Compatibility mode in ring 0: far CALL and far JMP into a 32-bit code
 *    segment and back.
 *
 * Output never contains code or data addresses (they depend on the link);
 * CPUID-dependent facts are on lines starting with "cpuid:" (the 1 GiB page
 * result among them: QEMU's default qemu64 CPU has no Page1GB).
 *
 * QEMU 7.2 departs from the SDM in a few places; the guest avoids printing
 * what they affect (see README.md):
 *  - SYSCALL in 64-bit mode clears OF SF ZF AF PF CF and DF whatever FMASK
 *    says; only the other RFLAGS bits of the handler are printed.
 *  - An error code naming an IDT entry in long mode is vector*16+2, not
 *    vector<<3|2; the ring-3 INT 0x81 test accepts either.
 *  - A non-canonical [RSP]/[RBP] access raises #GP, not #SS; and a branch to
 *    a non-canonical address faults at the target, not on the branch. Neither
 *    is tested.
 */
#include "lib64.h"

#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_UCODE32 0x1B
#define SEL_UDATA   0x23
#define SEL_UCODE64 0x2B
#define SEL_KCODE32 0x30
#define SEL_TSS     0x38

#define MSR_EFER           0xC0000080
#define MSR_STAR           0xC0000081
#define MSR_LSTAR          0xC0000082
#define MSR_FMASK          0xC0000084
#define MSR_FS_BASE        0xC0000100
#define MSR_GS_BASE        0xC0000101
#define MSR_KERNEL_GS_BASE 0xC0000102

/* Flags masks: the flags the SDM defines for an instruction. */
#define FL_ALL   0x8D5 /* OF SF ZF AF PF CF */
#define FL_LOGIC 0x8C5 /* AF undefined */
#define FL_SZPC  0x0C5 /* shifts by more than 1: OF undefined */
#define FL_OC    0x801 /* MUL/IMUL, rotates by 1 */
#define FL_C     0x001
#define FL_Z     0x040
#define FL_NONE  0x000

struct frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vec, err, rip, cs, rflags, rsp, ss;
};

/* boot.S */
extern u64 gdt[16];
extern volatile u64 pml4[512], pdpt[512], pd0[512], pd1[512], pt1[512]; /* the CPU sets A/D bits */
extern u32 cpuid_ext_edx;

/* sys.S */
extern const u64 trap_stubs[256];
extern volatile u64 catch_armed, catch_rsp, catch_vec, catch_value;
extern volatile u64 sc_rflags, sc_rcx, sc_r11, sc_cs, sc_ss;
extern volatile u32 compat_out[5];
long catch_fault(const void *fn, u64 arg);
void catch_resume(void);
u64 probe_load(u64 addr);
void probe_store(u64 addr, u64 value);
u64 probe_call(u64 fn);
extern const char probe_load_insn[], probe_store_insn[], probe_call_insn[];
u64 enter_user(u64 rip, u64 rsp, u64 cs);
NORETURN void return_to_kernel(u64 value);
void syscall_entry(void);
u64 compat_call(void);
u64 compat_jump(void);
void user_main64(void), user_sc_ret(void), user_compat(void);
void user_read_super(void), user_write_ro(void), user_mov_cr0(void), user_swapgs(void), user_int_dpl0(void);

static int failures;
static u32 cpuid1_ecx;

static void check(int ok, const char *what)
{
	if (!ok) {
		failures++;
		printf("FAIL: %s\n", what);
	}
}

static const char *yn(int b) { return b ? "yes" : "no"; }

/* ------------------------------------------------------------------ */
/* Descriptor tables                                                    */
/* ------------------------------------------------------------------ */

struct tss64 {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3, iomap;
} __attribute__((packed));

static struct tss64 tss ALIGNED(16);
static struct {
	u64 lo, hi;
} idt[256] ALIGNED(16);

#define STACK_SIZE 8192
static u8 rsp0_stack[STACK_SIZE] ALIGNED(16); /* TSS.RSP0: traps from ring 3 */
static u8 ist1_stack[STACK_SIZE] ALIGNED(16); /* #GP */
static u8 ist2_stack[STACK_SIZE] ALIGNED(16); /* #DF */
static u8 user_stack[STACK_SIZE] ALIGNED(16);
#define TOP(s) ((u64)(s) + sizeof(s))
#define IN_STACK(p, s) ((u64)(p) >= (u64)(s) && (u64)(p) < TOP(s))

static void set_gate(int vec, u64 handler, int ist, u8 type_attr)
{
	idt[vec].lo = (handler & 0xFFFF) | ((u64)SEL_KCODE << 16) | ((u64)(ist & 7) << 32) |
		      ((u64)type_attr << 40) | (((handler >> 16) & 0xFFFF) << 48);
	idt[vec].hi = handler >> 32;
}

struct __attribute__((packed)) dtr {
	u16 limit;
	u64 base;
};

static void setup_descriptors(void)
{
	/* Reload the GDT with the 10-byte 64-bit pseudo-descriptor. */
	struct dtr g = {sizeof(u64) * 16 - 1, (u64)gdt}, g2;
	__asm__ volatile("lgdt %0" : : "m"(g) : "memory");
	__asm__ volatile("sgdt %0" : "=m"(g2));
	printf("[gdt] lgdt/sgdt 10-byte form: limit=%04x base ok: %s\n", g2.limit, yn(g2.base == (u64)gdt));

	tss.rsp[0] = TOP(rsp0_stack);
	tss.ist[0] = TOP(ist1_stack);
	tss.ist[1] = TOP(ist2_stack);
	tss.iomap = sizeof(tss); /* no I/O bitmap */
	u64 base = (u64)&tss, limit = sizeof(tss) - 1;
	gdt[7] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | ((u64)0x89 << 40) | (((limit >> 16) & 0xF) << 48) |
		 (((base >> 24) & 0xFF) << 56);
	gdt[8] = base >> 32;
	u32 before = (gdt[7] >> 40) & 0xF;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
	u16 tr;
	__asm__ volatile("str %0" : "=r"(tr));
	printf("[tss] TSS64 size %u, ltr: TR=%04x, type %x -> %x\n", (u32)sizeof(tss), tr, before,
	       (u32)(gdt[7] >> 40) & 0xF);

	for (int v = 0; v < 256; v++)
		set_gate(v, trap_stubs[v], 0, 0x8E); /* present, DPL 0, 64-bit interrupt gate */
	set_gate(13, trap_stubs[13], 1, 0x8E);        /* #GP on IST1 */
	set_gate(8, trap_stubs[8], 2, 0x8E);          /* #DF on IST2 */
	set_gate(0x80, trap_stubs[0x80], 0, 0xEE);    /* DPL 3: INT 0x80 from ring 3 */
	struct dtr i = {sizeof(idt) - 1, (u64)idt}, i2;
	__asm__ volatile("lidt %0" : : "m"(i) : "memory");
	__asm__ volatile("sidt %0" : "=m"(i2));
	printf("[idt] 256 16-byte gates, limit=%04x; #GP on IST1, #DF on IST2, 0x80 DPL 3\n", i2.limit);
}

/* ------------------------------------------------------------------ */
/* Traps                                                                */
/* ------------------------------------------------------------------ */

static volatile int pf_fix_armed;  /* #PF test: map the page and restart */
static volatile u64 *pf_fix_pte;
static volatile u64 pf_fix_val;
static volatile int ud_skip;       /* #UD test: resume after UD2 */
static volatile u64 seen_vec, seen_err, seen_rip, seen_cr2, seen_cs, seen_rsp, seen_frame;

static void record(struct frame *f)
{
	seen_vec = f->vec;
	seen_err = f->err;
	seen_rip = f->rip;
	seen_cs = f->cs;
	seen_rsp = f->rsp;
	seen_cr2 = read_cr2();
	seen_frame = (u64)f;
}

#define USER_FAULT 0xFA017EDUL

u64 syscall_c(u64 nr, u64 a1, u64 a2, u64 a3);

static void int80(struct frame *f)
{
	u16 cs, ss;
	__asm__ volatile("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
	switch (f->rax) {
	case 0: /* exit(rdi) */
		record(f);
		return_to_kernel(f->rdi);
	case 1: /* report */
		printf("  int 0x80 from cs=%04lx ss=%04lx arg=%lx: handler cs=%04x ss=%04x\n", f->cs, f->ss,
		       f->rdi, cs, ss);
		printf("  frame on TSS.RSP0 stack: %s, at its top: %s; saved rsp = ring-3 rsp: %s\n",
		       yn(IN_STACK(f, rsp0_stack)), yn((u64)(f + 1) == TOP(rsp0_stack)), yn(f->rsp == f->rsi));
		f->rax = 0x8080;
		return;
	}
	printf("bad int 0x80 function %lx\n", f->rax);
	exit_qemu(0x7C);
}

void trap_dispatch(struct frame *f);
void trap_dispatch(struct frame *f)
{
	if (f->vec == 0x80) {
		int80(f);
		return;
	}
	if (f->vec == 14 && pf_fix_armed) {
		record(f);
		pf_fix_armed = 0;
		*pf_fix_pte = pf_fix_val;
		invlpg(seen_cr2);
		return; /* restart the faulting instruction */
	}
	if (f->vec == 6 && ud_skip) {
		record(f);
		ud_skip = 0;
		f->rip += 2;
		return;
	}
	if ((f->cs & 3) == 0 && catch_armed) {
		record(f);
		catch_vec = f->vec;
		f->rip = (u64)catch_resume;
		f->rsp = catch_rsp;
		f->cs = SEL_KCODE;
		f->ss = SEL_KDATA;
		return;
	}
	if (f->cs & 3) {
		record(f);
		return_to_kernel(USER_FAULT);
	}
	printf("\nUNEXPECTED TRAP vec=%02lx err=%lx rip=%lx cs=%04lx rflags=%lx rsp=%lx cr2=%lx\n", f->vec, f->err,
	       f->rip, f->cs, f->rflags, f->rsp, read_cr2());
	exit_qemu(0x7F);
}

/* ------------------------------------------------------------------ */
/* 64-bit integer instructions                                          */
/* ------------------------------------------------------------------ */

static void show2(const char *name, u64 a, u64 b, u64 r, u64 fl)
{
	printf("  %-10s %016lx %016lx -> %016lx fl=%03lx\n", name, a, b, r, fl);
}

/* T: text operates on %[d] (in/out, starts as a) and %[s] (RCX, starts as b); may use RAX, RSI, RDI. */
#define T(name, text, a, b, fin, mask)                                                                  \
	do {                                                                                            \
		u64 _d = (a), _s = (b), _f;                                                             \
		__asm__ volatile("pushq %[fi]\n\tpopfq\n\t" text "\n\tpushfq\n\tpopq %[f]"              \
				 : [d] "+r"(_d), [s] "+c"(_s), [f] "=&r"(_f)                            \
				 : [fi] "r"((u64)(fin))                                                 \
				 : "cc", "memory", "rax", "rsi", "rdi");                                \
		show2(name, (a), (b), _d, _f & (mask));                                                 \
	} while (0)

/* TD: RDX:RAX in/out, %[s] = RCX = b. */
#define TD(name, text, dx, ax, b, mask)                                                                 \
	do {                                                                                            \
		u64 _a = (ax), _dx = (dx), _f;                                                          \
		__asm__ volatile("pushq $2\n\tpopfq\n\t" text "\n\tpushfq\n\tpopq %[f]"                 \
				 : "+a"(_a), "+d"(_dx), [f] "=&r"(_f)                                   \
				 : [s] "c"((u64)(b))                                                    \
				 : "cc", "memory");                                                     \
		printf("  %-10s %016lx:%016lx %016lx -> %016lx:%016lx fl=%03lx\n", name, (u64)(dx), (u64)(ax), \
		       (u64)(b), _dx, _a, _f & (mask));                                                 \
	} while (0)

const u64 rip_const = 0x0123456789ABCDEFUL; /* read RIP-relative by name */
static u64 bt_mem[4] ALIGNED(16);
static u64 cx16_mem[3] ALIGNED(16);

static void div_zero(u64 x) { __asm__ volatile("xorl %%edx, %%edx; divq %1" : "+a"(x) : "r"(0UL) : "rdx", "cc"); }
static void div_overflow(u64 x)
{
	__asm__ volatile("movl $2, %%edx; divq %1" : "+a"(x) : "r"(2UL) : "rdx", "cc");
}
static void idiv_overflow(u64 x)
{
	__asm__ volatile("cqo; idivq %1" : "+a"(x) : "r"(-1UL) : "rdx", "cc");
}
static void cx16_misaligned(u64 addr)
{
	u64 a = 0, d = 0;
	__asm__ volatile("cmpxchg16b (%2)" : "+a"(a), "+d"(d) : "r"(addr), "b"(0UL), "c"(0UL) : "cc", "memory");
}

static u8 ud_code[16];
static void run_ud_code(u64 unused) { ((void (*)(void))ud_code)(); }

static void test_integer(void)
{
	printf("[int] 64-bit ALU\n");
	T("add", "addq %[s], %[d]", 0x7FFFFFFFFFFFFFFFUL, 1, 2, FL_ALL);
	T("add", "addq %[s], %[d]", 0xFFFFFFFFFFFFFFFFUL, 1, 2, FL_ALL);
	T("add", "addq %[s], %[d]", 0x00000000FFFFFFFFUL, 1, 2, FL_ALL);
	T("adc", "adcq %[s], %[d]", 0xFFFFFFFFFFFFFFFFUL, 0, 3, FL_ALL);
	T("adc", "adcq %[s], %[d]", 0x7FFFFFFFFFFFFFFEUL, 1, 3, FL_ALL);
	T("sub", "subq %[s], %[d]", 0, 1, 2, FL_ALL);
	T("sub", "subq %[s], %[d]", 0x8000000000000000UL, 1, 2, FL_ALL);
	T("sbb", "sbbq %[s], %[d]", 0x100000000UL, 0, 3, FL_ALL);
	T("cmp", "cmpq %[s], %[d]", 0x8000000000000000UL, 0x7FFFFFFFFFFFFFFFUL, 2, FL_ALL);
	T("neg", "negq %[d]", 0x8000000000000000UL, 0, 2, FL_ALL);
	T("neg", "negq %[d]", 0, 0, 2, FL_ALL);
	T("inc", "incq %[d]", 0x7FFFFFFFFFFFFFFFUL, 0, 3, FL_ALL); /* CF=1 preserved */
	T("dec", "decq %[d]", 0, 0, 2, FL_ALL);
	T("and", "andq %[s], %[d]", 0xF0F0F0F0F0F0F0F0UL, 0x8F00000000000001UL, 0x8D7, FL_LOGIC);
	T("or", "orq %[s], %[d]", 0, 0, 0x8D7, FL_LOGIC);
	T("xor", "xorq %[s], %[d]", 0xFFFF0000FFFF0000UL, 0x0000FFFF00000000UL, 2, FL_LOGIC);
	T("not", "notq %[d]", 0x00FF00FF00FF00FFUL, 0, 0x8D7, FL_ALL); /* flags unaffected */
	T("test", "testq %[s], %[d]", 0x8000000000000000UL, 0x8000000000000000UL, 2, FL_LOGIC);
	T("add imm8", "addq $-1, %[d]", 1, 0, 2, FL_ALL);
	T("and imm32", "andq $-0x80000000, %[d]", 0xFFFFFFFFFFFFFFFFUL, 0, 2, FL_LOGIC);
	T("mov imm32", "movq $-2, %[d]", 0, 0, 2, FL_NONE);
	T("movabs", "movabsq $0x8877665544332211, %[d]", 0, 0, 2, FL_NONE);

	printf("[int] 32-bit results zero-extend, 8/16-bit ones merge\n");
	T("addl", "addl $1, %k[d]", 0xFFFFFFFFFFFFFFFFUL, 0, 2, FL_ALL);
	T("movl", "movl %k[d], %k[d]", 0xFFFFFFFF80000000UL, 0, 2, FL_NONE);
	T("movl imm", "movl $-1, %k[d]", 0x1234567800000000UL, 0, 2, FL_NONE);
	T("xchgl", "xchgl %k[d], %k[s]", 0xAAAAAAAA11111111UL, 0xBBBBBBBB22222222UL, 2, FL_NONE);
	T("cmovel F", "cmpq $1, %[s]\n\tcmovel %k[s], %k[d]", 0xFFFFFFFFFFFFFFFFUL, 0, 2, FL_NONE);
	T("cmovel T", "cmpq $0, %[s]\n\tcmovel %k[s], %k[d]", 0xFFFFFFFFFFFFFFFFUL, 0, 2, FL_NONE);
	T("addw", "addw $1, %w[d]", 0x111111111111FFFFUL, 0, 2, FL_ALL);
	T("addb", "addb $1, %b[d]", 0x22222222222222FFUL, 0, 2, FL_ALL);
	T("movb sil", "movq %[s], %%rsi\n\tmovb $0x5A, %%sil\n\tmovq %%rsi, %[d]", 0, 0xFFFFFFFFFFFFFFFFUL, 2,
	  FL_NONE);
	T("movb ah", "movq %[s], %%rax\n\tmovb $0x5A, %%ah\n\tmovq %%rax, %[d]", 0, 0xFFFFFFFFFFFFFFFFUL, 2,
	  FL_NONE);
	/* RBP may hold an operand: swap it out and back instead of clobbering it. */
	T("movb bpl", "xchgq %[s], %%rbp\n\tmovb $0xA5, %%bpl\n\txchgq %[s], %%rbp\n\tmovq %[s], %[d]", 0,
	  0x1111111111111111UL, 2, FL_NONE);
	T("movb dil", "movq %[s], %%rdi\n\tmovb $0x77, %%dil\n\tmovb %%dil, %b[d]", 0x4444444444444444UL, 0, 2,
	  FL_NONE);

	printf("[int] shifts and rotates\n");
	T("shl 1", "shlq %%cl, %[d]", 0xC000000000000001UL, 1, 2, FL_ALL & ~0x10);
	T("shl 4", "shlq %%cl, %[d]", 0x1234567890ABCDEFUL, 4, 2, FL_SZPC);
	T("shl 63", "shlq %%cl, %[d]", 3, 63, 2, FL_SZPC);
	T("shl 64", "shlq %%cl, %[d]", 0x1234, 64, 0x8D7, FL_ALL); /* count masked to 0 */
	T("shl 65", "shlq %%cl, %[d]", 0x8000000000000001UL, 65, 2, FL_ALL & ~0x10);
	T("shll 33", "shll %%cl, %k[d]", 0xFFFFFFFF00000001UL, 33, 2, FL_ALL & ~0x10);
	T("shr 1", "shrq %%cl, %[d]", 0x8000000000000001UL, 1, 2, FL_ALL & ~0x10);
	T("shr 33", "shrq %%cl, %[d]", 0x8000000180000000UL, 33, 2, FL_SZPC);
	T("sar 1", "sarq %%cl, %[d]", 0x8000000000000000UL, 1, 2, FL_ALL & ~0x10);
	T("sar 63", "sarq %%cl, %[d]", 0x8000000000000000UL, 63, 2, FL_SZPC);
	T("shl imm", "shlq $40, %[d]", 0xFFFFFF, 0, 2, FL_SZPC);
	T("rol 1", "rolq %%cl, %[d]", 0x8000000000000001UL, 1, 2, FL_OC);
	T("rol 33", "rolq %%cl, %[d]", 0x8000000000000001UL, 33, 2, FL_C);
	T("ror 1", "rorq %%cl, %[d]", 1, 1, 2, FL_OC);
	T("ror 4", "rorq %%cl, %[d]", 0x123456789ABCDEF0UL, 4, 2, FL_C);
	T("rcl 1 CF=1", "rclq %%cl, %[d]", 0x8000000000000000UL, 1, 3, FL_OC);
	T("rcr 1 CF=1", "rcrq %%cl, %[d]", 0, 1, 3, FL_OC);
	T("rcr 65", "rcrq %%cl, %[d]", 3, 65, 2, FL_OC);
	T("shld 4", "movabsq $0xF000000000000000, %%rax\n\tshldq %%cl, %%rax, %[d]", 0x0123456789ABCDEFUL, 4,
	  2, FL_SZPC);
	T("shrd 1", "movq $1, %%rax\n\tshrdq %%cl, %%rax, %[d]", 0x10, 1, 2, FL_ALL & ~0x10);
	T("shrd 60", "movq $-1, %%rax\n\tshrdq %%cl, %%rax, %[d]", 0, 60, 2, FL_SZPC);

	printf("[int] multiply and divide\n");
	TD("mul", "mulq %[s]", 0, 0xFFFFFFFFFFFFFFFFUL, 0xFFFFFFFFFFFFFFFFUL, FL_OC);
	TD("mul", "mulq %[s]", 0, 0x100000000UL, 0xFFFFFFFFUL, FL_OC);
	TD("imul1", "imulq %[s]", 0, -1UL, 2, FL_OC);
	TD("imul1", "imulq %[s]", 0, 0x4000000000000000UL, 2, FL_OC);
	TD("imul2", "imulq %[s], %%rax", 0, 0x100000000UL, 0x100000000UL, FL_OC);
	TD("imul3", "imulq $-3, %[s], %%rax", 0, 0, 5, FL_OC);
	TD("imul3", "imulq $0x40000000, %[s], %%rax", 0, 0, 0x200000000UL, FL_OC);
	TD("div", "divq %[s]", 1, 0, 2, FL_NONE);
	TD("div", "divq %[s]", 0, 0xFFFFFFFFFFFFFFFFUL, 10, FL_NONE);
	TD("idiv", "cqo\n\tidivq %[s]", 0, -1000000000007L, 7, FL_NONE);
	TD("idiv", "cqo\n\tidivq %[s]", 0, 1000000000007L, -7L, FL_NONE);
	TD("cqo", "cqo", 0, 0x8000000000000000UL, 0, FL_NONE);
	TD("cdqe", "cdqe", 0, 0x1234567880000000UL, 0, FL_NONE);
	TD("cwde", "cwde", 0, 0xFFFFFFFFFFFF8000UL, 0, FL_NONE);
	long v;
	v = catch_fault(div_zero, 5);
	printf("  div by 0: vector %ld\n", v);
	v = catch_fault(div_overflow, 0);
	printf("  div quotient overflow: vector %ld\n", v);
	v = catch_fault(idiv_overflow, 0x8000000000000000UL);
	printf("  idiv INT64_MIN/-1: vector %ld\n", v);

	printf("[int] sign/zero extension, bit ops\n");
	T("movsxd", "movslq %k[s], %[d]", 0, 0xFFFFFFFF80000001UL, 2, FL_NONE);
	T("movsxd", "movslq %k[s], %[d]", 0, 0x7FFFFFFFUL, 2, FL_NONE);
	T("movsbq", "movsbq %b[s], %[d]", 0, 0x80, 2, FL_NONE);
	T("movzwq", "movzwq %w[s], %[d]", -1UL, 0xFFFF8001UL, 2, FL_NONE);
	T("movzbl", "movzbl %b[s], %k[d]", -1UL, 0xFF, 2, FL_NONE);
	T("bswap", "bswapq %[d]", 0x0123456789ABCDEFUL, 0, 2, FL_NONE);
	T("bsr", "bsrq %[s], %[d]", 0, 0x8000000000000000UL, 2, FL_Z);
	T("bsf", "bsfq %[s], %[d]", 0, 0x100000000UL, 2, FL_Z);
	T("bsf 0", "bsfq %[s], %%rax\n\tmovq $0, %[d]", 0, 0, 2, FL_Z); /* result undefined: ZF only */
	T("bt 40", "btq %[s], %[d]", 0x10000000000UL, 40, 2, FL_C);
	T("bts 63", "btsq %[s], %[d]", 0, 63, 2, FL_C);
	T("btr 32", "btrq %[s], %[d]", -1UL, 32, 2, FL_C);
	T("btc 71", "btcq %[s], %[d]", 0, 71, 2, FL_C); /* register: offset mod 64 */
	{
		/* Memory operand with a register bit offset: the offset is signed and not masked. */
		u64 f1, f2, f3;
		bt_mem[0] = bt_mem[1] = bt_mem[2] = bt_mem[3] = 0;
		__asm__ volatile("pushq $2; popfq; btsq %3, 8(%4); pushfq; popq %0\n\t"
				 "btsq %5, 16(%4); pushfq; popq %1\n\t"
				 "btq %3, 8(%4); pushfq; popq %2"
				 : "=&r"(f1), "=&r"(f2), "=&r"(f3)
				 : "r"(100UL), "r"(bt_mem), "r"(-1UL)
				 : "cc", "memory");
		printf("  bts [m+8],100 cf=%lx; bts [m+16],-1 cf=%lx; bt [m+8],100 cf=%lx; m: %016lx %016lx %016lx %016lx\n",
		       f1 & FL_C, f2 & FL_C, f3 & FL_C, bt_mem[0], bt_mem[1], bt_mem[2], bt_mem[3]);
	}

	printf("[int] CMPXCHG, XADD, CMPXCHG16B\n");
	{
		u64 mem = 0x1111, a = 0x1111, f;
		__asm__ volatile("pushq $2; popfq; cmpxchgq %3, %1; pushfq; popq %2"
				 : "+a"(a), "+m"(mem), "=&r"(f)
				 : "r"(0x2222UL)
				 : "cc");
		printf("  cmpxchg equal:   rax=%lx mem=%lx fl=%03lx\n", a, mem, f & FL_ALL);
		a = 0x3333;
		__asm__ volatile("pushq $2; popfq; cmpxchgq %3, %1; pushfq; popq %2"
				 : "+a"(a), "+m"(mem), "=&r"(f)
				 : "r"(0x4444UL)
				 : "cc");
		printf("  cmpxchg differ:  rax=%lx mem=%lx fl=%03lx\n", a, mem, f & FL_ALL);
		u64 r = 0x7FFFFFFFFFFFFFFFUL;
		mem = 1;
		__asm__ volatile("pushq $2; popfq; xaddq %0, %1; pushfq; popq %2"
				 : "+r"(r), "+m"(mem), "=&r"(f)
				 :
				 : "cc");
		printf("  xadd: reg=%lx mem=%lx fl=%03lx\n", r, mem, f & FL_ALL);
	}
	if (cpuid1_ecx & (1u << 13)) {
		u64 *m = cx16_mem;
		m[0] = 0x1111111111111111UL;
		m[1] = 0x2222222222222222UL;
		u64 a = m[0], d = m[1], f;
		__asm__ volatile("pushq $2; popfq; cmpxchg16b %2; pushfq; popq %3"
				 : "+a"(a), "+d"(d), "+m"(*(u64(*)[2])m), "=&r"(f)
				 : "b"(0x3333333333333333UL), "c"(0x4444444444444444UL)
				 : "cc");
		printf("  cmpxchg16b equal:  zf=%lx mem=%016lx:%016lx\n", (f >> 6) & 1, m[1], m[0]);
		a = 0;
		d = 0;
		__asm__ volatile("pushq $2; popfq; cmpxchg16b %2; pushfq; popq %3"
				 : "+a"(a), "+d"(d), "+m"(*(u64(*)[2])m), "=&r"(f)
				 : "b"(0x5UL), "c"(0x6UL)
				 : "cc");
		printf("  cmpxchg16b differ: zf=%lx rdx:rax=%016lx:%016lx mem=%016lx:%016lx\n", (f >> 6) & 1, d, a,
		       m[1], m[0]);
		v = catch_fault(cx16_misaligned, (u64)cx16_mem + 8);
		printf("  cmpxchg16b misaligned: vector %ld err=%lx\n", v, seen_err);
	} else {
		printf("cx16: not supported\n");
	}

	printf("[int] registers and addressing\n");
	{
		u64 sum, r9;
		__asm__ volatile("movabsq $0x0101010101010101, %%r8\n\t"
				 "leaq (%%r8,%%r8), %%r9\n\t"
				 "leaq (%%r9,%%r8), %%r10\n\t"
				 "leaq (%%r8,%%r10), %%r11\n\t"
				 "leaq (%%r8,%%r11), %%r12\n\t"
				 "leaq (%%r8,%%r12), %%r13\n\t"
				 "leaq (%%r8,%%r13), %%r14\n\t"
				 "leaq (%%r8,%%r14), %%r15\n\t"
				 "movq %%r8, %0\n\t"
				 "addq %%r9, %0\n\taddq %%r10, %0\n\taddq %%r11, %0\n\taddq %%r12, %0\n\t"
				 "addq %%r13, %0\n\taddq %%r14, %0\n\taddq %%r15, %0\n\t"
				 "movl $-1, %%r9d\n\tmovw $0x1234, %%r9w\n\tmovb $0x56, %%r9b\n\tmovq %%r9, %1"
				 : "=&r"(sum), "=r"(r9)
				 :
				 : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
		printf("  r8..r15 (r8*1..8): sum=%016lx; r9d/r9w/r9b writes: %016lx\n", sum, r9);
		u64 val, addr;
		__asm__ volatile("movq rip_const(%%rip), %0\n\tleaq rip_const(%%rip), %1" : "=r"(val), "=r"(addr));
		printf("  rip-relative load: %016lx, lea = &const: %s\n", val, yn(addr == (u64)&rip_const));
		u64 lea32;
		__asm__ volatile("movl $0xFFFFFFF8, %%eax\n\taddr32 leaq 16(%%eax), %0" : "=r"(lea32) : : "rax");
		printf("  32-bit address size lea 16(0xfffffff8) = %lx\n", lea32);
		u64 j64, j32;
		__asm__ volatile("movabsq $0x100000000, %%rcx\n\tmovl $1, %k0\n\tjrcxz 1f\n\tmovl $0, %k0\n1:\n\t"
				 "movl $1, %k1\n\tjecxz 2f\n\tmovl $0, %k1\n2:"
				 : "=&r"(j64), "=&r"(j32)
				 :
				 : "rcx");
		printf("  rcx=1<<32: jrcxz taken: %s, jecxz taken: %s\n", yn(j64), yn(j32));
		u64 d1, d2, d3;
		__asm__ volatile("movq %%rsp, %0\n\tpushq $-1\n\tsubq %%rsp, %0\n\tpopq %%rax\n\t"
				 "movq %%rsp, %1\n\tpushw $-1\n\tsubq %%rsp, %1\n\tpopw %%ax\n\t"
				 "movq %%rsp, %2\n\tpushq %%fs\n\tsubq %%rsp, %2\n\tpopq %%rax"
				 : "=&r"(d1), "=&r"(d2), "=&r"(d3)
				 :
				 : "rax", "memory");
		printf("  push sizes: pushq imm %lu, pushw imm %lu, push fs %lu\n", d1, d2, d3);
		u64 src[3] = {1, 2, 3}, dst[4] = {0, 0, 0, 0x99};
		u64 rdi_end, rsi_end, rcx_end;
		__asm__ volatile("cld; rep movsq"
				 : "=D"(rdi_end), "=S"(rsi_end), "=c"(rcx_end)
				 : "0"(dst), "1"(src), "2"(3UL)
				 : "memory");
		printf("  rep movsq: %lx %lx %lx %lx, rdi+%lu rsi+%lu rcx=%lu\n", dst[0], dst[1], dst[2], dst[3],
		       rdi_end - (u64)dst, rsi_end - (u64)src, rcx_end);
		__asm__ volatile("std; rep stosq; cld"
				 : "=D"(rdi_end), "=c"(rcx_end)
				 : "0"(&dst[3]), "1"(2UL), "a"(0xABCDUL)
				 : "memory");
		printf("  rep stosq (DF=1): %lx %lx %lx %lx, rdi-%lu\n", dst[0], dst[1], dst[2], dst[3],
		       (u64)&dst[3] - rdi_end);
	}

	printf("[int] opcodes invalid in 64-bit mode\n");
	static const u8 bad[] = {0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x27, 0x2F, 0x37,
				 0x3F, 0x60, 0x61, 0xCE, 0xD4, 0xD5, 0x9A, 0xEA, 0x82};
	printf("  ");
	for (unsigned i = 0; i < sizeof(bad); i++) {
		memset(ud_code, 0xC3, sizeof(ud_code)); /* RET after the opcode */
		ud_code[0] = bad[i];
		if (bad[i] == 0xD4 || bad[i] == 0xD5 || bad[i] == 0x82)
			ud_code[1] = 0x0A;
		long vec = catch_fault(run_ud_code, 0);
		printf("%02x:%s%s", bad[i], vec == 6 && seen_rip == (u64)ud_code ? "#UD" : "??",
		       i + 1 < sizeof(bad) ? " " : "\n");
	}
}

/* ------------------------------------------------------------------ */
/* Paging                                                               */
/* ------------------------------------------------------------------ */

#define PG_P  0x001UL
#define PG_RW 0x002UL
#define PG_US 0x004UL
#define PG_A  0x020UL
#define PG_D  0x040UL
#define PG_PS 0x080UL
#define PG_NX (1UL << 63)

#define PHYS_A 0x500000UL
#define PHYS_B 0x501000UL
#define PHYS_C 0x502000UL
#define PHYS_D 0x503000UL
#define PHYS_E 0x504000UL
#define PHYS_F 0x505000UL
#define VA(i)  (0x40000000UL + (u64)(i)*0x1000)

static volatile u64 *phys(u64 a) { return (volatile u64 *)a; }

static void pf_arm(int idx, u64 val)
{
	pf_fix_pte = &pt1[idx];
	pf_fix_val = val;
	seen_vec = seen_err = seen_cr2 = seen_rip = 0;
	pf_fix_armed = 1;
}

static void test_paging(u32 ext_edx)
{
	printf("[paging] 4-level, 2 MiB identity pages, 4 KiB pages at 0x40000000\n");
	/* Nothing has touched 4-6 MiB yet: its 2 MiB PDE has neither A nor D. */
	u64 pde2 = pd0[2] & 0xFFF;
	u64 pde2r = (*phys(PHYS_A + 8), pd0[2] & 0xFFF);
	*phys(PHYS_A + 8) = 1;
	printf("  2 MiB PDE for 4-6 MiB: flags %03lx -> %03lx (read) -> %03lx (write)\n", pde2, pde2r,
	       pd0[2] & 0xFFF);
	*phys(PHYS_A) = 0xAAAA0000AAAA0000UL;
	*phys(PHYS_B) = 0xBBBB0000BBBB0000UL;
	*phys(PHYS_C) = 0xCCCC0000CCCC0000UL;
	*phys(PHYS_E) = 0xEEEE0000EEEE0000UL;
	*phys(PHYS_F) = 0;
	/* Code for the NX page: mov $0x77, %eax; ret */
	static const u8 code[] = {0xB8, 0x77, 0x00, 0x00, 0x00, 0xC3};
	memcpy((void *)PHYS_D, code, sizeof(code));

	pt1[0] = PHYS_A | PG_P | PG_RW | PG_US;
	pt1[1] = PHYS_A | PG_P | PG_RW | PG_US; /* alias */
	pt1[2] = 0;                              /* not present: read fault, then mapped to B */
	pt1[3] = PHYS_C | PG_P | PG_US;          /* read-only */
	pt1[4] = PHYS_D | PG_P | PG_RW | PG_US;  /* NX if supported (below) */
	pt1[5] = PHYS_E | PG_P | PG_RW;          /* supervisor only */
	pt1[6] = 0;                              /* not present: write fault, then mapped to F */
	pt1[7] = PHYS_C | PG_P | PG_US;          /* read-only, stays so (ring-3 write test) */
	write_cr3(read_cr3());


	u64 pte0 = pt1[0] & 0xFFF;
	u64 r = *phys(VA(0));
	u64 pte1 = pt1[0] & 0xFFF;
	*phys(VA(1) + 16) = 0x1234;
	printf("  read %lx via 4 KiB page; PTE flags %03lx -> %03lx (read) ; alias PTE after write %03lx\n", r,
	       pte0, pte1, pt1[1] & 0xFFF);
	printf("  write via alias, read via other mapping and identity: %lx %lx\n", *phys(VA(0) + 16),
	       *phys(PHYS_A + 16));
	printf("  accessed bits: pml4e %lx pdpte %lx pde %lx\n", pml4[0] & PG_A, pdpt[1] & PG_A, pd1[0] & PG_A);

	pt1[0] = PHYS_B | PG_P | PG_RW | PG_US;
	invlpg(VA(0));
	printf("  remap + invlpg: %lx\n", *phys(VA(0)));
	pt1[0] = PHYS_A | PG_P | PG_RW | PG_US;
	write_cr3(read_cr3());
	printf("  remap + mov cr3: %lx\n", *phys(VA(0)));

	/* #PF on a read of a not-present page: the handler maps it and the load restarts. */
	pf_arm(2, PHYS_B | PG_P | PG_RW | PG_US);
	r = probe_load(VA(2));
	printf("  #PF read not-present: vec=%lu err=%lx cr2=%lx rip=faulting insn: %s; restarted load = %lx\n",
	       seen_vec, seen_err, seen_cr2, yn(seen_rip == (u64)probe_load_insn), r);
	pf_arm(6, PHYS_F | PG_P | PG_RW | PG_US);
	probe_store(VA(6) + 8, 0xF00D);
	printf("  #PF write not-present: vec=%lu err=%lx cr2=%lx rip=faulting insn: %s; stored %lx\n", seen_vec,
	       seen_err, seen_cr2, yn(seen_rip == (u64)probe_store_insn), *phys(PHYS_F + 8));
	write_cr0(read_cr0() | (1UL << 16)); /* WP */
	pf_arm(3, PHYS_C | PG_P | PG_RW | PG_US);
	probe_store(VA(3), 0xC0FFEE);
	printf("  #PF write read-only (WP=1): vec=%lu err=%lx cr2=%lx rip ok: %s; stored %lx\n", seen_vec, seen_err,
	       seen_cr2, yn(seen_rip == (u64)probe_store_insn), *phys(PHYS_C));

	if (ext_edx & (1u << 20)) {
		pt1[4] |= PG_NX;
		invlpg(VA(4));
		pf_arm(4, PHYS_D | PG_P | PG_RW | PG_US);
		r = probe_call(VA(4));
		printf("  #PF fetch from NX page: vec=%lu err=%lx cr2=%lx rip=page: %s; restarted call = %lx\n",
		       seen_vec, seen_err, seen_cr2, yn(seen_rip == VA(4)), r);
	} else {
		printf("nx: not supported\n");
	}

	/* A 1 GiB page, only if CPUID.80000001H:EDX[26] (Page1GB) says so. */
	if (ext_edx & (1u << 26)) {
		pdpt[2] = 0 | PG_P | PG_RW | PG_US | PG_PS;
		write_cr3(read_cr3());
		int ok = *phys(0x80000000UL + PHYS_B) == *phys(PHYS_B);
		*phys(0x80000000UL + PHYS_F + 16) = 0x1616;
		ok = ok && *phys(PHYS_F + 16) == 0x1616 && (pdpt[2] & (PG_A | PG_D)) == (PG_A | PG_D);
		printf("cpuid: 1g pages: yes, 1 GiB page at 0x80000000 reads/writes physical 0: %s\n", yn(ok));
		check(ok, "1 GiB page");
	} else {
		printf("cpuid: 1g pages: no\n");
	}
}

/* ------------------------------------------------------------------ */
/* Exceptions                                                           */
/* ------------------------------------------------------------------ */

static void do_ud2(u64 unused)
{
	(void)unused;
	__asm__ volatile("ud2");
}
static void do_div0(u64 x) { div_zero(x); }

static void test_exceptions(void)
{
	printf("[exc] IDT with 64-bit interrupt gates\n");
	u64 at, after;
	ud_skip = 1;
	__asm__ volatile("leaq 1f(%%rip), %0\n1:\tud2\n\tmovl $0x600D, %k1" : "=&r"(at), "=r"(after));
	printf("  ud2: vec=%lu rip=ud2: %s, resumed after it: %lx\n", seen_vec, yn(seen_rip == at), after);

	long v = catch_fault(probe_load, 0x0000800000000000UL);
	printf("  load from 0000800000000000: vec=%ld err=%lx rip=insn: %s; on IST1: %s, at its top: %s\n", v,
	       seen_err, yn(seen_rip == (u64)probe_load_insn), yn(IN_STACK(seen_frame, ist1_stack)),
	       yn(seen_frame + sizeof(struct frame) == TOP(ist1_stack)));
	v = catch_fault(probe_store, 0xFFFF7FFFFFFFFFF8UL);
	printf("  store to ffff7ffffffffff8: vec=%ld err=%lx rip=insn: %s\n", v, seen_err,
	       yn(seen_rip == (u64)probe_store_insn));
	v = catch_fault(probe_load, 0xFFFF800000000000UL);
	printf("  load from ffff800000000000 (canonical, unmapped): vec=%ld err=%lx cr2=%lx\n", v, seen_err,
	       seen_cr2);
	v = catch_fault(probe_load, 0x00007FFFFFFFF000UL);
	printf("  load from 00007ffffffff000 (canonical, unmapped): vec=%ld err=%lx cr2=%lx\n", v, seen_err,
	       seen_cr2);

	/* #DE with the #DE gate not present: #NP while delivering #DE -> #DF. */
	u64 save = idt[0].lo;
	idt[0].lo &= ~(1UL << 47);
	v = catch_fault(do_div0, 1);
	idt[0].lo = save;
	printf("  #DE through a not-present gate: vec=%ld err=%lx; on IST2: %s, at its top: %s\n", v, seen_err,
	       yn(IN_STACK(seen_frame, ist2_stack)), yn(seen_frame + sizeof(struct frame) == TOP(ist2_stack)));
	v = catch_fault(do_ud2, 0);
	printf("  ud2 caught: vec=%ld, cs=%04lx\n", v, seen_cs);
}

/* ------------------------------------------------------------------ */
/* Ring 3, SYSCALL/SYSRET, INT 0x80                                     */
/* ------------------------------------------------------------------ */

u64 syscall_c(u64 nr, u64 a1, u64 a2, u64 a3)
{
	switch (nr) {
	case 0:
		return_to_kernel(a1);
	case 42:
		/* Only the non-arithmetic RFLAGS bits are printed: QEMU 7.2 clears OF SF ZF AF PF CF on
		 * SYSCALL, where the SDM says RFLAGS := RFLAGS & ~FMASK keeps them. */
		printf("  syscall nr=%lu from cpl %lu: handler cs=%04lx ss=%04lx (cpl %lu), rflags&~%x=%lx\n", nr,
		       a1, sc_cs & 0xFFFF, sc_ss & 0xFFFF, sc_cs & 3, FL_ALL, sc_rflags & ~(u64)FL_ALL);
		printf("  r11=%lx (ring-3 rflags), rcx=return rip: %s\n", sc_r11, yn(sc_rcx == (u64)user_sc_ret));
		return 0x4242;
	case 1:
		printf("  after sysret: rax=%lx rflags=%lx cs=%04lx ss=%04lx\n", a1, a2, a3 >> 16, a3 & 0xFFFF);
		return 0;
	}
	printf("bad syscall %lx\n", nr);
	exit_qemu(0x7C);
}

static void user_fault(const char *what, u64 fn, u64 idt_vector)
{
	seen_vec = seen_err = seen_cr2 = seen_cs = 0;
	u64 r = enter_user(fn, TOP(user_stack), SEL_UCODE64);
	printf("  %-28s %s vec=%lu", what, r == USER_FAULT ? "fault" : "no fault", seen_vec);
	if (idt_vector) {
		/* An error code naming an IDT entry: the SDM puts the vector in bits 3-15
		 * (0x81 -> 0x40a); QEMU 7.2 in long mode uses vector*16+2 (0x812). Print the
		 * EXT/IDT/TI bits and accept either encoding of the index. */
		int named = (seen_err >> 3) == idt_vector || (seen_err >> 4) == idt_vector;
		printf(" err&7=%lx (IDT) names vector %lx: %s", seen_err & 7, idt_vector, yn(named));
	} else {
		printf(" err=%lx", seen_err);
	}
	if (seen_vec == 14)
		printf(" cr2=%lx", seen_cr2);
	printf(" cs=%04lx rip ok: %s\n", seen_cs, yn(seen_rip == fn));
}

static void test_ring3(void)
{
	printf("[ring3] STAR/LSTAR/FMASK, IRETQ to ring 3\n");
	wrmsr(MSR_STAR, ((u64)0x18 << 48) | ((u64)SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_FMASK, 0x40700); /* AC DF IF TF */
	u64 r = enter_user((u64)user_main64, TOP(user_stack), SEL_UCODE64);
	printf("  exit value %lx\n", r);
	printf("syscall ok\n");

	printf("[ring3] compatibility-mode ring 3 (CS=001b), INT 0x80 to 64-bit ring 0\n");
	seen_cs = 0;
	r = enter_user((u64)user_compat, TOP(user_stack), SEL_UCODE32);
	printf("  exit value %lx from cs=%04lx\n", r, seen_cs);

	printf("[ring3] faults from ring 3\n");
	user_fault("read supervisor page:", (u64)user_read_super, 0);
	user_fault("write read-only page:", (u64)user_write_ro, 0);
	user_fault("mov from cr0:", (u64)user_mov_cr0, 0);
	user_fault("swapgs:", (u64)user_swapgs, 0);
	user_fault("int 0x81 (DPL 0 gate):", (u64)user_int_dpl0, 0x81);
}

/* ------------------------------------------------------------------ */
/* FS/GS bases, SWAPGS                                                  */
/* ------------------------------------------------------------------ */

/* The areas sit at fixed addresses so the bases can be printed. */
#define FS_AREA  0x506000UL
#define GS_AREA  0x507000UL
#define KGS_AREA 0x508000UL

static void test_segbases(void)
{
	printf("[gs] FS/GS base MSRs, SWAPGS\n");
	for (int i = 0; i < 2; i++) {
		phys(FS_AREA)[i] = 0xF5F5000000000000UL + i;
		phys(GS_AREA)[i] = 0x6565000000000000UL + i;
		phys(KGS_AREA)[i] = 0x4B4B000000000000UL + i;
	}
	wrmsr(MSR_FS_BASE, FS_AREA);
	wrmsr(MSR_GS_BASE, GS_AREA);
	wrmsr(MSR_KERNEL_GS_BASE, KGS_AREA);
	u64 f, g;
	__asm__ volatile("movq %%fs:8, %0; movq %%gs:0, %1" : "=r"(f), "=r"(g) : : "memory");
	printf("  FS_BASE=%lx GS_BASE=%lx KERNEL_GS_BASE=%lx: fs:8=%lx gs:0=%lx\n", rdmsr(MSR_FS_BASE),
	       rdmsr(MSR_GS_BASE), rdmsr(MSR_KERNEL_GS_BASE), f, g);
	__asm__ volatile("swapgs" ::: "memory");
	__asm__ volatile("movq %%gs:8, %0" : "=r"(g) : : "memory");
	printf("  after swapgs: GS_BASE=%lx KERNEL_GS_BASE=%lx: gs:8=%lx\n", rdmsr(MSR_GS_BASE),
	       rdmsr(MSR_KERNEL_GS_BASE), g);
	__asm__ volatile("swapgs" ::: "memory");
	__asm__ volatile("movq %%gs:0, %0" : "=r"(g) : : "memory");
	printf("  swapgs again: GS_BASE=%lx KERNEL_GS_BASE=%lx: gs:0=%lx\n", rdmsr(MSR_GS_BASE),
	       rdmsr(MSR_KERNEL_GS_BASE), g);
	wrmsr(MSR_GS_BASE, 0xFFFF800000001000UL);
	wrmsr(MSR_FS_BASE, 0x00007FFFFFFFF000UL);
	printf("  64-bit bases read back: FS_BASE=%lx GS_BASE=%lx\n", rdmsr(MSR_FS_BASE), rdmsr(MSR_GS_BASE));
	__asm__ volatile("movw %w0, %%fs" : : "r"(SEL_KDATA));
	printf("  after mov fs, %04x (descriptor base 0): FS_BASE=%lx\n", SEL_KDATA, rdmsr(MSR_FS_BASE));
	wrmsr(MSR_GS_BASE, 0);
	__asm__ volatile("movw %w0, %%fs" : : "r"(0));
}

/* ------------------------------------------------------------------ */
/* Compatibility mode in ring 0                                         */
/* ------------------------------------------------------------------ */

static void test_compat(void)
{
	printf("[compat] far call/jmp to a 32-bit code segment\n");
	u64 r = compat_call();
	printf("  far call: eax=%lx; inc via 0x40=%x, push size %u, pushed cs=%04x, cs in compat=%04x\n", r,
	       compat_out[0], compat_out[1], compat_out[2] & 0xFFFF, compat_out[3] & 0xFFFF);
	r = compat_jump();
	printf("  far jmp: eax=%lx (dec via 0x48), cs in compat=%04x\n", r, compat_out[4] & 0xFFFF);
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	int ok = compat_out[0] == 0x80000000u && compat_out[1] == 4 && r == 0x7FFFFFFF && cs == SEL_KCODE;
	check(ok, "compatibility mode");
	if (ok)
		printf("compat ok\n");
}

/* ------------------------------------------------------------------ */

static void print_cpuid(void)
{
	u32 r[4], v[4];
	cpuid(0, 0, r);
	v[0] = r[1];
	v[1] = r[3];
	v[2] = r[2];
	v[3] = 0;
	printf("cpuid: vendor %s max leaf %x\n", (const char *)v, r[0]);
	cpuid(1, 0, r);
	cpuid1_ecx = r[2];
	printf("cpuid: 1: ecx=%08x edx=%08x\n", r[2], r[3]);
	cpuid(0x80000000, 0, r);
	printf("cpuid: max extended leaf %x\n", r[0]);
	cpuid(0x80000001, 0, r);
	printf("cpuid: 80000001: ecx=%08x edx=%08x (lm=%u nx=%u syscall=%u page1gb=%u) cx16=%u\n", r[2], r[3],
	       (r[3] >> 29) & 1, (r[3] >> 20) & 1, (r[3] >> 11) & 1, (r[3] >> 26) & 1, (cpuid1_ecx >> 13) & 1);
}

void kmain(u32 magic, u32 info);
void kmain(u32 magic, u32 info)
{
	serial_init();
	printf("longmode64: 64-bit code running, multiboot magic ok: %s\n", yn(magic == 0x2BADB002));
	print_cpuid();
	u64 efer = rdmsr(MSR_EFER);
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	printf("[mode] EFER LME=%lu LMA=%lu SCE=%lu; CR0 PG=%lu PE=%lu; CR4 PAE=%lu; cs=%04x\n", (efer >> 8) & 1,
	       (efer >> 10) & 1, efer & 1, read_cr0() >> 31, read_cr0() & 1, (read_cr4() >> 5) & 1, cs);
	if (cpuid_ext_edx & (1u << 20))
		printf("[mode] EFER.NXE=%lu\n", (efer >> 11) & 1);
	else
		printf("nx: not supported\n");

	setup_descriptors();
	test_integer();
	test_paging(cpuid_ext_edx);
	test_exceptions();
	test_ring3();
	test_segbases();
	test_compat();

	if (failures) {
		printf("longmode64: FAIL (%d)\n", failures);
		exit_qemu(1);
	}
	printf("longmode64: PASS\n");
	exit_qemu(0);
}
