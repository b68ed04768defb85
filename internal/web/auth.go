package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// Role is what a user may do; a higher role may do everything a lower one
// may.
type Role int

// Roles, from least to most privileged.
const (
	RoleViewer   Role = iota + 1 // read only (support staff)
	RoleOperator                 // run, ack, silence, redrive, log scripts (on-call)
	RoleAdmin
)

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case config.RoleViewer:
		return RoleViewer, nil
	case config.RoleOperator:
		return RoleOperator, nil
	case config.RoleAdmin:
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("unknown role %q (want viewer, operator or admin)", s)
}

// String is the role's config name.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return config.RoleViewer
	case RoleOperator:
		return config.RoleOperator
	case RoleAdmin:
		return config.RoleAdmin
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// How a request was authenticated.
const (
	ViaSession = "session" // a dashboard login (cookie)
	ViaToken   = "token"   // Authorization: Bearer
	ViaLocal   = "local"   // local mode: no auth configured, loopback only
)

// User is who makes a request.
type User struct {
	Name string
	Role Role
	Via  string // ViaSession, ViaToken or ViaLocal
}

// Can reports whether the user's role is at least min.
func (u *User) Can(min Role) bool { return u != nil && u.Role >= min }

// Actor is the user's name in the audit log: API tokens are "token:<name>".
func (u *User) Actor() string {
	if u.Via == ViaToken {
		return "token:" + u.Name
	}
	return u.Name
}

// Locals keys.
const (
	userKey      = "vigil.user"
	csrfKey      = "vigil.csrf"       // the request's expected CSRF token
	csrfNonceKey = "vigil.csrf.nonce" // a nonce cookie set during this request
)

// currentUser returns who makes the request, or nil when anonymous.
func currentUser(c *fiber.Ctx) *User {
	u, _ := c.Locals(userKey).(*User)
	return u
}

// authenticator holds the users and tokens of the config.
type authenticator struct {
	users map[string]authUser
	// dummyHash is checked for an unknown user name, so that a wrong name
	// costs as much as a wrong password: a configured user's hash (same
	// algorithm and cost), or the package's dummyHash.
	dummyHash string
	tokens    map[string]authUser // by lowercase hex SHA-256
	ttl       time.Duration
	csrfKey   []byte
	// accounts and addrs limit failed logins per account name and per
	// client address; verifier caps the password checks running at once.
	accounts, addrs *limiter
	verifier        *verifier
}

type authUser struct {
	name, hash string
	role       Role
	// credential fingerprints the password hash and role: a session
	// started under another one has ended.
	credential string
}

// credentialOf is the fingerprint of a user's password hash and role that
// a session binds (never the hash itself: the store keeps only this).
func credentialOf(hash string, role Role) string {
	sum := sha256.Sum256([]byte("vigil session credential v1\x00" + hash + "\x00" + role.String()))
	return hex.EncodeToString(sum[:16])
}

func newAuthenticator(a config.Auth, csrfKey []byte, now func() time.Time) (*authenticator, error) {
	au := &authenticator{users: map[string]authUser{}, tokens: map[string]authUser{}, ttl: a.SessionTTL, dummyHash: dummyHash,
		accounts: newLimiter(accountMaxFailures, now), addrs: newLimiter(addrMaxFailures, now), verifier: newVerifier()}
	if len(a.Users) > 0 {
		au.dummyHash = a.Users[0].PasswordHash
	}
	if au.ttl <= 0 {
		au.ttl = config.DefaultSessionTTL
	}
	for _, u := range a.Users {
		role, err := ParseRole(u.Role)
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		au.users[u.Name] = authUser{name: u.Name, hash: u.PasswordHash, role: role, credential: credentialOf(u.PasswordHash, role)}
	}
	for _, t := range a.Tokens {
		role, err := ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("token %s: %w", t.Name, err)
		}
		au.tokens[strings.ToLower(t.SHA256)] = authUser{name: t.Name, role: role}
	}
	au.csrfKey = csrfKey
	if len(au.csrfKey) == 0 {
		au.csrfKey = make([]byte, 32)
		if _, err := rand.Read(au.csrfKey); err != nil {
			return nil, err
		}
	}
	return au, nil
}

// NewAPIToken returns a new random API token ("vigil_" and 43 URL-safe
// characters: 256 bits) and its lowercase hex SHA-256, the token_sha256 of
// auth.tokens. vigil keeps only the hash.
func NewAPIToken() (token, sha256 string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("web: new API token: %w", err)
	}
	token = "vigil_" + base64.RawURLEncoding.EncodeToString(b)
	return token, sha256Hex(token), nil
}

