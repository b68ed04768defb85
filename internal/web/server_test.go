package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/static"
	"github.com/vigilhq/vigil/views"
)

func TestAssets(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	c := f.loggedIn("vic")
	page := c.get("/")
	refs := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(page.body, -1)
	files := map[string]string{
		"vigil.css":          "text/css; charset=utf-8",
		"htmx-2.0.11.min.js": "text/javascript; charset=utf-8",
		"vigil.js":           "text/javascript; charset=utf-8",
	}
	if len(refs) != len(files) {
		t.Fatalf("page references %d assets, want %d: %v", len(refs), len(files), refs)
	}
	for name, wantType := range files {
		t.Run(name, func(t *testing.T) {
			body, err := static.FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			ext := filepath.Ext(name)
			want := "/static/" + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
			if !strings.Contains(page.body, `"`+want+`"`) {
				t.Fatalf("page does not reference %s", want)
			}
			anon := f.client() // assets need no login
			r := anon.get(want)
			if r.StatusCode != 200 || r.body != string(body) {
				t.Fatalf("GET %s = %d (%d bytes), want the file (%d bytes)", want, r.StatusCode, len(r.body), len(body))
			}
			if got := r.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := r.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type = %q, want %q", got, wantType)
			}
			if r := anon.get(want, "If-None-Match", r.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET = %d, want 304", r.StatusCode)
			}
			stale := "/static/" + strings.TrimSuffix(name, ext) + ".000000000000" + ext
			for _, p := range []string{stale, "/static/" + name} {
				if r := anon.get(p); r.StatusCode != 404 {
					t.Errorf("GET %s = %d, want 404", p, r.StatusCode)
				}
			}
		})
	}
}

func TestVendoredHTMX(t *testing.T) {
	js, err := static.FS.ReadFile("htmx-2.0.11.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `version:"2.0.11"`) {
		t.Error("htmx-2.0.11.min.js does not say it is version 2.0.11")
	}
	lic, err := static.FS.ReadFile("htmx-2.0.11.LICENSE")
	if err != nil || !strings.Contains(string(lic), "Zero-Clause BSD") {
		t.Errorf("htmx licence missing beside it: %v", err)
	}
}

func TestPartialOrPage(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	c := f.loggedIn("vic")
	tests := []struct {
		name     string
		headers  []string
		wantFull bool
	}{
		{name: "plain request", wantFull: true},
		{name: "htmx request", headers: []string{"HX-Request", "true"}, wantFull: false},
		{name: "boosted htmx request", headers: []string{"HX-Request", "true", "HX-Boosted", "true"}, wantFull: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/", tt.headers...)
			if r.StatusCode != 200 {
				t.Fatalf("status %d", r.StatusCode)
			}
			full := strings.HasPrefix(r.body, "<!doctype html>")
			if full != tt.wantFull {
				t.Errorf("full page = %v, want %v:\n%s", full, tt.wantFull, r.body)
			}
			if !full && !strings.HasPrefix(strings.TrimSpace(r.body), `<section id="overview-body"`) {
				t.Errorf("partial is not overview_body:\n%s", r.body)
			}
			if !strings.Contains(r.body, `id="overview-body"`) {
				t.Error("the partial is missing from the response")
			}
			if r.Header.Get("Vary") != "HX-Request" {
				t.Errorf("Vary = %q, want HX-Request", r.Header.Get("Vary"))
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
			}
		})
	}
}

// secretDSN is an error text with a password in it.
const secretDSN = "postgres://vigil:hunter2@db.internal:5432/vigil"

// withErrorRoutes registers routes that fail in each way.
func withErrorRoutes(s *Server) {
	boom := func(c *fiber.Ctx) error { return fmt.Errorf("store: query: dial %s: refused", secretDSN) }
	s.page("/boom", RoleViewer, boom)
	s.page("/api/boom", RoleViewer, boom)
	s.page("/gone", RoleViewer, func(c *fiber.Ctx) error { return fmt.Errorf("load check: %w", store.ErrNotFound) })
	s.page("/teapot", RoleViewer, func(c *fiber.Ctx) error { return fiber.NewError(http.StatusTeapot, "no <coffee> here") })
	s.page("/panic", RoleViewer, func(c *fiber.Ctx) error { panic("boom: " + secretDSN) })
	s.page("/badpage", RoleViewer, func(c *fiber.Ctx) error { return s.render(c, "nope", "", nil) })
}

