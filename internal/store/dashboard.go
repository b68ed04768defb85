package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The dashboard's reads of history: a check's runs summed over time for
// its chart, and the records an incident's timeline is made of.

// HistoryBucket sums the runs of one check that started in one interval:
// the runs themselves and, where retention has rolled them up, their
// hourly rollups.
type HistoryBucket struct {
	Start                   time.Time // the interval's start, UTC
	Pass, Warn, Fail, Error int       // runs by status (Error: error and any other status)
	// MinViolations and MaxViolations bound the runs' violation counts
	// (MinViolations is MaxViolations for hours rolled up before vigil kept
	// the smallest).
	MinViolations, MaxViolations int
	// MaxMeasure is the largest of the runs' own measures
	// (checks.MetricMeasure); Measured is false when none had one.
	MaxMeasure float64
	Measured   bool
	// Duration is the runs' total duration.
	Duration time.Duration
}

// Runs is the number of runs the bucket counts.
func (b HistoryBucket) Runs() int { return b.Pass + b.Warn + b.Fail + b.Error }

// MaxHistoryBuckets bounds the intervals one History read may ask for.
const MaxHistoryBuckets = 2000

const historyRunsSQL = `SELECT (started_at - ?) / ? AS b,
	SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END),
	SUM(CASE WHEN status = 'warn' THEN 1 ELSE 0 END),
	SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END),
	SUM(CASE WHEN status IN ('pass', 'warn', 'fail') THEN 0 ELSE 1 END),
	MIN(violations), MAX(violations), MAX(measure), SUM(duration_ns)
FROM runs WHERE check_id = ? AND started_at >= ? AND started_at < ?
GROUP BY b`

const historyRollupsSQL = `SELECT (hour - ?) / ? AS b,
	SUM(pass_runs), SUM(warn_runs), SUM(fail_runs), SUM(error_runs),
	MIN(COALESCE(min_violations, max_violations)), MAX(max_violations), MAX(max_measure), SUM(duration_ns)
FROM run_rollups WHERE check_id = ? AND hour >= ? AND hour < ?
GROUP BY b`

// History returns a check's runs that started in [from, to), summed per
// interval of length step starting at from, oldest first; intervals
// without a run are left out. Rolled-up hours count in the interval their
// hour starts in (so with a step under an hour, in its first interval). It
// reads one row per interval from the runs and one per interval from the
// rollups, whatever the number of runs. ErrInvalid when step is not
// positive, to is not after from, or the range holds more than
// MaxHistoryBuckets intervals.
func (s *Store) History(ctx context.Context, checkID string, from, to time.Time, step time.Duration) ([]HistoryBucket, error) {
	wrap := func(err error) error { return fmt.Errorf("store: history of %s: %w", checkID, err) }
	if step <= 0 || !to.After(from) || to.Sub(from)/step >= MaxHistoryBuckets {
		return nil, wrap(fmt.Errorf("range %s to %s by %s: %w", from, to, step, ErrInvalid))
	}
	ts, err := times(from, to)
	if err != nil {
		return nil, wrap(fmt.Errorf("%w: %w", err, ErrInvalid))
	}
	n := int((to.Sub(from) + step - 1) / step)
	buckets := make([]HistoryBucket, n)
	seen := make([]bool, n)
	for _, q := range []string{historyRunsSQL, historyRollupsSQL} {
		if err := s.addHistory(ctx, q, buckets, seen, checkID, ts[0].Int64, int64(step), ts[1].Int64); err != nil {
			return nil, wrap(err)
		}
	}
	out := make([]HistoryBucket, 0, n)
	for i, b := range buckets {
		if seen[i] {
			b.Start = from.Add(time.Duration(i) * step).UTC()
			out = append(out, b)
		}
	}
	return out, nil
}

// addHistory adds the rows of a history query to their buckets.
func (s *Store) addHistory(ctx context.Context, q string, buckets []HistoryBucket, seen []bool, checkID string, from, step, to int64) error {
	rows, err := s.read.QueryContext(ctx, s.d.rebind(q), from, step, checkID, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i                                  int64
			pass, warn, fail, errs, minV, maxV int64
			measure                            sql.NullFloat64
			duration                           int64
		)
		if err := rows.Scan(&i, &pass, &warn, &fail, &errs, &minV, &maxV, &measure, &duration); err != nil {
			return err
		}
		if i < 0 || i >= int64(len(buckets)) {
			continue
		}
		b := &buckets[i]
		if !seen[i] || int(minV) < b.MinViolations {
			b.MinViolations = int(minV)
		}
		seen[i] = true
		b.Pass, b.Warn, b.Fail, b.Error = b.Pass+int(pass), b.Warn+int(warn), b.Fail+int(fail), b.Error+int(errs)
		b.MaxViolations = max(b.MaxViolations, int(maxV))
		if measure.Valid && (!b.Measured || measure.Float64 > b.MaxMeasure) {
			b.MaxMeasure, b.Measured = measure.Float64, true
		}
		b.Duration += time.Duration(duration)
	}
	return rows.Err()
}

// SilencesBetween returns the silences that could have been in force at
// some time in [from, to): set to start before to, and neither ended
// early nor expired by from. Oldest first.
func (s *Store) SilencesBetween(ctx context.Context, from, to time.Time) ([]Silence, error) {
	ts, err := times(from, to)
	if err != nil {
		return nil, fmt.Errorf("store: silences between: %w: %w", err, ErrInvalid)
	}
	out, err := querySilences(ctx, s.read, s.d, "SELECT "+silenceColumns+` FROM silences
	WHERE COALESCE(starts_at, created_at) < ? AND until_at > ? AND (expired_at IS NULL OR expired_at > ?) ORDER BY id`,
		ts[1].Int64, ts[0].Int64, ts[0].Int64)
	if err != nil {
		return nil, fmt.Errorf("store: silences between: %w", err)
	}
	return out, nil
}

// AuditEntries returns the audit entries of one action on one target,
// oldest first, at most MaxLimit of them.
func (s *Store) AuditEntries(ctx context.Context, action, target string) ([]AuditEntry, error) {
	out, err := scanAll(scanAudit)(s.read.QueryContext(ctx, s.d.rebind("SELECT "+auditColumns+` FROM audit_log
	WHERE action = ? AND target = ? ORDER BY id LIMIT ?`), action, target, MaxLimit))
	if err != nil {
		return nil, fmt.Errorf("store: audit entries: %w", err)
	}
	return out, nil
}

// IncidentAlerts returns the alerts enqueued for an incident (opened,
// reminders, silence expired, resolved), oldest first. Delivered alerts
// older than the raw retention are pruned, so an old incident may show
// fewer.
func (s *Store) IncidentAlerts(ctx context.Context, incidentID int64) ([]OutboxMessage, error) {
	out, err := scanAll(scanOutbox)(s.read.QueryContext(ctx, s.d.rebind("SELECT "+outboxColumns+" FROM outbox WHERE incident_id = ? ORDER BY id"), incidentID))
	if err != nil {
		return nil, fmt.Errorf("store: alerts of incident %d: %w", incidentID, err)
	}
	return out, nil
}
