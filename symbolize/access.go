package symbolize

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/emberprof/ember/internal/untrusted"
)

// ErrKallsymsZero is returned for a kallsyms listing whose addresses all
// read as zero, which is what kernel.kptr_restrict shows a reader without
// CAP_SYSLOG.
var ErrKallsymsZero = errors.New("all kernel symbol addresses are zero")

// Capability bits, from linux/capability.h.
const (
	capDACOverride   = 1
	capDACReadSearch = 2
	capSysPtrace     = 19
	capSyslog        = 34
)

// CapEff returns the effective capability set from the text of a
// /proc/PID/status file.
func CapEff(status string) (uint64, bool) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			c, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return c, err == nil
		}
	}
	return 0, false
}

// AccessWarnings says, one line each, which frames a run shows as [unknown]
// for lack of privilege, and the capability that would name them: kernelErr
// is what reading the kernel's symbols gave (nil when they were read or not
// needed), capEff the effective capabilities, denied how many processes
// could not be read (their maps or files refused).
func AccessWarnings(kernelErr error, capEff uint64, denied int) []string {
	var out []string
	has := func(c uint) bool { return capEff&(1<<c) != 0 }
	switch {
	case kernelErr == nil:
	case errors.Is(kernelErr, ErrKallsymsZero) && !has(capSyslog):
		out = append(out, "WARNING: kernel frames are [unknown]: /proc/kallsyms shows zero addresses without CAP_SYSLOG (run as root, add CAP_SYSLOG, or set kernel.kptr_restrict=0 and kernel.perf_event_paranoid=1)")
	case errors.Is(kernelErr, fs.ErrPermission):
		out = append(out, fmt.Sprintf("WARNING: kernel frames are [unknown]: %v (run as root)", kernelErr))
	default:
		out = append(out, fmt.Sprintf("WARNING: kernel frames are [unknown]: %v", kernelErr))
	}
	if denied > 0 {
		var need []string
		if !has(capSysPtrace) {
			need = append(need, "CAP_SYS_PTRACE for their /proc/PID/maps and root")
		}
		if !has(capDACReadSearch) && !has(capDACOverride) {
			need = append(need, "CAP_DAC_READ_SEARCH for binaries you cannot read")
		}
		hint := "run as root"
		if len(need) > 0 {
			hint = "add " + strings.Join(need, ", and ")
		}
		out = append(out, fmt.Sprintf("WARNING: frames of %d processes of other users are [unknown]: permission denied (%s)", denied, hint))
	}
	return out
}

// Warnings returns AccessWarnings for what this Symbolizer met; kernel says
// whether kernel stacks were taken.
func (s *Symbolizer) Warnings(kernel bool) []string {
	var kerr error
	if kernel {
		_, kerr = s.kernelSymbols()
	}
	var capEff uint64
	if b, err := untrusted.ReadFile("/proc/self/status", 1<<20); err == nil {
		capEff, _ = CapEff(string(b))
	}
	s.mu.Lock()
	denied := len(s.denied) + s.gone.deniedDropped
	s.mu.Unlock()
	return AccessWarnings(kerr, capEff, denied)
}

// noteDenied records pid as unreadable for lack of privilege if err, or
// the error of any of its mappings, says so.
func (s *Symbolizer) noteDenied(pid uint32, p *Process, err error) {
	denied := errors.Is(err, fs.ErrPermission)
	if p != nil {
		for _, m := range p.Mappings {
			denied = denied || errors.Is(m.err, fs.ErrPermission)
		}
	}
	if denied {
		s.mu.Lock()
		s.denied[pid] = true
		s.mu.Unlock()
	}
}

// deniedPIDs lists the processes noteDenied recorded, for tests.
func (s *Symbolizer) deniedPIDs() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint32
	for p := range s.denied {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
