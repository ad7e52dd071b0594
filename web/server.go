// Package web serves profiles to a flame graph page in the browser: a
// canvas-drawn flame graph with zoom, search, a top table, sample types, a
// differential view and process filters, refreshed while a profile grows.
// Everything the page needs is embedded; a URL reaches only the profiles
// given, by index, never the file system.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emberprof/ember/flamegraph"
	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

//go:embed assets/index.html assets/app.js assets/app.css
var assets embed.FS

// Server holds the profiles served; it is an http.Handler.
type Server struct {
	mu       sync.Mutex
	profiles []*entry

	// Built trees, most recently used last: the page asks for the same
	// tree again on every zoom, search and live poll.
	cacheMu sync.Mutex
	cache   []cached
}

// cacheSize bounds the trees kept: a few filters and sample types of the
// profile looked at, and the previous version of a live one.
const cacheSize = 8

type cacheKey struct {
	p, version, base, baseVersion int
	typ                           string
	f                             Filter
}

type cached struct {
	key cacheKey
	b   *built
}

type entry struct {
	name    string
	p       *profile.Profile // never changed once stored: Merge replaces it
	version int
	live    bool
	id      int // set on the copies get returns
}

// New returns a Server with no profiles.
func New() *Server { return &Server{} }

// Add serves p under name and returns its index; p may be nil until the
// first Merge.
func (s *Server) Add(name string, p *profile.Profile) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles = append(s.profiles, &entry{name: name, p: p, version: 1})
	return len(s.profiles) - 1
}

// SetLive says whether profile id is still growing; the page shows it.
func (s *Server) SetLive(id int, live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id >= 0 && id < len(s.profiles) {
		s.profiles[id].live = live
		s.profiles[id].version++
	}
}

