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
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
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
	for (const g of document.getElementById("frames").children) {
		const t = g.querySelector("title").textContent;
		const name = t.substring(0, t.lastIndexOf(" ("));
		const r = g.querySelector("rect");
		s.rects[name] = r.getAttribute("x") + " " + r.getAttribute("width");
		s.classes[name] = g.getAttribute("class") || "";
		const text = g.querySelector("text");
		s.labels[name] = text ? text.textContent : "";
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

// clickFrame clicks the middle of the frame named name, as a user would.
func clickFrame(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	js := `(() => {
		for (const g of document.getElementById("frames").children) {
			if (g.querySelector("title").textContent.startsWith(` + jsString(name+" (") + `)) {
				const b = g.querySelector("rect").getBoundingClientRect();
				return [b.x + b.width / 2, b.y + b.height / 2];
			}
		}
		return null;
	})()`
	xy, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](js))
	if err != nil || len(xy) != 2 {
		t.Fatalf("find frame %q: %v %v", name, xy, err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatalf("click %q: %v", name, err)
	}
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

// TestBrowserLoadTime reports how long Chromium takes to open the SVGs
// named in EMBER_FLAMEGRAPH_SVGS (space-separated paths), script included;
// bench/flamegraph.sh sets it. It checks nothing otherwise.
func TestBrowserLoadTime(t *testing.T) {
	paths := strings.Fields(os.Getenv("EMBER_FLAMEGRAPH_SVGS"))
	if len(paths) == 0 {
		t.Skip("EMBER_FLAMEGRAPH_SVGS not set")
	}
	// Served over HTTP: navigations to file: URLs sometimes never report
	// their load here.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		http.ServeFile(w, r, r.URL.Query().Get("f"))
	}))
	defer srv.Close()
	ctx := browser(t)
	for i, p := range paths {
		tctx, cancel := context.WithTimeout(ctx, 120*time.Second)
		start := time.Now()
		// Set the location and poll for the loaded page: chromedp's Navigate
		// sometimes never saw the load of a large SVG here.
		u := fmt.Sprintf("%s/?n=%d&f=%s", srv.URL, i, url.QueryEscape(p))
		err := chromedp.Do(tctx, chromedp.Evaluate[chromedp.Void](`location.href = `+jsString(u)))
		frames := -1
		for err == nil && frames < 0 {
			time.Sleep(10 * time.Millisecond)
			frames, err = chromedp.Run(tctx, chromedp.Evaluate[int](`(location.href === `+jsString(u)+` && document.readyState === "complete" && document.getElementById("frames")) ? document.getElementById("frames").children.length : -1`))
		}
		cancel()
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		fmt.Printf("browser-load %s %d frames %.2f s\n", p, frames, time.Since(start).Seconds())
	}
}
