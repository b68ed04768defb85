package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

func TestRender(t *testing.T) {
	since := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	base := engine.Message{
		Check: "missing-endorsements", CheckKind: "endorsements", Owner: "policy-team", Runbook: "missing-endorsements",
		IncidentID: 7, Status: checks.Fail, OpenedStatus: checks.Fail, Violations: 9, WorstViolations: 12,
		SampleKeys: []string{"P-1/EN-1", "P-2/EN-1", "P-3/EN-1", "P-4/EN-1", "P-5/EN-1"},
		Since:      since, OpenedAt: since.Add(10 * time.Minute), At: since.Add(10 * time.Minute),
	}
	with := func(f func(*engine.Message)) engine.Message { m := base; f(&m); return m }
	links := slack.Links{Base: "https://vigil.example/"}
	common := []string{
		`"url":"https://vigil.example/checks/missing-endorsements"`,
		`"url":"https://vigil.example/runbooks/missing-endorsements#mitigation"`,
		`"text":"*Owner*\npolicy-team"`,
		`<!date^1740823200^{date_short_pretty} {time}|2025-03-01 10:00 UTC>`,
		`incident #7`,
	}
	tests := []struct {
		name     string
		msg      engine.Message
		text     string
		contains []string
		absent   []string
	}{
		{
			name: "opened",
			msg:  with(func(m *engine.Message) { m.Kind = store.OutboxOpened }),
			text: "[vigil] opened: missing-endorsements fail, 9 violations (incident #7)",
			contains: []string{`"text":"🔴 Failing: missing-endorsements"`, `"text":"*Status*\nfail"`, `"text":"*Violations*\n9"`,
				"`P-1/EN-1`, `P-2/EN-1`, `P-3/EN-1`, `P-4/EN-1`, `P-5/EN-1` and 4 more"},
		},
		{
			name: "opened by an error",
			msg: with(func(m *engine.Message) {
				m.Kind, m.Status, m.OpenedStatus, m.CheckBroken, m.Violations, m.SampleKeys = store.OutboxOpened, checks.Error, checks.Error, true, 0, nil
				m.Error = "connect postgres://vigil:hunter2@db/x: refused <now>"
			}),
			text:     "[vigil] opened: missing-endorsements error, 0 violations (incident #7)",
			contains: []string{`🔴 Check broken: missing-endorsements`, `"text":"*Status*\nerror"`, `postgres://vigil:xxxxx@db/x: refused &lt;now&gt;`, `could not run`},
			absent:   []string{"hunter2", "*Sample*"},
		},
		{
			name: "resolved",
			msg: with(func(m *engine.Message) {
				m.Kind, m.Status, m.Violations, m.ResolvedAt = store.OutboxResolved, checks.Pass, 0, since.Add(95*time.Minute)
			}),
			text:     "[vigil] resolved: missing-endorsements passes again after 1h35m (incident #7)",
			contains: []string{`✅ Resolved: missing-endorsements`, `passes again after 1h35m`, `worst 12 violations`, `"text":"*Status*\npass"`},
			absent:   []string{"*Sample*"},
		},
		{
			name:     "reminder",
			msg:      with(func(m *engine.Message) { m.Kind, m.At = store.OutboxReminder, since.Add(4*time.Hour) }),
			text:     "[vigil] reminder: missing-endorsements still fail, 9 violations (incident #7)",
			contains: []string{`🔔 Still failing: missing-endorsements`, `failing for 4h and nobody has acknowledged it`, "`P-5/EN-1`"},
		},
		{
			name:     "silence expired",
			msg:      with(func(m *engine.Message) { m.Kind, m.AckedBy = store.OutboxSilenceExpired, "ana" }),
			text:     "[vigil] silence expired: missing-endorsements still fail, 9 violations (incident #7)",
			contains: []string{`⏰ Silence ended: missing-endorsements is still failing`, `acknowledged by ana`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := slack.Render(tt.msg, links)
			if p.Text != tt.text {
				t.Errorf("text %q, want %q", p.Text, tt.text)
			}
			raw, err := p.JSON()
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range append(tt.contains, common...) {
				if !strings.Contains(string(raw), want) {
					t.Errorf("message lacks %q:\n%s", want, raw)
				}
			}
			for _, bad := range tt.absent {
				if strings.Contains(string(raw), bad) {
					t.Errorf("message has %q:\n%s", bad, raw)
				}
			}
		})
	}
}

func TestRenderWithoutBaseURLHasNoLinks(t *testing.T) {
	p := slack.Render(engine.Message{Kind: store.OutboxOpened, Check: "c", Runbook: "c", Status: checks.Fail}, slack.Links{})
	raw, _ := json.Marshal(p)
	if strings.Contains(string(raw), `"url"`) || strings.Contains(string(raw), "actions") {
		t.Errorf("links without a base URL: %s", raw)
	}
}

func TestRetryAfterPausesTheWebhook(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Time
	}{
		{name: "seconds", header: "120", want: now.Add(120 * time.Second)},
		{name: "http date", header: now.Add(90 * time.Second).Format(http.TimeFormat), want: now.Add(90 * time.Second)},
		{name: "absent", header: "", want: now.Add(slack.DefaultRetryAfter)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, func(int, slack.Payload) (int, string, bool) {
				return http.StatusTooManyRequests, tt.header, false
			})
			st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
			first := enqueue(t, st, "a", store.OutboxOpened, 1, now)
			other := enqueue(t, st, "b", store.OutboxOpened, 2, now)
			clock := now
			w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			stats, err := w.DeliverDue(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if stats.Failed != 1 || stats.Waiting != 1 {
				t.Errorf("stats %+v, want 1 failed and 1 waiting behind the pause", stats)
			}
			m, _ := st.OutboxMessage(context.Background(), first)
			if !m.NextAttemptAt.Equal(tt.want) {
				t.Errorf("next attempt %v, want %v", m.NextAttemptAt, tt.want)
			}
			if o, _ := st.OutboxMessage(context.Background(), other); o.Attempts != 0 {
				t.Errorf("message for the paused webhook was posted (%d attempts)", o.Attempts)
			}
			clock = tt.want.Add(-time.Second)
			if stats, _ := w.DeliverDue(context.Background()); stats.Failed != 0 {
				t.Errorf("posted before Retry-After elapsed: %+v", stats)
			}
			clock = tt.want
			if _, err := w.DeliverDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			if m, _ := st.OutboxMessage(context.Background(), first); m.Attempts != 2 {
				t.Errorf("after Retry-After: %d attempts, want the first message tried again", m.Attempts)
			}
		})
	}
}
