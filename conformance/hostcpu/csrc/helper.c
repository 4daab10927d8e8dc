/*
 * glassbox host-CPU oracle helper.
 *
 * Built at test time by the Go package glassbox/conformance/hostcpu and run
 * as a child process. It executes test instructions natively and reports
 * the resulting architectural state. See runner.go in the Go package for the wire format;
 * the constants below must agree with hostcpu.go.
 *
 * One case: the code page (CODE_ADDR, RWX) is filled with int3 and the
 * instruction bytes are copied to its start; the data region (DATA_ADDR,
 * DATA_SIZE bytes) is loaded from the case; the x87 state (FXRSTOR of an
 * image built from the case), RFLAGS (arithmetic flags + DF), MXCSR,
 * XMM0-15 and all sixteen GPRs including RSP are loaded and the code
 * is entered with an indirect jump. Whatever stops it -- the int3 after the
 * code, or a fault -- arrives as a signal on the alternate signal stack; the
 * handler copies the interrupted context out of the ucontext and rewrites
 * the context so that sigreturn resumes the dispatcher (resume_guest below)
 * on the host stack. An ITIMER_PROF watchdog aborts cases that never stop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define CODE_ADDR 0x20000000UL
#define CODE_SIZE 0x1000UL
#define DATA_ADDR 0x10000000UL
#define DATA_SIZE 0x2000UL
#define PAGE_SIZE_ 0x1000UL
#define MAX_CODE 4000

#define MAGIC_HELLO 0x48584247u /* "GBXH" */
#define MAGIC_REQ 0x51584247u   /* "GBXQ" */
#define MAGIC_RESP 0x52584247u  /* "GBXR" */
#define PROTO_VERSION 2

#define FAULT_NONE (-1)
#define FAULT_TIMEOUT 256

#define ARCH_FLAGS 0xCD5UL /* CF PF AF ZF SF DF OF */

#define IN_HDR 536
#define OUT_HDR 552
#define X87_LEN 136

/* Guest register file as loaded/stored by the trampoline. Offsets are
 * hard-coded in the assembly below (checked by the static asserts). */
struct gstate {
	uint64_t gpr[16]; /* 0: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 */
	uint64_t rflags;  /* 128 */
	uint32_t mxcsr;   /* 136 */
	uint32_t pad;     /* 140 */
	uint64_t xmm[32]; /* 144: XMMn low qword at [2n], high at [2n+1] */
} __attribute__((aligned(16)));

_Static_assert(offsetof(struct gstate, rflags) == 128, "layout");
_Static_assert(offsetof(struct gstate, mxcsr) == 136, "layout");
_Static_assert(offsetof(struct gstate, xmm) == 144, "layout");

/* Referenced from the assembly: must be global. */
struct gstate g_in;
uint64_t g_host_rsp;
uint64_t g_code_ptr = CODE_ADDR;
uint32_t g_host_mxcsr = 0x1f80;
uint16_t g_host_fcw = 0x37f;
unsigned char g_fx[512] __attribute__((aligned(16)));

static struct gstate g_out;
static unsigned char g_out_x87[X87_LEN];
static volatile sig_atomic_t g_in_guest;
static volatile uint64_t g_serial, g_tick_serial;
static volatile int g_ticks;
static int g_fault;
static uint64_t g_fault_addr, g_rip;
static size_t g_code_len;
static uint32_t g_mxcsr_mask = 0xffbf;

static unsigned char *const code_page = (unsigned char *)CODE_ADDR;
static unsigned char *const data_region = (unsigned char *)DATA_ADDR;
static unsigned char in_data[DATA_SIZE];

void run_guest(void);
void resume_guest(void);

