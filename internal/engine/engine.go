// Package engine turns check results into incidents and signals. Record is
// the one path every result takes: it stores the result, advances the
// check's state machine and, in the same store transaction, enqueues the
// alert the transition calls for; then it hands the run to every sink.
//
// # State machine
//
// Each check counts its consecutive non-pass runs (fail or error) and its
// consecutive pass runs:
//
//   - fail and error are non-pass. fail_after consecutive non-pass runs open
//     an incident; the incident remembers whether the run that opened it was
//     an error ("check broken": the check could not run) or a fail ("data
//     broken").
//   - pass counts towards resolving: resolve_after consecutive passes
//     resolve the open incident.
//   - warn is neither. It never opens an incident (warn is good for the SLO
//     and for the exit code) and never resolves one (the recovery message
//     means "clean again", and a check still warning is not clean). It breaks
//     both streaks: fail, warn, fail is not two consecutive non-pass runs, and
//     pass, warn, pass is not two consecutive passes.
//   - Any other status counts as error.
//
// fail_after and resolve_after below 1 count as 1.
//
// # Alerts
//
// With Options.Outbox, an opened incident enqueues an "opened" message
// unless the check is silenced (an active silence names its id or one of
// its tags). A resolved incident enqueues "resolved" only when an alert
// for it was enqueued before (opened, reminder or silence expired) and the
// check is not silenced: an incident nobody was told about resolves
// quietly. An ack never suppresses opened or resolved messages; it stops
// reminders. Tick enqueues reminders and silence-expired messages.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// CheckInfo is what the engine needs to know about a configured check.
type CheckInfo struct {
	ID       string
	Kind     string
	Owner    string
	Runbook  string
	Tags     []string
	Schedule string
	Timeout  time.Duration
	// FailAfter consecutive non-pass runs open an incident; ResolveAfter
	// consecutive passes resolve it. Values below 1 mean 1.
	FailAfter    int
	ResolveAfter int
}

// TransitionKind says what a run did to its check's incident.
type TransitionKind int

const (
	None     TransitionKind = iota // no incident opened or resolved
	Opened                         // the run opened an incident
	Resolved                       // the run resolved the open incident
)

// String returns "none", "opened" or "resolved".
func (k TransitionKind) String() string {
	switch k {
	case Opened:
		return "opened"
	case Resolved:
		return "resolved"
	}
	return "none"
}

// Transition is a run's effect on incidents. Incident is the incident the
// run belongs to: the one it opened or resolved, or with Kind None the one
// still open (zero when the check has none).
type Transition struct {
	Kind     TransitionKind
	Incident store.Incident
}

// Event is one recorded run, as sinks see it. Sinks share it and must not
// modify its slices.
type Event struct {
	Check      CheckInfo
	Result     checks.Result
	RunID      int64 // 0 when the store failed to record the run
	Transition Transition
	// Changes sorts the run's violation keys against the previous run's.
	Changes store.KeyChanges
	// Silenced is true when an active silence covered the check at the run.
	Silenced bool
}

// Sink receives every recorded run. Observe is called concurrently for
// different runs and must be safe for that; an error is logged and
// counted, never returned to the check.
type Sink interface {
	Name() string
	Observe(ctx context.Context, e Event) error
}

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives sink failures and store trouble (discarded when nil).
	Logger *slog.Logger
	// Outbox enables alert messages in the store's outbox (for the Slack
	// sink's delivery worker). Without it no message is ever enqueued.
	Outbox bool
	// RenotifyAfter, when positive, makes Tick enqueue a reminder for an
	// announced, unacknowledged, unsilenced open incident once this long has
	// passed since its latest alert.
	RenotifyAfter time.Duration
	// SinkTimeout bounds each sink's Observe (default DefaultSinkTimeout).
	SinkTimeout time.Duration
	// OnSinkError, when set, is called (concurrently) for each sink failure,
	// for example to count sink.errors in Datadog.
	OnSinkError func(sink string, err error)
	// SLOs are measured by Tick, which opens, escalates and resolves their
	// burn-rate alerts (see tickSLOs).
	SLOs []slo.SLO
}

