package flamegraph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// findBrowser returns a Chromium to drive, skipping the test if there is none
// unless EMBER_REQUIRE_BROWSER=1 (as in CI), where it fails instead.
func findBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EMBER_REQUIRE_BROWSER") == "1" {
		t.Fatal("no chromium found and EMBER_REQUIRE_BROWSER=1 (apt-get install -y chromium)")
	}
	t.Skip("no chromium found (apt-get install -y chromium); set EMBER_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// browser starts a headless Chromium and returns a context for a tab in it.
func browser(t *testing.T) context.Context {
	path := findBrowser(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Start the browser now, without a deadline: a timeout on the first
	// action would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// viewState is what the test reads back from the page.
type viewState struct {
	Matched   string            `json:"matched"`
	Hidden    bool              `json:"matchedHidden"`
	Search    string            `json:"search"`
	Unzoom    bool              `json:"unzoomHidden"`
	Highlight []string          `json:"highlighted"`
	Rects     map[string]string `json:"rects"`   // frame name -> "x width"
	Classes   map[string]string `json:"classes"` // frame name -> class
	Labels    map[string]string `json:"labels"`
	Query     string            `json:"query"`
	IC        string            `json:"ic"`
}

const readState = `(() => {
	const s = {rects: {}, classes: {}, labels: {}, highlighted: []};
	const m = document.getElementById("matched");
	s.matched = m.textContent;
	s.matchedHidden = m.classList.contains("hide");
	s.search = document.getElementById("search").textContent;
	s.unzoomHidden = document.getElementById("unzoom").classList.contains("hide");
	s.query = window.location.search;
	s.ic = document.getElementById("ignorecase").getAttribute("class") || "";
	for (const r of document.querySelectorAll("#frames rect")) {
		const t = r.getAttribute("data-title");
		const name = t.substring(0, t.lastIndexOf(" ("));
		s.rects[name] = r.getAttribute("x") + " " + r.getAttribute("width");
		s.classes[name] = r.getAttribute("class") || "";
		const text = r.nextElementSibling;
		s.labels[name] = text && text.nodeName === "text" ? text.textContent : "";
		if (text && text.nodeName === "text" && (text.getAttribute("class") || "") !== s.classes[name]) {
			s.classes[name] += " (label: " + text.getAttribute("class") + ")";
		}
		if (r.getAttribute("fill") === "rgb(230,0,230)") s.highlighted.push(name);
	}
	return JSON.stringify(s);
})()`

func state(t *testing.T, ctx context.Context) viewState {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](readState))
	if err != nil {
		t.Fatalf("read page state: %v", err)
	}
	var s viewState
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// clickFrame clicks the middle of the frame named name, as a user would:
// over its label, if it has one.
func clickFrame(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	xy := middle(t, ctx, name, "r")
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatalf("click %q: %v", name, err)
	}
}

// hoverLabel moves the mouse over the middle of the label of the frame named
// name.
func hoverLabel(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	xy := middle(t, ctx, name, "r.nextElementSibling")
	if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, xy[0], xy[1])); err != nil {
		t.Fatalf("hover %q: %v", name, err)
	}
}

