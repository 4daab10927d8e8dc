/*
 * Inlined-function test guest for glassbox/symbols backtraces, built at -O1
 * and -O2 with boot32.S or start64.S, like kernel.c. gdb shows a frame for
 * every inlined call (DW_TAG_inlined_subroutine) covering the pc:
 *
 *   kmain -> mid => one -> leaf                 one level of inlining
 *   kmain -> mid => outer => inner -> leaf      two levels, nested
 *   kmain -> mid => twice => bump (x2)          an inlined function inlined
 *                                               twice into another
 *   kmain -> mid -> hop => tail_in ~> leaf_t    a tail call (at -O2) made in
 *                                               an inlined call
 *
 * ("->" is a call, "=>" an inlined call, "~>" a tail call.) kmain calls mid forever, so that
 * every breakpoint is hit again.
 */

#define NOINLINE __attribute__((noinline, noclone))
#define INLINE static inline __attribute__((always_inline))

volatile int sink;
int table[4] = { 10, 20, 30, 40 };

NOINLINE int leaf(int v)
{
	sink = v;
	return sink + 1;
}

INLINE int one(int x, int *p)
{
	sink = x * 3;
	sink += *p;
	sink += leaf(x + 1);
	return sink;
}

INLINE int inner(int p, int q)
{
	sink = p;
	sink += leaf(p ^ q);
	return sink * q;
}

INLINE int outer(int a)
{
	int r;

	sink = a + 7;
	r = inner(a * 2, a + 5);
	return r + sink;
}

INLINE void bump(volatile int *where, int by)
{
	*where += by;
	*where ^= 3;
}

INLINE int twice(int k)
{
	bump(&sink, k);
	bump(&table[1], k + 1);
	return sink;
}

NOINLINE int leaf_t(int v)
{
	sink = v;
	return sink * 2;
}

INLINE int tail_in(int v)
{
	sink = v;
	return leaf_t(v + 3);
}

/* At -O2 the call of leaf_t is a tail call made in the inlined tail_in. */
NOINLINE int hop(int v)
{
	return tail_in(v * 2);
}

NOINLINE int mid(int n)
{
	int r;

	r = one(n, &table[n & 3]);
	r += outer(n + 2);
	r += twice(r);
	r += hop(r);
	return r;
}

void kmain(unsigned magic, void *info)
{
	unsigned i;

	(void)info;
	for (i = magic & 0xff;; i++)
		sink = mid((int)(i & 0xff));
}