// Defaults for Options fields left at zero.
const (
	DefaultSinkTimeout = 10 * time.Second
	// storeTimeout bounds the store work of one Record, which is detached
	// from the caller's cancellation.
	storeTimeout = 30 * time.Second
	// sampleKeys is how many sample keys an alert carries.
	sampleKeys = 5
)

// ErrInvalid marks a request refused for its arguments. It is
// store.ErrInvalid, so errors.Is matches either name.
var ErrInvalid = store.ErrInvalid

// Engine records results, runs the incident state machine and fans runs
// out to sinks. Its methods are safe for concurrent use; Record for
// different checks may run at once (on SQLite the store's single writer
// serialises their transactions, on PostgreSQL a row lock per check does).
type Engine struct {
	store         *store.Store
	sinks         []Sink
	now           func() time.Time
	log           *slog.Logger
	outbox        bool
	renotifyAfter time.Duration
	sinkTimeout   time.Duration
	onSinkError   func(string, error)
	slos          []slo.SLO

	mu         sync.Mutex
	sinkErrors map[string]int64

	commits committer
}

// New returns an engine over s that hands every run to sinks.
func New(s *store.Store, sinks []Sink, o Options) *Engine {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SinkTimeout <= 0 {
		o.SinkTimeout = DefaultSinkTimeout
	}
	e := &Engine{
		store:         s,
		sinks:         slices.Clone(sinks),
		now:           o.Now,
		log:           o.Logger,
		outbox:        o.Outbox,
		renotifyAfter: o.RenotifyAfter,
		sinkTimeout:   o.SinkTimeout,
		onSinkError:   o.OnSinkError,
		slos:          slices.Clone(o.SLOs),
		sinkErrors:    map[string]int64{},
		commits:       committer{parallel: parallelSQLite},
	}
	if s != nil && s.Replicas() {
		e.commits.parallel = parallelPostgres
	}
	return e
}

// Record stores a run's result, advances its check's state machine,
// enqueues the alert its transition calls for and computes the key changes
// against the previous run, all in one store transaction; then it hands
// the Event to every sink concurrently, returning when all have finished.
// A sink's failure or panic is logged and counted (SinkErrors) and never
// fails Record.
//
// r.Check and r.Kind default to check.ID and check.Kind; a zero
// r.StartedAt is the engine's clock. Record is not cancelled by ctx (a run
// that timed out must still be recorded); its store work is bounded by 30s
// and each sink by Options.SinkTimeout.
//
// The error is non-nil when the result could not be recorded (ErrInvalid
// for a check without id or a result for another check). Sinks still
// observe a run the store failed to record, with RunID 0 and no
// transition, so metrics keep flowing while the store is down.
func (e *Engine) Record(ctx context.Context, check CheckInfo, r checks.Result) (Event, error) {
	ctx = context.WithoutCancel(ctx)
	if r.Check == "" {
		r.Check = check.ID
	}
	if r.Kind == "" {
		r.Kind = check.Kind
	}
	ev := Event{Check: check, Result: r}
	if check.ID == "" || r.Check != check.ID {
		return ev, fmt.Errorf("engine: record: check id %q, result for %q: %w", check.ID, r.Check, ErrInvalid)
	}
	now := e.now()
	if ev.Result.StartedAt.IsZero() {
		ev.Result.StartedAt = now
	}

	storeCtx, cancel := context.WithTimeout(ctx, storeTimeout)
	err := e.commits.commit(storeCtx, e, &pending{ev: &ev, now: now})
	cancel()
	if err != nil {
		err = fmt.Errorf("engine: record %s: %w", check.ID, err)
		e.log.Error("engine: result not recorded", "check", check.ID, "status", string(r.Status), "err", err)
		ev.RunID, ev.Transition, ev.Silenced, ev.Changes = 0, Transition{}, false, store.KeyChanges{}
		e.fanOut(ctx, ev)
		return ev, err
	}

	e.fanOut(ctx, ev)
	return ev, nil
}

