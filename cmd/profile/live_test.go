package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/internal/interrupt"
)

// lockedBuffer is written by record and read by the test meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLiveHTTP profiles the spinning test program with --http: spin_c must
// show on the live page's tree within 5 s of the start, the final profile
// stays served after the duration until Ctrl-C, and -o is still written.
func TestLiveHTTP(t *testing.T) {
	bpftest.Require(t)
	spin := exec.Command("../../testdata/spin/spin", "8")
	spin.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := spin.Start(); err != nil {
		t.Fatalf("start spin (run make -C testdata): %v", err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }()
	out := filepath.Join(t.TempDir(), "out.folded")
	cfg, err := parseArgs([]string{"--http", "127.0.0.1:0", "-F", "99", "-p", strconv.Itoa(spin.Process.Pid), "-f", "-o", out, "4"}, "/proc")
	if err != nil {
		t.Fatal(err)
	}
	sigs := interrupt.Start("test", io.Discard)
	defer sigs.Stop()
	var stderr lockedBuffer
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := record(sigs, cfg, nil, io.Discard, &stderr)
		done <- err
	}()
	re := regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)
	url := ""
	for url == "" && time.Since(start) < 10*time.Second {
		url = re.FindString(stderr.String())
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no URL on stderr: %q", stderr.String())
	}
	// The page and its live tree.
	if body := httpGet(t, url); !strings.Contains(body, "app.js") {
		t.Fatalf("page: %q", body)
	}
	seen := time.Duration(0)
	for time.Since(start) < 5*time.Second {
		if slices.Contains(treeNames(t, url), "spin_c") {
			seen = time.Since(start)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if seen == 0 {
		t.Fatalf("spin_c not on the live page 5 s after the start; stderr %q", stderr.String())
	}
	t.Logf("spin_c on the live page %v after the start", seen.Round(time.Millisecond))
	// After the duration, the final profile is still served.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(stderr.String(), "serving the final profile") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "serving the final profile") {
		t.Fatalf("collection did not end: %q", stderr.String())
	}
	var list struct{ Profiles []struct{ Live bool } }
	json.Unmarshal([]byte(httpGet(t, url+"api/profiles")), &list)
	if len(list.Profiles) != 1 || list.Profiles[0].Live || !slices.Contains(treeNames(t, url), "spin_c") {
		t.Errorf("final profile: %+v", list)
	}
	select {
	case err := <-done:
		t.Fatalf("record returned before Ctrl-C: %v", err)
	default:
	}
	// Ctrl-C ends serving.
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still serving after Ctrl-C")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still listening after Ctrl-C")
	}
	folded, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(folded), "spin_c") {
		t.Errorf("-o beside --http: %v %.200q", err, folded)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func treeNames(t *testing.T, url string) []string {
	var tr struct{ Names []string }
	if err := json.Unmarshal([]byte(httpGet(t, url+"api/tree?p=0")), &tr); err != nil {
		t.Fatal(err)
	}
	return tr.Names
}

func TestHTTPFlag(t *testing.T) {
	for _, bad := range []string{"8080", ":http", ":70000"} {
		if _, err := parseArgs([]string{"--http", bad}, "/proc"); err == nil || !strings.Contains(err.Error(), "--http") {
			t.Errorf("--http %s: %v, want a usage error", bad, err)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("--http %s: %T, want a usage error", bad, err)
		}
	}
	c, err := parseArgs([]string{"--http", ":0"}, "/proc")
	if err != nil || c.outlet.HTTP() != ":0" {
		t.Errorf("--http :0: %+v %v", c, err)
	}
}
