package offcpu

import (
	"testing"

	"github.com/emberprof/ember/internal/stackmap"
)

// TestSharedLayout fails when a struct or enum shared by the program's C and
// Go reader drifts apart.
func TestSharedLayout(t *testing.T) {
	spec, err := loadOffcpu()
	if err != nil {
		t.Fatal(err)
	}
	if err := stackmap.CheckLayout(spec.Types, "key", stackmap.Key{}); err != nil {
		t.Error(err)
	}
	if err := stackmap.CheckLayout(spec.Types, "value", stackmap.Value{}); err != nil {
		t.Error(err)
	}
	if err := stackmap.CheckStates(spec.Types); err != nil {
		t.Error(err)
	}
}
