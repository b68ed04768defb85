package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// runIncidentSuite is the contract for check state, incidents, silences,
// the outbox, transactions and retention.
func runIncidentSuite(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("CheckState", func(t *testing.T) { testCheckState(t, open(t)) })
	t.Run("Incidents", func(t *testing.T) { testIncidents(t, open(t)) })
	t.Run("AckIncident", func(t *testing.T) { testAck(t, open(t)) })
	t.Run("Silences", func(t *testing.T) { testSilences(t, open(t)) })
	t.Run("OutboxOrder", func(t *testing.T) { testOutboxOrder(t, open(t)) })
	t.Run("OutboxMarks", func(t *testing.T) { testOutboxMarks(t, open(t)) })
	t.Run("OutboxMarkAll", func(t *testing.T) { testOutboxMarkAll(t, open) })
	t.Run("TxRollback", func(t *testing.T) { testTxRollback(t, open(t)) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, open(t)) })
}

// inTx runs fn in a store transaction, failing the test on an error.
func inTx(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.WithTx(context.Background(), fn); err != nil {
		t.Fatalf("WithTx: %v", err)
	}
}

func testCheckState(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if _, err := s.CheckState(ctx, "fresh"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CheckState before any run: error = %v, want ErrNotFound", err)
	}
	inTx(t, s, func(tx *store.Tx) error {
		got, err := tx.LockCheckState(ctx, "fresh")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, store.CheckState{CheckID: "fresh", Tags: []string{}}) {
			t.Errorf("LockCheckState of a new check = %+v, want the zero state", got)
		}
		return nil
	})
	// A locked but never saved check is still unknown.
	if _, err := s.CheckState(ctx, "fresh"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckState after a lock only: error = %v, want ErrNotFound", err)
	}

	want := store.CheckState{
		CheckID: "fresh", Kind: "freshness", Owner: "data-team", Runbook: "stale-load", Tags: []string{"team:data", "tier:1"},
		Status: checks.Fail, Since: base, NonPass: 3, Passes: 0, FailingSince: base.Add(-time.Minute),
		IncidentID: 42, LastRunID: 7, UpdatedAt: base.Add(time.Second),
	}
	inTx(t, s, func(tx *store.Tx) error { return tx.SaveCheckState(ctx, want) })
	got, err := s.CheckState(ctx, "fresh")
	if err != nil {
		t.Fatalf("CheckState: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CheckState round trip:\n got %+v\nwant %+v", got, want)
	}

	// Saving again replaces; zero ids and times come back zero.
	want = store.CheckState{CheckID: "fresh", Kind: "freshness", Tags: []string{}, Status: checks.Pass, Since: base, Passes: 1, UpdatedAt: base}
	inTx(t, s, func(tx *store.Tx) error { return tx.SaveCheckState(ctx, want) })
	inTx(t, s, func(tx *store.Tx) error {
		return tx.SaveCheckState(ctx, store.CheckState{CheckID: "another", Status: checks.Warn, UpdatedAt: base})
	})
	all, err := s.CheckStates(ctx)
	if err != nil {
		t.Fatalf("CheckStates: %v", err)
	}
	if len(all) != 2 || all[0].CheckID != "another" || !reflect.DeepEqual(all[1], want) {
		t.Errorf("CheckStates = %+v, want [another, %+v]", all, want)
	}
}

func openIncident(t *testing.T, s *store.Store, check string, at time.Time) store.Incident {
	t.Helper()
	var inc store.Incident
	inTx(t, s, func(tx *store.Tx) error {
		var err error
		inc, err = tx.OpenIncident(context.Background(), store.Incident{
			CheckID: check, Since: at.Add(-time.Minute), OpenedAt: at, OpenedStatus: checks.Fail,
			LastStatus: checks.Fail, LastViolations: 3, WorstViolations: 3, OpenedRunID: 1, LastRunID: 1,
		})
		return err
	})
	return inc
}

