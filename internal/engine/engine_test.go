package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/store"
)

var statusOf = map[byte]checks.Status{'p': checks.Pass, 'w': checks.Warn, 'f': checks.Fail, 'e': checks.Error, '?': "weird"}

// TestStateMachine drives Record with sequences of statuses (p pass, w
// warn, f fail, e error, ? unknown) and checks each run's transition (.
// none, O opened, R resolved), the alerts enqueued, and the incidents.
func TestStateMachine(t *testing.T) {
	tests := []struct {
		name                    string
		failAfter, resolveAfter int
		runs                    string
		want                    string
		openedBy                []checks.Status // OpenedStatus of each incident, oldest first
	}{
		{name: "fail_after 1 opens on the first fail", failAfter: 1, resolveAfter: 1, runs: "ppfp", want: "..OR", openedBy: []checks.Status{checks.Fail}},
		{name: "error opens as check broken", failAfter: 1, resolveAfter: 1, runs: "ep", want: "OR", openedBy: []checks.Status{checks.Error}},
		{name: "unknown status counts as error", failAfter: 1, resolveAfter: 1, runs: "?p", want: "OR", openedBy: []checks.Status{checks.Error}},
		{name: "fail_after 2 needs two in a row", failAfter: 2, resolveAfter: 1, runs: "fpffp", want: "...OR", openedBy: []checks.Status{checks.Fail}},
		{name: "fail and error count together; the opening run names it", failAfter: 2, resolveAfter: 1, runs: "fe", want: ".O", openedBy: []checks.Status{checks.Error}},
		{name: "error then fail is data broken", failAfter: 2, resolveAfter: 1, runs: "ef", want: ".O", openedBy: []checks.Status{checks.Fail}},
		{name: "fail_after 3", failAfter: 3, resolveAfter: 1, runs: "fffff", want: "..O..", openedBy: []checks.Status{checks.Fail}},
		{name: "resolve_after 2 needs two passes in a row", failAfter: 1, resolveAfter: 2, runs: "fpfpp", want: "O...R", openedBy: []checks.Status{checks.Fail}},
		{name: "resolve_after 3", failAfter: 1, resolveAfter: 3, runs: "fpppp", want: "O..R.", openedBy: []checks.Status{checks.Fail}},
		{name: "warn never opens", failAfter: 1, resolveAfter: 1, runs: "wwww", want: "...."},
		{name: "warn breaks a non-pass streak", failAfter: 2, resolveAfter: 1, runs: "fwfwf", want: "....."},
		{name: "warn never resolves", failAfter: 1, resolveAfter: 1, runs: "fwwp", want: "O..R", openedBy: []checks.Status{checks.Fail}},
		{name: "warn breaks a pass streak", failAfter: 1, resolveAfter: 2, runs: "fpwpp", want: "O...R", openedBy: []checks.Status{checks.Fail}},
		{name: "reopens after resolving", failAfter: 1, resolveAfter: 1, runs: "fpep", want: "OROR", openedBy: []checks.Status{checks.Fail, checks.Error}},
		{name: "zero thresholds mean 1", failAfter: 0, resolveAfter: 0, runs: "fp", want: "OR", openedBy: []checks.Status{checks.Fail}},
		{name: "flapping is damped", failAfter: 2, resolveAfter: 2, runs: "fpfpfp", want: "......"},
		{name: "stays open through fail and error", failAfter: 1, resolveAfter: 2, runs: "fefepp", want: "O....R", openedBy: []checks.Status{checks.Fail}},
	}
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
			ctx := context.Background()
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := info(fmt.Sprintf("sm-%d", i), tt.failAfter, tt.resolveAfter)
					var got strings.Builder
					var firstNonPass time.Time
					for j := range len(tt.runs) {
						now := clk.Advance(time.Minute)
						status := statusOf[tt.runs[j]]
						if status == checks.Pass || status == checks.Warn {
							firstNonPass = time.Time{}
						} else if firstNonPass.IsZero() {
							firstNonPass = now
						}
						ev := record(t, e, c, result(status, j))
						got.WriteByte(".OR"[ev.Transition.Kind])
						if ev.Transition.Kind == engine.Opened {
							inc := ev.Transition.Incident
							if !inc.Since.Equal(firstNonPass) || !inc.OpenedAt.Equal(now) || inc.OpenedRunID != ev.RunID || !inc.Open() {
								t.Errorf("run %d opened %+v; want since %v, opened at %v by run %d", j, inc, firstNonPass, now, ev.RunID)
							}
						}
						if ev.Transition.Kind == engine.Resolved && (!ev.Transition.Incident.ResolvedAt.Equal(now) || ev.Transition.Incident.ResolvedRunID != ev.RunID) {
							t.Errorf("run %d resolved %+v; want resolved at %v by run %d", j, ev.Transition.Incident, now, ev.RunID)
						}
					}
					if got.String() != tt.want {
						t.Errorf("transitions for %q = %q, want %q", tt.runs, got.String(), tt.want)
					}

					var wantKinds []store.OutboxKind
					for _, ch := range tt.want {
						switch ch {
						case 'O':
							wantKinds = append(wantKinds, store.OutboxOpened)
						case 'R':
							wantKinds = append(wantKinds, store.OutboxResolved)
						}
					}
					if gotKinds := kinds(outbox(t, s, clk.Now(), c.ID)); !slices.Equal(gotKinds, append([]store.OutboxKind{}, wantKinds...)) {
						t.Errorf("alerts = %v, want %v", gotKinds, wantKinds)
					}

					incs, err := s.Incidents(ctx, store.IncidentQuery{CheckID: c.ID})
					if err != nil {
						t.Fatalf("Incidents: %v", err)
					}
					var opened []checks.Status
					for _, inc := range slices.Backward(incs) {
						opened = append(opened, inc.OpenedStatus)
					}
					if !slices.Equal(opened, tt.openedBy) {
						t.Errorf("incidents opened by %v, want %v", opened, tt.openedBy)
					}
					st, err := s.CheckState(ctx, c.ID)
					if err != nil {
						t.Fatalf("CheckState: %v", err)
					}
					last := statusOf[tt.runs[len(tt.runs)-1]]
					wantOpen := len(incs) > 0 && incs[0].Open()
					if st.Status != last || (st.IncidentID != 0) != wantOpen || (wantOpen && st.IncidentID != incs[0].ID) {
						t.Errorf("state = %+v, want status %s and open incident %v", st, last, wantOpen)
					}
				})
			}
		})
	}
}

