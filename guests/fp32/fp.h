#ifndef FP32_H
#define FP32_H
#include "lib.h"

void x87_tests(void);
void sse_tests(void);

/* Exceptions counted by the handlers in fp.c. */
extern volatile int nm_count, mf_count, xm_count, ud_count;
extern volatile u32 last_fsw, last_mxcsr;
#endif