__asm__(
	".text\n"
	".globl run_guest\n"
	".type run_guest,@function\n"
	"run_guest:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	sub $8, %rsp\n"
	"	mov %rsp, g_host_rsp(%rip)\n"
	"	fxrstor g_fx(%rip)\n"
	"	ldmxcsr g_in+136(%rip)\n"
	"	movdqu g_in+144(%rip), %xmm0\n"
	"	movdqu g_in+160(%rip), %xmm1\n"
	"	movdqu g_in+176(%rip), %xmm2\n"
	"	movdqu g_in+192(%rip), %xmm3\n"
	"	movdqu g_in+208(%rip), %xmm4\n"
	"	movdqu g_in+224(%rip), %xmm5\n"
	"	movdqu g_in+240(%rip), %xmm6\n"
	"	movdqu g_in+256(%rip), %xmm7\n"
	"	movdqu g_in+272(%rip), %xmm8\n"
	"	movdqu g_in+288(%rip), %xmm9\n"
	"	movdqu g_in+304(%rip), %xmm10\n"
	"	movdqu g_in+320(%rip), %xmm11\n"
	"	movdqu g_in+336(%rip), %xmm12\n"
	"	movdqu g_in+352(%rip), %xmm13\n"
	"	movdqu g_in+368(%rip), %xmm14\n"
	"	movdqu g_in+384(%rip), %xmm15\n"
	"	pushq g_in+128(%rip)\n"
	"	popfq\n"
	/* From here on nothing may touch the flags. */
	"	mov g_in+0(%rip), %rax\n"
	"	mov g_in+8(%rip), %rcx\n"
	"	mov g_in+16(%rip), %rdx\n"
	"	mov g_in+24(%rip), %rbx\n"
	"	mov g_in+40(%rip), %rbp\n"
	"	mov g_in+48(%rip), %rsi\n"
	"	mov g_in+56(%rip), %rdi\n"
	"	mov g_in+64(%rip), %r8\n"
	"	mov g_in+72(%rip), %r9\n"
	"	mov g_in+80(%rip), %r10\n"
	"	mov g_in+88(%rip), %r11\n"
	"	mov g_in+96(%rip), %r12\n"
	"	mov g_in+104(%rip), %r13\n"
	"	mov g_in+112(%rip), %r14\n"
	"	mov g_in+120(%rip), %r15\n"
	"	mov g_in+32(%rip), %rsp\n"
	"	jmp *g_code_ptr(%rip)\n"
	".size run_guest, .-run_guest\n"
	"\n"
	/* The signal handler points the interrupted context here, with RSP =
	 * g_host_rsp. Restore the ABI state the guest may have clobbered. */
	".globl resume_guest\n"
	".type resume_guest,@function\n"
	"resume_guest:\n"
	"	mov g_host_rsp(%rip), %rsp\n"
	"	pushq $0x202\n"
	"	popfq\n"
	"	ldmxcsr g_host_mxcsr(%rip)\n"
	"	fninit\n"
	"	fldcw g_host_fcw(%rip)\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size resume_guest, .-resume_guest\n");

