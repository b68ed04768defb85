package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// maxReadyLag is how late the scheduler's ticks may be while vigil is
// still ready.
const maxReadyLag = 60 * time.Second

// readyz answers GET /readyz without authentication: 200 with
// {"store": "ok", "scheduler": "running", "lag_seconds": n} when the store
// answers within 2 s and the scheduler is scheduling with ticks less than
// 60 s late; otherwise 503 with what is wrong: store "unreachable",
// scheduler "stopped" (none, not started, or stopping) or "lagging". On a
// PostgreSQL store it also lists "replicas": every replica seen in the last
// 10 minutes with its id, last_seen, runs_last_minute, lag_seconds, alive
// and leader (the lease holder).
func (s *Server) readyz(c *fiber.Ctx) error {
	ready := true
	storeState := "ok"
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.ReadDB().PingContext(ctx); err != nil {
		storeState, ready = "unreachable", false
	}
	schedState, lag := "stopped", 0.0
	if s.sched != nil {
		st := s.sched.Stats()
		lag = st.Lag.Seconds()
		switch {
		case !st.Scheduling:
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
	body := fiber.Map{"store": storeState, "scheduler": schedState, "lag_seconds": lag}
	if s.store.Replicas() && storeState == "ok" {
		// Every replica sharing the store, for a look at the spread; a
		// store that fails here leaves the list out (the store answered).
		if rows, err := s.replicaRows(ctx); err == nil {
			body["replicas"] = rows
		}
	}
	return c.JSON(body)
}
