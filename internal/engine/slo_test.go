package engine_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gosentry "github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	vsentry "github.com/vigilhq/vigil/internal/notify/sentry"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/slo"
	"github.com/vigilhq/vigil/internal/store"
)

// docsSLO is 99.9 % of good runs over 30 days: the error budget is 0.1 %
// of runs, so a burn rate r means r bad runs per 1000.
var docsSLO = slo.SLO{Name: "document-generation", Objective: 99.9, Window: 30 * 24 * time.Hour, WindowName: "30d", Checks: []string{"docs"}}

// history records runs of check from start, one every `every`, with the
// status statusAt(i) gives the i-th; it returns the time after the last.
func history(t *testing.T, s *store.Store, check string, start time.Time, every time.Duration, n int, statusAt func(i int) checks.Status) time.Time {
	t.Helper()
	err := s.WithTx(context.Background(), func(tx *store.Tx) error {
		for i := range n {
			if _, err := tx.RecordResult(context.Background(), checks.Result{Check: check, Kind: "sql", Status: statusAt(i), StartedAt: start.Add(time.Duration(i) * every)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	return start.Add(time.Duration(n) * every)
}

// oneIn fails every n-th run (the last of each n).
func oneIn(n int) func(int) checks.Status {
	return func(i int) checks.Status {
		if i%n == n-1 {
			return checks.Fail
		}
		return checks.Pass
	}
}

// fakeSlackHook is an incoming webhook that keeps the messages posted.
type fakeSlackHook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []slack.Payload
}

func newSlackHook(t *testing.T) *fakeSlackHook {
	f := &fakeSlackHook{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p slack.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.msgs = append(f.msgs, p)
		f.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlackHook) take() []slack.Payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.msgs
	f.msgs = nil
	return out
}

// fakeSentryProject receives envelopes at /api/1/envelope/ and keeps their
// events (https://develop.sentry.dev/sdk/envelopes/: a header line, then
// per item a header line and its payload).
type fakeSentryProject struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newSentryProject(t *testing.T) *fakeSentryProject {
	f := &fakeSentryProject{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		sc.Scan() // envelope header
		for sc.Scan() {
			var h struct{ Type string }
			if json.Unmarshal(sc.Bytes(), &h) != nil || !sc.Scan() {
				break
			}
			if h.Type == "event" {
				var ev map[string]any
				if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
					f.mu.Lock()
					f.events = append(f.events, ev)
					f.mu.Unlock()
				}
			}
		}
		io.WriteString(w, "{}")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSentryProject) take() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

// TestSLOAlertsThroughSlackAndSentry drives a 99.9 % SLO through the
// SRE workbook's alerts (https://sre.google/workbook/alerting-on-slos/):
// a slow burn opens a ticket, a fast burn escalates it to a page, and
// recovery resolves it; each step is one Slack message (through the
// outbox) and the opening and escalation one Sentry event each, however
// often the lease holder ticks.
func TestSLOAlertsThroughSlackAndSentry(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s := openStore(t, driver)
			hook, project := newSlackHook(t), newSentryProject(t)
			client, err := gosentry.NewClient(vsentry.ClientOptions("http://key@"+strings.TrimPrefix(project.srv.URL, "http://")+"/1", "test", gosentry.NewHTTPSyncTransport()))
			if err != nil {
				t.Fatal(err)
			}
			sink := vsentry.New(client, vsentry.Options{BaseURL: "https://vigil.example.com"})
			e := engine.New(s, []engine.Sink{sink}, engine.Options{Outbox: true, SLOs: []slo.SLO{docsSLO}})
			worker, err := slack.NewWorker(s, slack.Options{WebhookURL: hook.srv.URL, Links: slack.Links{Base: "https://vigil.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			deliver := func() []slack.Payload {
				t.Helper()
				if _, err := worker.DeliverDue(context.Background()); err != nil {
					t.Fatalf("deliver: %v", err)
				}
				return hook.take()
			}

			// Seven hours, a run every 6 s (600 an hour), 1 in 100 failing:
			// a burn rate of (1/100)/(1/1000) = 10 over every window. That
			// is at least 6 over 6h and 30m (ticket) but under 14.4 over
			// 1h (no page).
			start := t0
			now := history(t, s, "docs", start, 6*time.Second, 7*600, oneIn(100))
			if st := tick(t, e, now); st.SLOAlerts != 1 {
				t.Fatalf("slow burn: %d alert changes, want 1 (a ticket)", st.SLOAlerts)
			}
			msgs := deliver()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "SLO ticket: document-generation") {
				t.Fatalf("slow burn: Slack got %+v, want one ticket", msgs)
			}
			open, err := s.SLOIncidents(context.Background(), docsSLO.Name, true, 0)
			if err != nil || len(open) != 1 || open[0].Severity != "ticket" {
				t.Fatalf("open SLO incidents = %+v, %v; want one ticket", open, err)
			}
			events := project.take()
			if len(events) != 1 || events[0]["level"] != "warning" || !strings.Contains(events[0]["message"].(string), "SLO ticket: document-generation") {
				t.Fatalf("Sentry got %v, want one warning", events)
			}
			if fp, _ := json.Marshal(events[0]["fingerprint"]); string(fp) != `["slo","document-generation"]` {
				t.Errorf("fingerprint %s", fp)
			}

			// Ticking again on the same history changes nothing.
			for range 3 {
				now = now.Add(time.Second)
				if st := tick(t, e, now); st.SLOAlerts != 0 {
					t.Errorf("tick again: %d alert changes", st.SLOAlerts)
				}
			}

			// Ten minutes with every other run failing: over the last hour
			// 5 + 50 bad of 600 runs, a burn rate of 91.7; over the last
			// 5 minutes 25 of 50, 500. The ticket becomes a page.
			now = history(t, s, "docs", now, 6*time.Second, 100, oneIn(2))
			if st := tick(t, e, now); st.SLOAlerts != 1 {
				t.Fatalf("fast burn: %d alert changes, want 1 (escalation)", st.SLOAlerts)
			}
			msgs = deliver()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "SLO page: document-generation") || !strings.Contains(msgs[0].Text, "escalated") {
				t.Fatalf("fast burn: Slack got %+v, want one escalation", msgs)
			}
			if events := project.take(); len(events) != 1 || events[0]["level"] != "error" {
				t.Fatalf("Sentry got %v, want one error (page)", events)
			}

			// Recovery: every run passes. Tick every 5 minutes for 2 hours:
			// the page's 5m window clears at once, its 1h window only when
			// the bad ten minutes leave it; the ticket's 30m window clears
			// after 30 minutes. One resolution, about an hour after.
			var resolvedAt time.Time
			for range 24 {
				now = history(t, s, "docs", now, 6*time.Second, 50, func(int) checks.Status { return checks.Pass })
				if st := tick(t, e, now); st.SLOAlerts > 0 {
					if !resolvedAt.IsZero() {
						t.Errorf("a second change at %s", now)
					}
					resolvedAt = now
				}
			}
			if resolvedAt.IsZero() {
				t.Fatal("the page never resolved")
			}
			// The 1h window holds a bad run until 60 minutes after the
			// last one, then the next tick (5 minutes later) resolves.
			if after := resolvedAt.Sub(now.Add(-2 * time.Hour)); after < time.Hour || after > time.Hour+5*time.Minute {
				t.Errorf("resolved %s after the burning stopped, want within 5 minutes after an hour", after)
			}
			msgs = deliver()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "SLO recovered: document-generation") {
				t.Fatalf("recovery: Slack got %+v, want one resolution", msgs)
			}
			if events := project.take(); len(events) != 0 {
				t.Errorf("Sentry got %v on resolution, want nothing", events)
			}
			list, err := s.SLOIncidents(context.Background(), docsSLO.Name, false, 0)
			if err != nil || len(list) != 1 || list[0].Open() || list[0].Severity != "page" || list[0].EscalatedAt.IsZero() {
				t.Errorf("SLO incidents = %+v, %v; want one resolved page", list, err)
			}
		})
	}
}

