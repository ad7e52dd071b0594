package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/emberprof/ember/internal/bpfenv"
	"github.com/emberprof/ember/internal/sample"
)

func TestCapturesSortsOutcomes(t *testing.T) {
	var c Captures
	c.note(1, nil)
	c.note(2, fmt.Errorf("open maps: %w", fs.ErrNotExist))
	c.note(3, syscall.ESRCH)
	c.note(4, fs.ErrPermission)
	c.note(5, errors.New("too many open files"))
	c.note(6, errors.New("second"))
	if c.OK != 1 || c.Gone != 2 || c.Denied != 1 || c.Failed != 2 {
		t.Errorf("captures %+v", c)
	}
	if c.FirstError == nil || c.FirstError.Error() != "process 5: too many open files" {
		t.Errorf("first error %v, want process 5's", c.FirstError)
	}
}

func TestReportLosses(t *testing.T) {
	w := LossWords{Stacks: "S %d%s", Counts: "C %d"}
	var b bytes.Buffer
	ReportLosses(&b, w, sample.Losses{})
	if b.Len() != 0 {
		t.Errorf("no losses printed %q", b.String())
	}
	ReportLosses(&b, w, sample.Losses{KernelStackErrors: 1, StackMapFull: 2, CountMapFull: 3})
	if want := "S 3 Consider increasing --stack-storage-size.\nC 3\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}

func TestExitStatus(t *testing.T) {
	flags := map[string]string{"stacks": "--stack-storage-size"}
	for _, tt := range []struct {
		err  error
		code int
		want string
	}{
		{nil, 0, ""},
		{context.Canceled, 1, "x: interrupted while loading the BPF program: nothing was collected\n"},
		{errors.New("boom"), 1, "x: boom\n"},
		{&bpfenv.MemoryError{Map: "stacks", Entries: 9, Bytes: 1 << 30, Limit: 1 << 20, MaxEntries: 3}, 2, "x: --stack-storage-size 9 needs"},
		{&bpfenv.MemoryError{Map: "other", Entries: 9}, 1, "x: "},
	} {
		var b bytes.Buffer
		if got := ExitStatus("x", tt.err, flags, &b); got != tt.code || !bytes.HasPrefix(b.Bytes(), []byte(tt.want)) || (tt.want == "" && b.Len() > 0) {
			t.Errorf("ExitStatus(%v) = %d, %q; want %d, %q", tt.err, got, b.String(), tt.code, tt.want)
		}
	}
}

func TestMergeSumsSameTaskAndStacks(t *testing.T) {
	st := func(pcs ...uint64) sample.Stack { return sample.Stack{PCs: pcs, State: sample.StackOK} }
	recs := []sample.Record{
		{TGID: 1, TID: 1, Comm: "a", Kernel: st(1, 2), User: st(3), Count: 1, Nanos: 10},
		{TGID: 1, TID: 1, Comm: "a", Kernel: st(1), User: st(2, 3), Count: 1, Nanos: 10},
		{TGID: 1, TID: 1, Comm: "a", Kernel: st(1, 2), User: st(3), Count: 2, Nanos: 20},
		{TGID: 1, TID: 2, Comm: "a", Kernel: st(1, 2), User: st(3), Count: 1, Nanos: 10},
		{TGID: 1, TID: 1, Comm: "a", Kernel: st(1, 2), User: sample.Stack{State: sample.StackMissed}, Count: 1, Nanos: 10},
	}
	got := Merge(recs)
	if len(got) != 4 || got[0].Count != 3 || got[0].Nanos != 30 || got[1].Count != 1 || got[3].User.State != sample.StackMissed {
		t.Errorf("Merge gave %+v", got)
	}
}
