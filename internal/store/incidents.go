package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// CheckState is where a check stands after its latest recorded run: the
// streaks the engine's state machine counts and its open incident. The
// engine keeps it; the store only persists it.
type CheckState struct {
	CheckID string
	// Kind, Owner, Runbook and Tags are the check's as of its latest run, so
	// that silences by tag and alerts work without the configuration.
	Kind    string
	Owner   string
	Runbook string
	Tags    []string
	// Status is the latest run's status ("" before the first run).
	Status checks.Status
	// Since is when the current streak of runs with Status began.
	Since time.Time
	// NonPass counts the consecutive fail or error runs ending with the
	// latest run; Passes counts consecutive pass runs. At most one is
	// non-zero; a warn run sets both to zero.
	NonPass int
	Passes  int
	// FailingSince is when the current non-pass streak began (zero when
	// NonPass is zero).
	FailingSince time.Time
	// IncidentID is the open incident, 0 when there is none.
	IncidentID int64
	LastRunID  int64
	UpdatedAt  time.Time
	// LastRunHasKeys: the check's latest stored run has violation keys
	// (set by LockCheckState only), so a run without keys after it has no
	// key changes to look up.
	LastRunHasKeys bool
}

// Incident is a span during which a check is not passing.
type Incident struct {
	ID      int64
	CheckID string
	// Since is when the non-pass streak that opened the incident began;
	// OpenedAt is when the streak reached fail_after runs.
	Since    time.Time
	OpenedAt time.Time
	// ResolvedAt is zero while the incident is open.
	ResolvedAt time.Time
	// OpenedStatus is the status of the run that opened it: fail ("data
	// broken") or error ("check broken").
	OpenedStatus    checks.Status
	LastStatus      checks.Status
	LastViolations  int
	WorstViolations int
	OpenedRunID     int64
	LastRunID       int64
	ResolvedRunID   int64
	// AckedBy, AckedAt and AckNote say who is on it (empty/zero when
	// nobody has acknowledged it).
	AckedBy string
	AckedAt time.Time
	AckNote string
	// NotifiedAt is when the latest alert for it (opened, reminder or
	// silence expired) was enqueued; zero when it was never announced.
	NotifiedAt time.Time
}

// Open reports whether the incident has not resolved.
func (i Incident) Open() bool { return i.ResolvedAt.IsZero() }

// Acked reports whether someone acknowledged the incident.
func (i Incident) Acked() bool { return i.AckedBy != "" }

// CheckBroken reports whether the incident was opened by an error run
// (the check could not run) rather than by failing data.
func (i Incident) CheckBroken() bool { return i.OpenedStatus == checks.Error }

// Announced reports whether an alert was ever enqueued for the incident.
func (i Incident) Announced() bool { return !i.NotifiedAt.IsZero() }

const checkStateColumns = "check_id, kind, owner, runbook, tags, status, since, non_pass, passes, failing_since, incident_id, last_run_id, updated_at"

const incidentColumns = "id, check_id, since, opened_at, resolved_at, opened_status, last_status, last_violations, worst_violations, " +
	"opened_run_id, last_run_id, resolved_run_id, acked_by, acked_at, ack_note, notified_at"

func scanCheckState(row scanner) (CheckState, error) { return scanCheckStateAnd(row) }

// scanCheckStateAnd reads the checkStateColumns and then the extra columns
// into extra.
func scanCheckStateAnd(row scanner, extra ...any) (CheckState, error) {
	var (
		c                            CheckState
		tags, status                 string
		since, failingSince, updated sql.NullInt64
		incident, lastRun            sql.NullInt64
		nonPass, passes              int64
	)
	if err := row.Scan(append([]any{&c.CheckID, &c.Kind, &c.Owner, &c.Runbook, &tags, &status, &since, &nonPass, &passes,
		&failingSince, &incident, &lastRun, &updated}, extra...)...); err != nil {
		return CheckState{}, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return CheckState{}, fmt.Errorf("check %s: decode tags: %w", c.CheckID, err)
	}
	c.Status = checks.Status(status)
	c.Since, c.FailingSince, c.UpdatedAt = timeFrom(since), timeFrom(failingSince), timeFrom(updated)
	c.NonPass, c.Passes = int(nonPass), int(passes)
	c.IncidentID, c.LastRunID = incident.Int64, lastRun.Int64
	return c, nil
}

