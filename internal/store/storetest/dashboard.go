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

func runDashboardSuite(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("History", func(t *testing.T) { testHistory(t, open(t)) })
	t.Run("HistoryRejects", func(t *testing.T) { testHistoryRejects(t, open(t)) })
	t.Run("SilenceStart", func(t *testing.T) { testSilenceStart(t, open(t)) })
	t.Run("SilencesBetween", func(t *testing.T) { testSilencesBetween(t, open(t)) })
	t.Run("AuditEntries", func(t *testing.T) { testAuditEntries(t, open(t)) })
	t.Run("IncidentAlerts", func(t *testing.T) { testIncidentAlerts(t, open(t)) })
}

// testHistory: History sums a check's runs per interval, half-open like
// every time range here ([from, to): a run at from counts, one at to does
// not), with the runs retention rolled up counted in the interval of their
// hour, and the measure each kind reports (checks.MetricMeasure) kept as
// the interval's largest, through the rollup too.
func testHistory(t *testing.T, s *store.Store) {
	ctx := context.Background()
	h0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	run := func(check string, at time.Time, status checks.Status, violations int, measure float64, measured bool) {
		t.Helper()
		r := checks.Result{Check: check, Kind: "sqs_dlq", Status: status, Violations: violations, StartedAt: at, Duration: time.Duration(violations+1) * time.Second}
		if measured {
			r.Metrics = map[string]float64{checks.MetricMeasure: measure, "depth:q": measure}
		}
		record(t, s, r)
	}
	// Hour 0 is rolled up below; hours 1 and 2 stay runs.
	run("a", h0.Add(5*time.Minute), checks.Pass, 0, 328, true)
	run("a", h0.Add(25*time.Minute), checks.Fail, 3, 1200, true)
	run("a", h0.Add(50*time.Minute), checks.Error, 0, 0, false)
	run("a", h0.Add(60*time.Minute), checks.Fail, 2, 3828, true) // the first of hour 1
	run("a", h0.Add(90*time.Minute), checks.Warn, 1, 900, true)
	run("a", h0.Add(150*time.Minute), checks.Pass, 0, 0, false)
	run("a", h0.Add(180*time.Minute), checks.Pass, 0, 1, true) // at `to` below: left out
	run("b", h0.Add(70*time.Minute), checks.Fail, 9, 99999, true)
	run("a", h0.Add(-time.Minute), checks.Fail, 7, 5, true)  // before `from`: left out
	run("a", h0.Add(48*time.Hour), checks.Pass, 0, 0, false) // the latest, so Prune leaves the others of hour 1 alone

	// Roll up everything that started before hour 1 (the run before from
	// too: it lands in an hour before the range).
	if _, err := s.Prune(ctx, h0.Add(time.Hour), time.Nanosecond); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got, err := s.Rollups(ctx, "a", h0, h0.Add(time.Hour)); err != nil || len(got) != 1 || got[0].Runs() != 3 {
		t.Fatalf("Rollups of hour 0 = %+v, %v; want its 3 runs rolled up", got, err)
	}

	from, to := h0, h0.Add(3*time.Hour)
	got, err := s.History(ctx, "a", from, to, time.Hour)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	want := []store.HistoryBucket{
		{Start: h0, Pass: 1, Fail: 1, Error: 1, MinViolations: 0, MaxViolations: 3, MaxMeasure: 1200, Measured: true, Duration: 6 * time.Second},
		{Start: h0.Add(time.Hour), Warn: 1, Fail: 1, MinViolations: 1, MaxViolations: 2, MaxMeasure: 3828, Measured: true, Duration: 5 * time.Second},
		{Start: h0.Add(2 * time.Hour), Pass: 1, Duration: time.Second},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("History by the hour =\n %+v\nwant\n %+v", got, want)
	}

	// Half-hour intervals: a rolled-up hour counts in its first half; the
	// empty intervals are left out.
	got, err = s.History(ctx, "a", from, to, 30*time.Minute)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	starts := []time.Time{}
	for _, b := range got {
		starts = append(starts, b.Start)
	}
	wantStarts := []time.Time{h0, h0.Add(60 * time.Minute), h0.Add(90 * time.Minute), h0.Add(150 * time.Minute)}
	if !reflect.DeepEqual(starts, wantStarts) || got[0].Runs() != 3 || got[1].Runs() != 1 || got[2].Runs() != 1 {
		t.Errorf("History by the half hour = %+v, want intervals starting %v with 3, 1, 1, 1 runs", got, wantStarts)
	}

	// A range that does not start on an hour still counts from its own start.
	got, err = s.History(ctx, "a", h0.Add(70*time.Minute), h0.Add(100*time.Minute), 10*time.Minute)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if want := []store.HistoryBucket{{Start: h0.Add(90 * time.Minute), Warn: 1, MinViolations: 1, MaxViolations: 1, MaxMeasure: 900, Measured: true, Duration: 2 * time.Second}}; !reflect.DeepEqual(got, want) {
		t.Errorf("History of [70m, 100m) = %+v, want %+v", got, want)
	}

	if got, err := s.History(ctx, "unknown", from, to, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("History of an unknown check = %+v, %v; want none", got, err)
	}
}

