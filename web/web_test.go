package web

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emberprof/ember/internal/sample"
	"github.com/google/pprof/profile"
)

// builder makes small profiles as ember writes them: samples and cpu
// values, comm and pid labels, stacks leaf first.
type builder struct {
	p     *profile.Profile
	funcs map[string]*profile.Location
}

func newBuilder() *builder {
	return &builder{
		p: &profile.Profile{
			SampleType:        []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
			PeriodType:        &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
			Period:            10_000_000,
			DefaultSampleType: "cpu",
		},
		funcs: map[string]*profile.Location{},
	}
}

// add adds count samples of stack (root first) in process comm/pid.
func (b *builder) add(comm string, pid int64, count int64, stack ...string) *builder {
	return b.addValues(comm, pid, []int64{count, count * 10_000_000}, stack...)
}

// addValues adds a sample of the given values (one per sample type).
func (b *builder) addValues(comm string, pid int64, values []int64, stack ...string) *builder {
	s := &profile.Sample{
		Value:    values,
		Label:    map[string][]string{sample.LabelComm: {comm}},
		NumLabel: map[string][]int64{sample.LabelPID: {pid}, sample.LabelTID: {pid}},
	}
	for i := len(stack) - 1; i >= 0; i-- {
		l, ok := b.funcs[stack[i]]
		if !ok {
			id := uint64(len(b.funcs) + 1)
			fn := &profile.Function{ID: id, Name: stack[i]}
			l = &profile.Location{ID: id, Line: []profile.Line{{Function: fn}}}
			b.p.Function = append(b.p.Function, fn)
			b.p.Location = append(b.p.Location, l)
			b.funcs[stack[i]] = l
		}
		s.Location = append(s.Location, l)
	}
	b.p.Sample = append(b.p.Sample, s)
	return b
}

// wire is the tree as the page reads it.
type wire struct {
	Names  []string `json:"names"`
	Name   []int    `json:"name"`
	Total  []int64  `json:"total"`
	Before []int64  `json:"before"`
	Size   []int    `json:"size"`
	Sum    int64    `json:"sum"`
	Type   string   `json:"type"`
	Unit   string   `json:"unit"`
	Diff   bool     `json:"diff"`
}