func scanIncident(row scanner) (Incident, error) {
	var (
		i                                                   Incident
		since, opened, resolved, acked, notified            sql.NullInt64
		openedStatus, lastStatus                            string
		lastViolations, worstViolations, openedRun, lastRun int64
		resolvedRun                                         sql.NullInt64
	)
	if err := row.Scan(&i.ID, &i.CheckID, &since, &opened, &resolved, &openedStatus, &lastStatus, &lastViolations, &worstViolations,
		&openedRun, &lastRun, &resolvedRun, &i.AckedBy, &acked, &i.AckNote, &notified); err != nil {
		return Incident{}, err
	}
	i.Since, i.OpenedAt, i.ResolvedAt, i.AckedAt, i.NotifiedAt = timeFrom(since), timeFrom(opened), timeFrom(resolved), timeFrom(acked), timeFrom(notified)
	i.OpenedStatus, i.LastStatus = checks.Status(openedStatus), checks.Status(lastStatus)
	i.LastViolations, i.WorstViolations = int(lastViolations), int(worstViolations)
	i.OpenedRunID, i.LastRunID, i.ResolvedRunID = openedRun, lastRun, resolvedRun.Int64
	return i, nil
}

// nullID stores 0 as NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// times converts times for storage, failing on the first out of range.
func times(ts ...time.Time) ([]sql.NullInt64, error) {
	out := make([]sql.NullInt64, len(ts))
	for i, t := range ts {
		v, err := timeValue(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Queries of LockCheckState (lockStateSQL ends with the dialect's
// forUpdate) and SaveCheckState.
const (
	// A placeholder row gives PostgreSQL something to lock the first time.
	placeholderStateSQL = `INSERT INTO check_state (check_id, kind, owner, runbook, tags, status, non_pass, passes, updated_at)
	VALUES (?, '', '', '', '[]', '', 0, 0, NULL) ON CONFLICT (check_id) DO NOTHING`
	// It also says whether the check's latest run (recorded by any path)
	// has keys.
	lockStateSQL = "SELECT " + checkStateColumns + `, EXISTS (SELECT 1 FROM run_keys WHERE run_id =
		(SELECT MAX(id) FROM runs WHERE runs.check_id = check_state.check_id)) FROM check_state WHERE check_id = ?`
	saveStateSQL = `INSERT INTO check_state (` + checkStateColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (check_id) DO UPDATE SET kind = excluded.kind, owner = excluded.owner, runbook = excluded.runbook,
		tags = excluded.tags, status = excluded.status, since = excluded.since, non_pass = excluded.non_pass,
		passes = excluded.passes, failing_since = excluded.failing_since, incident_id = excluded.incident_id,
		last_run_id = excluded.last_run_id, updated_at = excluded.updated_at`
)

// LockCheckState returns a check's state and keeps other transactions from
// changing it until tx ends (on PostgreSQL a row lock; on SQLite the single
// writer). A check never recorded has the zero state with CheckID set.
func (tx *Tx) LockCheckState(ctx context.Context, checkID string) (CheckState, error) {
	wrap := func(err error) error { return fmt.Errorf("store: lock state of %s: %w", checkID, err) }
	if checkID == "" {
		return CheckState{}, wrap(fmt.Errorf("empty check id: %w", ErrInvalid))
	}
	lock := func() (CheckState, error) {
		var hasKeys bool
		c, err := scanCheckStateAnd(tx.queryRowFixed(ctx, lockStateSQL+tx.s.d.forUpdate, cleanText(checkID)), &hasKeys)
		c.LastRunHasKeys = hasKeys
		return c, err
	}
	// A check recorded before has its row: one statement. The first run
	// inserts a placeholder row to lock.
	c, err := lock()
	if errors.Is(err, sql.ErrNoRows) {
		if _, err = tx.execFixed(ctx, placeholderStateSQL, cleanText(checkID)); err == nil {
			c, err = lock()
		}
	}
	if err != nil {
		return CheckState{}, wrap(err)
	}
	return c, nil
}

// SaveCheckState writes a check's state (see LockCheckState).
func (tx *Tx) SaveCheckState(ctx context.Context, c CheckState) error {
	wrap := func(err error) error { return fmt.Errorf("store: save state of %s: %w", c.CheckID, err) }
	if c.CheckID == "" {
		return wrap(fmt.Errorf("empty check id: %w", ErrInvalid))
	}
	tags := make([]string, len(c.Tags))
	for i, t := range c.Tags {
		tags[i] = cleanText(t)
	}
	tagsJSON, err := encodeJSON(tags)
	if err != nil {
		return wrap(err)
	}
	ts, err := times(c.Since, c.FailingSince, c.UpdatedAt)
	if err != nil {
		return wrap(err)
	}
	_, err = tx.execFixed(ctx, saveStateSQL,
		cleanText(c.CheckID), cleanText(c.Kind), cleanText(c.Owner), cleanText(c.Runbook), tagsJSON, cleanText(string(c.Status)),
		ts[0], c.NonPass, c.Passes, ts[1], nullID(c.IncidentID), nullID(c.LastRunID), ts[2])
	if err != nil {
		return wrap(err)
	}
	return nil
}

// CheckState returns a check's state, or ErrNotFound when no run of it was
// recorded through the engine.
func (s *Store) CheckState(ctx context.Context, checkID string) (CheckState, error) {
	c, err := scanCheckState(s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+checkStateColumns+" FROM check_state WHERE check_id = ? AND status <> ''"), checkID))
	if errors.Is(err, sql.ErrNoRows) {
		return CheckState{}, fmt.Errorf("store: state of %s: %w", checkID, ErrNotFound)
	}
	if err != nil {
		return CheckState{}, fmt.Errorf("store: state of %s: %w", checkID, err)
	}
	return c, nil
}

// CheckStates returns the state of every check with a recorded run, by
// ascending check id.
func (s *Store) CheckStates(ctx context.Context) ([]CheckState, error) {
	out, err := scanAll(scanCheckState)(s.read.QueryContext(ctx, "SELECT "+checkStateColumns+" FROM check_state WHERE status <> '' ORDER BY check_id"))
	if err != nil {
		return nil, fmt.Errorf("store: check states: %w", err)
	}
	return out, nil
}

// OpenIncident inserts a new open incident and returns it with its ID.
// Only ResolvedAt, ResolvedRunID and the ack fields are ignored. It fails
// with ErrConflict when the check already has an open incident.
func (tx *Tx) OpenIncident(ctx context.Context, in Incident) (Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: open incident for %s: %w", in.CheckID, err) }
	if in.CheckID == "" || in.OpenedAt.IsZero() {
		return Incident{}, wrap(fmt.Errorf("check id and opening time are required: %w", ErrInvalid))
	}
	if in.Since.IsZero() {
		in.Since = in.OpenedAt
	}
	var open int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM incidents WHERE check_id = ? AND resolved_at IS NULL", cleanText(in.CheckID)).Scan(&open); err != nil {
		return Incident{}, wrap(err)
	}
	if open > 0 {
		return Incident{}, wrap(fmt.Errorf("the check has an open incident: %w", ErrConflict))
	}
	ts, err := times(in.Since, in.OpenedAt, in.NotifiedAt)
	if err != nil {
		return Incident{}, wrap(err)
	}
	out, err := scanIncident(tx.queryRow(ctx, `INSERT INTO incidents
	(check_id, since, opened_at, opened_status, last_status, last_violations, worst_violations, opened_run_id, last_run_id, notified_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+incidentColumns,
		cleanText(in.CheckID), ts[0], ts[1], cleanText(string(in.OpenedStatus)), cleanText(string(in.LastStatus)),
		in.LastViolations, max(in.WorstViolations, in.LastViolations), in.OpenedRunID, in.LastRunID, ts[2]))
	if err != nil {
		return Incident{}, wrap(err)
	}
	return out, nil
}

// NoteIncidentRun records a run of an open incident's check: its status and
// violation count become the last ones, and the worst count grows to it.
// It returns the incident as updated, ErrNotFound when there is no such
// incident and ErrConflict when it has resolved.
func (tx *Tx) NoteIncidentRun(ctx context.Context, id, runID int64, status checks.Status, violations int) (Incident, error) {
	out, err := tx.updateOpenIncident(ctx, id, `UPDATE incidents SET last_status = ?, last_violations = ?,
	worst_violations = `+tx.s.d.greatest+`(worst_violations, ?), last_run_id = ?
	WHERE id = ? AND resolved_at IS NULL RETURNING `+incidentColumns,
		cleanText(string(status)), violations, violations, runID, id)
	if err != nil {
		return Incident{}, fmt.Errorf("store: note run %d on incident %d: %w", runID, id, err)
	}
	return out, nil
}

// ResolveIncident resolves an open incident at the given time, by the
// given run (which also becomes its last run, with status pass and no
// violations). Errors as NoteIncidentRun.
func (tx *Tx) ResolveIncident(ctx context.Context, id, runID int64, at time.Time) (Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: resolve incident %d: %w", id, err) }
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return Incident{}, wrap(fmt.Errorf("resolution time %v: %w", at, ErrInvalid))
	}
	out, err := tx.updateOpenIncident(ctx, id, `UPDATE incidents SET resolved_at = ?, resolved_run_id = ?, last_run_id = ?,
	last_status = ?, last_violations = 0
	WHERE id = ? AND resolved_at IS NULL RETURNING `+incidentColumns, v, runID, runID, string(checks.Pass), id)
	if err != nil {
		return Incident{}, wrap(err)
	}
	return out, nil
}

// MarkIncidentNotified records that an alert for an open incident was
// enqueued at `at`, provided its NotifiedAt is still prev (zero: never
// notified). It reports false, with no error, when the incident resolved
// or another writer notified first, so two replicas never send the same
// reminder.
func (tx *Tx) MarkIncidentNotified(ctx context.Context, id int64, prev, at time.Time) (bool, error) {
	wrap := func(err error) error { return fmt.Errorf("store: mark incident %d notified: %w", id, err) }
	ts, err := times(prev, at)
	if err != nil || !ts[1].Valid {
		return false, wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	res, err := tx.exec(ctx, "UPDATE incidents SET notified_at = ? WHERE id = ? AND resolved_at IS NULL AND COALESCE(notified_at, 0) = ?",
		ts[1], id, ts[0].Int64)
	if err != nil {
		return false, wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(err)
	}
	return n == 1, nil
}

// updateOpenIncident runs an UPDATE ... RETURNING on an open incident,
// telling a missing incident (ErrNotFound) from a resolved one
// (ErrConflict).
func (tx *Tx) updateOpenIncident(ctx context.Context, id int64, q string, args ...any) (Incident, error) {
	return updateRow(ctx, tx, "incidents", id, scanIncident, fmt.Sprintf("incident %d has resolved", id), q, args...)
}

// updateRow runs q, an UPDATE ... RETURNING of row id of table, and scans
// the row with scan. When q changed no row it tells a missing row
// (ErrNotFound) from one q's conditions left alone (ErrConflict, with
// conflict as the message).
func updateRow[T any](ctx context.Context, tx *Tx, table string, id int64, scan func(scanner) (T, error), conflict, q string, args ...any) (T, error) {
	var zero T
	out, err := scan(tx.queryRow(ctx, q, args...))
	if !errors.Is(err, sql.ErrNoRows) {
		return out, err
	}
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE id = ?", id).Scan(&n); err != nil {
		return zero, err
	}
	if n == 0 {
		return zero, ErrNotFound
	}
	return zero, fmt.Errorf("%s: %w", conflict, ErrConflict)
}

// Incident returns an incident by id, or ErrNotFound.
func (s *Store) Incident(ctx context.Context, id int64) (Incident, error) {
	i, err := scanIncident(s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+incidentColumns+" FROM incidents WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("store: incident %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Incident{}, fmt.Errorf("store: incident %d: %w", id, err)
	}
	return i, nil
}

// IncidentQuery selects incidents for Incidents. The zero value is the
// newest DefaultLimit incidents of every check.
type IncidentQuery struct {
	CheckID  string // only this check's, when set
	OpenOnly bool   // only unresolved incidents
	// ResolvedOnly selects only resolved incidents (with OpenOnly, none).
	ResolvedOnly bool
	Before       int64 // only ids below it, when > 0 (the next page)
	Limit        int   // DefaultLimit when <= 0, never more than MaxLimit
}

// Incidents returns the incidents q selects, newest first.
func (s *Store) Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error) {
	query, args := "SELECT "+incidentColumns+" FROM incidents WHERE 1 = 1", []any{}
	if q.CheckID != "" {
		query, args = query+" AND check_id = ?", append(args, q.CheckID)
	}
	if q.OpenOnly {
		query += " AND resolved_at IS NULL"
	}
	if q.ResolvedOnly {
		query += " AND resolved_at IS NOT NULL"
	}
	if q.Before > 0 {
		query, args = query+" AND id < ?", append(args, q.Before)
	}
	query, args = query+" ORDER BY id DESC LIMIT ?", append(args, pageSize(q.Limit))
	out, err := scanAll(scanIncident)(s.read.QueryContext(ctx, s.d.rebind(query), args...))
	if err != nil {
		return nil, fmt.Errorf("store: incidents: %w", err)
	}
	return out, nil
}

// AckIncident records that who is on an open incident, at the given time
// with an optional note; a later ack replaces an earlier one. It returns
// the incident as updated, ErrInvalid without who, ErrNotFound for an
// unknown incident and ErrConflict for a resolved one.
func (s *Store) AckIncident(ctx context.Context, id int64, who, note string, at time.Time) (Incident, error) {
	wrap := func(err error) error { return fmt.Errorf("store: ack incident %d: %w", id, err) }
	if who == "" {
		return Incident{}, wrap(fmt.Errorf("who is required: %w", ErrInvalid))
	}
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return Incident{}, wrap(fmt.Errorf("time %v: %w", at, ErrInvalid))
	}
	var out Incident
	err = s.WithTx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.updateOpenIncident(ctx, id, "UPDATE incidents SET acked_by = ?, acked_at = ?, ack_note = ? WHERE id = ? AND resolved_at IS NULL RETURNING "+incidentColumns,
			cleanText(who), v, cleanText(note), id)
		return err
	})
	if err != nil {
		return Incident{}, wrap(err)
	}
	return out, nil
}
