package symbolize

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/sample"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestForgetBounded captures rounds of short-lived processes, each running
// its own copy of a program (a distinct file, as after upgrades or in
// containers), symbolizes them, and checks that with Forget after each
// profile the processes, open files, parsed binaries and descriptors stay
// bounded by two rounds' worth, and drop to nothing once all are gone.
func TestForgetBounded(t *testing.T) {
	const rounds, perRound = 6, 4
	data, err := os.ReadFile("../testdata/spin/spin")
	if err != nil {
		t.Fatalf("%v (run make -C testdata)", err)
	}
	spinC := spinSymbol(t, "spin_c")
	dir := t.TempDir()
	s := New(Config{})
	defer s.Close()
	base := openFDs(t)
	maxProcs, maxFiles, maxBins, maxFDs := 0, 0, 0, 0
	for r := 0; r < rounds; r++ {
		var cmds []*exec.Cmd
		var recs []sample.Record
		for i := 0; i < perRound; i++ {
			bin := filepath.Join(dir, "spin"+string(rune('a'+r))+string(rune('a'+i)))
			if err := os.WriteFile(bin, data, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "30")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
			pid := uint32(cmd.Process.Pid)
			var start uint64
			for try := 0; try < 200 && start == 0; try++ {
				time.Sleep(5 * time.Millisecond)
				if err := s.Capture(pid); err != nil {
					t.Fatal(err)
				}
				s.mu.Lock()
				for _, m := range s.procs[pid].Mappings {
					if m.Path == bin {
						start = m.Start - m.Offset
					}
				}
				s.mu.Unlock()
			}
			if start == 0 {
				t.Fatalf("%s never mapped", bin)
			}
			recs = append(recs, sample.Record{TGID: pid, TID: pid, Comm: "spin", Count: 1,
				Kernel: sample.Stack{State: sample.StackAbsent},
				User:   sample.Stack{PCs: []uint64{start + spinC + 4}, State: sample.StackOK}})
		}
		// The processes end before their samples are written, as short
		// jobs do during a long profile.
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
		p, err := s.Profile(recs, ProfileOptions{Period: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i, smp := range p.Sample {
			l := smp.Location[0]
			if len(l.Line) == 0 || l.Line[len(l.Line)-1].Function.Name != "spin_c" || !strings.Contains(l.Mapping.File, "/spin") {
				t.Errorf("round %d sample %d: %+v in %+v, want spin_c", r, i, l.Line, l.Mapping)
			}
		}
		s.Forget()
		s.mu.Lock()
		maxProcs = max(maxProcs, len(s.procs))
		s.mu.Unlock()
		maxFiles = max(maxFiles, s.files.Len())
		maxBins = max(maxBins, s.cache.Len())
		maxFDs = max(maxFDs, openFDs(t)-base)
	}
	// Each process holds its own spin, and shares libc and the loader.
	if maxProcs > 2*perRound || maxFiles > 2*perRound+4 || maxBins > 2*perRound+4 || maxFDs > 2*(2*perRound+4)+2 {
		t.Errorf("after %d rounds of %d processes: at most %d processes, %d files, %d binaries, %d descriptors held; want two rounds' worth",
			rounds, perRound, maxProcs, maxFiles, maxBins, maxFDs)
	}
	s.Forget()
	s.Forget()
	s.mu.Lock()
	procs := len(s.procs)
	s.mu.Unlock()
	if procs != 0 || s.files.Len() != 0 || s.cache.Len() != 0 || openFDs(t) > base {
		t.Errorf("all gone: %d processes, %d files, %d binaries, %d descriptors over the start; want none",
			procs, s.files.Len(), s.cache.Len(), openFDs(t)-base)
	}
}

// TestForgetKeepsLive checks that Forget keeps a process that still runs,
// and that Exited, as a collector reports it, drops it on the second call.
func TestForgetKeepsLive(t *testing.T) {
	cmd := exec.Command("../testdata/spin/spin", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := uint32(cmd.Process.Pid)
	s := New(Config{})
	defer s.Close()
	if err := s.Capture(pid); err != nil {
		t.Fatal(err)
	}
	count := func() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.procs) }
	for i := 0; i < 3; i++ {
		if n := s.Forget(); n != 0 || count() != 1 {
			t.Fatalf("Forget %d of a live process: dropped %d, %d left", i, n, count())
		}
	}
	s.Exited(pid)
	if n := s.Forget(); n != 0 || count() != 1 {
		t.Errorf("first Forget after Exited dropped %d, %d left; want it only marked", n, count())
	}
	if n := s.Forget(); n != 1 || count() != 0 {
		t.Errorf("second Forget after Exited dropped %d, %d left; want it dropped", n, count())
	}
}
