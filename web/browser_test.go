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
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// findBrowser returns a Chromium to drive, skipping the test if there is none
// unless EMBER_REQUIRE_BROWSER=1 (as in CI), where it fails instead.
func findBrowser(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EMBER_REQUIRE_BROWSER") == "1" {
		tb.Fatal("no chromium found and EMBER_REQUIRE_BROWSER=1 (apt-get install -y chromium)")
	}
	tb.Skip("no chromium found (apt-get install -y chromium); set EMBER_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// browser starts a headless Chromium and returns a context for a tab in it.
func browser(tb testing.TB) context.Context {
	path := findBrowser(tb)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
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
		tb.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

func eval[T any](tb testing.TB, ctx context.Context, js string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitDraws waits until the page has drawn more than n times and is idle.
func waitDraws(tb testing.TB, ctx context.Context, n int) {
	tb.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`window.__ember && window.__ember.ready && window.__ember.draws > %d`, n),
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		tb.Fatalf("page did not draw: %v (error shown: %q)", err, eval[string](tb, ctx, `window.__ember ? window.__ember.error : "no hook"`))
	}
}

func draws(tb testing.TB, ctx context.Context) int { return eval[int](tb, ctx, `window.__ember.draws`) }

type rect struct{ X, Y, W, H float64 }

func rectOf(tb testing.TB, ctx context.Context, name string) rect {
	tb.Helper()
	b, _ := json.Marshal(name)
	r := eval[*rect](tb, ctx, `window.__ember.rectOf(`+string(b)+`)`)
	if r == nil {
		tb.Fatalf("%q not drawn; drawn: %q", name, eval[[]string](tb, ctx, `window.__ember.names`))
	}
	return *r
}

// artefact saves a screenshot where EMBER_ARTIFACTS says, or in the test's
// temporary directory, and logs where.
func artefact(t *testing.T, ctx context.Context, name string) {
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("EMBER_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", p)
}

const hostile = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`

// TestBrowser loads the page in headless Chromium and checks what it
// draws: frames, zoom, search share, the top table, the tooltip, sample
// types, the process filter, the diff colours and a hostile name.
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

	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, 0)
	names := eval[[]string](t, ctx, `window.__ember.names`)
	for _, want := range []string{"all", "app", "main", "work", "grow", "steady", "shrink", "other", hostile} {
		if !slices.Contains(names, want) {
			t.Errorf("%q not drawn; drawn %q", want, names)
		}
	}
	all, work := rectOf(t, ctx, "all"), rectOf(t, ctx, "work")
	if math.Abs(work.W/all.W-80.0/100) > 0.01 {
		t.Errorf("work is %.1f of %.1f pixels wide, want 80%%", work.W, all.W)
	}
	artefact(t, ctx, "web-flamegraph.png")

	// The hostile name is drawn and listed as text, and nothing ran.
	if eval[bool](t, ctx, `window.__pwned !== undefined || document.querySelectorAll("script").length !== 1 || document.querySelector("img") !== null`) {
		t.Error("a frame name ran script or became markup")
	}
	cells := eval[[]string](t, ctx, `[...document.querySelectorAll("#top tbody td:first-child")].map(td => td.textContent)`)
	if !slices.Contains(cells, hostile) {
		t.Errorf("hostile name not in the top table as text: %q", cells)
	}

	// The top table: grow has the most self time (58 of 100).
	if len(cells) == 0 || cells[0] != "grow" {
		t.Errorf("top table starts %q, want grow", cells)
	}
	self := eval[string](t, ctx, `document.querySelector("#top tbody tr td:nth-child(3)").textContent`)
	if self != "58.00%" {
		t.Errorf("grow's self share %q, want 58.00%%", self)
	}
	// Sorting by name, and filtering.
	eval[bool](t, ctx, `document.querySelector('#top th[data-key="name"]').click(), true`)
	if first := eval[string](t, ctx, `document.querySelector("#top tbody td").textContent`); first != hostile {
		t.Errorf("sorted by name, first %q", first)
	}
	eval[bool](t, ctx, `(() => { const f = document.getElementById("topfilter"); f.value = "STEA"; f.dispatchEvent(new Event("input")); return true })()`)
	if rows := eval[[]string](t, ctx, `[...document.querySelectorAll("#top tbody td:first-child")].map(td => td.textContent)`); !slices.Equal(rows, []string{"steady"}) {
		t.Errorf("filtered top table %q, want steady", rows)
	}

	// Hover: the tooltip names the frame, its value and share, as text.
	h := rectOf(t, ctx, hostile)
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, h.X+h.W/2, h.Y+h.H/2)); err != nil {
		t.Fatal(err)
	}
	tip := eval[string](t, ctx, `document.getElementById("tip").textContent`)
	if !strings.HasPrefix(tip, hostile+"\n20.00 ms (2.00% of all)") {
		t.Errorf("tooltip %q", tip)
	}

	// Search: the matched share counts each sample once.
	n := draws(t, ctx)
	if err := chromedp.Do(ctx, chromedp.SendKeys("#search", "grow|work")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, n)
	// Each key typed asks the server for the share; wait for the last.
	chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("matched").textContent.startsWith("Matched: 88.00%")`, chromedp.WithPollingTimeout(5*time.Second)))
	if m := eval[string](t, ctx, `document.getElementById("matched").textContent`); !strings.HasPrefix(m, "Matched: 88.00%") {
		t.Errorf("matched %q, want 88.00%% (work 80 + other;grow 8)", m)
	}
	if c := eval[string](t, ctx, `window.__ember.color("grow")`); c != "rgb(230,0,230)" {
		t.Errorf("matched frame colour %q", c)
	}

	// Click to zoom into work: its children fill the width, siblings go.
	w := rectOf(t, ctx, "work")
	n = draws(t, ctx)
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(w.X+w.W/2, w.Y+w.H/2)); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, n)
	names = eval[[]string](t, ctx, `window.__ember.names`)
	if z := eval[string](t, ctx, `window.__ember.zoom`); z != "work" || slices.Contains(names, "shrink") || !slices.Contains(names, "main") {
		t.Errorf("zoomed to %q, drawn %q", z, names)
	}
	if g, all := rectOf(t, ctx, "grow"), rectOf(t, ctx, "all"); math.Abs(g.W/all.W-50.0/80) > 0.01 {
		t.Errorf("zoomed: grow %.1f of %.1f pixels, want 50/80", g.W, all.W)
	}
	// Reset with the keyboard (Esc clears the search first, then r).
	n = draws(t, ctx)
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b"), chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`), chromedp.KeyEvent("r")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, n+1)
	if z := eval[string](t, ctx, `window.__ember.zoom`); z != "" || !slices.Contains(eval[[]string](t, ctx, `window.__ember.names`), "shrink") {
		t.Errorf("after r: zoom %q", z)
	}
	if m := eval[string](t, ctx, `document.getElementById("matched").textContent`); m != "" {
		t.Errorf("after Esc: matched %q", m)
	}
	if !strings.Contains(eval[string](t, ctx, `document.getElementById("keys").textContent`), "reset zoom") {
		t.Error("keyboard shortcuts not shown")
	}

	// Sample types: samples counts, cpu is time.
	eval[bool](t, ctx, `window.__ember.setType("samples").then(() => true)`)
	h = rectOf(t, ctx, hostile)
	chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, h.X+h.W/2, h.Y+h.H/2+1))
	if tip := eval[string](t, ctx, `document.getElementById("tip").textContent`); !strings.HasPrefix(tip, hostile+"\n2 (2.00% of all)") {
		t.Errorf("samples tooltip %q", tip)
	}

	// The process filter: pid 11 has only main;other;grow.
	opts := eval[[]string](t, ctx, `[...document.querySelectorAll("#process option")].map(o => o.value)`)
	if !slices.Contains(opts, "pid:11") || !slices.Contains(opts, "comm:app") {
		t.Errorf("process options %q", opts)
	}
	eval[bool](t, ctx, `window.__ember.setProcess("pid:11").then(() => true)`)
	names = eval[[]string](t, ctx, `window.__ember.names`)
	if !slices.Contains(names, "other") || slices.Contains(names, "work") {
		t.Errorf("pid 11 drew %q", names)
	}
	eval[bool](t, ctx, `window.__ember.setProcess("").then(() => true)`)
	// The thread filter (tid labels; the builder gives tid = pid) and the
	// SVG link follow the filters.
	if th := eval[[]string](t, ctx, `[...document.querySelectorAll("#thread option")].map(o => o.value)`); !slices.Contains(th, "11") {
		t.Errorf("thread options %q", th)
	}
	eval[bool](t, ctx, `window.__ember.setThread("11").then(() => true)`)
	if names := eval[[]string](t, ctx, `window.__ember.names`); !slices.Contains(names, "other") || slices.Contains(names, "work") {
		t.Errorf("tid 11 drew %q", names)
	}
	if href := eval[string](t, ctx, `document.getElementById("dlsvg").getAttribute("href")`); !strings.Contains(href, "format=svg") || !strings.Contains(href, "tid=11") {
		t.Errorf("svg link %q", href)
	}
	eval[bool](t, ctx, `window.__ember.setThread("").then(() => true)`)

	// The diff against before: grow's own samples grew (red), shrink's
	// shrank (blue), steady is white.
	eval[bool](t, ctx, `window.__ember.setBase(1).then(() => true)`)
	var r, g, b int
	if _, err := fmt.Sscanf(eval[string](t, ctx, `window.__ember.color("grow")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || r != 255 || g >= 200 || g != b {
		t.Errorf("grow in the diff: rgb(%d,%d,%d) %v, want red", r, g, b, err)
	}
	if _, err := fmt.Sscanf(eval[string](t, ctx, `window.__ember.color("shrink")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || b != 255 || r >= 200 || r != g {
		t.Errorf("shrink in the diff: rgb(%d,%d,%d) %v, want blue", r, g, b, err)
	}
	if c := eval[string](t, ctx, `window.__ember.color("steady")`); c != "rgb(255,255,255)" {
		t.Errorf("steady in the diff: %s, want white", c)
	}
	artefact(t, ctx, "web-diff.png")
	// Scaled as -n does (before 82 to after's 100), steady's 30 shrank.
	n = draws(t, ctx)
	eval[bool](t, ctx, `document.getElementById("normalize").click(), true`)
	waitDraws(t, ctx, n)
	if _, err := fmt.Sscanf(eval[string](t, ctx, `window.__ember.color("steady")`), "rgb(%d,%d,%d)", &r, &g, &b); err != nil || b != 255 || r >= 255 {
		t.Errorf("steady in the normalized diff: rgb(%d,%d,%d) %v, want blue", r, g, b, err)
	}
	if eval[bool](t, ctx, `window.__pwned !== undefined`) {
		t.Error("script ran")
	}
	if e := eval[string](t, ctx, `window.__ember.error`); e != "" {
		t.Errorf("page error %q", e)
	}
}

// TestBrowserNarrow: frames too narrow for the whole view are merged, and
// zooming into their caller fetches its own view and draws them; the
// search share counts them all the same.
func TestBrowserNarrow(t *testing.T) {
	s := New()
	s.Add("narrow", narrowProfile())
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, 0)
	if names := eval[[]string](t, ctx, `window.__ember.names`); slices.Contains(names, "leaf3") || !slices.Contains(names, "big") {
		t.Errorf("whole view drew %q", names)
	}
	if m := eval[float64](t, ctx, `window.__ember.search("leaf3|leaf7")`); math.Abs(m-8.0/100_040) > 1e-9 {
		t.Errorf("matched share %g, want %g", m, 8.0/100_040)
	}
	eval[bool](t, ctx, `window.__ember.search("").then(() => true)`)
	if !eval[bool](t, ctx, `window.__ember.zoomTo("small")`) {
		t.Fatal("small not in the view")
	}
	names := eval[[]string](t, ctx, `window.__ember.names`)
	for k := range 10 {
		if !slices.Contains(names, fmt.Sprintf("leaf%d", k)) {
			t.Errorf("leaf%d not drawn after zooming into small: %q", k, names)
		}
	}
	if v := eval[int](t, ctx, `window.__ember.view`); v == 0 || slices.Contains(names, "big") {
		t.Errorf("zoomed into small: view root %d, drew %q", v, names)
	}
	if l, all := rectOf(t, ctx, "leaf3"), rectOf(t, ctx, "all"); math.Abs(l.W/all.W-0.1) > 0.01 {
		t.Errorf("leaf3 is %.1f of %.1f pixels, want a tenth", l.W, all.W)
	}
	// Clicking a dimmed caller zooms back out to the whole view.
	m := rectOf(t, ctx, "main")
	n := draws(t, ctx)
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(m.X+m.W/2, m.Y+m.H/2)); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, n)
	if names := eval[[]string](t, ctx, `window.__ember.names`); !slices.Contains(names, "big") || eval[string](t, ctx, `window.__ember.zoom`) != "main" {
		t.Errorf("after clicking main: drew %q", names)
	}
	if e := eval[string](t, ctx, `window.__ember.error`); e != "" {
		t.Errorf("page error %q", e)
	}
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
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, 0)
	// The button on lock's row of the top table.
	eval[bool](t, ctx, `(() => { for (const tr of document.querySelectorAll("#top tbody tr")) if (tr.firstChild.textContent === "lock") { tr.querySelector("button").click(); return true } return false })()`)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__ember.sandwich && window.__ember.sandwich.fn === "lock"`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("no sandwich drawn: %v", err)
	}
	type sw struct {
		Fn      string   `json:"fn"`
		Callers []string `json:"callers"`
		Callees []string `json:"callees"`
	}
	got := eval[sw](t, ctx, `window.__ember.sandwich`)
	if !slices.Equal(got.Callers[:1], []string{"lock"}) || !slices.Contains(got.Callers, "a") || !slices.Contains(got.Callers, "b") || !slices.Contains(got.Callers, "app") || slices.Contains(got.Callers, "c") || slices.Contains(got.Callers, "futex") {
		t.Errorf("callers drew %q", got.Callers)
	}
	if !slices.Equal(got.Callees[:1], []string{"lock"}) || !slices.Contains(got.Callees, "futex") || !slices.Contains(got.Callees, "spin") || slices.Contains(got.Callees, "main") {
		t.Errorf("callees drew %q", got.Callees)
	}
	if eval[string](t, ctx, `document.getElementById("swname").textContent`) != "lock" || eval[bool](t, ctx, `document.getElementById("sandwich").classList.contains("hide")`) {
		t.Error("sandwich section not shown")
	}
	// lock is at the bottom of the callers and the top of the callees:
	// the two meet at the function.
	if h := eval[float64](t, ctx, `document.getElementById("callers").clientHeight`); h != 16*4 {
		t.Errorf("callers canvas %g pixels high, want 4 rows (lock a main app)", h)
	}
	artefact(t, ctx, "web-sandwich.png")
	// Esc closes it; Shift+click on futex in the flame graph opens its own.
	chromedp.Do(ctx, chromedp.KeyEvent("\x1b"))
	if !eval[bool](t, ctx, `document.getElementById("sandwich").classList.contains("hide")`) {
		t.Error("Esc did not close the sandwich")
	}
	f := rectOf(t, ctx, "futex")
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(f.X+f.W/2, f.Y+f.H/2, chromedp.ButtonModifiers(chromedp.ModifierShift))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__ember.sandwich && window.__ember.sandwich.fn === "futex"`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("Shift+click: no sandwich of futex: %v", err)
	}
	if got := eval[sw](t, ctx, `window.__ember.sandwich`); !slices.Equal(got.Callees, []string{"futex"}) || !slices.Contains(got.Callers, "lock") {
		t.Errorf("futex sandwich: %+v", got)
	}
	if z := eval[string](t, ctx, `window.__ember.zoom`); z != "" {
		t.Errorf("Shift+click zoomed to %q", z)
	}
}

