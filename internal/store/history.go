package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/checks"
)

// RecentKept is how many statuses CheckHistory.Recent holds at most.
const RecentKept = 50

// RunBrief is a run without its sample, keys or metrics.
type RunBrief struct {
	ID         int64
	Status     checks.Status
	Violations int
	StartedAt  time.Time // UTC; zero when the result had none
	Duration   time.Duration
}

// CheckHistory is a check's newest run and the statuses of its recent
// runs, as the dashboard's overview shows them.
type CheckHistory struct {
	CheckID string
	Last    RunBrief
	// Recent are the statuses of the check's newest runs, newest first
	// (Recent[0] is Last.Status), as many as asked for, at most RecentKept. A status other than
	// pass, warn, fail or error reads as "unknown".
	Recent []checks.Status
	// Since is when the check's current status began, as the engine keeps
	// it (CheckState.Since); zero for a check never recorded through the
	// engine.
	Since time.Time
}

// statusOfLetter reads a letter of check_recent.statuses (see
// migrations/0008_check_recent.*.sql).
func statusOfLetter(c byte) checks.Status {
	switch c {
	case 'p':
		return checks.Pass
	case 'w':
		return checks.Warn
	case 'f':
		return checks.Fail
	case 'e':
		return checks.Error
	}
	return "unknown"
}

const recentHistorySQL = `SELECT r.check_id, r.last_run_id, r.last_status, r.last_violations, r.last_started_at, r.last_duration_ns, r.statuses, s.since
FROM check_recent r LEFT JOIN check_state s ON s.check_id = r.check_id AND s.status <> ''`

// RecentHistory returns the history of every check that has recorded a
// run, by check id, with the statuses of its newest n runs (RecentKept
// when n <= 0 or above). It reads one row per check, kept up to date as runs
// are recorded, so its cost does not grow with the number of stored runs.
// It describes every run ever recorded: runs removed by retention still
// count in Recent, and Last may name a run that no longer exists.
func (s *Store) RecentHistory(ctx context.Context, n int) (map[string]CheckHistory, error) {
	if n <= 0 || n > RecentKept {
		n = RecentKept
	}
	rows, err := s.read.QueryContext(ctx, recentHistorySQL)
	if err != nil {
		return nil, fmt.Errorf("store: recent history: %w", err)
	}
	defer rows.Close()
	out := map[string]CheckHistory{}
	for rows.Next() {
		var (
			h                    CheckHistory
			status, letters      string
			violations, duration int64
			started, since       sql.NullInt64
		)
		if err := rows.Scan(&h.CheckID, &h.Last.ID, &status, &violations, &started, &duration, &letters, &since); err != nil {
			return nil, fmt.Errorf("store: recent history: %w", err)
		}
		h.Last.Status, h.Last.Violations, h.Last.StartedAt, h.Last.Duration = checks.Status(status), int(violations), timeFrom(started), time.Duration(duration)
		h.Since = timeFrom(since)
		h.Recent = make([]checks.Status, min(len(letters), n))
		for i := range h.Recent {
			h.Recent[i] = statusOfLetter(letters[i])
		}
		out[h.CheckID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recent history: %w", err)
	}
	return out, nil
}