static const int gmap[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void die(const char *msg)
{
	fprintf(stderr, "hostcpu helper: %s (errno %d: %s)\n", msg, errno, strerror(errno));
	fflush(stderr);
	_exit(2);
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	int fault, trapno;
	uint64_t rip, faddr = 0;

	if (!g_in_guest) {
		if (sig == SIGPROF)
			return;
		/* A fault in the helper itself: die with the default action
		 * when the faulting instruction is re-executed. */
		signal(sig, SIG_DFL);
		return;
	}
	rip = (uint64_t)g[REG_RIP];
	trapno = (int)g[REG_TRAPNO];
	switch (sig) {
	case SIGPROF:
		/* Watchdog tick. Ticks are transparent to the guest unless the
		 * same case has been running across three of them. */
		if (g_tick_serial != g_serial) {
			g_tick_serial = g_serial;
			g_ticks = 1;
			return;
		}
		if (++g_ticks < 3)
			return;
		fault = FAULT_TIMEOUT;
		break;
	case SIGTRAP:
		if (trapno == 3 && rip - 1 >= CODE_ADDR + g_code_len &&
		    rip - 1 < CODE_ADDR + CODE_SIZE && code_page[rip - 1 - CODE_ADDR] == 0xCC) {
			/* Reached the int3 fill after the code: normal stop. */
			fault = FAULT_NONE;
			rip--;
		} else {
			fault = (trapno == 1 || trapno == 3) ? trapno : 3;
		}
		break;
	case SIGILL:
		fault = 6;
		break;
	case SIGFPE:
		fault = (trapno == 0 || trapno == 16 || trapno == 19) ? trapno : 0;
		break;
	case SIGSEGV:
		if (trapno == 14 || (trapno != 13 && si->si_code != SI_KERNEL)) {
			fault = 14;
			faddr = (uint64_t)si->si_addr;
		} else {
			fault = trapno ? trapno : 13;
		}
		break;
	case SIGBUS:
		fault = trapno ? trapno : 17;
		if (fault == 14)
			faddr = (uint64_t)si->si_addr;
		break;
	default:
		fault = 255;
		break;
	}
	for (int i = 0; i < 16; i++)
		g_out.gpr[i] = (uint64_t)g[gmap[i]];
	g_out.rflags = ((uint64_t)g[REG_EFL] & ARCH_FLAGS) | 2;
	if (uc->uc_mcontext.fpregs) {
		struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
		memcpy(g_out.xmm, fp->_xmm, sizeof g_out.xmm);
		memset(g_out_x87, 0, sizeof g_out_x87);
		memcpy(g_out_x87 + 0, &fp->cwd, 2);
		memcpy(g_out_x87 + 2, &fp->swd, 2);
		g_out_x87[4] = (unsigned char)fp->ftw;
		for (int i = 0; i < 8; i++) {
			memcpy(g_out_x87 + 8 + 16 * i, fp->_st[i].significand, 8);
			memcpy(g_out_x87 + 16 + 16 * i, &fp->_st[i].exponent, 2);
		}
		g_out.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
		uc->uc_mcontext.fpregs->mxcsr = g_host_mxcsr;
	}
	g_fault = fault;
	g_fault_addr = faddr;
	g_rip = rip;

	g[REG_RIP] = (greg_t)(uintptr_t)resume_guest;
	g[REG_RSP] = (greg_t)g_host_rsp;
	g[REG_EFL] = 0x202;
	g_in_guest = 0;
}

static void read_full(void *p, size_t n)
{
	if (n == 0)
		return;
	if (fread_unlocked(p, 1, n, stdin) != n) {
		if (feof(stdin))
			_exit(0); /* parent went away */
		die("read");
	}
}

static void write_full(const void *p, size_t n)
{
	if (fwrite_unlocked(p, 1, n, stdout) != n)
		_exit(3);
}

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }

static void setup(void)
{
	void *p;
	stack_t ss;
	struct sigaction sa;
	struct itimerval it;
	static const int sigs[] = {SIGTRAP, SIGILL, SIGFPE, SIGSEGV, SIGBUS, SIGPROF};
	unsigned char fx[512] __attribute__((aligned(16)));

	/* Guard pages around the data region keep anything else from being
	 * mapped next to it, so accesses just outside it fault. */
	p = mmap((void *)(DATA_ADDR - PAGE_SIZE_), DATA_SIZE + 2 * PAGE_SIZE_, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)(DATA_ADDR - PAGE_SIZE_))
		die("mmap data reservation");
	if (mprotect((void *)DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE))
		die("mprotect data");
	p = mmap((void *)CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)CODE_ADDR)
		die("mmap code");
	memset(code_page, 0xCC, CODE_SIZE);

	ss.ss_sp = malloc(1 << 16);
	ss.ss_size = 1 << 16;
	ss.ss_flags = 0;
	if (!ss.ss_sp || sigaltstack(&ss, NULL))
		die("sigaltstack");

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL))
			die("sigaction");

	__asm__ volatile("fxsave %0" : "=m"(fx));
	memcpy(&g_mxcsr_mask, fx + 28, 4);
	if (g_mxcsr_mask == 0)
		g_mxcsr_mask = 0xffbf;
	__asm__ volatile("stmxcsr %0" : "=m"(g_host_mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(g_host_fcw));

	/* Watchdog: CPU-time ticks, so an idle helper gets none. */
	it.it_interval.tv_sec = 0;
	it.it_interval.tv_usec = 50000;
	it.it_value = it.it_interval;
	if (setitimer(ITIMER_PROF, &it, NULL))
		die("setitimer");

	setvbuf(stdin, NULL, _IOFBF, 1 << 20);
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
}