// TestBrowserLive: a web.Live page shows a function from a new interval
// profile within 5 s, without a reload.
func TestBrowserLive(t *testing.T) {
	l, err := StartLive(":0", "profile", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Each(newBuilder().add("app", 1, 3, "main", "first").p)
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(l.URL())); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, 0)
	eval[bool](t, ctx, `window.__reloaded = false, true`)
	l.Each(newBuilder().add("spinner", 2, 5, "main", "spin_new").p)
	start := time.Now()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.__ember.names.includes("spin_new")`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("spin_new not drawn within 5 s: %v; drawn %q", err, eval[[]string](t, ctx, `window.__ember.names`))
	}
	t.Logf("new function drawn after %v", time.Since(start))
	if eval[bool](t, ctx, `window.__reloaded !== false`) || !slices.Contains(eval[[]string](t, ctx, `window.__ember.names`), "first") {
		t.Error("the page reloaded or lost the first interval")
	}
	if !strings.Contains(eval[string](t, ctx, `document.getElementById("live").textContent`), "live") {
		t.Error("not marked live")
	}
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
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitDraws(t, ctx, 0)
	rgbOf := func(name string) (r, g, b int) {
		t.Helper()
		c := eval[string](t, ctx, `window.__ember.color(`+strconvQuote(name)+`)`)
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
	if !eval[bool](t, ctx, `window.__ember.wallMode && !document.getElementById("walllegend").classList.contains("hide")`) {
		t.Error("wall mode on, legend not shown")
	}
	artefact(t, ctx, "web-wall.png")

	hover := func(name string) string {
		t.Helper()
		r := rectOf(t, ctx, name)
		if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, r.X+r.W/2, r.Y+r.H/2)); err != nil {
			t.Fatal(err)
		}
		return eval[string](t, ctx, `document.getElementById("tip").textContent`)
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
	eval[bool](t, ctx, `window.__ember.setType("cpu").then(() => true)`)
	if r, g, b := rgbOf("compute"); r < 205 || b > 55 {
		t.Errorf("compute by cpu: rgb(%d,%d,%d)", r, g, b)
	}
	if eval[bool](t, ctx, `window.__ember.wallMode || !document.getElementById("walllegend").classList.contains("hide")`) {
		t.Error("cpu type: wall mode or its legend still on")
	}
	if tip := hover("compute"); strings.Contains(tip, "on-CPU") {
		t.Errorf("cpu type tooltip %q", tip)
	}
	if e := eval[string](t, ctx, `window.__ember.error`); e != "" {
		t.Errorf("page error %q", e)
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
