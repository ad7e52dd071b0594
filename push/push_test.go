package push

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// interval is a tiny CPU profile of n samples of one function.
func interval(n int64) *profile.Profile {
	fn := &profile.Function{ID: 1, Name: "spin_c"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	return &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}, Period: 10000000,
		Sample: []*profile.Sample{{Location: []*profile.Location{loc}, Value: []int64{n, n * 10000000},
			Label: map[string][]string{"comm": {"spin"}}, NumLabel: map[string][]int64{"pid": {42}, "tid": {43}}}},
		Location: []*profile.Location{loc}, Function: []*profile.Function{fn},
	}
}

// request is a decoded push request.
type request struct {
	Series []struct {
		Labels []struct {
			Name, Value string
		}
		Samples []struct {
			RawProfile string
		}
	}
}

func decode(t *testing.T, body []byte) (map[string]string, *profile.Profile) {
	t.Helper()
	var r request
	if err := json.Unmarshal(body, &r); err != nil || len(r.Series) != 1 || len(r.Series[0].Samples) != 1 {
		t.Fatalf("push body %q: %v", body, err)
	}
	labels := map[string]string{}
	for _, l := range r.Series[0].Labels {
		labels[l.Name] = l.Value
	}
	raw, err := base64.StdEncoding.DecodeString(r.Series[0].Samples[0].RawProfile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.ParseData(raw)
	if err != nil {
		t.Fatal(err)
	}
	return labels, p
}

// TestPushBody: the request names the profile type, carries the labels,
// and turns each sample's pid into a string label (a series per process)
// and drops the thread ID (no series per thread).
func TestPushBody(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/push.v1.PusherService/Push" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong path or type", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	p, err := New(Config{URL: srv.URL, Name: "process_cpu", Labels: map[string]string{"service_name": "svc", "host": "h1"}, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	p.Push(interval(5))
	st := p.Finish(5*time.Second, io.Discard)
	if st.Pushed != 1 || st.Dropped != 0 || len(bodies) != 1 {
		t.Fatalf("stats %+v, %d requests", st, len(bodies))
	}
	labels, prof := decode(t, bodies[0])
	if labels["__name__"] != "process_cpu" || labels["service_name"] != "svc" || labels["host"] != "h1" {
		t.Errorf("labels %v", labels)
	}
	s := prof.Sample[0]
	if s.Label["pid"][0] != "42" || s.Label["comm"][0] != "spin" || len(s.NumLabel) != 0 || s.Value[1] != 5e7 {
		t.Errorf("sample labels %v numlabels %v values %v", s.Label, s.NumLabel, s.Value)
	}
	if auth != "Bearer s3cret" {
		t.Errorf("Authorization %q", auth)
	}
}

// TestQueueDropsOldest: while the server does not answer, a queue of 2
// keeps the two newest intervals, counts the rest as dropped, and pushes
// those two once the server answers.
func TestQueueDropsOldest(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		b, _ := io.ReadAll(r.Body)
		_, p := decode(t, b)
		mu.Lock()
		got = append(got, p.Sample[0].Value[0])
		mu.Unlock()
	}))
	defer srv.Close()
	var log bytes.Buffer
	p, err := New(Config{URL: srv.URL, Name: "process_cpu", Queue: 2, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	p.Push(interval(1)) // taken by the sender, which waits on the server
	time.Sleep(100 * time.Millisecond)
	for n := int64(2); n <= 5; n++ {
		p.Push(interval(n))
	}
	close(release)
	st := p.Finish(5*time.Second, io.Discard)
	// 1 was being sent; 2 and 3 were dropped for 4 and 5.
	if st.Pushed != 3 || st.Dropped != 2 || fmt.Sprint(got) != "[1 4 5]" {
		t.Errorf("stats %+v, pushed %v; want 3 pushed (1, 4, 5), 2 dropped", st, got)
	}
	if strings.Count(log.String(), "dropped") != 2 {
		t.Errorf("want one line per dropped interval:\n%s", log.String())
	}
}

// TestRefusedAndRetried: a 4xx is reported with the server's message and
// not retried; a 5xx is retried until it succeeds.
func TestRefusedAndRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code":"invalid_argument","message":"bad \u001b[31mlabel"}`))
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	var log bytes.Buffer
	p, err := New(Config{URL: srv.URL, Name: "offcpu", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	p.Push(interval(1))
	time.Sleep(200 * time.Millisecond)
	p.Push(interval(2))
	st := p.Finish(10*time.Second, io.Discard)
	if st.Refused != 1 || st.Retries != 1 || st.Pushed != 1 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 1 refused, 1 retry, 1 pushed", st)
	}
	if !strings.Contains(log.String(), "invalid_argument: bad") || strings.Contains(log.String(), "\x1b") {
		t.Errorf("the refusal should be reported with the server's message, escaped:\n%q", log.String())
	}
}

// TestFinishGivesUp: an unreachable server costs at most the wait given to
// Finish, and what was left is counted as dropped.
func TestFinishGivesUp(t *testing.T) {
	p, err := New(Config{URL: "http://127.0.0.1:1", Name: "process_cpu"})
	if err != nil {
		t.Fatal(err)
	}
	p.Push(interval(1))
	p.Push(interval(2))
	t0 := time.Now()
	st := p.Finish(time.Second, io.Discard)
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Finish took %v with a 1 s wait", d)
	}
	if st.Pushed != 0 || st.Dropped != 2 || st.Retries == 0 {
		t.Errorf("stats %+v, want 2 dropped after retries", st)
	}
}

func TestNewChecks(t *testing.T) {
	for _, c := range []Config{{URL: "ftp://x", Name: "a"}, {URL: "http://x", Name: "a b"}, {URL: "http://x", Name: "a", Labels: map[string]string{"__x": "1"}}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
