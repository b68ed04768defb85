package web

import (
	"errors"
	"html/template"
	"net/url"
	"slices"
	"strconv"
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
	Running                            bool          // a run is going or waiting for a slot
	Incident                           *incidentView // the open incident, nil when none
	// Timeline is the open incident's, else the latest incident's (nil
	// when the check never had one).
	Timeline *timelineView
	Silence  *silenceNote // the active silence covering the check, nil when none
	Rows     []failingRow
	Fixed    []string // keys failing in the run before, not in the latest
	MoreRows int      // violations beyond the sample
	History  []historyRow
	Before   int64 // the history page's ?before=, 0 for the newest
	Older    int64 // before= of the next history page, 0 when none
	Runbook  *runbookView
	Notice   string
	Matchers []string // the check id and its tags: what a silence may name
	// Durations and Silence* are the silence form's choices and defaults.
	Durations []durationOption
	StripSVG  template.HTML // the history strip, drawn
	Chart     chartView
	// sqs_dlq checks: the violating queues, and redrives started here.
	Queues               []dlqQueue
	CanRedrive           bool   // a redriver is configured
	DefaultRate, MaxRate int    // of the redrive form
	Redrives             []View // each a redrive_progress, newest first
	// Poll is how often the page refreshes, in seconds: faster while a run
	// is going, so Run now's result shows up quickly.
	Poll string
}

// silenceNote is the silence covering a check, as its page says it.
type silenceNote struct {
	Until   when
	Author  string
	Reason  string
	Matcher string
	ByTag   bool // the matcher is a tag, not the check's id
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

func newIncidentView(in store.Incident, vc viewClock) *incidentView {
	return &incidentView{
		ID: in.ID, CheckID: in.CheckID, Open: in.Open(), CheckBroken: in.CheckBroken(),
		Since: vc.at(in.Since), OpenedAt: vc.at(in.OpenedAt), ResolvedAt: vc.at(in.ResolvedAt),
		OpenedStatus: string(in.OpenedStatus), LastStatus: string(in.LastStatus),
		LastViolations: in.LastViolations, WorstViolations: in.WorstViolations,
		AckedBy: in.AckedBy, AckNote: in.AckNote, AckedAt: vc.at(in.AckedAt),
	}
}

// Broken is what broke: "check broken" (it could not run) or "data
// broken".
func (v incidentView) Broken() string {
	if v.CheckBroken {
		return "check broken"
	}
	return "data broken"
}

// durationOption is a choice of how long a silence lasts.
type durationOption struct {
	Value, Label string
}

// silenceDurations are the silence forms' choices.
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
	"no-incident": "Nothing to acknowledge: the check has no open incident.",

	"bulk-acked":            "Selected incidents acknowledged.",
	"bulk-silenced":         "Checks of the selected incidents silenced.",
	"bulk-acked-skipped":    "Selected incidents acknowledged; those that had resolved were skipped.",
	"bulk-silenced-skipped": "Checks of the selected incidents silenced; some could not be and were skipped.",
}

// checkShow shows a check (GET /checks/:id?range=24h&before=RUN): status,
// open incident, failing rows beside the runbook, the incident's timeline,
// the history chart over range and the runs. The page polls itself: htmx
// gets check_live, out-of-band fragments that leave the forms alone, or
// 204 when nothing but the clock changed. 404 for a check that is not
// configured.
func (s *Server) checkShow(c *fiber.Ctx) error {
	data, err := s.checkShowData(c, c.Params("id"))
	if err != nil {
		return err
	}
	data.Notice = notices[c.Query("notice")]
	return s.renderPolled(c, "check_show", "check_live", data)
}

