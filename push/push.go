// Package push sends the profile of each collection interval to a Grafana
// Pyroscope server through its Connect push API (push.v1.PusherService/Push,
// JSON over plain HTTP, so no generated client is needed). Profiles wait in
// a bounded queue that a slow or absent server can fill but never block:
// when it is full the oldest interval is dropped, and every interval
// dropped, retried or refused is counted and reported.
package push

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// Config says where and how to push.
type Config struct {
	// URL is the server's base URL, http://host:port or https://host:port.
	URL string
	// Name is the profile type's name (__name__): process_cpu, offcpu.
	Name string
	// Labels are the series labels: service_name, host, and the user's.
	Labels map[string]string
	// Queue is how many intervals wait while the server is slow or down,
	// besides the one being sent (default 8); the oldest is dropped when
	// one more comes.
	Queue int
	// Token, if set, is sent as a bearer token; User and Password, if set,
	// as basic authentication.
	Token, User, Password string
	// Timeout bounds each request (default 10 s).
	Timeout time.Duration
	// Log gets one line per interval dropped, retried or refused.
	Log io.Writer
	// Client sends the requests (default: a client with Timeout).
	Client *http.Client
}

// Stats counts what happened to the intervals given to Push.
type Stats struct {
	// Pushed were accepted by the server, in Bytes of request bodies.
	Pushed int
	Bytes  int64
	// Retries counts failed attempts that were tried again (the server
	// unreachable or failing with 5xx).
	Retries int
	// Dropped intervals never reached the server: the queue was full, or
	// the run ended before the server came back. Refused were rejected by
	// the server (4xx), which retrying would not change.
	Dropped, Refused int
	// DroppedNanos is the time (CPU or blocked) the dropped and refused
	// intervals held: what the server is missing.
	DroppedNanos int64
}

// Pusher pushes profiles from its queue until Close.
type Pusher struct {
	cfg    Config
	name   string
	labels []label
	client *http.Client

	mu       sync.Mutex
	queue    []*profile.Profile // waiting, oldest first
	inflight *profile.Profile   // being sent, or retried
	closing  bool
	wake     chan struct{}
	stats    Stats

	done   chan struct{}
	cancel context.CancelFunc
	ctx    context.Context
}

