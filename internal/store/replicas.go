package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Replica is one vigil process scheduling checks on the store: its
// heartbeat and its scheduler's figures at that heartbeat.
type Replica struct {
	ID        string
	StartedAt time.Time // when the process started scheduling (UTC)
	SeenAt    time.Time // its latest heartbeat (UTC; set by Heartbeat)
	// RunsLastMinute is how many runs it started in the minute before
	// SeenAt.
	RunsLastMinute int64
	// Lag is how late its scheduler's ticks were at SeenAt.
	Lag time.Duration
}

// Heartbeat records that replica r.ID is alive now (the store's clock)
// with its figures, and returns every replica seen since seenAfter (r
// included), by id.
func (s *Store) Heartbeat(ctx context.Context, r Replica, seenAfter time.Time) ([]Replica, error) {
	wrap := func(err error) error { return fmt.Errorf("store: heartbeat %s: %w", r.ID, err) }
	if r.ID == "" {
		return nil, wrap(fmt.Errorf("%w: empty replica id", ErrInvalid))
	}
	now, err := timeValue(s.now())
	if err != nil {
		return nil, wrap(err)
	}
	started, err := timeValue(r.StartedAt)
	if err != nil || !started.Valid {
		return nil, wrap(fmt.Errorf("%w: started_at %v", ErrInvalid, r.StartedAt))
	}
	_, err = s.write.ExecContext(ctx, s.d.rebind(`INSERT INTO replicas (id, started_at, seen_at, runs_minute, lag_ns) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at,
			runs_minute = excluded.runs_minute, lag_ns = excluded.lag_ns`),
		cleanText(r.ID), started, now, r.RunsLastMinute, int64(r.Lag))
	if err != nil {
		return nil, wrap(err)
	}
	live, err := s.ReplicasSeen(ctx, seenAfter)
	if err != nil {
		return nil, wrap(err)
	}
	return live, nil
}

// ReplicasSeen returns the replicas seen since seenAfter (all of them when it
// is zero), by id.
func (s *Store) ReplicasSeen(ctx context.Context, seenAfter time.Time) ([]Replica, error) {
	after := int64(-1 << 63)
	if !seenAfter.IsZero() {
		v, err := timeValue(seenAfter)
		if err != nil {
			return nil, fmt.Errorf("store: replicas: %w", err)
		}
		after = v.Int64
	}
	out, err := scanAll(scanReplica)(s.read.QueryContext(ctx, s.d.rebind(
		"SELECT id, started_at, seen_at, runs_minute, lag_ns FROM replicas WHERE seen_at > ? ORDER BY id"), after))
	if err != nil {
		return nil, fmt.Errorf("store: replicas: %w", err)
	}
	return out, nil
}

func scanReplica(row scanner) (Replica, error) {
	var r Replica
	var started, seen, lag int64
	if err := row.Scan(&r.ID, &started, &seen, &r.RunsLastMinute, &lag); err != nil {
		return Replica{}, err
	}
	r.StartedAt, r.SeenAt, r.Lag = time.Unix(0, started).UTC(), time.Unix(0, seen).UTC(), time.Duration(lag)
	return r, nil
}

// RemoveReplica deletes a replica's heartbeat (a replica that stops
// gracefully), so the others take its checks over at once.
func (s *Store) RemoveReplica(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM replicas WHERE id = ?"), id); err != nil {
		return fmt.Errorf("store: remove replica %s: %w", id, err)
	}
	return nil
}

// PruneReplicas deletes the heartbeats of replicas not seen since before.
func (s *Store) PruneReplicas(ctx context.Context, before time.Time) (int64, error) {
	at, err := timeValue(before)
	if err != nil {
		return 0, fmt.Errorf("store: prune replicas: %w", err)
	}
	res, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM replicas WHERE seen_at < ?"), at)
	if err != nil {
		return 0, fmt.Errorf("store: prune replicas: %w", err)
	}
	return res.RowsAffected()
}

// TickRef names one tick of one check.
type TickRef struct {
	CheckID   string
	Scheduled time.Time
}

// ErrNoReplicas is returned by the claims of several ticks at once on a
// store that one process owns (SQLite).
var ErrNoReplicas = errors.New("store: this store has a single replica")

