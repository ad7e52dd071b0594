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
	compared, differed, err := s.walkChecks()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d user walks compared with bpf_get_stack's, %d differed", compared, differed)
	if compared < 500 {
		t.Errorf("only %d walks compared", compared)
	}
	if differed != 0 {
		t.Errorf("%d of %d user walks differ from bpf_get_stack's", differed, compared)
	}
}
