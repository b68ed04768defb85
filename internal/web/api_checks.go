package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/scriptlog"
)

// apiChecks answers GET /api/v1/checks: every configured check with its
// current state, in config order.
func (s *Server) apiChecks(c *fiber.Ctx) error {
	sums, err := s.checkSummaries(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]apiCheck, 0, len(s.configChecks()))
	for sum := range sums {
		out = append(out, toAPICheck(sum))
	}
	return c.JSON(out)
}

// apiCheck answers GET /api/v1/checks/:id: the check as in the list, plus
// its latest result and how its violation keys changed against the run
// before. 404 for a check that is not configured.
func (s *Server) apiCheck(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sum, err := s.checkSummary(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	out := toAPICheck(sum)
	if sum.LastRun.ID != 0 {
		latest := toAPIResult(sum.LastRun)
		out.Latest = &latest
		ch, err := s.store.KeyChanges(ctx, sum.LastRun.ID)
		if err != nil {
			return err
		}
		out.Changes = &apiChanges{New: ch.New, Still: ch.Still, Fixed: ch.Fixed}
	}
	return c.JSON(out)
}

// apiCheckResults answers GET /api/v1/checks/:id/results?before=ID&limit=N:
// the check's results, newest first (limit default 50, at most 1000). 404
// for a check that is not configured.
func (s *Server) apiCheckResults(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := s.configCheck(id); err != nil {
		return err
	}
	before, limit, err := pageParams(c, 50)
	if err != nil {
		return err
	}
	runs, err := s.store.Results(c.UserContext(), id, before, limit)
	if err != nil {
		return err
	}
	out := make([]apiResult, len(runs))
	for i, r := range runs {
		out[i] = toAPIResult(r)
	}
	if len(runs) > 0 {
		setNextLink(c, len(runs), limit, runs[len(runs)-1].ID)
	}
	return c.JSON(out)
}

// apiCheckRun answers POST /api/v1/checks/:id/run (operator): 202
// {"check": id, "status": "started"} once a run is under way; 409 when
// one already is.
func (s *Server) apiCheckRun(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.doRunNow(c, id); err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"check": id, "status": "started"})
}

// doRunNow starts a run of check id now, records the action in the script
// log (started before the scheduler is asked, finished with its answer;
// the run's result is the check's history) and audits it ("run"). Errors:
// 404 for a check that is not configured, 409 when it is already running,
// 503 without a scheduler or while it stops; 500, and no run, when the
// script log cannot record the action.
func (s *Server) doRunNow(c *fiber.Ctx, id string) error {
	if _, err := s.configCheck(id); err != nil {
		return err
	}
	if s.sched == nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, "no scheduler: checks cannot be run from here")
	}
	rec, err := s.startAction(c, scriptlog.Record{
		Script: scriptlog.CommandLine([]string{"run-now", id}), Purpose: "run now: " + id, Target: id,
		Inputs: scriptlog.Inputs{Args: []string{id}},
	})
	if err != nil {
		return err
	}
	err = s.sched.RunNow(id)
	outcome := fmt.Sprintf("run of %s started; its result is in the check's history\n", id)
	if err != nil {
		outcome = err.Error() + "\n"
	}
	if ferr := s.finishAction(c, rec, err, outcome); ferr != nil && err == nil {
		err = ferr
	}
	switch {
	case errors.Is(err, scheduler.ErrRunning):
		return fiber.NewError(fiber.StatusConflict, fmt.Sprintf("check %s is already running", id))
	case errors.Is(err, scheduler.ErrUnknownJob):
		return fiber.NewError(fiber.StatusNotFound, fmt.Sprintf("check %s is not scheduled", id))
	case errors.Is(err, scheduler.ErrStopped):
		return fiber.NewError(fiber.StatusServiceUnavailable, "the scheduler is stopping")
	case err != nil:
		return err
	}
	return s.audit(c, "run", id, "run now")
}
