package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/datasource"
)

// Redriver moves the messages of a dead-letter queue back to their source
// queues. cmd/vigil implements it over the configured sqs datasources; it is
// the code path `vigil redrive` uses too.
type Redriver interface {
	// Preview reports what a redrive of queue on datasource would move,
	// moving nothing and recording nothing: sqsdlq.ErrNotDLQ when no
	// source queue's RedrivePolicy names it.
	Preview(ctx context.Context, datasource, queue string) (sqsdlq.RedriveResult, error)
	// Redrive runs sqsdlq.Redrive for req, calling progress after each
	// reading, and records it in the script log as a run by req.Actor
	// (started before the move, finished after it, whatever the outcome).
	// It fails without moving anything when the record cannot be started.
	Redrive(ctx context.Context, req RedriveRequest, progress func(sqsdlq.Progress)) (sqsdlq.RedriveResult, error)
}

// RedriveRequest is one redrive asked for.
type RedriveRequest struct {
	Datasource string // the sqs datasource; "" for the config's only one
	Queue      string // the dead-letter queue's name
	Rate       int    // messages per second, 1..sqsdlq.MaxRedriveRate
	DryRun     bool
	Actor      string // who asked: the script log's actor
}

// defaultRedriveRate is the rate the redrive form and API use unless told.
const defaultRedriveRate = 10

// keptRedrives is how many finished redrives the server remembers for
// their progress pages (the script log keeps every one).
const keptRedrives = 100

// redriveJob is a redrive started from the dashboard or the API, running
// in the background.
type redriveJob struct {
	id                         int64
	checkID, datasource, queue string
	actor                      string
	rate                       int
	dryRun                     bool
	started                    time.Time
	cancel                     context.CancelFunc
	done                       chan struct{} // closed when it ends
	cancelled                  atomic.Bool   // someone asked to cancel it

	mu       sync.Mutex
	progress sqsdlq.Progress
	result   sqsdlq.RedriveResult
	err      error
	ended    time.Time
}

// redriveJobs are the server's redrives, newest last.
type redriveJobs struct {
	mu     sync.Mutex
	nextID int64
	jobs   []*redriveJob
	wg     sync.WaitGroup
}

// add registers a job, forgetting the oldest finished ones beyond
// keptRedrives.
func (r *redriveJobs) add(j *redriveJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	j.id = r.nextID
	r.jobs = append(r.jobs, j)
	for len(r.jobs) > keptRedrives {
		i := slices.IndexFunc(r.jobs, func(j *redriveJob) bool { return j.finished() })
		if i < 0 {
			break
		}
		r.jobs = slices.Delete(r.jobs, i, i+1)
	}
}

func (r *redriveJobs) get(id int64) (*redriveJob, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.id == id {
			return j, true
		}
	}
	return nil, false
}

// ofCheck returns the check's redrives, newest first, at most n.
func (r *redriveJobs) ofCheck(checkID string, n int) []*redriveJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*redriveJob
	for i := len(r.jobs) - 1; i >= 0 && len(out) < n; i-- {
		if r.jobs[i].checkID == checkID {
			out = append(out, r.jobs[i])
		}
	}
	return out
}

// stop cancels every running redrive (which cancels its move task) and
// waits, until ctx ends, for them to be recorded.
func (r *redriveJobs) stop(ctx context.Context) error {
	r.mu.Lock()
	for _, j := range r.jobs {
		j.stop()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("web: redrives still running: %w", ctx.Err())
	}
}

// stop cancels the redrive.
func (j *redriveJob) stop() {
	j.cancelled.Store(true)
	j.cancel()
}

func (j *redriveJob) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// redriveView is a redrive as its progress partial shows it.
type redriveView struct {
	ID                    int64
	CheckID, Queue, Actor string
	Rate                  int
	DryRun                bool
	Status                string // RUNNING, COMPLETED, DRY_RUN, CANCELLED, FAILED, REFUSED, STARTING
	Moved, ToMove         int64
	Percent               int
	Sources               []string
	Error                 string
	Started, Ended        when
	Done                  bool
}

// StatusText is the redrive's status in words (the API keeps AWS's
// RUNNING, DRY_RUN, ... codes).
func (v redriveView) StatusText() string {
	switch v.Status {
	case "STARTING":
		return "starting"
	case "RUNNING":
		return "moving messages"
	case sqsdlq.StatusCompleted:
		return "completed"
	case sqsdlq.StatusDryRun:
		return "dry run: nothing was moved"
	case sqsdlq.StatusCancelled:
		return "cancelled"
	case sqsdlq.StatusFailed:
		return "failed"
	case "REFUSED":
		return "refused"
	}
	return strings.ToLower(strings.ReplaceAll(v.Status, "_", " "))
}

