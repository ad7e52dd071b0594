package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/google/pprof/profile"
)

// TestPprofOutput writes a pprof profile of the spin program and reads it back
// with go tool pprof: totals, names and the comm tag must survive.
func TestPprofOutput(t *testing.T) {
	bpftest.Require(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	cmd := exec.Command("../../testdata/spin/spin", "5")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	out := filepath.Join(t.TempDir(), "cpu.pb.gz")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-p", strconv.Itoa(cmd.Process.Pid), "-F", "199", "--format", "pprof", "-o", out, "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(f)
	f.Close()
	if err != nil {
		t.Fatalf("our profile does not parse: %v", err)
	}
	var total int64
	for _, s := range p.Sample {
		total += s.Value[0]
	}
	if total == 0 {
		t.Fatal("no samples")
	}
	if p.Period != int64(1e9)/199 || p.SampleType[1].Type != "cpu" || p.SampleType[1].Unit != "nanoseconds" {
		t.Errorf("period %d, sample types %v", p.Period, p.SampleType)
	}

	pprof := func(args ...string) string {
		c := exec.Command(goTool, append([]string{"tool", "pprof"}, append(args, out)...)...)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("go tool pprof %v: %v\n%s", args, err, e.String())
		}
		// pprof prints nothing on stderr for a clean profile but its
		// "Main binary" notice when it cannot find one.
		if strings.Contains(strings.ToLower(e.String()), "warning") {
			t.Errorf("go tool pprof %v warned: %s", args, e.String())
		}
		return o.String()
	}
	top := pprof("-top", "-sample_index=samples")
	if want := fmt.Sprintf("of %d total", total); !strings.Contains(top, want) {
		t.Errorf("pprof -top does not show %q:\n%s", want, top)
	}
	if !strings.Contains(top, "spin_c") {
		t.Errorf("pprof -top lacks spin_c:\n%s", top)
	}
	raw := pprof("-raw")
	if !strings.Contains(raw, "spin_b") || !strings.Contains(raw, "comm:[spin]") {
		t.Errorf("pprof -raw lacks spin_b or the comm label:\n%s", raw)
	}
	if focused := pprof("-top", "-sample_index=samples", "-tagfocus", "comm=spin"); !strings.Contains(focused, fmt.Sprintf("of %d total", total)) {
		t.Errorf("-tagfocus comm=spin lost samples:\n%s", focused)
	}
}
