package web

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/store"
)

// The JSON API (/api/v1) shares its handlers' work with the dashboard's
// forms: both call the s.do* functions, which act, audit and return the
// outcome or a *fiber.Error with the status and message to show.
//
// Lists are JSON arrays, newest first where they are paged; a full page
// carries a Link header (rel="next") to the following page, whose
// `before` is the last item's id. Times are RFC 3339 in UTC; a time that
// never happened is null.

// apiCheck is a check in GET /api/v1/checks.
type apiCheck struct {
	ID            string          `json:"id"`
	Kind          string          `json:"kind"`
	Owner         string          `json:"owner"`
	Tags          []string        `json:"tags"`
	Schedule      string          `json:"schedule"`
	Runbook       string          `json:"runbook"`
	Status        string          `json:"status"`
	Violations    int             `json:"violations"`
	LastRunAt     *time.Time      `json:"last_run_at"`
	Since         *time.Time      `json:"since"`
	Incident      *apiIncidentRef `json:"incident"`
	SilencedUntil *time.Time      `json:"silenced_until"`
	Latest        *apiResult      `json:"latest,omitempty"`
	Changes       *apiChanges     `json:"changes,omitempty"`
}

// apiIncidentRef is a check's open incident.
type apiIncidentRef struct {
	ID      int64      `json:"id"`
	Since   time.Time  `json:"since"`
	AckedBy string     `json:"acked_by"`
	AckedAt *time.Time `json:"acked_at"`
}

// apiResult is a run: DESIGN.md's JSON result shape plus its id and start.
type apiResult struct {
	ID int64 `json:"id"`
	checks.Result
	StartedAt *time.Time `json:"started_at"`
}

// apiChanges sorts the latest run's violation keys against the previous
// run's.
type apiChanges struct {
	New   []string `json:"new"`
	Still []string `json:"still"`
	Fixed []string `json:"fixed"`
}

// apiIncident is an incident in /api/v1/incidents.
type apiIncident struct {
	ID              int64      `json:"id"`
	Check           string     `json:"check"`
	Open            bool       `json:"open"`
	CheckBroken     bool       `json:"check_broken"`
	Since           time.Time  `json:"since"`
	OpenedAt        time.Time  `json:"opened_at"`
	ResolvedAt      *time.Time `json:"resolved_at"`
	OpenedStatus    string     `json:"opened_status"`
	LastStatus      string     `json:"last_status"`
	LastViolations  int        `json:"last_violations"`
	WorstViolations int        `json:"worst_violations"`
	AckedBy         string     `json:"acked_by"`
	AckedAt         *time.Time `json:"acked_at"`
	AckNote         string     `json:"ack_note"`
}

// apiSilence is a silence in /api/v1/silences.
type apiSilence struct {
	ID        int64      `json:"id"`
	Matcher   string     `json:"matcher"`
	StartsAt  time.Time  `json:"starts_at"`
	Until     time.Time  `json:"until"`
	Author    string     `json:"author"`
	Reason    string     `json:"reason"`
	CreatedAt time.Time  `json:"created_at"`
	Active    bool       `json:"active"`
	ExpiredAt *time.Time `json:"expired_at"`
	ExpiredBy string     `json:"expired_by"`
}

// jsonTime is t in UTC, or nil when t is zero.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toAPICheck(sum checkSummary) apiCheck {
	c := sum.Check
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	out := apiCheck{
		ID: c.ID, Kind: c.Kind, Owner: c.Owner, Tags: tags, Schedule: c.Schedule, Runbook: sum.Runbook,
		Status: sum.Status, Violations: sum.Violations, Since: jsonTime(sum.Since),
	}
	if sum.LastRun.ID != 0 {
		out.LastRunAt = jsonTime(sum.LastRun.StartedAt)
	}
	if in := sum.Incident; in != nil {
		out.Incident = &apiIncidentRef{ID: in.ID, Since: in.Since.UTC(), AckedBy: in.AckedBy, AckedAt: jsonTime(in.AckedAt)}
	}
	if sum.Silence != nil {
		out.SilencedUntil = jsonTime(sum.Silence.Until)
	}
	return out
}

func toAPIResult(r store.Run) apiResult {
	res := r.Result
	res.Error = datasource.RedactString(res.Error) // a driver may quote its DSN
	if res.Sample == nil {
		res.Sample = []checks.Violation{}
	}
	return apiResult{ID: r.ID, Result: res, StartedAt: jsonTime(r.StartedAt)}
}

func toAPIIncident(in store.Incident) apiIncident {
	return apiIncident{
		ID: in.ID, Check: in.CheckID, Open: in.Open(), CheckBroken: in.CheckBroken(),
		Since: in.Since.UTC(), OpenedAt: in.OpenedAt.UTC(), ResolvedAt: jsonTime(in.ResolvedAt),
		OpenedStatus: string(in.OpenedStatus), LastStatus: string(in.LastStatus),
		LastViolations: in.LastViolations, WorstViolations: in.WorstViolations,
		AckedBy: in.AckedBy, AckedAt: jsonTime(in.AckedAt), AckNote: in.AckNote,
	}
}

func (s *Server) toAPISilence(sl store.Silence) apiSilence {
	return apiSilence{
		ID: sl.ID, Matcher: sl.Matcher, StartsAt: sl.StartsAt.UTC(), Until: sl.Until.UTC(), Author: sl.Author, Reason: sl.Reason,
		CreatedAt: sl.CreatedAt.UTC(), Active: sl.Active(s.now()), ExpiredAt: jsonTime(sl.ExpiredAt), ExpiredBy: sl.ExpiredBy,
	}
}

// page reads the paging parameters ?before=ID&limit=N (limit 1..1000,
// default def); anything else is a 400.
func pageParams(c *fiber.Ctx, def int) (before int64, limit int, err error) {
	if v := c.Query("before"); v != "" {
		before, err = strconv.ParseInt(v, 10, 64)
		if err != nil || before < 1 {
			return 0, 0, fiber.NewError(fiber.StatusBadRequest, "before must be a positive id")
		}
	}
	limit = def
	if v := c.Query("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > store.MaxLimit {
			return 0, 0, fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d", store.MaxLimit))
		}
	}
	return before, limit, nil
}

// setNextLink sets Link: <path?...&before=last&limit=n>; rel="next" when
// a page of n items is full (there may be more).
func setNextLink(c *fiber.Ctx, n, limit int, last int64) {
	if n < limit || last <= 1 {
		return
	}
	q := url.Values{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) { q.Set(string(k), string(v)) })
	q.Set("before", strconv.FormatInt(last, 10))
	q.Set("limit", strconv.Itoa(limit))
	c.Set(fiber.HeaderLink, fmt.Sprintf("<%s?%s>; rel=\"next\"", c.Path(), q.Encode()))
}

// idParam reads the positive integer route parameter name, else 404.
func idParam(c *fiber.Ctx, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Params(name), 10, 64)
	if err != nil || id < 1 {
		return 0, fiber.ErrNotFound
	}
	return id, nil
}

// bodyParams decodes the request body (JSON or a form) into v; an empty
// body leaves v as it is.
func bodyParams(c *fiber.Ctx, v any) error {
	if len(c.Body()) == 0 {
		return nil
	}
	if err := c.BodyParser(v); err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "unreadable request body: send JSON or a form")
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