// view is the job now.
func (j *redriveJob) view(vc viewClock) redriveView {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := redriveView{
		ID: j.id, CheckID: j.checkID, Queue: j.queue, Actor: j.actor, Rate: j.rate, DryRun: j.dryRun,
		Status: j.progress.Status, Moved: j.progress.Moved, ToMove: j.progress.ToMove, Sources: j.result.Sources,
		Started: vc.at(j.started), Ended: vc.at(j.ended), Done: !j.ended.IsZero(),
	}
	if v.Status == "" {
		v.Status = "STARTING"
	}
	if v.Done {
		v.Status, v.Moved, v.ToMove = j.result.Status, j.result.Moved, j.result.ToMove
		if j.err != nil {
			v.Error = redriveErrorText(j.err)
			if v.Status == "" || v.Status == "RUNNING" {
				v.Status = sqsdlq.StatusFailed
			}
			if errors.Is(j.err, sqsdlq.ErrNotDLQ) {
				v.Status = "REFUSED"
			}
			if j.cancelled.Load() && errors.Is(j.err, context.Canceled) {
				v.Status = sqsdlq.StatusCancelled
			}
		}
	}
	if v.ToMove > 0 {
		v.Percent = int(min(100, v.Moved*100/v.ToMove))
	} else if v.Done && v.Error == "" {
		v.Percent = 100
	}
	return v
}

// redriveErrorText says why a redrive failed, plainly for a refusal.
func redriveErrorText(err error) string {
	if errors.Is(err, sqsdlq.ErrNotDLQ) {
		return "refused: this queue is not the dead-letter queue of any source queue (no queue's RedrivePolicy names it), so there is nowhere to move its messages back to"
	}
	return datasource.RedactString(err.Error())
}

// Running reports whether the partial should keep polling.
func (v redriveView) Running() bool { return !v.Done }

// SourceList is the source queues, joined.
func (v redriveView) SourceList() string { return strings.Join(v.Sources, ", ") }

// dlqWatcher returns the sqs_dlq check that watches queue: the one named
// by checkID ("" for any), whose latest run read the queue (it is one of
// the dead-letter queues the check found) or reported it. It answers 422
// for a queue that no such check watches: vigil redrives only the
// dead-letter queues it knows.
func (s *Server) dlqWatcher(ctx context.Context, checkID, queue string) (config.Check, error) {
	for _, c := range s.configChecks() {
		if c.Kind != sqsdlq.Kind.Name || (checkID != "" && c.ID != checkID) {
			continue
		}
		run, err := s.store.LatestResult(ctx, c.ID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return config.Check{}, fmt.Errorf("web: redrive %s: %w", queue, err)
		}
		_, watched := run.Metrics[sqsdlq.MetricDepth+queue]
		if watched || slices.ContainsFunc(run.Sample, func(v checks.Violation) bool { return v.Key == queue }) {
			return c, nil
		}
	}
	where := "any sqs_dlq check"
	if checkID != "" {
		where = "check " + checkID
	}
	return config.Check{}, fiber.NewError(fiber.StatusUnprocessableEntity,
		fmt.Sprintf("queue %s is not a dead-letter queue watched by %s: vigil redrives only the dead-letter queues its checks watch", queue, where))
}

// redriveParams reads rate and dry_run from a form or JSON body.
type redriveParams struct {
	Rate   *int `json:"rate"`
	DryRun bool `json:"dry_run"`
}

