package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CSRF protection. Every POST, PUT, PATCH and DELETE not authenticated by a
// bearer token must carry the request's CSRF token, as the form field
// _csrf or the header X-CSRF-Token (htmx sends the header, set on <body>
// with hx-headers). The token is:
//
//   - with a session: an HMAC of the session's cookie token, so it needs no
//     storage and dies with the session;
//   - without one (the login form, and local mode): an HMAC, under a key
//     that is random per process unless Options.CSRFKey is set, of a random
//     nonce kept in a cookie (a signed double-submit cookie). A page can
//     only learn the token by reading a vigil page, which the same-origin
//     policy (and, in local mode, the Host check) forbids to other sites;
//     the cookie is SameSite=Lax, so a cross-site POST does not even carry
//     it. After a restart without a shared key, an open form must be
//     reloaded.
//
// In local mode (no auth: loopback only, every local request is the local
// admin) a request that is not from a browser needs no token, so that curl
// and scripts can act. A browser sends Sec-Fetch-Site or Origin with every
// state-changing request (the Fetch standard; OWASP's CSRF cheat sheet
// builds on both), so a request carrying neither comes from a program, which
// could send anything it likes anyway. Any request that carries either still
// needs the token.

const (
	csrfField  = "_csrf"
	csrfHeader = "X-CSRF-Token"
)

// sessionCSRF is the CSRF token of a session with cookie token raw.
func sessionCSRF(raw string) string {
	m := hmac.New(sha256.New, []byte(raw))
	m.Write([]byte("vigil csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// nonceCSRF is the CSRF token that goes with nonce cookie value nonce.
func (s *Server) nonceCSRF(nonce string) string {
	m := hmac.New(sha256.New, s.auth.csrfKey)
	m.Write([]byte("vigil csrf nonce v1\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfToken returns the token forms of this response must carry, setting a
// nonce cookie first when the request has no session and no nonce.
func (s *Server) csrfToken(c *fiber.Ctx) (string, error) {
	if t, ok := c.Locals(csrfKey).(string); ok {
		return t, nil
	}
	if u := currentUser(c); u != nil && u.Via == ViaToken {
		return "", nil // bearer requests need none
	}
	nonce, _ := c.Locals(csrfNonceKey).(string)
	if nonce == "" {
		nonce = c.Cookies(s.csrfCookie())
	}
	if len(nonce) < 32 {
		var err error
		if nonce, err = randomToken(); err != nil {
			return "", err
		}
		s.setCookie(c, s.csrfCookie(), nonce, time.Time{})
		c.Locals(csrfNonceKey, nonce)
	}
	t := s.nonceCSRF(nonce)
	c.Locals(csrfKey, t)
	return t, nil
}

// checkCSRF rejects a state-changing request without the right token with
// 403. Safe methods and bearer-token requests pass.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions, fiber.MethodTrace:
		return c.Next()
	}
	if u := currentUser(c); u != nil && (u.Via == ViaToken || (u.Via == ViaLocal && !fromBrowser(c))) {
		return c.Next()
	}
	want, ok := c.Locals(csrfKey).(string) // set for sessions
	if !ok {
		nonce := c.Cookies(s.csrfCookie())
		if len(nonce) < 32 {
			return fiber.NewError(fiber.StatusForbidden, "missing CSRF cookie: reload the page and try again")
		}
		want = s.nonceCSRF(nonce)
	}
	got := c.Get(csrfHeader)
	if got == "" {
		got = c.FormValue(csrfField)
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return fiber.NewError(fiber.StatusForbidden, "missing or invalid CSRF token: reload the page and try again")
	}
	return c.Next()
}

// fromBrowser reports whether a request carries the headers a browser
// sends with a state-changing request: Sec-Fetch-Site (Fetch Metadata) or
// Origin.
func fromBrowser(c *fiber.Ctx) bool {
	return c.Get("Sec-Fetch-Site") != "" || c.Get(fiber.HeaderOrigin) != ""
}
