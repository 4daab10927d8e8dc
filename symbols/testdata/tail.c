/*
 * Tail-call test guest for glassbox/symbols backtraces, built at -O2 and -Os
 * (where gcc turns "return f(...)" into a jmp) with boot32.S or start64.S,
 * like kernel.c. gdb shows the functions a tail call left (whose frames no
 * longer exist) as tail-call frames, found through the DW_TAG_call_site
 * entries marked DW_AT_call_tail_call:
 *
 *   kmain -> one_hop ~> leaf1                      one tail-call frame
 *   kmain -> two_a ~> two_b ~> leaf2               two tail-call frames
 *   kmain -> amb_top ~> amb_mid ~> (amb_c | amb_d) ~> amb_join ~> leaf3
 *                                                  ambiguous: gdb keeps only
 *                                                  amb_top and amb_join
 *   kmain -> outer ~> inner -> leaf4               a tail-call frame above a
 *                                                  real frame
 *   kmain -> pick ~> (leaf5 | leaf5b)              the caller's target does
 *                                                  reach leaf5 two ways
 *
 * ("->" is a call, "~>" a tail call.) On i386 some functions take register
 * arguments (regparm) so that their entry values come from call sites.
 */

#if defined(__i386__)
#define REGPARM __attribute__((regparm(3)))
#else
#define REGPARM
#endif
#define NOINLINE __attribute__((noinline, noclone))

volatile int sink;
int table[4] = { 10, 20, 30, 40 };

NOINLINE REGPARM int leaf1(int v, int w)
{
	sink = v;
	sink += w;
	return sink * 2;
}

NOINLINE REGPARM int one_hop(int v, int w)
{
	sink = w;
	return leaf1(v + 1, w * 2);
}

NOINLINE int leaf2(int a, int *p, int b)
{
	sink = a + *p;
	sink += b;
	return sink - 1;
}

NOINLINE int two_b(int a, int *p, int b)
{
	sink = b;
	return leaf2(a * 3, p + 1, b);
}

NOINLINE int two_a(int a, int *p, int b)
{
	sink = a;
	return two_b(a - 2, p, b + 5);
}

NOINLINE REGPARM int leaf3(int v)
{
	sink = v * 7;
	return sink;
}

NOINLINE REGPARM int amb_join(int v)
{
	sink = v;
	return leaf3(v + 3);
}

NOINLINE REGPARM int amb_c(int v)
{
	sink = v + 100;
	return amb_join(v * 5);
}

NOINLINE REGPARM int amb_d(int v)
{
	sink = v - 100;
	return amb_join(v ^ 0x55);
}

NOINLINE REGPARM int amb_mid(int v)
{
	sink = v;
	if (v & 1)
		return amb_c(v + 1);
	return amb_d(v + 2);
}

NOINLINE REGPARM int amb_top(int v)
{
	sink = v * 11;
	return amb_mid(v + 9);
}

NOINLINE int leaf4(int v)
{
	sink = v;
	return v + table[v & 3];
}

NOINLINE int inner(int v)
{
	int r = leaf4(v + 1);

	sink = r;
	return r * 3;
}

NOINLINE int outer(int v)
{
	sink = v;
	return inner(v * 2);
}

NOINLINE REGPARM int leaf5b(int v);

NOINLINE REGPARM int leaf5(int v)
{
	sink = v;
	if (v > 1000)
		return leaf5b(v - 1000);
	return v * 9;
}

NOINLINE REGPARM int leaf5b(int v)
{
	sink = v + 1;
	return leaf5(v);
}

NOINLINE REGPARM int pick(int v)
{
	sink = v;
	if (v & 2)
		return leaf5b(v + 1);
	return leaf5(v * 2);
}

void kmain(unsigned magic, void *info)
{
	int s = 0;

	s += one_hop((int)magic & 0xff, 6);
	s += two_a(40, &table[1], 7);
	s += amb_top(12);
	s += outer(5);
	s += pick(4);
	sink = s;
	(void)info;
}
