package statuspage_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/statuspage"
	"github.com/vigilhq/vigil/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var page = &config.StatusPage{
	Title: "Status",
	Groups: []config.StatusGroup{
		{Name: "A", Slug: "a", Checks: []string{"a1", "a2"}},
		{Name: "B", Slug: "b", Checks: []string{"b1", "a2"}},
	},
}

// TestIncrementalBuildsMatchAFreshOne: a builder that has kept days and
// hours across many builds shows exactly what a new builder counting
// everything from the store shows, across hours, midnight and retention.
func TestIncrementalBuildsMatchAFreshOne(t *testing.T) {
	st := openStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []checks.Status{checks.Pass, checks.Pass, checks.Pass, checks.Pass, checks.Warn, checks.Fail, checks.Error}
	now := time.Date(2025, 3, 9, 21, 10, 0, 0, time.UTC)
	record := func(until time.Time, from time.Time) {
		err := st.WithTx(context.Background(), func(tx *store.Tx) error {
			for at := from; at.Before(until); at = at.Add(17 * time.Minute) {
				for _, c := range []string{"a1", "a2", "b1", "not-on-the-page"} {
					r := checks.Result{Check: c, Kind: "sql", Status: statuses[rng.IntN(len(statuses))], StartedAt: at.Add(time.Duration(rng.IntN(60)) * time.Second)}
					if _, err := tx.RecordResult(context.Background(), r); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	record(now, now.Add(-100*24*time.Hour))
	clock := now
	kept := statuspage.New(st, page, func() time.Time { return clock })
	for step := range 12 { // every 50 minutes for 10 hours: past midnight
		next := clock.Add(50 * time.Minute)
		record(next, clock)
		clock = next
		if step == 6 {
			if _, err := st.Prune(context.Background(), clock, 3*24*time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		got, err := kept.Build(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := statuspage.New(st, page, func() time.Time { return clock }).Build(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fresh) {
			t.Fatalf("at %s the kept builder differs from a fresh one:\n%+v\n%+v", clock, got.Groups[0].Uptime, fresh.Groups[0].Uptime)
		}
	}
}

// TestRunsAfterAnEmptyBuild: runs recorded after a build without any show
// in the next build.
func TestRunsAfterAnEmptyBuild(t *testing.T) {
	st := openStore(t)
	now := time.Date(2025, 3, 9, 21, 10, 0, 0, time.UTC)
	clock := now
	b := statuspage.New(st, page, func() time.Time { return clock })
	if p, err := b.Build(context.Background()); err != nil || p.Groups[0].Checks[0].Uptime.Day != nil {
		t.Fatalf("empty page: %+v, %v", p, err)
	}
	if _, err := st.RecordResult(context.Background(), checks.Result{Check: "a1", Kind: "sql", Status: checks.Pass, StartedAt: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(statuspage.MaxAge + 2*time.Second)
	p, err := b.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u := p.Groups[0].Checks[0].Uptime.Day; u == nil || *u != 100 {
		t.Errorf("uptime after a run = %v, want 100", u)
	}
}
