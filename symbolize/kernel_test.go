package symbolize

import (
	"strings"
	"testing"
)

const kallsymsSample = `ffffffff81000000 T _stext
ffffffff81000000 t startup_64
ffffffff81001000 T do_syscall_64
ffffffff81002000 D some_data
ffffffff81003000 t helper
ffffffffc0201000 t mod_func	[e1000]
`

func TestParseKallsyms(t *testing.T) {
	k, err := ParseKallsyms(strings.NewReader(kallsymsSample))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr         uint64
		name, module string
		ok           bool
	}{
		{0xffffffff80ffffff, "", "", false},
		{0xffffffff81000000, "_stext", "", true},
		{0xffffffff81000fff, "_stext", "", true},
		{0xffffffff81001010, "do_syscall_64", "", true},
		// Data symbols are not code, so the preceding function covers it.
		{0xffffffff81002010, "do_syscall_64", "", true},
		{0xffffffff81003001, "helper", "", true},
		{0xffffffffc0201234, "mod_func", "e1000", true},
	}
	for _, tt := range tests {
		name, module, ok := k.Lookup(tt.addr)
		if name != tt.name || module != tt.module || ok != tt.ok {
			t.Errorf("Lookup(%#x) = %q, %q, %v; want %q, %q, %v", tt.addr, name, module, ok, tt.name, tt.module, tt.ok)
		}
	}
}

func TestParseKallsymsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"hidden":    "0000000000000000 T _stext\n0000000000000000 T do_exit\n",
		"malformed": "ffffffff81000000T_stext\n",
		"bad addr":  "zzzz T x\n",
	} {
		if _, err := ParseKallsyms(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOpenKernelLive(t *testing.T) {
	k, err := OpenKernel()
	if err != nil {
		t.Skipf("no readable kallsyms: %v", err)
	}
	if len(k.syms) < 1000 {
		t.Fatalf("only %d kernel text symbols", len(k.syms))
	}
}
