package offcpu

import (
	"os/exec"
	"testing"
	"time"

	"github.com/emberprof/ember/bpfenv/bpftest"
)

// TestUserWalkMatchesKernel runs the program's own frame-pointer walk and the
// kernel's bpf_get_stack side by side at every switch on the machine for a
// while, with programs of several kinds blocking (C with and without frame
// pointers, Go), and requires the same frames every time.
func TestUserWalkMatchesKernel(t *testing.T) {
	bpftest.Require(t)
	tr, err := Open(Config{MinBlock: time.Microsecond, UserStacks: true, checkUserWalk: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// Something that blocks in user threads of each kind: the sleeper (C,
	// frame pointers), sh and sleep (distribution C without them), and the
	// go command (Go).
	for _, c := range [][]string{
		{"../testdata/sleeper/sleeper", "300", "1"},
		{"sh", "-c", "for i in 1 2 3 4 5; do sleep 0.01; done"},
		{"go", "env", "GOROOT"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c, err, out)
		}
	}
	tr.Stop()
	c, err := tr.walkChecks()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d user walks compared with bpf_get_stack's: %d gave another frame, %d only ended sooner or later",
		c.Compared, c.Mismatched, c.Shorter)
	if c.Compared < 100 {
		t.Errorf("only %d walks compared", c.Compared)
	}
	if c.Mismatched != 0 {
		t.Errorf("%d of %d user walks gave another frame than bpf_get_stack", c.Mismatched, c.Compared)
	}
	// Ending at another depth needs a page of the stack to change its
	// mapping between the two walks, microseconds apart; it has not been
	// seen, but nothing rules it out on a busy machine. (vfork children,
	// whose stack their parent may be writing, are not compared; see
	// check_walk.)
	if c.Shorter*100 > c.Compared {
		t.Errorf("%d of %d user walks ended at another depth than bpf_get_stack's", c.Shorter, c.Compared)
	}
}
