package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name         string
		user, pw     string
		next         string
		wantStatus   int
		wantLocation string
		wantBody     string
		wantAudit    string // action of the audit entry written
	}{
		{name: "success", user: "alice", pw: "alice-pw", next: "/", wantStatus: 303, wantLocation: "/", wantAudit: "login"},
		{name: "success returns to the deep link", user: "vic", pw: "vic-pw", next: "/checks/x", wantStatus: 303, wantLocation: "/checks/x", wantAudit: "login"},
		{name: "success keeps the query", user: "vic", pw: "vic-pw", next: "/checks/x?tab=rows", wantStatus: 303, wantLocation: "/checks/x?tab=rows", wantAudit: "login"},
		{name: "scheme-relative next refused", user: "alice", pw: "alice-pw", next: "//evil.com", wantStatus: 303, wantLocation: "/", wantAudit: "login"},
		{name: "absolute next refused", user: "alice", pw: "alice-pw", next: "https://evil.com/x", wantStatus: 303, wantLocation: "/", wantAudit: "login"},
		{name: "wrong password", user: "alice", pw: "nope", next: "/", wantStatus: 401, wantBody: "Wrong name or password.", wantAudit: "login_failed"},
		{name: "unknown user", user: "mallory", pw: "mallory-pw", next: "/", wantStatus: 401, wantBody: "Wrong name or password.", wantAudit: "login_failed"},
		{name: "empty password", user: "alice", pw: "", next: "/", wantStatus: 401, wantBody: "Wrong name or password.", wantAudit: "login_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
			c := f.client()
			r := c.login(tt.user, tt.pw, tt.next)
			if r.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d\n%s", r.StatusCode, tt.wantStatus, r.body)
			}
			if got := r.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("body lacks %q:\n%s", tt.wantBody, r.body)
			}
			_, hasSession := c.cookies["vigil_session"]
			if hasSession != (tt.wantStatus == 303) {
				t.Errorf("session cookie set = %v, want %v", hasSession, tt.wantStatus == 303)
			}
			es := f.audit()
			if len(es) != 1 || es[0].Action != tt.wantAudit || es[0].Actor != tt.user || es[0].At != f.clock.Now() {
				t.Errorf("audit = %+v, want one %q by %q", es, tt.wantAudit, tt.user)
			}
			if tt.wantStatus == 303 {
				home := c.get("/")
				if home.StatusCode != 200 || !strings.Contains(home.body, `<span class="who-name"><bdi>`+tt.user+`</bdi></span>`) {
					t.Errorf("after login GET / = %d, not showing %s", home.StatusCode, tt.user)
				}
			}
		})
	}
}