// middle returns the middle of an element of the frame named name: the
// expression elem of its rect r.
func middle(t *testing.T, ctx context.Context, name, elem string) []float64 {
	t.Helper()
	js := `(() => {
		for (const r of document.querySelectorAll("#frames rect")) {
			if (r.getAttribute("data-title").startsWith(` + jsString(name+" (") + `)) {
				const b = (` + elem + `).getBoundingClientRect();
				return [b.x + b.width / 2, b.y + b.height / 2];
			}
		}
		return null;
	})()`
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](js))
	if err != nil || len(xy) != 2 {
		t.Fatalf("find frame %q: %v %v", name, xy, err)
	}
	return xy
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowser opens a graph in headless Chromium, searches it through the
// Ctrl-F prompt, reads the matched share, zooms with a click, reloads the
// URL the state was saved in, and resets.
func TestBrowser(t *testing.T) {
	in, err := os.ReadFile("testdata/basic.folded")
	if err != nil {
		t.Fatal(err)
	}
	// A name that needs escaping, to check the script reads names back.
	folded := string(in) + "bash;main;a<b>&\"c\" 2\n"
	var svg bytes.Buffer
	tr := NewTree(TreeOptions{})
	tr.ReadFolded(strings.NewReader(folded))
	if err := tr.WriteSVG(&svg, SVGOptions{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(svg.Bytes())
	}))
	defer srv.Close()

	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// Answer the search prompt the way a user would type the regexp.
	prompts := chromedp.Events(ctx, page.JavascriptDialogOpening)
	answers := make(chan string, 4)
	go func() {
		for ev, err := range prompts {
			if err != nil {
				return
			}
			if ev.Type != page.DialogTypePrompt {
				continue
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: <-answers})
		}
	}()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/cpu.svg")); err != nil {
		t.Fatal(err)
	}
	s := state(t, ctx)
	if !s.Hidden || !s.Unzoom || s.Rects["all"] != "10 1180" {
		t.Fatalf("initial state: %+v", s)
	}
	initial := s

	// Hovering shows the details and adds the native tooltip the SVG leaves
	// out; over a label, it is the frame under it that is hovered.
	for _, name := range []string{"waitpid", "readline"} {
		hoverLabel(t, ctx, name)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.getElementById("details").textContent, (document.querySelector("#frames rect:hover > title") || {}).textContent || ""]`))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Function: " + name + " (", name + " ("}
		if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
			t.Errorf("hover over %s: details and tooltip %q, want them to start %q", name, got, want)
		}
	}

	// Search with Ctrl-F: execute_command (65 of 204 samples) contains fork
	// (40), which must not count twice; <b> matches the escaped frame (2).
	answers <- "execute_command|fork|<b>"
	if err := chromedp.Do(ctx, chromedp.KeyEvent("f", chromedp.KeyModifiers(kb.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	s = state(t, ctx)
	if s.Matched != "Matched: 32.8%" || s.Hidden || s.Search != "Reset Search" {
		t.Errorf("after search: matched %q (hidden %v), button %q; want Matched: 32.8%%", s.Matched, s.Hidden, s.Search)
	}
	if got := strings.Join(s.Highlight, ","); got != `a<b>&"c",execute_command,fork` {
		t.Errorf("highlighted %q", got)
	}
	if !strings.Contains(s.Query, "s=execute_command%7Cfork%7C%3Cb%3E") {
		t.Errorf("search not in the URL: %q", s.Query)
	}

	// Click to zoom into execute_command.
	clickFrame(t, ctx, "execute_command")
	s = state(t, ctx)
	if s.Rects["execute_command"] != "10.00 1180.00" {
		t.Errorf("zoomed frame at %q, want full width", s.Rects["execute_command"])
	}
	if s.Rects["fork"] != "10.00 726.15" { // 40 of 65 samples
		t.Errorf("child fork at %q, want 10.00 726.15", s.Rects["fork"])
	}
	if s.Classes["main"] != "parent" || s.Classes["readline"] != "hide" || s.Classes["java"] != "hide" {
		t.Errorf("classes after zoom: %v", s.Classes)
	}
	if s.Labels["waitpid"] != "waitpid" || s.Unzoom {
		t.Errorf("labels after zoom: %v; reset button hidden: %v", s.Labels, s.Unzoom)
	}
	if s.Matched != "Matched: 100%" {
		t.Errorf("matched after zoom: %q, want 100%%", s.Matched)
	}
	if !strings.Contains(s.Query, "x=") || !strings.Contains(s.Query, "y=") {
		t.Errorf("zoom not in the URL: %q", s.Query)
	}

	// The URL brings the same view back.
	url := srv.URL + "/cpu.svg" + s.Query
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	r := state(t, ctx)
	if r.Rects["fork"] != s.Rects["fork"] || r.Matched != s.Matched || r.Classes["readline"] != "hide" {
		t.Errorf("reloaded %s: fork %q matched %q classes %v", url, r.Rects["fork"], r.Matched, r.Classes)
	}

	// Ctrl-I ignores case; Reset Zoom and Reset Search undo everything.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("i", chromedp.KeyModifiers(kb.ModifierCtrl))); err != nil {
		t.Fatal(err)
	}
	if s = state(t, ctx); s.IC != "show" || !strings.Contains(s.Query, "i=1") {
		t.Errorf("ignore case: class %q, query %q", s.IC, s.Query)
	}
	for _, id := range []string{"unzoom", "search"} {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("`+id+`").dispatchEvent(new MouseEvent("click", {bubbles: true}))`)); err != nil {
			t.Fatal(err)
		}
	}
	s = state(t, ctx)
	if s.Rects["fork"] != initial.Rects["fork"] || s.Classes["readline"] != "" || !s.Hidden || len(s.Highlight) != 0 || !s.Unzoom {
		t.Errorf("after reset: fork %q classes %v matched hidden %v highlighted %v", s.Rects["fork"], s.Classes, s.Hidden, s.Highlight)
	}
	if s.Query != "?i=1" {
		t.Errorf("query after reset %q, want ?i=1", s.Query)
	}
}

