package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// testRecentHistory: RecentHistory follows every recorded run, whoever
// records it, with each check's newest run and its recent statuses.
func testRecentHistory(t *testing.T, s *store.Store) {
	ctx := context.Background()
	got, err := s.RecentHistory(ctx, 0)
	if err != nil {
		t.Fatalf("RecentHistory on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("RecentHistory on an empty store = %+v, want none", got)
	}

	// busy: more runs than RecentKept, ending pass, fail, fail (newest
	// last); odd: one run with a status of no known kind; quiet: one run
	// recorded through a transaction, as the engine does, with its state.
	statuses := []checks.Status{checks.Pass, checks.Warn, checks.Error}
	var busyLast int64
	for i := range store.RecentKept + 5 {
		r := result("busy", statuses[i%len(statuses)])
		if i >= store.RecentKept+2 {
			r = result("busy", checks.Fail, "k1", "k2")
		} else if i == store.RecentKept+1 {
			r = result("busy", checks.Pass)
		}
		r.StartedAt = base.Add(time.Duration(i) * time.Minute)
		r.Duration = time.Duration(i) * time.Millisecond
		busyLast = record(t, s, r)
	}
	oddID := record(t, s, checks.Result{Check: "odd", Kind: "sql", Status: "skipped"})
	var quietID int64
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		if quietID, err = tx.RecordResult(ctx, result("quiet", checks.Warn, "x")); err != nil {
			return err
		}
		return tx.SaveCheckState(ctx, store.CheckState{CheckID: "quiet", Kind: "sql", Tags: []string{}, Status: checks.Warn, Since: base.Add(-time.Hour), UpdatedAt: base})
	})

	tests := []struct {
		name       string
		n          int
		wantRecent map[string][]checks.Status
	}{
		{name: "default keeps RecentKept", n: 0},
		{name: "above RecentKept keeps RecentKept", n: store.RecentKept + 10},
		{name: "the newest three", n: 3, wantRecent: map[string][]checks.Status{
			"busy": {checks.Fail, checks.Fail, checks.Fail}, "odd": {"unknown"}, "quiet": {checks.Warn},
		}},
		{name: "the newest five", n: 5, wantRecent: map[string][]checks.Status{
			"busy": {checks.Fail, checks.Fail, checks.Fail, checks.Pass, statuses[store.RecentKept%3]}, "odd": {"unknown"}, "quiet": {checks.Warn},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RecentHistory(ctx, tt.n)
			if err != nil {
				t.Fatalf("RecentHistory(%d): %v", tt.n, err)
			}
			if len(got) != 3 {
				t.Fatalf("RecentHistory(%d) has %d checks, want busy, odd and quiet: %+v", tt.n, len(got), got)
			}
			wantLast := map[string]store.RunBrief{
				"busy":  {ID: busyLast, Status: checks.Fail, Violations: 2, StartedAt: base.Add(time.Duration(store.RecentKept+4) * time.Minute), Duration: time.Duration(store.RecentKept+4) * time.Millisecond},
				"odd":   {ID: oddID, Status: "skipped"},
				"quiet": {ID: quietID, Status: checks.Warn, Violations: 1, StartedAt: base, Duration: time.Second},
			}
			for id, want := range wantLast {
				h := got[id]
				if h.CheckID != id || !reflect.DeepEqual(h.Last, want) {
					t.Errorf("%s: Last = %+v (check %q), want %+v", id, h.Last, h.CheckID, want)
				}
				if tt.wantRecent != nil && !reflect.DeepEqual(h.Recent, tt.wantRecent[id]) {
					t.Errorf("%s: Recent = %v, want %v", id, h.Recent, tt.wantRecent[id])
				}
			}
			if tt.wantRecent == nil {
				busy := got["busy"].Recent
				if len(busy) != store.RecentKept || busy[0] != checks.Fail || busy[3] != checks.Pass {
					t.Errorf("busy: Recent = %v, want %d statuses, newest first", busy, store.RecentKept)
				}
			}
			if !got["busy"].Since.IsZero() || !got["quiet"].Since.Equal(base.Add(-time.Hour)) {
				t.Errorf("Since: busy %v (want zero: no check state), quiet %v (want its state's)", got["busy"].Since, got["quiet"].Since)
			}
		})
	}

	// A rolled-back run leaves no trace.
	err = s.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.RecordResult(ctx, result("ghost", checks.Fail)); err != nil {
			return err
		}
		return context.Canceled
	})
	if err == nil {
		t.Fatal("WithTx returned no error")
	}
	if got, err := s.RecentHistory(ctx, 0); err != nil || len(got) != 3 {
		t.Errorf("after a rolled-back run: %d checks (%v), want 3", len(got), err)
	}
}
