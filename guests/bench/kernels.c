/*
 * The benchmark kernels. See kernels.h: this file is compiled both for the
 * guest (gcc -m32 -ffreestanding) and for the host, and the checksums the
 * two builds print are compared by a test.
 */
#include "kernels.h"

#define BUF_SIZE (64 * 1024)
#define SIEVE_SIZE 65536
#define SORT_N 4096

/* Byte buffers that are also copied a word at a time: unions keep the word
 * accesses free of aliasing questions. */
static union {
	bk_u8 b[BUF_SIZE];
	bk_u32 w[BUF_SIZE / 4];
} ua, ub;
#define buf_a ua.b
#define buf_b ub.b
static bk_u8 sieve[SIEVE_SIZE];
static bk_u32 sort_a[SORT_N];
static bk_u32 crc_table[256];

static bk_u32 rng_state;

static bk_u32 rng(void)
{
	/* xorshift32 */
	bk_u32 x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x;
	return x;
}

/* Integer compute: multiply, divide, shifts, rotates and branches. */
static bk_u32 k_compute(bk_u32 n)
{
	bk_u32 h = 0x12345678, acc = 1;
	for (bk_u32 i = 0; i < n * 200000; i++) {
		h = h * 2654435761u + i;
		h ^= h >> 15;
		acc += (h % 1000003u) + (h / 77u);
		if (h & 0x100)
			acc = (acc << 3) | (acc >> 29);
		else
			acc ^= h;
	}
	return acc ^ h;
}

/* Sieve of Eratosthenes over SIEVE_SIZE numbers, repeated. */
static bk_u32 k_sieve(bk_u32 n)
{
	bk_u32 sum = 0;
	for (bk_u32 rep = 0; rep < n * 4; rep++) {
		for (bk_u32 i = 0; i < SIEVE_SIZE; i++)
			sieve[i] = 1;
		sieve[0] = sieve[1] = 0;
		for (bk_u32 i = 2; i * i < SIEVE_SIZE; i++)
			if (sieve[i])
				for (bk_u32 j = i * i; j < SIEVE_SIZE; j += i)
					sieve[j] = 0;
		bk_u32 count = 0, last = 0;
		for (bk_u32 i = 0; i < SIEVE_SIZE; i++)
			if (sieve[i]) {
				count++;
				last = i;
			}
		sum = sum * 31 + count + last + rep;
	}
	return sum;
}

/* Table-driven CRC-32 (IEEE, reflected) over a 64 KiB buffer. */
static bk_u32 k_crc32(bk_u32 n)
{
	for (bk_u32 i = 0; i < 256; i++) {
		bk_u32 c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
		crc_table[i] = c;
	}
	rng_state = 0xC0FFEE;
	for (bk_u32 i = 0; i < BUF_SIZE; i++)
		buf_a[i] = (bk_u8)rng();
	bk_u32 crc = 0;
	for (bk_u32 rep = 0; rep < n * 4; rep++) {
		bk_u32 c = ~crc;
		for (bk_u32 i = 0; i < BUF_SIZE; i++)
			c = crc_table[(c ^ buf_a[i]) & 0xFF] ^ (c >> 8);
		crc = ~c;
		buf_a[rep & (BUF_SIZE - 1)] ^= (bk_u8)crc;
	}
	return crc;
}

static void sift_down(bk_u32 *a, bk_u32 start, bk_u32 end)
{
	bk_u32 root = start;
	while (2 * root + 1 <= end) {
		bk_u32 child = 2 * root + 1, sw = root;
		if (a[sw] < a[child])
			sw = child;
		if (child + 1 <= end && a[sw] < a[child + 1])
			sw = child + 1;
		if (sw == root)
			return;
		bk_u32 t = a[root];
		a[root] = a[sw];
		a[sw] = t;
		root = sw;
	}
}

