#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static volatile unsigned long sink; static int spin_n, sleep_us;
__attribute__((noinline)) static void spin(int n) { for (int i = 0; i < n; i++) sink += i; }
static void *worker(void *arg) {
	(void)arg;
	for (;;) { spin(spin_n); usleep(sleep_us); }
	return NULL;
}
int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1000; spin_n = argc > 2 ? atoi(argv[2]) : 20000; sleep_us = argc > 3 ? atoi(argv[3]) : 10000;
	pthread_attr_t a; pthread_attr_init(&a); pthread_attr_setstacksize(&a, 64 << 10);
	for (int i = 0; i < n; i++) { pthread_t t; if (pthread_create(&t, &a, worker, NULL)) { perror("pthread_create"); return 1; } }
	printf("%d\n", getpid()); fflush(stdout);
	pause();
}
