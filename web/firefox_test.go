package web

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// firefox is a tab of a headless Firefox, driven over Marionette, Firefox's
// own remote protocol (what geckodriver speaks to it): plain TCP carrying
// messages "LEN:JSON", LEN the JSON's length in bytes. A command is
// [0, id, name, params] and its reply [1, id, error, result], error null on
// success; the commands are WebDriver's, named "WebDriver:Navigate" and so
// on. Commands are sent one at a time.
type firefox struct {
	cmd    *exec.Cmd
	dir    string        // the profile, HOME and the log
	log    string        // Firefox's output, the page's console included
	exited chan struct{} // closed once Firefox has exited
	conn   net.Conn
	r      *bufio.Reader
	id     int
	broken error // the error that left the connection unusable
}

// firefoxPrefs go in the fresh profile's user.js. Marionette listens on a
// free port (0) and writes it to the profile's MarionetteActivePort; it
// applies its own recommended preferences for automation (no updates,
// telemetry or first-run pages) once it runs. Pages' console messages and
// uncaught errors go to Firefox's output.
const firefoxPrefs = `user_pref("marionette.port", 0);
user_pref("network.proxy.type", 0);
user_pref("browser.startup.page", 0);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("devtools.console.stdout.content", true);
`

// The browser tests share one Firefox: it takes about 4 s to start here,
// most of it in its startup's idle tasks, which Marionette waits for before
// it opens a session, against one to three for a test. The first test that
// needs it starts it; TestMain stops it. Each test navigates to its own
// page first.
var sharedFirefox struct {
	once sync.Once
	f    *firefox
	err  error
}

// startFirefox returns the shared Firefox, starting it if it is not yet.
func startFirefox(tb testing.TB) driver {
	tb.Helper()
	bin := findBrowser(tb, "firefox-esr", "firefox-esr", "firefox")
	sharedFirefox.once.Do(func() { sharedFirefox.f, sharedFirefox.err = launchFirefox(bin) })
	if sharedFirefox.err != nil {
		tb.Fatal(sharedFirefox.err)
	}
	f := sharedFirefox.f
	if f.broken != nil {
		tb.Fatalf("firefox: Marionette connection lost in an earlier test: %v", f.broken)
	}
	// The test fails if the page throws an uncaught error or rejection.
	from := f.logSize()
	tb.Cleanup(func() {
		if errs := f.pageErrors(from); len(errs) > 0 {
			tb.Errorf("uncaught errors in the page in Firefox:\n%s", strings.Join(errs, "\n"))
		}
	})
	return f
}

func (f *firefox) logSize() int64 {
	fi, err := os.Stat(f.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// pageErrors returns the errors Firefox logged for web pages (not its
// own) after the log's first from bytes.
func (f *firefox) pageErrors(from int64) []string {
	b, err := os.ReadFile(f.log)
	if err != nil {
		return []string{err.Error()}
	}
	var errs []string
	for line := range strings.Lines(string(b[min(from, int64(len(b))):])) {
		if strings.HasPrefix(line, "JavaScript error: http") {
			errs = append(errs, strings.TrimSpace(line))
		}
	}
	return errs
}

// TestMain stops the shared Firefox once the tests have run.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedFirefox.f != nil {
		if err := sharedFirefox.f.close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// launchFirefox starts a headless Firefox with a fresh profile and HOME (we
// may run as root, with no home of our own), connects to its Marionette
// port and opens a session with a 1280x900 window.
func launchFirefox(bin string) (_ *firefox, err error) {
	dir, err := os.MkdirTemp("", "ember-firefox-")
	if err != nil {
		return nil, err
	}
	profile, home := filepath.Join(dir, "profile"), filepath.Join(dir, "home")
	for _, d := range []string{profile, home} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logPath := filepath.Join(dir, "firefox.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "--headless", "--marionette", "--no-remote", "--profile", profile)
	cmd.Env = append(os.Environ(), "HOME="+home, "MOZ_CRASHREPORTER_DISABLE=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that its content processes are killed
	// with it, and killed if the test binary dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	f := &firefox{cmd: cmd, dir: dir, log: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(f.exited)
	}()
	defer func() {
		if err != nil {
			b, _ := os.ReadFile(logPath)
			if len(b) > 2000 {
				b = b[len(b)-2000:]
			}
			err = fmt.Errorf("%s: %w; its output:\n%s", bin, err, bytes.TrimSpace(b))
			f.close()
		}
	}()

	// Marionette writes its port once it listens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err = f.connect(filepath.Join(profile, "MarionetteActivePort")); err == nil {
			break
		}
		select {
		case <-f.exited:
			return nil, fmt.Errorf("exited before Marionette answered: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no Marionette within 30 s: %w", err)
		}
	}
	if _, err := f.call("WebDriver:NewSession", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{}}}); err != nil {
		return nil, err
	}
	if _, err := f.call("WebDriver:SetWindowRect", map[string]int{"width": 1280, "height": 900}); err != nil {
		return nil, err
	}
	return f, nil
}

