/* A small C program built -O2 -g: static functions the compiler inlines,
 * a recursive one it cannot, and a noinline leaf, so that addresses fall
 * in plain, inlined and doubly inlined code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int square(int x) { return x * x; }

static inline int sum_squares(const int *v, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++)
		s += square(v[i]);
	return s;
}

__attribute__((noinline)) int leaf(int x)
{
	volatile int y = x;
	return y * 3 + 1;
}

__attribute__((noinline)) int fib(int n)
{
	if (n < 2)
		return leaf(n);
	return fib(n - 1) + fib(n - 2);
}

static int compare(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) int work(int n)
{
	int v[64];
	for (int i = 0; i < 64; i++)
		v[i] = (i * 7919 + n) % 101;
	qsort(v, 64, sizeof v[0], compare);
	return sum_squares(v, 64) + fib(n % 20);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10;
	char buf[32];
	snprintf(buf, sizeof buf, "%d", work(n));
	puts(buf);
	return strlen(buf) > 100;
}
