package web

import (
	"fmt"
	"io"
	"time"

	"github.com/google/pprof/profile"
)

// LiveInterval is how often a live view gets the samples collected since
// the last: the page polls as often.
const LiveInterval = 2 * time.Second

// Live serves one profile that grows while it is collected: a collecting
// command hands it each interval's profile (collect.Job.Each).
type Live struct {
	s      *Server
	id     int
	run    *Running
	name   string
	stderr io.Writer
	warned bool
}

// StartLive starts serving an empty live profile on addr (see ListenAddr)
// and prints its URL on stderr, prefixed by the command's name.
func StartLive(addr, name string, stderr io.Writer) (*Live, error) {
	s := New()
	id := s.Add(name, nil)
	s.SetLive(id, true)
	run, err := Start(addr, s)
	if err != nil {
		return nil, err
	}
	Announce(stderr, name, run, "live while collecting")
	return &Live{s: s, id: id, run: run, name: name, stderr: stderr}, nil
}

// URL is the page's address.
func (l *Live) URL() string { return l.run.URL }

// Each merges one interval's profile into the one served; it is called
// from one goroutine at a time.
func (l *Live) Each(p *profile.Profile) {
	if err := l.s.Merge(l.id, p); err != nil && !l.warned {
		// The next interval may merge again; one warning is enough.
		l.warned = true
		fmt.Fprintf(l.stderr, "%s: live view: %v\n", l.name, err)
	}
}

// Done marks collection over; the final profile stays served.
func (l *Live) Done() { l.s.SetLive(l.id, false) }

// Close stops serving.
func (l *Live) Close() error { return l.run.Close() }

// ServeUntil marks collection over and keeps serving the final profile
// until done is closed (the next Ctrl-C).
func (l *Live) ServeUntil(done <-chan struct{}) {
	l.Done()
	fmt.Fprintf(l.stderr, "%s: collection ended; serving the final profile at %s until Ctrl-C\n", l.name, l.run.URL)
	<-done
}
