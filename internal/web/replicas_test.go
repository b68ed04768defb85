package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// TestReplicasShown: on a PostgreSQL store, /readyz and the overview list
// every replica with its id, when it was last seen, its runs in the last
// minute and its lag; the lease holder is marked, and a replica silent for
// longer than the lease TTL is shown as gone (the others have taken its
// checks over).
func TestReplicasShown(t *testing.T) {
	clk := newClock()
	st, err := store.OpenWith(context.Background(), "postgres", testdb.Postgres(t).AdminDSN, store.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	started := clk.Now().Add(-time.Hour)
	if _, err := st.Heartbeat(ctx, store.Replica{ID: "web-2/1/9", StartedAt: started, RunsLastMinute: 5, Lag: 40 * time.Millisecond}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := st.Heartbeat(ctx, store.Replica{ID: "web-1/1/8", StartedAt: started, RunsLastMinute: 612, Lag: 1500 * time.Millisecond}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.AcquireLease(ctx, scheduler.LeaseName, "web-1/1/8", 15*time.Second); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	cfg := &config.Config{Scheduler: config.Scheduler{LeaseTTL: 15 * time.Second}}
	s, err := New(Options{Store: st, Config: cfg, Now: clk.Now, LocalUser: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, store: st, clock: clk}

	type ready struct {
		Replicas []struct {
			ID             string    `json:"id"`
			LastSeen       time.Time `json:"last_seen"`
			RunsLastMinute int64     `json:"runs_last_minute"`
			LagSeconds     float64   `json:"lag_seconds"`
			Alive          bool      `json:"alive"`
			Leader         bool      `json:"leader"`
		} `json:"replicas"`
	}
	got := dashJSON[ready](t, f.client().get("/readyz"), 503) // no scheduler here
	if len(got.Replicas) != 2 {
		t.Fatalf("readyz replicas = %+v, want 2", got.Replicas)
	}
	r1, r2 := got.Replicas[0], got.Replicas[1]
	if r1.ID != "web-1/1/8" || !r1.LastSeen.Equal(clk.Now()) || r1.RunsLastMinute != 612 || r1.LagSeconds != 1.5 || !r1.Alive || !r1.Leader {
		t.Errorf("lease holder = %+v", r1)
	}
	if r2.ID != "web-2/1/9" || !r2.LastSeen.Equal(clk.Now().Add(-time.Minute)) || r2.RunsLastMinute != 5 || r2.Alive || r2.Leader {
		t.Errorf("replica silent for a minute (TTL 15s) = %+v", r2)
	}

	page := f.client().get("/")
	if page.StatusCode != 200 {
		t.Fatalf("overview status %d", page.StatusCode)
	}
	section := page.body[strings.Index(page.body, `<section class="replicas"`):]
	for _, want := range []string{"<code>web-1/1/8</code> · lease holder", "<td>612</td>", "<td>1.5s</td>", "<code>web-2/1/9</code> · gone", ">1m ago</span>"} {
		if !strings.Contains(section, want) {
			t.Errorf("overview replicas lack %q:\n%s", want, section)
		}
	}
}
