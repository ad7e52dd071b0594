package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/untrusted/untrustedtest"
)

// TestHostileDebugLink runs symbolize -e on a binary whose debug link names
// a FIFO or a symlink to /dev/zero: it used to hang; now it must answer from
// the symbol table.
func TestHostileDebugLink(t *testing.T) {
	for _, kind := range []string{untrustedtest.FIFO, untrustedtest.Zero} {
		t.Run(kind, func(t *testing.T) {
			bin := untrustedtest.EvilBinary(t, "../../testdata/spin/spin.c", kind)
			args := []string{"-f", "-e", bin, fmt.Sprintf("%#x", symAddr(t, bin, "spin_c"))}
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				var out, errb bytes.Buffer
				code := run(args, strings.NewReader(""), &out, &errb)
				done <- result{code, out.String(), errb.String()}
			}()
			select {
			case r := <-done:
				if r.code != 0 || !strings.HasPrefix(r.out, "spin_c\n") {
					t.Errorf("symbolize %q = %d, stdout %q, stderr %q; want 0 and spin_c", args, r.code, r.out, r.err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("symbolize %q did not finish in 20s", args)
			}
		})
	}
}
