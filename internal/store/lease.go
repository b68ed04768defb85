package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLease takes or renews the lease name for holder until now+ttl. It
// succeeds when the lease is free, expired, or already held by holder, and
// reports whether holder now holds it. Replicas sharing a PostgreSQL store
// call it periodically; exactly one of them holds the lease at a time.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return false, fmt.Errorf("store: acquire lease: name, holder and a positive ttl are required")
	}
	now := s.now()
	nowNS, err := timeValue(now)
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	expires, err := timeValue(now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	rows, err := s.write.QueryContext(ctx, s.d.rebind(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
		RETURNING holder`), name, holder, expires, nowNS)
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	defer rows.Close()
	got := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	return got, nil
}

// ReleaseLease gives the lease up if holder holds it, so another replica
// can take over at once (on a graceful shutdown).
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM leases WHERE name = ? AND holder = ?"), name, holder); err != nil {
		return fmt.Errorf("store: release lease %s: %w", name, err)
	}
	return nil
}

// LeaseHolder returns who holds the lease and until when; ErrNotFound when
// nobody ever took it.
func (s *Store) LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, err error) {
	var exp int64
	err = s.read.QueryRowContext(ctx, s.d.rebind("SELECT holder, expires_at FROM leases WHERE name = ?"), name).Scan(&holder, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, fmt.Errorf("store: lease %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: lease %s: %w", name, err)
	}
	return holder, time.Unix(0, exp).UTC(), nil
}

// PruneTickClaims deletes claims for ticks scheduled before before (a
// range of the claims' key).
func (s *Store) PruneTickClaims(ctx context.Context, before time.Time) (int64, error) {
	at, err := timeValue(before)
	if err != nil {
		return 0, fmt.Errorf("store: prune tick claims: %w", err)
	}
	res, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM tick_claims WHERE scheduled_at < ?"), at)
	if err != nil {
		return 0, fmt.Errorf("store: prune tick claims: %w", err)
	}
	return res.RowsAffected()
}