// advance is one run's part of a Record transaction: lock the check's
// state, store the run, step the state machine, update the incident,
// enqueue the alert and sort the run's keys against the previous run's
// (inside the transaction, on the writer's warm connection: one statement
// for a passing check). silences are those active at the batch's earliest
// run, read once in the transaction.
func (e *Engine) advance(ctx context.Context, tx *store.Tx, ev *Event, now time.Time, silences []store.Silence) error {
	check, r := ev.Check, ev.Result
	// Lock first, so runs of one check get ids in the order they are applied.
	st, err := tx.LockCheckState(ctx, check.ID)
	if err != nil {
		return err
	}
	runID, err := tx.RecordResult(ctx, r)
	if err != nil {
		return err
	}
	ev.RunID = runID
	ev.Silenced = slices.ContainsFunc(silences, func(s store.Silence) bool {
		return s.Active(now) && s.Matches(check.ID, check.Tags)
	})

	next, act := step(st, r.Status, check.FailAfter, check.ResolveAfter, now)
	next.CheckID, next.Kind, next.Owner, next.Runbook, next.Tags = check.ID, r.Kind, check.Owner, check.Runbook, check.Tags
	next.LastRunID, next.UpdatedAt = runID, now

	alert := e.outbox && !ev.Silenced
	switch act {
	case actOpen:
		in := store.Incident{
			CheckID: check.ID, Since: next.FailingSince, OpenedAt: now, OpenedStatus: openedStatus(r.Status),
			LastStatus: r.Status, LastViolations: r.Violations, WorstViolations: r.Violations,
			OpenedRunID: runID, LastRunID: runID,
		}
		if alert {
			in.NotifiedAt = now
		}
		inc, err := tx.OpenIncident(ctx, in)
		if err != nil {
			return err
		}
		next.IncidentID = inc.ID
		ev.Transition = Transition{Kind: Opened, Incident: inc}
		if alert {
			if err := e.enqueue(ctx, tx, store.OutboxOpened, newMessage(store.OutboxOpened, ev.Check, inc, r, runID, now)); err != nil {
				return err
			}
		}
	case actNote:
		inc, err := tx.NoteIncidentRun(ctx, st.IncidentID, runID, r.Status, r.Violations)
		if err != nil {
			return err
		}
		ev.Transition = Transition{Kind: None, Incident: inc}
	case actResolve:
		inc, err := tx.ResolveIncident(ctx, st.IncidentID, runID, now)
		if err != nil {
			return err
		}
		next.IncidentID = 0
		ev.Transition = Transition{Kind: Resolved, Incident: inc}
		if alert && inc.Announced() {
			if err := e.enqueue(ctx, tx, store.OutboxResolved, newMessage(store.OutboxResolved, ev.Check, inc, r, runID, now)); err != nil {
				return err
			}
		}
	}
	if err := tx.SaveCheckState(ctx, next); err != nil {
		return err
	}
	if len(r.Keys) == 0 && !st.LastRunHasKeys {
		// No key failing now or in the previous run: nothing to look up.
		ev.Changes = store.KeyChanges{New: []string{}, Still: []string{}, Fixed: []string{}, Unknown: []string{}}
		return nil
	}
	ev.Changes, err = tx.KeyChanges(ctx, runID)
	return err
}

func (e *Engine) enqueue(ctx context.Context, tx *store.Tx, kind store.OutboxKind, m Message) error {
	payload, err := m.encode()
	if err != nil {
		return fmt.Errorf("encode %s alert: %w", kind, err)
	}
	_, err = tx.EnqueueOutbox(ctx, store.OutboxMessage{
		CheckID: m.Check, IncidentID: m.IncidentID, Kind: kind, Payload: payload, CreatedAt: m.At,
	})
	return err
}

// action is what a run does to the check's incident.
type action int

const (
	actNone    action = iota // no incident, none opened
	actOpen                  // open an incident
	actNote                  // the open incident stays open
	actResolve               // resolve the open incident
)

