package web

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/store"
)

// maxNote bounds an ack note and a silence reason.
const maxNote = 2000

// apiIncidents answers GET /api/v1/incidents?open=true&check=ID&before=ID&limit=N:
// incidents newest first (limit default 100).
func (s *Server) apiIncidents(c *fiber.Ctx) error {
	q, err := incidentQuery(c)
	if err != nil {
		return err
	}
	list, err := s.store.Incidents(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := make([]apiIncident, len(list))
	for i, in := range list {
		out[i] = toAPIIncident(in)
	}
	if len(list) > 0 {
		setNextLink(c, len(list), q.Limit, list[len(list)-1].ID)
	}
	return c.JSON(out)
}

// incidentQuery reads ?open=true|false&check=ID&before=ID&limit=N: open=true
// selects the unresolved incidents, open=false the resolved ones, and no
// open both.
func incidentQuery(c *fiber.Ctx) (store.IncidentQuery, error) {
	before, limit, err := pageParams(c, store.DefaultLimit)
	if err != nil {
		return store.IncidentQuery{}, err
	}
	q := store.IncidentQuery{CheckID: c.Query("check"), Before: before, Limit: limit}
	switch c.Query("open") {
	case "":
	case "true", "1":
		q.OpenOnly = true
	case "false", "0":
		q.ResolvedOnly = true
	default:
		return store.IncidentQuery{}, fiber.NewError(fiber.StatusBadRequest, "open must be true or false")
	}
	return q, nil
}

// apiIncidentAck answers POST /api/v1/incidents/:id/ack (operator) with
// body {"note": "..."}: the incident, acknowledged by the user.
func (s *Server) apiIncidentAck(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		Note string `json:"note" form:"note"`
	}
	if err := bodyParams(c, &body); err != nil {
		return err
	}
	in, err := s.doAck(c, id, body.Note)
	if err != nil {
		return err
	}
	return c.JSON(toAPIIncident(in))
}

// doAck acknowledges incident id as the request's user, with note, and
// audits it ("ack"). Errors: 404 unknown incident, 409 resolved, 400 note
// too long, 503 without an engine.
func (s *Server) doAck(c *fiber.Ctx, id int64, note string) (store.Incident, error) {
	if s.engine == nil {
		return store.Incident{}, fiber.NewError(fiber.StatusServiceUnavailable, "no engine: incidents cannot be acknowledged from here")
	}
	note = strings.TrimSpace(note)
	if len(note) > maxNote {
		return store.Incident{}, fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("note is longer than %d bytes", maxNote))
	}
	in, err := s.engine.Ack(c.UserContext(), id, currentUser(c).Actor(), note)
	switch {
	case errors.Is(err, store.ErrConflict):
		return store.Incident{}, fiber.NewError(fiber.StatusConflict, fmt.Sprintf("incident %d has resolved", id))
	case err != nil:
		return store.Incident{}, err
	}
	detail := "acknowledged"
	if note != "" {
		detail = "note: " + note
	}
	return in, s.audit(c, "ack", fmt.Sprintf("incident %d (%s)", in.ID, in.CheckID), detail)
}
