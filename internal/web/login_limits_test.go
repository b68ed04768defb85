package web

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilhq/vigil/internal/config"
)

// tcpBrowser is a browser on a real connection that leaves from local
// address ip (any 127.0.0.0/8 address is on the loopback interface).
type tcpBrowser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newTCPBrowser(t *testing.T, base, ip string) *tcpBrowser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	b := &tcpBrowser{t: t, base: base, hc: &http.Client{
		Jar: jar, Timeout: time.Minute,
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 100},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(b.hc.CloseIdleConnections) // before the server's Shutdown waits for them
	return b
}

var loginCSRF = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// loginForm loads the login page and returns its CSRF token.
func (b *tcpBrowser) loginForm() string {
	b.t.Helper()
	resp, err := b.hc.Get(b.base + "/login")
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginCSRF.FindSubmatch(body)
	if m == nil {
		b.t.Fatalf("GET /login = %d: no CSRF field", resp.StatusCode)
	}
	return string(m[1])
}

// login posts the login form (with the token of an earlier loginForm)
// and returns the status, Retry-After and body; xff, when set, are
// X-Forwarded-For header lines.
func (b *tcpBrowser) login(tok, name, password string, xff ...string) (int, string, string) {
	form := url.Values{"_csrf": {tok}, "name": {name}, "password": {password}, "next": {"/"}}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range xff {
		req.Header.Add("X-Forwarded-For", h)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Errorf("POST /login: %v", err)
		return 0, "", ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// auditCount counts audit entries with action.
func auditCount(f *fixture, action string) int {
	n := 0
	for _, e := range f.audit() {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestLoginAccountLockout follows the OWASP Authentication Cheat Sheet
// ("Account Lockout"): after 5 failed logins an account is locked for a
// while, from every address, with an exponential backoff; the lock is the
// account's alone, so another user logging in from the same address (an
// office behind one NAT) is not locked out. A refused attempt is neither
// checked nor audited.
func TestLoginAccountLockout(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	base := serveTCP(t, f)
	b := newTCPBrowser(t, base, "127.0.0.1")
	tok := b.loginForm()
	for i := range 5 {
		if code, _, _ := b.login(tok, "alice", "wrong"); code != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, code)
		}
	}
	// Locked: even the right password is refused, without being checked.
	code, retry, body := b.login(tok, "alice", "alice-pw")
	if code != 429 || retry != "60" || !strings.Contains(body, "Too many failed logins for this account") {
		t.Fatalf("6th attempt = %d Retry-After %q, want 429 after 60 s\n%s", code, retry, body)
	}
	other := newTCPBrowser(t, base, "127.0.0.2")
	if code, _, _ := other.login(other.loginForm(), "alice", "alice-pw"); code != 429 {
		t.Errorf("alice from another address = %d, want 429: the lock is the account's", code)
	}
	// Another account from the same address is not locked.
	if code, _, body := b.login(tok, "vic", "vic-pw"); code != 303 {
		t.Errorf("vic from the address that locked alice = %d, want 303\n%s", code, body)
	}
	f.clock.Add(61 * time.Second)
	b2 := newTCPBrowser(t, base, "127.0.0.1")
	if code, _, _ := b2.login(b2.loginForm(), "alice", "alice-pw"); code != 303 {
		t.Fatalf("after the lock = %d, want 303", code)
	}

	// Backoff: an account's next lockout lasts twice as long.
	tok = b.loginForm()
	for i := range 10 {
		if i == 5 {
			f.clock.Add(61 * time.Second)
		}
		if code, retry, _ := b.login(tok, "oscar", "x"); code != 401 {
			t.Errorf("oscar's failure %d = %d Retry-After %q, want 401", i+1, code, retry)
		}
	}
	if code, retry, _ := b.login(tok, "oscar", "oscar-pw"); code != 429 || retry != "120" {
		t.Errorf("second lockout = %d Retry-After %q, want 429 after 120 s", code, retry)
	}
	if n := auditCount(f, "login_failed"); n != 15 {
		t.Errorf("%d login_failed audit entries, want 15 (refused attempts are not checked)", n)
	}
}

// TestLoginAddressThrottle follows the OWASP Authentication Cheat Sheet
// (throttling by IP address, apart from account lockout): one address
// trying many accounts once each is stopped after 20 failures, whatever
// the accounts; other addresses are not.
func TestLoginAddressThrottle(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	base := serveTCP(t, f)
	b := newTCPBrowser(t, base, "127.0.0.3")
	tok := b.loginForm()
	for i := range 20 {
		if code, _, _ := b.login(tok, "guess-"+itoa(int64(i)), "password1"); code != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, code)
		}
	}
	if code, retry, body := b.login(tok, "vic", "vic-pw"); code != 429 || retry != "60" || !strings.Contains(body, "from your address") {
		t.Errorf("21st attempt from the address = %d Retry-After %q, want 429 after 60 s\n%s", code, retry, body)
	}
	other := newTCPBrowser(t, base, "127.0.0.4")
	if code, _, _ := other.login(other.loginForm(), "vic", "vic-pw"); code != 303 {
		t.Errorf("vic from another address = %d, want 303", code)
	}
}