static void run_one(void)
{
	unsigned char h[IN_HDR], o[OUT_HDR], run[4];
	uint16_t len, flags;
	uint32_t mxcsr;
	int32_t fault;

	read_full(h, IN_HDR);
	memcpy(&len, h + 0, 2);
	memcpy(&flags, h + 2, 2);
	memcpy(&mxcsr, h + 4, 4);
	if (len > MAX_CODE)
		die("code too long");
	memset(code_page, 0xCC, CODE_SIZE);
	read_full(code_page, len);
	if (flags & 1)
		read_full(in_data, DATA_SIZE);
	else
		memset(in_data, 0, DATA_SIZE);
	memcpy(data_region, in_data, DATA_SIZE);

	memcpy(&g_in.rflags, h + 8, 8);
	memcpy(g_in.gpr, h + 16, 128);
	memcpy(g_in.xmm, h + 144, 256);
	g_in.rflags = (g_in.rflags & ARCH_FLAGS) | 2;
	g_in.mxcsr = mxcsr & g_mxcsr_mask;
	/* FXRSTOR image: FCW, FSW, abridged FTW, MXCSR, ST0-7. */
	memset(g_fx, 0, sizeof g_fx);
	memcpy(g_fx + 0, h + 400, 2);
	memcpy(g_fx + 2, h + 402, 2);
	g_fx[4] = h[404];
	memcpy(g_fx + 24, &g_in.mxcsr, 4);
	for (int i = 0; i < 8; i++) {
		memcpy(g_fx + 32 + 16 * i, h + 408 + 16 * i, 8);
		memcpy(g_fx + 40 + 16 * i, h + 416 + 16 * i, 2);
	}

	g_code_len = len;
	g_fault = 255;
	g_fault_addr = 0;
	g_rip = 0;
	g_serial++;
	g_in_guest = 1;
	run_guest();

	fault = g_fault;
	memcpy(o + 0, &fault, 4);
	memcpy(o + 4, &g_out.mxcsr, 4);
	memcpy(o + 8, &g_fault_addr, 8);
	memcpy(o + 16, &g_rip, 8);
	memcpy(o + 24, &g_out.rflags, 8);
	memcpy(o + 32, g_out.gpr, 128);
	memcpy(o + 160, g_out.xmm, 256);
	memcpy(o + 416, g_out_x87, X87_LEN);
	write_full(o, OUT_HDR);

	/* Data: runs of changed bytes relative to the input, gaps of up to
	 * 8 equal bytes merged; terminated by a zero-length run. */
	if (memcmp(data_region, in_data, DATA_SIZE) != 0) {
		size_t i = 0;
		while (i < DATA_SIZE) {
			if (data_region[i] == in_data[i]) {
				i++;
				continue;
			}
			size_t s = i, last = i, j = i + 1;
			while (j < DATA_SIZE && j - last <= 8) {
				if (data_region[j] != in_data[j])
					last = j;
				j++;
			}
			put16(run, (uint16_t)s);
			put16(run + 2, (uint16_t)(last + 1 - s));
			write_full(run, 4);
			write_full(data_region + s, last + 1 - s);
			i = j;
		}
	}
	put16(run, 0);
	put16(run + 2, 0);
	write_full(run, 4);
}

int main(void)
{
	unsigned char hello[32];
	uint32_t v;
	uint64_t a;

	setup();
	memset(hello, 0, sizeof hello);
	v = MAGIC_HELLO;
	memcpy(hello + 0, &v, 4);
	v = PROTO_VERSION;
	memcpy(hello + 4, &v, 4);
	a = CODE_ADDR;
	memcpy(hello + 8, &a, 8);
	a = DATA_ADDR;
	memcpy(hello + 16, &a, 8);
	v = DATA_SIZE;
	memcpy(hello + 24, &v, 4);
	v = g_mxcsr_mask;
	memcpy(hello + 28, &v, 4);
	write_full(hello, sizeof hello);
	fflush(stdout);

	for (;;) {
		uint32_t hdr[2], tr[2];
		size_t n = fread_unlocked(hdr, 1, 8, stdin);
		if (n == 0 && feof(stdin))
			return 0;
		if (n != 8)
			die("short batch header");
		if (hdr[0] != MAGIC_REQ)
			die("bad batch magic");
		for (uint32_t i = 0; i < hdr[1]; i++)
			run_one();
		tr[0] = MAGIC_RESP;
		tr[1] = hdr[1];
		write_full(tr, 8);
		if (fflush(stdout))
			_exit(3);
	}
}
