/* sleeper: sleeps argv[1] times (default 20) for argv[2] ms each (default 50)
 * through a known chain of calls, main -> sleep_a -> sleep_b, so an off-CPU
 * profiler's stacks and totals can be checked. With a third argument it first
 * waits for a byte on stdin, so that a test can start it, attach, and only
 * then let it sleep. It prints how long, in ns of wall time, the sleeps took
 * in all: on a busy machine a woken thread also waits for a CPU, and that
 * wait is off-CPU time too. sleep_b enters the kernel with
 * its own syscall instruction rather than through libc: libc has no frame
 * pointers, and a frame-pointer walk starting inside it would skip sleep_b.
 * Built at -O0 with frame pointers; see Makefile. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SYS_nanosleep 35

__attribute__((noinline)) void sleep_b(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(SYS_nanosleep), "D"(&ts), "S"(0)
			 : "rcx", "r11", "memory");
}

__attribute__((noinline)) void sleep_a(long n, long ms)
{
	for (long i = 0; i < n; i++)
		sleep_b(ms);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20;
	long ms = argc > 2 ? atol(argv[2]) : 50;
	if (argc > 3) {
		char c;
		if (read(0, &c, 1) != 1)
			return 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sleep_a(n, ms);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%lld\n", (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}
