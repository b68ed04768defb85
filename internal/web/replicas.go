package web

import (
	"context"
	"errors"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
)

// replicasShown is how long a replica that stopped is still listed (as
// gone) on /readyz and the overview.
const replicasShown = 10 * time.Minute

// replicaRow is one replica scheduling checks on a PostgreSQL store, as
// /readyz and the overview show it.
type replicaRow struct {
	ID             string    `json:"id"`
	LastSeen       time.Time `json:"last_seen"`
	RunsLastMinute int64     `json:"runs_last_minute"`
	LagSeconds     float64   `json:"lag_seconds"`
	// Alive: seen within one lease TTL (the others take over the checks
	// of a replica that is not).
	Alive bool `json:"alive"`
	// Leader holds the lease: it delivers Slack alerts and runs retention.
	Leader bool `json:"leader"`
	Seen   when `json:"-"`
}

// replicaRows lists the replicas seen in the last replicasShown, by id;
// none on a SQLite store (one process).
func (s *Server) replicaRows(ctx context.Context, vc viewClock) ([]replicaRow, error) {
	if !s.store.Replicas() {
		return nil, nil
	}
	ttl := config.DefaultLeaseTTL
	if s.cfg != nil && s.cfg.Scheduler.LeaseTTL > 0 {
		ttl = s.cfg.Scheduler.LeaseTTL
	}
	now := vc.now
	rs, err := s.store.ReplicasSeen(ctx, now.Add(-replicasShown))
	if err != nil {
		return nil, err
	}
	holder, until, err := s.store.LeaseHolder(ctx, scheduler.LeaseName)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	rows := make([]replicaRow, len(rs))
	for i, r := range rs {
		rows[i] = replicaRow{
			ID: r.ID, LastSeen: r.SeenAt, RunsLastMinute: r.RunsLastMinute, LagSeconds: r.Lag.Seconds(),
			Alive: now.Sub(r.SeenAt) < ttl, Leader: r.ID == holder && now.Before(until), Seen: vc.at(r.SeenAt),
		}
	}
	return rows, nil
}