// TestSLOAlertSilencedAndOutboxOff: a silence on "slo:<name>" keeps an SLO
// alert out of the outbox (and its resolution too); without the outbox
// the incidents are still kept.
func TestSLOAlertSilencedAndOutboxOff(t *testing.T) {
	for _, withOutbox := range []bool{true, false} {
		s := openStore(t, "sqlite")
		e := engine.New(s, nil, engine.Options{Outbox: withOutbox, SLOs: []slo.SLO{docsSLO}, Now: func() time.Time { return t0 }})
		now := history(t, s, "docs", t0, time.Minute, 120, func(int) checks.Status { return checks.Pass })
		if withOutbox {
			if _, err := e.Silence(context.Background(), engine.SLOMatcher(docsSLO.Name), now.Add(time.Hour), "ana", "load test"); err != nil {
				t.Fatal(err)
			}
		}
		now = history(t, s, "docs", now, time.Minute, 10, func(int) checks.Status { return checks.Error })
		if st := tick(t, e, now.Add(-time.Second)); st.SLOAlerts != 1 {
			t.Fatalf("outbox %v: %d alert changes, want 1", withOutbox, st.SLOAlerts)
		}
		now = history(t, s, "docs", now, time.Minute, 120, func(int) checks.Status { return checks.Pass })
		if st := tick(t, e, now); st.SLOAlerts != 1 {
			t.Fatalf("outbox %v: %d alert changes at recovery, want 1", withOutbox, st.SLOAlerts)
		}
		if got := outbox(t, s, now.Add(time.Hour), ""); len(got) != 0 {
			t.Errorf("outbox %v: enqueued %+v, want nothing", withOutbox, got)
		}
		list, err := s.SLOIncidents(context.Background(), "", false, 0)
		if err != nil || len(list) != 1 || list[0].Open() || list[0].Announced {
			t.Errorf("outbox %v: SLO incidents %+v, %v; want one, resolved, never announced", withOutbox, list, err)
		}
	}
}

