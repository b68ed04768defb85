package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/testdb"
)

func TestLease(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			dsn := filepath.Join(t.TempDir(), "vigil.db")
			if driver == "postgres" {
				dsn = testdb.Postgres(t).AdminDSN
			}
			// Two replicas sharing one store, each with its own connection pool.
			open := func() *store.Store {
				s, err := store.OpenWith(context.Background(), driver, dsn, store.Options{Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			a, b := open(), open()
			ctx := context.Background()
			acquire := func(s *store.Store, holder string) bool {
				t.Helper()
				ok, err := s.AcquireLease(ctx, "scheduler", holder, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if _, _, err := a.LeaseHolder(ctx, "scheduler"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("LeaseHolder before any = %v, want ErrNotFound", err)
			}
			if !acquire(a, "a") {
				t.Fatal("a could not take a free lease")
			}
			if acquire(b, "b") {
				t.Fatal("b took a lease a holds")
			}
			advance(5 * time.Second)
			if !acquire(a, "a") {
				t.Fatal("a could not renew its lease")
			}
			advance(9 * time.Second) // renewed at +5s, so it holds until +15s
			if acquire(b, "b") {
				t.Fatal("b took a renewed lease before it expired")
			}
			advance(time.Second) // exactly at expiry: free
			if !acquire(b, "b") {
				t.Fatal("b could not take an expired lease")
			}
			if holder, until, err := a.LeaseHolder(ctx, "scheduler"); err != nil || holder != "b" || !until.Equal(clock().Add(10*time.Second)) {
				t.Fatalf("LeaseHolder = %q until %v (%v)", holder, until, err)
			}
			if err := b.ReleaseLease(ctx, "scheduler", "b"); err != nil {
				t.Fatal(err)
			}
			if !acquire(a, "a") {
				t.Fatal("a could not take a released lease")
			}

			// Many replicas racing for one tick: exactly one claims it
			// (PostgreSQL; a SQLite store has one process and claims none).
			tick := clock().Truncate(time.Minute)
			if driver == "sqlite" {
				if _, err := a.ClaimTicks(ctx, "a", []store.TickRef{{CheckID: "check-1", Scheduled: tick}}); !errors.Is(err, store.ErrNoReplicas) {
					t.Fatalf("ClaimTicks on SQLite = %v, want ErrNoReplicas", err)
				}
				return
			}
			var claimed atomic.Int32
			var wg sync.WaitGroup
			for i, s := range []*store.Store{a, b, a, b, a, b} {
				wg.Go(func() {
					won, err := s.ClaimTicks(ctx, string(rune('a'+i)), []store.TickRef{{CheckID: "check-1", Scheduled: tick}})
					if err != nil {
						t.Error(err)
					}
					if len(won) == 1 && won[0] {
						claimed.Add(1)
					}
				})
			}
			wg.Wait()
			if claimed.Load() != 1 {
				t.Fatalf("%d replicas claimed one tick, want 1", claimed.Load())
			}
			if won, _ := a.ClaimTicks(ctx, "a", []store.TickRef{{CheckID: "check-1", Scheduled: tick.Add(time.Minute)}}); !slices.Equal(won, []bool{true}) {
				t.Fatal("the next tick could not be claimed")
			}
			if n, err := a.PruneTickClaims(ctx, tick.Add(time.Second)); err != nil || n != 1 {
				t.Fatalf("PruneTickClaims = %d, %v; want 1", n, err)
			}
		})
	}
}