// sha256Hex is the lowercase hex SHA-256 of s: how session and API tokens
// are stored.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// identify sets who makes the request: the holder of a bearer token, of a
// session cookie, the local admin in local mode, or nobody. A bearer token
// that matches nothing is a 401. In local mode a request for a host other
// than a loopback name or the base URL's host is refused (a DNS-rebinding
// page must not drive the local admin).
func (s *Server) identify(c *fiber.Ctx) error {
	if s.localUser != "" {
		if !s.localHost(c.Hostname()) {
			return fiber.NewError(fiber.StatusForbidden, "vigil in local mode only answers requests for localhost or the base URL's host")
		}
		c.Locals(userKey, &User{Name: s.localUser, Role: RoleAdmin, Via: ViaLocal})
		return c.Next()
	}
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		u, err := s.bearer(c, h)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="vigil"`)
			return err
		}
		c.Locals(userKey, u)
		return c.Next()
	}
	if raw := c.Cookies(s.sessionCookie()); raw != "" {
		u, err := s.sessionUser(c, raw)
		if err != nil {
			return err
		}
		if u == nil {
			s.clearCookie(c, s.sessionCookie()) // expired or unknown: stop sending it
		} else {
			c.Locals(userKey, u)
			c.Locals(csrfKey, sessionCSRF(raw))
		}
	}
	return c.Next()
}

// bearer authenticates "Authorization: Bearer <token>" against the
// config's tokens, then the store's.
func (s *Server) bearer(c *fiber.Ctx, header string) (*User, error) {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, fiber.NewError(fiber.StatusUnauthorized, "authorization must be \"Bearer <token>\"")
	}
	sum := sha256Hex(tok)
	if t, ok := s.auth.tokens[sum]; ok {
		return &User{Name: t.name, Role: t.role, Via: ViaToken}, nil
	}
	t, err := s.store.APITokenBySHA256(c.UserContext(), sum)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fiber.NewError(fiber.StatusUnauthorized, "invalid token")
	}
	if err != nil {
		return nil, err
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return nil, fiber.NewError(fiber.StatusUnauthorized, "invalid token")
	}
	return &User{Name: t.Name, Role: role, Via: ViaToken}, nil
}

// sessionUser returns the user of session cookie value raw, or nil when
// the session is unknown, expired, its user is no longer configured, or
// the user's password hash or role changed since it started (OWASP Session
// Management: renew sessions on privilege change); such a session is
// deleted.
func (s *Server) sessionUser(c *fiber.Ctx, raw string) (*User, error) {
	id := sha256Hex(raw)
	sess, err := s.store.Session(c.UserContext(), id, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, ok := s.auth.users[sess.User]
	if !ok || subtle.ConstantTimeCompare([]byte(sess.Credential), []byte(u.credential)) != 1 {
		return nil, s.store.DeleteSession(c.UserContext(), id)
	}
	return &User{Name: u.name, Role: u.role, Via: ViaSession}, nil
}

// localHost reports whether host (without port) may reach the server in
// local mode.
func (s *Server) localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	return s.baseHost != "" && strings.EqualFold(host, s.baseHost)
}

// RequireRole lets a request through when its user has at least role min.
// An anonymous GET for a page is redirected to the login page (coming back
// here afterwards); other anonymous requests get 401 (htmx requests with
// HX-Redirect to the login page); a user below min gets 403.
func (s *Server) RequireRole(min Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u := currentUser(c)
		if u == nil {
			switch {
			case isAPI(c):
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="vigil"`)
			case isHX(c):
				next := "/"
				if cur, err := url.Parse(c.Get("HX-Current-URL")); err == nil {
					next = safeNext(cur.RequestURI())
				}
				c.Set("HX-Redirect", loginURL(next))
			case c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead:
				return c.Redirect(loginURL(c.OriginalURL()), fiber.StatusSeeOther)
			}
			return fiber.NewError(fiber.StatusUnauthorized, "login required")
		}
		if !u.Can(min) {
			return fiber.NewError(fiber.StatusForbidden, fmt.Sprintf("forbidden: this needs the %s role", min))
		}
		return c.Next()
	}
}

// loginURL is the login page that returns to next afterwards.
func loginURL(next string) string {
	next = safeNext(next)
	if next == "/" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}

// safeNext returns next when it is a path on this site ("/checks/x?y"),
// and "/" for anything else: absolute or scheme-relative URLs
// ("//evil.com", "/\evil.com"), other schemes, control characters.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 2048 {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return next
}

// IsLoopback reports whether the listen address addr (host:port) accepts
// connections from this machine only: localhost or a loopback IP. An empty
// or unspecified host (":8080", "0.0.0.0:8080") listens on every interface.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("web: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// CheckListen refuses to serve on a non-loopback address without auth: it
// returns an error for addr when authConfigured is false and addr's host is
// empty (every interface), an unspecified address, or anything but a
// loopback IP or "localhost". An unreadable addr is an error too.
func CheckListen(addr string, authConfigured bool) error {
	loopback, err := IsLoopback(addr)
	if err != nil {
		return err
	}
	if authConfigured || loopback {
		return nil
	}
	host, _, _ := net.SplitHostPort(addr)
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("web: refusing to listen on %s (%s) without auth: add users or tokens to the auth section of the config, or listen on a loopback address such as 127.0.0.1:8080", addr, shown)
}
