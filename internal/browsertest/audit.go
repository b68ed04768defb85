package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The sizes the dashboard is audited at: a desktop browser, and a phone
// (an iPhone 12 to 15 in CSS pixels).
const (
	DesktopWidth, DesktopHeight = 1400, 1000
	PhoneWidth, PhoneHeight     = 390, 844
)

// SetViewport resizes the tab ctx to width x height CSS pixels (a phone
// viewport is emulated as a mobile device, as the phone's browser lays the
// page out).
func SetViewport(t testing.TB, ctx context.Context, width, height int64) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatalf("browsertest: viewport %dx%d: %v", width, height, err)
	}
}

// SetColorScheme makes the tab ctx report prefers-color-scheme: scheme
// ("light" or "dark") to the page's CSS.
func SetColorScheme(t testing.TB, ctx context.Context, scheme string) {
	t.Helper()
	err := chromedp.Do(ctx, call(emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}))
	if err != nil {
		t.Fatalf("browsertest: color scheme %s: %v", scheme, err)
	}
}

// PageWidth is how wide the page in the tab ctx is laid out, in CSS
// pixels: wider than the viewport means it scrolls sideways.
func PageWidth(t testing.TB, ctx context.Context) int {
	t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`))
	if err != nil {
		t.Fatalf("browsertest: page width: %v", err)
	}
	return w
}

// WiderThan lists the elements of the page in the tab ctx whose right edge
// lies beyond width (CSS pixels), innermost first, as short descriptions:
// what makes a page scroll sideways.
func WiderThan(t testing.TB, ctx context.Context, width int) []string {
	t.Helper()
	// An element reaches as far right as its box, or as its content where
	// that overflows visibly (a pre's long line).
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
  const reach = e => { const r = e.getBoundingClientRect(); return Math.max(r.right, getComputedStyle(e).overflowX === "visible" ? r.left + e.scrollWidth : 0) + window.scrollX; };
  const wide = e => reach(e) > %d + 0.5;
  return [...document.querySelectorAll("body *")].filter(e => wide(e) && ![...e.children].some(wide)).slice(0, 10)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className.trim() ? "." + e.className.trim().replace(/\s+/g, ".") : "") + " reaches " + Math.round(reach(e)));
})()`, width)))
	if err != nil {
		t.Fatalf("browsertest: wide elements: %v", err)
	}
	return out
}

// AxeViolation is one rule that axe-core found broken on a page, with the
// elements that break it.
type AxeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v AxeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeSource is the axe-core script, read once.
var axeSource = sync.OnceValues(func() (string, error) {
	path := filepath.Join(NodeModules(), "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w (make deps installs axe-core into .cache/node)", err)
	}
	return string(b), nil
})

// NodeModules is where the test-only npm packages are installed:
// $VIGIL_NODE_MODULES (the Makefile exports it), else
// <module root>/.cache/node/node_modules.
func NodeModules() string {
	if dir := os.Getenv("VIGIL_NODE_MODULES"); dir != "" {
		return dir
	}
	root, err := moduleRoot()
	if err != nil {
		return filepath.Join(".cache", "node", "node_modules")
	}
	return filepath.Join(root, ".cache", "node", "node_modules")
}

// Axe runs axe-core (the npm package, installed by make deps; never served
// by vigil) on the page in the tab ctx and returns its serious and critical
// violations of the WCAG 2.x A and AA rules and axe's best practices. The
// script is injected through DevTools, so the page's Content-Security-Policy
// does not apply to it. Without axe-core the test is skipped, or fails under
// CI=true.
func Axe(t testing.TB, ctx context.Context) []AxeViolation {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browsertest: axe-core: %v", err)
		}
		t.Skipf("browsertest: axe-core: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object" || (() => { `+src+`; return true })()`)); err != nil {
		t.Fatalf("browsertest: load axe-core: %v", err)
	}
	const run = `axe.run(document, {resultTypes: ["violations"], runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
  .then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(" ") + (n.failureSummary ? " [" + n.failureSummary.replace(/\s+/g, " ").slice(0, 160) + "]" : ""))})))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browsertest: run axe-core: %v", err)
	}
	return out
}
