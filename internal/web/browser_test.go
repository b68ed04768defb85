package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/browsertest"
)

// The dashboard in headless chromium, as issue 14's audit drove it: every
// page at a desktop (1400x1000) and a phone (390x844) viewport in both
// colour schemes, checked by axe-core and for sideways scrolling; and the
// page refreshes that must never eat what someone is typing. Pages refresh
// every second here (Options.Refresh), ten in production.

// browserDash is a dashboard served over HTTP on a loopback port, with
// its clock near the browser's (three hours behind, and moving a minute per
// recorded run), and the pages refreshing every second.
func browserDash(t *testing.T) (*dash, string) {
	t.Helper()
	d := newDash(t, false, func(o *Options) { o.Refresh = time.Second })
	d.clock.mu.Lock()
	d.clock.t = time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	d.clock.mu.Unlock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	// The same hostname as the config's base URL, so cookies and the
	// Origin check line up.
	return d, "http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// tab is one user's tab; its methods fail the test when the browser
// cannot do what they ask.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (p tab) open(path string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.base+path)); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
}

func (p tab) logIn(name string) {
	p.t.Helper()
	p.open("/login")
	p.typeInto("#login-name", name)
	p.typeInto("#login-password", name+"-pw")
	p.clickAndLoad(`form[action="/login"] button[type=submit]`)
}

func (p tab) typeInto(sel, text string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("type into %s: %v", sel, err)
	}
}

func (p tab) clickAndLoad(sel string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))); err != nil {
		p.t.Fatalf("click %s and wait for the next page: %v", sel, err)
	}
}

func eval[T any](p tab, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitUntil waits up to d for the JavaScript condition cond.
func (p tab) waitUntil(cond string, d time.Duration, what string) {
	p.t.Helper()
	for deadline := time.Now().Add(d); !eval[bool](p, cond); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("waited %s for %s", d, what)
		}
	}
}

// text is the text of sel with runs of space made one.
func (p tab) text(sel string) string {
	p.t.Helper()
	return strings.Join(strings.Fields(eval[string](p, `document.querySelector(`+strconv.Quote(sel)+`)?.textContent ?? ""`)), " ")
}

// swaps counts, in the page, the refreshes that replaced the elements of
// ids: each is marked, and a refresh that swaps it brings an unmarked one.
func (p tab) markForSwaps(ids ...string) {
	p.t.Helper()
	var js strings.Builder
	list, err := json.Marshal(ids)
	if err != nil {
		p.t.Fatal(err)
	}
	js.WriteString(`window.vigilSwaps = 0; window.vigilMarks = ` + string(list) + `;`)
	js.WriteString(`for (const id of window.vigilMarks) document.getElementById(id).vigilOld = true;`)
	js.WriteString(`document.body.addEventListener("htmx:afterSettle", () => {
		if (window.vigilMarks.some(id => document.getElementById(id) && !document.getElementById(id).vigilOld)) {
			window.vigilSwaps++;
			for (const id of window.vigilMarks) { const e = document.getElementById(id); if (e) e.vigilOld = true; }
		}
	});`)
	eval[bool](p, js.String()+`true`)
}

// TestRefreshKeepsWorkInProgress: what someone types, ticks or picks, and
// where their keyboard focus and scroll position are, survive two
// refreshes that each bring new data (issue 14: today the 10 s refresh
// wipes the ack note, the silence reason and the incidents page's note,
// resets the duration and sends focus back to "Skip to content").
func TestRefreshKeepsWorkInProgress(t *testing.T) {
	b := browsertest.Start(t)
	d, base := browserDash(t)
	d.record("orders-dup", checks.Fail, "O-1", "O-2")
	d.record("api-up", checks.Fail, "https://api.example/health")

	p := tab{t: t, ctx: b.Tab(t), base: base}
	p.logIn("oscar")

	t.Run("check page", func(t *testing.T) {
		p.t = t
		p.open("/checks/orders-dup")
		p.typeInto("#ack-note", "Looking at the O-1 writer")
		if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.ID("silence-for"), "4h")); err != nil {
			t.Fatal(err)
		}
		p.typeInto("#silence-reason", "Dedupe job deploying")
		eval[bool](p, `window.scrollTo(0, 300); document.getElementById("ack-note").focus(); document.getElementById("ack-note").setSelectionRange(3, 7); true`)
		scroll := eval[int](p, `Math.round(window.scrollY)`)
		p.markForSwaps("check-status", "check-rows", "check-history")
		// Two refresh periods, each with a new run to show.
		for i := range 2 {
			d.record("orders-dup", checks.Fail, "O-1", "O-2", fmt.Sprintf("O-%d", 3+i))
			p.waitUntil(fmt.Sprintf(`window.vigilSwaps >= %d`, i+1), 10*time.Second, fmt.Sprintf("refresh %d to swap the page's fragments", i+1))
		}
		if got := p.text("#check-rows"); !strings.Contains(got, "O-4") {
			t.Fatalf("the refreshed rows read %q, want the latest run's O-4", got)
		}
		got := eval[map[string]any](p, `({note: document.getElementById("ack-note").value, reason: document.getElementById("silence-reason").value,
			duration: document.getElementById("silence-for").value, focus: document.activeElement.id,
			selection: [document.activeElement.selectionStart, document.activeElement.selectionEnd], scroll: Math.round(window.scrollY)})`)
		want := map[string]any{"note": "Looking at the O-1 writer", "reason": "Dedupe job deploying", "duration": "4h", "focus": "ack-note",
			"selection": []any{float64(3), float64(7)}, "scroll": float64(scroll)}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after two refreshes: %v, want %v", got, want)
		}
	})

	t.Run("incidents page", func(t *testing.T) {
		p.t = t
		p.open("/incidents?open=true")
		if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.ID("select-2"), chromedp.NodeVisible)); err != nil {
			t.Fatal(err)
		}
		p.typeInto("#bulk-note", "Both are the same deploy")
		eval[bool](p, `document.getElementById("bulk-note").focus(); true`)
		p.markForSwaps("incident-list")
		for i := range 2 {
			keys := []string{"O-10", "O-11", "O-12"}[:i+1] // the list shows the violation count
			d.record("orders-dup", checks.Fail, keys...)
			p.waitUntil(fmt.Sprintf(`window.vigilSwaps >= %d`, i+1), 10*time.Second, fmt.Sprintf("refresh %d to swap the list", i+1))
		}
		got := eval[map[string]any](p, `({note: document.getElementById("bulk-note").value, focus: document.activeElement.id,
			ticked: document.getElementById("select-2").checked, other: document.getElementById("select-1").checked})`)
		if want := map[string]any{"note": "Both are the same deploy", "focus": "bulk-note", "ticked": true, "other": false}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after two refreshes: %v, want %v", got, want)
		}
		// The ticked box still belongs to the bulk form: acknowledge it.
		p.clickAndLoad("#bulk-ack")
		if got := p.text(".notice"); got != "Selected incidents acknowledged." {
			t.Errorf("notice after the bulk ack = %q", got)
		}
		in, err := d.store.Incident(t.Context(), 2)
		if err != nil || in.AckedBy != "oscar" || in.AckNote != "Both are the same deploy" {
			t.Errorf("incident 2 = %+v, %v; want acked by oscar with the note", in, err)
		}
		if in, err := d.store.Incident(t.Context(), 1); err != nil || in.Acked() {
			t.Errorf("incident 1 = %+v, %v; want it left alone", in, err)
		}
	})
}
