package web

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// Dashboard actions that act on a system (run now) are recorded in the
// script log as well as the audit log, as runs by the request's user: the
// record is started before acting, so an action that cannot be recorded is
// not taken, and finished with its outcome. (Redrives are recorded by the
// Redriver, the code path `vigil redrive` shares.)

// startAction starts rec's record as a run by the request's user, now.
func (s *Server) startAction(c *fiber.Ctx, rec scriptlog.Record) (scriptlog.Record, error) {
	log, err := s.scriptLog()
	if err != nil {
		return scriptlog.Record{}, err
	}
	rec.Actor = "anonymous"
	if u := currentUser(c); u != nil {
		rec.Actor = u.Actor()
	}
	rec.StartedAt = s.now()
	rec, err = log.Start(c.UserContext(), rec)
	if err != nil {
		return scriptlog.Record{}, fmt.Errorf("web: record %q: %w", rec.Purpose, err)
	}
	return rec, nil
}

// finishAction finishes rec: success when acted is nil, else failed; output
// says what happened. It records even when the request was cancelled.
func (s *Server) finishAction(c *fiber.Ctx, rec scriptlog.Record, acted error, output string) error {
	log, err := s.scriptLog()
	if err != nil {
		return err
	}
	rec.EndedAt = s.now()
	rec.Duration = rec.EndedAt.Sub(rec.StartedAt)
	rec.Status, rec.ExitCode = scriptlog.Success, 0
	if acted != nil {
		rec.Status, rec.ExitCode = scriptlog.Failed, 1
	}
	out := s.scriptRedactor().Bytes([]byte(output))
	rec.Output, rec.OutputBytes = out, int64(len(out))
	if _, err := log.Finish(context.WithoutCancel(c.UserContext()), rec); err != nil {
		return fmt.Errorf("web: record %q: %w", rec.Purpose, err)
	}
	return nil
}
