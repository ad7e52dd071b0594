package offcpu

import (
	"os/exec"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
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
	t.Log(c)
	if err := c.Verdict(100); err != nil {
		t.Error(err)
	}
}
