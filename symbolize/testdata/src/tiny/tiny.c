static inline int sq(int x) { return x * x; }
static inline int add(int a, int b) { return sq(a) + b; }
int f(int x) { return add(x, 1) + add(x, 2); }
int g(int x) { return x > 3 ? f(x) : sq(x); }
void _start(void) { volatile int r = g(5); (void)r; for (;;) ; }