// close kills Firefox and the processes it started, and removes its
// profile.
func (f *firefox) close() error {
	if f.conn != nil {
		f.conn.Close()
	}
	syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-f.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("firefox (pid %d) still running 10 s after SIGKILL; left %s", f.cmd.Process.Pid, f.dir)
	}
	return os.RemoveAll(f.dir)
}

// connect reads Marionette's port from the profile, connects and reads
// its greeting.
func (f *firefox) connect(portFile string) error {
	b, err := os.ReadFile(portFile)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return fmt.Errorf("%s: %q: %w", portFile, b, err)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), actionTimeout)
	if err != nil {
		return err
	}
	f.conn, f.r = conn, bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(actionTimeout))
	var hello struct {
		ApplicationType    string `json:"applicationType"`
		MarionetteProtocol int    `json:"marionetteProtocol"`
	}
	msg, err := f.read()
	if err == nil {
		err = json.Unmarshal(msg, &hello)
	}
	if err == nil && (hello.ApplicationType != "gecko" || hello.MarionetteProtocol != 3) {
		err = fmt.Errorf("greeting %s, want gecko's Marionette protocol 3", msg)
	}
	if err != nil {
		conn.Close()
		f.conn = nil
		return fmt.Errorf("marionette on port %d: %w", port, err)
	}
	return nil
}

// read reads one message.
func (f *firefox) read() ([]byte, error) {
	n, err := f.r.ReadString(':')
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, ":"))
	if err != nil || size < 0 {
		return nil, fmt.Errorf("bad message length %q", n)
	}
	msg := make([]byte, size)
	_, err = io.ReadFull(f.r, msg)
	return msg, err
}

