package engine

import (
	"context"
	"log/slog"
)

// LogSink returns a sink that logs each run at debug level and each
// incident transition at info (opened with its status and count, resolved
// with how long it lasted), for a deployment without other sinks.
func LogSink(l *slog.Logger) Sink { return logSink{l} }

type logSink struct{ log *slog.Logger }

func (logSink) Name() string { return "log" }

func (s logSink) Observe(ctx context.Context, e Event) error {
	r, inc := e.Result, e.Transition.Incident
	switch e.Transition.Kind {
	case Opened:
		s.log.InfoContext(ctx, "incident opened", "check", e.Check.ID, "incident", inc.ID, "status", string(r.Status),
			"violations", r.Violations, "check_broken", inc.CheckBroken(), "silenced", e.Silenced, "runbook", e.Check.Runbook)
	case Resolved:
		s.log.InfoContext(ctx, "incident resolved", "check", e.Check.ID, "incident", inc.ID,
			"lasted", inc.ResolvedAt.Sub(inc.Since).String(), "silenced", e.Silenced)
	default:
		s.log.DebugContext(ctx, "run recorded", "check", e.Check.ID, "run", e.RunID, "status", string(r.Status),
			"violations", r.Violations, "new", len(e.Changes.New), "fixed", len(e.Changes.Fixed))
	}
	return nil
}
