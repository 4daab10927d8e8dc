/*
 * cputest32: exercises the integer instruction set in 32-bit protected mode
 * and prints every result, so that a wrong emulator produces a different
 * line than QEMU did. Flags are printed as EFLAGS & mask, where the mask
 * leaves out the flags the Intel SDM calls undefined for that instruction
 * (and keeps the ones it calls "unaffected", which we preload with a known
 * pattern through POPF so that preserving them is checked too).
 *
 * Output format: one result per line, "op operands -> results f=FLAGS".
 * The line starting with "cpuid:" differs between CPUs; everything else
 * must match exactly. The last lines print a CRC32 of all other output.
 */
#include "lib.h"

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800
#define ALLF (CF | PF | AF | ZF | SF | OF) /* 0x8D5 */

/* ------------------------------------------------------------------ */
/* Instruction wrappers. Each loads EFLAGS from fin, runs one            */
/* instruction, and returns the result and the new EFLAGS.              */
/* ------------------------------------------------------------------ */

typedef u32 (*binop)(u32 a, u32 b, u32 fin, u32 *fout);

/* Two-operand "op b, a" (AT&T order: a = a OP b). cons: register class,
 * mod: operand-size modifier ("b" byte, "w" word, "k" dword). */
#define DEF_BIN(name, insn, cons, mod)                                                        \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                     \
	{                                                                                     \
		u32 f;                                                                        \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " %" mod "[b], %" mod "[a]\n\t" \
				 "pushfl\n\tpopl %[f]"                                        \
				 : [a] "+" cons(a), [f] "=&r"(f)                              \
				 : [b] cons(b), [fin] "r"(fin)                                \
				 : "cc");                                                     \
		*fout = f;                                                            \
		return a;                                                             \
	}

DEF_BIN(add32, "addl", "r", "k")
DEF_BIN(adc32, "adcl", "r", "k")
DEF_BIN(sub32, "subl", "r", "k")
DEF_BIN(sbb32, "sbbl", "r", "k")
DEF_BIN(cmp32, "cmpl", "r", "k")
DEF_BIN(and32, "andl", "r", "k")
DEF_BIN(or32, "orl", "r", "k")
DEF_BIN(xor32, "xorl", "r", "k")
DEF_BIN(test32, "testl", "r", "k")
DEF_BIN(add16, "addw", "r", "w")
DEF_BIN(adc16, "adcw", "r", "w")
DEF_BIN(sub16, "subw", "r", "w")
DEF_BIN(sbb16, "sbbw", "r", "w")
DEF_BIN(add8, "addb", "q", "b")
DEF_BIN(adc8, "adcb", "q", "b")
DEF_BIN(sub8, "subb", "q", "b")
DEF_BIN(sbb8, "sbbb", "q", "b")
DEF_BIN(cmp8, "cmpb", "q", "b")
DEF_BIN(imul2_32, "imull", "r", "k")
DEF_BIN(imul2_16, "imulw", "r", "w")
DEF_BIN(bt32, "btl", "r", "k")
DEF_BIN(bts32, "btsl", "r", "k")
DEF_BIN(btr32, "btrl", "r", "k")
DEF_BIN(btc32, "btcl", "r", "k")
DEF_BIN(bsf32, "bsfl", "r", "k")
DEF_BIN(bsr32, "bsrl", "r", "k")
DEF_BIN(bsf16, "bsfw", "r", "w")
DEF_BIN(bsr16, "bsrw", "r", "w")

/* Unary "op a". */
#define DEF_UN(name, insn, cons, mod)                                                       \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                   \
	{                                                                                   \
		u32 f;                                                                      \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " %" mod "[a]\n\t"        \
				 "pushfl\n\tpopl %[f]"                                      \
				 : [a] "+" cons(a), [f] "=&r"(f)                            \
				 : [fin] "r"(fin)                                           \
				 : "cc");                                                   \
		*fout = f;                                                          \
		return a;                                                           \
	}

DEF_UN(inc32, "incl", "r", "k")
DEF_UN(dec32, "decl", "r", "k")
DEF_UN(neg32, "negl", "r", "k")
DEF_UN(not32, "notl", "r", "k")
DEF_UN(inc8, "incb", "q", "b")
DEF_UN(dec8, "decb", "q", "b")
DEF_UN(neg8, "negb", "q", "b")
DEF_UN(inc16, "incw", "r", "w")
DEF_UN(neg16, "negw", "r", "w")
DEF_UN(bswap32, "bswapl", "r", "k")

/* Shifts and rotates by CL. */
#define DEF_SHIFT(name, insn, cons, mod)                                                    \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                   \
	{                                                                                   \
		u32 f;                                                                      \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " %%cl, %" mod "[a]\n\t"  \
				 "pushfl\n\tpopl %[f]"                                      \
				 : [a] "+" cons(a), [f] "=&r"(f)                            \
				 : "c"(b), [fin] "r"(fin)                                   \
				 : "cc");                                                   \
		*fout = f;                                                          \
		return a;                                                           \
	}

DEF_SHIFT(shl32, "shll", "r", "k")
DEF_SHIFT(shr32, "shrl", "r", "k")
DEF_SHIFT(sar32, "sarl", "r", "k")
DEF_SHIFT(rol32, "roll", "r", "k")
DEF_SHIFT(ror32, "rorl", "r", "k")
DEF_SHIFT(rcl32, "rcll", "r", "k")
DEF_SHIFT(rcr32, "rcrl", "r", "k")
DEF_SHIFT(shl8, "shlb", "q", "b")
DEF_SHIFT(shr8, "shrb", "q", "b")
DEF_SHIFT(sar8, "sarb", "q", "b")
DEF_SHIFT(rol8, "rolb", "q", "b")
DEF_SHIFT(ror8, "rorb", "q", "b")
DEF_SHIFT(rcl8, "rclb", "q", "b")
DEF_SHIFT(rcr8, "rcrb", "q", "b")
DEF_SHIFT(rol16, "rolw", "r", "w")
DEF_SHIFT(rcl16, "rclw", "r", "w")
DEF_SHIFT(rcr16, "rcrw", "r", "w")
DEF_SHIFT(sar16, "sarw", "r", "w")

/* Shifts by an immediate: the D1 (by 1) and C1 (imm8) encodings. */
#define DEF_SHIFTI(name, insn, imm)                                                         \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                   \
	{                                                                                   \
		u32 f;                                                                      \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " $" #imm ", %[a]\n\t"    \
				 "pushfl\n\tpopl %[f]"                                      \
				 : [a] "+r"(a), [f] "=&r"(f)                                \
				 : [fin] "r"(fin)                                           \
				 : "cc");                                                   \
		*fout = f;                                                          \
		return a;                                                           \
	}

DEF_SHIFTI(shl1_32, "shll", 1)
DEF_SHIFTI(shr1_32, "shrl", 1)
DEF_SHIFTI(sar1_32, "sarl", 1)
DEF_SHIFTI(rol1_32, "roll", 1)
DEF_SHIFTI(ror1_32, "rorl", 1)
DEF_SHIFTI(rcl1_32, "rcll", 1)
DEF_SHIFTI(rcr1_32, "rcrl", 1)
DEF_SHIFTI(shl7_32, "shll", 7)
DEF_SHIFTI(sar7_32, "sarl", 7)
DEF_SHIFTI(ror7_32, "rorl", 7)
DEF_SHIFTI(rcr7_32, "rcrl", 7)

/* SHLD/SHRD: a = a:src shifted by CL. */
static u32 shd_src;
#define DEF_SHD(name, insn, mod)                                                               \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                      \
	{                                                                                      \
		u32 f;                                                                         \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " %%cl, %" mod "[s], %" mod "[a]\n\t" \
				 "pushfl\n\tpopl %[f]"                                         \
				 : [a] "+r"(a), [f] "=&r"(f)                                   \
				 : [s] "r"(shd_src), "c"(b), [fin] "r"(fin)                    \
				 : "cc");                                                      \
		*fout = f;                                                             \
		return a;                                                              \
	}
DEF_SHD(shld32, "shldl", "k")
DEF_SHD(shrd32, "shrdl", "k")
DEF_SHD(shld16, "shldw", "w")
DEF_SHD(shrd16, "shrdw", "w")

