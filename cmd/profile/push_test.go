package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/push/pyroscopetest"
	"github.com/google/pprof/profile"
)

// readProfile parses a pprof file the test wrote.
func readProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// total sums the values of a pprof file's sample type i.
func total(t *testing.T, path string, i int) int64 {
	t.Helper()
	var n int64
	for _, s := range readProfile(t, path).Sample {
		n += s.Value[i]
	}
	return n
}

// cpuNanos sums the cpu/nanoseconds values of a pprof file.
func cpuNanos(t *testing.T, path string) int64 { return total(t, path, 1) }

// awaitTicks polls the server until the query's total reaches want (data
// pushed last may take a moment to be queryable) and returns what it has.
func awaitTicks(t *testing.T, srv *pyroscopetest.Server, query string, want int64) pyroscopetest.Flame {
	t.Helper()
	var f pyroscopetest.Flame
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if f, err = srv.Render(query); err == nil && f.NumTicks >= want {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var pushedRE = regexp.MustCompile(`push: (\d+) intervals pushed to \S+ \((\d+) bytes\), (\d+) retries, (\d+) dropped, (\d+) refused \((\d+) ns of data lost\)`)

// pushStats reads the summary line profile prints at the end.
func pushStats(t *testing.T, stderr string) (pushed, retries, dropped int, lost int64) {
	t.Helper()
	m := pushedRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no push summary on stderr:\n%s", stderr)
	}
	pushed, _ = strconv.Atoi(m[1])
	retries, _ = strconv.Atoi(m[3])
	dropped, _ = strconv.Atoi(m[4])
	lost, _ = strconv.ParseInt(m[6], 10, 64)
	return pushed, retries, dropped, lost
}

// TestPushToPyroscope: profile --push sends each interval of a spinning
// program to a real Pyroscope server, which gives back its functions and
// exactly the CPU time sampled.
func TestPushToPyroscope(t *testing.T) {
	bpftest.Require(t)
	srv := pyroscopetest.Start(t)
	out := filepath.Join(t.TempDir(), "final.pb.gz")
	var stdout, stderr bytes.Buffer
	args := []string{"--push", srv.URL(), "--push-interval", "1s", "--label", "team=perf", "-F", "99",
		"--format", "pprof", "-o", out, "--", spinPath(t), "3.5"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, stderr.String())
	}
	pushed, _, dropped, _ := pushStats(t, stderr.String())
	if pushed < 3 || dropped != 0 {
		t.Errorf("%d intervals pushed, %d dropped; want at least 3 and none dropped\n%s", pushed, dropped, stderr.String())
	}
	want := cpuNanos(t, out)
	f := awaitTicks(t, srv, `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="spin",team="perf"}`, want)
	if f.NumTicks != want || !slices.Contains(f.Names, "spin_c") {
		t.Errorf("server has %d ns of CPU (want %d, as sampled) and names %q (want spin_c)", f.NumTicks, want, f.Names)
	}
	if pids, err := srv.LabelValues("pid"); err != nil || len(pids) == 0 {
		t.Errorf("no per-process series (pid label values %q, %v)", pids, err)
	}
}

// TestPushOutlivesServerRestart: the server stopped for a few intervals
// and started again loses nothing while the queue holds the intervals, and
// with a queue of one the intervals dropped are reported and are all that
// is missing.
func TestPushOutlivesServerRestart(t *testing.T) {
	bpftest.Require(t)
	for _, tt := range []struct {
		queue       string
		wantDropped bool
	}{{"8", false}, {"1", true}} {
		srv := pyroscopetest.Start(t)
		out := filepath.Join(t.TempDir(), "final.pb.gz")
		var stdout, stderr bytes.Buffer
		service := "restart" + tt.queue
		args := []string{"--push", srv.URL(), "--push-interval", "1s", "--push-queue", tt.queue, "--service-name", service,
			"-F", "99", "--format", "pprof", "-o", out, "--", spinPath(t), "7"}
		var wg sync.WaitGroup
		var code int
		wg.Add(1)
		go func() { defer wg.Done(); code = run(args, &stdout, &stderr) }()
		time.Sleep(1500 * time.Millisecond)
		srv.Stop()
		time.Sleep(3 * time.Second) // three intervals with no server
		srv.Restart()
		wg.Wait()
		if code != 0 {
			t.Fatalf("profile %q: exit %d: %s", args, code, stderr.String())
		}
		_, retries, dropped, lost := pushStats(t, stderr.String())
		sampled := cpuNanos(t, out)
		query := `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="` + service + `"}`
		f := awaitTicks(t, srv, query, sampled-lost)
		t.Logf("queue %s: sampled %d ns, server %d ns, %d retries, %d dropped (%d ns)", tt.queue, sampled, f.NumTicks, retries, dropped, lost)
		if retries == 0 || !strings.Contains(stderr.String(), "retrying") {
			t.Errorf("queue %s: no retry reported while the server was down\n%s", tt.queue, stderr.String())
		}
		if f.NumTicks != sampled-lost {
			t.Errorf("queue %s: server has %d ns of %d sampled, %d reported lost: something was lost unreported", tt.queue, f.NumTicks, sampled, lost)
		}
		if tt.wantDropped != (dropped > 0) || (dropped > 0) != strings.Contains(stderr.String(), "oldest interval was dropped") {
			t.Errorf("queue %s: %d intervals dropped, want drops %v, each reported\n%s", tt.queue, dropped, tt.wantDropped, stderr.String())
		}
	}
}

// TestPushWrongURL: with nothing listening at the push URL, sampling goes
// on, the output is written, and the retries and the loss are reported.
func TestPushWrongURL(t *testing.T) {
	bpftest.Require(t)
	out := filepath.Join(t.TempDir(), "final.folded")
	var stdout, stderr bytes.Buffer
	args := []string{"--push", "http://127.0.0.1:1", "--push-interval", "1s", "-F", "99", "-f", "-o", out, "--", spinPath(t), "1.5"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, stderr.String())
	}
	pushed, retries, dropped, lost := pushStats(t, stderr.String())
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if pushed != 0 || retries == 0 || dropped == 0 || lost == 0 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("pushed %d, %d retries, %d dropped (%d ns): want the refused connection reported and all dropped\n%s", pushed, retries, dropped, lost, stderr.String())
	}
	if !strings.Contains(string(got), "spin_c") {
		t.Errorf("sampling did not go on without the server:\n%s", got)
	}
}

// TestPushWall: profile --wall --push sends the wall profile type, which
// the server gives back with exactly the wall time measured.
func TestPushWall(t *testing.T) {
	bpftest.Require(t)
	srv := pyroscopetest.Start(t)
	out := filepath.Join(t.TempDir(), "final.pb.gz")
	var stdout, stderr bytes.Buffer
	args := []string{"--wall", "--push", srv.URL(), "--push-interval", "1s", "-F", "99", "--format", "pprof", "-o", out, "--", spinPath(t), "1.5"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("profile %q: exit %d: %s", args, code, stderr.String())
	}
	want := total(t, out, 2)
	got := awaitTicks(t, srv, `wall:wall:nanoseconds:wall:nanoseconds{service_name="spin"}`, want)
	if got.NumTicks != want || !slices.Contains(got.Names, "spin_c") {
		t.Errorf("server has %d ns of wall time (want %d) and names %q\n%s", got.NumTicks, want, got.Names, stderr.String())
	}
}
