// Package browsertest drives Debian's headless chromium from end-to-end
// tests of the dashboard, with chromedp, and keeps the screenshots it takes
// as test artifacts.
//
// Without chromium a test that calls Start is skipped, unless CI=true, where
// it fails: CI must exercise the browser.
package browsertest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package installs the browser.
const Chromium = "/usr/bin/chromium"

// Viewport is the size every tab opens at, in CSS pixels (SetViewport
// changes it).
const (
	ViewportWidth  = DesktopWidth
	ViewportHeight = DesktopHeight
)

// TabTimeout bounds everything done in one tab, so that a wait for an
// element that never comes fails the test instead of hanging it. A
// training session's tabs stay open for its six scenarios, on a machine
// that may be busy.
const TabTimeout = 4 * time.Minute

// ArtifactsEnv names the directory that screenshots go to. Unset, they go to
// artifacts/ at the root of the module (ignored by git).
const ArtifactsEnv = "VIGIL_ARTIFACTS"

// Browser is one headless chromium process for one test.
type Browser struct {
	ctx   context.Context // the browser; tabs are made from it
	dir   string          // this test's artifacts directory
	shots atomic.Int32    // screenshots taken, to number them in order
	log   *lockedBuffer   // chromium's output and chromedp's errors
}

// Start launches chromium for t and stops it when t ends. When chromium is
// not installed it skips t, or fails it when CI=true.
func Start(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: %s is missing (apt-get install chromium): %v", Chromium, err)
		}
		t.Skipf("browsertest: %s is missing (apt-get install chromium); skipping the browser test", Chromium)
	}
	dir, err := artifactsDir(t)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{dir: dir, log: &lockedBuffer{}}
	profile := t.TempDir() // removed after the browser stops: cleanups run last-in first-out
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(b.log),
	)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(b.log.printf), chromedp.WithLogf(func(string, ...any) {}))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browsertest: chromium output (D-Bus noise left out):\n%s", tail(withoutDBus(b.log.String()), 4000))
		}
		t.Logf("browsertest: screenshots in %s", b.dir)
	})
	// The first run starts the browser; it must not carry a deadline, which
	// would stop the whole browser when it passed.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: start %s: %v\n%s", Chromium, err, tail(b.log.String(), 4000))
	}
	b.ctx = ctx
	return b
}

// Tab opens a tab with JavaScript on, in a browser context of its own (its
// own cookies: one per user). It closes when t ends, and t fails if a page
// in it threw an uncaught exception or logged a console error.
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	return b.tab(t, true)
}

// TabWithoutJS is Tab with JavaScript disabled before any page loads, as for
// a user whose browser runs no scripts.
func (b *Browser) TabWithoutJS(t testing.TB) context.Context {
	t.Helper()
	return b.tab(t, false)
}

func (b *Browser) tab(t testing.TB, js bool) context.Context {
	t.Helper()
	tabCtx, closeTab := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	steps := []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(ViewportWidth, ViewportHeight)}
	if !js {
		steps = append(steps, call(emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}))
	}
	if err := chromedp.Do(tabCtx, steps...); err != nil {
		closeTab()
		t.Fatalf("browsertest: open a tab: %v", err)
	}
	// What the page reports is read until the tab closes.
	var mu sync.Mutex
	var problems []string
	add := func(p string) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, p)
	}
	var wg sync.WaitGroup
	exceptions := chromedp.Events(tabCtx, runtime.ExceptionThrown)
	console := chromedp.Events(tabCtx, runtime.ConsoleAPICalled)
	wg.Go(func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			add("uncaught exception: " + exceptionText(ev))
		}
	})
	wg.Go(func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				add("console.error: " + consoleText(ev))
			}
		}
	})
	ctx, cancel := context.WithTimeout(tabCtx, TabTimeout)
	t.Cleanup(func() {
		cancel()
		closeTab()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browsertest: the page reported %s", p)
		}
	})
	return ctx
}

// Screenshot saves a PNG of the whole page in the tab ctx as the test's
// next artifact, <NN>-<name>.png, and returns its bytes.
func (b *Browser) Screenshot(t testing.TB, ctx context.Context, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots.Add(1), name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	return png
}

