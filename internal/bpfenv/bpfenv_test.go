package bpfenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// TestCheckBTF: without kernel BTF, the message names BTF, the path and the
// fix, and marks BPF unavailable.
func TestCheckBTF(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "vmlinux"), dir} {
		err := CheckBTF(path)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "BTF") ||
			!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO_BTF=y") {
			t.Errorf("CheckBTF(%s) = %v", path, err)
		}
	}
	present := filepath.Join(dir, "present")
	os.WriteFile(present, []byte("BTF"), 0o644)
	if err := CheckBTF(present); err != nil {
		t.Errorf("CheckBTF(a file) = %v", err)
	}
	// A loader's "BTF not found" is explained the same way.
	err := Explain("load sampler", fmt.Errorf("attach: %w", btf.ErrNotFound))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), BTFPath) {
		t.Errorf("Explain(btf.ErrNotFound) = %v", err)
	}
}

func writeMeminfo(t *testing.T, availKB uint64) string {
	path := filepath.Join(t.TempDir(), "meminfo")
	os.WriteFile(path, []byte(fmt.Sprintf("MemTotal:       32000000 kB\nMemFree:         1000000 kB\nMemAvailable:   %8d kB\n", availKB)), 0o644)
	return path
}

// TestCheckMemory: a stack map of 16777216 entries of 127 frames needs about
// 17 GiB and is refused on a machine with 24 GiB available; the default size
// is not; the message gives the bytes, the limit and a size that fits.
func TestCheckMemory(t *testing.T) {
	spec := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"stacks": {Type: ebpf.Hash, KeySize: 8, ValueSize: 127 * 8, MaxEntries: 16384},
		"counts": {Type: ebpf.Hash, KeySize: 48, ValueSize: 8, MaxEntries: 40960},
	}}
	meminfo := writeMeminfo(t, 24<<20) // 24 GiB
	if err := CheckMemory(spec, meminfo, "stacks", "counts"); err != nil {
		t.Errorf("default sizes: %v", err)
	}
	spec.Maps["stacks"].MaxEntries = 1 << 24
	if b := MapBytes(spec.Maps["stacks"]); b < 17<<30 || b > 18<<30 {
		t.Errorf("stacks of 2^24 entries: %d bytes, want about 17 GiB", b)
	}
	err := CheckMemory(spec, meminfo, "stacks", "counts")
	var me *MemoryError
	if !errors.As(err, &me) || me.Map != "stacks" || me.Limit != 12<<30 || me.MaxEntries == 0 || me.MaxEntries >= 1<<24 {
		t.Fatalf("2^24 stacks: %v (%+v)", err, me)
	}
	if !strings.Contains(err.Error(), "12.0 GiB") || !strings.Contains(err.Error(), "GiB of kernel memory") {
		t.Errorf("message %q", err)
	}
	// The suggested size fits.
	spec.Maps["stacks"].MaxEntries = me.MaxEntries
	if err := CheckMemory(spec, meminfo, "stacks", "counts"); err != nil {
		t.Errorf("suggested size %d: %v", me.MaxEntries, err)
	}
	// The hash map too.
	spec.Maps["counts"].MaxEntries = 1 << 24
	spec.Maps["stacks"].MaxEntries = 16384
	if err := CheckMemory(spec, writeMeminfo(t, 1<<20), "stacks", "counts"); !errors.As(err, &me) || me.Map != "counts" {
		t.Errorf("2^24 counts on 1 GiB: %v", err)
	}
	// Unreadable meminfo: nothing refused.
	if err := CheckMemory(spec, filepath.Join(t.TempDir(), "none"), "stacks", "counts"); err != nil {
		t.Errorf("no meminfo: %v", err)
	}
}

func TestMemAvailable(t *testing.T) {
	if b, err := MemAvailable(writeMeminfo(t, 1234)); err != nil || b != 1234<<10 {
		t.Errorf("MemAvailable = %d, %v", b, err)
	}
	if b, err := MemAvailable(MeminfoPath); err != nil || b == 0 {
		t.Errorf("MemAvailable(%s) = %d, %v", MeminfoPath, b, err)
	}
}

// TestCancellable: an open that the kernel keeps busy is given up as soon as
// ctx ends, and what it returns later is closed.
func TestCancellable(t *testing.T) {
	release := make(chan struct{})
	closed := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	v, err := Cancellable(ctx, func() (*int, error) {
		<-release // a load that takes as long as the test wants
		n := 42
		return &n, nil
	}, func(n *int) error { closed <- *n; return nil })
	if v != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, %v; want context.Canceled", v, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("returned %v after the cancel", d)
	}
	close(release)
	select {
	case n := <-closed:
		if n != 42 {
			t.Errorf("closed %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("the late result was never closed")
	}
	// Not cancelled: the result is returned.
	v, err = Cancellable(context.Background(), func() (*int, error) { n := 7; return &n, nil }, func(*int) error { return nil })
	if err != nil || *v != 7 {
		t.Errorf("got %v, %v", v, err)
	}
}

func TestCheckKernel(t *testing.T) {
	for _, tc := range []struct {
		release string
		ok      bool
	}{
		{"6.18.44-fc-v1252", true}, {"5.17.0", true}, {"5.16.20-generic", false},
		{"4.19.0-26-amd64", false}, {"6.1.0-13-amd64", true}, {"weird", true},
	} {
		err := CheckKernel(tc.release)
		if (err == nil) != tc.ok {
			t.Errorf("CheckKernel(%q) = %v, want ok=%v", tc.release, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.release)) {
			t.Errorf("CheckKernel(%q) = %v: want ErrUnavailable naming the release", tc.release, err)
		}
	}
}