// startRedrive checks the request and the queue, then starts the redrive
// in the background and audits it ("redrive"). Errors: 503 without a
// redriver, 422 for a queue no check watches or no source feeds (the
// preview says so before anything moves), 400 for a bad rate, 502 when
// SQS cannot be asked.
func (s *Server) startRedrive(c *fiber.Ctx, checkID, queue string, p redriveParams) (*redriveJob, error) {
	// Fiber's strings live in the request's buffer: the redrive outlives it.
	checkID, queue = strings.Clone(checkID), strings.Clone(queue)
	if s.redriver == nil {
		return nil, fiber.NewError(fiber.StatusServiceUnavailable, "no redriver: dead-letter queues cannot be redriven from here")
	}
	rate := defaultRedriveRate
	if p.Rate != nil {
		rate = *p.Rate
	}
	if rate < 1 || rate > sqsdlq.MaxRedriveRate {
		return nil, fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("rate must be between 1 and %d messages per second", sqsdlq.MaxRedriveRate))
	}
	ctx := c.UserContext()
	chk, err := s.dlqWatcher(ctx, checkID, queue)
	if err != nil {
		return nil, err
	}
	if _, err := s.redriver.Preview(ctx, chk.Datasource, queue); err != nil {
		if errors.Is(err, sqsdlq.ErrNotDLQ) {
			return nil, fiber.NewError(fiber.StatusUnprocessableEntity, fmt.Sprintf("queue %s: %s", queue, redriveErrorText(err)))
		}
		return nil, fiber.NewError(fiber.StatusBadGateway, datasource.RedactString(err.Error()))
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &redriveJob{
		checkID: chk.ID, datasource: chk.Datasource, queue: queue, actor: currentUser(c).Actor(),
		rate: rate, dryRun: p.DryRun, started: s.now(), cancel: cancel, done: make(chan struct{}),
	}
	s.redrives.add(j)
	s.redrives.wg.Add(1)
	go func() {
		defer s.redrives.wg.Done()
		defer close(j.done)
		defer cancel()
		req := RedriveRequest{Datasource: j.datasource, Queue: queue, Rate: rate, DryRun: p.DryRun, Actor: j.actor}
		res, err := s.redriver.Redrive(bg, req, func(p sqsdlq.Progress) {
			j.mu.Lock()
			j.progress = p
			j.mu.Unlock()
		})
		j.mu.Lock()
		j.result, j.err, j.ended = res, err, s.now()
		j.mu.Unlock()
		if err != nil {
			s.log.Warn("redrive", "queue", queue, "actor", j.actor, "err", datasource.RedactString(err.Error()))
		}
	}()
	detail := fmt.Sprintf("rate %d/s, check %s, redrive #%d", rate, chk.ID, j.id)
	if p.DryRun {
		detail = "dry run, " + detail
	}
	if err := s.audit(c, "redrive", queue, detail); err != nil {
		return j, err
	}
	return j, nil
}

// checkRedrive starts a redrive of one of the check's queues (POST
// /checks/:id/redrive, operator; form fields queue, rate, dry_run). htmx
// gets check_live back with the redrive's progress; a plain form is sent
// to the redrive's page.
func (s *Server) checkRedrive(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.configCheck(id); err != nil {
		return err
	}
	p := redriveParams{DryRun: c.FormValue("dry_run") != ""}
	if v := strings.TrimSpace(c.FormValue("rate")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "rate must be a whole number of messages per second")
		}
		p.Rate = &n
	}
	j, err := s.startRedrive(c, id, c.FormValue("queue"), p)
	if err != nil {
		return err
	}
	if isHX(c) {
		data, err := s.checkShowData(c, id)
		if err != nil {
			return err
		}
		data.Notice = "Redrive started: its progress shows below."
		return s.renderTemplate(c, "check_show", "check_live", data)
	}
	return s.seeOther(c, "/redrives/"+strconv.FormatInt(j.id, 10))
}