// call sends a command and returns its result, within actionTimeout. An
// error sending or reading (a timeout, say) leaves the connection unusable,
// as a reply may have been read in part: every later call fails.
func (f *firefox) call(name string, params any) (json.RawMessage, error) {
	if f.broken != nil {
		return nil, fmt.Errorf("%s: connection lost: %w", name, f.broken)
	}
	f.id++
	msg, err := json.Marshal([]any{0, f.id, name, params})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.conn.SetDeadline(time.Now().Add(actionTimeout))
	if _, err := fmt.Fprintf(f.conn, "%d:%s", len(msg), msg); err != nil {
		f.broken = err
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b, err := f.read()
	if err != nil {
		f.broken = err
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var reply []json.RawMessage
	if err := json.Unmarshal(b, &reply); err != nil || len(reply) != 4 || string(reply[0]) != "1" || string(reply[1]) != strconv.Itoa(f.id) {
		f.broken = fmt.Errorf("reply %.200s to command %d", b, f.id)
		return nil, fmt.Errorf("%s: %w", name, f.broken)
	}
	if string(reply[2]) != "null" {
		var e struct{ Error, Message string }
		json.Unmarshal(reply[2], &e)
		return nil, fmt.Errorf("%s: %s: %s", name, e.Error, e.Message)
	}
	return reply[3], nil
}

// value calls a command whose result is {"value": ...} and returns the value.
func (f *firefox) value(name string, params any) (json.RawMessage, error) {
	res, err := f.call(name, params)
	if err != nil {
		return nil, err
	}
	var v struct{ Value json.RawMessage }
	if err := json.Unmarshal(res, &v); err != nil {
		return nil, fmt.Errorf("%s: result %.200s: %w", name, res, err)
	}
	return v.Value, nil
}

func (f *firefox) navigate(url string) error {
	_, err := f.call("WebDriver:Navigate", map[string]string{"url": url})
	return err
}

// evaluate runs the expression as a script's return value; WebDriver waits
// for a promise returned.
func (f *firefox) evaluate(js string) ([]byte, error) {
	return f.value("WebDriver:ExecuteScript", map[string]any{"script": "return (" + js + "\n);", "args": []any{}})
}

// WebDriver's key values for the keys the tests press that are not
// characters.
const (
	wdEscape = "\uE00C"
	wdShift  = "\uE008"
)

// actions performs input actions: a list of sources, each with its list
// of actions, run tick by tick side by side. Pressed keys and buttons are
// released after.
func (f *firefox) actions(sources ...map[string]any) error {
	if _, err := f.call("WebDriver:PerformActions", map[string]any{"actions": sources}); err != nil {
		return err
	}
	_, err := f.call("WebDriver:ReleaseActions", map[string]any{})
	return err
}

// mouse is a mouse input source moving to (x, y), in whole pixels as
// WebDriver takes them, then doing acts.
func mouse(x, y float64, acts ...map[string]any) map[string]any {
	move := map[string]any{"type": "pointerMove", "duration": 0, "origin": "viewport", "x": math.Round(x), "y": math.Round(y)}
	return map[string]any{"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": append([]map[string]any{move}, acts...)}
}

// keyboard is a key input source doing acts.
func keyboard(acts ...map[string]any) map[string]any {
	return map[string]any{"type": "key", "id": "keyboard", "actions": acts}
}

func keyAct(typ, k string) map[string]any { return map[string]any{"type": typ, "value": k} }

func buttonAct(typ string) map[string]any { return map[string]any{"type": typ, "button": 0} }

var pause = map[string]any{"type": "pause"}

func (f *firefox) move(x, y float64) error { return f.actions(mouse(x, y)) }

func (f *firefox) click(x, y float64, shift bool) error {
	m := mouse(x, y, buttonAct("pointerDown"), buttonAct("pointerUp"))
	if !shift {
		return f.actions(m)
	}
	// Shift goes down with the move and up after the click.
	return f.actions(m, keyboard(keyAct("keyDown", wdShift), pause, pause, keyAct("keyUp", wdShift)))
}

func (f *firefox) key(k string) error {
	if k == "\x1b" {
		k = wdEscape
	}
	return f.actions(keyboard(keyAct("keyDown", k), keyAct("keyUp", k)))
}

func (f *firefox) typeInto(selector, text string) error {
	el, err := f.value("WebDriver:FindElement", map[string]string{"using": "css selector", "value": selector})
	if err != nil {
		return err
	}
	// A web element is {"element-6066-11e4-a52e-4f735466cecf": id}.
	var ref map[string]string
	if err := json.Unmarshal(el, &ref); err != nil || len(ref) != 1 {
		return fmt.Errorf("find %s: element %s", selector, el)
	}
	for _, id := range ref {
		_, err = f.call("WebDriver:ElementSendKeys", map[string]string{"id": id, "text": text})
	}
	return err
}

func (f *firefox) screenshot() ([]byte, error) {
	v, err := f.value("WebDriver:TakeScreenshot", map[string]any{"full": false})
	if err != nil {
		return nil, err
	}
	var b64 string
	if err := json.Unmarshal(v, &b64); err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return base64.StdEncoding.DecodeString(b64)
}
