package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// loginData is the login page's Data.
type loginData struct {
	Next  string // where to go after logging in (a safe path)
	Name  string // the name typed, kept after a failure
	Error string
}

// loginPage shows the login form (GET /login?next=/checks/x). A user who
// is already known goes straight to next.
func (s *Server) loginPage(c *fiber.Ctx) error {
	next := safeNext(c.Query("next"))
	if currentUser(c) != nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	return s.render(c, "login", "", loginData{Next: next})
}

// loginSubmit checks a name and password (POST /login), starts a session
// and sends the user to next. Failures are rate-limited per remote address
// and per user name (429 with Retry-After once locked) and audited.
func (s *Server) loginSubmit(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	if u := currentUser(c); u != nil && u.Via == ViaLocal {
		return c.Redirect(next, fiber.StatusSeeOther) // local mode: nobody logs in
	}
	data := loginData{Next: next, Name: name}
	lim := s.auth.limiter
	ipKey, userKey := "ip:"+c.IP(), "user:"+strings.ToLower(name)
	if wait := max(lim.wait(ipKey), lim.wait(userKey)); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		s.log.Warn("login rate-limited", "user", truncate(name, 64), "remote", c.IP(), "retry_after_s", secs)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		c.Status(fiber.StatusTooManyRequests)
		data.Error = fmt.Sprintf("Too many failed logins. Try again in %s.", wait.Round(time.Second))
		return s.render(c, "login", "", data)
	}

	u, known := s.auth.users[name]
	hash := s.auth.dummyHash
	if known {
		hash = u.hash
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		s.log.Error("login: unreadable password hash", "user", u.name, "err", err)
	}
	if !known || !ok {
		lim.fail(ipKey)
		lim.fail(userKey)
		if err := s.auditAs(c, name, "login_failed", "", ""); err != nil {
			return err
		}
		c.Status(fiber.StatusUnauthorized)
		data.Error = "Wrong name or password."
		return s.render(c, "login", "", data)
	}
	lim.reset(userKey)
	if err := s.startSession(c, u.name); err != nil {
		return err
	}
	if err := s.auditAs(c, u.name, "login", "", ""); err != nil {
		return err
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// logout ends the request's session (POST /logout) and goes to the login
// page. Without a session (local mode, bearer tokens) it only redirects.
func (s *Server) logout(c *fiber.Ctx) error {
	u := currentUser(c)
	if u == nil || u.Via != ViaSession {
		return s.seeOther(c, "/login")
	}
	if err := s.store.DeleteSession(c.UserContext(), sha256Hex(c.Cookies(s.sessionCookie()))); err != nil {
		return err
	}
	s.clearCookie(c, s.sessionCookie())
	if err := s.audit(c, "logout", "", ""); err != nil {
		return err
	}
	return s.seeOther(c, "/login")
}
