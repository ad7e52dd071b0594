package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// A driver is a tab of a headless browser, as the browser tests drive it:
// Chromium through chromedp (below) or Firefox through Marionette
// (firefox_test.go). Each call is bounded by actionTimeout.
type driver interface {
	navigate(url string) error
	// evaluate runs a JavaScript expression, waits for it if it is a
	// promise, and returns its value as JSON (null for undefined).
	evaluate(js string) ([]byte, error)
	// move moves the mouse to (x, y), in CSS pixels from the viewport's
	// top left corner; click moves it there and clicks, holding Shift if
	// shift.
	move(x, y float64) error
	click(x, y float64, shift bool) error
	// key presses and releases a key: a character, or "\x1b" for Escape.
	key(k string) error
	// typeInto types text into the element a CSS selector finds.
	typeInto(selector, text string) error
	// screenshot returns the viewport as a PNG.
	screenshot() ([]byte, error)
}

const actionTimeout = 20 * time.Second

// browsers are the browsers the page is tested in. start returns a tab of
// a headless one, started for the test (Chromium) or shared by the tests
// (Firefox, see startFirefox), or skips the test if there is none (see
// findBrowser).
var browsers = []struct {
	name  string
	start func(testing.TB) driver
}{{"chromium", startChromium}, {"firefox", startFirefox}}

// inBrowsers runs test once in each browser, as a subtest named after it.
func inBrowsers(t *testing.T, test func(t *testing.T, d driver)) {
	for _, b := range browsers {
		t.Run(b.name, func(t *testing.T) { test(t, b.start(t)) })
	}
}

// findBrowser returns the first of names on the PATH, skipping the test if
// there is none unless EMBER_REQUIRE_BROWSER=1 (as in CI), where it fails
// instead; pkg is the Debian package to install.
func findBrowser(tb testing.TB, pkg string, names ...string) string {
	tb.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EMBER_REQUIRE_BROWSER") == "1" {
		tb.Fatalf("no %s found and EMBER_REQUIRE_BROWSER=1 (apt-get install -y %s)", pkg, pkg)
	}
	tb.Skipf("no %s found (apt-get install -y %s); set EMBER_REQUIRE_BROWSER=1 to fail instead", pkg, pkg)
	return ""
}

// chromium is a tab of a headless Chromium, driven by chromedp.
type chromium struct{ ctx context.Context }

