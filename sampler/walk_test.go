package sampler

import (
	"os/exec"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
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
	t.Log(c)
	if err := c.Verdict(500); err != nil {
		t.Error(err)
	}
}
