package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// Test users: one per role; the password of each is name+"-pw".
var testUsers = []struct{ name, role string }{
	{"alice", "admin"},
	{"oscar", "operator"},
	{"vic", "viewer"},
}

// Test API tokens, one per role (raw token -> role).
var testTokens = map[string]string{
	"viewer-token-0123456789abcdef0123456789":  "viewer",
	"operator-token-0123456789abcdef012345678": "operator",
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var bcryptOnce = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, u := range testUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(u.name+"-pw"), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		out[u.name] = string(h)
	}
	return out
})

// authConfig is a config with the test users and tokens, served at base.
func authConfig(t *testing.T, base string) *config.Config {
	t.Helper()
	hashes := bcryptOnce()
	cfg := &config.Config{Server: config.Server{Listen: "0.0.0.0:8080", BaseURL: base}}
	cfg.Auth.SessionTTL = 12 * time.Hour
	for _, u := range testUsers {
		cfg.Auth.Users = append(cfg.Auth.Users, config.User{Name: u.name, PasswordHash: hashes[u.name], Role: u.role})
	}
	for tok, role := range testTokens {
		sum := sha256.Sum256([]byte(tok))
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Name: role + "-bot", SHA256: hex.EncodeToString(sum[:]), Role: role})
	}
	return cfg
}

// fixture is a server on a fresh SQLite store with a test clock.
type fixture struct {
	t     *testing.T
	s     *Server
	store *store.Store
	clock *clock
}

// newFixture starts a server for cfg (nil: local mode as user "tester").
// extra, if set, registers more routes before the first request.
func newFixture(t *testing.T, cfg *config.Config, extra func(s *Server)) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	s, err := New(Options{Store: st, Config: cfg, Now: clk.Now, LocalUser: "tester"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if extra != nil {
		extra(s)
	}
	return &fixture{t: t, s: s, store: st, clock: clk}
}

// client is a browser: it keeps cookies between requests.
type client struct {
	f       *fixture
	cookies map[string]*http.Cookie
	host    string
}

func (f *fixture) client() *client {
	return &client{f: f, cookies: map[string]*http.Cookie{}, host: "127.0.0.1:8080"}
}

// response is a finished response with its body read.
type response struct {
	*http.Response
	body string
}

// do sends a request with the client's cookies and headers (pairs of
// name, value) and keeps the cookies it sets.
func (c *client) do(method, target string, form url.Values, headers ...string) response {
	c.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	req.Host = c.host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	for _, ck := range c.cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := c.f.s.Test(req)
	if err != nil {
		c.f.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.f.t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return response{Response: resp, body: string(b)}
}

func (c *client) get(target string, headers ...string) response {
	c.f.t.Helper()
	return c.do(http.MethodGet, target, nil, headers...)
}

func (c *client) post(target string, form url.Values, headers ...string) response {
	c.f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return c.do(http.MethodPost, target, form, headers...)
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf loads page and returns the CSRF token of its first form.
func (c *client) csrf(page string) string {
	c.f.t.Helper()
	r := c.get(page)
	m := csrfInput.FindStringSubmatch(r.body)
	if m == nil {
		c.f.t.Fatalf("GET %s (%d): no _csrf field in\n%s", page, r.StatusCode, r.body)
	}
	return m[1]
}

// login logs the client in as name with password, from the login page.
func (c *client) login(name, password, next string) response {
	c.f.t.Helper()
	tok := c.csrf("/login")
	return c.post("/login", url.Values{"_csrf": {tok}, "name": {name}, "password": {password}, "next": {next}})
}

// loggedIn returns a client logged in as a test user.
func (f *fixture) loggedIn(name string) *client {
	f.t.Helper()
	c := f.client()
	if r := c.login(name, name+"-pw", "/"); r.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("login %s: status %d\n%s", name, r.StatusCode, r.body)
	}
	return c
}

// audit returns the audit log, oldest first.
func (f *fixture) audit() []store.AuditEntry {
	f.t.Helper()
	es, err := f.store.AuditLog(context.Background(), 0)
	if err != nil {
		f.t.Fatalf("AuditLog: %v", err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}