type label struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// labelName is what Pyroscope accepts as a label name.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// New checks cfg and starts the pusher.
func New(cfg Config) (*Pusher, error) {
	if err := checkURL(cfg.URL); err != nil {
		return nil, err
	}
	if !labelName.MatchString(cfg.Name) {
		return nil, fmt.Errorf("profile name %q: use letters, digits and _", cfg.Name)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	p := &Pusher{cfg: cfg, client: cfg.Client, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if p.client == nil {
		p.client = &http.Client{Timeout: cfg.Timeout}
	}
	p.labels = append(p.labels, label{"__name__", cfg.Name})
	keys := make([]string, 0, len(cfg.Labels))
	for k := range cfg.Labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return nil, fmt.Errorf("label %q: use letters, digits and _, not starting with __", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.labels = append(p.labels, label{k, cfg.Labels[k]})
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("push URL %q: give the server's base URL, e.g. http://localhost:4040", s)
	}
	return nil
}

// Push queues the profile of one interval; it never waits.
func (p *Pusher) Push(prof *profile.Profile) {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	if len(p.queue) == p.cfg.Queue {
		p.stats.Dropped++
		p.stats.DroppedNanos += nanos(p.queue[0])
		p.queue = p.queue[1:]
		fmt.Fprintf(p.cfg.Log, "push: the oldest interval was dropped: %d intervals waited for %s (--push-queue)\n", p.cfg.Queue, p.cfg.URL)
	}
	p.queue = append(p.queue, prof)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Close stops taking profiles, pushes what waits until ctx ends (what is
// left then is dropped), and returns the counts.
func (p *Pusher) Close(ctx context.Context) Stats {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		<-p.done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Dropped += len(p.queue)
	for _, q := range p.queue {
		p.stats.DroppedNanos += nanos(q)
	}
	if p.inflight != nil {
		p.stats.Dropped++
		p.stats.DroppedNanos += nanos(p.inflight)
	}
	p.queue, p.inflight = nil, nil
	return p.stats
}

// run pushes the queue's head until it is accepted or refused, backing off
// while the server fails.
func (p *Pusher) run() {
	defer close(p.done)
	backoff := 500 * time.Millisecond
	// The head's request body, encoded once however often it is retried.
	var body []byte
	var bodyOf *profile.Profile
	for {
		p.mu.Lock()
		if p.inflight == nil && len(p.queue) > 0 {
			p.inflight, p.queue = p.queue[0], p.queue[1:]
		}
		head := p.inflight
		if head == nil {
			closing := p.closing
			p.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-p.wake:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		p.mu.Unlock()

		var err error
		if bodyOf != head {
			body, err = encode(p.labels, head)
			bodyOf = head
		}
		if err == nil {
			err = p.send(body)
		}
		p.mu.Lock()
		var refused *RefusedError
		switch {
		case err == nil:
			p.stats.Pushed++
			p.stats.Bytes += int64(len(body))
			p.inflight = nil
			backoff = 500 * time.Millisecond
		case errors.As(err, &refused):
			p.stats.Refused++
			p.stats.DroppedNanos += nanos(head)
			p.inflight = nil
			fmt.Fprintf(p.cfg.Log, "push: %s refused an interval: %v\n", p.cfg.URL, err)
		default:
			p.stats.Retries++
			fmt.Fprintf(p.cfg.Log, "push: %v; retrying in %v\n", err, backoff)
		}
		p.mu.Unlock()
		if err != nil && refused == nil {
			select {
			case <-time.After(backoff):
			case <-p.ctx.Done():
				return
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// RefusedError is the server's 4xx answer, with its message, or an
// interval that could not be encoded (Status 0).
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	if e.Status == 0 { // refused before sending
		return e.Message
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// send pushes one request body.
func (p *Pusher) send(body []byte) error {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, strings.TrimRight(p.cfg.URL, "/")+"/push.v1.PusherService/Push", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case p.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+p.cfg.Token)
	case p.cfg.User != "":
		req.SetBasicAuth(p.cfg.User, p.cfg.Password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("push to %s: %w", p.cfg.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests:
		return &RefusedError{Status: resp.StatusCode, Message: serverMessage(msg)}
	}
	return fmt.Errorf("push to %s: HTTP %d: %s", p.cfg.URL, resp.StatusCode, serverMessage(msg))
}

// serverMessage is a Connect error's message, or the body, on one line.
func serverMessage(b []byte) string {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	s := string(b)
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		s = e.Code + ": " + e.Message
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	q := strconv.QuoteToGraphic(s) // a hostile server's control characters
	return q[1 : len(q)-1]
}

// encode is the JSON push request for one profile under the series
// labels: the pprof, gzipped, with each sample's pid (and comm) as string
// labels, which the server splits into a series per process.
func encode(labels []label, prof *profile.Profile) ([]byte, error) {
	prof = forPush(prof)
	var pb bytes.Buffer
	if err := prof.Write(&pb); err != nil {
		// Retrying would fail alike: the interval is refused, here.
		return nil, &RefusedError{Message: fmt.Sprintf("encode profile: %v", err)}
	}
	type rawSample struct {
		RawProfile string `json:"rawProfile"`
	}
	type series struct {
		Labels  []label     `json:"labels"`
		Samples []rawSample `json:"samples"`
	}
	req := struct {
		Series []series `json:"series"`
	}{Series: []series{{Labels: labels, Samples: []rawSample{{base64.StdEncoding.EncodeToString(pb.Bytes())}}}}}
	return json.Marshal(req)
}

// forPush copies prof with the per-sample pid as a string label (numeric
// labels make no series) and without the thread ID, which would make one
// series per thread.
func forPush(prof *profile.Profile) *profile.Profile {
	c := prof.Copy()
	for _, s := range c.Sample {
		if pids := s.NumLabel[sample.LabelPID]; len(pids) == 1 {
			if s.Label == nil {
				s.Label = map[string][]string{}
			}
			s.Label[sample.LabelPID] = []string{strconv.FormatInt(pids[0], 10)}
		}
		s.NumLabel = nil
		s.NumUnit = nil
	}
	return c
}

// Finish closes the pusher, giving waiting intervals up to wait to reach
// the server, and prints what was pushed, retried, dropped and refused.
func (p *Pusher) Finish(wait time.Duration, w io.Writer) Stats {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	st := p.Close(ctx)
	fmt.Fprintf(w, "push: %d intervals pushed to %s (%d bytes), %d retries, %d dropped, %d refused (%d ns of data lost)\n",
		st.Pushed, p.cfg.URL, st.Bytes, st.Retries, st.Dropped, st.Refused, st.DroppedNanos)
	return st
}

// nanos is the time a profile holds: the sum of its last sample value,
// nanoseconds of CPU or of blocking in ember's profiles.
func nanos(p *profile.Profile) int64 {
	var n int64
	for _, s := range p.Sample {
		if len(s.Value) > 0 {
			n += s.Value[len(s.Value)-1]
		}
	}
	return n
}
