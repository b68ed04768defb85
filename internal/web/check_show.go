package web

import (
	"errors"
	"html/template"
	"net/url"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/store"
)

// historyRuns is how many runs the check page's history shows per page.
const historyRuns = 20

// checkShowData is the check page's Data.
type checkShowData struct {
	ID, Kind, Owner, Schedule, Timeout string
	Tags                               []string
	Status                             string
	Violations                         int
	Since, LastRun, NextRun            when
	LastRunID                          int64
	LastError                          string
	LastDuration                       string
	Running                            bool // a run is going or waiting for a slot
	Incident                           *incidentView
	SilencedUntil                      when   // Ago is "" when not silenced
	SilencedBy                         string // who set the silence and why
	Rows                               []failingRow
	Fixed                              []string // keys failing in the run before, not in the latest
	MoreRows                           int      // violations beyond the sample
	History                            []historyRow
	Older                              int64 // before= of the next history page, 0 when none
	Runbook                            *runbookView
	Notice                             string
	Matchers                           []string // the check id and its tags: what a silence may name
	Durations                          []durationOption
	StripSVG                           template.HTML // the history strip, drawn
	// sqs_dlq checks: the violating queues, and redrives started here.
	Queues               []dlqQueue
	CanRedrive           bool   // a redriver is configured
	DefaultRate, MaxRate int    // of the redrive form
	Redrives             []View // each a redrive_progress, newest first
}

// failingRow is one violation of the latest run's sample, marked against
// the run before: "new", "still failing", or "" when unknown (keys
// truncated).
type failingRow struct {
	Key, Detail, Mark string
}

// historyRow is one run in the check's history.
type historyRow struct {
	ID         int64
	Status     string
	Violations int
	Started    when
	Duration   string
	Error      string
}

// incidentView is an incident as a page shows it.
type incidentView struct {
	ID                              int64
	CheckID                         string
	Open, CheckBroken               bool
	Since, OpenedAt, ResolvedAt     when
	OpenedStatus, LastStatus        string
	LastViolations, WorstViolations int
	AckedBy, AckNote                string
	AckedAt                         when
}

func newIncidentView(in store.Incident, now time.Time) *incidentView {
	return &incidentView{
		ID: in.ID, CheckID: in.CheckID, Open: in.Open(), CheckBroken: in.CheckBroken(),
		Since: at(in.Since, now), OpenedAt: at(in.OpenedAt, now), ResolvedAt: at(in.ResolvedAt, now),
		OpenedStatus: string(in.OpenedStatus), LastStatus: string(in.LastStatus),
		LastViolations: in.LastViolations, WorstViolations: in.WorstViolations,
		AckedBy: in.AckedBy, AckNote: in.AckNote, AckedAt: at(in.AckedAt, now),
	}
}

// durationOption is a choice of how long a silence lasts.
type durationOption struct {
	Value, Label string
}

// silenceDurations are the silence form's choices.
var silenceDurations = []durationOption{
	{"30m", "30 minutes"}, {"1h", "1 hour"}, {"2h", "2 hours"}, {"4h", "4 hours"}, {"8h", "8 hours"},
	{"24h", "1 day"}, {"72h", "3 days"}, {"168h", "1 week"},
}

// notices are the messages a redirect after an action may show
// (?notice=<code>); codes, not text, so a link cannot put words on a page.
var notices = map[string]string{
	"run-started": "Run started: the page updates when it finishes.",
	"acked":       "Incident acknowledged.",
	"silenced":    "Silence set.",
	"expired":     "Silence ended.",
}

// checkShow shows a check (GET /checks/:id?before=RUN): status, open
// incident, failing rows, run history and runbook; htmx polls get
// check_body. 404 for a check that is not configured.
func (s *Server) checkShow(c *fiber.Ctx) error {
	before, _, err := pageParams(c, historyRuns)
	if err != nil {
		return err
	}
	data, err := s.checkShowData(c, c.Params("id"), before)
	if err != nil {
		return err
	}
	data.Notice = notices[c.Query("notice")]
	return s.render(c, "check_show", "check_body", data)
}