func testHistoryRejects(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		from, to time.Time
		step     time.Duration
	}{
		{"zero step", base, base.Add(time.Hour), 0},
		{"negative step", base, base.Add(time.Hour), -time.Minute},
		{"empty range", base, base, time.Minute},
		{"reversed range", base.Add(time.Hour), base, time.Minute},
		{"too many intervals", base, base.Add(30 * 24 * time.Hour), time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.History(ctx, "a", tt.from, tt.to, tt.step); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("History = %+v, %v; want ErrInvalid", got, err)
			}
		})
	}
}

// testSilenceStart: a silence set to start later (Alertmanager's startsAt)
// silences nothing before it starts, and may not start before it was set.
func testSilenceStart(t *testing.T, s *store.Store) {
	ctx := context.Background()
	later, err := s.CreateSilence(ctx, store.Silence{Matcher: "dlq", StartsAt: base.Add(time.Hour), Until: base.Add(2 * time.Hour), Author: "alice", Reason: "maintenance", CreatedAt: base})
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}
	if !later.StartsAt.Equal(base.Add(time.Hour)) || !later.Pending(base) || later.Active(base) || !later.Active(base.Add(time.Hour)) || later.Active(base.Add(2*time.Hour)) {
		t.Errorf("silence %+v: want pending before its start, active from its start until its end", later)
	}
	for _, tt := range []struct {
		at   time.Time
		want []int64
	}{
		{base, []int64{}},
		{base.Add(time.Hour - time.Nanosecond), []int64{}},
		{base.Add(time.Hour), []int64{later.ID}},
		{base.Add(2 * time.Hour), []int64{}},
	} {
		got, err := s.ActiveSilences(ctx, tt.at)
		if err != nil {
			t.Fatalf("ActiveSilences: %v", err)
		}
		if ids := silenceIDs(got); !reflect.DeepEqual(ids, tt.want) {
			t.Errorf("ActiveSilences(%s) = %v, want %v", tt.at.Format(time.RFC3339), ids, tt.want)
		}
	}
	for _, in := range []store.Silence{
		{Matcher: "dlq", StartsAt: base.Add(-time.Second), Until: base.Add(time.Hour), Author: "alice", Reason: "r", CreatedAt: base},
		{Matcher: "dlq", StartsAt: base.Add(time.Hour), Until: base.Add(time.Hour), Author: "alice", Reason: "r", CreatedAt: base},
	} {
		if got, err := s.CreateSilence(ctx, in); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateSilence(start %s, until %s) = %+v, %v; want ErrInvalid", in.StartsAt, in.Until, got, err)
		}
	}
	// A pending silence can be called off before it starts.
	ended, err := s.ExpireSilence(ctx, later.ID, "bob", base.Add(time.Minute))
	if err != nil || ended.Active(base.Add(90*time.Minute)) || ended.Pending(base.Add(2*time.Minute)) {
		t.Errorf("ExpireSilence of a pending silence = %+v, %v; want it never to start", ended, err)
	}
}

