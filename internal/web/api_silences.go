package web

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/store"
)

// apiSilences answers GET /api/v1/silences?before=ID&limit=N: silences
// newest first, ended ones included (limit default 100).
func (s *Server) apiSilences(c *fiber.Ctx) error {
	before, limit, err := pageParams(c, store.DefaultLimit)
	if err != nil {
		return err
	}
	list, err := s.store.Silences(c.UserContext(), before, limit)
	if err != nil {
		return err
	}
	out := make([]apiSilence, len(list))
	for i, sl := range list {
		out[i] = s.toAPISilence(sl)
	}
	if len(list) > 0 {
		setNextLink(c, len(list), limit, list[len(list)-1].ID)
	}
	return c.JSON(out)
}

// silenceRequest is the body of POST /api/v1/silences.
type silenceRequest struct {
	Matcher  string `json:"matcher" form:"matcher"`
	StartsAt string `json:"starts_at" form:"starts_at"` // RFC 3339, optional
	Until    string `json:"until" form:"until"`         // RFC 3339
	Reason   string `json:"reason" form:"reason"`
}

// apiSilenceCreate answers POST /api/v1/silences (operator) with body
// {"matcher": "check-id or tag", "starts_at": RFC 3339 (optional, default
// now), "until": RFC 3339, "reason": "..."}: 201 and the silence, authored
// by the user.
func (s *Server) apiSilenceCreate(c *fiber.Ctx) error {
	var req silenceRequest
	if err := bodyParams(c, &req); err != nil {
		return err
	}
	var start, until time.Time
	for _, f := range []struct {
		name, v string
		t       *time.Time
	}{{"starts_at", req.StartsAt, &start}, {"until", req.Until, &until}} {
		if v := strings.TrimSpace(f.v); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("%s %q is not an RFC 3339 time such as 2025-03-09T18:00:00Z", f.name, v))
			}
			*f.t = t
		}
	}
	sl, err := s.doSilence(c, req.Matcher, start, until, req.Reason)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.toAPISilence(sl))
}

// silenceProblem is a refused silence: the form field at fault and why.
type silenceProblem struct {
	Field, Msg string
}

func (p silenceProblem) Error() string { return p.Msg }

// checkSilence returns the first problem of a silence of matcher from
// start (zero: now) until until, for reason, or nil.
func (s *Server) checkSilence(matcher string, start, until time.Time, reason string) *silenceProblem {
	now := s.now()
	switch {
	case matcher == "":
		return &silenceProblem{"matcher", "matcher is required: a check id or a tag"}
	case !s.knownMatcher(matcher):
		return &silenceProblem{"matcher", fmt.Sprintf("matcher %q names no configured check or tag", matcher)}
	case !start.IsZero() && start.Before(now.Add(-time.Minute)):
		return &silenceProblem{"start", fmt.Sprintf("start %s is in the past", start.UTC().Format(time.RFC3339))}
	case until.IsZero():
		return &silenceProblem{"end", "until is required: when the silence ends (RFC 3339)"}
	case !until.After(now):
		return &silenceProblem{"end", fmt.Sprintf("until %s is in the past", until.UTC().Format(time.RFC3339))}
	case !start.IsZero() && !until.After(start):
		return &silenceProblem{"end", fmt.Sprintf("until %s is not after the start %s", until.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))}
	case reason == "":
		return &silenceProblem{"reason", "reason is required: say why alerts should stop"}
	case len(reason) > maxNote:
		return &silenceProblem{"reason", fmt.Sprintf("reason is longer than %d bytes", maxNote)}
	}
	return nil
}

// doSilence silences matcher (a configured check id or tag) from start
// (zero, or a start within the last minute: now) until until, authored by
// the request's user, and audits it ("silence"). Errors: 400 with the first
// problem (matcher, until or reason missing, unknown matcher, start in the
// past, until not after now and start), 503 without an engine.
func (s *Server) doSilence(c *fiber.Ctx, matcher string, start, until time.Time, reason string) (store.Silence, error) {
	if s.engine == nil {
		return store.Silence{}, fiber.NewError(fiber.StatusServiceUnavailable, "no engine: silences cannot be set from here")
	}
	matcher, reason = strings.TrimSpace(matcher), strings.TrimSpace(reason)
	if p := s.checkSilence(matcher, start, until, reason); p != nil {
		return store.Silence{}, fiber.NewError(fiber.StatusBadRequest, p.Msg)
	}
	if !start.After(s.now()) {
		start = time.Time{} // a start picked to the minute just now is now
	}
	sl, err := s.engine.SilenceFrom(c.UserContext(), matcher, start, until, currentUser(c).Actor(), reason)
	if errors.Is(err, store.ErrInvalid) {
		return store.Silence{}, fiber.NewError(fiber.StatusBadRequest, "invalid silence: "+err.Error())
	}
	if err != nil {
		return store.Silence{}, err
	}
	detail := fmt.Sprintf("until %s: %s", sl.Until.UTC().Format(time.RFC3339), reason)
	if sl.StartsAt.After(sl.CreatedAt) {
		detail = fmt.Sprintf("from %s ", sl.StartsAt.UTC().Format(time.RFC3339)) + detail
	}
	return sl, s.audit(c, "silence", sl.Matcher, detail)
}

// apiSilenceExpire answers POST /api/v1/silences/:id/expire (operator):
// the silence, ended now by the user. 404 unknown, 409 already ended.
func (s *Server) apiSilenceExpire(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	sl, err := s.doExpireSilence(c, id)
	if err != nil {
		return err
	}
	return c.JSON(s.toAPISilence(sl))
}

// doExpireSilence ends silence id now on behalf of the request's user and
// audits it ("expire-silence").
func (s *Server) doExpireSilence(c *fiber.Ctx, id int64) (store.Silence, error) {
	if s.engine == nil {
		return store.Silence{}, fiber.NewError(fiber.StatusServiceUnavailable, "no engine: silences cannot be expired from here")
	}
	sl, err := s.engine.ExpireSilence(c.UserContext(), id, currentUser(c).Actor())
	switch {
	case errors.Is(err, store.ErrConflict):
		return store.Silence{}, fiber.NewError(fiber.StatusConflict, fmt.Sprintf("silence %d has already ended", id))
	case err != nil:
		return store.Silence{}, err
	}
	return sl, s.audit(c, "expire-silence", sl.Matcher, fmt.Sprintf("silence %d", sl.ID))
}
