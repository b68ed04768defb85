package web

import (
	"errors"
	"fmt"
	"net/http"
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
	Error     string
	Notice    string
}

// silenceForm is what the create form was sent with (kept after an error).
type silenceForm struct {
	Matcher, For, Until, Reason string
}

// silenceView is a silence as the page shows it.
type silenceView struct {
	ID                      int64
	Matcher, Author         string
	Reason, ExpiredBy       string
	Active                  bool
	Until, Created, Expired when
}

// silenceList shows silences newest first, ended ones included, with who
// set them, and the form to set one (GET /silences?matcher=x&before=ID).
func (s *Server) silenceList(c *fiber.Ctx) error {
	data, err := s.silencesData(c)
	if err != nil {
		return err
	}
	data.Form.Matcher = c.Query("matcher")
	data.Notice = notices[c.Query("notice")]
	return s.render(c, "silences", "silence_list", data)
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
	now := s.now()
	data := silencesData{Durations: silenceDurations, Form: silenceForm{For: "2h"}}
	for _, sl := range list {
		data.Silences = append(data.Silences, silenceView{
			ID: sl.ID, Matcher: sl.Matcher, Author: sl.Author, Reason: sl.Reason, ExpiredBy: sl.ExpiredBy,
			Active: sl.Active(now), Until: at(sl.Until, now), Created: at(sl.CreatedAt, now), Expired: at(sl.ExpiredAt, now),
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

// silenceCreate sets a silence from the form (POST /silences, operator):
// fields matcher, for (a duration such as 2h) or until (RFC 3339), reason
// (required), optional back. A refused silence shows the silences page
// again with the problem and what was typed (400).
func (s *Server) silenceCreate(c *fiber.Ctx) error {
	form := silenceForm{
		Matcher: c.FormValue("matcher"), For: c.FormValue("for"),
		Until: strings.TrimSpace(c.FormValue("until")), Reason: c.FormValue("reason"),
	}
	until, err := s.formUntil(form)
	if err == nil {
		_, err = s.doSilence(c, form.Matcher, until, form.Reason)
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code == http.StatusBadRequest {
		data, derr := s.silencesData(c)
		if derr != nil {
			return derr
		}
		data.Form, data.Error = form, fe.Message
		c.Status(http.StatusBadRequest)
		return s.render(c, "silences", "", data)
	}
	if err != nil {
		return err
	}
	return s.seeOther(c, backTo(c, "/silences", "silenced"))
}

// formUntil is the end of the silence the form asks for: until when given,
// else now plus for.
func (s *Server) formUntil(f silenceForm) (time.Time, error) {
	if f.Until != "" {
		t, err := time.Parse(time.RFC3339, f.Until)
		if err != nil {
			return time.Time{}, fiber.NewError(http.StatusBadRequest, fmt.Sprintf("until %q is not an RFC 3339 time such as 2025-03-09T18:00:00Z", f.Until))
		}
		return t, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(f.For))
	if err != nil || d <= 0 {
		return time.Time{}, fiber.NewError(http.StatusBadRequest, "choose how long the silence lasts")
	}
	return s.now().Add(d), nil
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