// step is the state machine (see the package comment): the check's state
// after a run with this status, and what happens to its incident.
func step(st store.CheckState, status checks.Status, failAfter, resolveAfter int, now time.Time) (store.CheckState, action) {
	failAfter, resolveAfter = max(failAfter, 1), max(resolveAfter, 1)
	next := st
	if st.Status != status || st.Since.IsZero() {
		next.Since = now
	}
	next.Status = status
	open := st.IncidentID != 0
	switch status {
	case checks.Pass:
		next.NonPass, next.FailingSince = 0, time.Time{}
		next.Passes++
		if open && next.Passes >= resolveAfter {
			return next, actResolve
		}
	case checks.Warn:
		next.NonPass, next.Passes, next.FailingSince = 0, 0, time.Time{}
	default: // fail, error and anything unknown
		if next.NonPass == 0 {
			next.FailingSince = now
		}
		next.NonPass++
		next.Passes = 0
		if !open && next.NonPass >= failAfter {
			return next, actOpen
		}
	}
	if open {
		return next, actNote
	}
	return next, actNone
}

// openedStatus is fail for a fail run and error for anything else that
// opens an incident.
func openedStatus(s checks.Status) checks.Status {
	if s == checks.Fail {
		return checks.Fail
	}
	return checks.Error
}

// silenced reports whether any of the silences covers the check.
func silenced(silences []store.Silence, checkID string, tags []string) bool {
	return slices.ContainsFunc(silences, func(s store.Silence) bool { return s.Matches(checkID, tags) })
}

// fanOut hands ev to every sink at once and waits for them all.
func (e *Engine) fanOut(ctx context.Context, ev Event) {
	if len(e.sinks) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.sinkTimeout)
	defer cancel()
	errs := make([]error, len(e.sinks))
	var wg sync.WaitGroup
	for i, s := range e.sinks {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = s.Observe(ctx, ev)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			e.sinkFailed(e.sinks[i].Name(), err, "check", ev.Check.ID, "run", ev.RunID)
		}
	}
}

// sinkFailed counts and logs a sink's failure; attrs say what it was about.
func (e *Engine) sinkFailed(name string, err error, attrs ...any) {
	e.mu.Lock()
	e.sinkErrors[name]++
	e.mu.Unlock()
	e.log.Error("engine: sink failed", append(append([]any{"sink", name}, attrs...), "err", err)...)
	if e.onSinkError != nil {
		e.onSinkError(name, err)
	}
}

// SinkErrors returns how many times each sink has failed (by sink name;
// sinks that never failed are absent).
func (e *Engine) SinkErrors() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int64, len(e.sinkErrors))
	for k, v := range e.sinkErrors {
		out[k] = v
	}
	return out
}

// Ack records that who is on an open incident, with an optional note; it
// stops reminders until the incident resolves. Errors: ErrInvalid without
// who, store.ErrNotFound for an unknown incident, store.ErrConflict for a
// resolved one.
func (e *Engine) Ack(ctx context.Context, incidentID int64, who, note string) (store.Incident, error) {
	inc, err := e.store.AckIncident(ctx, incidentID, who, note, e.now())
	if err != nil {
		return store.Incident{}, fmt.Errorf("engine: %w", err)
	}
	return inc, nil
}

// Silence stops alerts for a check id or tag from now until a set time.
// author and reason are required and until must be in the future
// (ErrInvalid).
func (e *Engine) Silence(ctx context.Context, matcher string, until time.Time, author, reason string) (store.Silence, error) {
	return e.SilenceFrom(ctx, matcher, time.Time{}, until, author, reason)
}

// SilenceFrom is Silence starting at start instead of now (a zero start is
// now); start may not be in the past and until must be after it
// (ErrInvalid). Until it starts, the silence stops nothing.
func (e *Engine) SilenceFrom(ctx context.Context, matcher string, start, until time.Time, author, reason string) (store.Silence, error) {
	s, err := e.store.CreateSilence(ctx, store.Silence{Matcher: matcher, StartsAt: start, Until: until, Author: author, Reason: reason, CreatedAt: e.now()})
	if err != nil {
		return store.Silence{}, fmt.Errorf("engine: %w", err)
	}
	return s, nil
}

// ExpireSilence ends a silence early on behalf of who. A silence ended
// early announces nothing (whoever ended it is looking). Errors:
// ErrInvalid without who, store.ErrNotFound, store.ErrConflict when it
// already ended.
func (e *Engine) ExpireSilence(ctx context.Context, id int64, who string) (store.Silence, error) {
	s, err := e.store.ExpireSilence(ctx, id, who, e.now())
	if err != nil {
		return store.Silence{}, fmt.Errorf("engine: %w", err)
	}
	return s, nil
}
