package web

import (
	"github.com/gofiber/fiber/v2"
)

// incidentsData is the incidents page's Data.
type incidentsData struct {
	OpenOnly bool
	// ResolvedOnly: the page lists resolved incidents only (?open=false).
	ResolvedOnly bool
	Incidents    []*incidentView
	Older        int64 // before= of the next page, 0 when none
	Notice       string
}

// incidentList shows incidents newest first (GET /incidents?open=true&before=ID);
// htmx polls get incident_list.
func (s *Server) incidentList(c *fiber.Ctx) error {
	q, err := incidentQuery(c)
	if err != nil {
		return err
	}
	list, err := s.store.Incidents(c.UserContext(), q)
	if err != nil {
		return err
	}
	now := s.now()
	data := incidentsData{OpenOnly: q.OpenOnly, ResolvedOnly: q.ResolvedOnly, Notice: notices[c.Query("notice")]}
	for _, in := range list {
		data.Incidents = append(data.Incidents, newIncidentView(in, now))
	}
	if len(list) == q.Limit {
		data.Older = list[len(list)-1].ID
	}
	return s.render(c, "incidents", "incident_list", data)
}

// incidentAck acknowledges an incident from a form (POST
// /incidents/:id/ack, operator; field note, optional back) and returns to
// back (default /incidents).
func (s *Server) incidentAck(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.doAck(c, id, c.FormValue("note")); err != nil {
		return err
	}
	return s.seeOther(c, backTo(c, "/incidents", "acked"))
}