// Merge adds the samples of p to profile id (profile.Merge), for a live
// view that gets one profile of each interval.
func (s *Server) Merge(id int, p *profile.Profile) error {
	s.mu.Lock()
	if id < 0 || id >= len(s.profiles) {
		s.mu.Unlock()
		return fmt.Errorf("no profile %d", id)
	}
	prev := s.profiles[id].p
	s.mu.Unlock()
	// Merging outside the lock keeps the page responsive; only the
	// collection goroutine merges, so prev is still current below.
	merged := p
	if prev != nil {
		var err error
		merged, err = profile.Merge([]*profile.Profile{prev, p})
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.profiles[id]
	e.p = merged
	e.version++
	return nil
}

func (s *Server) get(id string) (*entry, bool) {
	n, err := strconv.Atoi(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || n < 0 || n >= len(s.profiles) || strconv.Itoa(n) != id {
		return nil, false
	}
	e := *s.profiles[n]
	e.id = n
	return &e, true
}

// ServeHTTP serves the page, its API and downloads. Paths are matched
// exactly against a fixed list: anything else, ".." in any spelling
// included, is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// No inline script and nothing from elsewhere: even a name that got into
	// the markup could not run.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/", "/index.html":
		s.asset(w, "assets/index.html", "text/html; charset=utf-8")
	case "/app.js":
		s.asset(w, "assets/app.js", "text/javascript; charset=utf-8")
	case "/app.css":
		s.asset(w, "assets/app.css", "text/css; charset=utf-8")
	case "/api/profiles":
		s.list(w)
	case "/api/tree":
		s.tree(w, r)
	case "/api/search":
		s.search(w, r)
	case "/api/sandwich":
		s.sandwich(w, r)
	case "/api/processes":
		s.processes(w, r)
	case "/download":
		s.download(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) asset(w http.ResponseWriter, name, typ string) {
	b, err := assets.ReadFile(name)
	if err != nil {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

type typeJSON struct {
	Type string `json:"type"`
	Unit string `json:"unit"`
}

type profileJSON struct {
	ID      int        `json:"id"`
	Name    string     `json:"name"`
	Types   []typeJSON `json:"types"`
	Default string     `json:"default"`
	Version int        `json:"version"`
	Live    bool       `json:"live"`
	Samples int        `json:"samples"`
}

func (s *Server) list(w http.ResponseWriter) {
	s.mu.Lock()
	out := make([]profileJSON, 0, len(s.profiles))
	for i, e := range s.profiles {
		pj := profileJSON{ID: i, Name: Display(e.name), Version: e.version, Live: e.live, Types: []typeJSON{}}
		if e.p != nil {
			for _, st := range e.p.SampleType {
				pj.Types = append(pj.Types, typeJSON{Display(st.Type), Display(st.Unit)})
			}
			if idx, err := sampleIndex(e.p, ""); err == nil {
				pj.Default = Display(e.p.SampleType[idx].Type)
			}
			pj.Samples = len(e.p.Sample)
		}
		out = append(out, pj)
	}
	s.mu.Unlock()
	writeJSON(w, map[string]any{"profiles": out})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

func badRequest(w http.ResponseWriter, msg string) {
	http.Error(w, msg, http.StatusBadRequest)
}

// filter reads the process filter of a request.
func filter(r *http.Request) (Filter, error) {
	var f Filter
	q := r.URL.Query()
	if v := q.Get("pid"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return f, fmt.Errorf("pid %q: give a process ID", v)
		}
		f.PID = n
	}
	if v := q.Get("tid"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return f, fmt.Errorf("tid %q: give a thread ID", v)
		}
		f.TID = n
	}
	f.Comm = q.Get("comm")
	return f, nil
}

// errChanged says a request named a version of the tree no longer kept.
var errChanged = errors.New("the profile changed; reload the tree")

// builtFor returns the tree a request asks for (profile p, sample type
// type, base, filter) and its version, from the cache when it can. A
// request naming a version v gets that version or errChanged, so that
// node ids it got from an earlier view still mean the same nodes.
func (s *Server) builtFor(r *http.Request) (*built, string, int, error) {
	q := r.URL.Query()
	e, ok := s.get(q.Get("p"))
	if !ok {
		return nil, "", http.StatusNotFound, errors.New("no such profile")
	}
	var base *entry
	if b := q.Get("base"); b != "" {
		if base, ok = s.get(b); !ok {
			return nil, "", http.StatusNotFound, errors.New("no such base profile")
		}
	}
	f, err := filter(r)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	key := cacheKey{p: e.id, version: e.version, base: -1, typ: q.Get("type"), f: f}
	if base != nil {
		key.base, key.baseVersion = base.id, base.version
	}
	cur := key
	if v := q.Get("v"); v != "" {
		if _, err := fmt.Sscanf(v, "%d.%d", &key.version, &key.baseVersion); err != nil {
			return nil, "", http.StatusBadRequest, fmt.Errorf("v %q: give the version a tree came with", v)
		}
	}
	version := fmt.Sprintf("%d.%d", key.version, key.baseVersion)
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for i, c := range s.cache {
		if c.key == key {
			s.cache = append(slices.Delete(s.cache, i, i+1), c)
			return c.b, version, 0, nil
		}
	}
	if key != cur {
		return nil, "", http.StatusConflict, errChanged
	}
	// Built under the lock: the same tree asked for twice is built once.
	b, err := build(e.p, base.profile(), key.typ, f)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	if len(s.cache) >= cacheSize {
		s.cache = slices.Delete(s.cache, 0, 1)
	}
	s.cache = append(s.cache, cached{key, b})
	return b, version, 0, nil
}

// tree serves a view of the frame tree (see built.appendView): of the
// whole profile, or with root, of the subtree under that node.
func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	b, version, code, err := s.builtFor(r)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	root := int32(0)
	if v := r.URL.Query().Get("root"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 || int(n) >= len(b.t.name) {
			badRequest(w, fmt.Sprintf("root %q: give a node id from the tree", v))
			return
		}
		root = int32(n)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.appendView(make([]byte, 0, 4096), root, version))
}

// search serves the share of the samples with a frame matching the
// regular expression q (matched literally if it is not one), each sample
// counted once: the page shows it beside the search box.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	b, _, code, err := s.builtFor(r)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	q := r.URL.Query().Get("q")
	re, err := regexp.Compile(q)
	if err != nil {
		re = regexp.MustCompile(regexp.QuoteMeta(q))
	}
	writeJSON(w, map[string]any{"matched": b.match(re), "sum": b.t.sum})
}

// sandwich serves the callers and the callees of the function named fn,
// each a view as the tree's (built.sandwich).
func (s *Server) sandwich(w http.ResponseWriter, r *http.Request) {
	b, version, code, err := s.builtFor(r)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	fn := r.URL.Query().Get("fn")
	up, down, ok := b.sandwich(fn)
	if !ok {
		http.Error(w, "fn: no function of that name in this profile", http.StatusNotFound)
		return
	}
	out := append(make([]byte, 0, 4096), `{"callers":`...)
	out = up.appendView(out, 0, version)
	out = append(out, `,"callees":`...)
	out = down.appendView(out, 0, version)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(out, '}'))
}

func (e *entry) profile() *profile.Profile {
	if e == nil {
		return nil
	}
	return e.p
}

// TreeJSON builds the frame tree of p's samples of sample type typ ("" for
// the default) that f keeps, and encodes the whole profile's view of it for
// the page; with base, each node also gets base's value (a differential
// view).
func TreeJSON(p, base *profile.Profile, typ string, f Filter) ([]byte, error) {
	b, err := build(p, base, typ, f)
	if err != nil {
		return nil, err
	}
	return b.appendView(nil, 0, "1.0"), nil
}

type processJSON struct {
	Comm  string `json:"comm"`
	PID   int64  `json:"pid"`
	Value int64  `json:"value"`
	TID   int64  `json:"tid,omitempty"`
}