func (s *Server) checkShowData(c *fiber.Ctx, id string) (checkShowData, error) {
	ctx := c.UserContext()
	before, _, err := pageParams(c, historyRuns)
	if err != nil {
		return checkShowData{}, err
	}
	rng, err := chartRangeParam(c)
	if err != nil {
		return checkShowData{}, err
	}
	sum, err := s.checkSummary(ctx, id)
	if err != nil {
		return checkShowData{}, err
	}
	vc := s.viewClock(c)
	ch := sum.Check
	d := checkShowData{
		ID: ch.ID, Kind: ch.Kind, Owner: ch.Owner, Schedule: ch.Schedule, Timeout: ch.Timeout.String(), Tags: ch.Tags,
		Status: sum.Status, Violations: sum.Violations, Since: vc.at(sum.Since), LastRun: vc.at(sum.LastRun.StartedAt),
		LastRunID: sum.LastRun.ID, LastError: datasource.RedactString(sum.LastRun.Error), Durations: silenceDurations,
		Matchers: append([]string{ch.ID}, ch.Tags...), Before: before,
	}
	if sum.LastRun.ID != 0 {
		d.LastDuration = sum.LastRun.Duration.Round(time.Millisecond).String()
	}
	if s.sched != nil {
		if js, err := s.sched.Job(id); err == nil {
			d.Running = js.Running || js.Waiting
			d.NextRun = vc.at(js.Next)
		}
	}
	if sum.Incident != nil {
		d.Incident = newIncidentView(*sum.Incident, vc)
	}
	if sl := sum.Silence; sl != nil {
		d.Silence = &silenceNote{Until: vc.at(sl.Until), Author: sl.Author, Reason: sl.Reason, Matcher: sl.Matcher, ByTag: sl.Matcher != ch.ID}
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
			ID: r.ID, Status: string(r.Status), Violations: r.Violations, Started: vc.at(r.StartedAt),
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
	d.StripSVG = stripSVG(strip(strips[:min(len(strips), stripRuns)], vc))
	if rb, ok := s.runbooks.Runbooks[sum.Runbook]; ok {
		v := s.runbookView(rb)
		d.Runbook = &v
	}
	latest := sum.Incident
	if latest == nil {
		list, err := s.store.Incidents(ctx, store.IncidentQuery{CheckID: id, Limit: 1})
		if err != nil {
			return checkShowData{}, err
		}
		if len(list) > 0 {
			latest = &list[0]
		}
	}
	if latest != nil {
		tl, err := s.incidentTimeline(ctx, vc, *latest, ch.Tags)
		if err != nil {
			return checkShowData{}, err
		}
		d.Timeline = &tl
	}
	if d.Chart, err = s.checkChart(c, vc, ch, rng, before, sum.Violations); err != nil {
		return checkShowData{}, err
	}
	if err := s.checkRedriveData(c, &d); err != nil {
		return checkShowData{}, err
	}
	d.Poll = s.pollSeconds(d.Running)
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
// htmx gets check_live back (with a notice when a run is already going);
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
		data, err := s.checkShowData(c, id)
		if err != nil {
			return err
		}
		data.Notice, data.Running, data.Poll = notices["run-started"], true, s.pollSeconds(true)
		if busy {
			data.Notice = "This check is already running: the page updates when it finishes."
		}
		return s.renderTemplate(c, "check_show", "check_live", data)
	}
	if busy {
		return err
	}
	return s.seeOther(c, "/checks/"+url.PathEscape(id)+"?notice=run-started")
}

// checkAck acknowledges the check's open incident, whichever it is when
// the form is sent (POST /checks/:id/ack, operator; fields note, back):
// the check page's form stays put while its incident comes and goes.
func (s *Server) checkAck(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.configCheck(id); err != nil {
		return err
	}
	open, err := s.store.Incidents(c.UserContext(), store.IncidentQuery{CheckID: id, OpenOnly: true, Limit: 1})
	if err != nil {
		return err
	}
	back := "/checks/" + url.PathEscape(id)
	if len(open) == 0 {
		return s.seeOther(c, backTo(c, back, "no-incident"))
	}
	if _, err := s.doAck(c, open[0].ID, c.FormValue("note")); err != nil {
		return err
	}
	return s.seeOther(c, backTo(c, back, "acked"))
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

// AckAction and AckBack are the ack form's action and where it returns:
// the check's open incident, whichever it is when the form is sent.
func (d checkShowData) AckAction() string { return "/checks/" + url.PathEscape(d.ID) + "/ack" }
func (d checkShowData) AckBack() string   { return "/checks/" + url.PathEscape(d.ID) }

// Tagged reports whether the check has tags (for the template).
func (d checkShowData) Tagged() bool { return len(d.Tags) > 0 }

// ViolationCount is "1 violation", "3 violations".
func (d checkShowData) ViolationCount() string { return plural(d.Violations, "violation") }

// Query is the page's own query (range and history page), which its poll
// keeps.
func (d checkShowData) Query() string {
	q := url.Values{}
	if d.Chart.Range.Key != defaultRange {
		q.Set("range", d.Chart.Range.Key)
	}
	if d.Before != 0 {
		q.Set("before", strconv.FormatInt(d.Before, 10))
	}
	return q.Encode()
}
