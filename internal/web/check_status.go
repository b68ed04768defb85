package web

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// statusUnknown is the status of a configured check that has not run yet.
const statusUnknown = "unknown"

// statusOrder is the order of the overview's groups: what needs a human
// first. "error" (check broken) stays apart from "fail" (data broken).
var statusOrder = []string{"fail", "error", "warn", "pass", statusUnknown}

// checkSummary is a configured check with its current state: what the
// overview, the check page and GET /api/v1/checks show.
type checkSummary struct {
	Check      config.Check
	Runbook    string // the runbook's name, "" when the check has none
	Status     string // of the latest run, or statusUnknown
	Violations int
	LastRun    store.Run // zero ID when the check never ran; from checkSummaries, without sample or metrics
	// Recent are the statuses of the newest runs, newest first (only from
	// checkSummaries).
	Recent []checks.Status
	// Since is when the check's current status began (zero when unknown).
	Since    time.Time
	Incident *store.Incident // the open incident, nil when none
	Silence  *store.Silence  // the active silence covering the check that lasts longest, nil when none
}

// configChecks returns the configured checks, in config order.
func (s *Server) configChecks() []config.Check {
	if s.cfg == nil {
		return nil
	}
	return s.cfg.Checks
}

// configCheck returns the configured check id, or store.ErrNotFound.
func (s *Server) configCheck(id string) (config.Check, error) {
	if s.cfg != nil {
		if c, ok := s.cfg.Check(id); ok {
			return c, nil
		}
	}
	return config.Check{}, fmt.Errorf("web: check %q: %w", id, store.ErrNotFound)
}

// checkSummaries yields every configured check with its state, in config
// order; LastRun holds the latest run without its sample or metrics. It
// reads each check's recent history (with its state), open incidents and
// active silences first: three queries whatever the number of checks or
// runs. Summaries are yielded one by one, so that a page that shows a few
// of a thousand checks keeps none of the others.
func (s *Server) checkSummaries(ctx context.Context) (iter.Seq[checkSummary], error) {
	history, err := s.store.RecentHistory(ctx, stripRuns)
	if err != nil {
		return nil, fmt.Errorf("web: checks: %w", err)
	}
	open, err := s.store.Incidents(ctx, store.IncidentQuery{OpenOnly: true, Limit: store.MaxLimit})
	if err != nil {
		return nil, fmt.Errorf("web: checks: %w", err)
	}
	incidents := make(map[string]*store.Incident, len(open))
	for i := range open {
		incidents[open[i].CheckID] = &open[i]
	}
	silences, err := s.store.ActiveSilences(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("web: checks: %w", err)
	}
	return func(yield func(checkSummary) bool) {
		for _, c := range s.configChecks() {
			sum := checkSummary{Check: c, Runbook: s.runbookName(c), Status: statusUnknown}
			if h, ok := history[c.ID]; ok {
				sum.LastRun = store.Run{ID: h.Last.ID, Result: checks.Result{
					Check: c.ID, Kind: c.Kind, Status: h.Last.Status, Violations: h.Last.Violations,
					StartedAt: h.Last.StartedAt, Duration: h.Last.Duration, DurationMS: h.Last.Duration.Milliseconds(),
				}}
				sum.Status, sum.Violations, sum.Recent, sum.Since = string(h.Last.Status), h.Last.Violations, h.Recent, h.Since
			}
			sum.Incident = incidents[c.ID]
			sum.Silence = coveringSilence(silences, c)
			if !yield(sum) {
				return
			}
		}
	}, nil
}

// checkSummary returns one configured check with its state, or
// store.ErrNotFound for a check that is not configured.
func (s *Server) checkSummary(ctx context.Context, id string) (checkSummary, error) {
	c, err := s.configCheck(id)
	if err != nil {
		return checkSummary{}, err
	}
	sum := checkSummary{Check: c, Runbook: s.runbookName(c), Status: statusUnknown}
	run, err := s.store.LatestResult(ctx, id)
	switch {
	case err == nil:
		sum.LastRun, sum.Status, sum.Violations = run, string(run.Status), run.Violations
	case !isNotFound(err):
		return checkSummary{}, fmt.Errorf("web: check %s: %w", id, err)
	}
	st, err := s.store.CheckState(ctx, id)
	switch {
	case err == nil:
		sum.Since = st.Since
	case !isNotFound(err):
		return checkSummary{}, fmt.Errorf("web: check %s: %w", id, err)
	}
	open, err := s.store.Incidents(ctx, store.IncidentQuery{CheckID: id, OpenOnly: true, Limit: 1})
	if err != nil {
		return checkSummary{}, fmt.Errorf("web: check %s: %w", id, err)
	}
	if len(open) > 0 {
		sum.Incident = &open[0]
	}
	silences, err := s.store.ActiveSilences(ctx, s.now())
	if err != nil {
		return checkSummary{}, fmt.Errorf("web: check %s: %w", id, err)
	}
	sum.Silence = coveringSilence(silences, c)
	return sum, nil
}

// coveringSilence is the active silence covering c that ends last, or nil.
func coveringSilence(silences []store.Silence, c config.Check) *store.Silence {
	var best *store.Silence
	for i := range silences {
		if silences[i].Matches(c.ID, c.Tags) && (best == nil || silences[i].Until.After(best.Until)) {
			best = &silences[i]
		}
	}
	return best
}

// runbookName is the name of c's runbook: the one it names, else the
// first that lists it; "" when it has none.
func (s *Server) runbookName(c config.Check) string {
	if name, ok := s.checkRunbooks[c.ID]; ok {
		return name
	}
	if rb, ok := s.runbooks.ForCheck(c.ID, c.Runbook); ok {
		return rb.Name
	}
	return ""
}

// runbookNames finds the runbook of every configured check once (the set
// and the config do not change), for runbookName.
func (s *Server) runbookNames() map[string]string {
	out := make(map[string]string, len(s.configChecks()))
	for _, c := range s.configChecks() {
		if rb, ok := s.runbooks.ForCheck(c.ID, c.Runbook); ok {
			out[c.ID] = rb.Name
		} else {
			out[c.ID] = ""
		}
	}
	return out
}

// knownMatcher reports whether a silence matcher names a configured check
// or one of their tags.
func (s *Server) knownMatcher(m string) bool {
	for _, c := range s.configChecks() {
		if c.ID == m || slices.Contains(c.Tags, m) {
			return true
		}
	}
	return false
}