// TestIncidentTracksRuns: an open incident follows its check's runs (last
// status, worst count), the check's state keeps its streaks, and each
// event carries the key changes against the previous run.
func TestIncidentTracksRuns(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			rec := &recorder{name: "rec"}
			e := engine.New(s, []engine.Sink{rec}, engine.Options{Now: clk.Now, Outbox: true})
			c := info("endorsements", 2, 1, "team:policy")

			clk.Advance(time.Minute)
			ev := record(t, e, c, checks.Result{Status: checks.Fail, Violations: 2, Keys: []string{"b", "a"}})
			if ev.Transition.Kind != engine.None || !slices.Equal(ev.Changes.New, []string{"a", "b"}) {
				t.Errorf("first run: %v, changes %+v; want no transition, a and b new", ev.Transition.Kind, ev.Changes)
			}
			firstFail := clk.Now()
			clk.Advance(time.Minute)
			ev = record(t, e, c, checks.Result{Status: checks.Fail, Violations: 7, Keys: []string{"b", "c"}})
			want := store.KeyChanges{New: []string{"c"}, Still: []string{"b"}, Fixed: []string{"a"}, Unknown: []string{}}
			if ev.Transition.Kind != engine.Opened || !reflect.DeepEqual(ev.Changes, want) {
				t.Errorf("second run: %v, changes %+v; want opened, changes %+v", ev.Transition.Kind, ev.Changes, want)
			}
			clk.Advance(time.Minute)
			ev = record(t, e, c, result(checks.Error, 0))
			inc := ev.Transition.Incident
			if ev.Transition.Kind != engine.None || inc.LastStatus != checks.Error || inc.WorstViolations != 7 || inc.LastViolations != 0 || inc.OpenedStatus != checks.Fail || !inc.Since.Equal(firstFail) {
				t.Errorf("third run: %v %+v; want the open incident with last status error, worst 7, opened by fail since %v", ev.Transition.Kind, inc, firstFail)
			}
			st, err := s.CheckState(context.Background(), c.ID)
			if err != nil {
				t.Fatalf("CheckState: %v", err)
			}
			wantState := store.CheckState{CheckID: c.ID, Kind: "sql", Owner: "policy-team", Runbook: c.ID, Tags: []string{"team:policy"},
				Status: checks.Error, Since: clk.Now(), NonPass: 3, FailingSince: firstFail, IncidentID: inc.ID, LastRunID: ev.RunID, UpdatedAt: clk.Now()}
			if !reflect.DeepEqual(st, wantState) {
				t.Errorf("CheckState =\n %+v\nwant\n %+v", st, wantState)
			}
			if got := len(rec.Events()); got != 3 {
				t.Errorf("sink saw %d events, want 3", got)
			}
		})
	}
}

