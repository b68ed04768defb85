package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