// ScreenshotDownTo returns a PNG of the page in the tab ctx from its top to
// the bottom of the first element matching the CSS selector sel (plus a
// small margin), as wide as the viewport. It saves nothing.
func ScreenshotDownTo(t testing.TB, ctx context.Context, sel string) []byte {
	t.Helper()
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](
		`[window.innerWidth, document.querySelector(`+strconv.Quote(sel)+`).getBoundingClientRect().bottom + window.scrollY + 8]`))
	if err != nil || len(box) != 2 {
		t.Fatalf("browsertest: screenshot down to %s: %v", sel, err)
	}
	res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{Width: box[0], Height: math.Ceil(box[1]), Scale: 1},
		CaptureBeyondViewport: new(true),
	})
	if err != nil {
		t.Fatalf("browsertest: screenshot down to %s: %v", sel, err)
	}
	return res.Data
}

// Location returns the URL of the page the tab ctx shows. It reads the
// navigation history, so it works with JavaScript disabled.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil || h.CurrentIndex < 0 || int(h.CurrentIndex) >= len(h.Entries) {
		t.Fatalf("browsertest: location: %v (%+v)", err, h)
	}
	return h.Entries[h.CurrentIndex].URL
}

// Redirect is an HTTP redirect that a browser followed.
type Redirect struct {
	From, To string
	Status   int64
}

// actionTimeout bounds one wait inside a helper.
const actionTimeout = 15 * time.Second

// SubmitRedirected clicks the element sel (a form's submit button) in the
// tab ctx, expects the page to be answered with a redirect, and waits for
// the page it leads to to load. It fails t when no redirect comes within
// 15 seconds.
func SubmitRedirected(t testing.TB, ctx context.Context, sel string) Redirect {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	var redirect network.EventRequestWillBeSent
	isRedirect := func(ev network.EventRequestWillBeSent) bool {
		return ev.RedirectResponse != nil && ev.Type == network.ResourceTypeDocument
	}
	clickUntilRedirect := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		ev, err := chromedp.WaitEvent(network.RequestWillBeSent, isRedirect,
			chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))(ctx, tg)
		redirect = ev
		return chromedp.Void{}, err
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, clickUntilRedirect)); err != nil {
		t.Fatalf("browsertest: submit %s and follow its redirect: %v", sel, err)
	}
	return Redirect{From: redirect.RedirectResponse.URL, To: redirect.Request.URL, Status: redirect.RedirectResponse.Status}
}

// call makes an action of one protocol command, ignoring its result.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, params)
		return chromedp.Void{}, err
	}
}

// artifactsDir returns (creating it) the directory for t's screenshots:
// $VIGIL_ARTIFACTS/<test name>, or artifacts/<test name> at the module root.
func artifactsDir(t testing.TB) (string, error) {
	root := os.Getenv(ArtifactsEnv)
	if root == "" {
		mod, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("browsertest: artifacts dir: %w", err)
		}
		root = filepath.Join(mod, "artifacts")
	}
	dir := filepath.Join(root, unsafeChars.ReplaceAllString(t.Name(), "_"))
	if err := os.RemoveAll(dir); err != nil { // stale shots of an earlier run would mislead
		return "", fmt.Errorf("browsertest: artifacts dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("browsertest: artifacts dir: %w", err)
	}
	return dir, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// moduleRoot returns the nearest directory at or above the working
// directory that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func exceptionText(ev runtime.EventExceptionThrown) string {
	d := ev.ExceptionDetails
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		text += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", text, d.URL, d.LineNumber, d.ColumnNumber)
}

func consoleText(ev runtime.EventConsoleAPICalled) string {
	var parts []string
	for _, a := range ev.Args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// lockedBuffer collects chromium's output and chromedp's error lines, which
// arrive from other goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", args...)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withoutDBus drops the lines where chromium complains that a container
// has no D-Bus, which hide the lines that matter.
func withoutDBus(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.Contains(line, ":ERROR:dbus/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
