// Package pyroscopetest runs a real Grafana Pyroscope server for tests, on
// loopback ports of its own with a fresh data directory. The server binary
// is built from tools/pyroscope (.ci/run does it) and found at
// $EMBER_PYROSCOPE or ~/.cache/ember-pyroscope; without it a test skips,
// unless EMBER_REQUIRE_PYROSCOPE=1, which CI sets, makes it fail.
package pyroscopetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary returns the server binary's path, or skips (fails under
// EMBER_REQUIRE_PYROSCOPE=1) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("EMBER_PYROSCOPE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "ember-pyroscope")
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("no Pyroscope server at %s: build it with (cd tools/pyroscope && go build -o %s github.com/grafana/pyroscope/cmd/pyroscope)", path, path)
		if os.Getenv("EMBER_REQUIRE_PYROSCOPE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// Server is a running Pyroscope server.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	ports   [3]int // http, grpc, memberlist
	cmd     *exec.Cmd
	log     *os.File
	stopped bool
}

// Start starts a server and waits until it is ready; it is stopped when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	for i := range s.ports {
		s.ports[i] = freePort(t)
	}
	config := fmt.Sprintf(`target: all
server: {http_listen_address: 127.0.0.1, http_listen_port: %d, grpc_listen_address: 127.0.0.1, grpc_listen_port: %d}
memberlist: {bind_addr: [127.0.0.1], advertise_addr: 127.0.0.1, bind_port: %d}
storage: {backend: filesystem, filesystem: {dir: %s/shared}}
pyroscopedb: {data_path: %s/db}
self_profiling: {disable_push: true}
analytics: {reporting_enabled: false}
`, s.ports[0], s.ports[1], s.ports[2], s.dir, s.dir)
	if err := os.WriteFile(filepath.Join(s.dir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.ports[0]) }

func (s *Server) start() {
	s.t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = log
	s.cmd = exec.Command(s.bin, "-config.file="+filepath.Join(s.dir, "config.yaml"),
		"-distributor.ring.instance-addr=127.0.0.1", "-ingester.lifecycler.addr=127.0.0.1",
		"-compactor.ring.instance-addr=127.0.0.1", "-query-scheduler.ring.instance-addr=127.0.0.1",
		"-store-gateway.sharding-ring.instance-addr=127.0.0.1", "-overrides-exporter.ring.instance-addr=127.0.0.1",
		"-query-frontend.instance-addr=127.0.0.1", "-ingester.min-ready-duration=0s")
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start pyroscope: %v", err)
	}
	s.stopped = false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL() + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	s.t.Fatalf("pyroscope not ready after 60 s; its log:\n%s", tail(b))
}

// Stop stops the server (SIGTERM: it writes what it holds, as a restart
// would).
func (s *Server) Stop() {
	if s.stopped || s.cmd == nil {
		return
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
}

// Restart starts the stopped server again, with the same data and ports.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Flame is what /pyroscope/render returns for a query: the frame names
// and the total value (numTicks).
type Flame struct {
	Names    []string
	NumTicks int64
}

// Render queries the merged flame graph of query (a profile type and a
// label selector) over the last hour.
func (s *Server) Render(query string) (Flame, error) {
	v := url.Values{"query": {query}, "from": {"now-1h"}, "until": {"now"}}
	resp, err := http.Get(s.URL() + "/pyroscope/render?" + v.Encode())
	if err != nil {
		return Flame{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Flame{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Flame{}, fmt.Errorf("render %s: HTTP %d: %s", query, resp.StatusCode, body)
	}
	var r struct {
		Flamebearer struct {
			Names    []string `json:"names"`
			NumTicks int64    `json:"numTicks"`
		} `json:"flamebearer"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Flame{}, fmt.Errorf("render %s: %v", query, err)
	}
	return Flame{Names: r.Flamebearer.Names, NumTicks: r.Flamebearer.NumTicks}, nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// LabelValues lists the values the server holds for a label over the last
// hour (querier.v1.QuerierService/LabelValues, Connect JSON).
func (s *Server) LabelValues(name string) ([]string, error) {
	now := time.Now()
	req := fmt.Sprintf(`{"name":%q,"start":%d,"end":%d}`, name, now.Add(-time.Hour).UnixMilli(), now.UnixMilli())
	resp, err := http.Post(s.URL()+"/querier.v1.QuerierService/LabelValues", "application/json", strings.NewReader(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("label values %s: HTTP %d: %s", name, resp.StatusCode, body)
	}
	var r struct {
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	return r.Names, nil
}
