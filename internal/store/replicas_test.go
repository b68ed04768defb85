package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

// TestClaimTicksExactlyOnce: replicas claiming overlapping batches of
// ticks at once, each in one statement, get every tick exactly once
// between them (a primary key admits one row per (tick, check): SQL's
// INSERT ... ON CONFLICT DO NOTHING inserts nothing for a conflicting
// row, even against a concurrent insert). ClaimOpenTicks claims at most
// its limit of the ticks nobody holds, oldest first, and reports the rest
// of those as still open.
func TestClaimTicksExactlyOnce(t *testing.T) {
	dsn := testdb.Postgres(t).AdminDSN
	var stores []*store.Store
	for range 3 {
		s, err := store.Open(context.Background(), "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	ctx := t.Context()
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ticks []store.TickRef
	for c := range 50 {
		for k := range 4 {
			ticks = append(ticks, store.TickRef{CheckID: fmt.Sprintf("check-%02d", c), Scheduled: t0.Add(time.Duration(k) * 10 * time.Second)})
		}
	}
	var mu sync.Mutex
	owners := map[store.TickRef][]string{}
	var wg sync.WaitGroup
	for r, s := range stores {
		for part := range 4 {
			// Overlapping batches: each replica claims every tick, in
			// four batches shifted per replica.
			batch := append(append([]store.TickRef{}, ticks[(part*50+r*17)%len(ticks):]...), ticks[:(part*50+r*17)%len(ticks)]...)[:len(ticks)/2]
			wg.Go(func() {
				won, err := s.ClaimTicks(ctx, fmt.Sprintf("r%d", r), batch)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for i, ok := range won {
					if ok {
						owners[batch[i]] = append(owners[batch[i]], fmt.Sprintf("r%d", r))
					}
				}
			})
		}
	}
	wg.Wait()
	for tick, who := range owners {
		if len(who) > 1 {
			t.Errorf("%s@%s claimed by %v", tick.CheckID, tick.Scheduled, who)
		}
	}

	// Later ticks: two are claimed, the others open.
	later := []store.TickRef{
		{CheckID: "check-00", Scheduled: t0.Add(time.Hour)},
		{CheckID: "check-01", Scheduled: t0.Add(time.Hour + time.Second)},
		{CheckID: "check-02", Scheduled: t0.Add(time.Hour + 2*time.Second)},
		{CheckID: "check-03", Scheduled: t0.Add(time.Hour + 3*time.Second)},
		ticks[0], // claimed above
	}
	if won, err := stores[0].ClaimTicks(ctx, "r0", later[3:4]); err != nil || !won[0] {
		t.Fatalf("claim check-03: %v %v", won, err)
	}
	won, open, err := stores[1].ClaimOpenTicks(ctx, "r1", later, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(won) != 2 || won[0].CheckID != "check-00" || won[1].CheckID != "check-01" || !won[0].Scheduled.Equal(later[0].Scheduled) {
		t.Errorf("won %v, want the two oldest open ticks (check-00, check-01)", won)
	}
	if len(open) != 1 || open[0].CheckID != "check-02" {
		t.Errorf("open %v, want check-02 (check-03 and the first tick are held)", open)
	}
	if _, _, err := stores[2].ClaimOpenTicks(ctx, "r2", later, 0); err != nil {
		t.Fatal(err)
	}
}

// TestHeartbeats: replicas list each other by heartbeat; one that leaves
// is gone at once, and old heartbeats are pruned.
func TestHeartbeats(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := store.OpenWith(context.Background(), "postgres", testdb.Postgres(t).AdminDSN, store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if _, err := s.Heartbeat(ctx, store.Replica{ID: "a", StartedAt: now}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	live, err := s.Heartbeat(ctx, store.Replica{ID: "b", StartedAt: now, RunsLastMinute: 7, Lag: time.Second}, now.Add(-15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].ID != "b" || live[0].RunsLastMinute != 7 || live[0].Lag != time.Second || !live[0].SeenAt.Equal(now) {
		t.Errorf("live after a's heartbeat went stale = %+v, want b alone", live)
	}
	all, err := s.ReplicasSeen(ctx, time.Time{})
	if err != nil || len(all) != 2 {
		t.Fatalf("all replicas = %+v, %v", all, err)
	}
	if err := s.RemoveReplica(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneReplicas(ctx, now.Add(-time.Second)); err != nil || n != 1 {
		t.Errorf("PruneReplicas = %d, %v; want a's stale heartbeat", n, err)
	}
	if all, _ := s.ReplicasSeen(ctx, time.Time{}); len(all) != 0 {
		t.Errorf("left after remove and prune: %+v", all)
	}
	if _, err := s.Heartbeat(ctx, store.Replica{}, time.Time{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("heartbeat without id = %v, want ErrInvalid", err)
	}
}
