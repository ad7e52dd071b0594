// Package bpfenv checks that this machine can load ember's BPF programs,
// turns the kernel's refusals into one-line messages that say what to do,
// and switches on the kernel's accounting of BPF run time.
package bpfenv

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BTFPath is where the kernel exposes its own type information.
const BTFPath = "/sys/kernel/btf/vmlinux"

// ErrUnavailable marks errors that mean BPF cannot be used here at all, as
// opposed to a bug or bad input.
var ErrUnavailable = errors.New("BPF unavailable")

// Check reports why BPF programs cannot be loaded here, or nil.
func Check() error {
	if _, err := os.Stat(BTFPath); err != nil {
		return fmt.Errorf("%w: kernel BTF not found at %s: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8+)", ErrUnavailable, BTFPath)
	}
	if !hasCaps() {
		return fmt.Errorf("%w: need root or CAP_BPF and CAP_PERFMON: run with sudo", ErrUnavailable)
	}
	return nil
}

func hasCaps() bool {
	if os.Geteuid() == 0 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(unix.CAP_BPF) && has(unix.CAP_PERFMON) || has(unix.CAP_SYS_ADMIN)
}

// Explain wraps an error from loading or attaching with the likely fix. what
// names the object, e.g. "load sampler".
func Explain(what string, err error) error {
	var ve *ebpf.VerifierError
	switch {
	case errors.As(err, &ve):
		return fmt.Errorf("%s: BPF verifier rejected the program (kernel too old or unsupported?): %+v", what, ve)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s: permission denied: run as root or grant CAP_BPF and CAP_PERFMON (and check kernel.perf_event_paranoid)", ErrUnavailable, what)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: %s: this kernel has no bpf() system call", ErrUnavailable, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// EnableStats makes the kernel account BPF programs' run time until the
// returned closer is closed (scoped, unlike the kernel.bpf_stats_enabled
// sysctl).
func EnableStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		return nil, fmt.Errorf("enable BPF run-time stats: %w", err)
	}
	return c, nil
}

// SetVariables sets a program's const volatile variables before it is loaded.
func SetVariables(spec *ebpf.CollectionSpec, vars map[string]any) error {
	for name, v := range vars {
		sv, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("set %s: no such variable in the BPF object", name)
		}
		if err := sv.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}