// processes lists the processes (comm and pid labels) of a profile with
// their values of the sample type, largest first, for the filter menu.
func (s *Server) processes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e, ok := s.get(q.Get("p"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	out, tout := []processJSON{}, []processJSON{}
	if e.p != nil {
		idx, err := sampleIndex(e.p, q.Get("type"))
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		type key struct {
			comm     string
			pid, tid int64
		}
		sums := map[key]int64{}
		threads := map[key]int64{}
		for _, smp := range e.p.Sample {
			var k key
			if c := smp.Label[sample.LabelComm]; len(c) > 0 {
				k.comm = c[0]
			}
			if p := smp.NumLabel[sample.LabelPID]; len(p) > 0 {
				k.pid = p[0]
			}
			if k.comm == "" && k.pid == 0 || idx >= len(smp.Value) {
				continue
			}
			sums[k] += smp.Value[idx]
			if t := smp.NumLabel[sample.LabelTID]; len(t) > 0 {
				k.tid = t[0]
				threads[k] += smp.Value[idx]
			}
		}
		for k, v := range threads {
			tout = append(tout, processJSON{Display(k.comm), k.pid, v, k.tid})
		}
		sortProcs(tout)
		tout = tout[:min(len(tout), 1000)]
		for k, v := range sums {
			out = append(out, processJSON{Display(k.comm), k.pid, v, 0})
		}
		sortProcs(out)
		// The menu is for picking, not a report.
		out = out[:min(len(out), 1000)]
	}
	writeJSON(w, map[string]any{"processes": out, "threads": tout})
}

// sortProcs sorts processes or threads largest first.
func sortProcs(ps []processJSON) {
	slices.SortFunc(ps, func(a, b processJSON) int {
		if a.Value != b.Value {
			return cmpInt(b.Value, a.Value)
		}
		if a.PID != b.PID {
			return cmpInt(a.PID, b.PID)
		}
		return cmpInt(a.TID, b.TID)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// download sends profile p as a gzipped pprof profile or as folded stacks
// of one sample type.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e, ok := s.get(q.Get("p"))
	if !ok || e.p == nil {
		http.NotFound(w, r)
		return
	}
	id := q.Get("p")
	switch q.Get("format") {
	case "pprof":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="profile-`+id+`.pb.gz"`)
		if err := e.p.Write(w); err != nil {
			return
		}
	case "folded":
		idx, err := sampleIndex(e.p, q.Get("type"))
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		stacks, err := flamegraph.Fold(e.p, flamegraph.FoldOptions{SampleIndex: idx})
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="profile-`+id+`.folded"`)
		flamegraph.WriteFolded(w, stacks)
	case "svg":
		idx, err := sampleIndex(e.p, q.Get("type"))
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		f, err := filter(r)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		// The samples the filter keeps; Fold reads only samples and types.
		fp := &profile.Profile{SampleType: e.p.SampleType, PeriodType: e.p.PeriodType, Period: e.p.Period}
		for _, smp := range e.p.Sample {
			if f.keep(smp) {
				fp.Sample = append(fp.Sample, smp)
			}
		}
		stacks, err := flamegraph.Fold(fp, flamegraph.FoldOptions{SampleIndex: idx})
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		st := e.p.SampleType[idx]
		var buf bytes.Buffer
		// No stacks still draws flamegraph.pl's "no stack counts" image.
		if err := flamegraph.WriteSVG(&buf, stacks, flamegraph.SVGOptions{Title: "Flame Graph: " + st.Type, CountName: st.Unit}); err != nil && !errors.Is(err, flamegraph.ErrNoStacks) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Disposition", `attachment; filename="profile-`+id+`.svg"`)
		w.Write(buf.Bytes())
	default:
		badRequest(w, "format: give pprof, folded or svg")
	}
}

// ListenAddr resolves ADDR as go tool pprof -http does: a missing host
// means the loopback address only; any other host must be named.
func ListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--http %q: give HOST:PORT, e.g. :8080 (localhost only) or 0.0.0.0:8080", addr)
	}
	if port == "" {
		return "", fmt.Errorf("--http %q: no port; give HOST:PORT, e.g. :8080", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("--http %q: port %q is not a number from 0 to 65535", addr, port)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Running is a started server.
type Running struct {
	// URL is the page's address.
	URL string
	srv *http.Server
	ln  net.Listener
}

// Start listens on addr (see ListenAddr) and serves h in the background.
// When it listens on loopback only, requests must also name a loopback host,
// so that a web site cannot reach the page through DNS rebinding.
func Start(addr string, h http.Handler) (*Running, error) {
	a, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %v", addr, err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	if tcp.IP.IsLoopback() {
		h = loopbackOnly(h)
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	run := &Running{
		URL: "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port)) + "/",
		ln:  ln,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
	}
	go run.srv.Serve(ln)
	return run, nil
}

// Close stops serving.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return r.srv.Close()
	}
	return err
}

// loopbackOnly refuses requests whose Host is not a loopback name.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !LoopbackHost(r.Host) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LoopbackHost reports whether a Host header names this machine's loopback.
func LoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Announce prints where the page is, on w (stderr).
func Announce(w io.Writer, cmd string, r *Running, until string) {
	fmt.Fprintf(w, "%s: serving the profile at %s (%s)\n", cmd, r.URL, until)
}
