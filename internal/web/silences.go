package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// silencesData is the silences page's Data.
type silencesData struct {
	Silences  []silenceView
	Older     int64 // before= of the next page, 0 when none
	Matchers  []string
	Durations []durationOption
	Form      silenceForm
	// Errors holds each refused field's problem, by field (matcher,
	// start, end, reason), for aria-invalid and aria-describedby.
	Errors  map[string]string
	Notice  string
	Preview silencePreview
	Zone    string // the zone of the form's times
}

// silenceForm is what the create form was sent with (kept after an
// error). Start and End are datetime-local values ("2025-03-09T18:00") in
// the viewer's zone.
type silenceForm struct {
	Matcher, For, Start, End, Reason string
}

// silenceView is a silence as the page shows it.
type silenceView struct {
	ID                              int64
	Matcher, Author                 string
	Reason, ExpiredBy               string
	Active, Pending                 bool
	Starts, Until, Created, Expired when
}

// silencePreview is what a matcher would silence, before it is saved.
type silencePreview struct {
	Matcher string
	Checks  []string // the configured checks it covers, in config order
	Known   bool     // the matcher names a check or a tag
}

// datetimeLocal is the layout of an <input type="datetime-local">.
const datetimeLocal = "2006-01-02T15:04"

// silenceList shows silences newest first, ended ones included, with who
// set them, and the form to set one (GET /silences?matcher=x&before=ID),
// with a preview of the checks the matcher covers.
func (s *Server) silenceList(c *fiber.Ctx) error { return s.silencesPage(c, "silence_list") }

// silencePreviewPage answers GET /silences/preview?matcher=x: htmx (the
// form, as a matcher is typed) gets silence_preview, which lists the
// checks the matcher covers; a plain request the silences page with it.
func (s *Server) silencePreviewPage(c *fiber.Ctx) error { return s.silencesPage(c, "silence_preview") }

func (s *Server) silencesPage(c *fiber.Ctx, partial string) error {
	data, err := s.silencesData(c)
	if err != nil {
		return err
	}
	data.Form.Matcher = strings.TrimSpace(c.Query("matcher"))
	data.Preview = s.silencePreview(data.Form.Matcher)
	data.Notice = notices[c.Query("notice")]
	return s.render(c, "silences", partial, data)
}

// silencePreview lists the configured checks matcher covers: the check it
// names, or every check carrying the tag.
func (s *Server) silencePreview(matcher string) silencePreview {
	p := silencePreview{Matcher: matcher}
	for _, ch := range s.configChecks() {
		if matcher != "" && (ch.ID == matcher || slices.Contains(ch.Tags, matcher)) {
			p.Checks = append(p.Checks, ch.ID)
		}
	}
	p.Known = len(p.Checks) > 0
	return p
}

func (s *Server) silencesData(c *fiber.Ctx) (silencesData, error) {
	before, limit, err := pageParams(c, 50)
	if err != nil {
		return silencesData{}, err
	}
	list, err := s.store.Silences(c.UserContext(), before, limit)
	if err != nil {
		return silencesData{}, err
	}
	vc := s.viewClock(c)
	data := silencesData{Durations: silenceDurations, Zone: vc.Zone(),
		Form: silenceForm{For: "2h", Start: vc.now.In(vc.loc).Format(datetimeLocal)}}
	for _, sl := range list {
		data.Silences = append(data.Silences, silenceView{
			ID: sl.ID, Matcher: sl.Matcher, Author: sl.Author, Reason: sl.Reason, ExpiredBy: sl.ExpiredBy,
			Active: sl.Active(vc.now), Pending: sl.Pending(vc.now), Starts: vc.at(sl.StartsAt), Until: vc.at(sl.Until),
			Created: vc.at(sl.CreatedAt), Expired: vc.at(sl.ExpiredAt),
		})
	}
	if len(list) == limit {
		data.Older = list[len(list)-1].ID
	}
	seen := map[string]bool{}
	for _, ch := range s.configChecks() {
		for _, m := range append([]string{ch.ID}, ch.Tags...) {
			if !seen[m] {
				seen[m] = true
				data.Matchers = append(data.Matchers, m)
			}
		}
	}
	return data, nil
}

// silenceCreate sets a silence from a form (POST /silences, operator):
// fields matcher, start and end (datetime-local, in the viewer's zone;
// start defaults to now), for (a duration such as 2h, used when end is
// empty), reason (required), optional back. A refused silence shows the
// silences page again with the problem beside its field and what was
// typed (400). The form's Preview button (preview=1) saves nothing: it
// shows the page again with the checks the matcher covers, for browsers
// without JavaScript (htmx previews as the matcher is typed).
func (s *Server) silenceCreate(c *fiber.Ctx) error {
	form := silenceForm{
		Matcher: strings.TrimSpace(c.FormValue("matcher")), For: c.FormValue("for"),
		Start: strings.TrimSpace(c.FormValue("start")), End: strings.TrimSpace(c.FormValue("end")), Reason: c.FormValue("reason"),
	}
	if c.FormValue("preview") != "" {
		data, err := s.silencesData(c)
		if err != nil {
			return err
		}
		data.Form, data.Preview = form, s.silencePreview(form.Matcher)
		return s.render(c, "silences", "", data)
	}
	start, until, p := s.formTimes(c, form)
	if p == nil {
		p = s.checkSilence(form.Matcher, start, until, strings.TrimSpace(form.Reason))
	}
	if p == nil {
		_, err := s.doSilence(c, form.Matcher, start, until, form.Reason)
		if err != nil {
			return err
		}
		return s.seeOther(c, backTo(c, "/silences", "silenced"))
	}
	data, err := s.silencesData(c)
	if err != nil {
		return err
	}
	data.Form, data.Errors = form, map[string]string{p.Field: p.Msg}
	data.Preview = s.silencePreview(form.Matcher)
	c.Status(http.StatusBadRequest)
	return s.render(c, "silences", "", data)
}

// formTimes reads the form's start and end in the viewer's zone: the end
// is the end field, else start plus for.
func (s *Server) formTimes(c *fiber.Ctx, f silenceForm) (start, until time.Time, p *silenceProblem) {
	loc := s.viewClock(c).loc
	if f.Start != "" {
		t, err := time.ParseInLocation(datetimeLocal, f.Start, loc)
		if err != nil {
			return start, until, &silenceProblem{"start", "start is not a date and time such as 2025-03-09T18:00"}
		}
		start = t
	}
	if f.End != "" {
		t, err := time.ParseInLocation(datetimeLocal, f.End, loc)
		if err != nil {
			return start, until, &silenceProblem{"end", "end is not a date and time such as 2025-03-09T18:00"}
		}
		return start, t, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(f.For))
	if err != nil || d <= 0 {
		return start, until, &silenceProblem{"end", "choose how long the silence lasts, or when it ends"}
	}
	from := start
	if from.IsZero() || from.Before(s.now()) {
		from = s.now()
	}
	return start, from.Add(d), nil
}

// silenceExpire ends a silence now (POST /silences/:id/expire, operator)
// and returns to back (default /silences).
func (s *Server) silenceExpire(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := s.doExpireSilence(c, id); err != nil {
		return err
	}
	return s.seeOther(c, backTo(c, "/silences", "expired"))
}
