package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Rollup sums one check's runs over one hour, kept after retention removed
// the runs themselves.
type Rollup struct {
	CheckID string
	Hour    time.Time // the hour's start, UTC
	Pass    int
	Warn    int
	Fail    int
	Error   int // error runs, and runs with any other status
	// MaxViolations is the largest violation count of the hour's runs.
	MaxViolations int
	// Duration is the total duration of the hour's runs.
	Duration time.Duration
}

// Runs is the number of runs the rollup counts.
func (r Rollup) Runs() int { return r.Pass + r.Warn + r.Fail + r.Error }

// PruneStats counts what Prune did.
type PruneStats struct {
	Runs    int64 // runs deleted (each one first counted in a rollup)
	Keys    int64 // violation keys deleted with them
	Rollups int64 // rollup rows written (created or added to)
	Outbox  int64 // delivered outbox messages deleted
}

// pruneBatch bounds the runs one Prune transaction removes, so the SQLite
// writer is never held for long.
const pruneBatch = 500

const hourNS = int64(time.Hour)

// Prune applies retention: every run that started before now-raw is added
// to its check's rollup for the hour it started in (runs by status, the
// largest violation count, total duration) and deleted with its keys, in
// batches of one transaction each, so a run is never lost from both. Each
// check's latest run is kept whatever its age, and so are runs without a
// start time. Delivered outbox messages older than now-raw are deleted too.
// Incidents and silences are history and are kept. raw must be positive
// (ErrInvalid).
func (s *Store) Prune(ctx context.Context, now time.Time, raw time.Duration) (PruneStats, error) {
	var st PruneStats
	wrap := func(err error) error { return fmt.Errorf("store: prune: %w", err) }
	if raw <= 0 {
		return st, wrap(fmt.Errorf("raw retention %s is not positive: %w", raw, ErrInvalid))
	}
	cutoff, err := timeValue(now.Add(-raw))
	if err != nil || !cutoff.Valid {
		return st, wrap(fmt.Errorf("cutoff %v: %w", now.Add(-raw), ErrInvalid))
	}
	// The latest runs when Prune starts; a later run only makes one of these
	// older, so keeping them all is safe.
	latest := map[int64]bool{}
	rows, err := s.read.QueryContext(ctx, "SELECT MAX(id) FROM runs GROUP BY check_id")
	if err != nil {
		return st, wrap(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return st, wrap(err)
		}
		latest[id] = true
	}
	if err := rows.Close(); err != nil {
		return st, wrap(err)
	}
	if err := rows.Err(); err != nil {
		return st, wrap(err)
	}

	var cursor int64
	for {
		var done bool
		err := s.WithTx(ctx, func(tx *Tx) error {
			ids, last, more, err := tx.pruneCandidates(ctx, cursor, cutoff.Int64, latest)
			if err != nil {
				return err
			}
			cursor, done = last, !more
			if len(ids) == 0 {
				return nil
			}
			return tx.rollUp(ctx, ids, &st)
		})
		if err != nil {
			return st, wrap(err)
		}
		if done {
			break
		}
	}

	err = s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", cutoff.Int64)
		if err != nil {
			return fmt.Errorf("delete delivered alerts: %w", err)
		}
		st.Outbox, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return st, wrap(err)
	}
	return st, nil
}

// pruneCandidates reads the next batch of runs after cursor that started
// before cutoff, less the protected latest ones. It returns their ids, the
// new cursor, and whether more runs may follow.
func (tx *Tx) pruneCandidates(ctx context.Context, cursor, cutoff int64, latest map[int64]bool) (ids []int64, last int64, more bool, err error) {
	rows, err := tx.query(ctx, "SELECT id FROM runs WHERE id > ? AND started_at < ? ORDER BY id LIMIT ?", cursor, cutoff, pruneBatch)
	if err != nil {
		return nil, 0, false, fmt.Errorf("select old runs: %w", err)
	}
	defer rows.Close()
	last, n := cursor, 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, 0, false, fmt.Errorf("select old runs: %w", err)
		}
		n, last = n+1, id
		if !latest[id] {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("select old runs: %w", err)
	}
	return ids, last, n == pruneBatch, nil
}