// TestAlertMessage: the opened alert carries what Slack needs.
func TestAlertMessage(t *testing.T) {
	s := openStore(t, "sqlite")
	clk := newClock()
	e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
	c := info("missing-endorsements", 1, 1, "team:policy")
	ev := record(t, e, c, result(checks.Fail, 8))
	msgs := outbox(t, s, clk.Now(), "")
	if len(msgs) != 1 {
		t.Fatalf("outbox = %v, want one message", kinds(msgs))
	}
	m, err := engine.DecodeMessage(msgs[0].Payload)
	if err != nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	want := engine.Message{
		Kind: store.OutboxOpened, Check: c.ID, CheckKind: "sql", Owner: "policy-team", Runbook: c.ID, Tags: []string{"team:policy"},
		IncidentID: ev.Transition.Incident.ID, Status: checks.Fail, OpenedStatus: checks.Fail, Violations: 8, WorstViolations: 8,
		SampleKeys: []string{"k0", "k1", "k2", "k3", "k4"}, RunID: ev.RunID, Since: t0, OpenedAt: t0, At: t0,
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("message =\n %+v\nwant\n %+v", m, want)
	}
	if msgs[0].IncidentID != want.IncidentID || msgs[0].CheckID != c.ID {
		t.Errorf("outbox row = %+v, want incident %d of %s", msgs[0], want.IncidentID, c.ID)
	}
}

func TestSilences(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
			ctx := context.Background()

			t.Run("validation", func(t *testing.T) {
				bad := []struct {
					name                    string
					matcher, author, reason string
					until                   time.Time
				}{
					{name: "no reason", matcher: "a", author: "alice", until: t0.Add(time.Hour)},
					{name: "no author", matcher: "a", reason: "deploy", until: t0.Add(time.Hour)},
					{name: "until in the past", matcher: "a", author: "alice", reason: "deploy", until: t0.Add(-time.Minute)},
					{name: "until now", matcher: "a", author: "alice", reason: "deploy", until: t0},
				}
				for _, tt := range bad {
					t.Run(tt.name, func(t *testing.T) {
						if _, err := e.Silence(ctx, tt.matcher, tt.until, tt.author, tt.reason); !errors.Is(err, engine.ErrInvalid) {
							t.Errorf("Silence error = %v, want ErrInvalid", err)
						}
					})
				}
			})

			if _, err := e.Silence(ctx, "dlq", t0.Add(time.Hour), "alice", "redrive running"); err != nil {
				t.Fatalf("Silence: %v", err)
			}
			if _, err := e.Silence(ctx, "team:policy", t0.Add(time.Hour), "bob", "policy db migration"); err != nil {
				t.Fatalf("Silence: %v", err)
			}
			tests := []struct {
				name     string
				check    engine.CheckInfo
				silenced bool
			}{
				{name: "by check id", check: info("dlq", 1, 1), silenced: true},
				{name: "by tag", check: info("endorsements", 1, 1, "tier:1", "team:policy"), silenced: true},
				{name: "other check", check: info("dlq-2", 1, 1), silenced: false},
				{name: "other tag", check: info("warehouse", 1, 1, "team:data"), silenced: false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ev := record(t, e, tt.check, result(checks.Fail, 1))
					if ev.Transition.Kind != engine.Opened || ev.Silenced != tt.silenced {
						t.Errorf("event: %v, silenced %v; want opened, silenced %v", ev.Transition.Kind, ev.Silenced, tt.silenced)
					}
					want := []store.OutboxKind{store.OutboxOpened}
					if tt.silenced {
						want = []store.OutboxKind{}
					}
					if got := kinds(outbox(t, s, clk.Now(), tt.check.ID)); !slices.Equal(got, want) {
						t.Errorf("alerts = %v, want %v", got, want)
					}
					// Resolving: only an announced incident says so.
					ev = record(t, e, tt.check, result(checks.Pass, 0))
					if ev.Transition.Kind != engine.Resolved {
						t.Fatalf("pass: %v, want resolved", ev.Transition.Kind)
					}
					if !tt.silenced {
						want = append(want, store.OutboxResolved)
					}
					if got := kinds(outbox(t, s, clk.Now(), tt.check.ID)); !slices.Equal(got, want) {
						t.Errorf("alerts after resolving = %v, want %v", got, want)
					}
				})
			}

			t.Run("an incident opened under a silence resolves quietly after it", func(t *testing.T) {
				c := info("never-told", 1, 1)
				sl, err := e.Silence(ctx, c.ID, clk.Now().Add(time.Hour), "carol", "known")
				if err != nil {
					t.Fatalf("Silence: %v", err)
				}
				record(t, e, c, result(checks.Fail, 1))
				if _, err := e.ExpireSilence(ctx, sl.ID, "carol"); err != nil {
					t.Fatalf("ExpireSilence: %v", err)
				}
				if ev := record(t, e, c, result(checks.Pass, 0)); ev.Transition.Kind != engine.Resolved || ev.Silenced {
					t.Fatalf("pass: %v silenced %v, want resolved, not silenced", ev.Transition.Kind, ev.Silenced)
				}
				if got := kinds(outbox(t, s, clk.Now(), c.ID)); len(got) != 0 {
					t.Errorf("alerts = %v, want none: nobody was told it opened", got)
				}
			})

			t.Run("a silence set to start later does not hide what happens before it starts", func(t *testing.T) {
				c := info("maintenance-later", 1, 1)
				if _, err := e.SilenceFrom(ctx, c.ID, clk.Now().Add(time.Hour), clk.Now().Add(2*time.Hour), "carol", "maintenance tonight"); err != nil {
					t.Fatalf("SilenceFrom: %v", err)
				}
				if ev := record(t, e, c, result(checks.Fail, 1)); ev.Silenced {
					t.Errorf("a failure before the silence starts is silenced")
				}
				if got := kinds(outbox(t, s, clk.Now(), c.ID)); !slices.Equal(got, []store.OutboxKind{store.OutboxOpened}) {
					t.Errorf("alerts = %v, want the incident announced", got)
				}
				if _, err := e.SilenceFrom(ctx, c.ID, clk.Now().Add(-time.Minute), clk.Now().Add(time.Hour), "carol", "backdated"); !errors.Is(err, engine.ErrInvalid) {
					t.Errorf("a silence starting in the past: error %v, want ErrInvalid", err)
				}
			})

			t.Run("an announced incident resolving under a silence stays quiet", func(t *testing.T) {
				c := info("late-silence", 1, 1)
				record(t, e, c, result(checks.Fail, 1))
				sl, err := e.Silence(ctx, c.ID, clk.Now().Add(time.Hour), "carol", "known")
				if err != nil {
					t.Fatalf("Silence: %v", err)
				}
				record(t, e, c, result(checks.Pass, 0))
				if got := kinds(outbox(t, s, clk.Now(), c.ID)); !slices.Equal(got, []store.OutboxKind{store.OutboxOpened}) {
					t.Errorf("alerts = %v, want only opened", got)
				}
				ended, err := e.ExpireSilence(ctx, sl.ID, "dave")
				if err != nil || ended.ExpiredBy != "dave" || !ended.ExpiredAt.Equal(clk.Now()) {
					t.Errorf("ExpireSilence = %+v, %v; want ended by dave now", ended, err)
				}
				if _, err := e.ExpireSilence(ctx, sl.ID, "dave"); !errors.Is(err, store.ErrConflict) {
					t.Errorf("ExpireSilence twice: error = %v, want ErrConflict", err)
				}
				if _, err := e.ExpireSilence(ctx, sl.ID+100, "dave"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("ExpireSilence(unknown): error = %v, want ErrNotFound", err)
				}
			})
		})
	}
}

