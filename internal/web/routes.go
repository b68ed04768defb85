package web

import "github.com/gofiber/fiber/v2"

// routes registers every route. Order matters: /healthz and /static answer
// before authentication; everything after identify knows its user and has
// passed the CSRF check.
//
// To add a page: write views/pages/<page>.html (and its partials), a
// handler in <page>.go, and one line here: s.page(path, role, handler).
// To add an action (a form or htmx POST): s.action(path, role, handler);
// the handler acts, calls s.audit, then answers with s.render (htmx) or
// s.seeOther (a plain form).
func (s *Server) routes() {
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/static/:file", s.serveAsset)

	s.app.Use(s.identify, s.checkCSRF)

	s.app.Get("/login", s.loginPage)
	s.app.Post("/login", s.loginSubmit)
	s.app.Post("/logout", s.logout)

	s.page("/", RoleViewer, s.overview)
	s.action("/ping", RoleOperator, s.overviewPing)
}

// page registers GET path for users with at least role min.
func (s *Server) page(path string, min Role, h fiber.Handler) {
	s.app.Get(path, s.RequireRole(min), h)
}

// action registers POST path for users with at least role min. The CSRF
// check has already run (bearer-token requests need none).
func (s *Server) action(path string, min Role, h fiber.Handler) {
	s.app.Post(path, s.RequireRole(min), h)
}

// seeOther ends a plain (non-htmx) form POST by sending the browser to
// path with 303 See Other, so a reload does not repeat the action; htmx
// requests get HX-Redirect instead.
func (s *Server) seeOther(c *fiber.Ctx, path string) error {
	path = safeNext(path)
	if isHX(c) {
		c.Set("HX-Redirect", path)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(path, fiber.StatusSeeOther)
}