static void quicksort(bk_u32 *a, int lo, int hi)
{
	while (lo < hi) {
		bk_u32 p = a[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (a[i] < p)
				i++;
			while (a[j] > p)
				j--;
			if (i <= j) {
				bk_u32 t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

/* Sorting: quicksort and heapsort of pseudo-random arrays. */
static bk_u32 k_sort(bk_u32 n)
{
	bk_u32 sum = 0;
	rng_state = 0xBADC0DE;
	for (bk_u32 rep = 0; rep < n * 3; rep++) {
		for (bk_u32 i = 0; i < SORT_N; i++)
			sort_a[i] = rng();
		if (rep & 1) {
			for (bk_u32 s = SORT_N / 2; s-- > 0;)
				sift_down(sort_a, s, SORT_N - 1);
			for (bk_u32 e = SORT_N - 1; e > 0; e--) {
				bk_u32 t = sort_a[0];
				sort_a[0] = sort_a[e];
				sort_a[e] = t;
				sift_down(sort_a, 0, e - 1);
			}
		} else {
			quicksort(sort_a, 0, SORT_N - 1);
		}
		for (bk_u32 i = 0; i < SORT_N; i++) {
			if (i > 0 && sort_a[i - 1] > sort_a[i])
				return 0xBAD50127;
			sum = sum * 33 + sort_a[i];
		}
	}
	return sum;
}

/* memcpy: byte, word and overlapping (memmove-style) copies. */
static bk_u32 k_memcpy(bk_u32 n)
{
	rng_state = 0x5EED;
	for (bk_u32 i = 0; i < BUF_SIZE; i++)
		buf_a[i] = (bk_u8)rng();
	bk_u32 sum = 0;
	for (bk_u32 rep = 0; rep < n * 6; rep++) {
		bk_u32 off = rep * 13 & 255, len = BUF_SIZE - 256;
		/* word copy */
		for (bk_u32 i = 0; i < len / 4; i++)
			ub.w[i] = ua.w[i + off / 4];
		/* byte copy at an odd offset */
		for (bk_u32 i = 0; i < len / 2; i++)
			buf_a[i + off + 1] = buf_b[i];
		/* overlapping backwards move */
		for (bk_u32 i = len / 4; i-- > 0;)
			buf_b[i + 3] = buf_b[i];
		for (bk_u32 i = 0; i < BUF_SIZE; i += 64)
			sum = sum * 7 + buf_a[i] + buf_b[i + 1] * 3u;
	}
	return sum;
}

static bk_u32 fib(bk_u32 k) { return k < 2 ? k : fib(k - 1) + fib(k - 2); }

static bk_u32 ack(bk_u32 m, bk_u32 k)
{
	if (m == 0)
		return k + 1;
	if (k == 0)
		return ack(m - 1, 1);
	return ack(m - 1, ack(m, k - 1));
}

/* Recursion: Fibonacci and Ackermann (deep call chains, the stack). Every
 * repetition makes the same calls, so every work size runs the same code
 * paths (machine's TestBenchGuestNoAllocPerInsn relies on that). */
static bk_u32 k_recursion(bk_u32 n)
{
	bk_u32 sum = 0;
	for (bk_u32 rep = 0; rep < n; rep++) {
		sum += fib(19) + rep;
		sum = sum * 3 + ack(2, 45);
	}
	return sum;
}

void bench_run(bk_u32 n, struct bench_result *res)
{
	res[0].name = "compute";
	res[0].sum = k_compute(n);
	res[1].name = "sieve";
	res[1].sum = k_sieve(n);
	res[2].name = "crc32";
	res[2].sum = k_crc32(n);
	res[3].name = "sort";
	res[3].sum = k_sort(n);
	res[4].name = "memcpy";
	res[4].sum = k_memcpy(n);
	res[5].name = "recursion";
	res[5].sum = k_recursion(n);
}

bk_u32 bench_parse_n(const char *s, bk_u32 def)
{
	while (*s) {
		while (*s == ' ')
			s++;
		if (s[0] == 'n' && s[1] == '=' && s[2] >= '0' && s[2] <= '9') {
			bk_u32 v = 0;
			s += 2;
			while (*s >= '0' && *s <= '9') {
				if (v > 100000000)
					return def;
				v = v * 10 + (bk_u32)(*s++ - '0');
			}
			if ((*s == ' ' || *s == 0) && v >= 1)
				return v;
			return def;
		}
		while (*s && *s != ' ')
			s++;
	}
	return def;
}
