package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/store"
)

// audit records that the request's user did action ("ack", "silence",
// "run", ...) to target (a check id, queue, incident), with detail (the
// reason, the parameters, the outcome), from the request's address. Call it
// once the action has happened; an error means it happened but was not
// recorded. Passwords in DSN-like text of detail are redacted.
func (s *Server) audit(c *fiber.Ctx, action, target, detail string) error {
	actor := "anonymous"
	if u := currentUser(c); u != nil {
		actor = u.Actor()
	}
	return s.auditAs(c, actor, action, target, detail)
}

// auditAs is audit with an explicit actor (a login names the user before
// the request has one).
func (s *Server) auditAs(c *fiber.Ctx, actor, action, target, detail string) error {
	if actor == "" {
		actor = "-"
	}
	return s.store.Audit(c.UserContext(), store.AuditEntry{
		At:     s.now(),
		Actor:  truncate(actor, 128),
		Action: action,
		Target: target,
		Detail: datasource.RedactString(detail),
		Remote: s.clientIP(c),
	})
}
