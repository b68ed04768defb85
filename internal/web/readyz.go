package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/scheduler"
)

// maxReadyLag is how late the scheduler's ticks may be while vigil is
// still ready.
const maxReadyLag = 60 * time.Second

// Lease is what /readyz needs of *scheduler.Lease.
type Lease interface {
	State() scheduler.LeaseState
}

// readyz answers GET /readyz without authentication: 200 with
// {"store": "ok", "scheduler": "running", "leader": b, "lag_seconds": n}
// when the store answers within 2 s, the scheduler is scheduling with
// ticks less than 60 s late and its lease renewals reach the store (leader
// or standby); otherwise 503 with what is wrong: store "unreachable";
// scheduler "stopped" (none, not started, or stopping), "lease lost since
// <RFC 3339 time>" (renewals fail; "lease unavailable since" when this
// replica was not the leader) or "lagging".
// On a PostgreSQL store it also lists "replicas": every replica seen in the
// last 10 minutes with its id, last_seen, runs_last_minute, lag_seconds,
// alive and leader (the lease holder).
func (s *Server) readyz(c *fiber.Ctx) error {
	ready := true
	storeState := "ok"
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.ReadDB().PingContext(ctx); err != nil {
		storeState, ready = "unreachable", false
	}
	schedState, lag, leader := "stopped", 0.0, s.lease == nil
	if s.sched != nil {
		st := s.sched.Stats()
		var lease scheduler.LeaseState
		if s.lease != nil {
			lease = s.lease.State()
			leader = lease.Leader
		}
		lag = st.Lag.Seconds()
		switch {
		case !st.Scheduling:
		case !lease.FailingSince.IsZero() && lease.WasLeader:
			schedState = "lease lost since " + lease.FailingSince.UTC().Format(time.RFC3339)
		case !lease.FailingSince.IsZero():
			schedState = "lease unavailable since " + lease.FailingSince.UTC().Format(time.RFC3339)
		case st.Lag >= maxReadyLag:
			schedState = "lagging"
		default:
			schedState = "running"
		}
	}
	if schedState != "running" {
		ready = false
	}
	if !ready {
		c.Status(fiber.StatusServiceUnavailable)
	}
	body := fiber.Map{"store": storeState, "scheduler": schedState, "leader": leader, "lag_seconds": lag}
	if s.store.Replicas() && storeState == "ok" {
		// Every replica sharing the store, for a look at the spread; a
		// store that fails here leaves the list out (the store answered).
		if rows, err := s.replicaRows(ctx, viewClock{now: s.now(), loc: time.UTC}); err == nil {
			body["replicas"] = rows
		}
	}
	return c.JSON(body)
}
