package sampler

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emberprof/ember/unwind/loader"
)

// BenchmarkFirstUnwound measures, for Debian's python3 already running, the
// time from attach (Open returning) to the first user stack walked by CFI
// to its outermost frame: the loader loads the -p process at once with 2
// workers, against the baseline of waiting for the walker's request and
// building with 1 worker.
func BenchmarkFirstUnwound(b *testing.B) {
	if _, err := os.Stat(debianPython); err != nil {
		b.Skipf("%s not installed", debianPython)
	}
	script := filepath.Join(b.TempDir(), "loop.py")
	if err := os.WriteFile(script, []byte(pyLoop), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(debianPython, script, "3600")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	in.Write([]byte{1})
	time.Sleep(500 * time.Millisecond)
	pid := uint32(cmd.Process.Pid)
	for _, v := range []struct {
		name    string
		workers int
		lazy    bool
	}{{"lazy-1worker", 1, true}, {"first-2workers", 2, false}} {
		b.Run(v.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				s, err := Open(Config{Frequency: 499, CPU: -1, UserStacks: true, PIDs: []uint32{pid},
					Unwind: loader.ModeAuto, unwindWorkers: v.workers, unwindLazy: v.lazy})
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				for {
					st, _, err := s.Unwind()
					if err != nil {
						b.Fatal(err)
					}
					if st[loader.SlotEndStop] > 0 {
						break
					}
					if time.Since(t0) > 30*time.Second {
						b.Fatal("no complete walk in 30 s")
					}
					time.Sleep(time.Millisecond)
				}
				total += time.Since(t0)
				s.Close()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-unwound")
		})
	}
}
