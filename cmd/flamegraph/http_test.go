package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// syncBuffer is a bytes.Buffer safe to write from one goroutine and read
// from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHTTP serves a gzipped folded file and a pprof profile, reads them
// back through the API, and stops at the end of the context (the signal).
func TestHTTP(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("bash;main;work 7\nbash;main;idle 3\nnot a line\n"))
	zw.Close()
	folded := writeFile(t, dir, "a.folded.gz", gz.Bytes())
	fn := &profile.Function{ID: 1, Name: "spin_c"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample:     []*profile.Sample{{Value: []int64{4, 40}, Location: []*profile.Location{loc}}},
		Location:   []*profile.Location{loc}, Function: []*profile.Function{fn},
	}
	var pb bytes.Buffer
	if err := p.Write(&pb); err != nil {
		t.Fatal(err)
	}
	pprofFile := writeFile(t, dir, "b.pb.gz", pb.Bytes())

	c, err := parseArgs([]string{"--http", "127.0.0.1:0", folded, pprofFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int)
	go func() { done <- serveHTTP(ctx, c, nil, &stderr) }()
	url := waitURL(t, &stderr, done)
	resp, err := http.Get(url + "api/profiles")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Profiles []struct {
			Name  string
			Types []struct{ Type string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Profiles) != 2 || list.Profiles[0].Name != folded || len(list.Profiles[0].Types) != 1 ||
		list.Profiles[0].Types[0].Type != "samples" || len(list.Profiles[1].Types) != 2 {
		t.Errorf("profiles: %+v", list)
	}
	resp, err = http.Get(url + "api/tree?p=0")
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Names []string
		Sum   int64
	}
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if tr.Sum != 10 || !strings.Contains(strings.Join(tr.Names, ","), "work") {
		t.Errorf("folded tree: %+v", tr)
	}
	if !strings.Contains(stderr.String(), "ignored 1 lines") {
		t.Errorf("stderr %q: want the ignored line counted", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still serving after the signal")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still listening after the signal")
	}
}

var urlRE = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)

func waitURL(t *testing.T, stderr *syncBuffer, done chan int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if u := urlRE.FindString(stderr.String()); u != "" {
			return u
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before serving: %s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no URL on stderr: %q", stderr.String())
	return ""
}

func TestHTTPErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "a.folded", []byte("a;b 1\n"))
	for _, args := range [][]string{
		{"--http", "8080", good},
		{"--http", ":99999", good},
		{"--http", ":0", "--diff", good, good},
		{"--http", ":0", "-o", filepath.Join(dir, "x.svg"), good},
	} {
		code, _, stderr := runCmd(t, "", "", args...)
		if code != 2 || strings.Count(stderr, "\n") > 2 {
			t.Errorf("%q: exit %d, %q; want a usage error", args, code, stderr)
		}
	}
	code, _, stderr := runCmd(t, "", "", "--http", "127.0.0.1:0", filepath.Join(dir, "missing"))
	if code != 1 || !strings.Contains(stderr, "missing") {
		t.Errorf("missing input: exit %d, %q", code, stderr)
	}
	zeros := writeFile(t, dir, "zeros", make([]byte, 4096))
	code, _, stderr = runCmd(t, "", "", "--http", "127.0.0.1:0", zeros)
	if code != 1 || !strings.Contains(stderr, "zeros: neither") {
		t.Errorf("binary input: exit %d, %q", code, stderr)
	}
}