// claimOpenSQL claims, of the ticks given as two arrays, at most a limit of
// those no replica has claimed (oldest first), and returns each of the
// given ticks that it claimed (true) or that is still unclaimed (false):
// the rest were claimed by other replicas. It reads tick_claims once per
// tick through its key.
const claimOpenSQL = `WITH c AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS c(check_id, scheduled_at)),
open AS (SELECT c.check_id, c.scheduled_at FROM c
	WHERE NOT EXISTS (SELECT 1 FROM tick_claims t WHERE t.scheduled_at = c.scheduled_at AND t.check_id = c.check_id)),
won AS (INSERT INTO tick_claims (scheduled_at, check_id, holder)
	SELECT o.scheduled_at, o.check_id, $3 FROM (SELECT * FROM open ORDER BY scheduled_at LIMIT $4) o
	ON CONFLICT DO NOTHING RETURNING check_id, scheduled_at)
SELECT check_id, scheduled_at, TRUE FROM won
UNION ALL
SELECT o.check_id, o.scheduled_at, FALSE FROM open o
	WHERE NOT EXISTS (SELECT 1 FROM won w WHERE w.scheduled_at = o.scheduled_at AND w.check_id = o.check_id)`

// claimTicksSQL claims the ticks given as two arrays for a holder and
// returns those it claimed.
const claimTicksSQL = `INSERT INTO tick_claims (scheduled_at, check_id, holder)
	SELECT c.scheduled_at, c.check_id, $3 FROM unnest($1::text[], $2::bigint[]) AS c(check_id, scheduled_at)
	ON CONFLICT DO NOTHING RETURNING check_id, scheduled_at`

// ClaimTicks claims ticks for holder in one statement (one commit for
// many claims) and reports for each whether holder now holds it: false
// when another replica claimed it first. It is for replicas sharing a
// PostgreSQL store (ErrNoReplicas on SQLite).
func (s *Store) ClaimTicks(ctx context.Context, holder string, ticks []TickRef) ([]bool, error) {
	if !s.d.replicas {
		return nil, fmt.Errorf("store: claim ticks: %w", ErrNoReplicas)
	}
	ids, ats, err := tickArrays(ticks)
	if err != nil {
		return nil, err
	}
	index := make(map[tickKey]int, len(ticks))
	for i := range ticks {
		index[tickKey{ids[i], ats[i]}] = i
	}
	won := make([]bool, len(ticks))
	err = scanTicks(s.write.QueryContext(ctx, claimTicksSQL, ids, ats, holder))(func(id string, at int64, _ bool) {
		if i, ok := index[tickKey{id, at}]; ok {
			won[i] = true
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim ticks: %w", err)
	}
	return won, nil
}

type tickKey struct {
	id string
	at int64
}

// tickArrays returns the ticks' check ids (cleaned as stored) and times.
func tickArrays(ticks []TickRef) ([]string, []int64, error) {
	ids := make([]string, len(ticks))
	ats := make([]int64, len(ticks))
	for i, t := range ticks {
		v, err := timeValue(t.Scheduled)
		if err != nil || !v.Valid {
			return nil, nil, fmt.Errorf("store: claim ticks: %s tick %v out of range", t.CheckID, t.Scheduled)
		}
		ids[i], ats[i] = cleanText(t.CheckID), v.Int64
	}
	return ids, ats, nil
}

// scanTicks calls fn for each (check_id, scheduled_at[, flag]) row of a
// claim statement and closes the rows.
func scanTicks(rows *sql.Rows, err error) func(fn func(id string, at int64, flag bool)) error {
	return func(fn func(string, int64, bool)) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var at int64
			var flag bool
			dest := []any{&id, &at, &flag}[:len(cols)]
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			fn(id, at, flag)
		}
		return rows.Err()
	}
}

// ClaimOpenTicks claims for holder at most limit of ticks that no replica
// has claimed yet, oldest first, in one statement. It returns the ticks it
// claimed and those that are still unclaimed (beyond limit); every other
// tick was claimed by some replica. It is for replicas sharing a
// PostgreSQL store (ErrNoReplicas on SQLite).
func (s *Store) ClaimOpenTicks(ctx context.Context, holder string, ticks []TickRef, limit int) (won, open []TickRef, err error) {
	if !s.d.replicas {
		return nil, nil, fmt.Errorf("store: claim ticks: %w", ErrNoReplicas)
	}
	if len(ticks) == 0 {
		return nil, nil, nil
	}
	ids, ats, err := tickArrays(ticks)
	if err != nil {
		return nil, nil, err
	}
	err = scanTicks(s.write.QueryContext(ctx, claimOpenSQL, ids, ats, holder, max(limit, 0)))(func(id string, at int64, claimed bool) {
		t := TickRef{CheckID: id, Scheduled: time.Unix(0, at)}
		if claimed {
			won = append(won, t)
		} else {
			open = append(open, t)
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: claim open ticks: %w", err)
	}
	return won, open, nil
}
