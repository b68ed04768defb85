package web

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/store"
)

// Cookie names; over https they carry the __Host- prefix (Secure, Path=/,
// no Domain: a sibling subdomain cannot set them).
func (s *Server) sessionCookie() string { return s.cookieName("vigil_session") }
func (s *Server) csrfCookie() string    { return s.cookieName("vigil_csrf") }

func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site,
// Secure over https; a zero expires makes it a browser-session cookie.
func (s *Server) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Expires:  expires,
		Secure:   s.secure,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// clearCookie tells the browser to drop a cookie.
func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Expires:  time.Unix(1, 0),
		Secure:   s.secure,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// startSession stores a new session for user, bound to the user's
// credential, and sets its cookie. Any session the request already carried
// is ended first (no fixation).
func (s *Server) startSession(c *fiber.Ctx, user authUser) error {
	if old := c.Cookies(s.sessionCookie()); old != "" {
		if err := s.store.DeleteSession(c.UserContext(), sha256Hex(old)); err != nil {
			return err
		}
	}
	raw, err := randomToken()
	if err != nil {
		return err
	}
	now := s.now()
	expires := now.Add(s.auth.ttl)
	err = s.store.CreateSession(c.UserContext(), store.Session{
		IDHash:     sha256Hex(raw),
		User:       user.name,
		CreatedAt:  now,
		ExpiresAt:  expires,
		Remote:     s.clientIP(c),
		UserAgent:  truncate(c.Get(fiber.HeaderUserAgent), 256),
		Credential: user.credential,
	})
	if err != nil {
		return err
	}
	s.setCookie(c, s.sessionCookie(), raw, expires)
	return nil
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
