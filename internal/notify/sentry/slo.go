package sentry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// ObserveSLO sends one event when an SLO alert opens or escalates to a
// page (not when it resolves, nor when a silence names the SLO):
// fingerprinted ["slo", name], so each SLO is one Sentry issue; level
// error for a page, warning for a ticket; tags slo and severity; the
// "slo" context holds the objective, window, attainment, budget left and
// burn rates, and "links" the SLO dashboard. It returns ErrNotSent when
// the client dropped the event.
func (s *Sink) ObserveSLO(_ context.Context, e engine.SLOEvent) error {
	if e.Silenced || e.Kind == store.OutboxSLOResolved {
		return nil
	}
	r, in := e.Report, e.Incident
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelWarning
	if in.Severity == string(slo.Page) {
		ev.Level = sentry.LevelError
	}
	ev.Logger = "vigil"
	ev.Transaction = "slo:" + r.Name
	ev.Timestamp = r.At
	ev.Message = cut(fmt.Sprintf("SLO %s: %s burns its error budget (%s)", in.Severity, r.Name, e.Rule), MaxTextBytes)
	ev.Fingerprint = []string{"slo", r.Name}
	ev.Tags = map[string]string{"slo": cutRunes(r.Name, MaxTagRunes), "severity": in.Severity}
	ev.Contexts = map[string]sentry.Context{
		"slo": {"name": r.Name, "objective": r.Objective, "window": r.WindowName, "attainment": r.Attainment,
			"budget_left": r.BudgetLeft, "burn_rates": r.Rates(), "rule": e.Rule.String(), "incident": in.ID},
	}
	if s.o.BaseURL != "" {
		ev.Contexts["links"] = sentry.Context{"dashboard": strings.TrimRight(s.o.BaseURL, "/") + "/slos#slo-" + url.PathEscape(r.Name)}
	}
	if err := s.capture(ev, "slo event"); err != nil {
		return fmt.Errorf("sentry: observe slo %s: %w", r.Name, err)
	}
	return nil
}