// TestSilenceExpiry: a silence that runs out by itself on a check whose
// incident is still open announces it once.
func TestSilenceExpiry(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
			ctx := context.Background()
			silence := func(matcher string, d time.Duration) store.Silence {
				t.Helper()
				sl, err := e.Silence(ctx, matcher, clk.Now().Add(d), "alice", "maintenance")
				if err != nil {
					t.Fatalf("Silence: %v", err)
				}
				return sl
			}

			hidden := info("hidden", 1, 1, "team:policy")
			silence("hidden", time.Hour)
			layered := info("layered", 1, 1, "team:data")
			silence("layered", time.Hour)
			silence("team:data", 2*time.Hour)
			early := info("early", 1, 1)
			earlySilence := silence("early", time.Hour)
			fixed := info("fixed", 1, 1)
			silence("fixed", time.Hour)

			for _, c := range []engine.CheckInfo{hidden, layered, early, fixed} {
				record(t, e, c, result(checks.Fail, 3))
			}
			record(t, e, fixed, result(checks.Pass, 0)) // resolves before the silence ends
			if _, err := e.ExpireSilence(ctx, earlySilence.ID, "bob"); err != nil {
				t.Fatalf("ExpireSilence: %v", err)
			}
			if got := outbox(t, s, clk.Now(), ""); len(got) != 0 {
				t.Fatalf("alerts while silenced = %v, want none", kinds(got))
			}

			steps := []struct {
				name string
				at   time.Duration
				want map[string][]store.OutboxKind // per check, all undelivered alerts so far
			}{
				{name: "before expiry", at: 30 * time.Minute, want: map[string][]store.OutboxKind{}},
				{name: "at expiry: hidden is announced, layered is still under its tag silence", at: time.Hour,
					want: map[string][]store.OutboxKind{"hidden": {store.OutboxSilenceExpired}}},
				{name: "again: nothing new", at: time.Hour + time.Minute,
					want: map[string][]store.OutboxKind{"hidden": {store.OutboxSilenceExpired}}},
				{name: "tag silence expires", at: 3 * time.Hour,
					want: map[string][]store.OutboxKind{"hidden": {store.OutboxSilenceExpired}, "layered": {store.OutboxSilenceExpired}}},
			}
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) {
					tick(t, e, t0.Add(st.at))
					got := map[string][]store.OutboxKind{}
					for _, m := range outbox(t, s, t0.Add(st.at), "") {
						got[m.CheckID] = append(got[m.CheckID], m.Kind)
					}
					if !reflect.DeepEqual(got, st.want) {
						t.Errorf("alerts = %v, want %v", got, st.want)
					}
				})
			}

			t.Run("a restarted engine does not announce again", func(t *testing.T) {
				again := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
				if st := tick(t, again, t0.Add(4*time.Hour)); st.SilenceExpired != 0 {
					t.Errorf("Tick after restart announced %d, want 0", st.SilenceExpired)
				}
			})
			t.Run("the announced incident resolves with a message", func(t *testing.T) {
				clk.Advance(5 * time.Hour)
				record(t, e, hidden, result(checks.Pass, 0))
				if got := kinds(outbox(t, s, clk.Now(), "hidden")); !slices.Equal(got, []store.OutboxKind{store.OutboxSilenceExpired, store.OutboxResolved}) {
					t.Errorf("alerts = %v, want silence_expired then resolved", got)
				}
			})
		})
	}
}