func testIncidents(t *testing.T, s *store.Store) {
	ctx := context.Background()
	inc := openIncident(t, s, "dlq", base)
	want := store.Incident{
		ID: inc.ID, CheckID: "dlq", Since: base.Add(-time.Minute), OpenedAt: base, OpenedStatus: checks.Fail,
		LastStatus: checks.Fail, LastViolations: 3, WorstViolations: 3, OpenedRunID: 1, LastRunID: 1,
	}
	if !reflect.DeepEqual(inc, want) {
		t.Errorf("OpenIncident =\n %+v\nwant\n %+v", inc, want)
	}
	if !inc.Open() || inc.Acked() || inc.CheckBroken() || inc.Announced() {
		t.Errorf("new incident: open %v acked %v broken %v announced %v; want true false false false", inc.Open(), inc.Acked(), inc.CheckBroken(), inc.Announced())
	}

	err := s.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.OpenIncident(ctx, store.Incident{CheckID: "dlq", OpenedAt: base, OpenedStatus: checks.Error})
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second open incident for one check: error = %v, want ErrConflict", err)
	}

	tests := []struct {
		name       string
		status     checks.Status
		violations int
		worst      int
	}{
		{name: "more violations raise the worst", status: checks.Fail, violations: 9, worst: 9},
		{name: "fewer keep the worst", status: checks.Error, violations: 0, worst: 9},
		{name: "warn is noted", status: checks.Warn, violations: 1, worst: 9},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runID := int64(10 + i)
			inTx(t, s, func(tx *store.Tx) error {
				got, err := tx.NoteIncidentRun(ctx, inc.ID, runID, tt.status, tt.violations)
				if err != nil {
					return err
				}
				if got.LastStatus != tt.status || got.LastViolations != tt.violations || got.WorstViolations != tt.worst || got.LastRunID != runID || !got.Open() {
					t.Errorf("NoteIncidentRun = %+v, want last %s/%d, worst %d, run %d, open", got, tt.status, tt.violations, tt.worst, runID)
				}
				return nil
			})
		})
	}

	t.Run("notified compare-and-set", func(t *testing.T) {
		inTx(t, s, func(tx *store.Tx) error {
			ok, err := tx.MarkIncidentNotified(ctx, inc.ID, time.Time{}, base.Add(time.Minute))
			if err != nil || !ok {
				t.Errorf("first MarkIncidentNotified = %v, %v; want true", ok, err)
			}
			ok, err = tx.MarkIncidentNotified(ctx, inc.ID, time.Time{}, base.Add(2*time.Minute))
			if err != nil || ok {
				t.Errorf("MarkIncidentNotified with a stale previous time = %v, %v; want false", ok, err)
			}
			ok, err = tx.MarkIncidentNotified(ctx, inc.ID, base.Add(time.Minute), base.Add(3*time.Minute))
			if err != nil || !ok {
				t.Errorf("MarkIncidentNotified with the current time = %v, %v; want true", ok, err)
			}
			return nil
		})
		got, err := s.Incident(ctx, inc.ID)
		if err != nil || !got.NotifiedAt.Equal(base.Add(3*time.Minute)) || !got.Announced() {
			t.Errorf("Incident = %+v, %v; want notified at %v", got, err, base.Add(3*time.Minute))
		}
	})

	resolvedAt := base.Add(time.Hour)
	inTx(t, s, func(tx *store.Tx) error {
		got, err := tx.ResolveIncident(ctx, inc.ID, 20, resolvedAt)
		if err != nil {
			return err
		}
		if got.Open() || !got.ResolvedAt.Equal(resolvedAt) || got.ResolvedRunID != 20 || got.LastStatus != checks.Pass || got.LastViolations != 0 || got.WorstViolations != 9 {
			t.Errorf("ResolveIncident = %+v, want resolved at %v by run 20, worst 9", got, resolvedAt)
		}
		return nil
	})

	t.Run("resolved and unknown incidents", func(t *testing.T) {
		err := s.WithTx(ctx, func(tx *store.Tx) error {
			_, err := tx.NoteIncidentRun(ctx, inc.ID, 21, checks.Fail, 1)
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("NoteIncidentRun on a resolved incident: error = %v, want ErrConflict", err)
		}
		err = s.WithTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ResolveIncident(ctx, 1<<40, 21, resolvedAt)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ResolveIncident on an unknown incident: error = %v, want ErrNotFound", err)
		}
		inTx(t, s, func(tx *store.Tx) error {
			ok, err := tx.MarkIncidentNotified(ctx, inc.ID, base.Add(3*time.Minute), base.Add(4*time.Hour))
			if err != nil || ok {
				t.Errorf("MarkIncidentNotified on a resolved incident = %v, %v; want false", ok, err)
			}
			return nil
		})
		if _, err := s.Incident(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Incident(unknown) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("query", func(t *testing.T) {
		second := openIncident(t, s, "dlq", base.Add(2*time.Hour)) // a check may open again once resolved
		other := openIncident(t, s, "fresh", base.Add(3*time.Hour))
		tests := []struct {
			name string
			q    store.IncidentQuery
			want []int64
		}{
			{name: "all, newest first", q: store.IncidentQuery{}, want: []int64{other.ID, second.ID, inc.ID}},
			{name: "one check", q: store.IncidentQuery{CheckID: "dlq"}, want: []int64{second.ID, inc.ID}},
			{name: "open only", q: store.IncidentQuery{OpenOnly: true}, want: []int64{other.ID, second.ID}},
			{name: "open for one check", q: store.IncidentQuery{OpenOnly: true, CheckID: "dlq"}, want: []int64{second.ID}},
			{name: "resolved only", q: store.IncidentQuery{ResolvedOnly: true}, want: []int64{inc.ID}},
			{name: "page", q: store.IncidentQuery{Limit: 1, Before: other.ID}, want: []int64{second.ID}},
			{name: "unknown check", q: store.IncidentQuery{CheckID: "nope"}, want: []int64{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Incidents(ctx, tt.q)
				if err != nil {
					t.Fatalf("Incidents: %v", err)
				}
				gotIDs := []int64{}
				for _, i := range got {
					gotIDs = append(gotIDs, i.ID)
				}
				if !slices.Equal(gotIDs, tt.want) {
					t.Errorf("Incidents(%+v) = %v, want %v", tt.q, gotIDs, tt.want)
				}
			})
		}
	})
}

func testAck(t *testing.T, s *store.Store) {
	ctx := context.Background()
	inc := openIncident(t, s, "policies", base)
	tests := []struct {
		name    string
		id      int64
		who     string
		note    string
		wantErr error
	}{
		{name: "who is required", id: inc.ID, who: "", wantErr: store.ErrInvalid},
		{name: "unknown incident", id: 1 << 40, who: "alice", wantErr: store.ErrNotFound},
		{name: "ack with a note", id: inc.ID, who: "alice", note: "looking — 🚒"},
		{name: "a later ack replaces it", id: inc.ID, who: "bob", note: "taking over"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := base.Add(time.Duration(i) * time.Minute)
			got, err := s.AckIncident(ctx, tt.id, tt.who, tt.note, at)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("AckIncident error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("AckIncident: %v", err)
			}
			if got.AckedBy != tt.who || got.AckNote != tt.note || !got.AckedAt.Equal(at) || !got.Acked() {
				t.Errorf("AckIncident = %+v, want acked by %s at %v with note %q", got, tt.who, at, tt.note)
			}
			stored, err := s.Incident(ctx, tt.id)
			if err != nil || !reflect.DeepEqual(stored, got) {
				t.Errorf("Incident after ack = %+v, %v; want %+v", stored, err, got)
			}
		})
	}
	inTx(t, s, func(tx *store.Tx) error {
		_, err := tx.ResolveIncident(ctx, inc.ID, 2, base.Add(time.Hour))
		return err
	})
	if _, err := s.AckIncident(ctx, inc.ID, "carol", "", base.Add(2*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AckIncident on a resolved incident: error = %v, want ErrConflict", err)
	}
}

func testSilences(t *testing.T, s *store.Store) {
	ctx := context.Background()
	invalid := []struct {
		name string
		in   store.Silence
	}{
		{name: "no reason", in: store.Silence{Matcher: "dlq", Until: base.Add(time.Hour), Author: "alice", CreatedAt: base}},
		{name: "blank reason", in: store.Silence{Matcher: "dlq", Until: base.Add(time.Hour), Author: "alice", Reason: "  ", CreatedAt: base}},
		{name: "no author", in: store.Silence{Matcher: "dlq", Until: base.Add(time.Hour), Reason: "deploy", CreatedAt: base}},
		{name: "no matcher", in: store.Silence{Until: base.Add(time.Hour), Author: "alice", Reason: "deploy", CreatedAt: base}},
		{name: "until in the past", in: store.Silence{Matcher: "dlq", Until: base.Add(-time.Second), Author: "alice", Reason: "deploy", CreatedAt: base}},
		{name: "until now", in: store.Silence{Matcher: "dlq", Until: base, Author: "alice", Reason: "deploy", CreatedAt: base}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := s.CreateSilence(ctx, tt.in); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("CreateSilence = %+v, %v; want ErrInvalid", got, err)
			}
		})
	}

	byCheck, err := s.CreateSilence(ctx, store.Silence{Matcher: "dlq", Until: base.Add(time.Hour), Author: "alice", Reason: "redrive in progress", CreatedAt: base})
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}
	want := store.Silence{ID: byCheck.ID, Matcher: "dlq", StartsAt: base, Until: base.Add(time.Hour), Author: "alice", Reason: "redrive in progress", CreatedAt: base}
	if !reflect.DeepEqual(byCheck, want) {
		t.Errorf("CreateSilence = %+v, want %+v", byCheck, want)
	}
	byTag, err := s.CreateSilence(ctx, store.Silence{Matcher: "team:policy", Until: base.Add(2 * time.Hour), Author: "bob", Reason: "migration", CreatedAt: base})
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}
	ended, err := s.CreateSilence(ctx, store.Silence{Matcher: "fresh", Until: base.Add(3 * time.Hour), Author: "carol", Reason: "backfill", CreatedAt: base})
	if err != nil {
		t.Fatalf("CreateSilence: %v", err)
	}
	ended, err = s.ExpireSilence(ctx, ended.ID, "dave", base.Add(time.Minute))
	if err != nil {
		t.Fatalf("ExpireSilence: %v", err)
	}
	if ended.ExpiredBy != "dave" || !ended.ExpiredAt.Equal(base.Add(time.Minute)) || ended.Author != "carol" {
		t.Errorf("ExpireSilence = %+v, want ended by dave at %v, author carol kept", ended, base.Add(time.Minute))
	}

	t.Run("matches", func(t *testing.T) {
		if !byCheck.Matches("dlq", nil) || byCheck.Matches("dlq-2", []string{"dlq-x"}) {
			t.Errorf("a check-id silence must match that id only")
		}
		if !byTag.Matches("missing-endorsements", []string{"tier:1", "team:policy"}) || byTag.Matches("team:policy-x", []string{"team:policy-x"}) {
			t.Errorf("a tag silence must match checks carrying the tag only")
		}
	})

	active := []struct {
		name string
		at   time.Time
		want []int64
	}{
		{name: "at creation", at: base, want: []int64{byCheck.ID, byTag.ID}},
		{name: "just before the first ends", at: base.Add(time.Hour - time.Nanosecond), want: []int64{byCheck.ID, byTag.ID}},
		{name: "when the first ends", at: base.Add(time.Hour), want: []int64{byTag.ID}},
		{name: "after all", at: base.Add(5 * time.Hour), want: []int64{}},
	}
	for _, tt := range active {
		t.Run("active "+tt.name, func(t *testing.T) {
			got, err := s.ActiveSilences(ctx, tt.at)
			if err != nil {
				t.Fatalf("ActiveSilences: %v", err)
			}
			if ids := silenceIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("ActiveSilences(%v) = %v, want %v", tt.at, ids, tt.want)
			}
			for _, sl := range got {
				if !sl.Active(tt.at) {
					t.Errorf("silence %d listed active but Active(%v) = false", sl.ID, tt.at)
				}
			}
			var inTxIDs []int64
			inTx(t, s, func(tx *store.Tx) error {
				got, err := tx.ActiveSilences(ctx, tt.at)
				inTxIDs = silenceIDs(got)
				return err
			})
			if !slices.Equal(inTxIDs, tt.want) {
				t.Errorf("Tx.ActiveSilences(%v) = %v, want %v", tt.at, inTxIDs, tt.want)
			}
		})
	}

	t.Run("expire errors", func(t *testing.T) {
		for _, c := range []struct {
			id      int64
			who     string
			at      time.Time
			wantErr error
		}{
			{id: ended.ID, who: "erin", at: base.Add(2 * time.Minute), wantErr: store.ErrConflict},
			{id: byCheck.ID, who: "erin", at: base.Add(time.Hour), wantErr: store.ErrConflict}, // ran out by itself
			{id: 1 << 40, who: "erin", at: base, wantErr: store.ErrNotFound},
			{id: byTag.ID, who: "", at: base, wantErr: store.ErrInvalid},
		} {
			if _, err := s.ExpireSilence(ctx, c.id, c.who, c.at); !errors.Is(err, c.wantErr) {
				t.Errorf("ExpireSilence(%d, %q, %v) error = %v, want %v", c.id, c.who, c.at, err, c.wantErr)
			}
		}
	})

	t.Run("history keeps every silence", func(t *testing.T) {
		got, err := s.Silences(ctx, 0, 0)
		if err != nil {
			t.Fatalf("Silences: %v", err)
		}
		if ids := silenceIDs(got); !slices.Equal(ids, []int64{ended.ID, byTag.ID, byCheck.ID}) {
			t.Errorf("Silences = %v, want %v newest first", ids, []int64{ended.ID, byTag.ID, byCheck.ID})
		}
		page, err := s.Silences(ctx, ended.ID, 1)
		if err != nil || len(page) != 1 || page[0].ID != byTag.ID {
			t.Errorf("Silences(before %d, 1) = %v, %v; want [%d]", ended.ID, silenceIDs(page), err, byTag.ID)
		}
		one, err := s.Silence(ctx, ended.ID)
		if err != nil || !reflect.DeepEqual(one, ended) {
			t.Errorf("Silence(%d) = %+v, %v; want %+v", ended.ID, one, err, ended)
		}
		if _, err := s.Silence(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Silence(unknown) error = %v, want ErrNotFound", err)
		}
	})

	t.Run("natural expiry is claimed once; an early end never", func(t *testing.T) {
		expired, err := s.ExpiredSilences(ctx, base.Add(90*time.Minute))
		if err != nil {
			t.Fatalf("ExpiredSilences: %v", err)
		}
		if ids := silenceIDs(expired); !slices.Equal(ids, []int64{byCheck.ID}) {
			t.Fatalf("ExpiredSilences = %v, want [%d] (not the one ended early)", ids, byCheck.ID)
		}
		var first, second bool
		inTx(t, s, func(tx *store.Tx) error {
			var err error
			if first, err = tx.ClaimSilenceExpiry(ctx, byCheck.ID); err != nil {
				return err
			}
			second, err = tx.ClaimSilenceExpiry(ctx, byCheck.ID)
			return err
		})
		if !first || second {
			t.Errorf("ClaimSilenceExpiry twice = %v, %v; want true, false", first, second)
		}
		expired, err = s.ExpiredSilences(ctx, base.Add(5*time.Hour))
		if err != nil {
			t.Fatalf("ExpiredSilences: %v", err)
		}
		if ids := silenceIDs(expired); !slices.Equal(ids, []int64{byTag.ID}) {
			t.Errorf("ExpiredSilences later = %v, want [%d]", ids, byTag.ID)
		}
	})
}