// redriveJobParam finds the redrive named by :rid, or 404.
func (s *Server) redriveJobParam(c *fiber.Ctx) (*redriveJob, error) {
	id, err := strconv.ParseInt(c.Params("rid"), 10, 64)
	if err != nil {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	j, ok := s.redrives.get(id)
	if !ok {
		return nil, fiber.NewError(fiber.StatusNotFound, "not found")
	}
	return j, nil
}

// redriveShow shows a redrive's progress (GET /redrives/:rid); htmx polls
// get redrive_progress. Redrives are kept in memory: after a restart, or
// once forgotten, the script log has them.
func (s *Server) redriveShow(c *fiber.Ctx) error {
	j, err := s.redriveJobParam(c)
	if err != nil {
		return err
	}
	return s.render(c, "redrive_show", "redrive_progress", j.view(s.viewClock(c)))
}

// cancelRedrive stops the redrive the request names, if it still runs, and
// audits that; it waits up to 2s for the move task to end, since most
// cancellations end at once and the answer should show it.
func (s *Server) cancelRedrive(c *fiber.Ctx) (*redriveJob, error) {
	j, err := s.redriveJobParam(c)
	if err != nil {
		return nil, err
	}
	if !j.finished() {
		j.stop()
		if err := s.audit(c, "redrive_cancel", j.queue, fmt.Sprintf("redrive #%d", j.id)); err != nil {
			return nil, err
		}
		select {
		case <-j.done:
		case <-time.After(2 * time.Second):
		}
	}
	return j, nil
}

// redriveCancel cancels a running redrive (POST /redrives/:rid/cancel,
// operator): its SQS move task is cancelled and the redrive is recorded as
// interrupted.
func (s *Server) redriveCancel(c *fiber.Ctx) error {
	j, err := s.cancelRedrive(c)
	if err != nil {
		return err
	}
	if isHX(c) {
		return s.render(c, "redrive_show", "redrive_progress", j.view(s.viewClock(c)))
	}
	return s.seeOther(c, "/redrives/"+strconv.FormatInt(j.id, 10))
}

// apiRedrive is a redrive as the API returns it.
type apiRedrive struct {
	ID      int64      `json:"id"`
	Check   string     `json:"check"`
	Queue   string     `json:"queue"`
	Actor   string     `json:"actor"`
	Rate    int        `json:"rate"`
	DryRun  bool       `json:"dry_run"`
	Status  string     `json:"status"`
	Moved   int64      `json:"moved"`
	ToMove  int64      `json:"to_move"`
	Sources []string   `json:"sources"`
	Error   string     `json:"error,omitempty"`
	Done    bool       `json:"done"`
	Started *time.Time `json:"started_at"`
	Ended   *time.Time `json:"ended_at"`
}

func (j *redriveJob) api(now time.Time) apiRedrive {
	v := j.view(viewClock{now: now, loc: time.UTC})
	j.mu.Lock()
	started, ended := j.started, j.ended
	j.mu.Unlock()
	sources := v.Sources
	if sources == nil {
		sources = []string{}
	}
	return apiRedrive{
		ID: v.ID, Check: v.CheckID, Queue: v.Queue, Actor: v.Actor, Rate: v.Rate, DryRun: v.DryRun, Status: v.Status,
		Moved: v.Moved, ToMove: v.ToMove, Sources: sources, Error: v.Error, Done: v.Done,
		Started: jsonTime(started), Ended: jsonTime(ended),
	}
}

// apiQueueRedrive answers POST /api/v1/queues/:name/redrive (operator;
// JSON body {"rate": N, "dry_run": bool}, both optional): 202 with the
// redrive, whose progress GET /api/v1/redrives/:rid (the Location) reports.
// 422 for a queue no sqs_dlq check watches or that is no DLQ.
func (s *Server) apiQueueRedrive(c *fiber.Ctx) error {
	var p redriveParams
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &p); err != nil {
			return err
		}
	}
	queue, err := url.PathUnescape(c.Params("name"))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, "bad queue name")
	}
	j, err := s.startRedrive(c, "", queue, p)
	if err != nil {
		return err
	}
	c.Location("/api/v1/redrives/" + strconv.FormatInt(j.id, 10))
	return c.Status(fiber.StatusAccepted).JSON(j.api(s.now()))
}

// apiRedriveShow answers GET /api/v1/redrives/:rid: the redrive's progress.
func (s *Server) apiRedriveShow(c *fiber.Ctx) error {
	j, err := s.redriveJobParam(c)
	if err != nil {
		return err
	}
	return c.JSON(j.api(s.now()))
}

// apiRedriveCancel answers POST /api/v1/redrives/:rid/cancel (operator):
// the redrive once cancelled (or as it ended).
func (s *Server) apiRedriveCancel(c *fiber.Ctx) error {
	j, err := s.cancelRedrive(c)
	if err != nil {
		return err
	}
	return c.JSON(j.api(s.now()))
}

// dlqQueue is a violating queue of an sqs_dlq check, as its page offers it
// for redrive.
type dlqQueue struct {
	Name, Detail string
}

// checkRedriveData fills the check page's dead-letter queues and
// redrives (sqs_dlq checks only).
func (s *Server) checkRedriveData(c *fiber.Ctx, d *checkShowData) error {
	if d.Kind != sqsdlq.Kind.Name {
		return nil
	}
	d.CanRedrive = s.redriver != nil
	for _, r := range d.Rows {
		d.Queues = append(d.Queues, dlqQueue{Name: r.Key, Detail: r.Detail})
	}
	d.DefaultRate, d.MaxRate = defaultRedriveRate, sqsdlq.MaxRedriveRate
	csrf, err := s.csrfToken(c)
	if err != nil {
		return fmt.Errorf("web: check %s: %w", d.ID, err)
	}
	vc := s.viewClock(c)
	for _, j := range s.redrives.ofCheck(d.ID, 5) {
		d.Redrives = append(d.Redrives, View{Page: "check_show", User: currentUser(c), CSRF: csrf, Data: j.view(vc), Sandbox: s.demo != nil})
	}
	return nil
}