/* Immediate ALU forms (83 /r ib sign-extended, 81 /r id, 04/05 accumulator). */
#define DEF_IMM(name, insn, imm, mod)                                                       \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                   \
	{                                                                                   \
		u32 f;                                                                      \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn " $" #imm ", %" mod "[a]\n\t" \
				 "pushfl\n\tpopl %[f]"                                      \
				 : [a] "+a"(a), [f] "=&r"(f)                                \
				 : [fin] "r"(fin)                                           \
				 : "cc");                                                   \
		*fout = f;                                                          \
		return a;                                                           \
	}
DEF_IMM(addi8_32, "addl", -1, "k")
DEF_IMM(subi8_32, "subl", 0x7f, "k")
DEF_IMM(andi32, "andl", 0x0ff00ff0, "k")
DEF_IMM(cmpi8_32, "cmpl", -128, "k")
DEF_IMM(adci8_8, "adcb", 0x80, "b")
DEF_IMM(xori16, "xorw", 0x8001, "w")

/* ------------------------------------------------------------------ */
/* Printing helpers                                                     */
/* ------------------------------------------------------------------ */

static void section(const char *name) { printf("== %s ==\n", name); }

static void hexw(u32 v, int bits)
{
	if (bits == 8)
		printf("%02x", v & 0xFF);
	else if (bits == 16)
		printf("%04x", v & 0xFFFF);
	else
		printf("%08x", v);
}

/* Run a binary op over every pair of vals and print "name a,b -> r f=". */
static void run_bin(const char *name, binop fn, int bits, const u32 *vals, int n, u32 fin, u32 mask)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			u32 f, r = fn(vals[i], vals[j], fin, &f);
			printf("%s ", name);
			hexw(vals[i], bits);
			putc(',');
			hexw(vals[j], bits);
			puts(" -> ");
			hexw(r, bits);
			printf(" f=%03x\n", f & mask);
		}
}

static void run_un(const char *name, binop fn, int bits, const u32 *vals, int n, u32 fin, u32 mask)
{
	for (int i = 0; i < n; i++) {
		u32 f, r = fn(vals[i], 0, fin, &f);
		printf("%s ", name);
		hexw(vals[i], bits);
		puts(" -> ");
		hexw(r, bits);
		printf(" f=%03x\n", f & mask);
	}
}

/* Shift/rotate: the defined flags depend on the masked count. */
enum { SH_SHIFT, SH_ROT, SH_SHD };
static u32 shift_mask(int kind, u32 count, int bits)
{
	u32 c = count & 31;
	if (c == 0)
		return ALLF; /* nothing changes, not even flags */
	switch (kind) {
	case SH_ROT: /* only CF and OF are written; OF is defined for count 1 */
		return c == 1 ? ALLF : ALLF & ~OF;
	default: /* shifts: AF undefined; OF defined for count 1 only */
		if (kind == SH_SHD && bits == 16 && c > 16)
			return 0; /* result and flags undefined */
		return c == 1 ? ALLF & ~AF : ALLF & ~(AF | OF);
	}
}

static void run_shift(const char *name, binop fn, int kind, int bits, const u32 *vals, int nv,
		      const u32 *counts, int nc, u32 fin)
{
	for (int i = 0; i < nv; i++)
		for (int j = 0; j < nc; j++) {
			u32 f, r = fn(vals[i], counts[j], fin, &f);
			u32 mask = shift_mask(kind, counts[j], bits);
			printf("%s ", name);
			hexw(vals[i], bits);
			printf(",%u -> ", counts[j]);
			hexw(mask ? r : 0, bits);
			printf(" f=%03x\n", f & mask);
		}
}

/* ------------------------------------------------------------------ */
/* Test groups                                                          */
/* ------------------------------------------------------------------ */

static const u32 v32[] = {0x00000000, 0x00000001, 0x0000000f, 0x7fffffff, 0x80000000, 0xffffffff};
static const u32 v16[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0xffff};
static const u32 v8[] = {0x00, 0x01, 0x0f, 0x7f, 0x80, 0xff};
static const u32 vlogic[] = {0x00000000, 0x0f0f00ff, 0x80000001, 0xffffffff};
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void test_alu(void)
{
	section("alu32");
	run_bin("add", add32, 32, v32, N(v32), 0, ALLF);
	run_bin("adc.c0", adc32, 32, v32, N(v32), 0, ALLF);
	run_bin("adc.c1", adc32, 32, v32, N(v32), CF, ALLF);
	run_bin("sub", sub32, 32, v32, N(v32), 0, ALLF);
	run_bin("sbb.c0", sbb32, 32, v32, N(v32), 0, ALLF);
	run_bin("sbb.c1", sbb32, 32, v32, N(v32), CF, ALLF);
	run_bin("cmp", cmp32, 32, v32, N(v32), 0, ALLF);
	/* logic ops: OF=CF=0, AF undefined */
	run_bin("and", and32, 32, vlogic, N(vlogic), ALLF, ALLF & ~AF);
	run_bin("or", or32, 32, vlogic, N(vlogic), ALLF, ALLF & ~AF);
	run_bin("xor", xor32, 32, vlogic, N(vlogic), ALLF, ALLF & ~AF);
	run_bin("test", test32, 32, vlogic, N(vlogic), ALLF, ALLF & ~AF);
	/* INC/DEC leave CF alone: run with CF=1 preloaded */
	run_un("inc.c1", inc32, 32, v32, N(v32), CF, ALLF);
	run_un("dec.c1", dec32, 32, v32, N(v32), CF, ALLF);
	run_un("dec.c0", dec32, 32, v32, N(v32), 0, ALLF);
	run_un("neg", neg32, 32, v32, N(v32), 0, ALLF);
	run_un("not", not32, 32, v32, N(v32), ALLF, ALLF); /* no flags change */
	section("alu16");
	run_bin("add16", add16, 16, v16, N(v16), 0, ALLF);
	run_bin("adc16.c1", adc16, 16, v16, N(v16), CF, ALLF);
	run_bin("sub16", sub16, 16, v16, N(v16), 0, ALLF);
	run_bin("sbb16.c1", sbb16, 16, v16, N(v16), CF, ALLF);
	run_un("inc16", inc16, 16, v16, N(v16), 0, ALLF);
	run_un("neg16", neg16, 16, v16, N(v16), 0, ALLF);
	section("alu8");
	run_bin("add8", add8, 8, v8, N(v8), 0, ALLF);
	run_bin("adc8.c1", adc8, 8, v8, N(v8), CF, ALLF);
	run_bin("sub8", sub8, 8, v8, N(v8), 0, ALLF);
	run_bin("sbb8.c1", sbb8, 8, v8, N(v8), CF, ALLF);
	run_bin("cmp8", cmp8, 8, v8, N(v8), 0, ALLF);
	run_un("inc8", inc8, 8, v8, N(v8), CF, ALLF);
	run_un("dec8", dec8, 8, v8, N(v8), 0, ALLF);
	run_un("neg8", neg8, 8, v8, N(v8), 0, ALLF);
	section("alu immediate forms");
	run_un("add $-1", addi8_32, 32, v32, N(v32), 0, ALLF);
	run_un("sub $0x7f", subi8_32, 32, v32, N(v32), 0, ALLF);
	run_un("and $0x0ff00ff0", andi32, 32, v32, N(v32), 0, ALLF & ~AF);
	run_un("cmp $-128", cmpi8_32, 32, v32, N(v32), 0, ALLF);
	run_un("adcb $0x80", adci8_8, 8, v8, N(v8), CF, ALLF);
	run_un("xorw $0x8001", xori16, 16, v16, N(v16), 0, ALLF & ~AF);
}

