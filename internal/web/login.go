package web

import (
	"errors"
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
// bound to the user's credential and sends the user to next. Attempts are
// limited per account and per client address apart (ratelimit.go): one
// beyond either limit is refused with 429 and Retry-After before any
// password is checked, as is one that finds every password-check slot busy
// (verifier). Failures are audited.
func (s *Server) loginSubmit(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	if u := currentUser(c); u != nil && u.Via == ViaLocal {
		return c.Redirect(next, fiber.StatusSeeOther) // local mode: nobody logs in
	}
	data := loginData{Next: next, Name: name}
	accounts, addrs := s.auth.accounts, s.auth.addrs
	account, addr := strings.ToLower(name), s.clientIP(c)
	if wait := accounts.reserve(account); wait > 0 {
		return s.loginRefused(c, data, wait, "Too many failed logins for this account.")
	}
	if wait := addrs.reserve(addr); wait > 0 {
		accounts.end(account, false)
		return s.loginRefused(c, data, wait, "Too many failed logins from your address.")
	}

	u, known := s.auth.users[name]
	hash := s.auth.dummyHash
	if known {
		hash = u.hash
	}
	ok, err := s.auth.verifier.check(c.UserContext(), hash, password)
	if errors.Is(err, errBusy) {
		accounts.end(account, false)
		addrs.end(addr, false)
		return s.loginRefused(c, data, busyRetry, "Too many logins at once.")
	}
	if err != nil {
		s.log.Error("login: unreadable password hash", "user", u.name, "err", err)
	}
	failed := !known || !ok
	if lock := accounts.end(account, failed); lock > 0 {
		s.log.Warn("login: account locked", "user", truncate(name, 64), "for", lock, "remote", addr)
	}
	if lock := addrs.end(addr, failed); lock > 0 {
		s.log.Warn("login: address locked", "remote", addr, "for", lock)
	}
	if failed {
		if err := s.auditAs(c, name, "login_failed", "", ""); err != nil {
			return err
		}
		c.Status(fiber.StatusUnauthorized)
		data.Error = "Wrong name or password."
		return s.render(c, "login", "", data)
	}
	accounts.reset(account)
	if err := s.startSession(c, u); err != nil {
		return err
	}
	if err := s.auditAs(c, u.name, "login", "", ""); err != nil {
		return err
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// loginRefused answers a login attempt that was not checked: 429 with
// Retry-After (whole seconds, rounded up) and why, on the login page.
func (s *Server) loginRefused(c *fiber.Ctx, data loginData, wait time.Duration, why string) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	c.Status(fiber.StatusTooManyRequests)
	data.Error = fmt.Sprintf("%s Try again in %s.", why, (time.Duration(secs) * time.Second).String())
	return s.render(c, "login", "", data)
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
