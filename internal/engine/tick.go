package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// TickStats counts the alerts one Tick enqueued.
type TickStats struct {
	SilenceExpired int
	Reminders      int
	// SLOAlerts counts SLO alerts opened, escalated or resolved.
	SLOAlerts int
}

// Tick does the time-driven part of alerting; call it periodically (say
// every 30s) on one replica. For each silence that ran out by itself since
// the last Tick, it enqueues one silence_expired message per open incident
// the silence covered, unless another active silence still covers it; each
// expiry is handled once, even across replicas and restarts. With
// Options.RenotifyAfter it enqueues a reminder for each open incident that
// was announced, is not acknowledged and not silenced, and whose latest
// alert is at least RenotifyAfter old. Without Options.Outbox nothing is
// enqueued (expired silences are still marked handled). With Options.SLOs
// it measures each SLO and moves its burn-rate alert (see tickSLOs).
func (e *Engine) Tick(ctx context.Context, now time.Time) (TickStats, error) {
	var st TickStats
	expired, err := e.store.ExpiredSilences(ctx, now)
	if err != nil {
		return st, fmt.Errorf("engine: tick: %w", err)
	}
	var errs []error
	if len(expired) > 0 {
		n, err := e.announceExpiries(ctx, now, expired)
		st.SilenceExpired += n
		errs = append(errs, err)
	}
	if e.outbox && e.renotifyAfter > 0 {
		n, err := e.remind(ctx, now)
		st.Reminders += n
		errs = append(errs, err)
	}
	n, err := e.tickSLOs(ctx, now)
	st.SLOAlerts += n
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return st, fmt.Errorf("engine: tick: %w", err)
	}
	return st, nil
}

// openIncident is an open incident with its check's state.
type openIncident struct {
	inc   store.Incident
	state store.CheckState
}

// openIncidents returns every open incident with its check's state.
func (e *Engine) openIncidents(ctx context.Context) ([]openIncident, error) {
	states, err := e.store.CheckStates(ctx)
	if err != nil {
		return nil, err
	}
	byCheck := make(map[string]store.CheckState, len(states))
	for _, s := range states {
		byCheck[s.CheckID] = s
	}
	var out []openIncident
	var before int64
	for {
		page, err := e.store.Incidents(ctx, store.IncidentQuery{OpenOnly: true, Before: before, Limit: store.MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, inc := range page {
			out = append(out, openIncident{inc: inc, state: byCheck[inc.CheckID]})
		}
		if len(page) < store.MaxLimit {
			return out, nil
		}
		before = page[len(page)-1].ID
	}
}

func (e *Engine) announceExpiries(ctx context.Context, now time.Time, expired []store.Silence) (int, error) {
	open, err := e.openIncidents(ctx)
	if err != nil {
		return 0, err
	}
	active, err := e.store.ActiveSilences(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	announced := map[int64]bool{} // one message per incident per Tick
	for _, s := range expired {
		// Build the messages first: reads must not wait inside the
		// transaction (an in-memory SQLite store has one connection).
		var candidates []openIncident
		var msgs []Message
		for _, o := range open {
			tags := o.state.Tags
			if e.outbox && !announced[o.inc.ID] && s.Matches(o.inc.CheckID, tags) && !silenced(active, o.inc.CheckID, tags) {
				candidates = append(candidates, o)
				msgs = append(msgs, e.tickMessage(ctx, store.OutboxSilenceExpired, o, now))
			}
		}
		var done []int64
		err := e.store.WithTx(ctx, func(tx *store.Tx) error {
			done = done[:0]
			claimed, err := tx.ClaimSilenceExpiry(ctx, s.ID)
			if err != nil || !claimed {
				return err
			}
			for i, o := range candidates {
				ok, err := tx.MarkIncidentNotified(ctx, o.inc.ID, o.inc.NotifiedAt, now)
				if err != nil {
					return err
				}
				if !ok {
					continue // resolved meanwhile, or another replica got there
				}
				if err := e.enqueue(ctx, tx, store.OutboxSilenceExpired, msgs[i]); err != nil {
					return err
				}
				done = append(done, o.inc.ID)
			}
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("silence %d expiry: %w", s.ID, err)
		}
		for _, id := range done {
			announced[id] = true
			sent++
		}
	}
	return sent, nil
}

func (e *Engine) remind(ctx context.Context, now time.Time) (int, error) {
	open, err := e.openIncidents(ctx)
	if err != nil {
		return 0, err
	}
	active, err := e.store.ActiveSilences(ctx, now)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, o := range open {
		inc := o.inc
		if !inc.Announced() || inc.Acked() || now.Sub(inc.NotifiedAt) < e.renotifyAfter || silenced(active, inc.CheckID, o.state.Tags) {
			continue
		}
		m := e.tickMessage(ctx, store.OutboxReminder, o, now)
		var ok bool
		err := e.store.WithTx(ctx, func(tx *store.Tx) error {
			var err error
			ok, err = tx.MarkIncidentNotified(ctx, inc.ID, inc.NotifiedAt, now)
			if err != nil || !ok {
				return err
			}
			return e.enqueue(ctx, tx, store.OutboxReminder, m)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("reminder for incident %d: %w", inc.ID, err))
			continue
		}
		if ok {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// tickMessage builds an alert about an open incident; the sample keys and
// error text come from its check's latest stored run. Call it outside a
// transaction.
func (e *Engine) tickMessage(ctx context.Context, kind store.OutboxKind, o openIncident, at time.Time) Message {
	check := CheckInfo{ID: o.inc.CheckID, Kind: o.state.Kind, Owner: o.state.Owner, Runbook: o.state.Runbook, Tags: o.state.Tags}
	r := checks.Result{Check: o.inc.CheckID, Kind: o.state.Kind, Status: o.inc.LastStatus, Violations: o.inc.LastViolations}
	if run, err := e.store.LatestResult(ctx, o.inc.CheckID); err == nil {
		r.Sample, r.Error = run.Sample, run.Error
	} else {
		e.log.Warn("engine: latest run for alert", "check", o.inc.CheckID, "err", err)
	}
	return newMessage(kind, check, o.inc, r, o.inc.LastRunID, at)
}