func silenceIDs(list []store.Silence) []int64 {
	out := []int64{}
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func enqueue(t *testing.T, s *store.Store, check string, kind store.OutboxKind, at time.Time) int64 {
	t.Helper()
	payload, _ := json.Marshal(map[string]string{"check": check, "kind": string(kind)})
	id, err := s.EnqueueOutbox(context.Background(), store.OutboxMessage{CheckID: check, Kind: kind, Payload: payload, CreatedAt: at})
	if err != nil {
		t.Fatalf("EnqueueOutbox: %v", err)
	}
	return id
}

func nextIDs(t *testing.T, s *store.Store, now time.Time, limit int) []int64 {
	t.Helper()
	msgs, err := s.NextOutbox(context.Background(), now, limit)
	if err != nil {
		t.Fatalf("NextOutbox: %v", err)
	}
	out := []int64{}
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func testOutboxOrder(t *testing.T, s *store.Store) {
	ctx := context.Background()
	a1 := enqueue(t, s, "a", store.OutboxOpened, base)
	b1 := enqueue(t, s, "b", store.OutboxOpened, base)
	a2 := enqueue(t, s, "a", store.OutboxResolved, base)
	later := enqueue(t, s, "c", store.OutboxOpened, base.Add(time.Hour)) // not due until then

	steps := []struct {
		name string
		do   func(t *testing.T)
		now  time.Time
		want []int64
	}{
		{name: "all due in id order", now: base, want: []int64{a1, b1, a2}},
		{name: "a's first fails: a's second waits behind it", now: base.Add(time.Second),
			do: func(t *testing.T) {
				if err := s.MarkFailed(ctx, a1, base.Add(time.Minute), errors.New("slack: 503")); err != nil {
					t.Fatalf("MarkFailed: %v", err)
				}
			},
			want: []int64{b1}},
		{name: "b delivered", now: base.Add(2 * time.Second),
			do: func(t *testing.T) {
				if err := s.MarkDelivered(ctx, b1, base.Add(time.Second)); err != nil {
					t.Fatalf("MarkDelivered: %v", err)
				}
			},
			want: []int64{}},
		{name: "retry time reached: a's messages come back in order", now: base.Add(time.Minute), want: []int64{a1, a2}},
		{name: "limit keeps a prefix", now: base.Add(time.Minute), want: []int64{a1}},
		{name: "a's first delivered", now: base.Add(2 * time.Hour),
			do: func(t *testing.T) {
				if err := s.MarkDelivered(ctx, a1, base.Add(time.Minute)); err != nil {
					t.Fatalf("MarkDelivered: %v", err)
				}
			},
			want: []int64{a2, later}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do(t)
			}
			limit := 0
			if st.name == "limit keeps a prefix" {
				limit = 1
			}
			if got := nextIDs(t, s, st.now, limit); !slices.Equal(got, st.want) {
				t.Errorf("NextOutbox(%v) = %v, want %v", st.now, got, st.want)
			}
		})
	}
	n, err := s.OutboxBacklog(ctx)
	if err != nil || n != 2 {
		t.Errorf("OutboxBacklog = %d, %v; want 2", n, err)
	}
}

