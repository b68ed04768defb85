package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

func runCountSuite(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("RunCounts", func(t *testing.T) { testRunCounts(t, open(t)) })
	t.Run("RunCountsAcrossRetention", func(t *testing.T) { testRunCountsAcrossRetention(t, open(t)) })
	t.Run("SLOIncidents", func(t *testing.T) { testSLOIncidents(t, open(t)) })
}

func counts(p, w, f, e int64) store.Counts { return store.Counts{Pass: p, Warn: w, Fail: f, Error: e} }

func runCounts(t *testing.T, s *store.Store, q store.CountQuery) []store.BucketCounts {
	t.Helper()
	got, err := s.RunCounts(context.Background(), q)
	if err != nil {
		t.Fatalf("RunCounts(%+v): %v", q, err)
	}
	return got
}

// testRunCounts: a run counts in [From, To) by its start (a half-open
// range, as SQL's >= and <), in the bucket its start falls in, by status.
func testRunCounts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	day := time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC)
	at := func(check string, d time.Duration, st checks.Status) {
		record(t, s, checks.Result{Check: check, Kind: "sql", Status: st, StartedAt: day.Add(d)})
	}
	at("a", 0, checks.Pass)                                      // the first instant of the day
	at("a", 59*time.Minute+59*time.Second, checks.Warn)          // hour 0
	at("a", time.Hour, checks.Fail)                              // hour 1
	at("a", 23*time.Hour+59*time.Minute, checks.Error)           // hour 23
	at("a", 24*time.Hour, checks.Pass)                           // the next day
	at("b", 30*time.Minute, "unknown")                           // counts as error
	at("b", 90*time.Minute, checks.Pass)                         // hour 1
	at("b", -time.Nanosecond, checks.Fail)                       // the day before
	record(t, s, checks.Result{Check: "b", Status: checks.Fail}) // no start time: never counted

	whole := store.CountQuery{From: day, To: day.Add(24 * time.Hour)}
	if got, want := runCounts(t, s, whole), []store.BucketCounts{{Start: day, Counts: counts(2, 1, 1, 2)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("the day, summed = %+v, want %+v", got, want)
	}
	perCheck := whole
	perCheck.PerCheck = true
	want := []store.BucketCounts{{CheckID: "a", Start: day, Counts: counts(1, 1, 1, 1)}, {CheckID: "b", Start: day, Counts: counts(1, 0, 0, 1)}}
	if got := runCounts(t, s, perCheck); !reflect.DeepEqual(got, want) {
		t.Errorf("the day, per check = %+v, want %+v", got, want)
	}
	hourly := perCheck
	hourly.Bucket = time.Hour
	want = []store.BucketCounts{
		{CheckID: "a", Start: day, Counts: counts(1, 1, 0, 0)},
		{CheckID: "a", Start: day.Add(time.Hour), Counts: counts(0, 0, 1, 0)},
		{CheckID: "a", Start: day.Add(23 * time.Hour), Counts: counts(0, 0, 0, 1)},
		{CheckID: "b", Start: day, Counts: counts(0, 0, 0, 1)},
		{CheckID: "b", Start: day.Add(time.Hour), Counts: counts(1, 0, 0, 0)},
	}
	if got := runCounts(t, s, hourly); !reflect.DeepEqual(got, want) {
		t.Errorf("hourly = %+v\nwant %+v", got, want)
	}
	daily := store.CountQuery{From: day.Add(-24 * time.Hour), To: day.Add(48 * time.Hour), Bucket: 24 * time.Hour, Checks: []string{"a"}}
	want = []store.BucketCounts{{Start: day, Counts: counts(1, 1, 1, 1)}, {Start: day.Add(24 * time.Hour), Counts: counts(1, 0, 0, 0)}}
	if got := runCounts(t, s, daily); !reflect.DeepEqual(got, want) {
		t.Errorf("daily for a = %+v, want %+v", got, want)
	}
	if got := runCounts(t, s, store.CountQuery{From: day, To: day.Add(time.Hour), Checks: []string{}}); len(got) != 0 {
		t.Errorf("no checks = %+v, want nothing", got)
	}
	if got := runCounts(t, s, store.CountQuery{From: day.Add(2 * time.Hour), To: day.Add(3 * time.Hour)}); len(got) != 0 {
		t.Errorf("an hour without runs = %+v, want nothing", got)
	}
	for _, q := range []store.CountQuery{
		{To: day},
		{From: day},
		{From: day, To: day},
		{From: day.Add(time.Hour), To: day},
		{From: day, To: day.Add(time.Hour), Bucket: -time.Hour},
	} {
		if _, err := s.RunCounts(ctx, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RunCounts(%+v) error = %v, want ErrInvalid", q, err)
		}
	}
}