// TestReminders: reminders repeat every RenotifyAfter until someone acks;
// an ack does not hide the recovery.
func TestReminders(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true, RenotifyAfter: 10 * time.Minute})
			ctx := context.Background()
			c := info("queue-depth", 1, 1)
			inc := record(t, e, c, result(checks.Fail, 2)).Transition.Incident
			quiet := info("quiet", 1, 1, "team:quiet")
			record(t, e, quiet, result(checks.Fail, 1))
			if _, err := e.Silence(ctx, "team:quiet", t0.Add(24*time.Hour), "zoe", "noisy, being rewritten"); err != nil {
				t.Fatalf("Silence: %v", err)
			}
			deliverAll(t, s, t0)

			steps := []struct {
				name      string
				at        time.Duration
				ack       bool
				reminders int
			}{
				{name: "too early", at: 5 * time.Minute, reminders: 0},
				{name: "after renotify_after", at: 10 * time.Minute, reminders: 1},
				{name: "counted from the reminder", at: 15 * time.Minute, reminders: 0},
				{name: "second reminder", at: 21 * time.Minute, reminders: 1},
				{name: "acked: no more", at: 40 * time.Minute, ack: true, reminders: 0},
				{name: "still acked", at: 3 * time.Hour, reminders: 0},
			}
			for _, st := range steps {
				t.Run(st.name, func(t *testing.T) {
					if st.ack {
						got, err := e.Ack(ctx, inc.ID, "alice", "on it")
						if err != nil || got.AckedBy != "alice" || got.AckNote != "on it" || !got.AckedAt.Equal(clk.Now()) {
							t.Fatalf("Ack = %+v, %v; want acked by alice now", got, err)
						}
					}
					now := t0.Add(st.at)
					if got := tick(t, e, now); got.Reminders != st.reminders {
						t.Errorf("Tick reminders = %d, want %d", got.Reminders, st.reminders)
					}
					msgs := outbox(t, s, now, "")
					if len(msgs) != st.reminders || (len(msgs) == 1 && (msgs[0].Kind != store.OutboxReminder || msgs[0].CheckID != c.ID)) {
						t.Errorf("alerts = %v, want %d reminder(s) for %s", kinds(msgs), st.reminders, c.ID)
					}
					if len(msgs) == 1 {
						m, err := engine.DecodeMessage(msgs[0].Payload)
						if err != nil || m.IncidentID != inc.ID || m.Violations != 2 || !slices.Equal(m.SampleKeys, []string{"k0", "k1"}) {
							t.Errorf("reminder = %+v, %v; want incident %d with 2 violations and sample keys", m, err, inc.ID)
						}
					}
					deliverAll(t, s, now)
				})
			}

			clk.Advance(4 * time.Hour)
			record(t, e, c, result(checks.Pass, 0))
			if got := kinds(outbox(t, s, clk.Now(), "")); !slices.Equal(got, []store.OutboxKind{store.OutboxResolved}) {
				t.Errorf("alerts after resolving an acked incident = %v, want resolved", got)
			}
			if _, err := e.Ack(ctx, inc.ID, "bob", ""); !errors.Is(err, store.ErrConflict) {
				t.Errorf("Ack on a resolved incident: error = %v, want ErrConflict", err)
			}
			if _, err := e.Ack(ctx, inc.ID+1000, "bob", ""); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Ack on an unknown incident: error = %v, want ErrNotFound", err)
			}
		})
	}
}

// TestOutboxOff: without Options.Outbox nothing is enqueued, ever.
func TestOutboxOff(t *testing.T) {
	s := openStore(t, "sqlite")
	clk := newClock()
	e := engine.New(s, nil, engine.Options{Now: clk.Now, RenotifyAfter: time.Minute})
	c := info("a", 1, 1)
	if ev := record(t, e, c, result(checks.Fail, 1)); ev.Transition.Kind != engine.Opened {
		t.Fatalf("transition = %v, want opened", ev.Transition.Kind)
	}
	if _, err := e.Silence(context.Background(), "a", t0.Add(time.Minute), "a", "b"); err != nil {
		t.Fatalf("Silence: %v", err)
	}
	tick(t, e, t0.Add(time.Hour))
	record(t, e, c, result(checks.Pass, 0))
	if n, err := s.OutboxBacklog(context.Background()); err != nil || n != 0 {
		t.Errorf("OutboxBacklog = %d, %v; want 0", n, err)
	}
}

