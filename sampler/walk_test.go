package sampler

import (
	"os/exec"
	"testing"

	"github.com/emberprof/ember/bpfenv/bpftest"
)

// TestUserWalkMatchesKernel samples every CPU at 999 Hz while programs of
// several kinds run (C with frame pointers, distribution C without them,
// Go), runs the program's own frame-pointer walk and the kernel's
// bpf_get_stack side by side on each sample, and requires the same frames
// every time.
func TestUserWalkMatchesKernel(t *testing.T) {
	bpftest.Require(t)
	s, err := Open(Config{Frequency: 999, CPU: -1, UserStacks: true, checkUserWalk: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range [][]string{
		{"../testdata/spin/spin", "1"},
		{"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"},
		{"go", "env", "GOROOT"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c, err, out)
		}
	}
	s.Stop()
	c, err := s.walkChecks()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d user walks compared with bpf_get_stack's: %d gave another frame, %d only ended sooner or later",
		c.Compared, c.Mismatched, c.Shorter)
	if c.Compared < 500 {
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
