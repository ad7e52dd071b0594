// Package interrupt routes SIGINT and SIGTERM for the collecting commands:
// the first signal ends collection, one that comes after collection has
// ended cancels symbolization so that what is ready is written at once, and
// one more exits at once.
package interrupt

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Watch routes the signals until Stop.
type Watch struct {
	collect   context.Context
	end       context.CancelFunc
	cancel    chan struct{}
	cancelled sync.Once
	sigs      chan os.Signal
	done      chan struct{}
}

// Start catches SIGINT and SIGTERM; name and stderr are for the message
// printed before a forced exit.
func Start(name string, stderr io.Writer) *Watch {
	w := &Watch{cancel: make(chan struct{}), sigs: make(chan os.Signal, 4), done: make(chan struct{})}
	w.collect, w.end = context.WithCancel(context.Background())
	signal.Notify(w.sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		n := 0
		for {
			select {
			case <-w.done:
				return
			case <-w.sigs:
			}
			switch {
			case w.collect.Err() == nil:
				w.end()
			case n == 0:
				n++
				w.cancelled.Do(func() { close(w.cancel) })
			default:
				fmt.Fprintf(stderr, "%s: interrupted again; exiting without output\n", name)
				os.Exit(1)
			}
		}
	}()
	return w
}

// Collecting is the context of collection: done at the first signal or at
// EndCollection.
func (w *Watch) Collecting() context.Context { return w.collect }

// EndCollection marks collection over (its duration ran out), so that the
// next signal cancels symbolization.
func (w *Watch) EndCollection() { w.end() }

// Cancel is closed by a signal that comes after collection has ended.
func (w *Watch) Cancel() <-chan struct{} { return w.cancel }

// Stop stops catching the signals.
func (w *Watch) Stop() {
	signal.Stop(w.sigs)
	close(w.done)
	w.end()
}