// TestOutboxOrderPerCheck: a check's resolved alert waits behind its
// failed opened alert; other checks' alerts do not.
func TestOutboxOrderPerCheck(t *testing.T) {
	s := openStore(t, "postgres")
	clk := newClock()
	e := engine.New(s, nil, engine.Options{Now: clk.Now, Outbox: true})
	ctx := context.Background()
	a, b := info("a", 1, 1), info("b", 1, 1)
	record(t, e, a, result(checks.Fail, 1))
	record(t, e, b, result(checks.Fail, 1))
	record(t, e, a, result(checks.Pass, 0))
	msgs := outbox(t, s, clk.Now(), "")
	if len(msgs) != 3 || msgs[0].CheckID != "a" || msgs[2].Kind != store.OutboxResolved {
		t.Fatalf("outbox = %+v, want a opened, b opened, a resolved", msgs)
	}
	if err := s.MarkFailed(ctx, msgs[0].ID, clk.Now().Add(time.Minute), errors.New("slack 500")); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	got := outbox(t, s, clk.Now(), "")
	if len(got) != 1 || got[0].ID != msgs[1].ID {
		t.Errorf("after a's opened failed: %v, want b's opened only", kinds(got))
	}
	got = outbox(t, s, clk.Now().Add(time.Minute), "a")
	if !slices.Equal(kinds(got), []store.OutboxKind{store.OutboxOpened, store.OutboxResolved}) {
		t.Errorf("a's alerts at retry time = %v, want opened then resolved", kinds(got))
	}
}

type failingSink struct{ err error }

func (failingSink) Name() string                                  { return "broken" }
func (f failingSink) Observe(context.Context, engine.Event) error { return f.err }

type panickingSink struct{}

func (panickingSink) Name() string                                { return "panicky" }
func (panickingSink) Observe(context.Context, engine.Event) error { panic("nil map") }

// rendezvousSink proves sinks run concurrently: each waits until every
// rendezvous sink has started.
type rendezvousSink struct {
	name    string
	started *sync.WaitGroup
}

func (r rendezvousSink) Name() string { return r.name }

func (r rendezvousSink) Observe(ctx context.Context, _ engine.Event) error {
	r.started.Done()
	done := make(chan struct{})
	go func() { r.started.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("the other sink never started: sinks run one after another")
	}
}

func TestSinks(t *testing.T) {
	s := openStore(t, "sqlite")
	clk := newClock()
	rec := &recorder{name: "rec"}
	var started sync.WaitGroup
	started.Add(2)
	var hookCalls atomic.Int64
	e := engine.New(s, []engine.Sink{
		failingSink{errors.New("statsd: connection refused")}, panickingSink{}, rec,
		rendezvousSink{"r1", &started}, rendezvousSink{"r2", &started},
	}, engine.Options{Now: clk.Now, OnSinkError: func(string, error) { hookCalls.Add(1) }})

	ev, err := e.Record(context.Background(), info("a", 1, 1), result(checks.Fail, 1))
	if err != nil {
		t.Fatalf("Record with failing sinks: %v", err)
	}
	if ev.RunID == 0 || ev.Transition.Kind != engine.Opened {
		t.Errorf("Record = run %d, %v; want a stored run that opened an incident", ev.RunID, ev.Transition.Kind)
	}
	got := rec.Events()
	if len(got) != 1 || got[0].RunID != ev.RunID || got[0].Transition.Kind != engine.Opened || got[0].Result.Check != "a" {
		t.Errorf("recording sink saw %+v, want the run", got)
	}
	if want := map[string]int64{"broken": 1, "panicky": 1}; !reflect.DeepEqual(e.SinkErrors(), want) {
		t.Errorf("SinkErrors = %v, want %v (r1 and r2 must have run concurrently)", e.SinkErrors(), want)
	}
	if hookCalls.Load() != 2 {
		t.Errorf("OnSinkError called %d times, want 2", hookCalls.Load())
	}
}

// TestRecordAfterCancel: a run whose context ended (it timed out) is still
// recorded.
func TestRecordAfterCancel(t *testing.T) {
	s := openStore(t, "sqlite")
	e := engine.New(s, nil, engine.Options{Now: newClock().Now})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev, err := e.Record(ctx, info("slow", 1, 1), checks.Result{Status: checks.Error, Error: "run timed out"})
	if err != nil || ev.RunID == 0 {
		t.Fatalf("Record with a cancelled context = run %d, %v; want it stored", ev.RunID, err)
	}
	run, err := s.LatestResult(context.Background(), "slow")
	if err != nil || run.Error != "run timed out" || !run.StartedAt.Equal(t0) || run.Kind != "sql" {
		t.Errorf("LatestResult = %+v, %v; want the error run started at %v, kind from the check", run, err, t0)
	}
}

