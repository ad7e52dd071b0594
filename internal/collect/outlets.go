package collect

import (
	"errors"
	"io"
	"time"

	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/push"
	"github.com/emberprof/ember/web"
)

// Outlets are the options that send each interval's profile somewhere
// besides the command's output: --push to a server, --http to a live page.
type Outlets struct {
	push *push.Flags
	http *string
}

// DefineOutlets adds --http and the --push options to fs.
func DefineOutlets(fs *getopt.Set) *Outlets {
	return &Outlets{
		http: fs.String(0, "http", "ADDR", "", "serve a live web view of the profile on ADDR (:8080 is localhost only) while collecting, and the final profile after, until Ctrl-C"),
		push: push.DefineFlags(fs),
	}
}

// Outlet is what the outlet options chose.
type Outlet struct {
	push        *push.Config
	every       time.Duration
	http        string
	outputAsked bool
}

// Parse checks the options, as usage errors: name is the pushed profile
// type, service the default service_name, outputAsked whether -o, -f or
// --format asks for the final profile too.
func (o *Outlets) Parse(name, service string, outputAsked bool) (Outlet, error) {
	out := Outlet{http: *o.http, outputAsked: outputAsked}
	if o.push.Enabled() {
		var err error
		if out.every, err = o.push.Interval(); err != nil {
			return Outlet{}, UsageError{err}
		}
		pc, err := o.push.Config(name, service)
		if err != nil {
			return Outlet{}, UsageError{err}
		}
		out.push = &pc
	}
	if out.http != "" {
		if out.push != nil {
			return Outlet{}, UsageError{errors.New("--push and --http cannot be used together: push to a server, or serve a local view")}
		}
		if _, err := web.ListenAddr(out.http); err != nil {
			return Outlet{}, UsageError{err}
		}
	}
	return out, nil
}

// Flow is a started outlet.
type Flow struct {
	pusher *push.Pusher
	live   *web.Live
	stderr io.Writer
}

// Start sets job up to feed the outlet (tool names the live page); Close
// the returned Flow once Run has returned.
func (o Outlet) Start(job *Job, tool string, stderr io.Writer) (*Flow, error) {
	f := &Flow{stderr: stderr}
	switch {
	case o.push != nil:
		cfg := *o.push
		cfg.Log = stderr
		p, err := push.New(cfg)
		if err != nil {
			return nil, err
		}
		f.pusher = p
		job.Each, job.EachInterval, job.Forget = p.Push, o.every, true
		job.NoOutput = !o.outputAsked
	case o.http != "":
		live, err := web.StartLive(o.http, tool, stderr)
		if err != nil {
			return nil, err
		}
		f.live = live
		job.Each, job.EachInterval = live.Each, web.LiveInterval
	}
	return f, nil
}

// Serve keeps serving the final profile of a live view until done closes.
func (f *Flow) Serve(done <-chan struct{}) {
	if f.live != nil {
		f.live.ServeUntil(done)
	}
}

// Close gives waiting pushes up to 10 s to reach the server and reports
// them, or stops the live page.
func (f *Flow) Close() {
	switch {
	case f.pusher != nil:
		f.pusher.Finish(10*time.Second, f.stderr)
	case f.live != nil:
		f.live.Close()
	}
}

// HTTP is the --http address, or "" for none.
func (o Outlet) HTTP() string { return o.http }
