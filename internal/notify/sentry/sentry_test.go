package sentry_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	gosentry "github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/sentry"
	"github.com/vigilhq/vigil/internal/store"
)

// item is one envelope item: its type and its JSON payload.
type item struct {
	Type    string
	Payload map[string]any
	Raw     string
}

// Sentry's size limits (https://docs.sentry.io/concepts/data-management/size-limits/
// and https://develop.sentry.dev/sdk/data-model/envelopes/#size-limits):
// an event above 200 KB compressed or 1 MB decompressed is rejected with
// 413 and lost.
const (
	maxCompressed   = 200 * 1000
	maxDecompressed = 1000 * 1000
)

// envelope is one request as it reached the server: its size on the wire
// (compressed when the SDK compressed it) and decompressed.
type envelope struct {
	encoding  string
	wire, raw int
	rejected  bool
}

// fakeSentry receives envelopes at /api/42/envelope/, decompressing a
// gzip Content-Encoding as Sentry does, and rejects with 413 what Sentry's
// size limits reject.
type fakeSentry struct {
	srv       *httptest.Server
	mu        sync.Mutex
	items     []item
	envelopes []envelope
}

func newFakeSentry(t *testing.T) *fakeSentry {
	t.Helper()
	f := &fakeSentry{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/42/envelope/" {
			http.NotFound(w, r)
			return
		}
		wire, _ := io.ReadAll(r.Body)
		body := wire
		switch enc := r.Header.Get("Content-Encoding"); enc {
		case "":
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(wire))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				t.Errorf("bad gzip body: %v", err)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		default:
			t.Errorf("unexpected Content-Encoding %q", enc)
			http.Error(w, "unsupported encoding", http.StatusUnsupportedMediaType)
			return
		}
		items, err := parseEnvelope(body)
		if err != nil {
			t.Errorf("bad envelope: %v\n%s", err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		env := envelope{encoding: r.Header.Get("Content-Encoding"), wire: len(wire), raw: len(body)}
		for _, it := range items {
			if it.Type == "event" && (len(it.Raw) > maxDecompressed || (env.encoding == "" && len(it.Raw) > maxCompressed)) {
				env.rejected = true
			}
		}
		env.rejected = env.rejected || env.wire > maxCompressed
		f.mu.Lock()
		f.envelopes = append(f.envelopes, env)
		if !env.rejected {
			f.items = append(f.items, items...)
		}
		f.mu.Unlock()
		if env.rejected {
			http.Error(w, `{"detail":"envelope exceeded size limits"}`, http.StatusRequestEntityTooLarge)
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSentry) takeEnvelopes() []envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.envelopes
	f.envelopes = nil
	return out
}

func parseEnvelope(body []byte) ([]item, error) {
	rd := bufio.NewReader(bytes.NewReader(body))
	if _, err := rd.ReadBytes('\n'); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var out []item
	for {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 && err != nil {
			return out, nil
		}
		var h struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if err := json.Unmarshal(line, &h); err != nil {
			return nil, fmt.Errorf("item header %q: %w", line, err)
		}
		var payload []byte
		if h.Length != nil {
			payload = make([]byte, *h.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return nil, err
			}
			rd.ReadByte() // newline
		} else {
			payload, _ = rd.ReadBytes('\n')
		}
		it := item{Type: h.Type, Raw: string(payload)}
		if err := json.Unmarshal(payload, &it.Payload); err != nil {
			return nil, fmt.Errorf("item %s: %w", h.Type, err)
		}
		out = append(out, it)
	}
}

func (f *fakeSentry) take() []item {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.items
	f.items = nil
	return out
}

func (f *fakeSentry) client(t *testing.T) *gosentry.Client {
	t.Helper()
	dsn := "http://key@" + strings.TrimPrefix(f.srv.URL, "http://") + "/42"
	c, err := gosentry.NewClient(sentry.ClientOptions(dsn, "test", gosentry.NewHTTPSyncTransport()))
	if err != nil {
		t.Fatalf("sentry client: %v", err)
	}
	return c
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

var check = engine.CheckInfo{
	ID: "missing-endorsements", Kind: "endorsements", Owner: "policy-team", Runbook: "missing-endorsements",
	Tags: []string{"team:policy"}, Schedule: "@every 5m", Timeout: 60 * time.Second,
}

func TestObserveSendsEventsAndCheckIns(t *testing.T) {
	started := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	opened := engine.Transition{Kind: engine.Opened, Incident: store.Incident{ID: 7, CheckID: check.ID, OpenedStatus: checks.Fail}}
	brokenOpen := engine.Transition{Kind: engine.Opened, Incident: store.Incident{ID: 8, CheckID: check.ID, OpenedStatus: checks.Error}}
	fail := checks.Result{Kind: "endorsements", Status: checks.Fail, Violations: 2, StartedAt: started, Duration: 1500 * time.Millisecond,
		Sample: []checks.Violation{{Key: "P-1/EN-1", Detail: "needs 1, has 0"}, {Key: "P-2/EN-1", Detail: "needs 2, has 1"}}}
	errRun := checks.Result{Kind: "endorsements", Status: checks.Error, StartedAt: started, Duration: time.Second,
		Error: "connect postgres://vigil:hunter2@db/policies: connection refused"}
	tests := []struct {
		name         string
		event        engine.Event
		fingerprints [][]string // of the events, in order
		checkIn      string
	}{
		{name: "pass: check-in only", event: engine.Event{Check: check, Result: checks.Result{Kind: "endorsements", Status: checks.Pass, StartedAt: started}}, checkIn: "ok"},
		{name: "fail without transition", event: engine.Event{Check: check, Result: fail}, checkIn: "ok"},
		{name: "fail opens incident", event: engine.Event{Check: check, Result: fail, Transition: opened}, fingerprints: [][]string{{check.ID}}, checkIn: "ok"},
		{name: "silenced incident sends no event", event: engine.Event{Check: check, Result: fail, Transition: opened, Silenced: true}, checkIn: "ok"},
		{name: "error", event: engine.Event{Check: check, Result: errRun}, fingerprints: [][]string{{check.ID, "error"}}, checkIn: "error"},
		{name: "error opens incident", event: engine.Event{Check: check, Result: errRun, Transition: brokenOpen}, fingerprints: [][]string{{check.ID, "error"}, {check.ID}}, checkIn: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSentry(t)
			s := sentry.New(f.client(t), sentry.Options{BaseURL: "https://vigil.example"})
			if err := s.Observe(context.Background(), tt.event); err != nil {
				t.Fatalf("Observe: %v", err)
			}
			var fps [][]string
			var checkIns []item
			for _, it := range f.take() {
				switch it.Type {
				case "event":
					var fp []string
					for _, v := range it.Payload["fingerprint"].([]any) {
						fp = append(fp, v.(string))
					}
					fps = append(fps, fp)
					if strings.Contains(it.Raw, "hunter2") {
						t.Errorf("event leaks the password: %s", it.Raw)
					}
					if got := path(it.Payload, "contexts", "links", "runbook"); got != "https://vigil.example/runbooks/missing-endorsements" {
						t.Errorf("runbook link %v", got)
					}
					if got := path(it.Payload, "contexts", "links", "dashboard"); got != "https://vigil.example/checks/missing-endorsements" {
						t.Errorf("dashboard link %v", got)
					}
					if got := path(it.Payload, "tags", "team"); got != "policy" {
						t.Errorf("team tag %v", got)
					}
					if len(fp) == 1 && fp[0] == check.ID && !tt.event.Transition.Incident.CheckBroken() {
						items, _ := path(it.Payload, "contexts", "sample", "items").([]any)
						if len(items) != 2 || path(items[0].(map[string]any), "key") != "P-1/EN-1" {
							t.Errorf("sample context %v", path(it.Payload, "contexts", "sample"))
						}
					}
					if len(fp) == 2 {
						if got := path(it.Payload, "exception"); !strings.Contains(fmt.Sprint(got), "postgres://vigil:xxxxx@db/policies: connection refused") {
							t.Errorf("exception %v", got)
						}
					}
				case "check_in":
					checkIns = append(checkIns, it)
				default:
					t.Errorf("unexpected item %s", it.Type)
				}
			}
			if !slices.EqualFunc(fps, tt.fingerprints, slices.Equal) {
				t.Errorf("fingerprints %v, want %v", fps, tt.fingerprints)
			}
			if len(checkIns) != 1 {
				t.Fatalf("%d check-ins, want 1", len(checkIns))
			}
			in := checkIns[0].Payload
			if in["status"] != tt.checkIn || in["monitor_slug"] != check.ID {
				t.Errorf("check-in %v", in)
			}
			if got := fmt.Sprint(path(in, "monitor_config", "schedule")); got != "map[type:interval unit:minute value:5]" {
				t.Errorf("schedule %s", got)
			}
			if got := path(in, "monitor_config", "max_runtime"); got != 2.0 {
				t.Errorf("max_runtime %v, want 2", got)
			}
		})
	}
}

func TestCheckInPairsInProgressWithResult(t *testing.T) {
	f := newFakeSentry(t)
	s := sentry.New(f.client(t), sentry.Options{})
	if err := s.CheckIn(context.Background(), check, gosentry.CheckInStatusInProgress); err != nil {
		t.Fatalf("CheckIn: %v", err)
	}
	if err := s.Observe(context.Background(), engine.Event{Check: check, Result: checks.Result{Status: checks.Pass, Duration: 2 * time.Second}}); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	items := f.take()
	if len(items) != 2 || items[0].Type != "check_in" || items[1].Type != "check_in" {
		t.Fatalf("items %v, want two check-ins", items)
	}
	start, end := items[0].Payload, items[1].Payload
	if start["status"] != "in_progress" || end["status"] != "ok" {
		t.Errorf("statuses %v then %v", start["status"], end["status"])
	}
	if start["check_in_id"] != end["check_in_id"] || start["check_in_id"] == "" {
		t.Errorf("check-in ids %v and %v, want the same", start["check_in_id"], end["check_in_id"])
	}
	if end["duration"] != 2.0 {
		t.Errorf("duration %v, want 2", end["duration"])
	}
}

func TestMonitorConfig(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		timeout  time.Duration
		want     string
	}{
		{name: "default", schedule: "", want: `{"schedule":{"type":"interval","value":5,"unit":"minute"},"checkin_margin":5}`},
		{name: "every minutes", schedule: "@every 15m", timeout: 90 * time.Second, want: `{"schedule":{"type":"interval","value":15,"unit":"minute"},"checkin_margin":5,"max_runtime":3}`},
		{name: "every seconds: 1 minute, margin 1", schedule: "@every 30s", want: `{"schedule":{"type":"interval","value":1,"unit":"minute"},"checkin_margin":1}`},
		{name: "every 90s rounds up", schedule: "@every 90s", want: `{"schedule":{"type":"interval","value":2,"unit":"minute"},"checkin_margin":5}`},
		{name: "every hours", schedule: "@every 2h", want: `{"schedule":{"type":"interval","value":2,"unit":"hour"},"checkin_margin":5}`},
		{name: "every day", schedule: "@every 24h", want: `{"schedule":{"type":"interval","value":1,"unit":"day"},"checkin_margin":5}`},
		{name: "cron", schedule: "*/10 8-18 * * 1-5", want: `{"schedule":{"type":"crontab","value":"*/10 8-18 * * 1-5"},"checkin_margin":5}`},
		{name: "cron with seconds", schedule: "0 30 * * * *", want: `{"schedule":{"type":"crontab","value":"30 * * * *"},"checkin_margin":5}`},
		{name: "descriptor", schedule: "@hourly", want: `{"schedule":{"type":"crontab","value":"0 * * * *"},"checkin_margin":5}`},
		{name: "timezone", schedule: "CRON_TZ=Europe/Paris 0 6 * * *", want: `{"schedule":{"type":"crontab","value":"0 6 * * *"},"checkin_margin":5,"timezone":"Europe/Paris"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sentry.MonitorConfig(engine.CheckInfo{ID: "c", Schedule: tt.schedule, Timeout: tt.timeout}, 5)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(cfg)
			if string(got) != tt.want {
				t.Errorf("got %s\nwant %s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"@every soon", "* * *", "@every -1m"} {
		if _, err := sentry.MonitorConfig(engine.CheckInfo{ID: "c", Schedule: bad}, 5); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
}

func TestBeforeSendScrubs(t *testing.T) {
	ev := gosentry.NewEvent()
	ev.Message = "open https://abc123@o1.ingest.sentry.io/42 failed"
	ev.Exception = []gosentry.Exception{{Value: "dial postgres://u:pw1234@db/x"}}
	ev.Tags = map[string]string{"api_token": "t0k3n", "check": "c"}
	ev.Contexts = map[string]gosentry.Context{"cfg": {"password": "hunter2", "nested": map[string]any{"url": "https://hooks.slack.com/services/T/B/XYZ"}}}
	ev.Breadcrumbs = []*gosentry.Breadcrumb{{Message: "Authorization: Bearer abcdefghijk"}}
	ev.Request = &gosentry.Request{URL: "https://vigil/x?token=abc", Headers: map[string]string{"Authorization": "Bearer zzz", "Cookie": "s=1", "Accept": "text/html"}, Cookies: "s=1"}
	out := sentry.BeforeSend(ev, nil)
	raw, _ := json.Marshal(out)
	for _, secret := range []string{"abc123", "pw1234", "t0k3n", "hunter2", "XYZ", "abcdefghijk", "zzz", "token=abc", `"s=1"`} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("secret %q survives: %s", secret, raw)
		}
	}
	if out.Tags["check"] != "c" || out.Request.Headers["Accept"] != "text/html" {
		t.Errorf("ordinary values changed: %s", raw)
	}
}

// TestIncidentEventFitsSentrySizeLimits: a check whose 60 failed rows
// carry 25 KB details each (a JSON document per row) opens an incident;
// its result's sample holds the first 50, as DESIGN's result contract says.
// Its event must reach Sentry within the documented limits (see
// maxCompressed, maxDecompressed) with each detail cut on a character
// boundary and the cut marked, rather than be rejected with 413.
func TestIncidentEventFitsSentrySizeLimits(t *testing.T) {
	f := newFakeSentry(t)
	s := sentry.New(f.client(t), sentry.Options{BaseURL: "https://vigil.example"})
	var sample []checks.Violation
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcdefghijklmnopqrstuvwxyz0123456789 €é\"{}:,")
	for i := range 60 {
		// 25 KB of random multibyte text (as little compressible as real
		// row dumps), so a byte cut would split characters.
		var b strings.Builder
		fmt.Fprintf(&b, "row %d: ", i)
		for b.Len() < 25*1000 {
			b.WriteRune(alphabet[rnd.IntN(len(alphabet))])
		}
		sample = append(sample, checks.Violation{Key: fmt.Sprintf("P-%04d", i), Detail: b.String()})
	}
	sample = sample[:50]
	ev := engine.Event{Check: check, Result: checks.Result{Kind: "endorsements", Status: checks.Fail, Violations: 60, Sample: sample, StartedAt: time.Now()},
		Transition: engine.Transition{Kind: engine.Opened, Incident: store.Incident{ID: 9, CheckID: check.ID, OpenedStatus: checks.Fail}}}
	if err := s.Observe(context.Background(), ev); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	envs := f.takeEnvelopes()
	var event *item
	for _, it := range f.take() {
		if it.Type == "event" {
			event = &it
		}
	}
	for _, e := range envs {
		t.Logf("envelope: %d bytes on the wire (%s), %d bytes decompressed", e.wire, orPlain(e.encoding), e.raw)
		if e.encoding != "gzip" || e.wire >= e.raw {
			t.Errorf("envelope sent %s, %d bytes for %d: want it gzip-compressed", orPlain(e.encoding), e.wire, e.raw)
		}
		if e.rejected {
			t.Errorf("Sentry would reject an envelope of %d bytes on the wire, %d decompressed (limits %d compressed, %d decompressed)", e.wire, e.raw, maxCompressed, maxDecompressed)
		}
	}
	if event == nil {
		t.Fatal("the incident event did not reach Sentry")
	}
	if n := len(event.Raw); n > maxDecompressed {
		t.Errorf("event is %d bytes decompressed, over %d", n, maxDecompressed)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(event.Raw))
	zw.Close()
	if gz.Len() > maxCompressed {
		t.Errorf("event is %d bytes gzip-compressed, over %d", gz.Len(), maxCompressed)
	}
	if !utf8.ValidString(event.Raw) || strings.ContainsRune(event.Raw, utf8.RuneError) {
		t.Errorf("event text was cut inside a character")
	}
	items, _ := path(event.Payload, "contexts", "sample", "items").([]any)
	if len(items) == 0 {
		t.Fatalf("sample context has no items: %v", path(event.Payload, "contexts", "sample"))
	}
	first, _ := items[0].(map[string]any)
	detail, _ := first["detail"].(string)
	if len(detail) > 1100 || !strings.Contains(detail, "… (cut ") {
		t.Errorf("first detail is %d bytes (%q…): want it cut to about 1 KB and marked", len(detail), detail[:min(len(detail), 60)])
	}
	shown, _ := path(event.Payload, "contexts", "sample", "shown").(float64)
	omitted, _ := path(event.Payload, "contexts", "sample", "omitted").(float64)
	if int(shown) != len(items) || int(shown+omitted) != len(sample) {
		t.Errorf("sample says shown %v, omitted %v for %d items of a %d-violation sample", shown, omitted, len(items), len(sample))
	}
}

func orPlain(enc string) string {
	if enc == "" {
		return "uncompressed"
	}
	return enc
}

// TestSubMinuteScheduleMonitor: a check on "@every 5s" runs for 3 minutes
// (injected clock) and then vigil stops. Sentry's rules
// (https://docs.sentry.io/product/crons/ and the SDKs' crons pages): an
// interval schedule is at least 1 minute; a monitor is missed when no
// check-in comes by the expected time plus checkin_margin (minutes, at least
// 1); Crons accepts at most 6 check-ins per minute per monitor environment
// and drops the rest. So the monitor config must declare an interval of at
// least 1 minute, the check-ins must stay within 6 a minute while arriving
// at least once per interval, and interval + margin must let Sentry notice
// the stop within about 2 minutes.
func TestSubMinuteScheduleMonitor(t *testing.T) {
	c := check
	c.Schedule, c.Timeout = "@every 5s", 5*time.Second
	cfg, err := sentry.MonitorConfig(c, sentry.DefaultCheckInMargin)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfg)
	var mc struct {
		Schedule struct {
			Type  string `json:"type"`
			Value int    `json:"value"`
			Unit  string `json:"unit"`
		} `json:"schedule"`
		Margin     int `json:"checkin_margin"`
		MaxRuntime int `json:"max_runtime"`
	}
	if err := json.Unmarshal(raw, &mc); err != nil {
		t.Fatal(err)
	}
	if mc.Schedule.Type != "interval" || mc.Schedule.Unit != "minute" || mc.Schedule.Value < 1 {
		t.Errorf("schedule %s: want an interval of at least 1 minute", raw)
	}
	if mc.Margin < 1 || mc.Schedule.Value+mc.Margin > 2 {
		t.Errorf("monitor config %s: a stopped vigil is noticed after %d minutes, want about 2", raw, mc.Schedule.Value+mc.Margin)
	}
	if mc.MaxRuntime < 1 {
		t.Errorf("max_runtime %d, want at least 1 minute", mc.MaxRuntime)
	}

	f := newFakeSentry(t)
	start := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now := start
	s := sentry.New(f.client(t), sentry.Options{Now: func() time.Time { return now }})
	var sent []time.Time // when each check-in left, by the injected clock
	open := map[any]bool{}
	for now.Before(start.Add(3 * time.Minute)) {
		if err := s.CheckIn(context.Background(), c, gosentry.CheckInStatusInProgress); err != nil {
			t.Fatalf("CheckIn: %v", err)
		}
		now = now.Add(time.Second)
		if err := s.Observe(context.Background(), engine.Event{Check: c, Result: checks.Result{Status: checks.Pass, Duration: time.Second}}); err != nil {
			t.Fatalf("Observe: %v", err)
		}
		for _, it := range f.take() {
			if it.Type != "check_in" {
				continue
			}
			sent = append(sent, now)
			switch id := it.Payload["check_in_id"]; it.Payload["status"] {
			case "in_progress":
				open[id] = true
			default:
				if !open[id] {
					t.Errorf("check-in %v closes no in_progress check-in", id)
				}
				delete(open, id)
			}
		}
		now = now.Add(4 * time.Second)
	}
	if len(sent) == 0 {
		t.Fatal("no check-in sent")
	}
	for i := range sent {
		n := 0
		for _, at := range sent[i:] {
			if at.Sub(sent[i]) < time.Minute {
				n++
			}
		}
		if n > 6 {
			t.Fatalf("%d check-ins in the minute from %s: Sentry drops those over 6", n, sent[i].Format(time.TimeOnly))
		}
	}
	for i := 1; i < len(sent); i++ {
		if gap := sent[i].Sub(sent[i-1]); gap > time.Duration(mc.Schedule.Value)*time.Minute {
			t.Errorf("no check-in for %s before %s: Sentry would count a miss while vigil runs", gap, sent[i].Format(time.TimeOnly))
		}
	}
}

// TestDSNKeyNeverInErrors: the public key of a DSN authenticates whoever
// sends events to the project, so like Alertmanager's RedactURL, vigil
// shows a DSN as scheme://xxxxx@host/project in every error and log line.
func TestDSNKeyNeverInErrors(t *testing.T) {
	const key = "abc123s3cr3tkey"
	for _, tt := range []struct{ dsn, want string }{
		{dsn: "https://" + key + "@o1.ingest.sentry.io/42", want: "https://xxxxx@o1.ingest.sentry.io/42"},
		{dsn: "https://" + key + ":legacysecret@o1.ingest.sentry.io/42", want: "https://xxxxx@o1.ingest.sentry.io/42"},
		{dsn: "https://" + key + "@o1.ingest.sentry.io:bad/42", want: "https://xxxxx@o1.ingest.sentry.io:bad/42"},
		{dsn: key + "@o1.ingest.sentry.io/42", want: "xxxxx@o1.ingest.sentry.io/42"},
	} {
		if got := sentry.RedactDSN(tt.dsn); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
	for _, dsn := range []string{"https://" + key + "@o1.ingest.sentry.io:bad/42", "ftp://" + key + "@o1.ingest.sentry.io/42", "https://" + key + "@o1.ingest.sentry.io/"} {
		_, err := sentry.NewClient(dsn, "test", nil)
		if err == nil {
			t.Errorf("NewClient(%q) accepted a malformed DSN", dsn)
			continue
		}
		if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "legacysecret") {
			t.Errorf("error quotes the key: %v", err)
		}
	}
}