// TestRecordRejects: a result for another check, or no check id.
func TestRecordRejects(t *testing.T) {
	s := openStore(t, "sqlite")
	rec := &recorder{name: "rec"}
	e := engine.New(s, []engine.Sink{rec}, engine.Options{})
	for _, tt := range []struct {
		name  string
		check engine.CheckInfo
		r     checks.Result
	}{
		{name: "no id", check: engine.CheckInfo{}, r: checks.Result{Status: checks.Pass}},
		{name: "other check", check: info("a", 1, 1), r: checks.Result{Check: "b", Status: checks.Pass}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.Record(context.Background(), tt.check, tt.r); !errors.Is(err, engine.ErrInvalid) {
				t.Errorf("Record error = %v, want ErrInvalid", err)
			}
		})
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("sinks saw %d rejected runs, want 0", n)
	}
}

// TestStoreDown: when the store cannot record, Record fails but sinks still
// see the run (metrics keep flowing).
func TestStoreDown(t *testing.T) {
	s := openStore(t, "sqlite")
	rec := &recorder{name: "rec"}
	e := engine.New(s, []engine.Sink{rec}, engine.Options{})
	s.Close()
	ev, err := e.Record(context.Background(), info("a", 1, 1), result(checks.Fail, 1))
	if err == nil {
		t.Fatalf("Record on a closed store = nil error")
	}
	got := rec.Events()
	if len(got) != 1 || got[0].RunID != 0 || got[0].Transition.Kind != engine.None || ev.RunID != 0 {
		t.Errorf("sink saw %+v, want the run with RunID 0 and no transition", got)
	}
}

// TestConcurrentRecord: many checks recorded at once, and one check
// recorded from several goroutines (two replicas' run-now), end with
// consistent state: one open incident per failing check.
func TestConcurrentRecord(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			clk := newClock()
			rec := &recorder{name: "rec"}
			e := engine.New(s, []engine.Sink{rec}, engine.Options{Now: clk.Now, Outbox: true})
			ctx := context.Background()
			const checksN, runs = 6, 6
			var wg sync.WaitGroup
			for w := range checksN {
				wg.Go(func() {
					c := info(fmt.Sprintf("c%d", w), 2, 1)
					for i := range runs {
						status := checks.Fail
						if i == runs-1 && w%2 == 0 {
							status = checks.Pass
						}
						if _, err := e.Record(ctx, c, result(status, i)); err != nil {
							t.Errorf("Record: %v", err)
						}
					}
				})
			}
			same := info("shared", 1, 1)
			for range 4 {
				wg.Go(func() {
					for range 3 {
						if _, err := e.Record(ctx, same, result(checks.Fail, 1)); err != nil {
							t.Errorf("Record(shared): %v", err)
						}
					}
				})
			}
			wg.Wait()
			if n := len(rec.Events()); n != checksN*runs+12 {
				t.Errorf("sink saw %d events, want %d", n, checksN*runs+12)
			}
			for w := range checksN {
				id := fmt.Sprintf("c%d", w)
				incs, err := s.Incidents(ctx, store.IncidentQuery{CheckID: id})
				if err != nil {
					t.Fatalf("Incidents: %v", err)
				}
				wantOpen := w%2 == 1
				if len(incs) != 1 || incs[0].Open() != wantOpen {
					t.Errorf("%s: %d incidents (open %v), want 1 (open %v)", id, len(incs), len(incs) > 0 && incs[0].Open(), wantOpen)
				}
			}
			incs, err := s.Incidents(ctx, store.IncidentQuery{CheckID: "shared"})
			if err != nil || len(incs) != 1 {
				t.Errorf("shared check: %d incidents (%v), want exactly 1", len(incs), err)
			}
			st, err := s.CheckState(ctx, "shared")
			if err != nil || st.NonPass != 12 {
				t.Errorf("shared state = %+v, %v; want 12 consecutive non-pass runs", st, err)
			}
			if got := kinds(outbox(t, s, clk.Now(), "shared")); !slices.Equal(got, []store.OutboxKind{store.OutboxOpened}) {
				t.Errorf("shared alerts = %v, want one opened", got)
			}
		})
	}
}

