package collect

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestIdleMeter: symbolizing goes ahead while a CPU's worth of time was idle
// since the last reading, and waits while every CPU was busy.
func TestIdleMeter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	write := func(idle, busy uint64) {
		t.Helper()
		// Two CPUs; the aggregate line is what counts.
		s := fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\nintr 1 2 3\n", busy, idle)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &idleMeter{path: path}
	write(100, 100)
	if !m.spare() {
		t.Error("first reading: want spare (nothing to compare with)")
	}
	write(100, 300) // 200 ticks busy, none idle
	if m.spare() {
		t.Error("every CPU busy: want no spare time")
	}
	write(160, 440) // 60 idle of 200: under one CPU of two
	if m.spare() {
		t.Error("0.6 of a CPU idle: want no spare time")
	}
	write(260, 540) // 100 idle of 200: one CPU of two
	if !m.spare() {
		t.Error("one CPU idle: want spare time")
	}
	m = &idleMeter{path: filepath.Join(t.TempDir(), "missing")}
	if !m.spare() {
		t.Error("no /proc/stat: want spare (symbolize as before)")
	}
	if _, _, cpus, err := readStat("/proc/stat"); err != nil || cpus < 1 {
		t.Errorf("/proc/stat: %d CPUs, %v", cpus, err)
	}
}
