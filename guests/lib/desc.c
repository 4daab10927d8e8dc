/* GDT and IDT setup and the C side of trap dispatch. */
#include "lib.h"

/* Descriptor tables. Index: 0 null, 1 kernel code, 2 kernel data,
 * 3 user code, 4 user data, 5 TSS, 6.. free for guests. */
u64 gdt[16] ALIGNED(8);
u64 idt[256] ALIGNED(8);
static trap_handler handlers[256];

void gdt_set(int idx, u32 base, u32 limit, u8 access, u8 flags)
{
	u64 d = (limit & 0xFFFF) | ((u64)(base & 0xFFFFFF) << 16) | ((u64)access << 40) |
		((u64)((limit >> 16) & 0xF) << 48) | ((u64)(flags & 0xF) << 52) |
		((u64)(base >> 24) << 56);
	gdt[idx] = d;
}

void gdt_load(void)
{
	gdt_set(1, 0, 0xFFFFF, 0x9A, 0xC); /* ring-0 code, 4 GiB, 32-bit */
	gdt_set(2, 0, 0xFFFFF, 0x92, 0xC); /* ring-0 data */
	gdt_set(3, 0, 0xFFFFF, 0xFA, 0xC); /* ring-3 code */
	gdt_set(4, 0, 0xFFFFF, 0xF2, 0xC); /* ring-3 data */
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) gdtr = {sizeof(gdt) - 1, (u32)gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp $0x08, $1f\n"
			 "1:\n\t"
			 "movw $0x10, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%fs\n\t"
			 "movw %%ax, %%gs\n\t"
			 "movw %%ax, %%ss\n\t"
			 :
			 : "m"(gdtr)
			 : "eax", "memory");
}

void idt_set_gate(int vec, u32 off, u16 sel, u8 type_attr)
{
	idt[vec] = (off & 0xFFFF) | ((u64)sel << 16) | ((u64)type_attr << 40) |
		   ((u64)(off >> 16) << 48);
}

void idt_set_stub(int vec, u8 type_attr) { idt_set_gate(vec, trap_stubs[vec], SEL_KCODE, type_attr); }

void idt_load(void)
{
	struct {
		u16 limit;
		u32 base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (u32)idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void idt_init(void)
{
	for (int v = 0; v < 256; v++)
		idt_set_stub(v, 0x8E); /* present, DPL 0, 32-bit interrupt gate */
	idt_load();
}

void set_trap_handler(int vec, trap_handler h) { handlers[vec] = h; }

void unexpected_trap(struct trapframe *f)
{
	crc_enabled = 0;
	printf("\nUNEXPECTED TRAP vec=%02x err=%08x eip=%08x cs=%04x eflags=%08x cr2=%08x\n", f->vec,
	       f->err, f->eip, f->cs & 0xFFFF, f->eflags, read_cr2());
	exit_qemu(0x7F);
}

void trap_dispatch(struct trapframe *f);
void trap_dispatch(struct trapframe *f)
{
	trap_handler h = handlers[f->vec];
	if (h)
		h(f);
	else
		unexpected_trap(f);
}
