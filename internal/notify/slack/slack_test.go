package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/store"
)

// secretPath is the part of the webhook URL that must never leak.
const secretPath = "/services/T000/B000/s3cr3tW3bh00k"

// fakeSlack is an incoming webhook. answer decides each request's fate by
// its 1-based number; delivered records the fallback text of each message
// it accepted (answered 2xx).
type fakeSlack struct {
	srv    *httptest.Server
	mu     sync.Mutex
	n      int
	answer func(n int, p slack.Payload) (status int, retryAfter string, drop bool)
	posts  []slack.Payload
}

func newFakeSlack(t testing.TB, answer func(n int, p slack.Payload) (int, string, bool)) *fakeSlack {
	t.Helper()
	f := &fakeSlack{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != secretPath || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	var p slack.Payload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.Text == "" || len(p.Blocks) == 0 {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.n++
	status, retry, drop := http.StatusOK, "", false
	if f.answer != nil {
		status, retry, drop = f.answer(f.n, p)
	}
	if status/100 == 2 && !drop {
		f.posts = append(f.posts, p)
	}
	f.mu.Unlock()
	if drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if retry != "" {
		w.Header().Set("Retry-After", retry)
	}
	w.WriteHeader(status)
	io.WriteString(w, map[bool]string{true: "ok", false: "error"}[status/100 == 2])
}

func (f *fakeSlack) url() string { return f.srv.URL + secretPath }

func (f *fakeSlack) delivered() []slack.Payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slack.Payload(nil), f.posts...)
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// enqueue adds an alert for check; its incident id is unique to the message
// and its fallback text names both ("... (incident #N)").
func enqueue(t testing.TB, st *store.Store, check string, kind store.OutboxKind, incident int64, at time.Time) int64 {
	t.Helper()
	m := engine.Message{
		Kind: kind, Check: check, CheckKind: "sql", Owner: "policy-team", Runbook: check, IncidentID: incident,
		Status: checks.Fail, OpenedStatus: checks.Fail, Violations: 2, WorstViolations: 2, SampleKeys: []string{"k1", "k2"},
		Since: at.Add(-time.Hour), OpenedAt: at, At: at,
	}
	if kind == store.OutboxResolved {
		m.Status, m.ResolvedAt = checks.Pass, at
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.EnqueueOutbox(context.Background(), store.OutboxMessage{CheckID: check, IncidentID: incident, Kind: kind, Payload: payload, CreatedAt: at})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return id
}

var (
	incidentRE  = regexp.MustCompile(`^\[vigil\] \w+: (\S+) .*\(incident #(\d+)\)$`)
	groupRE     = regexp.MustCompile(`^\[vigil\] \d+ checks started failing$`)
	groupLineRE = regexp.MustCompile(`(?m)^• \*(?:<[^|>]*\|)?([^*>]+)>?\* .* · incident #(\d+)`)
)

// sent returns, per check, the incident numbers of the delivered
// messages in the order Slack received them; a grouped message counts for
// each check it lists, in its order.
func sent(t *testing.T, ps []slack.Payload) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, p := range ps {
		pairs := [][]string{incidentRE.FindStringSubmatch(p.Text)}
		if groupRE.MatchString(p.Text) {
			pairs = nil
			for _, b := range p.Blocks {
				if b.Type == "section" && b.Text != nil {
					pairs = append(pairs, groupLineRE.FindAllStringSubmatch(b.Text.Text, -1)...)
				}
			}
		}
		if len(pairs) == 0 || pairs[0] == nil {
			t.Fatalf("unexpected message text %q", p.Text)
		}
		for _, m := range pairs {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			out[m[1]] = append(out[m[1]], n)
		}
	}
	return out
}

// queue enqueues perCheck messages for each of checks, interleaved, and
// returns the expected incident order per check.
func queue(t testing.TB, st *store.Store, checkIDs []string, perCheck int, at time.Time) map[string][]int64 {
	t.Helper()
	want := map[string][]int64{}
	var n int64
	kinds := []store.OutboxKind{store.OutboxOpened, store.OutboxReminder, store.OutboxResolved}
	for i := range perCheck {
		for _, c := range checkIDs {
			n++
			enqueue(t, st, c, kinds[i%len(kinds)], n, at)
			want[c] = append(want[c], n)
		}
	}
	return want
}

func waitDelivered(t *testing.T, st *store.Store, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n, err := st.OutboxBacklog(context.Background())
		if err != nil {
			t.Fatalf("backlog: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still undelivered after %s", n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerDeliversEachMessageOnceInOrderThroughOutages(t *testing.T) {
	tests := []struct {
		name   string
		answer func(n int, p slack.Payload) (int, string, bool)
	}{
		{name: "healthy", answer: nil},
		{name: "5xx then recovery", answer: func(n int, _ slack.Payload) (int, string, bool) {
			if n <= 4 {
				return http.StatusInternalServerError, "", false
			}
			return http.StatusOK, "", false
		}},
		{name: "429 with Retry-After seconds", answer: func(n int, _ slack.Payload) (int, string, bool) {
			if n == 2 {
				return http.StatusTooManyRequests, "1", false
			}
			return http.StatusOK, "", false
		}},
		{name: "connection drops", answer: func(n int, _ slack.Payload) (int, string, bool) {
			return http.StatusOK, "", n%3 == 0
		}},
		{name: "mixed", answer: func(n int, _ slack.Payload) (int, string, bool) {
			switch {
			case n == 1:
				return http.StatusServiceUnavailable, "", false
			case n == 3:
				return http.StatusTooManyRequests, "0", false
			case n%4 == 0:
				return http.StatusOK, "", true
			case n%5 == 0:
				return http.StatusBadGateway, "", false
			}
			return http.StatusOK, "", false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, tt.answer)
			st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
			want := queue(t, st, []string{"a", "b", "c"}, 4, time.Now())
			w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), MaxBackoff: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond,
				GroupWait: 30 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			waitDelivered(t, st, 15*time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			got := sent(t, f.delivered())
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("delivered per check %v, want %v (each once, in order)", got, want)
			}
		})
	}
}

func TestWorkerRestartLosesNothing(t *testing.T) {
	down := true
	var mu sync.Mutex
	f := newFakeSlack(t, func(int, slack.Payload) (int, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusInternalServerError, "", false
		}
		return http.StatusOK, "", false
	})
	path := filepath.Join(t.TempDir(), "vigil.db")
	st := openStore(t, path)
	want := queue(t, st, []string{"a", "b"}, 3, time.Now())

	w1, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := w1.DeliverDue(context.Background()); err != nil {
			t.Fatalf("DeliverDue: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(f.delivered()) != 0 {
		t.Fatalf("delivered during the outage: %v", f.delivered())
	}
	st.Close()

	mu.Lock()
	down = false
	mu.Unlock()
	st2 := openStore(t, path)
	w2, err := slack.NewWorker(st2, slack.Options{WebhookURL: f.url(), MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if err := w2.Drain(ctx); err != nil {
			t.Fatalf("Drain: %v", err)
		}
		if n, _ := st2.OutboxBacklog(ctx); n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond) // messages waiting for their retry time
	}
	if got := sent(t, f.delivered()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered per check %v, want %v", got, want)
	}
}

func TestRejectedMessageBacksOffAndHidesWebhook(t *testing.T) {
	f := newFakeSlack(t, func(_ int, p slack.Payload) (int, string, bool) {
		if strings.Contains(p.Text, " bad ") {
			return http.StatusBadRequest, "", false
		}
		return http.StatusOK, "", false
	})
	st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	bad := enqueue(t, st, "bad", store.OutboxOpened, 1, now)
	badLater := enqueue(t, st, "bad", store.OutboxResolved, 2, now)
	good := enqueue(t, st, "good", store.OutboxOpened, 3, now)
	var logs bytes.Buffer
	w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := w.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Delivered != 1 || stats.Failed != 1 || stats.Waiting != 1 {
		t.Errorf("stats %+v, want 1 delivered, 1 failed, 1 waiting", stats)
	}
	m, err := st.OutboxMessage(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if !m.DeliveredAt.IsZero() || !m.NextAttemptAt.Equal(now.Add(slack.DefaultRejectedBackoff)) || !strings.Contains(m.LastError, "400") {
		t.Errorf("rejected message: delivered %v, next %v, error %q", m.DeliveredAt, m.NextAttemptAt, m.LastError)
	}
	if later, _ := st.OutboxMessage(context.Background(), badLater); !later.DeliveredAt.IsZero() || later.Attempts != 0 {
		t.Errorf("a later message of the failing check was tried: %+v", later)
	}
	if g, _ := st.OutboxMessage(context.Background(), good); g.DeliveredAt.IsZero() {
		t.Errorf("the other check's message was not delivered")
	}
	for what, text := range map[string]string{"last_error": m.LastError, "log": logs.String()} {
		if strings.Contains(text, "s3cr3t") || strings.Contains(text, "B000") {
			t.Errorf("%s leaks the webhook URL: %s", what, text)
		}
	}
	if !strings.Contains(logs.String(), "message rejected") {
		t.Errorf("rejection not logged: %s", logs.String())
	}
}

func TestNetworkErrorHidesWebhook(t *testing.T) {
	f := newFakeSlack(t, nil)
	hook := f.url()
	f.srv.Close() // connection refused
	st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	id := enqueue(t, st, "a", store.OutboxOpened, 1, time.Now())
	w, err := slack.NewWorker(st, slack.Options{WebhookURL: hook})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := st.OutboxMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts != 1 || m.LastError == "" || strings.Contains(m.LastError, "s3cr3t") {
		t.Errorf("attempts %d, last error %q: want one attempt and the cause without the webhook path", m.Attempts, m.LastError)
	}
	if next := time.Until(m.NextAttemptAt); next <= 0 || next > slack.DefaultMaxBackoff {
		t.Errorf("next attempt in %v, want a backoff within (0, %v]", next, slack.DefaultMaxBackoff)
	}
}

func TestGroupsABurstOfOpenedAlerts(t *testing.T) {
	f := newFakeSlack(t, nil)
	st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 7 {
		enqueue(t, st, fmt.Sprintf("burst-%d", i), store.OutboxOpened, int64(i+1), now.Add(time.Duration(i)*5*time.Second))
	}
	enqueue(t, st, "late", store.OutboxOpened, 8, now.Add(2*time.Minute))
	enqueue(t, st, "burst-0", store.OutboxResolved, 9, now.Add(2*time.Minute))
	w, err := slack.NewWorker(st, slack.Options{WebhookURL: f.url(), Now: func() time.Time { return now.Add(3 * time.Minute) },
		Links: slack.Links{Base: "https://vigil.example"}})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := w.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Delivered != 9 || stats.Posts != 3 {
		t.Errorf("stats %+v, want 9 delivered in 3 posts", stats)
	}
	posts := f.delivered()
	if len(posts) != 3 {
		t.Fatalf("%d posts, want 3", len(posts))
	}
	group, _ := json.Marshal(posts[0])
	for i := range 7 {
		if !strings.Contains(string(group), fmt.Sprintf("https://vigil.example/checks/burst-%d|burst-%d", i, i)) {
			t.Errorf("grouped message misses burst-%d: %s", i, group)
		}
	}
	if posts[0].Text != "[vigil] 7 checks started failing" {
		t.Errorf("group text %q", posts[0].Text)
	}
	got := []string{posts[1].Text, posts[2].Text}
	want := []string{"[vigil] opened: late fail, 2 violations (incident #8)", "[vigil] resolved: burst-0 passes again after 1h (incident #9)"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("single messages %q, want %q", got, want)
	}
	if n, _ := st.OutboxBacklog(context.Background()); n != 0 {
		t.Errorf("backlog %d after the pass", n)
	}
}

func TestRoutesByOwnerAndTag(t *testing.T) {
	def, team, tagged := newFakeSlack(t, nil), newFakeSlack(t, nil), newFakeSlack(t, nil)
	st := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	now := time.Now()
	put := func(check, owner string, tags []string) {
		p, _ := json.Marshal(engine.Message{Kind: store.OutboxOpened, Check: check, Owner: owner, Tags: tags, Status: checks.Fail, IncidentID: 1, At: now})
		if _, err := st.EnqueueOutbox(context.Background(), store.OutboxMessage{CheckID: check, Kind: store.OutboxOpened, Payload: p, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	put("x", "", nil)
	put("y", "payments", nil)
	put("z", "", []string{"team:data"})
	w, err := slack.NewWorker(st, slack.Options{WebhookURL: def.url(), Routes: []slack.Route{
		{Owner: "payments", WebhookURL: team.url()}, {Tag: "team:data", WebhookURL: tagged.url()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		f     *fakeSlack
		check string
	}{"default": {def, "x"}, "owner": {team, "y"}, "tag": {tagged, "z"}} {
		ps := tc.f.delivered()
		if len(ps) != 1 || !strings.Contains(ps[0].Text, " "+tc.check+" ") {
			t.Errorf("%s webhook got %v, want the message of %s", name, ps, tc.check)
		}
	}
}

func TestNewWorkerRejectsBadWebhookWithoutQuotingIt(t *testing.T) {
	_, err := slack.NewWorker(nil, slack.Options{WebhookURL: "hooks.slack.com/services/T/B/s3cr3t"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("err = %v, want an error without the secret", err)
	}
	if _, err := slack.NewWorker(nil, slack.Options{}); err == nil {
		t.Error("no webhook accepted")
	}
}
