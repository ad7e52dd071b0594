package interrupt

import (
	"io"
	"syscall"
	"testing"
	"time"
)

func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s not done 5s after the signal", what)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestSecondSignalCancels sends real signals to the test process: the first
// ends collection only, the second cancels symbolization.
func TestSecondSignalCancels(t *testing.T) {
	w := Start("test", io.Discard)
	defer w.Stop()
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	waitClosed(t, "collection", w.Collecting().Done())
	time.Sleep(50 * time.Millisecond)
	if closed(w.Cancel()) {
		t.Fatal("the first signal cancelled symbolization too")
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	waitClosed(t, "symbolization", w.Cancel())
}

// TestSignalAfterDuration: when collection ended by itself (its duration ran
// out), the first signal cancels symbolization.
func TestSignalAfterDuration(t *testing.T) {
	w := Start("test", io.Discard)
	defer w.Stop()
	w.EndCollection()
	syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	waitClosed(t, "symbolization", w.Cancel())
}