// testRunCountsAcrossRetention: rolling runs up never changes a count over
// whole hours, and a prune never makes a run count twice or not at all.
func testRunCountsAcrossRetention(t *testing.T, s *store.Store) {
	ctx := context.Background()
	h0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	statuses := []checks.Status{checks.Pass, checks.Pass, checks.Warn, checks.Fail, checks.Pass, checks.Error}
	for i := range 72 * 6 { // every 10 minutes for three days, two checks
		for _, c := range []string{"a", "b"} {
			record(t, s, checks.Result{Check: c, Kind: "sql", Status: statuses[(i+len(c))%len(statuses)], StartedAt: h0.Add(time.Duration(i) * 10 * time.Minute)})
		}
	}
	queries := []store.CountQuery{
		{From: h0, To: h0.Add(72 * time.Hour), PerCheck: true},
		{From: h0, To: h0.Add(72 * time.Hour), Bucket: 24 * time.Hour},
		{From: h0.Add(5 * time.Hour), To: h0.Add(53 * time.Hour), Bucket: time.Hour, Checks: []string{"b"}},
	}
	before := make([][]store.BucketCounts, len(queries))
	for i, q := range queries {
		before[i] = runCounts(t, s, q)
	}
	// Each check ran 432 times; its statuses repeat every 6 runs (3 pass,
	// 1 warn, 1 fail, 1 error): 72 times each cycle.
	if want := []store.BucketCounts{{CheckID: "a", Start: h0, Counts: counts(216, 72, 72, 72)}, {CheckID: "b", Start: h0, Counts: counts(216, 72, 72, 72)}}; !reflect.DeepEqual(before[0], want) {
		t.Fatalf("before any prune = %+v, want %+v", before[0], want)
	}
	// Prune the first 40 hours, then all but the latest runs.
	for _, now := range []time.Time{h0.Add(40 * time.Hour), h0.Add(100 * time.Hour)} {
		if _, err := s.Prune(ctx, now, time.Hour); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		for i, q := range queries {
			if got := runCounts(t, s, q); !reflect.DeepEqual(got, before[i]) {
				t.Errorf("after pruning to %s, %+v =\n%+v\nwant as before\n%+v", now, q, got, before[i])
			}
		}
	}
	// A rolled-up hour counts whole when its start is in range: [1h30,
	// 2h30) now counts the hour from 2h (its 6 runs of each check, one
	// cycle: 3 pass, 1 warn, 1 fail, 1 error) and none of the hour from 1h.
	got := runCounts(t, s, store.CountQuery{From: h0.Add(90 * time.Minute), To: h0.Add(150 * time.Minute)})
	if want := []store.BucketCounts{{Start: h0.Add(90 * time.Minute), Counts: counts(6, 2, 2, 2)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("[1h30, 2h30) after retention = %+v, want %+v", got, want)
	}
}

func testSLOIncidents(t *testing.T, s *store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	var first store.SLOIncident
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		first, err = tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: "docs", Severity: "ticket", OpenedAt: t0, BurnRates: map[string]float64{"6h": 7.5, "30m": 12}})
		return err
	})
	if first.ID == 0 || !first.Open() || first.Severity != "ticket" || !first.OpenedAt.Equal(t0) || first.BurnRates["6h"] != 7.5 || first.Announced {
		t.Errorf("opened = %+v", first)
	}
	err := s.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: "docs", Severity: "page", OpenedAt: t0})
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second open incident: %v, want ErrConflict", err)
	}
	err = s.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: "docs", OpenedAt: t0})
		return err
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("no severity: %v, want ErrInvalid", err)
	}
	var up store.SLOIncident
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		up, err = tx.EscalateSLOIncident(ctx, first.ID, "ticket", "page", t0.Add(time.Hour), map[string]float64{"1h": 20}, true)
		return err
	})
	if up.Severity != "page" || !up.EscalatedAt.Equal(t0.Add(time.Hour)) || !reflect.DeepEqual(up.BurnRates, map[string]float64{"1h": 20}) || !up.Announced {
		t.Errorf("escalated = %+v", up)
	}
	// A second replica that saw the ticket loses the race.
	err = s.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.EscalateSLOIncident(ctx, first.ID, "ticket", "page", t0.Add(time.Hour), nil, false)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("escalating twice: %v, want ErrConflict", err)
	}
	var done store.SLOIncident
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		done, err = tx.ResolveSLOIncident(ctx, first.ID, t0.Add(3*time.Hour))
		return err
	})
	if done.Open() || !done.ResolvedAt.Equal(t0.Add(3*time.Hour)) || done.Severity != "page" {
		t.Errorf("resolved = %+v", done)
	}
	for _, id := range []int64{first.ID, 9999} {
		err = s.WithTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ResolveSLOIncident(ctx, id, t0.Add(4*time.Hour))
			return err
		})
		if want := map[bool]error{true: store.ErrConflict, false: store.ErrNotFound}[id == first.ID]; !errors.Is(err, want) {
			t.Errorf("resolve %d again: %v, want %v", id, err, want)
		}
	}
	var second store.SLOIncident
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		second, err = tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: "docs", Severity: "page", OpenedAt: t0.Add(5 * time.Hour), Announced: true})
		return err
	})
	inTx(t, s, func(tx *store.Tx) error {
		_, err := tx.OpenSLOIncident(ctx, store.SLOIncident{SLO: "other", Severity: "ticket", OpenedAt: t0.Add(5 * time.Hour)})
		return err
	})
	list, err := s.SLOIncidents(ctx, "docs", false, 0)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID || list[0].BurnRates == nil || !list[0].Announced {
		t.Errorf("SLOIncidents(docs) = %+v, %v; want the second, then the first", list, err)
	}
	open, err := s.SLOIncidents(ctx, "", true, 0)
	if err != nil || len(open) != 2 {
		t.Errorf("open incidents = %+v, %v; want docs and other", open, err)
	}
}
