package main

import (
	"fmt"

	"github.com/emberprof/ember/symbolize"
)

// openProcess captures a live process to map its runtime addresses to its
// binaries.
func openProcess(pid uint64, debugDirs []string) (*symbolize.Process, error) {
	if pid > 1<<32-1 {
		return nil, fmt.Errorf("process %d does not exist: a PID fits in 32 bits", pid)
	}
	p, err := symbolize.CaptureProcess(uint32(pid), symbolize.Options{DebugDirs: debugDirs})
	if err != nil {
		return nil, fmt.Errorf("%w (is it running, and are you root?)", err)
	}
	return p, nil
}
