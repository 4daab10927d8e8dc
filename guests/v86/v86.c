/*
 * v86: virtual-8086 mode. The kernel IRETs into v86 mode (EFLAGS.VM, IOPL
 * 3) at 0700:0000, where 16-bit code loads AX and executes INT 0x30. The
 * interrupt leaves v86 mode through a DPL-3 interrupt gate onto the TSS
 * ring-0 stack with the v86 frame (EIP, CS, EFLAGS, ESP, SS, ES, DS, FS,
 * GS), and the data segment registers read as null. Then a second entry
 * runs CLI with IOPL 0, which must raise #GP. All checked against QEMU.
 */
#include "lib.h"

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
	u32 es, cs, ss, ds, fs, gs, ldt, iomap;
};
static struct tss32 tss;
static u8 kstack[4096] ALIGNED(16);
static int phase;

void v86_trap(u32 vec, u32 err, u32 *f, u32 eax, u32 dsval);
void v86_trap(u32 vec, u32 err, u32 *f, u32 eax, u32 dsval)
{
	printf("trap %x err=%x from v86: eip=%x cs=%x vm=%d iopl=%d esp=%x ss=%x es=%x ds=%x fs=%x gs=%x\n", vec, err,
	       f[0], f[1], (f[2] >> 17) & 1, (f[2] >> 12) & 3, f[3], f[4], f[5], f[6], f[7], f[8]);
	printf("  ax=%x, ds on entry=%x\n", eax & 0xFFFF, dsval);
	if (phase == 0) {
		phase = 1;
		return; /* back to kmain via the saved kernel stack (see v86_enter) */
	}
	printf("v86: PASS\n");
	exit_qemu(0);
}

/* Entry stubs: INT 0x30 (no error code) and #GP (error code). They record
 * DS, switch to the kernel data segments and call v86_trap. */
__asm__(".text\n"
	"int30_entry:\n\tpushl $0\n\tpushl $0x30\n\tjmp common\n"
	"gp_entry:\n\tpushl $0x0d\n\tjmp common\n"
	"common:\n"
	"\tmovl %ds, %ecx\n"
	"\tmovw $0x10, %dx\n\tmovw %dx, %ds\n\tmovw %dx, %es\n"
	"\tleal 8(%esp), %edx\n"       /* the CPU's frame */
	"\tpushl %ecx\n\tpushl %eax\n\tpushl %edx\n"
	"\tpushl 16(%esp)\n\tpushl 16(%esp)\n" /* err, vec */
	"\tcall v86_trap\n"
	"\tmovl saved_esp, %esp\n\tpopl %ebp\n\tret\n"
	".globl v86_enter\nv86_enter:\n"
	"\tpushl %ebp\n\tmovl %esp, saved_esp\n"
	"\tmovl 8(%esp), %eax\n"          /* eflags for the v86 task */
	"\tpushl $0\n\tpushl $0\n\tpushl $0x0700\n\tpushl $0x0700\n" /* gs fs ds es */
	"\tpushl $0x0800\n\tpushl $0x0100\n"                            /* ss esp */
	"\tpushl %eax\n\tpushl $0x0700\n\tpushl $0\n"                  /* eflags cs eip */
	"\tiret\n"
	".data\nsaved_esp: .long 0\n.text\n");
void int30_entry(void);
void gp_entry(void);
void v86_enter(u32 eflags);

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	gdt_load();
	idt_init();
	tss.esp0 = (u32)(kstack + sizeof(kstack));
	tss.ss0 = SEL_KDATA;
	tss.iomap = sizeof(tss);
	gdt_set(5, (u32)&tss, sizeof(tss) - 1, 0x89, 0);
	__asm__ volatile("ltr %w0" : : "r"(0x28));
	idt_set_gate(0x30, (u32)int30_entry, SEL_KCODE, 0xEE); /* DPL 3 interrupt gate */
	idt_set_gate(0x0d, (u32)gp_entry, SEL_KCODE, 0x8E);
	/* 16-bit code at 0700:0000: mov ax,0x1234; int 0x30; cli; int 0x30 */
	static const u8 code[] = {0xb8, 0x34, 0x12, 0xcd, 0x30, 0xfa, 0xcd, 0x30};
	for (u32 i = 0; i < sizeof(code); i++)
		((volatile u8 *)0x7000)[i] = code[i];
	printf("entering v86 with IOPL 3\n");
	v86_enter(0x20002 | 0x3000);
	printf("back in protected mode; entering v86 with IOPL 0 at the CLI\n");
	((volatile u8 *)0x7000)[0] = 0xeb; /* jmp +3: skip to the cli */
	((volatile u8 *)0x7000)[1] = 0x03;
	v86_enter(0x20002);
	exit_qemu(0x7d);
}