func TestSessionCookieFlags(t *testing.T) {
	tests := []struct {
		name       string
		base       string
		wantName   string
		wantSecure bool
	}{
		{name: "http", base: "http://127.0.0.1:8080", wantName: "vigil_session", wantSecure: false},
		{name: "https", base: "https://vigil.example.com", wantName: "__Host-vigil_session", wantSecure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, authConfig(t, tt.base), nil)
			c := f.client()
			r := c.login("alice", "alice-pw", "/")
			if r.StatusCode != 303 {
				t.Fatalf("login status %d", r.StatusCode)
			}
			var ck *http.Cookie
			for _, k := range r.Cookies() {
				if k.Name == tt.wantName {
					ck = k
				}
			}
			if ck == nil {
				t.Fatalf("no %s cookie in %v", tt.wantName, r.Header.Values("Set-Cookie"))
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tt.wantSecure || ck.Path != "/" || ck.Domain != "" {
				t.Errorf("cookie = %+v; want HttpOnly, SameSite=Lax, Secure=%v, Path=/, no Domain", ck, tt.wantSecure)
			}
			if want := f.clock.Now().Add(12 * time.Hour); !ck.Expires.Equal(want) {
				t.Errorf("cookie expires %v, want %v", ck.Expires, want)
			}
			// The store keeps only the token's hash.
			sum := sha256.Sum256([]byte(ck.Value))
			sess, err := f.store.Session(context.Background(), hex.EncodeToString(sum[:]), f.clock.Now())
			if err != nil || sess.User != "alice" {
				t.Errorf("stored session = %+v, %v", sess, err)
			}
			if _, err := f.store.Session(context.Background(), ck.Value, f.clock.Now()); err == nil {
				t.Error("the raw cookie token is stored")
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(f *fixture, c *client)
	}{
		{name: "expiry", end: func(f *fixture, c *client) { f.clock.Add(12*time.Hour + time.Second) }},
		{name: "logout", end: func(f *fixture, c *client) {
			tok := c.csrf("/")
			if r := c.post("/logout", url.Values{"_csrf": {tok}}); r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
				f.t.Fatalf("logout = %d %q", r.StatusCode, r.Header.Get("Location"))
			}
			if _, ok := c.cookies["vigil_session"]; ok {
				f.t.Error("logout left the session cookie")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
			c := f.loggedIn("oscar")
			cookie := *c.cookies["vigil_session"]
			tt.end(f, c)
			c.cookies["vigil_session"] = &cookie // replaying the old cookie
			r := c.get("/")
			if r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
				t.Errorf("GET / with an ended session = %d %q, want 303 to /login", r.StatusCode, r.Header.Get("Location"))
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct {
		name, next, want string
	}{
		{name: "check page", next: "/checks/x", want: "/checks/x"},
		{name: "with query", next: "/checks/x?tab=rows#r1", want: "/checks/x?tab=rows#r1"},
		{name: "encoded slashes stay a path", next: "/%2F%2Fevil.com", want: "/%2F%2Fevil.com"},
		{name: "empty", next: "", want: "/"},
		{name: "scheme relative", next: "//evil.com", want: "/"},
		{name: "scheme relative with path", next: "//evil.com/checks/x", want: "/"},
		{name: "backslash", next: `/\evil.com`, want: "/"},
		{name: "backslash later", next: `/checks\..\x`, want: "/"},
		{name: "absolute", next: "https://evil.com/", want: "/"},
		{name: "javascript", next: "javascript:alert(1)", want: "/"},
		{name: "relative", next: "checks/x", want: "/"},
		{name: "tab trick", next: "/\t/evil.com", want: "/"},
		{name: "header injection", next: "/x\r\nSet-Cookie: a=b", want: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.next); got != tt.want {
				t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}

func TestDeepLinkAfterLogin(t *testing.T) {
	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Checks = []config.Check{{ID: "missing-endorsements", Kind: "sql", Schedule: "@every 5m"}}
	f := newFixture(t, cfg, nil)
	c := f.client()
	r := c.get("/checks/missing-endorsements?run=7")
	wantLogin := "/login?next=%2Fchecks%2Fmissing-endorsements%3Frun%3D7"
	if r.StatusCode != 303 || r.Header.Get("Location") != wantLogin {
		t.Fatalf("anonymous deep link = %d %q, want 303 to %q", r.StatusCode, r.Header.Get("Location"), wantLogin)
	}
	page := c.get(wantLogin)
	if !strings.Contains(page.body, `name="next" value="/checks/missing-endorsements?run=7"`) {
		t.Fatalf("login page does not carry next:\n%s", page.body)
	}
	r = c.login("vic", "vic-pw", "/checks/missing-endorsements?run=7")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/checks/missing-endorsements?run=7" {
		t.Fatalf("login = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get("/checks/missing-endorsements?run=7"); r.StatusCode != 200 || !strings.Contains(r.body, "<h1>missing-endorsements</h1>") {
		t.Errorf("deep link after login = %d %q", r.StatusCode, r.body)
	}
	// A logged-in user visiting the login page goes on to next.
	if r := c.get("/login?next=/checks/y"); r.StatusCode != 303 || r.Header.Get("Location") != "/checks/y" {
		t.Errorf("GET /login when logged in = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get("/login?next=//evil.com"); r.Header.Get("Location") != "/" {
		t.Errorf("GET /login?next=//evil.com when logged in redirects to %q", r.Header.Get("Location"))
	}
}

func TestAnonymous(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	tests := []struct {
		name       string
		method     string
		path       string
		headers    []string
		wantStatus int
		wantHeader [2]string
	}{
		{name: "page redirects to login", method: "GET", path: "/", wantStatus: 303, wantHeader: [2]string{"Location", "/login"}},
		{name: "htmx gets HX-Redirect", method: "GET", path: "/", headers: []string{"HX-Request", "true", "HX-Current-URL", "http://127.0.0.1:8080/checks/x"},
			wantStatus: 401, wantHeader: [2]string{"HX-Redirect", "/login?next=%2Fchecks%2Fx"}},
		{name: "login page is public", method: "GET", path: "/login", wantStatus: 200},
		{name: "healthz is public", method: "GET", path: "/healthz", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			r := c.do(tt.method, tt.path, nil, tt.headers...)
			if r.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d\n%s", r.StatusCode, tt.wantStatus, r.body)
			}
			if tt.wantHeader[0] != "" && r.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", tt.wantHeader[0], r.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
		})
	}
}

// validSilence is a valid POST /silences form (a real action, audited as
// "silence" of orders-dup) with the CSRF token tok ("" for none).
func validSilence(tok string) url.Values {
	v := url.Values{"matcher": {"orders-dup"}, "for": {"2h"}, "reason": {"fix deploying"}}
	if tok != "" {
		v.Set("_csrf", tok)
	}
	return v
}

// silenceAudits returns the audit entries of silences.
func silenceAudits(f *fixture) []store.AuditEntry {
	f.t.Helper()
	var out []store.AuditEntry
	for _, e := range f.audit() {
		if e.Action == "silence" {
			out = append(out, e)
		}
	}
	return out
}

func TestRoles(t *testing.T) {
	tests := []struct {
		name       string
		user       string
		wantStatus int
	}{
		{name: "viewer", user: "vic", wantStatus: 403},
		{name: "operator", user: "oscar", wantStatus: 303},
		{name: "admin", user: "alice", wantStatus: 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDash(t, false)
			c := d.loggedIn(tt.user)
			page := c.get("/silences")
			if page.StatusCode != 200 {
				t.Fatalf("GET /silences = %d", page.StatusCode)
			}
			if showsForm := strings.Contains(page.body, `action="/silences"`); showsForm != (tt.wantStatus == 303) {
				t.Errorf("silence form shown = %v for %s", showsForm, tt.user)
			}
			tok := c.csrf("/")
			r := c.post("/silences", validSilence(tok))
			if r.StatusCode != tt.wantStatus {
				t.Fatalf("POST /silences = %d, want %d\n%s", r.StatusCode, tt.wantStatus, r.body)
			}
			audits := silenceAudits(d.fixture)
			if tt.wantStatus == 303 {
				if len(audits) != 1 || audits[0].Actor != tt.user || audits[0].Target != "orders-dup" || audits[0].Remote == "" {
					t.Errorf("silence audit = %+v", audits)
				}
			} else if len(audits) != 0 {
				t.Errorf("a refused action was audited: %+v", audits)
			}
		})
	}
}

// TestEveryActionNeedsOperator sends every state-changing route, with a
// valid CSRF token, as a viewer: each must be 403 (login, logout and the
// viewer's own time preference excepted). Routes added later are covered
// too.
func TestEveryActionNeedsOperator(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	c := f.loggedIn("vic")
	tok := c.csrf("/")
	n := 0
	for _, rt := range f.s.app.GetRoutes(true) {
		switch rt.Method {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace, fiber.MethodConnect:
			continue
		}
		if rt.Path == "/login" || rt.Path == "/logout" || rt.Path == "/preferences/time" {
			continue
		}
		path := fillParams(rt.Path)
		r := c.do(rt.Method, path, url.Values{"_csrf": {tok}}, "X-CSRF-Token", tok)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer %s %s = %d, want 403", rt.Method, path, r.StatusCode)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no state-changing routes found")
	}
}

// fillParams replaces route parameters (:id, *) with a value.
func fillParams(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || p == "*" || p == "+" {
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

func TestBearerTokens(t *testing.T) {
	f := newDash(t, false).fixture
	ctx := context.Background()
	storeTok := "stored-token-0123456789abcdef0123456789ab"
	sum := sha256.Sum256([]byte(storeTok))
	id, err := f.store.CreateAPIToken(ctx, store.APIToken{Name: "exec", SHA256: hex.EncodeToString(sum[:]), Role: "operator", CreatedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	revokedTok := "revoked-token-0123456789abcdef0123456789a"
	rsum := sha256.Sum256([]byte(revokedTok))
	rid, err := f.store.CreateAPIToken(ctx, store.APIToken{Name: "old", SHA256: hex.EncodeToString(rsum[:]), Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.RevokeAPIToken(ctx, rid, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	_ = id

	tests := []struct {
		name       string
		auth       string
		wantGet    int
		wantPost   int // POST /silences without any CSRF token
		wantActor  string
		wantErrMsg string
	}{
		{name: "viewer token", auth: "Bearer viewer-token-0123456789abcdef0123456789", wantGet: 200, wantPost: 403},
		{name: "operator token", auth: "Bearer operator-token-0123456789abcdef012345678", wantGet: 200, wantPost: 303, wantActor: "token:operator-bot"},
		{name: "stored token", auth: "Bearer " + storeTok, wantGet: 200, wantPost: 303, wantActor: "token:exec"},
		{name: "scheme is case-insensitive", auth: "bearer " + storeTok, wantGet: 200, wantPost: 303, wantActor: "token:exec"},
		{name: "revoked token", auth: "Bearer " + revokedTok, wantGet: 401, wantPost: 401, wantErrMsg: "invalid token"},
		{name: "unknown token", auth: "Bearer nope", wantGet: 401, wantPost: 401, wantErrMsg: "invalid token"},
		{name: "basic auth", auth: "Basic YWxpY2U6YWxpY2UtcHc=", wantGet: 401, wantPost: 401, wantErrMsg: `authorization must be "Bearer <token>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.client()
			before := len(f.audit())
			g := c.get("/", "Authorization", tt.auth)
			if g.StatusCode != tt.wantGet {
				t.Errorf("GET / = %d, want %d", g.StatusCode, tt.wantGet)
			}
			p := c.post("/silences", validSilence(""), "Authorization", tt.auth)
			if p.StatusCode != tt.wantPost {
				t.Errorf("POST /silences = %d, want %d\n%s", p.StatusCode, tt.wantPost, p.body)
			}
			if tt.wantErrMsg != "" {
				if p.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if got := errorBody(t, p.body); got != tt.wantErrMsg {
					t.Errorf("error = %q, want %q", got, tt.wantErrMsg)
				}
			}
			if len(c.cookies) != 0 {
				t.Errorf("bearer requests got cookies: %v", c.cookies)
			}
			es := f.audit()[before:]
			if tt.wantActor != "" && (len(es) != 1 || es[0].Actor != tt.wantActor) {
				t.Errorf("audit = %+v, want one entry by %s", es, tt.wantActor)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	f := newDash(t, false).fixture
	oscar := f.loggedIn("oscar")
	tok := oscar.csrf("/")
	other := f.loggedIn("alice").csrf("/")

	tests := []struct {
		name       string
		c          *client
		form       url.Values
		headers    []string
		wantStatus int
	}{
		{name: "no token", c: oscar, form: validSilence(""), wantStatus: 403},
		{name: "wrong token", c: oscar, form: validSilence("AAAA" + tok[4:]), wantStatus: 403},
		{name: "another session's token", c: oscar, form: validSilence(other), wantStatus: 403},
		{name: "form field", c: oscar, form: validSilence(tok), wantStatus: 303},
		{name: "htmx header", c: oscar, form: validSilence(""), headers: []string{"X-CSRF-Token", tok, "HX-Request", "true"}, wantStatus: 204},
		{name: "anonymous login without token", c: f.client(), form: url.Values{"name": {"alice"}, "password": {"alice-pw"}}, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/silences"
			if tt.c != oscar {
				path = "/login"
			}
			r := tt.c.post(path, tt.form, tt.headers...)
			if r.StatusCode != tt.wantStatus {
				t.Errorf("POST %s = %d, want %d\n%s", path, r.StatusCode, tt.wantStatus, r.body)
			}
			if tt.wantStatus == 403 && !strings.Contains(r.body, "CSRF") {
				t.Errorf("403 does not name CSRF:\n%s", r.body)
			}
		})
	}
	// htmx is sent on with HX-Redirect, and the header token stays valid.
	r := oscar.post("/silences", validSilence(""), "X-CSRF-Token", tok, "HX-Request", "true")
	if r.StatusCode != 204 || r.Header.Get("HX-Redirect") != "/silences?notice=silenced" {
		t.Errorf("htmx silence = %d, HX-Redirect %q", r.StatusCode, r.Header.Get("HX-Redirect"))
	}
	if n := len(silenceAudits(f)); n != 3 {
		t.Errorf("%d silences audited, want the 3 sent with a valid token", n)
	}
	// The login form's token is tied to its cookie: another browser's token fails.
	a, b := f.client(), f.client()
	tokA := a.csrf("/login")
	b.csrf("/login")
	if r := b.post("/login", url.Values{"_csrf": {tokA}, "name": {"alice"}, "password": {"alice-pw"}}); r.StatusCode != 403 {
		t.Errorf("login with another browser's token = %d, want 403", r.StatusCode)
	}
}

func TestLocalMode(t *testing.T) {
	f := newDash(t, true).fixture
	c := f.client()
	home := c.get("/")
	if home.StatusCode != 200 || !strings.Contains(home.body, `<span class="who-name"><bdi>tester</bdi></span>`) || !strings.Contains(home.body, "local mode") {
		t.Fatalf("GET / in local mode = %d\n%s", home.StatusCode, home.body)
	}
	if r := c.get("/login?next=/checks/x"); r.StatusCode != 303 || r.Header.Get("Location") != "/checks/x" {
		t.Errorf("GET /login in local mode = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// A browser sends Sec-Fetch-Site (and Origin) with a POST: it needs the
	// token (see TestLocalModeCSRF for programs).
	if r := c.post("/silences", validSilence(""), "Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"); r.StatusCode != 403 {
		t.Errorf("POST without CSRF in local mode = %d, want 403", r.StatusCode)
	}
	tok := c.csrf("/silences")
	if r := c.post("/silences", validSilence(tok)); r.StatusCode != 303 {
		t.Errorf("POST with CSRF in local mode = %d, want 303", r.StatusCode)
	}
	// A cross-site form carries no cookie (SameSite=Lax): a token alone fails.
	bare := f.client()
	if r := bare.post("/silences", validSilence(tok), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("POST with a token but no cookie = %d, want 403", r.StatusCode)
	}
	es := f.audit()
	if len(es) != 1 || es[0].Actor != "tester" || es[0].Action != "silence" || es[0].Target != "orders-dup" {
		t.Errorf("audit = %+v, want one silence by tester", es)
	}

	hosts := []struct {
		host string
		want int
	}{
		{host: "localhost:8080", want: 200},
		{host: "[::1]:8080", want: 200},
		{host: "127.0.0.2", want: 200},
		{host: "evil.example.com:8080", want: 403}, // DNS rebinding
		{host: "10.0.0.7:8080", want: 403},
	}
	for _, h := range hosts {
		hc := f.client()
		hc.host = h.host
		if r := hc.get("/"); r.StatusCode != h.want {
			t.Errorf("GET / with Host %s = %d, want %d", h.host, r.StatusCode, h.want)
		}
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		auth    bool
		wantErr string
	}{
		{name: "loopback v4", addr: "127.0.0.1:8080"},
		{name: "loopback v4 other", addr: "127.1.2.3:8080"},
		{name: "loopback v6", addr: "[::1]:8080"},
		{name: "localhost", addr: "localhost:0"},
		{name: "all interfaces", addr: ":8080", wantErr: "web: refusing to listen on :8080 (every interface) without auth"},
		{name: "unspecified", addr: "0.0.0.0:8080", wantErr: "refusing to listen on 0.0.0.0:8080 (0.0.0.0) without auth"},
		{name: "unspecified v6", addr: "[::]:8080", wantErr: "without auth"},
		{name: "lan address", addr: "10.0.0.7:8080", wantErr: "without auth: add users or tokens to the auth section"},
		{name: "host name", addr: "vigil.internal:8080", wantErr: "without auth"},
		{name: "all interfaces with auth", addr: ":8080", auth: true},
		{name: "lan with auth", addr: "10.0.0.7:8080", auth: true},
		{name: "bad address", addr: "localhost", auth: true, wantErr: `web: listen address "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckListen(tt.addr, tt.auth)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckListen(%q, %v) = %v", tt.addr, tt.auth, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CheckListen(%q, %v) = %v, want %q", tt.addr, tt.auth, err, tt.wantErr)
			}
		})
	}
}

func TestPasswords(t *testing.T) {
	fast := argon2Params{memory: 64, time: 1, threads: 1}
	argon, err := hashArgon2id("s3cret pass", fast)
	if err != nil {
		t.Fatal(err)
	}
	def, err := HashPassword("s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(def, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword = %q, want the default argon2id parameters", def)
	}
	tests := []struct {
		name    string
		hash    string
		pw      string
		want    bool
		wantErr bool
	}{
		{name: "argon2id match", hash: argon, pw: "s3cret pass", want: true},
		{name: "argon2id mismatch", hash: argon, pw: "s3cret pas", want: false},
		{name: "default parameters", hash: def, pw: "s3cret pass", want: true},
		{name: "bcrypt match", hash: bcryptOnce()["alice"], pw: "alice-pw", want: true},
		{name: "bcrypt mismatch", hash: bcryptOnce()["alice"], pw: "alice-pW", want: false},
		{name: "dummy hash is a real bcrypt hash", hash: dummyHash, pw: "", want: false},
		{name: "garbage", hash: "plain", pw: "plain", wantErr: true},
		{name: "argon2 wrong version", hash: strings.Replace(argon, "v=19", "v=16", 1), pw: "s3cret pass", wantErr: true},
		{name: "argon2 bad params", hash: strings.Replace(argon, "t=1", "t=0", 1), pw: "s3cret pass", wantErr: true},
		{name: "argon2 bad salt", hash: "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", pw: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkPassword(tt.hash, tt.pw)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("checkPassword = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// errorBody decodes a JSON error response.
func errorBody(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e.Error
}

// TestLocalModeCSRF: in local mode (no auth, loopback only) a program such
// as curl may POST without a CSRF token, while a browser's request still
// needs one. OWASP's CSRF Prevention Cheat Sheet ("Fetch Metadata
// headers", "Verifying Origin with standard headers") and the Fetch
// standard: browsers send Sec-Fetch-Site and Origin with every
// state-changing request, a cross-site one says so, and a request with
// neither is not from a (current) browser. Sessions and the login form keep
// requiring the token.
func TestLocalModeCSRF(t *testing.T) {
	d := newDash(t, true)
	f := d.fixture
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{name: "curl: no browser headers, no cookie, no token", want: 202},
		{name: "cross-site form (Fetch Metadata)", headers: []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, want: 403},
		{name: "same-site but other origin", headers: []string{"Sec-Fetch-Site", "same-site", "Origin", "http://other.localhost:8080"}, want: 403},
		{name: "old browser cross-site: Origin only", headers: []string{"Origin", "https://evil.example"}, want: 403},
		{name: "sandboxed page: Origin null", headers: []string{"Origin", "null"}, want: 403},
		{name: "typed by the user (Sec-Fetch-Site none) without a token", headers: []string{"Sec-Fetch-Site", "none"}, want: 403},
		{name: "same-origin browser without a token", headers: []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"}, want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.client().do(http.MethodPost, "/api/v1/checks/api-up/run", nil, tt.headers...)
			if r.StatusCode != tt.want {
				t.Errorf("POST = %d, want %d\n%s", r.StatusCode, tt.want, r.body)
			}
			if tt.want == 202 {
				d.waitRun("api-up")
			}
		})
	}

	// With auth, a session cookie without a token is refused even with no
	// browser headers: the relaxation is local mode's alone.
	a := newDash(t, false).fixture
	oscar := a.loggedIn("oscar")
	if r := oscar.post("/silences", validSilence("")); r.StatusCode != 403 {
		t.Errorf("session POST without token and without browser headers = %d, want 403", r.StatusCode)
	}
}