// paths returns each node's path of names joined by ";" with its total.
func (w *wire) paths() map[string]int64 {
	out := map[string]int64{}
	var walk func(i int, prefix string)
	walk = func(i int, prefix string) {
		name := "(narrow)" // frames merged as too narrow to draw
		if w.Name[i] >= 0 {
			name = w.Names[w.Name[i]]
		}
		p := prefix + name
		out[p] = w.Total[i]
		for c := i + 1; c < i+w.Size[i]; c += w.Size[c] {
			walk(c, p+";")
		}
	}
	walk(0, "")
	return out
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	// Read the request as the server would from the wire: no cleaning.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")))
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func getTree(t *testing.T, h http.Handler, target string) *wire {
	t.Helper()
	w := get(t, h, target)
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
	var tr wire
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return &tr
}

func TestTreeAPI(t *testing.T) {
	s := New()
	b := newBuilder().
		add("app", 10, 5, "main", "a", "b").
		add("app", 10, 3, "main", "a").
		add("app", 11, 2, "main", "c").
		add("other", 20, 7, "run", "main", "a")
	s.Add("cpu.pb.gz", b.p)

	tr := getTree(t, s, "/api/tree?p=0")
	if tr.Type != "cpu" || tr.Unit != "nanoseconds" || tr.Sum != 17*10_000_000 {
		t.Errorf("default type %q unit %q sum %d, want cpu nanoseconds %d", tr.Type, tr.Unit, tr.Sum, 17*10_000_000)
	}
	tr = getTree(t, s, "/api/tree?p=0&type=samples")
	want := map[string]int64{"all": 17, "all;app": 10, "all;app;main": 10, "all;app;main;a": 8, "all;app;main;a;b": 5,
		"all;app;main;c": 2, "all;other": 7, "all;other;run;main;a": 7}
	got := tr.paths()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (tree %v)", k, got[k], v, got)
		}
	}
	if len(tr.Name) != len(tr.Total) || len(tr.Size) != len(tr.Name) || tr.Size[0] != len(tr.Name) {
		t.Errorf("arrays: %d names, %d totals, %d sizes, root size %d", len(tr.Name), len(tr.Total), len(tr.Size), tr.Size[0])
	}

	// Process filters.
	tr = getTree(t, s, "/api/tree?p=0&type=samples&pid=11")
	if got := tr.paths(); got["all"] != 2 || got["all;app;main;c"] != 2 || got["all;app;main;a"] != 0 {
		t.Errorf("pid 11: %v", got)
	}
	tr = getTree(t, s, "/api/tree?p=0&type=samples&comm=app")
	if got := tr.paths(); got["all"] != 10 || got["all;other"] != 0 {
		t.Errorf("comm app: %v", got)
	}
	var procs struct {
		Processes []processJSON `json:"processes"`
	}
	w := get(t, s, "/api/processes?p=0&type=samples")
	if err := json.Unmarshal(w.Body.Bytes(), &procs); err != nil || len(procs.Processes) != 3 || procs.Processes[0] != (processJSON{"app", 10, 8, 0}) {
		t.Errorf("processes: %s %v", w.Body, err)
	}

	// A diff against a second profile: b grew from 1 to 5.
	s.Add("before.pb.gz", newBuilder().add("app", 10, 1, "main", "a", "b").add("app", 10, 9, "main", "c").p)
	tr = getTree(t, s, "/api/tree?p=0&type=samples&base=1")
	if !tr.Diff || len(tr.Before) != len(tr.Total) {
		t.Fatalf("diff: %+v", tr)
	}
	for i := range tr.Name {
		if tr.Names[tr.Name[i]] == "b" && (tr.Total[i] != 5 || tr.Before[i] != 1) {
			t.Errorf("b: after %d before %d, want 5 and 1", tr.Total[i], tr.Before[i])
		}
	}

	var list struct {
		Profiles []profileJSON `json:"profiles"`
	}
	w = get(t, s, "/api/profiles")
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Profiles) != 2 || list.Profiles[0].Name != "cpu.pb.gz" ||
		len(list.Profiles[0].Types) != 2 || list.Profiles[0].Default != "cpu" {
		t.Errorf("profiles: %s %v", w.Body, err)
	}

	// Downloads.
	w = get(t, s, "/download?p=0&format=folded&type=samples")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "app;main;a;b 5\n") {
		t.Errorf("folded download: %d %q", w.Code, w.Body)
	}
	w = get(t, s, "/download?p=0&format=pprof")
	if p, err := profile.Parse(w.Body); err != nil || len(p.Sample) != 4 {
		t.Errorf("pprof download: %v", err)
	}
	for _, bad := range []string{"/api/tree?p=0&type=nope", "/api/tree?p=0&pid=x", "/download?p=0&format=exe"} {
		if w := get(t, s, bad); w.Code != 400 {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
}

// TestMerge: a live profile grows by merging interval profiles.
func TestMerge(t *testing.T) {
	s := New()
	id := s.Add("live", nil)
	tr := getTree(t, s, "/api/tree?p=0")
	if tr.Sum != 0 || len(tr.Name) != 1 {
		t.Errorf("empty live profile: %+v", tr)
	}
	for range 3 {
		if err := s.Merge(id, newBuilder().add("spin", 1, 2, "main", "spin_c").p); err != nil {
			t.Fatal(err)
		}
	}
	tr = getTree(t, s, "/api/tree?p=0&type=samples")
	if got := tr.paths(); got["all;spin;main;spin_c"] != 6 {
		t.Errorf("after 3 merges: %v", got)
	}
}

// TestPaths: only the fixed paths exist; nothing reaches the file system.
func TestPaths(t *testing.T) {
	s := New()
	s.Add("x", newBuilder().add("app", 1, 1, "main").p)
	for _, path := range []string{"/", "/app.js", "/app.css", "/api/profiles", "/api/tree?p=0", "/api/processes?p=0"} {
		if w := get(t, s, path); w.Code != 200 {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	for _, path := range []string{
		"/..", "/../", "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd", "/assets/app.js",
		"/./app.js", "//app.js", "/app.js/", "/api/../app.js", "/etc/passwd", "//etc/passwd", "/web/server.go",
		"/api/tree/../../etc/passwd", "/index.html/..", "/app.js%00", "/download/0", "/api/profiles/0",
		"/api/tree?p=1", "/api/tree?p=-1", "/api/tree?p=00", "/api/tree?p=+0", "/api/tree?p=/etc/passwd",
		"/api/tree?p=..", "/api/tree?p=%2e%2e", "/api/tree?p=0&base=7", "/download?p=3&format=pprof",
		"/download?p=../../etc/passwd&format=pprof", "/api/processes?p=9",
	} {
		w := get(t, s, path)
		if w.Code != 404 {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
		if bytes.Contains(w.Body.Bytes(), []byte("root:")) {
			t.Errorf("%s: served a file", path)
		}
	}
	if w := get(t, s, "http://127.0.0.1/etc/passwd"); w.Code != 404 {
		t.Errorf("absolute URL: %d", w.Code)
	}
	req := httptest.NewRequest("POST", "/api/profiles", nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 405 {
		t.Errorf("POST: %d, want 405", w.Code)
	}
	w = get(t, s, "/")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

// TestHostileNames: names round-trip through the JSON as text.
func TestHostileNames(t *testing.T) {
	hostile := []string{`<script>alert(1)</script>`, `"quoted" 'single' \back\`, "bad\xff\xfeutf8", "ctl\x01\n;x", "</script><img src=x onerror=alert(1)>"}
	b := newBuilder()
	for _, h := range hostile {
		b.add(h, 1, 1, "main", h)
	}
	s := New()
	s.Add("evil\xff<b>", b.p)
	w := get(t, s, "/api/tree?p=0")
	raw := w.Body.String()
	if strings.Contains(raw, "<") || strings.Contains(raw, ">") || !json.Valid(w.Body.Bytes()) {
		t.Errorf("raw markup or invalid JSON in %s", raw)
	}
	var tr wire
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, h := range hostile {
		want[Display(h)] = true
	}
	for _, n := range tr.Names {
		delete(want, n)
	}
	if len(want) > 0 {
		t.Errorf("names missing from %q: %v", tr.Names, want)
	}
	if d := Display("bad\xff\xfeutf8"); d != `bad\xff\xfeutf8` {
		t.Errorf("Display of invalid UTF-8: %q", d)
	}
	if d := Display("ctl\x01\n"); d != `ctl\x01\x0a` {
		t.Errorf("Display of control characters: %q", d)
	}
	if d := Display("ok \ufffd é"); d != "ok \ufffd é" {
		t.Errorf("Display of valid UTF-8: %q", d)
	}
	w = get(t, s, "/api/profiles")
	if strings.Contains(w.Body.String(), "<b>") || !strings.Contains(w.Body.String(), `evil\\xff\u003cb\u003e`) {
		t.Errorf("profile name: %s", w.Body)
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		":0":             "127.0.0.1:0",
		"localhost:80":   "localhost:80",
		"0.0.0.0:8080":   "0.0.0.0:8080",
		"[::1]:9":        "[::1]:9",
		"192.0.2.1:8080": "192.0.2.1:8080",
	} {
		got, err := ListenAddr(in)
		if err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"8080", "", ":", "host:", ":http", ":70000", ":-1", ":08080"} {
		if got, err := ListenAddr(bad); err == nil {
			t.Errorf("ListenAddr(%q) = %q, want an error", bad, got)
		}
	}
}

// TestStart: ":0" listens on loopback only, the URL names it, and a request
// naming another host (DNS rebinding) is refused.
func TestStart(t *testing.T) {
	s := New()
	s.Add("x", newBuilder().add("app", 1, 1, "main").p)
	r, err := Start(":0", s)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.HasPrefix(r.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q, want loopback", r.URL)
	}
	if ip := r.ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Errorf("listening on %v", ip)
	}
	resp, err := http.Get(r.URL + "api/profiles")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", r.URL+"api/profiles", nil)
	req.Host = "evil.example:80"
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 403 {
		t.Errorf("rebinding Host: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	// The raw path is not cleaned on the way in.
	conn, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(r.URL, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /../../etc/passwd HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
	reply, _ := io.ReadAll(conn)
	if !bytes.HasPrefix(reply, []byte("HTTP/1.0 404")) {
		t.Errorf("raw ../: %q", reply[:min(len(reply), 40)])
	}
}

func TestFoldedProfile(t *testing.T) {
	var f FoldedProfile
	f.Add([]byte("bash;main;a"), 3)
	f.Add([]byte("bash;main;b;"), 2)
	f.Add([]byte("bash;main"), -1)
	s := New()
	s.Add("x.folded", f.Profile())
	tr := getTree(t, s, "/api/tree?p=0")
	if got := tr.paths(); got["all;bash;main;a"] != 3 || got["all;bash;main;b"] != 2 || got["all"] != 5 || tr.Type != "samples" {
		t.Errorf("folded: %v", got)
	}
	var buf bytes.Buffer
	if err := f.Profile().Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, zr)
}

// narrowProfile has one wide stack and ten leaves each under 1/20000 of
// the total, under a frame that is not.
func narrowProfile() *profile.Profile {
	b := newBuilder().add("app", 1, 100_000, "main", "big")
	for k := range 10 {
		b.add("app", 1, 4, "main", "small", fmt.Sprintf("leaf%d", k))
	}
	return b.p
}

// view is the wire form with the fields of views.
type view struct {
	wire
	ID      []int   `json:"id"`
	Root    int     `json:"root"`
	Version string  `json:"version"`
	FSelf   []int64 `json:"fself"`
	FTotal  []int64 `json:"ftotal"`
}

func getView(t *testing.T, h http.Handler, target string) *view {
	t.Helper()
	w := get(t, h, target)
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
	var v view
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return &v
}

// TestViews: frames under 1/20000 of a view are sent merged, one node per
// parent; the subtree view under a frame has them; the top table and the
// search share still count them; an old version's ids are refused.
func TestViews(t *testing.T) {
	s := New()
	s.Add("narrow", narrowProfile())
	v := getView(t, s, "/api/tree?p=0&type=samples")
	small, merged := -1, -1
	for i, n := range v.Name {
		switch {
		case n < 0:
			merged = i
		case v.Names[n] == "small":
			small = i
		case strings.HasPrefix(v.Names[n], "leaf"):
			t.Errorf("leaf %s sent in the whole view", v.Names[n])
		}
	}
	if small < 0 || merged != small+1 || v.Total[merged] != 40 || v.Size[small] != 2 || v.ID[merged] != -1 {
		t.Fatalf("small at %d, merged at %d: %+v", small, merged, v)
	}
	if v.Root != 0 || v.Size[0] != len(v.Name) || len(v.FSelf) != len(v.Names) {
		t.Errorf("root %d, size %d of %d, %d fself", v.Root, v.Size[0], len(v.Name), len(v.FSelf))
	}
	for k, n := range v.Names {
		if n == "leaf3" && (v.FSelf[k] != 4 || v.FTotal[k] != 4) {
			t.Errorf("leaf3 self %d total %d, want 4 and 4", v.FSelf[k], v.FTotal[k])
		}
		if n == "main" && (v.FSelf[k] != 0 || v.FTotal[k] != 100_040) {
			t.Errorf("main self %d total %d", v.FSelf[k], v.FTotal[k])
		}
	}
	var sr struct{ Matched, Sum int64 }
	w := get(t, s, "/api/search?p=0&type=samples&q=leaf%5B37%5D")
	if err := json.Unmarshal(w.Body.Bytes(), &sr); err != nil || sr.Matched != 8 || sr.Sum != 100_040 {
		t.Errorf("search leaf[37]: %s %v", w.Body, err)
	}
	w = get(t, s, "/api/search?p=0&type=samples&q=main%7Csmall")
	if err := json.Unmarshal(w.Body.Bytes(), &sr); err != nil || sr.Matched != 100_040 {
		t.Errorf("search main|small counts each sample once: %s %v", w.Body, err)
	}
	w = get(t, s, "/api/search?p=0&type=samples&q=%28")
	if err := json.Unmarshal(w.Body.Bytes(), &sr); err != nil || sr.Matched != 0 || w.Code != 200 {
		t.Errorf("search of an invalid regexp: %d %s %v", w.Code, w.Body, err)
	}

	// The subtree view under small: its callers as a chain, then the leaves.
	sv := getView(t, s, fmt.Sprintf("/api/tree?p=0&type=samples&root=%d&v=%s", v.ID[small], v.Version))
	var chain, leaves []string
	for i := range sv.Name {
		if i < sv.Root {
			chain = append(chain, sv.Names[sv.Name[i]])
		} else if strings.HasPrefix(sv.Names[sv.Name[i]], "leaf") {
			leaves = append(leaves, sv.Names[sv.Name[i]])
			if sv.Total[i] != 4 {
				t.Errorf("%s: %d", sv.Names[sv.Name[i]], sv.Total[i])
			}
		}
	}
	if strings.Join(chain, ";") != "all;app;main" || len(leaves) != 10 || sv.Names[sv.Name[sv.Root]] != "small" || sv.Size[0] != len(sv.Name) {
		t.Errorf("subtree view: chain %q, leaves %q, root %d", chain, leaves, sv.Root)
	}

	// Once the profile changed, the old version's ids are refused until the
	// page reloads; the cached tree of the new version is served.
	if err := s.Merge(0, newBuilder().add("app", 1, 100, "main", "new").p); err != nil {
		t.Fatal(err)
	}
	if w := get(t, s, fmt.Sprintf("/api/tree?p=0&type=samples&root=%d&v=%s", v.ID[small], "999.0")); w.Code != http.StatusConflict {
		t.Errorf("unknown version: %d", w.Code)
	}
	if w := get(t, s, fmt.Sprintf("/api/tree?p=0&type=samples&root=%d&v=%s", v.ID[small], v.Version)); w.Code != 200 {
		t.Errorf("a version still cached: %d", w.Code)
	}
	nv := getView(t, s, "/api/tree?p=0&type=samples")
	if nv.Version == v.Version || nv.paths()["all;app;main;new"] != 100 {
		t.Errorf("after a merge: version %s (was %s)", nv.Version, v.Version)
	}
	for _, bad := range []string{"root=-1", "root=x", "root=99999", "v=x"} {
		if w := get(t, s, "/api/tree?p=0&"+bad); w.Code != 400 {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
}

// TestSandwich: a function's callers and callees merged over every place
// it occurs, recursion counted once.
func TestSandwich(t *testing.T) {
	s := New()
	s.Add("x", newBuilder().
		add("app", 1, 5, "main", "a", "lock", "futex").
		add("app", 1, 3, "main", "b", "lock", "spin").
		add("app", 1, 2, "main", "b", "lock", "lock", "futex").
		add("app", 1, 7, "main", "c").p)
	w := get(t, s, "/api/sandwich?p=0&type=samples&fn=lock")
	var sw struct{ Callers, Callees wire }
	if err := json.Unmarshal(w.Body.Bytes(), &sw); err != nil {
		t.Fatalf("%s: %v", w.Body, err)
	}
	up, down := sw.Callers.paths(), sw.Callees.paths()
	wantUp := map[string]int64{"lock": 10, "lock;a": 5, "lock;b": 5, "lock;a;main": 5, "lock;b;main;app": 5}
	wantDown := map[string]int64{"lock": 10, "lock;futex": 5, "lock;spin": 3, "lock;lock": 2, "lock;lock;futex": 2}
	for k, v := range wantUp {
		if up[k] != v {
			t.Errorf("callers %s = %d, want %d (%v)", k, up[k], v, up)
		}
	}
	for k, v := range wantDown {
		if down[k] != v {
			t.Errorf("callees %s = %d, want %d (%v)", k, down[k], v, down)
		}
	}
	if _, ok := up["lock;c"]; ok {
		t.Errorf("c does not call lock: %v", up)
	}
	if w := get(t, s, "/api/sandwich?p=0&fn=nope"); w.Code != 404 {
		t.Errorf("unknown function: %d", w.Code)
	}
}

// TestThreadsAndSVG: the tid filter keeps one thread's samples, the thread
// list names them, and the SVG download draws the filtered profile.
func TestThreadsAndSVG(t *testing.T) {
	b := newBuilder().
		add("app", 10, 5, "main", "worker_a").
		add("app", 10, 3, "main", "worker_b").
		add("app", 10, 2, "main", "<script>x</script>")
	b.p.Sample[0].NumLabel[sample.LabelTID] = []int64{11}
	b.p.Sample[1].NumLabel[sample.LabelTID] = []int64{12}
	s := New()
	s.Add("x", b.p)
	tr := getTree(t, s, "/api/tree?p=0&type=samples&tid=12")
	if got := tr.paths(); got["all"] != 3 || got["all;app;main;worker_b"] != 3 || got["all;app;main;worker_a"] != 0 {
		t.Errorf("tid 12: %v", got)
	}
	var procs struct{ Threads []processJSON }
	w := get(t, s, "/api/processes?p=0&type=samples")
	if err := json.Unmarshal(w.Body.Bytes(), &procs); err != nil || len(procs.Threads) != 3 || procs.Threads[0] != (processJSON{"app", 10, 5, 11}) {
		t.Errorf("threads: %s %v", w.Body, err)
	}
	w = get(t, s, "/download?p=0&format=svg&type=samples&tid=11")
	svg := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") ||
		!strings.Contains(svg, "worker_a") || strings.Contains(svg, "worker_b") {
		t.Errorf("svg of tid 11: %d %.300s", w.Code, svg)
	}
	w = get(t, s, "/download?p=0&format=svg&type=samples")
	if svg := w.Body.String(); !strings.Contains(svg, "worker_b") || strings.Contains(svg, "<script>x") || !strings.Contains(svg, "&lt;script&gt;x") {
		t.Errorf("svg escapes names: %.2000s", svg)
	}
	for _, bad := range []string{"/download?p=0&format=svg&tid=x", "/download?p=0&format=svg&type=nope", "/api/tree?p=0&tid=-3"} {
		if w := get(t, s, bad); w.Code != 400 {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
}

// wallBuilder makes profiles as "profile --wall" writes them: types cpu,
// offcpu and wall, each sample on-CPU or blocked, wall their sum.
func wallBuilder() *builder {
	b := newBuilder()
	b.p.SampleType = []*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}, {Type: "offcpu", Unit: "nanoseconds"}, {Type: "wall", Unit: "nanoseconds"}}
	b.p.PeriodType = &profile.ValueType{Type: "wall", Unit: "nanoseconds"}
	b.p.DefaultSampleType = "wall"
	return b
}

func (b *builder) oncpu(ns int64, stack ...string) *builder {
	return b.addValues("app", 1, []int64{ns, 0, ns}, stack...)
}

func (b *builder) blocked(ns int64, stack ...string) *builder {
	return b.addValues("app", 1, []int64{0, ns, ns}, stack...)
}

// wallView is the view with the on-CPU/blocked split.
type wallView struct {
	view
	CPU []int64 `json:"cpu"`
	Off []int64 `json:"off"`
}

func getWallView(t *testing.T, h http.Handler, target string) *wallView {
	t.Helper()
	w := get(t, h, target)
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	}
	var v wallView
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	return &v
}

// split returns each node's path with its on-CPU and blocked time, and
// checks that they add up to its total.
func (v *wallView) split(t *testing.T) map[string][2]int64 {
	t.Helper()
	if len(v.CPU) != len(v.Name) || len(v.Off) != len(v.Name) {
		t.Fatalf("%d nodes, %d cpu, %d off", len(v.Name), len(v.CPU), len(v.Off))
	}
	out := map[string][2]int64{}
	var walk func(i int, prefix string)
	walk = func(i int, prefix string) {
		name := "(narrow)"
		if v.Name[i] >= 0 {
			name = v.Names[v.Name[i]]
		}
		p := prefix + name
		out[p] = [2]int64{v.CPU[i], v.Off[i]}
		if v.CPU[i]+v.Off[i] != v.Total[i] {
			t.Errorf("%s: cpu %d + off %d != wall %d", p, v.CPU[i], v.Off[i], v.Total[i])
		}
		for c := i + 1; c < i+v.Size[i]; c += v.Size[c] {
			walk(c, p+";")
		}
	}
	walk(0, "")
	return out
}

// TestWallSplit: a wall profile's view carries each node's on-CPU and
// blocked time, merged narrow frames summing both; other types and
// profiles do not.
func TestWallSplit(t *testing.T) {
	b := wallBuilder().
		oncpu(600_000, "main", "compute").
		blocked(300_000, "main", "io", "read").
		oncpu(100_000, "main", "io", "parse")
	// Ten leaves under 1/20000 of the whole: merged under "tiny".
	for k := range 10 {
		if k%2 == 0 {
			b.oncpu(20, "main", "tiny", fmt.Sprintf("leaf%d", k))
		} else {
			b.blocked(40, "main", "tiny", fmt.Sprintf("leaf%d", k))
		}
	}
	s := New()
	s.Add("wall", b.p)
	s.Add("cpu", newBuilder().add("app", 1, 5, "main", "x").p)
	v := getWallView(t, s, "/api/tree?p=0")
	if v.Type != "wall" {
		t.Fatalf("default type %q, want wall", v.Type)
	}
	got := v.split(t)
	want := map[string][2]int64{
		"all":                   {700_100, 300_200},
		"all;app":               {700_100, 300_200},
		"all;app;main":          {700_100, 300_200},
		"all;app;main;compute":  {600_000, 0},
		"all;app;main;io":       {100_000, 300_000},
		"all;app;main;io;read":  {0, 300_000},
		"all;app;main;io;parse": {100_000, 0},
		"all;app;main;tiny":     {100, 200},
		// Merged: five leaves on-CPU (20 each), five blocked (40 each).
		"all;app;main;tiny;(narrow)": {100, 200},
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || g != w {
			t.Errorf("%s: cpu/off %v, want %v", p, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("nodes %v", got)
	}
	// The subtree view under tiny has the leaves, each its own split.
	tiny := -1
	for i, n := range v.Name {
		if n >= 0 && v.Names[n] == "tiny" {
			tiny = v.ID[i]
		}
	}
	sv := getWallView(t, s, fmt.Sprintf("/api/tree?p=0&root=%d&v=%s", tiny, v.Version))
	sg := sv.split(t)
	if g := sg["all;app;main;tiny;leaf3"]; g != [2]int64{0, 40} {
		t.Errorf("leaf3 in tiny's view: %v", g)
	}
	if g := sg["all;app;main;tiny;leaf4"]; g != [2]int64{20, 0} {
		t.Errorf("leaf4 in tiny's view: %v", g)
	}
	// The sandwich of io: its callees keep the split.
	w := get(t, s, "/api/sandwich?p=0&fn=io")
	var sw struct{ Callers, Callees wallView }
	if err := json.Unmarshal(w.Body.Bytes(), &sw); err != nil {
		t.Fatalf("sandwich: %v %s", err, w.Body)
	}
	if g := sw.Callees.split(t)["io;read"]; g != [2]int64{0, 300_000} {
		t.Errorf("sandwich of io: read %v", g)
	}
	if g := sw.Callers.split(t)["io;main"]; g != [2]int64{100_000, 300_000} {
		t.Errorf("sandwich of io: caller main %v", g)
	}
	// Not split: the cpu type of the same profile, and a cpu profile.
	for _, target := range []string{"/api/tree?p=0&type=cpu", "/api/tree?p=0&type=offcpu", "/api/tree?p=1"} {
		if body := get(t, s, target).Body.String(); strings.Contains(body, `"cpu":[`) || strings.Contains(body, `"off":[`) {
			t.Errorf("%s has the split: %s", target, body)
		}
	}
}