func testOutboxMarks(t *testing.T, s *store.Store) {
	ctx := context.Background()
	payload := json.RawMessage(`{"kind":"opened","check":"dlq","sample_keys":["q-1"]}`)
	id, err := s.EnqueueOutbox(ctx, store.OutboxMessage{CheckID: "dlq", IncidentID: 9, Kind: store.OutboxOpened, Payload: payload, CreatedAt: base})
	if err != nil {
		t.Fatalf("EnqueueOutbox: %v", err)
	}
	got, err := s.OutboxMessage(ctx, id)
	if err != nil {
		t.Fatalf("OutboxMessage: %v", err)
	}
	want := store.OutboxMessage{ID: id, CheckID: "dlq", IncidentID: 9, Kind: store.OutboxOpened, Payload: payload, CreatedAt: base, NextAttemptAt: base}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OutboxMessage =\n %+v\nwant\n %+v", got, want)
	}

	secret := errors.New(`post "https://user:hunter2@hooks.example/x": connection refused`)
	if err := s.MarkFailed(ctx, id, base.Add(time.Minute), secret); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	if err := s.MarkFailed(ctx, id, base.Add(3*time.Minute), errors.New("429 retry after 120s")); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	got, _ = s.OutboxMessage(ctx, id)
	if got.Attempts != 2 || got.LastError != "429 retry after 120s" || !got.NextAttemptAt.Equal(base.Add(3*time.Minute)) {
		t.Errorf("after two failures = %+v, want 2 attempts, the last error, next attempt at %v", got, base.Add(3*time.Minute))
	}
	if err := s.MarkDelivered(ctx, id, base.Add(4*time.Minute)); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	if err := s.MarkDelivered(ctx, id, base.Add(5*time.Minute)); err != nil {
		t.Errorf("MarkDelivered again = %v, want nil (idempotent)", err)
	}
	got, _ = s.OutboxMessage(ctx, id)
	if got.Attempts != 3 || !got.DeliveredAt.Equal(base.Add(4*time.Minute)) {
		t.Errorf("after delivery = %+v, want 3 attempts, delivered at %v", got, base.Add(4*time.Minute))
	}

	t.Run("redaction", func(t *testing.T) {
		id := enqueue(t, s, "redact", store.OutboxOpened, base)
		if err := s.MarkFailed(ctx, id, base.Add(time.Minute), secret); err != nil {
			t.Fatalf("MarkFailed: %v", err)
		}
		got, _ := s.OutboxMessage(ctx, id)
		if strings.Contains(got.LastError, "hunter2") || !strings.Contains(got.LastError, "connection refused") {
			t.Errorf("LastError = %q, want the cause without the password", got.LastError)
		}
	})

	errs := []struct {
		name    string
		err     error
		wantErr error
	}{
		{name: "fail a delivered message", err: s.MarkFailed(ctx, id, base, errors.New("x")), wantErr: store.ErrConflict},
		{name: "fail an unknown message", err: s.MarkFailed(ctx, 1<<40, base, errors.New("x")), wantErr: store.ErrNotFound},
		{name: "deliver an unknown message", err: s.MarkDelivered(ctx, 1<<40, base), wantErr: store.ErrNotFound},
		{name: "unknown message", err: func() error { _, err := s.OutboxMessage(ctx, 1<<40); return err }(), wantErr: store.ErrNotFound},
		{name: "payload not JSON", err: func() error {
			_, err := s.EnqueueOutbox(ctx, store.OutboxMessage{CheckID: "dlq", Kind: store.OutboxOpened, Payload: []byte("{nope")})
			return err
		}(), wantErr: store.ErrInvalid},
		{name: "no check", err: func() error {
			_, err := s.EnqueueOutbox(ctx, store.OutboxMessage{Kind: store.OutboxOpened, Payload: []byte("{}")})
			return err
		}(), wantErr: store.ErrInvalid},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.wantErr) {
				t.Errorf("error = %v, want %v", tt.err, tt.wantErr)
			}
		})
	}
}

