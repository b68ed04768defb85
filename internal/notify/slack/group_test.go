package slack_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

// TestBurstOfOpeningsIsGrouped: the README promises that more than 5
// openings within a minute go as one grouped message, with a grouping wait
// like Alertmanager's group_wait (https://prometheus.io/docs/alerting/latest/configuration/#route:
// "how long to initially wait to send a notification for a group of
// alerts"), no opening being held longer than that wait. Incidents open
// spread over some seconds while the worker polls every 250 ms (injected
// clock) with the default group_wait; the test counts the posts Slack
// receives and when each opening reached it.
func TestBurstOfOpeningsIsGrouped(t *testing.T) {
	tests := []struct {
		name     string
		burst    int
		over     time.Duration
		maxPosts int
	}{
		{name: "8 openings over 6 s", burst: 8, over: 6 * time.Second, maxPosts: 1},
		{name: "6 openings at once", burst: 6, maxPosts: 1},
		{name: "5 openings at once go one by one", burst: 5, maxPosts: 5},
		// Longer than group_wait: the first wait holds 5 (sent one by one),
		// then each later wait's openings join the minute's burst: grouped.
		{name: "20 openings over 40 s", burst: 20, over: 40 * time.Second, maxPosts: 5 + 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, nil)
			st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
			start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			now := start
			w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return now },
				GroupWait: config.DefaultGroupWait, Links: slack.Links{Base: "https://vigil.example"}})
			if err != nil {
				t.Fatal(err)
			}
			opens := map[string]time.Time{}
			var order []string
			for i := range tt.burst {
				at := start
				if tt.burst > 1 {
					at = start.Add(time.Duration(i) * tt.over / time.Duration(tt.burst-1))
				}
				check := fmt.Sprintf("burst-%d", i)
				opens[check] = at
				order = append(order, check)
			}
			reached := map[string]time.Time{}
			next := 0
			for ; now.Before(start.Add(tt.over + config.DefaultGroupWait + 2*time.Second)); now = now.Add(250 * time.Millisecond) {
				for next < len(order) && !opens[order[next]].After(now) {
					enqueue(t, st, order[next], store.OutboxOpened, int64(next+1), opens[order[next]])
					next++
				}
				before := len(f.delivered())
				if _, err := w.DeliverDue(context.Background()); err != nil {
					t.Fatal(err)
				}
				for check := range sent(t, f.delivered()[before:]) {
					if _, twice := reached[check]; twice {
						t.Errorf("%s reached Slack twice", check)
					}
					reached[check] = now
				}
			}
			posts := f.delivered()
			t.Logf("%d openings over %s: %d posts", tt.burst, tt.over, len(posts))
			if len(posts) > tt.maxPosts {
				var texts []string
				for _, p := range posts {
					texts = append(texts, p.Text)
				}
				t.Errorf("%d posts, want at most %d: %q", len(posts), tt.maxPosts, texts)
			}
			for _, check := range order {
				at, ok := reached[check]
				switch {
				case !ok:
					t.Errorf("%s never reached Slack", check)
				case at.Sub(opens[check]) > config.DefaultGroupWait:
					t.Errorf("%s waited %s, more than group_wait %s", check, at.Sub(opens[check]), config.DefaultGroupWait)
				}
			}
			if n, _ := st.OutboxBacklog(context.Background()); n != 0 {
				t.Errorf("%d messages left in the outbox", n)
			}
		})
	}
}

// TestHeldOpeningsAreKeptAndDrained: openings held for group_wait are still
// in the outbox (a crash loses none); a later message of the same check
// waits behind its opening; shutdown's Drain sends them without waiting
// for the rest of group_wait.
func TestHeldOpeningsAreKeptAndDrained(t *testing.T) {
	f := newFakeSlack(t, nil)
	st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	enqueue(t, st, "a", store.OutboxOpened, 1, now)
	enqueue(t, st, "a", store.OutboxResolved, 2, now)
	enqueue(t, st, "b", store.OutboxOpened, 3, now)
	w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return now }, GroupWait: config.DefaultGroupWait})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := w.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Posts != 0 || stats.Waiting != 3 || len(f.delivered()) != 0 {
		t.Errorf("stats %+v, %d posts: want all 3 waiting (resolve behind its opening)", stats, len(f.delivered()))
	}
	if n, _ := st.OutboxBacklog(context.Background()); n != 3 {
		t.Errorf("backlog %d while held, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sent(t, f.delivered())); got != "map[a:[1 2] b:[3]]" {
		t.Errorf("drained %s, want a's opening then its resolve, and b's opening", got)
	}
}
