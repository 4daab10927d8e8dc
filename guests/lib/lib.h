/*
 * Tiny freestanding support library shared by the multiboot guests
 * (mb32hello, cputest32, systest32): port I/O, a polled COM1 driver,
 * a small printf, CRC32, the isa-debug-exit port, and descriptor tables.
 */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef unsigned int size_t;

#define NULL ((void *)0)
#define ALIGNED(n) __attribute__((aligned(n)))
#define NORETURN __attribute__((noreturn))

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* serial.c / printf.c */
void serial_init(void);
void putc(char c);
void puts(const char *s);              /* no newline appended */
void printf(const char *fmt, ...);     /* %c %s %d %u %x %X %llx, width, '0' flag, '-' flag */
NORETURN void exit_qemu(u32 code);     /* isa-debug-exit: QEMU exits with (code<<1)|1 */

/* CRC32 (IEEE, reflected) of everything printed while crc_enabled != 0. */
extern u32 crc_value;                  /* running CRC (pre/post inverted form) */
extern int crc_enabled;
u32 crc32_update(u32 crc, const void *p, size_t n);
u32 crc32(const void *p, size_t n);

/* string.c: gcc may emit calls to these even with -ffreestanding */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Multiboot v1 information (only the fields we use). */
struct mb_info {
	u32 flags;
	u32 mem_lower, mem_upper;
	u32 boot_device;
	u32 cmdline;
	u32 mods_count, mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
};
struct mb_mmap {
	u32 size; /* of the rest of the entry, not counting this field */
	u64 addr, len;
	u32 type;
} __attribute__((packed));
#define MB_MAGIC 0x2BADB002

/* desc.c: GDT / IDT / TSS helpers. */
struct trapframe {
	u32 gs, fs, es, ds;
	u32 edi, esi, ebp, esp0, ebx, edx, ecx, eax; /* pusha; esp0 is the ESP pusha saw */
	u32 vec, err;
	u32 eip, cs, eflags;
	u32 esp, ss;                                 /* only valid if the trap came from ring 3 */
};
typedef void (*trap_handler)(struct trapframe *f);

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B
#define SEL_UDATA 0x23
#define SEL_TSS   0x28

extern u64 gdt[16];
void gdt_set(int idx, u32 base, u32 limit, u8 access, u8 flags); /* flags: G,DB nibble */
void gdt_load(void);          /* lgdt + reload all segment registers (flat ring-0 model) */
void idt_init(void);          /* all stubs 0..47 and 0x80, ring-0 interrupt gates */
void idt_set_gate(int vec, u32 off, u16 sel, u8 type_attr);
void idt_set_stub(int vec, u8 type_attr);  /* point vector at its stub with type_attr */
void idt_load(void);
void set_trap_handler(int vec, trap_handler h);
extern u64 idt[256];
extern u32 trap_stubs[256];   /* address of each vector's entry stub (0 if none) */

/* trap.c default handler: prints and exits with code 0x7F */
void unexpected_trap(struct trapframe *f);

static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u32 addr) { __asm__ volatile("invlpg (%0)" : : "r"(addr) : "memory"); }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

#endif
