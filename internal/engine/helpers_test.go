package engine_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

var drivers = []string{"sqlite", "postgres"}

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// openStore returns a fresh store on driver, closed when the test ends.
func openStore(t *testing.T, driver string) *store.Store {
	t.Helper()
	db := testdb.Open(t, driver)
	s, err := store.Open(context.Background(), driver, db.AdminDSN)
	if err != nil {
		t.Fatalf("open %s store: %v", driver, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable clock for the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// recorder is a sink that keeps every event.
type recorder struct {
	name   string
	mu     sync.Mutex
	events []engine.Event
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Observe(_ context.Context, e engine.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) Events() []engine.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func info(id string, failAfter, resolveAfter int, tags ...string) engine.CheckInfo {
	return engine.CheckInfo{ID: id, Kind: "sql", Owner: "policy-team", Runbook: id, Tags: tags,
		Schedule: "@every 1m", Timeout: time.Minute, FailAfter: failAfter, ResolveAfter: resolveAfter}
}

// result is a run of status with n violations keyed k0..k(n-1).
func result(status checks.Status, n int) checks.Result {
	r := checks.Result{Status: status, Violations: n, Duration: time.Second}
	for i := range n {
		key := "k" + string(rune('0'+i))
		r.Keys = append(r.Keys, key)
		r.Sample = append(r.Sample, checks.Violation{Key: key, Detail: "bad"})
	}
	if status == checks.Error {
		r.Error = "dial tcp: connection refused"
	}
	return r
}

func record(t *testing.T, e *engine.Engine, c engine.CheckInfo, r checks.Result) engine.Event {
	t.Helper()
	ev, err := e.Record(context.Background(), c, r)
	if err != nil {
		t.Fatalf("Record(%s, %s): %v", c.ID, r.Status, err)
	}
	return ev
}

// outbox returns every undelivered message due at now (in delivery order),
// optionally for one check only.
func outbox(t *testing.T, s *store.Store, now time.Time, check string) []store.OutboxMessage {
	t.Helper()
	msgs, err := s.NextOutbox(context.Background(), now, store.MaxLimit)
	if err != nil {
		t.Fatalf("NextOutbox: %v", err)
	}
	out := []store.OutboxMessage{}
	for _, m := range msgs {
		if check == "" || m.CheckID == check {
			out = append(out, m)
		}
	}
	return out
}

func kinds(msgs []store.OutboxMessage) []store.OutboxKind {
	out := []store.OutboxKind{}
	for _, m := range msgs {
		out = append(out, m.Kind)
	}
	return out
}

// deliverAll marks every due message delivered.
func deliverAll(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	for _, m := range outbox(t, s, now, "") {
		if err := s.MarkDelivered(context.Background(), m.ID, now); err != nil {
			t.Fatalf("MarkDelivered: %v", err)
		}
	}
}

func tick(t *testing.T, e *engine.Engine, now time.Time) engine.TickStats {
	t.Helper()
	st, err := e.Tick(context.Background(), now)
	if err != nil {
		t.Fatalf("Tick(%v): %v", now, err)
	}
	return st
}

// lockedWriter serialises writes from concurrent sinks.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// slogTo returns a debug-level text logger writing to w under mu.
func slogTo(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu: mu, w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
