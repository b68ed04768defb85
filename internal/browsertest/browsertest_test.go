package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/vigilhq/vigil/internal/browsertest"
)

// page is a form that posts to /done, answered with 303 to /landed, and a
// script that marks the page when JavaScript runs.
const page = `<!doctype html><title>t</title>
<p id="js">no script ran</p>
<script>document.getElementById("js").textContent = "script ran"</script>
<form method="post" action="/done"><button id="go" type="submit">Go</button></form>`

func TestTabs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/done":
			http.Redirect(w, r, "/landed", http.StatusSeeOther)
		case "/landed":
			w.Write([]byte("<!doctype html><title>landed</title><p>landed</p>"))
		default:
			w.Write([]byte(page))
		}
	}))
	defer srv.Close()
	t.Setenv(browsertest.ArtifactsEnv, t.TempDir())
	b := browsertest.Start(t)

	tests := []struct {
		name   string
		tab    func(*browsertest.Browser, testing.TB) context.Context
		wantJS string
	}{
		{name: "with JavaScript", tab: (*browsertest.Browser).Tab, wantJS: "script ran"},
		{name: "without JavaScript", tab: (*browsertest.Browser).TabWithoutJS, wantJS: "no script ran"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.tab(b, t)
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("js")))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantJS {
				t.Errorf("#js = %q, want %q", got, tt.wantJS)
			}
			want := browsertest.Redirect{From: srv.URL + "/done", To: srv.URL + "/landed", Status: http.StatusSeeOther}
			if got := browsertest.SubmitRedirected(t, ctx, "#go"); got != want {
				t.Errorf("redirect = %+v, want %+v", got, want)
			}
			if loc := browsertest.Location(t, ctx); loc != srv.URL+"/landed" {
				t.Errorf("location = %q, want /landed", loc)
			}
			png := b.Screenshot(t, ctx, "landed")
			if len(png) < 8 || string(png[1:4]) != "PNG" {
				t.Errorf("screenshot is not a PNG: % x", png[:min(len(png), 8)])
			}
		})
	}
	shots, err := filepath.Glob(filepath.Join(os.Getenv(browsertest.ArtifactsEnv), "TestTabs", "*-landed.png"))
	if err != nil || len(shots) != 2 {
		t.Errorf("artifacts = %v (%v), want two screenshots", shots, err)
	}
}

// TestAudit: Axe reports what axe-core's rules find (an image without a
// text alternative is critical, text at 1.3:1 contrast serious: WCAG 1.1.1
// and 1.4.3) and nothing on a clean page; PageWidth and WiderThan find
// what makes a page scroll sideways at a phone's width; SetColorScheme
// reaches the page's media queries.
func TestAudit(t *testing.T) {
	const bad = `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width, initial-scale=1"><title>bad</title><main><h1>Bad</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<p style="color:#ccc;background:#fff">faint text</p>
<pre id="wide" style="white-space:pre">` + "a-very-long-token-that-does-not-wrap-0123456789-0123456789-0123456789-0123456789-0123456789" + `</pre></main>`
	const good = `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width, initial-scale=1"><title>good</title>
<style>p{color:#111} @media (prefers-color-scheme: dark){p{color:#eee;background:#000}}</style>
<main><h1>Good</h1><p id="p">Readable text.</p></main>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/bad" {
			w.Write([]byte(bad))
			return
		}
		w.Write([]byte(good))
	}))
	defer srv.Close()
	t.Setenv(browsertest.ArtifactsEnv, t.TempDir())
	b := browsertest.Start(t)
	ctx := b.Tab(t)

	browsertest.SetViewport(t, ctx, browsertest.PhoneWidth, browsertest.PhoneHeight)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, v := range browsertest.Axe(t, ctx) {
		ids[v.ID] = v.Impact
	}
	if ids["image-alt"] != "critical" || ids["color-contrast"] != "serious" {
		t.Errorf("axe on the bad page = %v, want image-alt (critical) and color-contrast (serious)", ids)
	}
	if w := browsertest.PageWidth(t, ctx); w <= browsertest.PhoneWidth {
		t.Errorf("the bad page is %d px wide at a phone's width, want wider", w)
	}
	if wide := browsertest.WiderThan(t, ctx, browsertest.PhoneWidth); len(wide) == 0 || !strings.HasPrefix(wide[0], "pre#wide") {
		t.Errorf("WiderThan = %q, want the pre", wide)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
		t.Fatal(err)
	}
	if v := browsertest.Axe(t, ctx); len(v) != 0 {
		t.Errorf("axe on the good page = %v, want nothing", v)
	}
	if w := browsertest.PageWidth(t, ctx); w > browsertest.PhoneWidth {
		t.Errorf("the good page is %d px wide", w)
	}
	browsertest.SetColorScheme(t, ctx, "dark")
	if bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("p")).backgroundColor`)); err != nil || bg != "rgb(0, 0, 0)" {
		t.Errorf("dark scheme: background %q (%v), want the dark style", bg, err)
	}
}