// testTxRollback: nothing written in a failed transaction survives.
func testTxRollback(t *testing.T, s *store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.LockCheckState(ctx, "rolled"); err != nil {
			return err
		}
		if _, err := tx.RecordResult(ctx, result("rolled", checks.Fail, "k")); err != nil {
			return err
		}
		if err := tx.SaveCheckState(ctx, store.CheckState{CheckID: "rolled", Status: checks.Fail, NonPass: 1}); err != nil {
			return err
		}
		if _, err := tx.OpenIncident(ctx, store.Incident{CheckID: "rolled", OpenedAt: base, OpenedStatus: checks.Fail}); err != nil {
			return err
		}
		if _, err := tx.EnqueueOutbox(ctx, store.OutboxMessage{CheckID: "rolled", Kind: store.OutboxOpened, Payload: []byte("{}")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx error = %v, want boom", err)
	}
	if _, err := s.LatestResult(ctx, "rolled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("run survived a rollback: %v", err)
	}
	if _, err := s.CheckState(ctx, "rolled"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("check state survived a rollback: %v", err)
	}
	if got, err := s.Incidents(ctx, store.IncidentQuery{CheckID: "rolled"}); err != nil || len(got) != 0 {
		t.Errorf("incidents after a rollback = %v, %v; want none", got, err)
	}
	if n, err := s.OutboxBacklog(ctx); err != nil || n != 0 {
		t.Errorf("outbox after a rollback = %d, %v; want 0", n, err)
	}
}

func testPrune(t *testing.T, s *store.Store) {
	ctx := context.Background()
	h0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	run := func(check string, at time.Time, status checks.Status, violations int, keys ...string) int64 {
		t.Helper()
		return record(t, s, checks.Result{Check: check, Kind: "sql", Status: status, Violations: violations, Keys: keys, StartedAt: at, Duration: time.Second})
	}
	// Check "a": two old hours, then recent runs. Check "b": one old run, its latest.
	old := []int64{
		run("a", h0.Add(1*time.Minute), checks.Pass, 0),
		run("a", h0.Add(20*time.Minute), checks.Fail, 5, "k1", "k2", "k3", "k4", "k5"),
		run("a", h0.Add(40*time.Minute), checks.Error, 0),
		run("a", h0.Add(65*time.Minute), checks.Warn, 1, "k1"),
		run("a", h0.Add(70*time.Minute), checks.Fail, 2, "k1", "k2"),
		run("a", h0.Add(80*time.Minute), "weird", 0),
	}
	bLatest := run("b", h0.Add(5*time.Minute), checks.Fail, 7, "x")
	recent := run("a", h0.Add(48*time.Hour), checks.Pass, 0)
	noStart := record(t, s, checks.Result{Check: "a", Kind: "sql", Status: checks.Fail, Violations: 1, Keys: []string{"z"}})
	aLatest := run("a", h0.Add(49*time.Hour), checks.Pass, 0)

	// Delivered and pending alerts.
	delivered := enqueue(t, s, "a", store.OutboxOpened, h0)
	if err := s.MarkDelivered(ctx, delivered, h0.Add(time.Minute)); err != nil {
		t.Fatalf("MarkDelivered: %v", err)
	}
	pending := enqueue(t, s, "a", store.OutboxResolved, h0)

	if _, err := s.Prune(ctx, h0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Prune with raw 0: error = %v, want ErrInvalid", err)
	}

	now := h0.Add(24 * time.Hour)
	// First a cut-off inside the first hour, then the rest: the hour's
	// rollup must add up across both.
	st, err := s.Prune(ctx, h0.Add(40*time.Minute), 10*time.Minute)
	if err != nil {
		t.Fatalf("Prune (partial hour): %v", err)
	}
	if want := (store.PruneStats{Runs: 2, Keys: 5, Rollups: 1, Outbox: 1}); st != want {
		t.Errorf("Prune (partial hour) = %+v, want %+v", st, want)
	}
	st, err = s.Prune(ctx, now, 12*time.Hour)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	want := store.PruneStats{Runs: 4, Keys: 3, Rollups: 2}
	if st != want {
		t.Errorf("Prune = %+v, want %+v", st, want)
	}

	got, err := s.Rollups(ctx, "a", time.Time{}, time.Time{})
	if err != nil {
		t.Fatalf("Rollups: %v", err)
	}
	wantRollups := []store.Rollup{
		{CheckID: "a", Hour: h0, Pass: 1, Fail: 1, Error: 1, MaxViolations: 5, Duration: 3 * time.Second},
		{CheckID: "a", Hour: h0.Add(time.Hour), Warn: 1, Fail: 1, Error: 1, MaxViolations: 2, Duration: 3 * time.Second},
	}
	if !reflect.DeepEqual(got, wantRollups) {
		t.Errorf("Rollups(a) =\n %+v\nwant\n %+v", got, wantRollups)
	}
	if got[0].Runs() != 3 {
		t.Errorf("Runs() = %d, want 3", got[0].Runs())
	}
	if got, err := s.Rollups(ctx, "a", h0.Add(time.Hour), h0.Add(2*time.Hour)); err != nil || len(got) != 1 || !got[0].Hour.Equal(h0.Add(time.Hour)) {
		t.Errorf("Rollups(a, [h1, h2)) = %+v, %v; want the second hour only", got, err)
	}
	if got, err := s.Rollups(ctx, "b", time.Time{}, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("Rollups(b) = %+v, %v; want none (its only run is its latest)", got, err)
	}

	for _, id := range old {
		if _, err := s.RunKeys(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old run %d still there (err %v)", id, err)
		}
	}
	for _, id := range []int64{bLatest, recent, noStart, aLatest} {
		if _, err := s.RunKeys(ctx, id); err != nil {
			t.Errorf("run %d should be kept: %v", id, err)
		}
	}
	if _, err := s.OutboxMessage(ctx, delivered); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old delivered alert kept (err %v)", err)
	}
	if _, err := s.OutboxMessage(ctx, pending); err != nil {
		t.Errorf("undelivered alert deleted: %v", err)
	}

	st, err = s.Prune(ctx, now, 12*time.Hour)
	if err != nil || st != (store.PruneStats{}) {
		t.Errorf("second Prune = %+v, %v; want nothing to do", st, err)
	}

	t.Run("many runs in batches", func(t *testing.T) {
		const n = 1203
		for i := range n {
			record(t, s, checks.Result{Check: fmt.Sprintf("bulk-%d", i%3), Kind: "sql", Status: checks.Fail, Violations: i,
				StartedAt: h0.Add(time.Duration(i) * time.Second), Keys: []string{"k"}})
		}
		st, err := s.Prune(ctx, now, 12*time.Hour)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if st.Runs != n-3 || st.Keys != n-3 {
			t.Errorf("Prune = %+v, want %d runs and keys (all but each check's latest)", st, n-3)
		}
		total := 0
		for c := range 3 {
			rs, err := s.Rollups(ctx, fmt.Sprintf("bulk-%d", c), time.Time{}, time.Time{})
			if err != nil {
				t.Fatalf("Rollups: %v", err)
			}
			for _, r := range rs {
				total += r.Runs()
			}
		}
		if total != n-3 {
			t.Errorf("rollups count %d runs, want %d", total, n-3)
		}
	})
}