// TestSLOAlertOnceAcrossReplicas: two replicas ticking at once (a lease
// hand-over) open one incident and enqueue one message.
func TestSLOAlertOnceAcrossReplicas(t *testing.T) {
	s := openStore(t, "postgres")
	a := engine.New(s, nil, engine.Options{Outbox: true, SLOs: []slo.SLO{docsSLO}})
	b := engine.New(s, nil, engine.Options{Outbox: true, SLOs: []slo.SLO{docsSLO}})
	now := history(t, s, "docs", t0, 6*time.Second, 700, oneIn(2))
	var wg sync.WaitGroup
	for _, e := range []*engine.Engine{a, b, a, b} {
		wg.Go(func() {
			if _, err := e.Tick(context.Background(), now); err != nil {
				t.Errorf("Tick: %v", err)
			}
		})
	}
	wg.Wait()
	if got := outbox(t, s, now, ""); len(got) != 1 || got[0].Kind != store.OutboxSLOOpened || got[0].CheckID != "slo:document-generation" {
		t.Errorf("outbox = %+v, want one slo_opened", got)
	}
	if list, err := s.SLOIncidents(context.Background(), "", false, 0); err != nil || len(list) != 1 {
		t.Errorf("SLO incidents = %+v, %v; want one", list, err)
	}
}

// TestSLOMessagePayload: the outbox carries what Slack shows.
func TestSLOMessagePayload(t *testing.T) {
	s := openStore(t, "sqlite")
	e := engine.New(s, nil, engine.Options{Outbox: true, SLOs: []slo.SLO{docsSLO}})
	now := history(t, s, "docs", t0, 6*time.Second, 700, oneIn(2))
	tick(t, e, now)
	msgs := outbox(t, s, now, "")
	if len(msgs) != 1 {
		t.Fatalf("outbox = %+v", msgs)
	}
	m, err := engine.DecodeMessage(msgs[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if m.SLO == nil || m.SLO.Severity != "page" || m.SLO.Rule != "burn rate ≥ 14.4 over 1h and 5m" || m.SLO.Window != "30d" || m.SLO.Objective != 99.9 {
		t.Errorf("message = %+v / %+v", m, m.SLO)
	}
	// Half the runs bad against a 0.1 % budget: a burn rate of 500.
	if r := m.SLO.BurnRates["1h"]; r < 499.9 || r > 500.1 {
		t.Errorf("1h burn rate %v, want 500", r)
	}
	p := slack.Render(m, slack.Links{Base: "https://vigil.example.com"})
	raw, _ := p.JSON()
	for _, want := range []string{"SLO page: document-generation", "https://vigil.example.com/slos#slo-document-generation", "1h 500×", "99.9 % over 30d"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("Slack message lacks %q: %s", want, raw)
		}
	}
}
