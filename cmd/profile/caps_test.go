package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
)

// TestReducedCapabilities runs the built profile with only CAP_BPF and
// CAP_PERFMON, while a process of another user spins: its frames, and the
// kernel's where kallsyms hides addresses, come out [unknown], and stderr must
// say so and name the capabilities that would fix it.
func TestReducedCapabilities(t *testing.T) {
	bpftest.Require(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop capabilities: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "profile")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	drop := []string{"setpriv", "--inh-caps=-all", "--bounding-set=-all,+bpf,+perfmon"}
	// What kallsyms shows to a process with these capabilities decides
	// whether the kernel warning is due.
	head, err := exec.Command(drop[0], append(drop[1:], "head", "-1", "/proc/kallsyms")...).Output()
	if err != nil {
		t.Fatalf("read kallsyms with reduced capabilities: %v", err)
	}
	kernelHidden := strings.HasPrefix(string(head), "0000000000000000 ")

	start(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "../../testdata/spin/spin", "30")
	cmd := exec.Command(drop[0], append(drop[1:], bin, "-f", "2")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("profile with CAP_BPF+CAP_PERFMON: %v\n%s", err, errb.String())
	}
	stderr := errb.String()
	t.Logf("kallsyms hidden: %v; stderr:\n%s", kernelHidden, stderr)
	if !strings.Contains(stderr, "other users are [unknown]") || !strings.Contains(stderr, "CAP_SYS_PTRACE") {
		t.Errorf("no warning naming CAP_SYS_PTRACE for the other user's process")
	}
	if got := strings.Contains(stderr, "CAP_SYSLOG"); got != kernelHidden {
		t.Errorf("CAP_SYSLOG warning = %v, want %v (kallsyms hidden)", got, kernelHidden)
	}
	if n := strings.Count(stderr, "CAP_SYS_PTRACE"); n != 1 {
		t.Errorf("CAP_SYS_PTRACE named %d times, want once", n)
	}
}