func TestErrorHandler(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), withErrorRoutes)
	c := f.loggedIn("vic")
	tests := []struct {
		name       string
		path       string
		headers    []string
		wantStatus int
		wantJSON   bool
		wantMsg    string
	}{
		{name: "internal error page", path: "/boom", wantStatus: 500, wantMsg: "internal server error"},
		{name: "internal error api", path: "/api/boom", wantStatus: 500, wantJSON: true, wantMsg: "internal server error"},
		{name: "internal error htmx", path: "/boom", headers: []string{"HX-Request", "true"}, wantStatus: 500, wantJSON: true, wantMsg: "internal server error"},
		{name: "not found from the store", path: "/gone", wantStatus: 404, wantMsg: "not found"},
		{name: "not found api", path: "/api/nope", wantStatus: 404, wantJSON: true, wantMsg: "not found"},
		{name: "unknown route", path: "/nope/nope", wantStatus: 404, wantMsg: "not found"},
		{name: "fiber error keeps its message", path: "/teapot", wantStatus: 418, wantMsg: "no &lt;coffee&gt; here"},
		{name: "fiber error json", path: "/teapot", headers: []string{"HX-Request", "true"}, wantStatus: 418, wantJSON: true, wantMsg: "no <coffee> here"},
		{name: "panic", path: "/panic", wantStatus: 500, wantMsg: "internal server error"},
		{name: "unknown page template", path: "/badpage", wantStatus: 500, wantMsg: "internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get(tt.path, tt.headers...)
			if r.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.StatusCode, tt.wantStatus)
			}
			ct := r.Header.Get("Content-Type")
			if tt.wantJSON {
				if !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type = %q, want JSON", ct)
				}
				if got := errorBody(t, r.body); got != tt.wantMsg {
					t.Errorf("error = %q, want %q", got, tt.wantMsg)
				}
			} else {
				if !strings.HasPrefix(ct, "text/html") || !strings.HasPrefix(r.body, "<!doctype html>") {
					t.Fatalf("Content-Type = %q, want the HTML error page:\n%s", ct, r.body)
				}
				if !strings.Contains(r.body, "<p>"+tt.wantMsg+"</p>") || !strings.Contains(r.body, fmt.Sprint(tt.wantStatus)) {
					t.Errorf("error page lacks %q:\n%s", tt.wantMsg, r.body)
				}
			}
			if strings.Contains(r.body, "hunter2") {
				t.Errorf("response leaks the password:\n%s", r.body)
			}
		})
	}
}

// TestHealthz: /healthz is liveness (Kubernetes' probe semantics): it
// answers 200 while the process serves, even with the store down, since a
// restart would not bring the store back; /readyz reports the store.
func TestHealthz(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	c := f.client()
	if r := c.get("/healthz"); r.StatusCode != 200 || r.body != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", r.StatusCode, r.body)
	}
	f.store.Close()
	if r := c.get("/healthz"); r.StatusCode != 200 || r.body != `{"status":"ok"}` {
		t.Errorf("healthz with the store closed = %d %s, want 200: the process is alive", r.StatusCode, r.body)
	}
}

func TestServeAndShutdown(t *testing.T) {
	f := newFixture(t, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.s.Serve(ln) }()
	// The listener already accepts: this request waits for Serve.
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TCP: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz over TCP = %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after Shutdown", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after Shutdown")
	}
}

func TestNewRequiresStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

// fakeKind lets a test config load with checks.
type fakeSpec struct {
	URL string `yaml:"url"`
}

func (s *fakeSpec) Validate(checks.SpecEnv) []checks.Problem { return nil }
func (s *fakeSpec) Build(checks.Deps) (checks.Check, error) {
	return nil, errors.New("fake")
}

