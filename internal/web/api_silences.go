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
	Matcher string `json:"matcher" form:"matcher"`
	Until   string `json:"until" form:"until"` // RFC 3339
	Reason  string `json:"reason" form:"reason"`
}

// apiSilenceCreate answers POST /api/v1/silences (operator) with body
// {"matcher": "check-id or tag", "until": RFC 3339, "reason": "..."}: 201
// and the silence, authored by the user.
func (s *Server) apiSilenceCreate(c *fiber.Ctx) error {
	var req silenceRequest
	if err := bodyParams(c, &req); err != nil {
		return err
	}
	var until time.Time
	if v := strings.TrimSpace(req.Until); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("until %q is not an RFC 3339 time such as 2025-03-09T18:00:00Z", v))
		}
		until = t
	}
	sl, err := s.doSilence(c, req.Matcher, until, req.Reason)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.toAPISilence(sl))
}

// doSilence silences matcher (a configured check id or tag) until until,
// authored by the request's user, and audits it ("silence"). Errors: 400
// with the first problem (matcher, until or reason missing, unknown
// matcher, until not in the future), 503 without an engine.
func (s *Server) doSilence(c *fiber.Ctx, matcher string, until time.Time, reason string) (store.Silence, error) {
	if s.engine == nil {
		return store.Silence{}, fiber.NewError(fiber.StatusServiceUnavailable, "no engine: silences cannot be set from here")
	}
	matcher, reason = strings.TrimSpace(matcher), strings.TrimSpace(reason)
	bad := func(msg string) (store.Silence, error) {
		return store.Silence{}, fiber.NewError(fiber.StatusBadRequest, msg)
	}
	switch {
	case matcher == "":
		return bad("matcher is required: a check id or a tag")
	case !s.knownMatcher(matcher):
		return bad(fmt.Sprintf("matcher %q names no configured check or tag", matcher))
	case until.IsZero():
		return bad("until is required: when the silence ends (RFC 3339)")
	case !until.After(s.now()):
		return bad(fmt.Sprintf("until %s is in the past", until.UTC().Format(time.RFC3339)))
	case reason == "":
		return bad("reason is required: say why alerts should stop")
	case len(reason) > maxNote:
		return bad(fmt.Sprintf("reason is longer than %d bytes", maxNote))
	}
	sl, err := s.engine.Silence(c.UserContext(), matcher, until, currentUser(c).Actor(), reason)
	if errors.Is(err, store.ErrInvalid) {
		return bad("invalid silence: " + err.Error())
	}
	if err != nil {
		return store.Silence{}, err
	}
	detail := fmt.Sprintf("until %s: %s", sl.Until.UTC().Format(time.RFC3339), reason)
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