func TestLogSink(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slogTo(&buf, &mu)
	s := openStore(t, "sqlite")
	e := engine.New(s, []engine.Sink{engine.LogSink(logger)}, engine.Options{Now: newClock().Now})
	c := info("a", 1, 1)
	record(t, e, c, result(checks.Fail, 2))
	record(t, e, c, result(checks.Pass, 0))
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{"incident opened", "check=a", "violations=2", "incident resolved"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestConcurrentTicks: replicas ticking at once announce each expiry and
// send each reminder once.
func TestConcurrentTicks(t *testing.T) {
	s := openStore(t, "postgres")
	clk := newClock()
	opts := engine.Options{Now: clk.Now, Outbox: true, RenotifyAfter: 30 * time.Minute}
	e := engine.New(s, nil, opts)
	ctx := context.Background()
	for i := range 3 {
		c := info(fmt.Sprintf("c%d", i), 1, 1)
		if _, err := e.Silence(ctx, c.ID, t0.Add(time.Hour), "alice", "maintenance"); err != nil {
			t.Fatalf("Silence: %v", err)
		}
		record(t, e, c, result(checks.Fail, 1))
	}
	tickAll := func(now time.Time) engine.TickStats {
		var total engine.TickStats
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 4 {
			replica := engine.New(s, nil, opts)
			wg.Go(func() {
				st, err := replica.Tick(ctx, now)
				if err != nil {
					t.Errorf("Tick: %v", err)
				}
				mu.Lock()
				total.SilenceExpired += st.SilenceExpired
				total.Reminders += st.Reminders
				mu.Unlock()
			})
		}
		wg.Wait()
		return total
	}
	if got := tickAll(t0.Add(time.Hour)); got.SilenceExpired != 3 {
		t.Errorf("silence expiries announced %d times, want 3", got.SilenceExpired)
	}
	if got := tickAll(t0.Add(2 * time.Hour)); got.Reminders != 3 {
		t.Errorf("reminders sent %d, want 3", got.Reminders)
	}
	msgs := outbox(t, s, t0.Add(2*time.Hour), "")
	count := map[store.OutboxKind]int{}
	for _, m := range msgs {
		count[m.Kind]++
	}
	if want := map[store.OutboxKind]int{store.OutboxSilenceExpired: 3, store.OutboxReminder: 3}; !reflect.DeepEqual(count, want) {
		t.Errorf("alerts = %v, want %v", count, want)
	}
}

// TestGroupCommitKeepsRunsApart: Records that wait while the store's
// writer is busy are committed together, and a run that cannot be stored
// (a start time PostgreSQL and SQLite cannot hold as nanoseconds) fails
// alone: every other run of its batch is recorded with its incident and
// alert, as if each had its own transaction (atomicity is per run).
func TestGroupCommitKeepsRunsApart(t *testing.T) {
	st := openStore(t, "sqlite")
	eng := engine.New(st, nil, engine.Options{Outbox: true})
	ctx := t.Context()
	// Hold the single writer, so the Records below queue up behind it.
	hold, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		id  string
		ev  engine.Event
		err error
	}
	out := make(chan outcome)
	record := func(id string, started time.Time) {
		ev, err := eng.Record(ctx, engine.CheckInfo{ID: id, Kind: "sql"}, checks.Result{Status: checks.Fail, Violations: 1, StartedAt: started})
		out <- outcome{id, ev, err}
	}
	go record("first", t0)
	time.Sleep(100 * time.Millisecond) // first leads and waits for the writer
	const n = 10
	for i := range n {
		go record(fmt.Sprintf("good-%d", i), t0)
	}
	go record("bad", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	time.Sleep(200 * time.Millisecond) // all queued behind first
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range n + 2 {
		o := <-out
		switch {
		case o.id == "bad":
			if o.err == nil {
				t.Errorf("a run with an unstorable start time was recorded: %+v", o.ev)
			}
		case o.err != nil:
			t.Errorf("%s failed with the bad run of its batch: %v", o.id, o.err)
		case o.ev.RunID == 0 || o.ev.Transition.Kind != engine.Opened:
			t.Errorf("%s: run %d, transition %v; want recorded and opened", o.id, o.ev.RunID, o.ev.Transition.Kind)
		}
	}
	msgs, err := st.OutboxBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msgs != n+1 {
		t.Errorf("%d alerts enqueued, want %d (one per recorded opening)", msgs, n+1)
	}
	if _, err := st.LatestResult(ctx, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the bad run left a stored run: %v", err)
	}
}

// TestKeyChangesAfterRunRecordedElsewhere: a passing run fixes the keys of
// the check's previous run even when that run was stored outside the
// engine (vigil run --once writes runs directly), so skipping the key
// lookup for runs without keys must not skip this one.
func TestKeyChangesAfterRunRecordedElsewhere(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			e := engine.New(s, nil, engine.Options{})
			c := info("api", 1, 1)
			record(t, e, c, result(checks.Pass, 0))
			if _, err := s.RecordResult(t.Context(), checks.Result{Check: "api", Kind: "sql", Status: checks.Fail, Violations: 2,
				Keys: []string{"k1", "k2"}, StartedAt: t0}); err != nil {
				t.Fatal(err)
			}
			ev := record(t, e, c, result(checks.Pass, 0))
			if !slices.Equal(ev.Changes.Fixed, []string{"k1", "k2"}) {
				t.Errorf("fixed = %v, want the keys of the run stored outside the engine", ev.Changes.Fixed)
			}
			ev = record(t, e, c, result(checks.Pass, 0))
			if len(ev.Changes.Fixed)+len(ev.Changes.New) != 0 {
				t.Errorf("changes after two clean runs = %+v", ev.Changes)
			}
		})
	}
}