// TestBrowserGolden opens each golden SVG and checks that the script runs
// without errors on it: hover, zoom into a frame, search, reset.
func TestBrowserGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/golden/*.svg")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden SVGs: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		http.ServeFile(w, r, filepath.Join("testdata/golden", filepath.Base(r.URL.Path)))
	}))
	defer srv.Close()
	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	exceptions := make(chan string, 100)
	go func() {
		for ev, err := range chromedp.Events(ctx, cdpruntime.ExceptionThrown) {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			exceptions <- fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg)
		}
	}()
	const check = `(() => {
		const rects = document.querySelectorAll("#frames rect[data-title]");
		if (!document.getElementById("frames")) return "no frames (error SVG)";
		if (rects.length < 2) return "only " + rects.length + " frames";
		const rx = getComputedStyle(rects[0]).rx;
		if (rx !== "2px") return "corners: rx " + rx;
		for (const r of rects) {
			if (!(r.getBBox().width > 0)) return "empty frame " + r.getAttribute("data-title");
		}
		const r = rects[rects.length - 1];
		r.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
		if (!document.getElementById("details").textContent.includes(r.getAttribute("data-title"))) return "no details on hover";
		r.dispatchEvent(new MouseEvent("click", {bubbles: true}));
		const full = (parseFloat(document.documentElement.getAttribute("width")) - 20).toFixed(2);
		if (r.getAttribute("width") !== full) return "zoomed frame " + r.getAttribute("width") + " wide, want " + full;
		window.flamegraph.search(".");
		const m = document.getElementById("matched").textContent;
		if (m !== "Matched: 100%") return "search . gave " + m;
		window.flamegraph.resetSearch();
		window.flamegraph.unzoom();
		// A --nameattr link: a plain click zooms and stays on the page.
		const link = document.querySelector("#frames a > rect");
		if (link) {
			const href = location.href;
			link.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true}));
			if (location.href.split("?")[0] !== href.split("?")[0]) return "a click on a link left the page";
			if (link.getAttribute("width") !== full) return "link frame not zoomed: " + link.getAttribute("width");
			window.flamegraph.unzoom();
		}
		return "ok " + rects.length;
	})()`
	for _, p := range paths {
		name := filepath.Base(p)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"+name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](check))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(got, "ok ") && !(name == "empty.svg" && got == "no frames (error SVG)") {
			t.Errorf("%s: %s", name, got)
		}
	}
	// Exceptions are reported asynchronously; give the last one time to come.
	time.Sleep(200 * time.Millisecond)
	for {
		select {
		case e := <-exceptions:
			t.Errorf("script error: %s", e)
			continue
		default:
		}
		break
	}
}

// TestBrowserLoadTime reports how long Chromium takes to open the SVGs
// named in EMBER_FLAMEGRAPH_SVGS (space-separated paths), script included;
// bench/flamegraph.sh sets it. It checks nothing otherwise.
//
// Each SVG is opened EMBER_FLAMEGRAPH_LOADS times (3), in turn, and the
// median and the fastest are reported: the time from setting the location
// (on an empty page) to the first frame the browser renders after the load
// event (so parsing, style, layout, the script's start and the paint of the
// whole graph), and, from the page's navigation timing, when parsing ended
// and when the load event ended.
func TestBrowserLoadTime(t *testing.T) {
	paths := strings.Fields(os.Getenv("EMBER_FLAMEGRAPH_SVGS"))
	if len(paths) == 0 {
		t.Skip("EMBER_FLAMEGRAPH_SVGS not set")
	}
	loads := 3
	if v := os.Getenv("EMBER_FLAMEGRAPH_LOADS"); v != "" {
		if _, err := fmt.Sscan(v, &loads); err != nil || loads < 1 {
			t.Fatalf("EMBER_FLAMEGRAPH_LOADS=%q: want a positive number", v)
		}
	}
	// Served over HTTP: navigations to file: URLs sometimes never report
	// their load here.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blank" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!DOCTYPE html><title>blank</title>"))
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		http.ServeFile(w, r, r.URL.Query().Get("f"))
	}))
	defer srv.Close()
	ctx := browser(t)
	type timing struct{ painted, parsed, loaded float64 }
	times := make([][]timing, len(paths))
	frames := make([]int, len(paths))
	for round := range loads {
		for i, p := range paths {
			tctx, cancel := context.WithTimeout(ctx, 120*time.Second)
			// Start each open from an empty page, untimed, as a new tab
			// would: leaving the previous graph (147,814 frames for the
			// 10k-line input) takes the browser seconds of its own.
			blank := fmt.Sprintf("%s/blank?n=%d.%d", srv.URL, round, i)
			err := chromedp.Do(tctx, chromedp.Evaluate[chromedp.Void](`location.href = `+jsString(blank)))
			for ready := false; err == nil && !ready; {
				time.Sleep(10 * time.Millisecond)
				ready, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`location.href === `+jsString(blank)+` && document.readyState === "complete"`))
			}
			if err == nil {
				// Let the old page's teardown finish before the clock starts.
				_, err = chromedp.Run(tctx, chromedp.Evaluate[string](`new Promise(done => requestAnimationFrame(() => setTimeout(() => done(""), 100)))`, chromedp.EvalAwaitPromise))
			}
			start := time.Now()
			// Set the location and poll for the loaded page: chromedp's
			// Navigate sometimes never saw the load of a large SVG here.
			u := fmt.Sprintf("%s/?n=%d.%d&f=%s", srv.URL, round, i, url.QueryEscape(p))
			if err == nil {
				err = chromedp.Do(tctx, chromedp.Evaluate[chromedp.Void](`location.href = `+jsString(u)))
			}
			loaded := false
			for err == nil && !loaded {
				time.Sleep(10 * time.Millisecond)
				loaded, err = chromedp.Run(tctx, chromedp.Evaluate[bool](`location.href === `+jsString(u)+` && document.readyState === "complete" && performance.getEntriesByType("navigation")[0].loadEventEnd > 0`))
			}
			// Then wait for the next rendered frame: requestAnimationFrame
			// runs before it is drawn, the timeout after.
			var nav []float64
			if err == nil {
				nav, err = chromedp.Run(tctx, chromedp.Evaluate[[]float64](`new Promise(done => requestAnimationFrame(() => setTimeout(() => {
					const n = performance.getEntriesByType("navigation")[0];
					done([document.querySelectorAll("#frames rect").length, n.domInteractive / 1000, n.loadEventEnd / 1000]);
				}, 0)))`, chromedp.EvalAwaitPromise))
			}
			painted := time.Since(start).Seconds()
			cancel()
			if err != nil || len(nav) != 3 {
				t.Fatalf("open %s: %v", p, err)
			}
			frames[i] = int(nav[0])
			times[i] = append(times[i], timing{painted, nav[1], nav[2]})
		}
	}
	for i, p := range paths {
		ts := times[i]
		sorted := func(f func(timing) float64) []float64 {
			v := make([]float64, len(ts))
			for j, x := range ts {
				v[j] = f(x)
			}
			slices.Sort(v)
			return v
		}
		painted := sorted(func(x timing) float64 { return x.painted })
		// The fastest open is the least disturbed by other work on the
		// machine; the median is what a user would more likely see.
		fmt.Printf("browser-load %s %d frames %.2f s (median of %d opens, fastest %.2f s, to the whole graph painted; median parsed %.2f s, load event done %.2f s)\n",
			p, frames[i], painted[len(painted)/2], loads, painted[0],
			sorted(func(x timing) float64 { return x.parsed })[len(ts)/2], sorted(func(x timing) float64 { return x.loaded })[len(ts)/2])
	}
}
