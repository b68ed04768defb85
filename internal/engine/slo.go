package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// SLOEvent is an SLO alert that changed, as SLO sinks see it: after the
// change committed with its outbox message.
type SLOEvent struct {
	// Kind is store.OutboxSLOOpened, OutboxSLOEscalated or OutboxSLOResolved.
	Kind     store.OutboxKind
	Incident store.SLOIncident
	Report   slo.Report
	// Rule is the rule that fired (zero for a resolution).
	Rule slo.Rule
	// Silenced is true when an active silence names "slo:<name>": nothing
	// was enqueued, and sinks should stay quiet too.
	Silenced bool
}

// SLOSink is a Sink that also hears of SLO alerts (the Sentry sink).
type SLOSink interface {
	ObserveSLO(ctx context.Context, e SLOEvent) error
}

// SLOMatcher is the silence matcher that silences an SLO's alerts.
func SLOMatcher(name string) string { return "slo:" + name }

// tickSLOs measures every SLO and moves its alert (see slo.Decide): it
// opens, escalates or resolves the SLO's incident and, in the same
// transaction, enqueues the alert (with Options.Outbox, unless an active
// silence names "slo:<name>"); then it hands each change to the SLO sinks.
// A resolution is announced only when the incident was. It returns how
// many alerts changed.
func (e *Engine) tickSLOs(ctx context.Context, now time.Time) (int, error) {
	if len(e.slos) == 0 {
		return 0, nil
	}
	open, err := e.store.SLOIncidents(ctx, "", true, store.MaxLimit)
	if err != nil {
		return 0, err
	}
	byName := map[string]store.SLOIncident{}
	for _, in := range open {
		byName[in.SLO] = in
	}
	active, err := e.store.ActiveSilences(ctx, now)
	if err != nil {
		return 0, err
	}
	changed := 0
	var errs []error
	for _, s := range e.slos {
		ev, ok, err := e.stepSLO(ctx, s, byName[s.Name], silenced(active, SLOMatcher(s.Name), nil), now)
		if err != nil {
			errs = append(errs, fmt.Errorf("slo %s: %w", s.Name, err))
			continue
		}
		if ok {
			changed++
			e.fanOutSLO(ctx, ev)
		}
	}
	return changed, errors.Join(errs...)
}

// stepSLO measures one SLO's alert windows and applies slo.Decide (and
// measures the whole window when its alert changes, for the message); ok
// is false when its alert did not change (or another replica changed it
// first).
func (e *Engine) stepSLO(ctx context.Context, s slo.SLO, open store.SLOIncident, quiet bool, now time.Time) (ev SLOEvent, ok bool, err error) {
	rep, err := slo.MeasureAlerts(ctx, e.store, s, now)
	if err != nil {
		return ev, false, err
	}
	severity := slo.None
	if open.ID != 0 {
		severity = slo.Severity(open.Severity)
	}
	d := slo.Decide(severity, rep)
	if d.Action == slo.Keep {
		return ev, false, nil
	}
	if rep, err = slo.Measure(ctx, e.store, s, now); err != nil {
		return ev, false, err
	}
	ev = SLOEvent{Report: rep, Rule: d.Rule, Silenced: quiet}
	alert := e.outbox && !quiet
	err = e.store.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		switch d.Action {
		case slo.Open:
			ev.Kind = store.OutboxSLOOpened
			ev.Incident, err = tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: s.Name, Severity: string(d.Severity), OpenedAt: now, BurnRates: rep.Rates(), Announced: alert})
		case slo.Escalate:
			ev.Kind = store.OutboxSLOEscalated
			ev.Incident, err = tx.EscalateSLOIncident(ctx, open.ID, open.Severity, string(d.Severity), now, rep.Rates(), alert)
		case slo.Resolve:
			ev.Kind = store.OutboxSLOResolved
			ev.Incident, err = tx.ResolveSLOIncident(ctx, open.ID, now)
			alert = alert && ev.Incident.Announced
		default:
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		if !alert {
			return nil
		}
		return e.enqueue(ctx, tx, ev.Kind, sloMessage(ev, now))
	})
	if errors.Is(err, store.ErrConflict) {
		return ev, false, nil // another replica moved this alert first
	}
	return ev, ok, err
}

// sloMessage is the outbox payload of an SLO alert.
func sloMessage(ev SLOEvent, at time.Time) Message {
	r, in := ev.Report, ev.Incident
	a := &SLOAlert{
		Name: r.Name, Objective: r.Objective, Window: r.WindowName, Severity: in.Severity,
		BurnRates: r.Rates(), Attainment: r.Attainment, BudgetLeft: r.BudgetLeft,
	}
	if ev.Kind != store.OutboxSLOResolved {
		a.Rule = ev.Rule.String()
	}
	return Message{
		Kind: ev.Kind, Check: SLOMatcher(r.Name), IncidentID: in.ID, SampleKeys: []string{},
		Since: in.OpenedAt, OpenedAt: in.OpenedAt, ResolvedAt: in.ResolvedAt, At: at, SLO: a,
	}
}

// fanOutSLO hands an SLO alert change to every sink that hears of them.
func (e *Engine) fanOutSLO(ctx context.Context, ev SLOEvent) {
	ctx, cancel := context.WithTimeout(ctx, e.sinkTimeout)
	defer cancel()
	for _, s := range e.sinks {
		ss, ok := s.(SLOSink)
		if !ok {
			continue
		}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return ss.ObserveSLO(ctx, ev)
		}()
		if err != nil {
			e.sinkFailed(s.Name(), err, "slo", ev.Report.Name)
		}
	}
}

// SLOs returns the SLOs the engine watches.
func (e *Engine) SLOs() []slo.SLO { return e.slos }