// startChromium starts a headless Chromium with a tab.
func startChromium(tb testing.TB) driver {
	bin := findBrowser(tb, "chromium", "chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(tb.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, without a deadline: a timeout on the first
	// action would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	return chromium{ctx}
}

// run runs a chromedp action in the tab, within actionTimeout.
func run[T any](c chromium, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(c.ctx, actionTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func (c chromium) do(a ...chromedp.Action[chromedp.Void]) error {
	_, err := run(c, chromedp.Steps(a...))
	return err
}

func (c chromium) navigate(url string) error { return c.do(chromedp.Navigate(url)) }

func (c chromium) evaluate(js string) ([]byte, error) {
	return run(c, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
}

func (c chromium) move(x, y float64) error {
	return c.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y))
}

func (c chromium) click(x, y float64, shift bool) error {
	var opts []chromedp.MouseOption
	if shift {
		opts = append(opts, chromedp.ButtonModifiers(chromedp.ModifierShift))
	}
	return c.do(chromedp.MouseClickXY(x, y, opts...))
}

func (c chromium) key(k string) error { return c.do(chromedp.KeyEvent(k)) }

func (c chromium) typeInto(selector, text string) error {
	return c.do(chromedp.SendKeys(selector, text))
}

func (c chromium) screenshot() ([]byte, error) { return run(c, chromedp.CaptureScreenshot()) }

// eval evaluates a JavaScript expression (awaiting a promise) into a T; a
// null or undefined value fails the test unless T can be nil.
func eval[T any](tb testing.TB, d driver, js string) T {
	tb.Helper()
	var v T
	b, err := d.evaluate(js)
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	if len(b) == 0 || string(b) == "null" {
		switch reflect.TypeFor[T]().Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			return v
		}
		tb.Fatalf("evaluate %s: null or undefined, want a %T", js, v)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("evaluate %s: %s: %v", js, b, err)
	}
	return v
}

// poll evaluates a JavaScript expression until it is true, for up to
// timeout.
func poll(d driver, js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		b, err := d.evaluate("!!(" + js + ")")
		if err == nil && string(b) == "true" {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("still false after %v", timeout)
			}
			return fmt.Errorf("poll %s: %w", js, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load navigates to url and waits for the page's first drawing.
func load(tb testing.TB, d driver, url string) {
	tb.Helper()
	if err := d.navigate(url); err != nil {
		tb.Fatalf("navigate to %s: %v", url, err)
	}
	waitDraws(tb, d, 0)
}

// waitDraws waits until the page has drawn more than n times and is idle.
func waitDraws(tb testing.TB, d driver, n int) {
	tb.Helper()
	if err := poll(d, fmt.Sprintf(`window.__ember && window.__ember.ready && window.__ember.draws > %d`, n), 15*time.Second); err != nil {
		tb.Fatalf("page did not draw: %v (error shown: %q)", err, eval[string](tb, d, `window.__ember ? window.__ember.error : "no hook"`))
	}
}

func draws(tb testing.TB, d driver) int { return eval[int](tb, d, `window.__ember.draws`) }

// keys presses keys one after the other.
func keys(tb testing.TB, d driver, ks ...string) {
	tb.Helper()
	for _, k := range ks {
		if err := d.key(k); err != nil {
			tb.Fatalf("key %q: %v", k, err)
		}
	}
}

type rect struct{ X, Y, W, H float64 }

func rectOf(tb testing.TB, d driver, name string) rect {
	tb.Helper()
	return rectIn(tb, d, "", name)
}

// rectIn is rectOf in a pane of the sandwich, "callers" or "callees" ("" is
// the flame graph).
func rectIn(tb testing.TB, d driver, pane, name string) rect {
	tb.Helper()
	r := eval[*rect](tb, d, `window.__ember.rectOf(`+strconvQuote(name)+`, `+strconvQuote(pane)+`)`)
	if r == nil {
		tb.Fatalf("%q not drawn in %q; drawn: %q, sandwich %v", name, pane, eval[[]string](tb, d, `window.__ember.names`), eval[any](tb, d, `window.__ember.sandwich`))
	}
	return *r
}

// pointAt moves the mouse to the middle of a frame drawn, dy pixels down.
func pointAt(tb testing.TB, d driver, name string, dy float64) {
	tb.Helper()
	r := rectOf(tb, d, name)
	if err := d.move(r.X+r.W/2, r.Y+r.H/2+dy); err != nil {
		tb.Fatalf("move to %q: %v", name, err)
	}
}

// clickOn clicks the middle of a frame drawn.
func clickOn(tb testing.TB, d driver, name string, shift bool) {
	tb.Helper()
	clickIn(tb, d, "", name, shift)
}

// clickIn is clickOn in a pane of the sandwich (rectIn).
func clickIn(tb testing.TB, d driver, pane, name string, shift bool) {
	tb.Helper()
	r := rectIn(tb, d, pane, name)
	if err := d.click(r.X+r.W/2, r.Y+r.H/2, shift); err != nil {
		tb.Fatalf("click on %q in %q: %v", name, pane, err)
	}
}

// artefact saves a screenshot where EMBER_ARTIFACTS says, or in the test's
// temporary directory, and logs where. name is prefixed with the browser's
// subtest name.
func artefact(t *testing.T, d driver, name string) {
	png, err := d.screenshot()
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("EMBER_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, path.Base(t.Name())+"-"+name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", p)
}

const hostile = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`

// TestBrowser loads the page in headless Chromium and Firefox and checks
// what it draws: frames, zoom, search share, the top table, the tooltip,
// sample types, the process filter, the diff colours and a hostile name.
func TestBrowser(t *testing.T) {
	after := newBuilder().
		add("app", 10, 50, "main", "work", "grow").
		add("app", 10, 30, "main", "work", "steady").
		add("app", 10, 10, "main", "shrink").
		add("app", 11, 8, "main", "other", "grow").
		add("app", 10, 2, "main", hostile)
	before := newBuilder().
		add("app", 10, 10, "main", "work", "grow").
		add("app", 10, 30, "main", "work", "steady").
		add("app", 10, 40, "main", "shrink").
		add("app", 10, 2, "main", hostile)
	s := New()
	s.Add("after.pb.gz", after.p)
	s.Add("before.pb.gz", before.p)
	srv := httptest.NewServer(s)
	defer srv.Close()
	inBrowsers(t, func(t *testing.T, d driver) {
		load(t, d, srv.URL+"/")
		names := eval[[]string](t, d, `window.__ember.names`)
		for _, want := range []string{"all", "app", "main", "work", "grow", "steady", "shrink", "other", hostile} {
			if !slices.Contains(names, want) {
				t.Errorf("%q not drawn; drawn %q", want, names)
			}
		}
		all, work := rectOf(t, d, "all"), rectOf(t, d, "work")
		if math.Abs(work.W/all.W-80.0/100) > 0.01 {
			t.Errorf("work is %.1f of %.1f pixels wide, want 80%%", work.W, all.W)
		}
		// The canvas holds work's colour where it was drawn, right of its
		// label.
		px := eval[string](t, d, `(() => {
			const c = document.getElementById("canvas"), b = c.getBoundingClientRect(), r = window.__ember.rectOf("work"), k = devicePixelRatio
			const p = c.getContext("2d").getImageData(Math.floor((r.x + r.w - 4 - b.left) * k), Math.floor((r.y + r.h / 2 - b.top) * k), 1, 1).data
			return "rgb(" + p[0] + "," + p[1] + "," + p[2] + ")" })()`)
		if c := eval[string](t, d, `window.__ember.color("work")`); px != c {
			t.Errorf("work's pixel is %s, want its colour %s", px, c)
		}
		artefact(t, d, "web-flamegraph.png")

		// The hostile name is drawn and listed as text, and nothing ran.
		if eval[bool](t, d, `window.__pwned !== undefined || document.querySelectorAll("script").length !== 1 || document.querySelector("img") !== null`) {
			t.Error("a frame name ran script or became markup")
		}
		cells := eval[[]string](t, d, `[...document.querySelectorAll("#top tbody td:first-child")].map(td => td.textContent)`)
		if !slices.Contains(cells, hostile) {
			t.Errorf("hostile name not in the top table as text: %q", cells)
		}

		// The top table: grow has the most self time (58 of 100).
		if len(cells) == 0 || cells[0] != "grow" {
			t.Errorf("top table starts %q, want grow", cells)
		}
		self := eval[string](t, d, `document.querySelector("#top tbody tr td:nth-child(3)").textContent`)
		if self != "58.00%" {
			t.Errorf("grow's self share %q, want 58.00%%", self)
		}
		// Sorting by name, and filtering, with the mouse and keyboard.
		th := eval[rect](t, d, `(() => { const b = document.querySelector('#top th[data-key="name"]').getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height} })()`)
		if err := d.click(th.X+th.W/2, th.Y+th.H/2, false); err != nil {
			t.Fatal(err)
		}
		if first := eval[string](t, d, `document.querySelector("#top tbody td").textContent`); first != hostile {
			t.Errorf("sorted by name, first %q", first)
		}
		if err := d.typeInto("#topfilter", "STEA"); err != nil {
			t.Fatal(err)
		}
		if rows := eval[[]string](t, d, `[...document.querySelectorAll("#top tbody td:first-child")].map(td => td.textContent)`); !slices.Equal(rows, []string{"steady"}) {
			t.Errorf("filtered top table %q, want steady", rows)
		}

		// Hover: the tooltip names the frame, its value and share, as text.
		pointAt(t, d, hostile, 0)
		tip := eval[string](t, d, `document.getElementById("tip").textContent`)
		if !strings.HasPrefix(tip, hostile+"\n20.00 ms (2.00% of all)") {
			t.Errorf("tooltip %q", tip)
		}

		// Search: the matched share counts each sample once.
		n := draws(t, d)
		if err := d.typeInto("#search", "grow|work"); err != nil {
			t.Fatal(err)
		}
		waitDraws(t, d, n)
		// Each key typed asks the server for the share; wait for the last.
		poll(d, `document.getElementById("matched").textContent.startsWith("Matched: 88.00%")`, 5*time.Second)
		if m := eval[string](t, d, `document.getElementById("matched").textContent`); !strings.HasPrefix(m, "Matched: 88.00%") {
			t.Errorf("matched %q, want 88.00%% (work 80 + other;grow 8)", m)
		}
		if c := eval[string](t, d, `window.__ember.color("grow")`); c != "rgb(230,0,230)" {
			t.Errorf("matched frame colour %q", c)
		}

		// Click to zoom into work: its children fill the width, siblings go.
		n = draws(t, d)
		clickOn(t, d, "work", false)
		waitDraws(t, d, n)
		names = eval[[]string](t, d, `window.__ember.names`)
		if z := eval[string](t, d, `window.__ember.zoom`); z != "work" || slices.Contains(names, "shrink") || !slices.Contains(names, "main") {
			t.Errorf("zoomed to %q, drawn %q", z, names)
		}
		if g, all := rectOf(t, d, "grow"), rectOf(t, d, "all"); math.Abs(g.W/all.W-50.0/80) > 0.01 {
			t.Errorf("zoomed: grow %.1f of %.1f pixels, want 50/80", g.W, all.W)
		}
		// Reset with the keyboard (Esc clears the search first, then r).
		n = draws(t, d)
		keys(t, d, "\x1b")
		eval[bool](t, d, `document.activeElement.blur(), true`)
		keys(t, d, "r")
		waitDraws(t, d, n+1)
		if z := eval[string](t, d, `window.__ember.zoom`); z != "" || !slices.Contains(eval[[]string](t, d, `window.__ember.names`), "shrink") {
			t.Errorf("after r: zoom %q", z)
		}
		if m := eval[string](t, d, `document.getElementById("matched").textContent`); m != "" {
			t.Errorf("after Esc: matched %q", m)
		}
		if !strings.Contains(eval[string](t, d, `document.getElementById("keys").textContent`), "reset zoom") {
			t.Error("keyboard shortcuts not shown")
		}

		// Sample types: samples counts, cpu is time.
		eval[bool](t, d, `window.__ember.setType("samples").then(() => true)`)
		pointAt(t, d, hostile, 1)
		if tip := eval[string](t, d, `document.getElementById("tip").textContent`); !strings.HasPrefix(tip, hostile+"\n2 (2.00% of all)") {
			t.Errorf("samples tooltip %q", tip)
		}

		// The process filter: pid 11 has only main;other;grow.
		opts := eval[[]string](t, d, `[...document.querySelectorAll("#process option")].map(o => o.value)`)
		if !slices.Contains(opts, "pid:11") || !slices.Contains(opts, "comm:app") {
			t.Errorf("process options %q", opts)
		}
		eval[bool](t, d, `window.__ember.setProcess("pid:11").then(() => true)`)
		names = eval[[]string](t, d, `window.__ember.names`)
		if !slices.Contains(names, "other") || slices.Contains(names, "work") {
			t.Errorf("pid 11 drew %q", names)
		}
		eval[bool](t, d, `window.__ember.setProcess("").then(() => true)`)
		// The thread filter (tid labels; the builder gives tid = pid) and the
		// SVG link follow the filters.
		if th := eval[[]string](t, d, `[...document.querySelectorAll("#thread option")].map(o => o.value)`); !slices.Contains(th, "11") {
			t.Errorf("thread options %q", th)
		}
		eval[bool](t, d, `window.__ember.setThread("11").then(() => true)`)
		if names := eval[[]string](t, d, `window.__ember.names`); !slices.Contains(names, "other") || slices.Contains(names, "work") {
			t.Errorf("tid 11 drew %q", names)
		}
		if href := eval[string](t, d, `document.getElementById("dlsvg").getAttribute("href")`); !strings.Contains(href, "format=svg") || !strings.Contains(href, "tid=11") {
			t.Errorf("svg link %q", href)
		}
		eval[bool](t, d, `window.__ember.setThread("").then(() => true)`)

		// The diff against before: grow's own samples grew (red), shrink's
		// shrank (blue), steady is white.
		eval[bool](t, d, `window.__ember.setBase(1).then(() => true)`)
		var r, g, b int
		if _, err := fmt.Sscanf(eval[string](t, d, `window.__ember.color("grow")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || r != 255 || g >= 200 || g != b {
			t.Errorf("grow in the diff: rgb(%d,%d,%d) %v, want red", r, g, b, err)
		}
		if _, err := fmt.Sscanf(eval[string](t, d, `window.__ember.color("shrink")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || b != 255 || r >= 200 || r != g {
			t.Errorf("shrink in the diff: rgb(%d,%d,%d) %v, want blue", r, g, b, err)
		}
		if c := eval[string](t, d, `window.__ember.color("steady")`); c != "rgb(255,255,255)" {
			t.Errorf("steady in the diff: %s, want white", c)
		}
		artefact(t, d, "web-diff.png")
		// Scaled as -n does (before 82 to after's 100), steady's 30 shrank.
		n = draws(t, d)
		eval[bool](t, d, `document.getElementById("normalize").click(), true`)
		waitDraws(t, d, n)
		if _, err := fmt.Sscanf(eval[string](t, d, `window.__ember.color("steady")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || b != 255 || r >= 255 {
			t.Errorf("steady in the normalized diff: rgb(%d,%d,%d) %v, want blue", r, g, b, err)
		}
		if eval[bool](t, d, `window.__pwned !== undefined`) {
			t.Error("script ran")
		}
		if e := eval[string](t, d, `window.__ember.error`); e != "" {
			t.Errorf("page error %q", e)
		}
	})
}

// TestBrowserNarrow: frames too narrow for the whole view are merged, and
// zooming into their caller fetches its own view and draws them; the
// search share counts them all the same.
func TestBrowserNarrow(t *testing.T) {
	s := New()
	s.Add("narrow", narrowProfile())
	srv := httptest.NewServer(s)
	defer srv.Close()
	inBrowsers(t, func(t *testing.T, d driver) {
		load(t, d, srv.URL+"/")
		if names := eval[[]string](t, d, `window.__ember.names`); slices.Contains(names, "leaf3") || !slices.Contains(names, "big") {
			t.Errorf("whole view drew %q", names)
		}
		if m := eval[float64](t, d, `window.__ember.search("leaf3|leaf7")`); math.Abs(m-8.0/100_040) > 1e-9 {
			t.Errorf("matched share %g, want %g", m, 8.0/100_040)
		}
		eval[bool](t, d, `window.__ember.search("").then(() => true)`)
		if !eval[bool](t, d, `window.__ember.zoomTo("small")`) {
			t.Fatal("small not in the view")
		}
		names := eval[[]string](t, d, `window.__ember.names`)
		for k := range 10 {
			if !slices.Contains(names, fmt.Sprintf("leaf%d", k)) {
				t.Errorf("leaf%d not drawn after zooming into small: %q", k, names)
			}
		}
		if v := eval[int](t, d, `window.__ember.view`); v == 0 || slices.Contains(names, "big") {
			t.Errorf("zoomed into small: view root %d, drew %q", v, names)
		}
		if l, all := rectOf(t, d, "leaf3"), rectOf(t, d, "all"); math.Abs(l.W/all.W-0.1) > 0.01 {
			t.Errorf("leaf3 is %.1f of %.1f pixels, want a tenth", l.W, all.W)
		}
		// Clicking a dimmed caller zooms back out to the whole view.
		n := draws(t, d)
		clickOn(t, d, "main", false)
		waitDraws(t, d, n)
		if names := eval[[]string](t, d, `window.__ember.names`); !slices.Contains(names, "big") || eval[string](t, d, `window.__ember.zoom`) != "main" {
			t.Errorf("after clicking main: drew %q", names)
		}
		if e := eval[string](t, d, `window.__ember.error`); e != "" {
			t.Errorf("page error %q", e)
		}
	})
}

// TestBrowserWidth: the flame graph is redrawn when the canvas's width
// changes without a window resize, as when filtering the top table takes
// away the page's scrollbar (Firefox's scrollbars take room), so that it
// is not stretched and frames are where the pointer finds them.
func TestBrowserWidth(t *testing.T) {
	b := newBuilder()
	for i := range 60 {
		b.add("app", 1, int64(1+i), "main", fmt.Sprintf("fn%02d", i))
	}
	s := New()
	s.Add("x", b.p)
	srv := httptest.NewServer(s)
	defer srv.Close()
	inBrowsers(t, func(t *testing.T, d driver) {
		load(t, d, srv.URL+"/")
		// The canvas's width, its bitmap's in CSS pixels, and all's.
		const widths = `(() => { const c = document.getElementById("canvas"); return [c.clientWidth, c.width / devicePixelRatio, window.__ember.rectOf("all").w] })()`
		same := widths + `.every((w, _, a) => w === a[0])`
		check := func(when string) {
			t.Helper()
			if poll(d, same, 2*time.Second) != nil {
				t.Errorf("%s: the canvas, its bitmap and all are %v pixels wide (the page %g)", when,
					eval[[]float64](t, d, widths), eval[float64](t, d, `document.documentElement.clientWidth`))
			}
		}
		check("loaded")
		if err := d.typeInto("#topfilter", "fn07"); err != nil {
			t.Fatal(err)
		}
		check("top table filtered")
	})
}

// TestBrowserSandwich: the top table's button shows a function's callers
// above it and its callees below, merged over every place it occurs, and
// Shift+click on a frame does the same.
func TestBrowserSandwich(t *testing.T) {
	s := New()
	s.Add("x", newBuilder().
		add("app", 1, 5, "main", "a", "lock", "futex").
		add("app", 1, 3, "main", "b", "lock", "spin").
		add("app", 1, 12, "main", "c").p)
	srv := httptest.NewServer(s)
	defer srv.Close()
	inBrowsers(t, func(t *testing.T, d driver) {
		load(t, d, srv.URL+"/")
		// The button on lock's row of the top table.
		eval[bool](t, d, `(() => { for (const tr of document.querySelectorAll("#top tbody tr")) if (tr.firstChild.textContent === "lock") { tr.querySelector("button").click(); return true } return false })()`)
		if err := poll(d, `window.__ember.sandwich && window.__ember.sandwich.fn === "lock"`, 5*time.Second); err != nil {
			t.Fatalf("no sandwich drawn: %v", err)
		}
		type sw struct {
			Fn      string   `json:"fn"`
			Callers []string `json:"callers"`
			Callees []string `json:"callees"`
		}
		got := eval[sw](t, d, `window.__ember.sandwich`)
		if !slices.Equal(got.Callers[:1], []string{"lock"}) || !slices.Contains(got.Callers, "a") || !slices.Contains(got.Callers, "b") || !slices.Contains(got.Callers, "app") || slices.Contains(got.Callers, "c") || slices.Contains(got.Callers, "futex") {
			t.Errorf("callers drew %q", got.Callers)
		}
		if !slices.Equal(got.Callees[:1], []string{"lock"}) || !slices.Contains(got.Callees, "futex") || !slices.Contains(got.Callees, "spin") || slices.Contains(got.Callees, "main") {
			t.Errorf("callees drew %q", got.Callees)
		}
		if eval[string](t, d, `document.getElementById("swname").textContent`) != "lock" || eval[bool](t, d, `document.getElementById("sandwich").classList.contains("hide")`) {
			t.Error("sandwich section not shown")
		}
		// lock is at the bottom of the callers and the top of the callees:
		// the two meet at the function.
		if h := eval[float64](t, d, `document.getElementById("callers").clientHeight`); h != 16*4 {
			t.Errorf("callers canvas %g pixels high, want 4 rows (lock a main app)", h)
		}
		artefact(t, d, "web-sandwich.png")

		// A click zooms a pane: into a, lock's caller through a only.
		type zoomed struct {
			Callers     []string `json:"callers"`
			CallersZoom string   `json:"callersZoom"`
			CalleesZoom string   `json:"calleesZoom"`
		}
		clickIn(t, d, "callers", "a", false)
		if err := poll(d, `window.__ember.sandwich.callersZoom === "a"`, 5*time.Second); err != nil {
			t.Fatalf("click on a in the callers: not zoomed: %v", err)
		}
		z := eval[zoomed](t, d, `window.__ember.sandwich`)
		if slices.Contains(z.Callers, "b") || !slices.Contains(z.Callers, "app") || z.CalleesZoom != "" {
			t.Errorf("callers zoomed to a: %+v", z)
		}
		if a, w := rectIn(t, d, "callers", "a"), eval[float64](t, d, `document.getElementById("callers").clientWidth`); math.Abs(a.W-w) > 1 {
			t.Errorf("zoomed: a is %.1f of %.1f pixels wide, want all of it", a.W, w)
		}
		// A click on lock, below it, zooms back out.
		clickIn(t, d, "callers", "lock", false)
		if err := poll(d, `window.__ember.sandwich.callersZoom === "" && window.__ember.sandwich.callers.includes("b")`, 5*time.Second); err != nil {
			t.Errorf("click on lock: not zoomed out: %v", err)
		}
		// Shift+click in a pane re-centres the sandwich on that function.
		clickIn(t, d, "callees", "spin", true)
		if err := poll(d, `window.__ember.sandwich.fn === "spin"`, 5*time.Second); err != nil {
			t.Fatalf("Shift+click on spin in the callees: %v", err)
		}
		if got := eval[sw](t, d, `window.__ember.sandwich`); !slices.Equal(got.Callees, []string{"spin"}) || !slices.Contains(got.Callers, "b") || slices.Contains(got.Callers, "a") {
			t.Errorf("spin sandwich: %+v", got)
		}

		// Esc closes it; Shift+click on futex in the flame graph opens its own.
		keys(t, d, "\x1b")
		if !eval[bool](t, d, `document.getElementById("sandwich").classList.contains("hide")`) {
			t.Error("Esc did not close the sandwich")
		}
		clickOn(t, d, "futex", true)
		if err := poll(d, `window.__ember.sandwich && window.__ember.sandwich.fn === "futex"`, 5*time.Second); err != nil {
			t.Fatalf("Shift+click: no sandwich of futex: %v", err)
		}
		if got := eval[sw](t, d, `window.__ember.sandwich`); !slices.Equal(got.Callees, []string{"futex"}) || !slices.Contains(got.Callers, "lock") {
			t.Errorf("futex sandwich: %+v", got)
		}
		if z := eval[string](t, d, `window.__ember.zoom`); z != "" {
			t.Errorf("Shift+click zoomed to %q", z)
		}
	})
}

// TestBrowserLive: a web.Live page shows a function from a new interval
// profile within 5 s, without a reload.
func TestBrowserLive(t *testing.T) {
	inBrowsers(t, func(t *testing.T, d driver) {
		l, err := StartLive(":0", "profile", io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		l.Each(newBuilder().add("app", 1, 3, "main", "first").p)
		load(t, d, l.URL())
		eval[bool](t, d, `window.__reloaded = false, true`)
		l.Each(newBuilder().add("spinner", 2, 5, "main", "spin_new").p)
		start := time.Now()
		if err := poll(d, `window.__ember.names.includes("spin_new")`, 5*time.Second); err != nil {
			t.Fatalf("spin_new not drawn within 5 s: %v; drawn %q", err, eval[[]string](t, d, `window.__ember.names`))
		}
		t.Logf("new function drawn after %v", time.Since(start))
		if eval[bool](t, d, `window.__reloaded !== false`) || !slices.Contains(eval[[]string](t, d, `window.__ember.names`), "first") {
			t.Error("the page reloaded or lost the first interval")
		}
		if !strings.Contains(eval[string](t, d, `document.getElementById("live").textContent`), "live") {
			t.Error("not marked live")
		}
	})
}

// TestBrowserWall: a wall profile shown by its wall type colours a frame
// that was all on-CPU warm and one that was all blocked blue, with a
// legend, and the tooltip gives the split; its cpu type is the plain
// flame graph again.
func TestBrowserWall(t *testing.T) {
	p := wallBuilder().
		oncpu(600_000_000, "main", "compute").
		blocked(300_000_000, "main", "io", "read").
		oncpu(100_000_000, "main", "io", "parse").p
	s := New()
	s.Add("wall.pb.gz", p)
	srv := httptest.NewServer(s)
	defer srv.Close()
	inBrowsers(t, func(t *testing.T, d driver) {
		load(t, d, srv.URL+"/")
		rgbOf := func(name string) (r, g, b int) {
			t.Helper()
			c := eval[string](t, d, `window.__ember.color(`+strconvQuote(name)+`)`)
			if _, err := fmt.Sscanf(c, "rgb(%d,%d,%d)", &r, &g, &b); err != nil {
				t.Fatalf("%s: colour %q: %v", name, c, err)
			}
			return r, g, b
		}
		// flamegraph.pl's hot palette: red 205-255, blue under 56.
		if r, g, b := rgbOf("compute"); r < 205 || b > 55 || g > 230 {
			t.Errorf("compute, all on-CPU: rgb(%d,%d,%d), want warm", r, g, b)
		}
		// Its io palette: red = green 80-140, blue 190-245.
		if r, g, b := rgbOf("read"); r != g || r < 80 || r > 140 || b < 190 {
			t.Errorf("read, all blocked: rgb(%d,%d,%d), want blue", r, g, b)
		}
		// io, a quarter on-CPU: between the two, bluer than warm.
		if r, g, b := rgbOf("io"); b <= 55 || r < 80 || b < r-60 {
			t.Errorf("io, 25%% on-CPU: rgb(%d,%d,%d), want a blend", r, g, b)
		}
		if !eval[bool](t, d, `window.__ember.wallMode && !document.getElementById("walllegend").classList.contains("hide")`) {
			t.Error("wall mode on, legend not shown")
		}
		artefact(t, d, "web-wall.png")

		hover := func(name string) string {
			t.Helper()
			pointAt(t, d, name, 0)
			return eval[string](t, d, `document.getElementById("tip").textContent`)
		}
		if tip := hover("io"); !strings.HasPrefix(tip, "io\n400.00 ms (40.00% of all)") || !strings.HasSuffix(tip, "\non-CPU 25% · blocked 75%") {
			t.Errorf("io tooltip %q", tip)
		}
		if tip := hover("read"); !strings.HasSuffix(tip, "\non-CPU 0% · blocked 100%") {
			t.Errorf("read tooltip %q", tip)
		}
		if tip := hover("compute"); !strings.HasSuffix(tip, "\non-CPU 100% · blocked 0%") {
			t.Errorf("compute tooltip %q", tip)
		}

		// The cpu type alone: the plain hot palette, no legend, no split.
		eval[bool](t, d, `window.__ember.setType("cpu").then(() => true)`)
		if r, g, b := rgbOf("compute"); r < 205 || b > 55 {
			t.Errorf("compute by cpu: rgb(%d,%d,%d)", r, g, b)
		}
		if eval[bool](t, d, `window.__ember.wallMode || !document.getElementById("walllegend").classList.contains("hide")`) {
			t.Error("cpu type: wall mode or its legend still on")
		}
		if tip := hover("compute"); strings.Contains(tip, "on-CPU") {
			t.Errorf("cpu type tooltip %q", tip)
		}
		if e := eval[string](t, d, `window.__ember.error`); e != "" {
			t.Errorf("page error %q", e)
		}
	})
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
