package symbolize

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/emberprof/ember/internal/untrusted"
)

// KallsymsPath is where the kernel lists its symbols.
const KallsymsPath = "/proc/kallsyms"

// Kernel resolves kernel addresses to function names from a kallsyms listing.
type Kernel struct {
	syms []ksym
}

type ksym struct {
	addr   uint64
	name   string
	module string
	global bool
}

// OpenKernel reads the running kernel's symbols from /proc/kallsyms.
func OpenKernel() (*Kernel, error) {
	f, err := untrusted.Open(KallsymsPath)
	if err != nil {
		return nil, fmt.Errorf("read kernel symbols: %w", err)
	}
	defer f.Close()
	k, err := ParseKallsyms(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", KallsymsPath, err)
	}
	return k, nil
}

// ParseKallsyms reads a kallsyms listing ("ADDR TYPE NAME [MODULE]" lines).
// Only text symbols are kept, since only code addresses are looked up.
func ParseKallsyms(r io.Reader) (*Kernel, error) {
	k := &Kernel{syms: make([]ksym, 0, 1<<17)}
	// Real listings are 10-30 MiB.
	sc := bufio.NewScanner(untrusted.Reader(r, 256<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	nonzero := false
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		addrField, rest, ok := bytes.Cut(b, []byte{' '})
		if !ok || len(rest) < 3 || rest[1] != ' ' {
			return nil, fmt.Errorf("line %d: malformed %q", line, b)
		}
		typ := rest[0]
		switch typ {
		case 't', 'T', 'w', 'W':
		default:
			continue
		}
		addr, err := strconv.ParseUint(string(addrField), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: bad address %q", line, addrField)
		}
		if addr != 0 {
			nonzero = true
		}
		name, module, _ := bytes.Cut(rest[2:], []byte{'\t'})
		module = bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(module), []byte{'['}), []byte{']'})
		k.syms = append(k.syms, ksym{addr: addr, name: string(name), module: string(module), global: typ == 'T' || typ == 'W'})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.syms) > 0 && !nonzero {
		return nil, fmt.Errorf("%w: run as root or set kernel.kptr_restrict=0", ErrKallsymsZero)
	}
	// Sort by address; where several symbols share one, a global one wins,
	// then the first listed, so names are stable.
	sort.SliceStable(k.syms, func(i, j int) bool {
		a, b := &k.syms[i], &k.syms[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		return a.global && !b.global
	})
	out := k.syms[:0]
	for i, s := range k.syms {
		if i > 0 && s.addr == out[len(out)-1].addr {
			continue
		}
		out = append(out, s)
	}
	k.syms = out
	return k, nil
}

// Lookup returns the function containing addr and its module ("" for the
// kernel image itself).
func (k *Kernel) Lookup(addr uint64) (name, module string, ok bool) {
	i := sort.Search(len(k.syms), func(i int) bool { return k.syms[i].addr > addr }) - 1
	if i < 0 {
		return "", "", false
	}
	s := k.syms[i]
	return s.name, s.module, true
}

// Start returns the lowest kernel text address known.
func (k *Kernel) Start() uint64 {
	if len(k.syms) == 0 {
		return 0
	}
	return k.syms[0].addr
}