// TestLoginBurstChecksOnlyTheLimit: 100 simultaneous wrong passwords for
// one account get at most the 5 checks the account's limit allows (OWASP
// Authentication Cheat Sheet: attempts beyond the threshold are refused);
// before, every request passed the limit check before any failure was
// counted.
func TestLoginBurstChecksOnlyTheLimit(t *testing.T) {
	// A production cost, so that checks overlap as they do in a burst.
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Auth.Users[0].PasswordHash = string(hash) // alice
	f := newFixture(t, cfg, nil)
	base := serveTCP(t, f)
	b := newTCPBrowser(t, base, "127.0.0.1")
	tok := b.loginForm()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			code, _, _ := b.login(tok, "alice", "wrong")
			mu.Lock()
			got[code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	// 5 checks, or fewer when the machine is so slow that some wait longer
	// than verifyWait for a password-check slot (and are refused too).
	if got[401] < 1 || got[401] > 5 || got[401]+got[429] != 100 {
		t.Errorf("100 simultaneous wrong logins = %v, want at most 5 checked (401) and the rest refused (429)", got)
	}
	if n := auditCount(f, "login_failed"); n != got[401] {
		t.Errorf("%d password checks failed, want one per 401 (%d)", n, got[401])
	}
}

// TestVerifierCap: when every password-check slot stays taken, a login
// waits its turn for a bounded time, then is refused without a check.
func TestVerifierCap(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	v := &verifier{slots: make(chan struct{}, 2), wait: 50 * time.Millisecond}
	v.slots <- struct{}{} // two checks in progress
	v.slots <- struct{}{}
	if ok, err := v.check(context.Background(), string(hash), "pw"); ok || !errors.Is(err, errBusy) {
		t.Errorf("check with every slot taken = %v, %v; want errBusy", ok, err)
	}
	<-v.slots
	if ok, err := v.check(context.Background(), string(hash), "pw"); !ok || err != nil {
		t.Errorf("check with a free slot = %v, %v; want a match", ok, err)
	}
	if n := len(v.slots); n != 1 {
		t.Errorf("%d slots taken after the check, want its slot given back", n)
	}
	if got := cap(newVerifier().slots); got < 1 || got > maxVerifying {
		t.Errorf("verifier slots = %d, want GOMAXPROCS capped at %d", got, maxVerifying)
	}
}

// TestClientIPFromTrustedProxies: X-Forwarded-For is believed only from a
// trusted proxy, read from the right as nginx's real_ip_recursive does, so
// a client cannot name itself by sending the header (OWASP Authentication
// Cheat Sheet: throttling by IP needs the real client address). Where a
// request came from is read back from the audit log of a failed login.
func TestClientIPFromTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		from    string
		xff     []string
		want    string
	}{
		{name: "no trusted proxy: the header is ignored", from: "127.0.0.1", xff: []string{"203.0.113.9"}, want: "127.0.0.1"},
		{name: "peer is not a trusted proxy", trusted: []string{"10.0.0.0/8"}, from: "127.0.0.1", xff: []string{"203.0.113.9"}, want: "127.0.0.1"},
		{name: "one proxy", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "client-sent entry is not believed", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", xff: []string{"198.51.100.66, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of trusted proxies", trusted: []string{"127.0.0.0/8"}, from: "127.0.0.1", xff: []string{"198.51.100.1, 203.0.113.9, 127.0.0.5"}, want: "203.0.113.9"},
		{name: "every hop trusted: the left-most", trusted: []string{"127.0.0.0/8"}, from: "127.0.0.1", xff: []string{"127.0.0.9, 127.0.0.5"}, want: "127.0.0.9"},
		{name: "several header lines are one list", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", xff: []string{"203.0.113.1", "198.51.100.2"}, want: "198.51.100.2"},
		{name: "address with port", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", xff: []string{"[2001:db8::1]:4711"}, want: "2001:db8::1"},
		{name: "malformed hop stops at the proxy", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", xff: []string{"203.0.113.1, not-an-ip"}, want: "127.0.0.1"},
		{name: "no header from a trusted proxy", trusted: []string{"127.0.0.1/32"}, from: "127.0.0.1", want: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := authConfig(t, "http://127.0.0.1:8080")
			for _, p := range tt.trusted {
				cfg.Server.TrustedProxies = append(cfg.Server.TrustedProxies, netip.MustParsePrefix(p))
			}
			f := newFixture(t, cfg, nil)
			b := newTCPBrowser(t, serveTCP(t, f), tt.from)
			if code, _, _ := b.login(b.loginForm(), "nobody", "x", tt.xff...); code != 401 {
				t.Fatalf("login = %d, want 401", code)
			}
			es := f.audit()
			if len(es) != 1 || es[0].Remote != tt.want {
				t.Errorf("audited client = %+v, want %s", es, tt.want)
			}
		})
	}

	// Two clients behind one trusted proxy are throttled apart.
	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	f := newFixture(t, cfg, nil)
	b := newTCPBrowser(t, serveTCP(t, f), "127.0.0.1")
	tok := b.loginForm()
	for i := range 21 {
		b.login(tok, "guess-"+itoa(int64(i)), "x", "203.0.113.50")
	}
	if code, _, _ := b.login(tok, "vic", "vic-pw", "203.0.113.50"); code != 429 {
		t.Errorf("the throttled client behind the proxy = %d, want 429", code)
	}
	if code, _, _ := b.login(tok, "vic", "vic-pw", "203.0.113.51"); code != 303 {
		t.Errorf("another client behind the same proxy = %d, want 303", code)
	}
}

// TestSessionEndsWhenCredentialChanges follows the OWASP Session
// Management Cheat Sheet (sessions are invalidated, and IDs renewed, when
// the user's password or privilege level changes): vigil restarted with a
// new password hash or role for a user ends that user's sessions; a
// restart with the same credentials keeps them.
func TestSessionEndsWhenCredentialChanges(t *testing.T) {
	newHash, err := bcrypt.GenerateFromPassword([]byte("oscar-new-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		change  func(u *config.User)
		wantEnd bool
	}{
		{name: "same credentials", change: func(*config.User) {}},
		{name: "new password hash", change: func(u *config.User) { u.PasswordHash = string(newHash) }, wantEnd: true},
		{name: "new role", change: func(u *config.User) { u.Role = "viewer" }, wantEnd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
			c := f.loggedIn("oscar")
			if r := c.get("/"); r.StatusCode != 200 {
				t.Fatalf("GET / logged in = %d", r.StatusCode)
			}
			cfg := authConfig(t, "http://127.0.0.1:8080")
			for i := range cfg.Auth.Users {
				if cfg.Auth.Users[i].Name == "oscar" {
					tt.change(&cfg.Auth.Users[i])
				}
			}
			// A restart: a new server on the same store.
			s2, err := New(Options{Store: f.store, Config: cfg, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			c.f = &fixture{t: t, s: s2, store: f.store, clock: f.clock}
			r := c.get("/")
			ended := r.StatusCode == 303 && r.Header.Get("Location") == "/login"
			if ended != tt.wantEnd {
				t.Errorf("GET / with the old cookie after the restart = %d %q; session ended %v, want %v", r.StatusCode, r.Header.Get("Location"), ended, tt.wantEnd)
			}
		})
	}
}

// TestConcurrentPagesKeepTheirOwnBody: each response carries the page
// rendered for its own request (RFC 9110: a response answers its
// request), however many are rendered at once; pages are rendered into
// pooled buffers, which must not be handed back before the response is
// written.
func TestConcurrentPagesKeepTheirOwnBody(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	base := serveTCP(t, f)
	b := newTCPBrowser(t, base, "127.0.0.1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for i := range 200 {
		wg.Go(func() {
			next := "/checks/page-" + itoa(int64(i))
			resp, err := b.hc.Get(base + "/login?next=" + url.QueryEscape(next))
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `name="next" value="`+next+`"`) {
				mu.Lock()
				wrong = append(wrong, next)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(wrong) > 0 {
		t.Errorf("%d of 200 concurrent pages did not carry their own request's data, e.g. %s", len(wrong), wrong[0])
	}
}

// TestLoginLimitsKeepTheirKeys: the limits remember accounts and
// addresses across requests, so the names they count must be their own
// copies. Fiber hands a handler strings that point into the connection's
// request buffer, which the next request on that connection overwrites
// ("values returned from fiber.Ctx are only valid within the handler",
// Fiber's zero-allocation notes). Before, a second login on the same
// connection rewrote the first account's key in place: under load an
// account was counted under a mangled name and locked twice at once.
func TestLoginLimitsKeepTheirKeys(t *testing.T) {
	f := newFixture(t, authConfig(t, "http://127.0.0.1:8080"), nil)
	base := serveTCP(t, f)
	b := newTCPBrowser(t, base, "127.0.0.1")
	tok := b.loginForm()
	names := []string{"first-account", "other-account", "third-account"}
	for _, name := range names {
		if code, _, _ := b.login(tok, name, "wrong"); code != 401 {
			t.Fatalf("login as %s = %d, want 401", name, code)
		}
	}
	l := f.s.auth.accounts
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range names {
		st, ok := l.ks[name]
		if !ok || len(st.failures) != 1 {
			var keys []string
			for k := range l.ks {
				keys = append(keys, k)
			}
			t.Fatalf("account %s: counted %v; the limiter holds %q", name, st, keys)
		}
	}
}