func (s *Server) checkShowData(c *fiber.Ctx, id string, before int64) (checkShowData, error) {
	ctx := c.UserContext()
	sum, err := s.checkSummary(ctx, id)
	if err != nil {
		return checkShowData{}, err
	}
	now := s.now()
	ch := sum.Check
	d := checkShowData{
		ID: ch.ID, Kind: ch.Kind, Owner: ch.Owner, Schedule: ch.Schedule, Timeout: ch.Timeout.String(), Tags: ch.Tags,
		Status: sum.Status, Violations: sum.Violations, Since: at(sum.Since, now), LastRun: at(sum.LastRun.StartedAt, now),
		LastRunID: sum.LastRun.ID, LastError: datasource.RedactString(sum.LastRun.Error), Durations: silenceDurations,
		Matchers: append([]string{ch.ID}, ch.Tags...),
	}
	if sum.LastRun.ID != 0 {
		d.LastDuration = sum.LastRun.Duration.Round(time.Millisecond).String()
	}
	if s.sched != nil {
		if js, err := s.sched.Job(id); err == nil {
			d.Running = js.Running || js.Waiting
			d.NextRun = at(js.Next, now)
		}
	}
	if sum.Incident != nil {
		d.Incident = newIncidentView(*sum.Incident, now)
	}
	if sl := sum.Silence; sl != nil {
		d.SilencedUntil = at(sl.Until, now)
		d.SilencedBy = sl.Author + ": " + sl.Reason
	}
	if sum.LastRun.ID != 0 {
		changes, err := s.store.KeyChanges(ctx, sum.LastRun.ID)
		if err != nil {
			return checkShowData{}, err
		}
		d.Rows = failingRows(sum.LastRun.Sample, changes)
		d.Fixed = changes.Fixed
		d.MoreRows = max(sum.LastRun.Violations-len(d.Rows), 0)
	}
	runs, err := s.store.Results(ctx, id, before, historyRuns)
	if err != nil {
		return checkShowData{}, err
	}
	for _, r := range runs {
		d.History = append(d.History, historyRow{
			ID: r.ID, Status: string(r.Status), Violations: r.Violations, Started: at(r.StartedAt, now),
			Duration: r.Duration.Round(time.Millisecond).String(), Error: datasource.RedactString(r.Error),
		})
	}
	if len(runs) == historyRuns {
		d.Older = runs[len(runs)-1].ID
	}
	strips := runs
	if before != 0 {
		if strips, err = s.store.Results(ctx, id, 0, stripRuns); err != nil {
			return checkShowData{}, err
		}
	}
	d.StripSVG = stripSVG(strip(strips[:min(len(strips), stripRuns)], now))
	if rb, ok := s.runbooks.Runbooks[sum.Runbook]; ok {
		v := s.runbookView(rb)
		d.Runbook = &v
	}
	if err := s.checkRedriveData(c, &d); err != nil {
		return checkShowData{}, err
	}
	return d, nil
}

// failingRows marks each sampled violation against the run before.
func failingRows(sample []checks.Violation, ch store.KeyChanges) []failingRow {
	rows := make([]failingRow, len(sample))
	for i, v := range sample {
		rows[i] = failingRow{Key: v.Key, Detail: v.Detail}
		switch {
		case slices.Contains(ch.New, v.Key):
			rows[i].Mark = "new"
		case slices.Contains(ch.Still, v.Key):
			rows[i].Mark = "still failing"
		}
	}
	return rows
}

// checkRun starts a run of the check now (POST /checks/:id/run, operator).
// htmx gets check_body back (with a notice when a run is already going);
// a plain form is sent back to the check page.
func (s *Server) checkRun(c *fiber.Ctx) error {
	id := c.Params("id")
	err := s.doRunNow(c, id)
	var fe *fiber.Error
	busy := errors.As(err, &fe) && fe.Code == fiber.StatusConflict
	if err != nil && !busy {
		return err
	}
	if isHX(c) {
		data, err := s.checkShowData(c, id, 0)
		if err != nil {
			return err
		}
		data.Notice, data.Running = notices["run-started"], true
		if busy {
			data.Notice = "This check is already running: the page updates when it finishes."
		}
		return s.render(c, "check_show", "check_body", data)
	}
	if busy {
		return err
	}
	return s.seeOther(c, "/checks/"+url.PathEscape(id)+"?notice=run-started")
}

// backTo is the form's back field when it is a path on this site, else
// fallback; notice is added as ?notice=.
func backTo(c *fiber.Ctx, fallback, notice string) string {
	back := fallback
	if b := c.FormValue("back"); b != "" && safeNext(b) == b {
		back = b
	}
	u, err := url.Parse(back)
	if err != nil {
		return fallback
	}
	q := u.Query()
	q.Set("notice", notice)
	u.RawQuery = q.Encode()
	return u.String()
}

// Tagged reports whether the check has tags (for the template).
func (d checkShowData) Tagged() bool { return len(d.Tags) > 0 }

// HistoryPoll is how often check_body refreshes, in seconds: fast while
// a run is going, so Run now's result shows up quickly.
func (d checkShowData) HistoryPoll() string {
	if d.Running {
		return "2"
	}
	return "10"
}
