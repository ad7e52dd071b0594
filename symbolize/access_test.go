package symbolize

import (
	"strings"
	"testing"
)

func TestCapEff(t *testing.T) {
	status := "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000000c000000000\nCapEff:\t000000c000000000\n"
	if c, ok := CapEff(status); !ok || c != 1<<38|1<<39 {
		t.Errorf("CapEff = %#x, %v; want CAP_PERFMON|CAP_BPF", c, ok)
	}
	if _, ok := CapEff("Name:\tx\n"); ok {
		t.Error("CapEff found a set in a status without one")
	}
}

func TestAccessWarnings(t *testing.T) {
	const (
		bpfPerfmon = uint64(1<<38 | 1<<39)
		all        = uint64(1<<41 - 1)
	)
	_, zero := ParseKallsyms(strings.NewReader("0000000000000000 T _stext\n0000000000000000 t do_syscall_64\n"))
	if zero == nil {
		t.Fatal("an all-zero kallsyms parsed")
	}
	for _, tc := range []struct {
		name      string
		kernelErr error
		capEff    uint64
		denied    int
		lines     int
		want      []string // substrings of the warnings
	}{
		{"root", nil, all, 0, 0, nil},
		{"zero kallsyms, no CAP_SYSLOG", zero, bpfPerfmon, 0, 1, []string{"kernel frames", "CAP_SYSLOG"}},
		{"other users' processes", nil, bpfPerfmon, 3, 1, []string{"3 processes of other users", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"}},
		{"both", zero, bpfPerfmon, 1, 2, []string{"CAP_SYSLOG", "CAP_SYS_PTRACE"}},
		{"ptrace but not DAC", nil, bpfPerfmon | 1<<19, 1, 1, []string{"add CAP_DAC_READ_SEARCH"}},
	} {
		got := AccessWarnings(tc.kernelErr, tc.capEff, tc.denied)
		all := strings.Join(got, "\n")
		if len(got) != tc.lines || strings.Count(all, "\n") != max(tc.lines-1, 0) {
			t.Errorf("%s: %q, want %d lines", tc.name, got, tc.lines)
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
	if got := AccessWarnings(nil, bpfPerfmon|1<<19, 1); strings.Contains(got[0], "CAP_SYS_PTRACE") {
		t.Errorf("names CAP_SYS_PTRACE, which it has: %q", got)
	}
}
