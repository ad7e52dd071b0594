// Package bpfenv checks that this machine can load ember's BPF programs,
// turns the kernel's refusals into one-line messages that say what to do,
// and switches on the kernel's accounting of BPF run time.
package bpfenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// BTFPath is where the kernel exposes its own type information.
const BTFPath = "/sys/kernel/btf/vmlinux"

// ErrUnavailable marks errors that mean BPF cannot be used here at all, as
// opposed to a bug or bad input.
var ErrUnavailable = errors.New("BPF unavailable")

// Check reports why BPF programs cannot be loaded here, or nil.
func Check() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		if err := CheckKernel(unix.ByteSliceToString(u.Release[:])); err != nil {
			return err
		}
	}
	if err := CheckBTF(BTFPath); err != nil {
		return err
	}
	if !hasCaps() {
		return fmt.Errorf("%w: need root or CAP_BPF and CAP_PERFMON: run with sudo", ErrUnavailable)
	}
	return nil
}

// MinKernel is the oldest kernel the programs load on: the DWARF walker
// needs bpf_loop (5.17) and bpf_task_pt_regs (5.15).
const MinKernel = "5.17"

// CheckKernel refuses a kernel release (uname -r) older than MinKernel, so
// that an old kernel gets one line naming the version rather than a
// verifier log.
func CheckKernel(release string) error {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return nil // an unknown scheme: let the load decide
	}
	if major < 5 || major == 5 && minor < 17 {
		return fmt.Errorf("%w: kernel %s is older than Linux %s, the oldest ember's BPF programs load on: upgrade the kernel", ErrUnavailable, release, MinKernel)
	}
	return nil
}

// CheckBTF reports, naming BTF and the fix, that the kernel's type
// information is not at path (BTFPath): the programs attach to BTF
// tracepoints and read kernel structures through it.
func CheckBTF(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: kernel BTF (BPF type information) not found at %s: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8+; most distributions' kernels are)", ErrUnavailable, path)
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
	case errors.Is(err, btf.ErrNotFound):
		return fmt.Errorf("%w: %s: the kernel's BTF (%s) lacks what the program needs: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8+): %v", ErrUnavailable, what, BTFPath, err)
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

// Cancellable runs open, which loads and attaches BPF objects, and returns
// its result, or ctx's error as soon as ctx ends: the kernel's load of a
// large map is one system call that a signal does not interrupt. What open
// returns after that is closed with closeFn once it returns; a process that
// exits instead releases it with its file descriptors.
func Cancellable[T any](ctx context.Context, open func() (*T, error), closeFn func(*T) error) (*T, error) {
	type result struct {
		v   *T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.v != nil {
				closeFn(r.v)
			}
		}()
		return nil, ctx.Err()
	}
}
