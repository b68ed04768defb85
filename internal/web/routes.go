package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

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
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/static/:file", s.serveAsset)
	// The status page: with status_page.public, no login even with auth on.
	if s.status != nil && s.status.Public() {
		s.app.Get("/status", s.statusPage)
		s.app.Get("/api/v1/status", s.apiStatus)
		s.app.Get("/status/badge/:file", s.statusBadge)
	}

	s.app.Use(s.identify, s.checkCSRF)
	if s.demo != nil {
		s.app.Use(s.demoViewed) // the sandbox's exercises watch the pages served
	}

	s.app.Get("/login", s.loginPage)
	s.app.Post("/login", s.loginSubmit)
	s.app.Post("/logout", s.logout)

	s.page("/", RoleViewer, s.overview)
	s.action("/preferences/time", RoleViewer, s.timePreference)
	if s.status != nil && !s.status.Public() {
		s.page("/status", RoleViewer, s.statusPage)
		s.page("/api/v1/status", RoleViewer, s.apiStatus)
		s.page("/status/badge/:file", RoleViewer, s.statusBadge)
	}
	s.page("/slos", RoleViewer, s.sloList)
	s.page("/api/v1/slos", RoleViewer, s.apiSLOs)

	// The script log: its pages and JSON API.
	s.page("/script-runs", RoleViewer, s.scriptRuns)
	s.page("/script-runs/:id", RoleViewer, s.scriptRunShow)
	s.page("/script-runs/:id/output", RoleViewer, s.scriptRunOutput)
	s.page("/api/v1/script-runs", RoleViewer, s.apiScriptRuns)
	s.page("/api/v1/script-runs/:id", RoleViewer, s.apiScriptRun)
	s.action("/api/v1/script-runs", RoleOperator, s.apiScriptRunStart)
	s.action("/api/v1/script-runs/:id/finish", RoleOperator, s.apiScriptRunFinish)

	// Checks, incidents, silences and runbooks: the dashboard. Acting on
	// checks needs an operator (in the training sandbox, any trainee:
	// checkActor).
	act := s.checkActor()
	s.page("/checks/:id", RoleViewer, s.checkShow)
	s.action("/checks/:id/run", act, s.checkRun)
	s.action("/checks/:id/ack", act, s.checkAck)
	s.page("/incidents", RoleViewer, s.incidentList)
	s.page("/incidents/:id", RoleViewer, s.incidentShow)
	s.action("/incidents/:id/ack", act, s.incidentAck)
	s.action("/incidents/bulk", act, s.incidentBulk)
	s.page("/silences", RoleViewer, s.silenceList)
	s.page("/silences/preview", RoleViewer, s.silencePreviewPage)
	s.action("/silences", act, s.silenceCreate)
	s.action("/silences/:id/expire", act, s.silenceExpire)
	s.action("/checks/:id/redrive", act, s.checkRedrive)
	s.page("/redrives/:rid", RoleViewer, s.redriveShow)
	s.action("/redrives/:rid/cancel", act, s.redriveCancel)
	s.page("/runbooks", RoleViewer, s.runbookList)
	s.page("/runbooks/:name", RoleViewer, s.runbookShow)

	// The JSON API: viewers read, operators act (bearer tokens need no CSRF).
	s.page("/api/v1/checks", RoleViewer, s.apiChecks)
	s.page("/api/v1/checks/:id", RoleViewer, s.apiCheck)
	s.page("/api/v1/checks/:id/results", RoleViewer, s.apiCheckResults)
	s.action("/api/v1/checks/:id/run", RoleOperator, s.apiCheckRun)
	s.page("/api/v1/incidents", RoleViewer, s.apiIncidents)
	s.action("/api/v1/incidents/:id/ack", RoleOperator, s.apiIncidentAck)
	s.page("/api/v1/silences", RoleViewer, s.apiSilences)
	s.action("/api/v1/silences", RoleOperator, s.apiSilenceCreate)
	s.action("/api/v1/silences/:id/expire", RoleOperator, s.apiSilenceExpire)
	s.action("/api/v1/queues/:name/redrive", RoleOperator, s.apiQueueRedrive)
	s.page("/api/v1/redrives/:rid", RoleViewer, s.apiRedriveShow)
	s.action("/api/v1/redrives/:rid/cancel", RoleOperator, s.apiRedriveCancel)

	// Prometheus metrics: viewers and API tokens (server.metrics_listen
	// serves them without auth on another address).
	if s.metrics != nil {
		s.page("/metrics", RoleViewer, adaptor.HTTPHandler(s.metrics))
	}

	// The training sandbox (vigil demo only).
	s.demoRoutes()
}

// checkActor is the least role that may act on checks from the dashboard
// (run, ack, silence, redrive): operator; in the training sandbox (vigil
// demo, whose every check is the sandbox's), viewer, so that trainees
// practise what on-call does. Production roles are untouched: without a
// sandbox it is always operator, and the JSON API always asks for one.
func (s *Server) checkActor() Role {
	if s.demo != nil {
		return RoleViewer
	}
	return RoleOperator
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
