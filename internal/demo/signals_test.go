package demo

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/datadog"
	vsentry "github.com/vigilhq/vigil/internal/notify/sentry"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

func startTestSignals(t *testing.T) *Signals {
	t.Helper()
	s, err := startSignals(time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSignalsCaptureTheRealSinks sends through the real Datadog sink,
// Sentry client and a Slack Block Kit payload, and reads them back newest
// first.
func TestSignalsCaptureTheRealSinks(t *testing.T) {
	s := startTestSignals(t)
	check := engine.CheckInfo{ID: "quote-api", Kind: "http", Owner: "contact-center-team", Tags: []string{"team:contact-center"}, Schedule: "@every 5s", Timeout: 10 * time.Second}
	ev := engine.Event{
		Check:      check,
		Result:     checks.Result{Check: "quote-api", Kind: "http", Status: checks.Fail, Violations: 1, Sample: []checks.Violation{{Key: "http://127.0.0.1/quote", Detail: "status 504"}}},
		Transition: engine.Transition{Kind: engine.Opened, Incident: store.Incident{ID: 7, CheckID: "quote-api"}},
	}

	t.Run("datadog", func(t *testing.T) {
		dd, err := datadog.New(datadog.Options{Addr: s.DatadogAddr(), Namespace: "vigil", Tags: []string{"env:demo"}})
		if err != nil {
			t.Fatal(err)
		}
		defer dd.Close()
		if err := dd.Observe(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		if err := dd.Flush(); err != nil {
			t.Fatal(err)
		}
		want := "vigil.check.run:1|c|#env:demo,check:quote-api,kind:http,owner:contact-center-team,team:contact-center,status:fail"
		eventually(t, want, func() bool {
			for _, m := range s.Metrics(0) {
				if m.Line == want {
					return true
				}
			}
			return false
		})
	})

	t.Run("sentry", func(t *testing.T) {
		client, err := sentry.NewClient(vsentry.ClientOptions(s.SentryDSN(), "demo", s.SentryTransport()))
		if err != nil {
			t.Fatal(err)
		}
		sink := vsentry.New(client, vsentry.Options{BaseURL: "http://127.0.0.1:8080"})
		if err := sink.CheckIn(t.Context(), check, sentry.CheckInStatusInProgress); err != nil {
			t.Fatal(err)
		}
		if err := sink.Observe(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		got := s.SentryEvents(0)
		if len(got) != 1 || got[0].Type != "event" || strings.Join(got[0].Fingerprint, ",") != "quote-api" || !strings.Contains(got[0].JSON, "quote-api") {
			t.Fatalf("events = %+v, want the incident event alone", got)
		}
		// Newest first: the closing check-in, then the opening one.
		ins := s.SentryCheckIns(0)
		if len(ins) != 2 || ins[0].Type != "check_in" || ins[0].Status != "ok" || ins[0].Monitor != "quote-api" || ins[1].Status != "in_progress" {
			t.Errorf("check-ins = %+v, want ok then in_progress", ins)
		}
		if one := s.SentryCheckIns(1); len(one) != 1 || one[0].Status != "ok" {
			t.Errorf("SentryCheckIns(1) = %+v", one)
		}
	})

	t.Run("slack", func(t *testing.T) {
		for _, kind := range []store.OutboxKind{store.OutboxOpened, store.OutboxResolved} {
			body, err := slack.Render(engine.Message{Kind: kind, Check: "quote-api", CheckKind: "http", Status: checks.Fail, Violations: 1, SampleKeys: []string{"http://127.0.0.1/quote"}}, slack.Links{}).JSON()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(s.SlackWebhookURL(), "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
		}
		got := s.SlackMessages(0)
		if len(got) != 2 || got[0].Payload.Blocks[0].Text.Text != "✅ Resolved: quote-api" || !strings.Contains(got[1].JSON, "quote-api") {
			t.Fatalf("slack messages %+v", got)
		}
		resp, err := http.Post(s.SlackWebhookURL(), "application/json", strings.NewReader("not json"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(s.SlackMessages(0)) != 2 {
			t.Fatalf("a malformed payload: %d, kept %d", resp.StatusCode, len(s.SlackMessages(0)))
		}
	})

	v := s.Version()
	s.Clear()
	if s.Version() == v || len(s.Metrics(0))+len(s.SentryEvents(0))+len(s.SentryCheckIns(0))+len(s.SlackMessages(0)) != 0 {
		t.Fatal("Clear kept signals or did not change the version")
	}
}

// TestSignalsKeepTheNewest bounds what is kept.
func TestSignalsKeepTheNewest(t *testing.T) {
	s := startTestSignals(t)
	s.keep = 3
	for i := range 5 {
		s.record(&sentry.Event{Message: string(rune('a' + i))})
	}
	var got []string
	for _, e := range s.SentryEvents(0) {
		got = append(got, e.Message)
	}
	if strings.Join(got, "") != "edc" {
		t.Fatalf("kept %v, want e d c", got)
	}
}

// TestSignalsKeepEventsApartFromCheckIns: a run sends two cron check-ins,
// so a sandbox of seven checks every 5 s sends ~170 a minute; an incident
// event must still be there after far more check-ins than are kept
// (issue 14: the Signals page lost its Sentry events in the flood).
func TestSignalsKeepEventsApartFromCheckIns(t *testing.T) {
	s := startTestSignals(t)
	s.keep = 10
	s.record(&sentry.Event{Message: "Incident opened: quote-api is failing"})
	for range 100 {
		s.record(&sentry.Event{Type: "check_in", CheckIn: &sentry.CheckIn{MonitorSlug: "quote-api", Status: sentry.CheckInStatusOK}})
	}
	if ev := s.SentryEvents(0); len(ev) != 1 || ev[0].Message != "Incident opened: quote-api is failing" {
		t.Errorf("events after 100 check-ins = %+v, want the incident event", ev)
	}
	if n := len(s.SentryCheckIns(0)); n != 10 {
		t.Errorf("kept %d check-ins, want the newest 10", n)
	}
}