// TestSecretsNeverRendered loads a config full of secrets and fetches every
// GET route (pages added later included) as an admin, as htmx, and as
// nobody, plus error pages: no response may contain a secret.
func TestSecretsNeverRendered(t *testing.T) {
	dir := t.TempDir()
	pwHash := bcryptOnce()["alice"]
	rawToken := "raw-api-token-0123456789abcdef0123456789"
	sum := sha256.Sum256([]byte(rawToken))
	tokHash := hex.EncodeToString(sum[:])
	secrets := []string{
		"hunter2", "s3cr3t-warehouse", "sentry-key-abc123", "T000/B000/XXXXsecret", "pg-store-pw",
		pwHash, rawToken, tokHash,
	}
	yaml := `server: {listen: "0.0.0.0:8080", base_url: "https://vigil.example.com"}
store: {driver: postgres, dsn: "postgres://vigil:pg-store-pw@db/vigil"}
datasources:
  policies: {driver: postgres, dsn: "` + secretDSN + `"}
  warehouse: {driver: mysql, dsn: "dw:s3cr3t-warehouse@tcp(10.0.0.7:3306)/dw"}
sinks:
  sentry: {dsn: "https://sentry-key-abc123@sentry.example.com/1"}
  slack: {webhook_url: "https://hooks.slack.com/services/T000/B000/XXXXsecret"}
auth:
  users:
    - {name: alice, password_hash: "` + pwHash + `", role: admin}
  tokens:
    - {name: ci, token_sha256: ` + tokHash + `, role: operator}
checks:
  - {id: missing-endorsements, kind: fake, datasource: policies, url: "` + secretDSN + `"}
`
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, checks.NewRegistry(checks.Kind{Name: "fake", Needs: checks.NeedsSQL, NewSpec: func() checks.Spec { return &fakeSpec{} }}))
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	f := newFixture(t, cfg, withErrorRoutes)
	admin := f.client()
	admin.host = "vigil.example.com"
	if r := admin.login("alice", "alice-pw", "/"); r.StatusCode != 303 {
		t.Fatalf("login = %d", r.StatusCode)
	}
	bearer := []string{"Authorization", "Bearer " + rawToken}
	var paths []string
	for _, rt := range f.s.app.GetRoutes(true) {
		if rt.Method == fiber.MethodGet {
			paths = append(paths, fillParams(rt.Path))
		}
	}
	paths = append(paths, "/nope", "/login?next="+url.QueryEscape(secretDSN))
	anon := f.client()
	anon.host = "vigil.example.com"
	checked := 0
	for _, p := range paths {
		for _, req := range []struct {
			who     string
			c       *client
			headers []string
		}{
			{"admin", admin, nil},
			{"admin htmx", admin, []string{"HX-Request", "true"}},
			{"token", anon, bearer},
			{"anonymous", anon, nil},
		} {
			r := req.c.get(p, req.headers...)
			checked++
			all := r.body + fmt.Sprint(r.Header)
			for _, sec := range secrets {
				if strings.Contains(all, sec) {
					t.Errorf("%s GET %s (%d) contains secret %q", req.who, p, r.StatusCode, sec)
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d responses checked", checked)
	}
}

func TestParseTemplates(t *testing.T) {
	a, err := loadAssets(static.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseTemplates(views.FS, a); err != nil {
		t.Fatalf("shipped views: %v", err)
	}
	good := func() fstest.MapFS {
		return fstest.MapFS{
			"layouts/main.html":         {Data: []byte(`{{define "layout"}}<title>{{block "title" .}}{{end}}</title>{{template "content" .}}{{end}}`)},
			"pages/a.html":              {Data: []byte(`{{define "title"}}A{{end}}{{define "content"}}{{template "thing_row" .}}{{end}}`)},
			"partials/thing_row.html":   {Data: []byte(`{{define "thing_row"}}<p>{{.Data}}</p>{{end}}`)},
			"partials/thing_empty.html": {Data: []byte(`{{define "thing_empty"}}<link href="{{asset "vigil.css"}}">{{end}}`)},
		}
	}
	if _, err := parseTemplates(good(), a); err != nil {
		t.Fatalf("good set: %v", err)
	}
	tests := []struct {
		name    string
		edit    func(fs fstest.MapFS)
		wantErr string
	}{
		{name: "no layout", edit: func(fs fstest.MapFS) { delete(fs, "layouts/main.html") }, wantErr: "layouts/main.html"},
		{name: "layout without layout", edit: func(fs fstest.MapFS) {
			fs["layouts/main.html"] = &fstest.MapFile{Data: []byte(`{{define "shell"}}{{template "content" .}}{{end}}`)}
		}, wantErr: `layouts/main.html: does not define "layout"`},
		{name: "page without content", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`{{define "title"}}B{{end}}`)}
		}, wantErr: `pages/b.html: does not define "content"`},
		{name: "page defines a helper", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}x{{end}}{{define "row"}}y{{end}}`)}
		}, wantErr: `pages/b.html: a page may define only "title" and "content", not "row"`},
		{name: "undefined template", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if .}}{{template "thing_rows" .}}{{end}}{{end}}`)}
		}, wantErr: `pages/b.html: template "thing_rows" (used in "content") is not defined`},
		{name: "undefined template in a partial", edit: func(fs fstest.MapFS) {
			fs["partials/thing_row.html"] = &fstest.MapFile{Data: []byte(`{{define "thing_row"}}{{range .}}{{template "thing_cell" .}}{{end}}{{end}}`)}
		}, wantErr: `template "thing_cell" (used in "thing_row") is not defined`},
		{name: "unknown asset", edit: func(fs fstest.MapFS) {
			fs["partials/thing_empty.html"] = &fstest.MapFile{Data: []byte(`{{define "thing_empty"}}{{asset "htmx.js"}}{{end}}`)}
		}, wantErr: `unknown asset "htmx.js" (used in "thing_empty")`},
		{name: "partial named wrongly", edit: func(fs fstest.MapFS) {
			fs["partials/thing_row.html"] = &fstest.MapFile{Data: []byte(`{{define "row"}}x{{end}}`)}
		}, wantErr: `partials/thing_row.html: must define exactly the template "thing_row", defines ["row"]`},
		{name: "partial file name without a part", edit: func(fs fstest.MapFS) {
			fs["partials/thing.html"] = &fstest.MapFile{Data: []byte(`{{define "thing"}}x{{end}}`)}
		}, wantErr: `partials/thing.html: a partial's file name must be <noun>_<part>.html`},
		{name: "duplicate definition", edit: func(fs fstest.MapFS) {
			fs["partials/thing_other.html"] = &fstest.MapFile{Data: []byte(`{{define "thing_other"}}x{{end}}{{define "thing_row"}}y{{end}}`)}
		}, wantErr: `partials/thing_row.html: template "thing_row" is already defined in partials/thing_other.html`},
		{name: "text outside define", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`<h1>lost</h1>{{define "content"}}x{{end}}`)}
		}, wantErr: `pages/b.html: text outside {{define}}`},
		{name: "syntax error", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if}}{{end}}`)}
		}, wantErr: `pages/b.html`},
		{name: "unknown function", edit: func(fs fstest.MapFS) {
			fs["pages/b.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{humanize .}}{{end}}`)}
		}, wantErr: `function "humanize" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := good()
			tt.edit(fs)
			_, err := parseTemplates(fs, a)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseTemplates = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestSentryHook: the Sentry option sees every request, panics included
// (as sentryfiber does with Repanic), and the panic still becomes a 500.
func TestSentryHook(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var seen []string
	var recovered any
	hook := func(c *fiber.Ctx) error {
		seen = append(seen, c.Path())
		defer func() {
			if r := recover(); r != nil {
				recovered = r
				panic(r)
			}
		}()
		return c.Next()
	}
	s, err := New(Options{Store: st, LocalUser: "tester", Sentry: hook})
	if err != nil {
		t.Fatal(err)
	}
	s.page("/panic", RoleViewer, func(c *fiber.Ctx) error { panic("kaboom") })
	f := &fixture{t: t, s: s, store: st, clock: newClock()}
	c := f.client()
	if r := c.get("/"); r.StatusCode != 200 {
		t.Errorf("GET / = %d", r.StatusCode)
	}
	if r := c.get("/panic"); r.StatusCode != 500 {
		t.Errorf("GET /panic = %d, want 500", r.StatusCode)
	}
	if len(seen) != 2 || seen[0] != "/" || seen[1] != "/panic" {
		t.Errorf("hook saw %v", seen)
	}
	if recovered != "kaboom" {
		t.Errorf("hook recovered %v, want the panic", recovered)
	}
}

// A page's set is made on its first render, which may come from many
// requests at once: every one gets the same set, and it renders (run
// under -race, as make test does for this package).
func TestPageSetsAreMadeOnceOnFirstUse(t *testing.T) {
	a, err := loadAssets(static.FS)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := parseTemplates(views.FS, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.page("no-such-page"); err == nil || !strings.Contains(err.Error(), `unknown page "no-such-page"`) {
		t.Errorf("unknown page: err = %v, want one naming the page", err)
	}
	const n = 8
	sets := make([]*template.Template, n)
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			set, err := tpl.page("error")
			if err != nil {
				t.Error(err)
				return
			}
			var b strings.Builder
			if err := set.ExecuteTemplate(&b, "layout", View{Page: "error", CSRF: "token", Data: map[string]any{"Code": 418, "Title": "Teapot", "Message": "short and stout"}}); err != nil {
				t.Error(err)
				return
			}
			sets[i], outs[i] = set, b.String()
		})
	}
	wg.Wait()
	for i := range n {
		if sets[i] != sets[0] || outs[i] != outs[0] {
			t.Fatalf("render %d got another set or page than render 0", i)
		}
	}
	if !strings.Contains(outs[0], "<title>Teapot · vigil</title>") || !strings.Contains(outs[0], "short and stout") {
		t.Errorf("error page lacks its title or message:\n%s", outs[0])
	}
}
