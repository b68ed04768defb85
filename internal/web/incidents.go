package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// incidentsData is the incidents page's Data.
type incidentsData struct {
	OpenOnly bool
	// ResolvedOnly: the page lists resolved incidents only (?open=false).
	ResolvedOnly bool
	Before       int64 // the page's ?before=, 0 for the newest
	Incidents    []*incidentView
	Older        int64 // before= of the next page, 0 when none
	Notice       string
	Error        string // why a bulk action was refused
	Durations    []durationOption
	Poll         string
}

// incidentList shows incidents newest first (GET /incidents?open=true&before=ID),
// with the bulk form that acknowledges or silences the selected ones with
// one note; htmx polls get incident_list (204 when nothing but the clock
// changed). The bulk form lies outside the polled list, and the list's
// checkboxes are preserved across a refresh.
func (s *Server) incidentList(c *fiber.Ctx) error {
	data, err := s.incidentsData(c)
	if err != nil {
		return err
	}
	data.Notice = notices[c.Query("notice")]
	return s.renderPolled(c, "incidents", "incident_list", data)
}

func (s *Server) incidentsData(c *fiber.Ctx) (incidentsData, error) {
	q, err := incidentQuery(c)
	if err != nil {
		return incidentsData{}, err
	}
	list, err := s.store.Incidents(c.UserContext(), q)
	if err != nil {
		return incidentsData{}, err
	}
	vc := s.viewClock(c)
	data := incidentsData{OpenOnly: q.OpenOnly, ResolvedOnly: q.ResolvedOnly, Before: q.Before, Durations: silenceDurations, Poll: s.pollSeconds(false)}
	for _, in := range list {
		data.Incidents = append(data.Incidents, newIncidentView(in, vc))
	}
	if len(list) == q.Limit {
		data.Older = list[len(list)-1].ID
	}
	return data, nil
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

// incidentBulk acknowledges or silences the selected incidents with one
// note (POST /incidents/bulk, operator; fields incident (repeated ids),
// note, action=ack|silence, for (a silence's duration), back). Silencing
// an incident silences its check. Each is audited as if done one by one.
// Nothing selected, a note missing for a silence or an unknown action
// shows the incidents page again with the problem (400); an incident that
// resolved meanwhile is skipped and said so.
func (s *Server) incidentBulk(c *fiber.Ctx) error {
	var ids []int64
	for _, v := range c.Request().PostArgs().PeekMulti("incident") {
		id, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || id < 1 {
			return fiber.NewError(http.StatusBadRequest, "incident must be incident ids")
		}
		ids = append(ids, id)
	}
	action, note := c.FormValue("action"), strings.TrimSpace(c.FormValue("note"))
	refuse := func(msg string) error {
		data, err := s.incidentsData(c)
		if err != nil {
			return err
		}
		data.Error = msg
		c.Status(http.StatusBadRequest)
		return s.render(c, "incidents", "", data)
	}
	switch {
	case len(ids) == 0:
		return refuse("Select at least one incident.")
	case action != "ack" && action != "silence":
		return refuse("Choose Acknowledge or Silence.")
	case action == "silence" && note == "":
		return refuse("A silence needs a reason: write it in the note.")
	}
	var until time.Time
	if action == "silence" {
		d, err := time.ParseDuration(c.FormValue("for"))
		if err != nil || d <= 0 {
			return refuse("Choose how long the silence lasts.")
		}
		until = s.now().Add(d)
	}
	skipped := 0
	silenced := map[string]bool{}
	for _, id := range ids {
		in, err := s.store.Incident(c.UserContext(), id)
		if isNotFound(err) {
			skipped++
			continue
		}
		if err != nil {
			return err
		}
		switch action {
		case "ack":
			_, err = s.doAck(c, id, note)
		case "silence":
			if silenced[in.CheckID] {
				continue
			}
			silenced[in.CheckID] = true
			_, err = s.doSilence(c, in.CheckID, time.Time{}, until, note)
		}
		var fe *fiber.Error
		if errors.As(err, &fe) && (fe.Code == http.StatusConflict || fe.Code == http.StatusBadRequest) {
			skipped++
			continue
		}
		if err != nil {
			return err
		}
	}
	notice := "bulk-acked"
	if action == "silence" {
		notice = "bulk-silenced"
	}
	if skipped > 0 {
		notice += "-skipped"
	}
	return s.seeOther(c, backTo(c, "/incidents", notice))
}

// incidentShowData is the incident page's Data.
type incidentShowData struct {
	Timeline timelineView
	Runbook  string
	Notice   string
	Poll     string
}

// AckAction and AckBack are the ack form's action and where it returns.
func (d incidentShowData) AckAction() string {
	return "/incidents/" + strconv.FormatInt(d.Timeline.Incident.ID, 10) + "/ack"
}
func (d incidentShowData) AckBack() string {
	return "/incidents/" + strconv.FormatInt(d.Timeline.Incident.ID, 10)
}

// incidentShow shows one incident with its timeline (GET /incidents/:id);
// it polls itself like the check page. 404 for an unknown incident.
func (s *Server) incidentShow(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	in, err := s.store.Incident(c.UserContext(), id)
	if err != nil {
		return err
	}
	var tags []string
	var runbook string
	if ch, err := s.configCheck(in.CheckID); err == nil {
		tags, runbook = ch.Tags, s.runbookName(ch)
	}
	tl, err := s.incidentTimeline(c.UserContext(), s.viewClock(c), in, tags)
	if err != nil {
		return fmt.Errorf("web: incident %d: %w", id, err)
	}
	data := incidentShowData{Timeline: tl, Runbook: runbook, Notice: notices[c.Query("notice")], Poll: s.pollSeconds(false)}
	return s.renderPolled(c, "incident_show", "incident_live", data)
}
