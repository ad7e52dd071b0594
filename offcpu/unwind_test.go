package offcpu

import (
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/emberprof/ember/unwind/unwindtest"
)

// blockC blocks in libc, in usleep or in a read of an empty pipe, through
// c, b and a from main, all built without frame pointers.
const blockC = `
#include <stdlib.h>
#include <unistd.h>
#include <sys/select.h>
volatile unsigned long sink;
int fds[2];
__attribute__((noinline)) void c(int how) {
	if (how == 's') {
		usleep(2000);
	} else {
		char ch;
		fd_set r; FD_ZERO(&r); FD_SET(fds[0], &r);
		struct timeval tv = {0, 2000};
		if (select(fds[0] + 1, &r, 0, 0, &tv) > 0) read(fds[0], &ch, 1);
	}
	sink++;
}
__attribute__((noinline)) void b(int how) { c(how); sink++; }
__attribute__((noinline)) void a(int how) { b(how); sink++; }
int main(int argc, char **argv) {
	char go;
	if (pipe(fds) || read(0, &go, 1) != 1) return 2;
	int n = atoi(argv[2]);
	for (int i = 0; i < n; i++) a(argv[1][0]);
	return 0;
}
`

func TestUnwindBlocked(t *testing.T) {
	bpftest.Require(t)
	bin := unwindtest.BuildC(t, "block", blockC, "-O2", "-fomit-frame-pointer")
	syms := unwindtest.LoadSymtab(t, bin)
	for _, how := range []string{"sleep", "pipe"} {
		t.Run(how, func(t *testing.T) {
			// The child waits in main for a byte, so that every block
			// traced is one of main's: not the dynamic linker's at start.
			child := unwindtest.StartChild(t, bin, how[:1], "2000")
			tr, err := Open(Config{MinBlock: time.Microsecond, UserStacks: true, Unwind: loader.ModeAuto, UnwindRows: 1 << 20, PIDs: []uint32{uint32(child.Pid)}})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			time.Sleep(50 * time.Millisecond)
			base := unwindtest.MappedBase(t, child.Pid, bin)
			child.Release()
			child.Wait()
			tr.Stop()
			recs, _, err := tr.Read()
			if err != nil {
				t.Fatal(err)
			}
			r := unwindtest.ReachMain(recs, child.Pid, syms, base)
			st, info, err := tr.Unwind()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v; counters: %v; loader: %+v", r, st, info)
			if r.Samples < 1000 || r.Fraction() < 0.95 {
				t.Errorf("%v, want >= 95%% of >= 1000 blocks; some that did not: %q", r, r.Sample)
			}
		})
	}
}