// testSilencesBetween: the silences whose time in force overlaps [from, to).
func testSilencesBetween(t *testing.T, s *store.Store) {
	ctx := context.Background()
	create := func(start, until time.Time) store.Silence {
		t.Helper()
		sl, err := s.CreateSilence(ctx, store.Silence{Matcher: "a", StartsAt: start, Until: until, Author: "alice", Reason: "r", CreatedAt: base})
		if err != nil {
			t.Fatalf("CreateSilence: %v", err)
		}
		return sl
	}
	from, to := base.Add(2*time.Hour), base.Add(4*time.Hour)
	before := create(base, from)                                        // ends as the range starts
	overlapsStart := create(base, from.Add(time.Minute))                // in force at from
	inside := create(from.Add(30*time.Minute), to.Add(-30*time.Minute)) // within
	after := create(to, to.Add(time.Hour))                              // starts as the range ends
	endedEarly := create(base, to)
	if _, err := s.ExpireSilence(ctx, endedEarly.ID, "bob", from.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	endedInside := create(base, to)
	if _, err := s.ExpireSilence(ctx, endedInside.ID, "bob", from.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.SilencesBetween(ctx, from, to)
	if err != nil {
		t.Fatalf("SilencesBetween: %v", err)
	}
	if ids, want := silenceIDs(got), []int64{overlapsStart.ID, inside.ID, endedInside.ID}; !reflect.DeepEqual(ids, want) {
		t.Errorf("SilencesBetween = %v, want %v (not %d ending at from, %d starting at to, %d ended before from)", ids, want, before.ID, after.ID, endedEarly.ID)
	}
}

func testAuditEntries(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for i, e := range []store.AuditEntry{
		{Actor: "alice", Action: "ack", Target: "incident 1 (a)", Detail: "note: first"},
		{Actor: "bob", Action: "silence", Target: "incident 1 (a)"},
		{Actor: "carol", Action: "ack", Target: "incident 11 (a)"},
		{Actor: "dave", Action: "ack", Target: "incident 1 (a)", Detail: "note: second"},
	} {
		e.At = base.Add(time.Duration(i) * time.Minute)
		if err := s.Audit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AuditEntries(ctx, "ack", "incident 1 (a)")
	if err != nil {
		t.Fatalf("AuditEntries: %v", err)
	}
	if len(got) != 2 || got[0].Actor != "alice" || got[1].Actor != "dave" || got[1].Detail != "note: second" || !got[1].At.Equal(base.Add(3*time.Minute)) {
		t.Errorf("AuditEntries(ack, incident 1) = %+v, want alice's then dave's, oldest first", got)
	}
}

func testIncidentAlerts(t *testing.T, s *store.Store) {
	ctx := context.Background()
	in := openIncident(t, s, "a", base)
	other := openIncident(t, s, "b", base)
	inTx(t, s, func(tx *store.Tx) error {
		for i, m := range []store.OutboxMessage{
			{CheckID: "a", IncidentID: in.ID, Kind: store.OutboxOpened},
			{CheckID: "b", IncidentID: other.ID, Kind: store.OutboxOpened},
			{CheckID: "a", IncidentID: in.ID, Kind: store.OutboxReminder},
			{CheckID: "a", Kind: store.OutboxSilenceExpired},
		} {
			m.Payload = []byte(`{}`)
			m.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			if _, err := tx.EnqueueOutbox(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.IncidentAlerts(ctx, in.ID)
	if err != nil {
		t.Fatalf("IncidentAlerts: %v", err)
	}
	if len(got) != 2 || got[0].Kind != store.OutboxOpened || got[1].Kind != store.OutboxReminder || !got[1].CreatedAt.Equal(base.Add(2*time.Minute)) {
		t.Errorf("IncidentAlerts = %+v, want its opened alert then its reminder", got)
	}
}