// rollUp adds the runs to their rollups and deletes them and their keys.
func (tx *Tx) rollUp(ctx context.Context, ids []int64, st *PruneStats) error {
	in := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")"
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	hour := fmt.Sprintf("(started_at / %d) * %d", hourNS, hourNS)
	g := tx.s.d.greatest
	l := tx.s.d.least
	// GREATEST and LEAST skip NULLs on PostgreSQL, SQLite's MAX and MIN
	// return NULL: COALESCE keeps the known side on both.
	res, err := tx.exec(ctx, `INSERT INTO run_rollups (check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns,
		min_violations, max_measure)
	SELECT check_id, `+hour+`,
		SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END),
		SUM(CASE WHEN status = 'warn' THEN 1 ELSE 0 END),
		SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END),
		SUM(CASE WHEN status IN ('pass', 'warn', 'fail') THEN 0 ELSE 1 END),
		MAX(violations), SUM(duration_ns), MIN(violations), MAX(measure)
	FROM runs WHERE id IN `+in+` GROUP BY check_id, `+hour+`
	ON CONFLICT (check_id, hour) DO UPDATE SET
		pass_runs = run_rollups.pass_runs + excluded.pass_runs,
		warn_runs = run_rollups.warn_runs + excluded.warn_runs,
		fail_runs = run_rollups.fail_runs + excluded.fail_runs,
		error_runs = run_rollups.error_runs + excluded.error_runs,
		max_violations = `+g+`(run_rollups.max_violations, excluded.max_violations),
		duration_ns = run_rollups.duration_ns + excluded.duration_ns,
		min_violations = `+l+`(COALESCE(run_rollups.min_violations, excluded.min_violations), excluded.min_violations),
		max_measure = `+g+`(COALESCE(run_rollups.max_measure, excluded.max_measure), COALESCE(excluded.max_measure, run_rollups.max_measure))`, args...)
	if err != nil {
		return fmt.Errorf("roll up runs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("roll up runs: %w", err)
	}
	st.Rollups += n
	if res, err = tx.exec(ctx, "DELETE FROM run_keys WHERE run_id IN "+in, args...); err != nil {
		return fmt.Errorf("delete keys: %w", err)
	}
	if n, err = res.RowsAffected(); err != nil {
		return fmt.Errorf("delete keys: %w", err)
	}
	st.Keys += n
	if res, err = tx.exec(ctx, "DELETE FROM runs WHERE id IN "+in, args...); err != nil {
		return fmt.Errorf("delete runs: %w", err)
	}
	if n, err = res.RowsAffected(); err != nil {
		return fmt.Errorf("delete runs: %w", err)
	}
	st.Runs += n
	return nil
}

// Rollups returns a check's hourly rollups for hours starting in
// [from, to), oldest first. A zero from or to is unbounded.
func (s *Store) Rollups(ctx context.Context, checkID string, from, to time.Time) ([]Rollup, error) {
	wrap := func(err error) error { return fmt.Errorf("store: rollups of %s: %w", checkID, err) }
	q, args := "SELECT check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns FROM run_rollups WHERE check_id = ?", []any{checkID}
	for _, b := range []struct {
		t  time.Time
		op string
	}{{from, ">="}, {to, "<"}} {
		if b.t.IsZero() {
			continue
		}
		v, err := timeValue(b.t)
		if err != nil {
			return nil, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
		}
		q, args = q+" AND hour "+b.op+" ?", append(args, v.Int64)
	}
	rows, err := s.read.QueryContext(ctx, s.d.rebind(q+" ORDER BY hour"), args...)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	out := []Rollup{}
	for rows.Next() {
		var (
			r                                   Rollup
			hour                                sql.NullInt64
			pass, warn, fail, errs, maxV, durNS int64
		)
		if err := rows.Scan(&r.CheckID, &hour, &pass, &warn, &fail, &errs, &maxV, &durNS); err != nil {
			return nil, wrap(err)
		}
		r.Hour = timeFrom(hour)
		r.Pass, r.Warn, r.Fail, r.Error, r.MaxViolations, r.Duration = int(pass), int(warn), int(fail), int(errs), int(maxV), time.Duration(durNS)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}