static void test_shifts(void)
{
	static const u32 sv[] = {0x80000001, 0x12345678, 0xffffffff, 0x40000000};
	static const u32 sc[] = {0, 1, 2, 4, 31, 32, 33};
	static const u32 sv8[] = {0x81, 0x5a, 0xff};
	static const u32 sc8[] = {1, 3, 7};
	static const u32 rc8[] = {0, 1, 4, 8, 9, 10, 17, 31};
	static const u32 rc16[] = {1, 15, 16, 17, 18};
	const u32 fin = OF | ZF | AF | PF | CF; /* 0x855: visible if left alone */

	section("shift32");
	run_shift("shl", shl32, SH_SHIFT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("shr", shr32, SH_SHIFT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("sar", sar32, SH_SHIFT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("rol", rol32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("ror", ror32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("rcl.c1", rcl32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("rcl.c0", rcl32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin & ~CF);
	run_shift("rcr.c1", rcr32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin);
	run_shift("rcr.c0", rcr32, SH_ROT, 32, sv, N(sv), sc, N(sc), fin & ~CF);

	section("shift32 immediate");
	static const u32 one[] = {1}, seven[] = {7};
	run_shift("shl $1", shl1_32, SH_SHIFT, 32, sv, N(sv), one, 1, fin);
	run_shift("shr $1", shr1_32, SH_SHIFT, 32, sv, N(sv), one, 1, fin);
	run_shift("sar $1", sar1_32, SH_SHIFT, 32, sv, N(sv), one, 1, fin);
	run_shift("rol $1", rol1_32, SH_ROT, 32, sv, N(sv), one, 1, fin);
	run_shift("ror $1", ror1_32, SH_ROT, 32, sv, N(sv), one, 1, fin);
	run_shift("rcl $1", rcl1_32, SH_ROT, 32, sv, N(sv), one, 1, fin);
	run_shift("rcr $1", rcr1_32, SH_ROT, 32, sv, N(sv), one, 1, fin);
	run_shift("shl $7", shl7_32, SH_SHIFT, 32, sv, N(sv), seven, 1, fin);
	run_shift("sar $7", sar7_32, SH_SHIFT, 32, sv, N(sv), seven, 1, fin);
	run_shift("ror $7", ror7_32, SH_ROT, 32, sv, N(sv), seven, 1, fin);
	run_shift("rcr $7", rcr7_32, SH_ROT, 32, sv, N(sv), seven, 1, fin);

	section("shift8/16");
	run_shift("shl8", shl8, SH_SHIFT, 8, sv8, N(sv8), sc8, N(sc8), fin);
	run_shift("shr8", shr8, SH_SHIFT, 8, sv8, N(sv8), sc8, N(sc8), fin);
	run_shift("sar8", sar8, SH_SHIFT, 8, sv8, N(sv8), sc8, N(sc8), fin);
	/* 8-bit rotates: the count is masked to 5 bits, then RCL/RCR take it mod 9 */
	run_shift("rol8", rol8, SH_ROT, 8, sv8, N(sv8), rc8, N(rc8), fin);
	run_shift("ror8", ror8, SH_ROT, 8, sv8, N(sv8), rc8, N(rc8), fin);
	run_shift("rcl8", rcl8, SH_ROT, 8, sv8, N(sv8), rc8, N(rc8), fin);
	run_shift("rcr8", rcr8, SH_ROT, 8, sv8, N(sv8), rc8, N(rc8), fin);
	static const u32 sv16[] = {0x8001, 0x1234};
	run_shift("rol16", rol16, SH_ROT, 16, sv16, N(sv16), rc16, N(rc16), fin);
	run_shift("rcl16", rcl16, SH_ROT, 16, sv16, N(sv16), rc16, N(rc16), fin);
	run_shift("rcr16", rcr16, SH_ROT, 16, sv16, N(sv16), rc16, N(rc16), fin);
	static const u32 sc16s[] = {1, 15};
	run_shift("sar16", sar16, SH_SHIFT, 16, sv16, N(sv16), sc16s, N(sc16s), fin);

	section("shld/shrd");
	static const u32 dv[] = {0x12345678, 0x80000001};
	static const u32 dc[] = {0, 1, 4, 31, 32, 36};
	shd_src = 0xfedcba98;
	run_shift("shld(src=fedcba98)", shld32, SH_SHD, 32, dv, N(dv), dc, N(dc), fin);
	run_shift("shrd(src=fedcba98)", shrd32, SH_SHD, 32, dv, N(dv), dc, N(dc), fin);
	static const u32 dv16[] = {0x1234, 0x8001};
	static const u32 dc16[] = {1, 8, 15};
	shd_src = 0xba98;
	run_shift("shld16(src=ba98)", shld16, SH_SHD, 16, dv16, N(dv16), dc16, N(dc16), fin);
	run_shift("shrd16(src=ba98)", shrd16, SH_SHD, 16, dv16, N(dv16), dc16, N(dc16), fin);
}

/* MUL/IMUL one-operand forms: EDX:EAX = EAX * src etc. SF ZF AF PF undefined. */
static void test_mul(void)
{
	static const u32 mv[] = {0x00000000, 0x00000001, 0x00010000, 0x12345678, 0x7fffffff,
				 0x80000000, 0xffffffff};
	section("mul/imul");
	for (int i = 0; i < N(mv); i++)
		for (int j = 0; j < N(mv); j++) {
			u32 lo, hi, f, lo2, hi2, f2;
			__asm__ volatile("pushl $0\n\tpopfl\n\tmull %[b]\n\tpushfl\n\tpopl %[f]"
					 : "=a"(lo), "=d"(hi), [f] "=&r"(f)
					 : "a"(mv[i]), [b] "r"(mv[j])
					 : "cc");
			__asm__ volatile("pushl $0\n\tpopfl\n\timull %[b]\n\tpushfl\n\tpopl %[f]"
					 : "=a"(lo2), "=d"(hi2), [f] "=&r"(f2)
					 : "a"(mv[i]), [b] "r"(mv[j])
					 : "cc");
			printf("mul32 %08x*%08x -> %08x:%08x f=%03x  imul32 -> %08x:%08x f=%03x\n", mv[i],
			       mv[j], hi, lo, f & (CF | OF), hi2, lo2, f2 & (CF | OF));
		}
	for (int i = 0; i < N(v8); i++)
		for (int j = 0; j < N(v8); j++) {
			u32 ax = 0x5500 | v8[i], ax2 = ax, f, f2;
			__asm__ volatile("pushl $0\n\tpopfl\n\tmulb %b[b]\n\tpushfl\n\tpopl %[f]"
					 : "+a"(ax), [f] "=&r"(f)
					 : [b] "q"(v8[j])
					 : "cc");
			__asm__ volatile("pushl $0\n\tpopfl\n\timulb %b[b]\n\tpushfl\n\tpopl %[f]"
					 : "+a"(ax2), [f] "=&r"(f2)
					 : [b] "q"(v8[j])
					 : "cc");
			printf("mul8 %02x*%02x -> %04x f=%03x  imul8 -> %04x f=%03x\n", v8[i], v8[j],
			       ax & 0xFFFF, f & (CF | OF), ax2 & 0xFFFF, f2 & (CF | OF));
		}
	for (int i = 0; i < N(v16); i++)
		for (int j = 0; j < N(v16); j++) {
			u32 ax = 0x55550000 | v16[i], dx = 0xAAAA1234, ax2 = ax, dx2 = dx, f, f2;
			__asm__ volatile("pushl $0\n\tpopfl\n\tmulw %w[b]\n\tpushfl\n\tpopl %[f]"
					 : "+a"(ax), "+d"(dx), [f] "=&r"(f)
					 : [b] "r"(v16[j])
					 : "cc");
			__asm__ volatile("pushl $0\n\tpopfl\n\timulw %w[b]\n\tpushfl\n\tpopl %[f]"
					 : "+a"(ax2), "+d"(dx2), [f] "=&r"(f2)
					 : [b] "r"(v16[j])
					 : "cc");
			printf("mul16 %04x*%04x -> %08x:%08x f=%03x  imul16 -> %08x:%08x f=%03x\n", v16[i],
			       v16[j], dx, ax, f & (CF | OF), dx2, ax2, f2 & (CF | OF));
		}
	/* two- and three-operand IMUL: truncated result, CF=OF=overflow */
	run_bin("imul2", imul2_32, 32, mv, N(mv), 0, CF | OF);
	run_bin("imul2w", imul2_16, 16, v16, N(v16), 0, CF | OF);
	for (int i = 0; i < N(mv); i++) {
		u32 r1, r2, f1, f2;
		__asm__ volatile("pushl $0\n\tpopfl\n\timull $-3, %[s], %[d]\n\tpushfl\n\tpopl %[f]"
				 : [d] "=&r"(r1), [f] "=&r"(f1)
				 : [s] "r"(mv[i])
				 : "cc");
		__asm__ volatile("pushl $0\n\tpopfl\n\timull $0x10001, %[s], %[d]\n\tpushfl\n\tpopl %[f]"
				 : [d] "=&r"(r2), [f] "=&r"(f2)
				 : [s] "r"(mv[i])
				 : "cc");
		printf("imul3 %08x*-3 -> %08x f=%03x  *0x10001 -> %08x f=%03x\n", mv[i], r1,
		       f1 & (CF | OF), r2, f2 & (CF | OF));
	}
}

/* #DE: the handler checks that the saved EIP is the faulting instruction
 * (faults restart) and resumes after it. */
static volatile u32 de_expect, de_resume, de_count;

static void de_handler(struct trapframe *f)
{
	if (f->vec != 0 || !de_expect)
		unexpected_trap(f);
	printf("  #DE vector=%02x eip-at-insn=%s", f->vec, f->eip == de_expect ? "yes" : "NO");
	de_count++;
	de_expect = 0;
	f->eip = de_resume;
}

#define DE_TEST(label, insn, ...)                                                             \
	do {                                                                                  \
		u32 a = eax_in, d = edx_in;                                                   \
		printf("%s: edx:eax=%08x:%08x src=%08x\n", label, d, a, src);                \
		__asm__ volatile("movl $1f, %[exp]\n\tmovl $2f, %[res]\n"                     \
				 "1:\t" insn "\n"                                             \
				 "2:\n"                                                       \
				 : "+a"(a), "+d"(d), [exp] "=m"(de_expect), [res] "=m"(de_resume) \
				 : [s] "q"(src)                                               \
				 : "cc", "memory");                                           \
		printf(" -> edx:eax=%08x:%08x\n", d, a);                                     \
	} while (0)

static void test_div(void)
{
	section("div/idiv");
	static const struct {
		u32 hi, lo, d;
	} dv[] = {
		{0, 100, 7}, {0, 0xffffffff, 0x10}, {1, 0, 2}, {0x7fffffff, 0xffffffff, 0x80000000},
		{0, 7, 100}, {0x12345678, 0x9abcdef0, 0x87654321},
	};
	for (int i = 0; i < N(dv); i++) {
		u32 q = dv[i].lo, r = dv[i].hi;
		__asm__ volatile("divl %[s]" : "+a"(q), "+d"(r) : [s] "r"(dv[i].d) : "cc");
		printf("div32 %08x:%08x/%08x -> q=%08x r=%08x\n", dv[i].hi, dv[i].lo, dv[i].d, q, r);
	}
	static const s32 iv[][2] = {{100, 7}, {-100, 7}, {100, -7}, {-100, -7}, {0x7fffffff, -1},
				    {-0x7fffffff - 1, 2}, {-1, 0x7fffffff}, {7, 100}};
	for (int i = 0; i < N(iv); i++) {
		u32 q = (u32)iv[i][0], r = iv[i][0] < 0 ? 0xffffffff : 0;
		__asm__ volatile("idivl %[s]" : "+a"(q), "+d"(r) : [s] "r"(iv[i][1]) : "cc");
		printf("idiv32 %08x/%08x -> q=%08x r=%08x\n", (u32)iv[i][0], (u32)iv[i][1], q, r);
	}
	static const u32 d16[][3] = {{0x0000, 0x1234, 0x0010}, {0x0001, 0x0000, 0x0002}, {0x7fff, 0xffff, 0x8000}};
	for (int i = 0; i < N(d16); i++) {
		u32 a = 0x55550000 | d16[i][1], d = 0xaaaa0000 | d16[i][0];
		__asm__ volatile("divw %w[s]" : "+a"(a), "+d"(d) : [s] "r"(d16[i][2]) : "cc");
		printf("div16 %04x:%04x/%04x -> eax=%08x edx=%08x\n", d16[i][0], d16[i][1], d16[i][2], a, d);
	}
	static const u32 i16[][3] = {{0x0000, 0x1234, 0x0010}, {0xffff, 0xff00, 0x0010}, {0xffff, 0x8001, 0x0007},
				     {0x0000, 0x0064, 0xfff9}};
	for (int i = 0; i < N(i16); i++) {
		u32 a = 0x55550000 | i16[i][1], d = 0xaaaa0000 | i16[i][0];
		__asm__ volatile("idivw %w[s]" : "+a"(a), "+d"(d) : [s] "r"(i16[i][2]) : "cc");
		printf("idiv16 %04x:%04x/%04x -> eax=%08x edx=%08x\n", i16[i][0], i16[i][1], i16[i][2], a, d);
	}
	static const u32 d8[][2] = {{0x0064, 0x07}, {0x00ff, 0x10}, {0x01fe, 0xff}, {0xfe01, 0xff}};
	for (int i = 0; i < N(d8); i++) {
		u32 a = 0x12340000 | d8[i][0];
		__asm__ volatile("divb %b[s]" : "+a"(a) : [s] "q"(d8[i][1]) : "cc");
		printf("div8 %04x/%02x -> eax=%08x\n", d8[i][0], d8[i][1], a);
	}
	static const u32 i8[][2] = {{0x0064, 0x07}, {0xff9c, 0x07}, {0x0064, 0xf9}, {0xff80, 0x01}};
	for (int i = 0; i < N(i8); i++) {
		u32 a = 0x12340000 | i8[i][0];
		__asm__ volatile("idivb %b[s]" : "+a"(a) : [s] "q"(i8[i][1]) : "cc");
		printf("idiv8 %04x/%02x -> eax=%08x\n", i8[i][0], i8[i][1], a);
	}

	section("#DE");
	set_trap_handler(0, de_handler);
	u32 eax_in, edx_in, src;
	eax_in = 0x12345678, edx_in = 0, src = 0;
	DE_TEST("div32 by zero", "divl %[s]");
	eax_in = 0x80000000, edx_in = 0xffffffff, src = 0xffffffff;
	DE_TEST("idiv32 0x80000000/-1", "idivl %[s]");
	eax_in = 0, edx_in = 1, src = 1;
	DE_TEST("div32 quotient overflow", "divl %[s]");
	eax_in = 0x1000, edx_in = 0, src = 2;
	DE_TEST("div8 quotient overflow", "divb %b[s]");
	eax_in = 0xff80, edx_in = 0, src = 0xff;
	DE_TEST("idiv8 -128/-1", "idivb %b[s]");
	eax_in = 0x0042, edx_in = 0, src = 0;
	DE_TEST("aam 0", "aam $0");
	printf("#DE count=%u\n", de_count);
	set_trap_handler(0, NULL);
}

/* BCD adjustments on every interesting AL with AF/CF preloaded. */
#define DEF_AX(name, insn)                                                                   \
	static u32 name(u32 a, u32 b, u32 fin, u32 *fout)                                    \
	{                                                                                    \
		u32 f;                                                                       \
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[f]"  \
				 : "+a"(a), [f] "=&r"(f)                                     \
				 : [fin] "r"(fin)                                            \
				 : "cc");                                                    \
		*fout = f;                                                           \
		return a;                                                            \
	}
DEF_AX(op_daa, "daa")
DEF_AX(op_das, "das")
DEF_AX(op_aaa, "aaa")
DEF_AX(op_aas, "aas")
DEF_AX(op_aam10, "aam")
DEF_AX(op_aam16, "aam $16")
DEF_AX(op_aad10, "aad")
DEF_AX(op_aad7, "aad $7")
DEF_AX(op_cbw, "cbtw")
DEF_AX(op_cwde, "cwtl")
DEF_AX(op_lahf, "lahf")

static void run_ax(const char *name, binop fn, const u32 *vals, int n, const u32 *fins, int nf, u32 mask)
{
	for (int i = 0; i < n; i++) {
		printf("%s %04x:", name, vals[i]);
		for (int j = 0; j < nf; j++) {
			u32 f, r = fn(0xabcd0000 | vals[i], 0, fins[j], &f);
			printf(" [f=%03x] %04x f=%03x", fins[j], r & 0xFFFF, f & mask);
			if (r >> 16 != 0xabcd)
				printf("(high clobbered %08x)", r);
		}
		putc('\n');
	}
}

static void test_bcd(void)
{
	static const u32 al[] = {0x00, 0x09, 0x0a, 0x0f, 0x10, 0x19, 0x1a, 0x66, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xff};
	static const u32 fins[] = {0, CF, AF, AF | CF};
	static const u32 ax[] = {0x0009, 0x000a, 0x00f9, 0x00ff, 0x0105, 0x01fa, 0x0200, 0xff0f};
	static const u32 afin[] = {0, AF, ALLF};
	static const u32 am[] = {0x0000, 0x0009, 0x000a, 0x0063, 0x0080, 0x00ff, 0x0510};
	section("bcd");
	run_ax("daa", op_daa, al, N(al), fins, N(fins), ALLF & ~OF);
	run_ax("das", op_das, al, N(al), fins, N(fins), ALLF & ~OF);
	run_ax("aaa", op_aaa, ax, N(ax), afin, N(afin), AF | CF);
	run_ax("aas", op_aas, ax, N(ax), afin, N(afin), AF | CF);
	run_ax("aam", op_aam10, am, N(am), afin, 1, SF | ZF | PF);
	run_ax("aam16", op_aam16, am, N(am), afin, 1, SF | ZF | PF);
	run_ax("aad", op_aad10, ax, N(ax), afin, 1, SF | ZF | PF);
	run_ax("aad7", op_aad7, ax, N(ax), afin, 1, SF | ZF | PF);
}

/* String instructions. Buffers are reported relative to their start. */
static u8 sbuf[64], dbuf[64];

static void fill(u8 *p, int n, u8 seed)
{
	for (int i = 0; i < n; i++)
		p[i] = (u8)(seed + i * 7);
}

static void dump(const char *what, const u8 *p, int n)
{
	printf("  %s:", what);
	for (int i = 0; i < n; i++)
		printf(" %02x", p[i]);
	putc('\n');
}

static void test_strings(void)
{
	section("string ops");
	u8 *S, *D;
	u32 C, f, a;

	fill(sbuf, 64, 0x10);
	memset(dbuf, 0xee, 64);
	S = sbuf + 3, D = dbuf + 5, C = 13;
	__asm__ volatile("cld\n\trep movsb" : "+S"(S), "+D"(D), "+c"(C) : : "memory");
	printf("rep movsb fwd: esi=s+%d edi=d+%d ecx=%u\n", S - sbuf, D - dbuf, C);
	dump("dst", dbuf, 24);

	memset(dbuf, 0xee, 64);
	S = sbuf + 12, D = dbuf + 16, C = 3;
	__asm__ volatile("std\n\trep movsl\n\tcld" : "+S"(S), "+D"(D), "+c"(C) : : "memory");
	printf("rep movsd back: esi=s+%d edi=d+%d ecx=%u\n", S - sbuf, D - dbuf, C);
	dump("dst", dbuf, 24);

	/* Overlapping forward copy: byte-at-a-time semantics replicate the pattern. */
	fill(dbuf, 64, 0x40);
	S = dbuf, D = dbuf + 3, C = 12;
	__asm__ volatile("cld\n\trep movsb" : "+S"(S), "+D"(D), "+c"(C) : : "memory");
	printf("rep movsb overlap (d=s+3): ecx=%u\n", C);
	dump("buf", dbuf, 16);
	fill(dbuf, 64, 0x40);
	S = dbuf + 2, D = dbuf, C = 5;
	__asm__ volatile("cld\n\trep movsw" : "+S"(S), "+D"(D), "+c"(C) : : "memory");
	printf("rep movsw overlap (s=d+2): ecx=%u\n", C);
	dump("buf", dbuf, 16);

	memset(dbuf, 0, 64);
	D = dbuf + 1, C = 5, a = 0x12345678;
	__asm__ volatile("cld\n\trep stosw" : "+D"(D), "+c"(C) : "a"(a) : "memory");
	printf("rep stosw: edi=d+%d ecx=%u\n", D - dbuf, C);
	D = dbuf + 31, C = 3;
	__asm__ volatile("std\n\trep stosb\n\tcld" : "+D"(D), "+c"(C) : "a"(a) : "memory");
	printf("rep stosb back: edi=d+%d ecx=%u\n", D - dbuf, C);
	D = dbuf + 16, C = 0;
	__asm__ volatile("cld\n\trep stosl" : "+D"(D), "+c"(C) : "a"(a) : "memory");
	printf("rep stosd ecx=0: edi=d+%d ecx=%u\n", D - dbuf, C);
	dump("dst", dbuf, 32);

	/* REPE CMPSB stops at the first difference; flags are those of the last compare. */
	memcpy(dbuf, sbuf, 64);
	dbuf[9] = 0x00;
	S = sbuf, D = dbuf, C = 20;
	__asm__ volatile("pushl $0\n\tpopfl\n\tcld\n\trepe cmpsb\n\tpushfl\n\tpopl %[f]"
			 : "+S"(S), "+D"(D), "+c"(C), [f] "=r"(f)
			 :
			 : "memory", "cc");
	printf("repe cmpsb: esi=s+%d edi=d+%d ecx=%u f=%03x\n", S - sbuf, D - dbuf, C, f & ALLF);
	S = sbuf, D = dbuf, C = 9;
	__asm__ volatile("pushl $0\n\tpopfl\n\tcld\n\trepe cmpsb\n\tpushfl\n\tpopl %[f]"
			 : "+S"(S), "+D"(D), "+c"(C), [f] "=r"(f)
			 :
			 : "memory", "cc");
	printf("repe cmpsb (equal): esi=s+%d edi=d+%d ecx=%u f=%03x\n", S - sbuf, D - dbuf, C, f & ALLF);
	S = sbuf + 40, D = dbuf + 40, C = 10;
	__asm__ volatile("pushl $0\n\tpopfl\n\tstd\n\trepne cmpsl\n\tcld\n\tpushfl\n\tpopl %[f]"
			 : "+S"(S), "+D"(D), "+c"(C), [f] "=r"(f)
			 :
			 : "memory", "cc");
	printf("repne cmpsd back: esi=s+%d edi=d+%d ecx=%u f=%03x\n", S - sbuf, D - dbuf, C, f & ALLF);

	/* REPNE SCASB finds a byte; REPE SCASB skips a run. */
	D = sbuf, C = 64, a = sbuf[17];
	__asm__ volatile("pushl $0\n\tpopfl\n\tcld\n\trepne scasb\n\tpushfl\n\tpopl %[f]"
			 : "+D"(D), "+c"(C), [f] "=r"(f)
			 : "a"(a)
			 : "memory", "cc");
	printf("repne scasb (al=%02x): edi=s+%d ecx=%u f=%03x\n", a, D - sbuf, C, f & ALLF);
	memset(dbuf, 0x20, 64);
	dbuf[11] = 0x41;
	D = dbuf, C = 64, a = 0x20;
	__asm__ volatile("pushl $0\n\tpopfl\n\tcld\n\trepe scasb\n\tpushfl\n\tpopl %[f]"
			 : "+D"(D), "+c"(C), [f] "=r"(f)
			 : "a"(a)
			 : "memory", "cc");
	printf("repe scasb (al=20): edi=d+%d ecx=%u f=%03x\n", D - dbuf, C, f & ALLF);
	D = dbuf, C = 0, a = 0x20;
	__asm__ volatile("pushl %[fin]\n\tpopfl\n\tcld\n\trepe scasb\n\tpushfl\n\tpopl %[f]"
			 : "+D"(D), "+c"(C), [f] "=r"(f)
			 : "a"(a), [fin] "r"(ALLF)
			 : "memory", "cc");
	printf("repe scasb ecx=0: edi=d+%d f=%03x (unchanged)\n", D - dbuf, f & ALLF);

	/* LODS in both directions. */
	S = sbuf + 8;
	u32 b0, b1, d0;
	__asm__ volatile("cld\n\tlodsb\n\tmovzbl %%al, %[b0]\n\tlodsb\n\tmovzbl %%al, %[b1]\n\tstd\n\tlodsl\n\tcld"
			 : "+S"(S), [b0] "=&r"(b0), [b1] "=&r"(b1), "=a"(d0)
			 :
			 : "memory");
	printf("lodsb,lodsb,std lodsd: %02x %02x %08x esi=s+%d\n", b0, b1, d0, S - sbuf);
	/* 16-bit address size (67h prefix): SI/DI/CX wrap within 64 KiB. */
	a = 0;
	u32 ecx = 0xffff0003;
	__asm__ volatile("cld\n\taddr16 rep lodsb" : "+c"(ecx), "+a"(a), "+S"(S) : : "memory");
	printf("a16 rep lodsb: ecx=%08x (only CX counts)\n", ecx);
}

/* BT family: register forms (offset mod 32) and memory forms (signed offset
 * selects the dword: EA + 4*(off>>5)). */
static u32 bitmap[16] ALIGNED(4);

static void show_bitmap(void)
{
	printf("  bitmap:");
	for (int i = 0; i < 16; i++)
		printf(" %08x", bitmap[i]);
	putc('\n');
}

static void test_bt(void)
{
	static const u32 bv[] = {0x12345678, 0x80000001};
	static const u32 bo[] = {0, 3, 31, 32, 35, 63};
	section("bt/bts/btr/btc");
	/* ZF is unaffected: preload it (and others) and keep ZF in the mask */
	for (int i = 0; i < N(bv); i++)
		for (int j = 0; j < N(bo); j++) {
			u32 f1, f2, f3;
			u32 r1 = bts32(bv[i], bo[j], ZF, &f1);
			u32 r2 = btr32(bv[i], bo[j], 0, &f2);
			u32 r3 = btc32(bv[i], bo[j], ZF, &f3);
			u32 fb;
			bt32(bv[i], bo[j], 0, &fb);
			printf("bt* %08x,%u: bt cf=%u bts %08x f=%03x btr %08x f=%03x btc %08x f=%03x\n", bv[i], bo[j],
			       fb & CF, r1, f1 & (CF | ZF), r2, f2 & (CF | ZF), r3, f3 & (CF | ZF));
		}
	/* memory forms: base is bitmap+32 bytes, so offsets may be negative */
	static const s32 mo[] = {0, 7, 40, 100, -1, -9, -256, 250};
	for (int i = 0; i < 16; i++)
		bitmap[i] = 0x0f0f0f0f ^ ((u32)i * 0x11111111);
	u32 *base = bitmap + 8;
	for (int j = 0; j < N(mo); j++) {
		u32 f1, f2, f3, f4;
		__asm__ volatile("pushl $0\n\tpopfl\n\tbtl %[o], (%[b])\n\tpushfl\n\tpopl %[f]"
				 : [f] "=r"(f1) : [b] "r"(base), [o] "r"(mo[j]) : "cc", "memory");
		__asm__ volatile("pushl $0\n\tpopfl\n\tbtsl %[o], (%[b])\n\tpushfl\n\tpopl %[f]"
				 : [f] "=r"(f2) : [b] "r"(base), [o] "r"(mo[j]) : "cc", "memory");
		__asm__ volatile("pushl $0\n\tpopfl\n\tbtrl %[o], (%[b])\n\tpushfl\n\tpopl %[f]"
				 : [f] "=r"(f3) : [b] "r"(base), [o] "r"(mo[j] + 1) : "cc", "memory");
		__asm__ volatile("pushl $0\n\tpopfl\n\tbtcl %[o], (%[b])\n\tpushfl\n\tpopl %[f]"
				 : [f] "=r"(f4) : [b] "r"(base), [o] "r"(mo[j] + 2) : "cc", "memory");
		printf("bt mem off=%d: bt cf=%u bts cf=%u btr(+1) cf=%u btc(+2) cf=%u\n", mo[j], f1 & CF, f2 & CF,
		       f3 & CF, f4 & CF);
	}
	show_bitmap();
	/* 16-bit memory form: EA + 2*(off>>4) with a sign-extended 16-bit offset */
	u32 f1, f2;
	__asm__ volatile("pushl $0\n\tpopfl\n\tbtsw %w[o], (%[b])\n\tpushfl\n\tpopl %[f]"
			 : [f] "=r"(f1) : [b] "r"(base), [o] "r"(0xfff0) : "cc", "memory");
	__asm__ volatile("pushl $0\n\tpopfl\n\tbtcw %w[o], (%[b])\n\tpushfl\n\tpopl %[f]"
			 : [f] "=r"(f2) : [b] "r"(base), [o] "r"(0x10025) : "cc", "memory");
	printf("btsw off=fff0: cf=%u  btcw off=(1)0025: cf=%u\n", f1 & CF, f2 & CF);
	/* immediate form: the offset is taken mod operand size, no address adjustment */
	__asm__ volatile("pushl $0\n\tpopfl\n\tbtsl $35, (%[b])\n\tpushfl\n\tpopl %[f]"
			 : [f] "=r"(f1) : [b] "r"(base) : "cc", "memory");
	__asm__ volatile("pushl $0\n\tpopfl\n\tbtcw $17, (%[b])\n\tpushfl\n\tpopl %[f]"
			 : [f] "=r"(f2) : [b] "r"(base) : "cc", "memory");
	printf("btsl $35: cf=%u  btcw $17: cf=%u\n", f1 & CF, f2 & CF);
	show_bitmap();

	section("bsf/bsr");
	static const u32 sv[] = {0x00000001, 0x80000000, 0x00010000, 0x12345678, 0x00000000};
	for (int i = 0; i < N(sv); i++) {
		u32 f1, f2, f3, f4;
		u32 r1 = bsf32(0xdead, sv[i], 0, &f1); /* dest is undefined for src 0: not printed */
		u32 r2 = bsr32(0xdead, sv[i], 0, &f2);
		u32 r3 = bsf16(0xdead, sv[i] >> 12, 0, &f3);
		u32 r4 = bsr16(0xdead, sv[i] >> 12, 0, &f4);
		printf("bsf/bsr %08x:", sv[i]);
		if (sv[i])
			printf(" bsf=%u bsr=%u", r1, r2);
		printf(" zf=%u/%u", (f1 & ZF) >> 6, (f2 & ZF) >> 6);
		if ((sv[i] >> 12) & 0xFFFF)
			printf(" bsf16=%u bsr16=%u", r3 & 0xFFFF, r4 & 0xFFFF);
		printf(" zf16=%u/%u\n", (f3 & ZF) >> 6, (f4 & ZF) >> 6);
	}
}

/* SETcc, CMOVcc and Jcc for all 16 conditions: bit n of the mask is the
 * outcome of condition n (O NO B AE E NE BE A S NS P NP L GE LE G). */
static u32 setcc_mask(u32 fl)
{
	u8 r[16];
	__asm__ volatile("pushl %[f]\n\tpopfl\n\t"
			 "seto 0(%[r])\n\tsetno 1(%[r])\n\tsetb 2(%[r])\n\tsetae 3(%[r])\n\t"
			 "sete 4(%[r])\n\tsetne 5(%[r])\n\tsetbe 6(%[r])\n\tseta 7(%[r])\n\t"
			 "sets 8(%[r])\n\tsetns 9(%[r])\n\tsetp 10(%[r])\n\tsetnp 11(%[r])\n\t"
			 "setl 12(%[r])\n\tsetge 13(%[r])\n\tsetle 14(%[r])\n\tsetg 15(%[r])"
			 :
			 : [r] "r"(r), [f] "r"(fl)
			 : "memory", "cc");
	u32 m = 0;
	for (int i = 0; i < 16; i++)
		m |= (u32)r[i] << i;
	return m;
}

static u32 cmovcc_mask(u32 fl)
{
	u32 m;
	/* EDX accumulates bits through LEA, which doesn't touch the flags. */
#define CMOV1(cc, n) "movl $0, %%eax\n\tcmov" #cc " %[one], %%eax\n\tleal (%%edx,%%eax," #n "), %%edx\n\t"
	__asm__ volatile("pushl %[f]\n\tpopfl\n\tmovl $0, %%edx\n\t"
			 CMOV1(o, 1) CMOV1(no, 2) CMOV1(b, 4) CMOV1(ae, 8)
			 "movl %%edx, %%ecx\n\tmovl $0, %%edx\n\t"
			 CMOV1(e, 1) CMOV1(ne, 2) CMOV1(be, 4) CMOV1(a, 8)
			 "shll $4, %%edx\n\tleal (%%ecx,%%edx), %%ecx\n\tmovl $0, %%edx\n\t"
			 "pushl %[f]\n\tpopfl\n\t" /* SHL changed the flags: reload */
			 CMOV1(s, 1) CMOV1(ns, 2) CMOV1(p, 4) CMOV1(np, 8)
			 "shll $8, %%edx\n\tleal (%%ecx,%%edx), %%ecx\n\tmovl $0, %%edx\n\t"
			 "pushl %[f]\n\tpopfl\n\t"
			 CMOV1(l, 1) CMOV1(ge, 2) CMOV1(le, 4) CMOV1(g, 8)
			 "shll $12, %%edx\n\tleal (%%ecx,%%edx), %[m]"
			 : [m] "=r"(m)
			 : [f] "m"(fl), [one] "m"(*(const u32 *)"\1\0\0\0")
			 : "eax", "ecx", "edx", "cc");
#undef CMOV1
	return m;
}

static u32 jcc_mask(u32 fl)
{
	u32 m;
#define JCC1(cc, bit) "j" #cc " 1f\n\tjmp 2f\n1:\tleal " #bit "(%[m]), %[m]\n2:\n\t"
	__asm__ volatile("movl $0, %[m]\n\tpushl %[f]\n\tpopfl\n\t"
			 JCC1(o, 0x1) JCC1(no, 0x2) JCC1(b, 0x4) JCC1(ae, 0x8)
			 JCC1(e, 0x10) JCC1(ne, 0x20) JCC1(be, 0x40) JCC1(a, 0x80)
			 JCC1(s, 0x100) JCC1(ns, 0x200) JCC1(p, 0x400) JCC1(np, 0x800)
			 JCC1(l, 0x1000) JCC1(ge, 0x2000) JCC1(le, 0x4000) JCC1(g, 0x8000)
			 : [m] "=&r"(m)
			 : [f] "r"(fl)
			 : "cc");
#undef JCC1
	return m;
}

static void test_cond(void)
{
	static const u32 fl[] = {0x000, CF, ZF, SF, OF, SF | OF, PF, CF | ZF, ZF | SF, ZF | OF, ALLF};
	section("setcc/cmovcc/jcc (bit n = cond n: o no b ae e ne be a s ns p np l ge le g)");
	for (int i = 0; i < N(fl); i++)
		printf("flags=%03x setcc=%04x cmovcc=%04x jcc=%04x\n", fl[i], setcc_mask(fl[i] | 2),
		       cmovcc_mask(fl[i] | 2), jcc_mask(fl[i] | 2));
	/* JCXZ/LOOP family */
	u32 c = 3, n = 0;
	__asm__ volatile("1:\tincl %[n]\n\tloop 1b" : "+c"(c), [n] "+r"(n) : : "cc");
	printf("loop: ran %u times, ecx=%u\n", n, c);
	c = 5, n = 0;
	__asm__ volatile("movl $0, %%eax\n\tcmpl $1, %%eax\n"
			 "1:\tincl %[n]\n\tcmpl $3, %[n]\n\tloopne 1b"
			 : "+c"(c), [n] "+r"(n) : : "eax", "cc");
	printf("loopne: ran %u times, ecx=%u\n", n, c);
	c = 0, n = 0;
	__asm__ volatile("jecxz 1f\n\tmovl $1, %[n]\n1:" : "+c"(c), [n] "+r"(n));
	printf("jecxz taken: %s\n", n == 0 ? "yes" : "no");
}

/* Exchange instructions. */
static void test_xchg(void)
{
	section("bswap/xadd/cmpxchg/cmpxchg8b");
	static const u32 bv[] = {0x12345678, 0x80000001, 0x00ff00ff};
	run_un("bswap", bswap32, 32, bv, N(bv), ALLF, ALLF);
	static const u32 xv[][2] = {{1, 2}, {0x7fffffff, 1}, {0xffffffff, 1}, {0x80000000, 0x80000000}};
	for (int i = 0; i < N(xv); i++) {
		u32 d = xv[i][0], s = xv[i][1], f, m = xv[i][0], s2 = xv[i][1], f2;
		__asm__ volatile("pushl $0\n\tpopfl\n\txaddl %[s], %[d]\n\tpushfl\n\tpopl %[f]"
				 : [d] "+r"(d), [s] "+r"(s), [f] "=&r"(f) : : "cc");
		__asm__ volatile("pushl $0\n\tpopfl\n\tlock xaddl %[s], %[m]\n\tpushfl\n\tpopl %[f]"
				 : [m] "+m"(m), [s] "+r"(s2), [f] "=&r"(f2) : : "cc");
		printf("xadd %08x,%08x -> dst=%08x src=%08x f=%03x  mem: dst=%08x src=%08x f=%03x\n", xv[i][0],
		       xv[i][1], d, s, f & ALLF, m, s2, f2 & ALLF);
	}
	u32 xb = 0x1234abcd;
	__asm__ volatile("xaddb %%ah, %%al" : "+a"(xb) : : "cc");
	printf("xadd al,ah (ax=abcd) -> eax=%08x\n", xb);

	static const u32 cv[][3] = {/* eax, dest, src */
				    {5, 5, 9}, {5, 6, 9}, {0x80000000, 0x7fffffff, 1}, {0, 0, 0xffffffff}};
	for (int i = 0; i < N(cv); i++) {
		u32 a = cv[i][0], d = cv[i][1], f, a2 = cv[i][0], m = cv[i][1], f2;
		__asm__ volatile("pushl $0\n\tpopfl\n\tcmpxchgl %[s], %[d]\n\tpushfl\n\tpopl %[f]"
				 : "+a"(a), [d] "+r"(d), [f] "=&r"(f) : [s] "r"(cv[i][2]) : "cc");
		__asm__ volatile("pushl $0\n\tpopfl\n\tlock cmpxchgl %[s], %[m]\n\tpushfl\n\tpopl %[f]"
				 : "+a"(a2), [m] "+m"(m), [f] "=&r"(f2) : [s] "r"(cv[i][2]) : "cc", "memory");
		printf("cmpxchg eax=%08x dst=%08x src=%08x -> eax=%08x dst=%08x f=%03x  mem: eax=%08x dst=%08x f=%03x\n",
		       cv[i][0], cv[i][1], cv[i][2], a, d, f & ALLF, a2, m, f2 & ALLF);
	}
	u32 a8 = 0xffffff42, d8 = 0x43, f8;
	__asm__ volatile("pushl $0\n\tpopfl\n\tcmpxchgb %b[s], %b[d]\n\tpushfl\n\tpopl %[f]"
			 : "+a"(a8), [d] "+q"(d8), [f] "=&r"(f8) : [s] "q"(0x99) : "cc");
	printf("cmpxchg8 al=42 dst=43 -> eax=%08x dst=%02x f=%03x\n", a8, d8 & 0xFF, f8 & ALLF);

	static u64 q ALIGNED(8);
	static const u64 qv[][3] = {/* edx:eax, mem, ecx:ebx */
				    {0x1122334455667788ull, 0x1122334455667788ull, 0xaabbccddeeff0011ull},
				    {0x1122334455667788ull, 0x1122334455667789ull, 0xaabbccddeeff0011ull},
				    {0x0000000100000000ull, 0x0000000000000000ull, 0x1ull}};
	for (int i = 0; i < N(qv); i++) {
		u32 lo = (u32)qv[i][0], hi = (u32)(qv[i][0] >> 32), f;
		q = qv[i][1];
		/* ZF reports success; the other flags are unaffected (preloaded 0x895). */
		__asm__ volatile("pushl %[fin]\n\tpopfl\n\tlock cmpxchg8b %[m]\n\tpushfl\n\tpopl %[f]"
				 : "+a"(lo), "+d"(hi), [m] "+m"(q), [f] "=&r"(f)
				 : "b"((u32)qv[i][2]), "c"((u32)(qv[i][2] >> 32)), [fin] "r"(ALLF & ~ZF)
				 : "cc", "memory");
		printf("cmpxchg8b edx:eax=%016llx mem=%016llx -> edx:eax=%08x%08x mem=%016llx f=%03x\n", qv[i][0],
		       qv[i][1], hi, lo, q, f & ALLF);
	}
	u32 x1 = 0x11111111, x2 = 0x22222222;
	__asm__ volatile("xchgl %0, %1" : "+r"(x1), "+m"(x2));
	printf("xchg -> %08x %08x\n", x1, x2);
}

/* Stack frames: implemented in stack.S on a private stack; offsets are
 * reported relative to that stack's top (T) and to the fake caller frame (F). */
extern u32 tstack[64], fake_frame[];
#define tstack_top (tstack + 64)
void enter_test(int level, u32 *out);
void pusha_test(u32 *out);

static void print_stackword(u32 v)
{
	u32 t = (u32)tstack_top, fr = (u32)fake_frame;
	if (v >= (u32)tstack && v <= t)
		printf(" T-%02x", t - v);
	else if (v >= fr - 64 && v <= fr)
		printf(" F-%02x", fr - v);
	else
		printf(" %08x", v);
}

static void test_stack(void)
{
	section("enter/leave, pusha/popa, pushf/popf, lahf/sahf");
	static const int levels[] = {0, 1, 3};
	for (int i = 0; i < N(levels); i++) {
		u32 out[4];
		memset(tstack, 0, sizeof(u32) * 64);
		enter_test(levels[i], out);
		printf("enter $12,$%d: esp=T-%02x ebp=T-%02x after leave: esp=T-%02x ebp=F-%02x\n  stack:", levels[i],
		       -out[0], -out[1], -out[2], -out[3]);
		for (u32 *p = tstack_top - 1; p >= tstack_top - 8; p--)
			print_stackword(*p);
		putc('\n');
	}
	u32 out[16];
	memset(tstack, 0, sizeof(u32) * 64);
	pusha_test(out);
	printf("pushad frame (eax..edi):");
	for (int i = 7; i >= 0; i--)
		print_stackword(out[i]);
	printf("\npopad regs (eax..edi):");
	for (int i = 8; i < 16; i++)
		print_stackword(out[i]);
	/* pushaw/popaw ran last on the same stack: 8 words below the top */
	const u16 *w16 = (const u16 *)tstack_top;
	printf("\npushaw frame (ax..di):");
	for (int i = 1; i <= 8; i++) {
		if (i == 5) /* SP: report relative to the stack top */
			printf(" T-%02x", ((u32)tstack_top - w16[-i]) & 0xFFFF);
		else
			printf(" %04x", w16[-i]);
	}
	putc('\n');

	u32 f1, f2;
	__asm__ volatile("pushfl\n\tpushl $0xfffffcff\n\tpopfl\n\tpushfl\n\tpopl %0\n\tpopfl" : "=r"(f1) : : "cc");
	__asm__ volatile("pushfl\n\tpushl $0\n\tpopfl\n\tpushfl\n\tpopl %0\n\tpopfl" : "=r"(f2) : : "cc");
	printf("popf fffffcff (all but TF,IF) -> %08x  popf 0 -> %08x\n", f1, f2);
	u32 w;
	__asm__ volatile("pushfl\n\tpushw $0xfcff\n\tpopfw\n\tpushfw\n\tpopw %w0\n\tpopfl" : "=r"(w) : : "cc");
	printf("popfw fcff -> pushfw %04x\n", w & 0xFFFF);

	static const u32 ah[] = {0x00, 0xff, 0xd5, 0x2a, 0x41};
	for (int i = 0; i < N(ah); i++) {
		u32 f, a = ah[i] << 8;
		__asm__ volatile("pushl $0x800\n\tpopfl\n\tsahf\n\tpushfl\n\tpopl %0" : "=r"(f) : "a"(a) : "cc");
		printf("sahf ah=%02x -> f=%03x\n", ah[i], f & ALLF);
	}
	static const u32 lf[] = {0, ALLF, CF | ZF, SF | PF | AF};
	u32 axv[] = {0x1234};
	run_ax("lahf", op_lahf, axv, 1, lf, N(lf), 0);
	static const u32 cbw[] = {0x007f, 0x0080, 0x00ff, 0x7fff, 0x8000};
	static const u32 f0[] = {0};
	run_ax("cbw/cwde", op_cbw, cbw, N(cbw), f0, 1, 0);
	for (int i = 0; i < N(cbw); i++) {
		u32 a = 0x12340000 | cbw[i], d = 0xdddddddd, a2 = 0x80000000 | cbw[i], d2 = 0;
		u32 r = op_cwde(0xabcd0000 | cbw[i], 0, 0, &d2);
		__asm__ volatile("cwtd" : "+a"(a), "+d"(d));
		d2 = 0;
		__asm__ volatile("cltd" : "+a"(a2), "=d"(d2));
		printf("cwde %04x -> %08x  cwd -> dx=%08x  cdq %08x -> %08x\n", cbw[i], r, d, a2, d2);
	}
}

/* Addressing modes, MOVSX/MOVZX, LEA, XLAT, SETcc on memory. */
static u8 table[256];

static void test_misc(void)
{
	section("misc");
	u32 r1, r2, r3, r4;
	u32 v = 0x8081f0ff;
	__asm__("movsbl %b4, %0\n\tmovzbl %b4, %1\n\tmovswl %w4, %2\n\tmovzwl %w4, %3"
		: "=&r"(r1), "=&r"(r2), "=&r"(r3), "=&r"(r4) : "q"(v));
	printf("movsx/movzx %08x: sb=%08x zb=%08x sw=%08x zw=%08x\n", v, r1, r2, r3, r4);
	u32 b = 0x1000, i = 0x30;
	__asm__("leal 0x7(%2,%3,4), %0\n\tleal -0x10(%2,%3,8), %1" : "=&r"(r1), "=&r"(r2) : "r"(b), "r"(i));
	r4 = 0xaaaaaaaa;
	__asm__("leal (,%2,2), %0\n\tleaw 0x8000(%2,%3), %w1" : "=&r"(r3), "+&r"(r4) : "r"(b), "r"(i));
	printf("lea: %08x %08x %08x %08x\n", r1, r2, r3, r4);
	for (int k = 0; k < 256; k++)
		table[k] = (u8)(255 - k);
	u32 x = 0x12345603;
	__asm__("xlatb" : "+a"(x) : "b"(table));
	printf("xlat al=03 -> eax=%08x\n", x);
	/* operand-size and 8-bit high registers */
	u32 e = 0x11223344;
	__asm__("movb %%al, %%ah\n\taddw $0x0101, %%ax\n\txchgb %%al, %%ah" : "+a"(e) : : "cc");
	printf("ah/al games -> %08x\n", e);
	u32 n1 = 0xf0f0f0f0, n2 = 5;
	__asm__("notl %0\n\tnegl %1" : "+r"(n1), "+r"(n2) : : "cc");
	printf("not f0f0f0f0 -> %08x  neg 5 -> %08x\n", n1, n2);
}

void kmain(u32 magic, struct mb_info *mbi);
void kmain(u32 magic, struct mb_info *mbi)
{
	serial_init();
	gdt_load();
	idt_init();
	crc_enabled = 1;
	printf("cputest32: magic %s\n", magic == MB_MAGIC ? "ok" : "BAD");

	crc_enabled = 0; /* differs between CPUs: not part of the CRC */
	u32 r[4];
	cpuid(0, 0, r);
	char vendor[13];
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	printf("cpuid: max leaf %08x vendor \"%s\"\n", r[0], vendor);
	crc_enabled = 1;

	test_alu();
	test_shifts();
	test_mul();
	test_div();
	test_bcd();
	test_strings();
	test_bt();
	test_cond();
	test_xchg();
	test_stack();
	test_misc();

	crc_enabled = 0;
	printf("crc32 of all results: %08x\n", crc_value);
	printf("cputest32: done\n");
	exit_qemu(0);
}
