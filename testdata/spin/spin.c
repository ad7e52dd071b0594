/* spin: burns CPU for argv[1] seconds (default 5) through a known chain of
 * calls, main -> spin_a -> spin_b -> spin_c, so a profiler's stacks can be
 * checked; given a program after the seconds, it then execs it, in the same
 * process (spin 0.5 /bin/true). Built at -O0 with frame pointers, because GCC 12 omits the frame pointer of
 * optimized leaf functions even with -fno-omit-frame-pointer; see Makefile. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

__attribute__((noinline)) void spin_c(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * i;
}

__attribute__((noinline)) void spin_b(unsigned long n)
{
	spin_c(n);
	sink++;
}

__attribute__((noinline)) void spin_a(unsigned long n)
{
	spin_b(n);
	sink++;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	double end = now() + secs;
	while (now() < end)
		spin_a(1000000);
	if (argc > 2) {
		execv(argv[2], argv + 2);
		return 127;
	}
	return 0;
}
