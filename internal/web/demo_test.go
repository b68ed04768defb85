package web

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/internal/demo"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/runbook"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/runbooks"
)

// banner is the text every page carries in demo mode.
const banner = "Training sandbox — nothing is paged."

// startSandbox starts a small real training sandbox for t (loopback
// listeners, seeded SQLite, no server attached: nothing runs the checks).
func startSandbox(t *testing.T) *demo.Sandbox {
	t.Helper()
	sb, err := demo.Start(t.Context(), demo.SandboxOptions{
		Dir: t.TempDir(), Listen: "127.0.0.1:0", Policies: 200, TrafficEvery: time.Hour,
		HashPassword: func(string) (string, error) { return "not-used-here", nil },
	})
	if err != nil {
		t.Fatalf("start the sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close the sandbox: %v", err)
		}
	})
	return sb
}

// newDemoFixture is a server with the test users and the shipped runbooks,
// in demo mode on sb (nil: not in demo mode).
func newDemoFixture(t *testing.T, sb *demo.Sandbox) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	rb, err := runbook.LoadFS(runbooks.FS, "runbooks")
	if err != nil {
		t.Fatal(err)
	}
	cfg := authConfig(t, "http://127.0.0.1:8080")
	cfg.Checks = dashChecks()
	opts := Options{Store: st, Config: cfg, Now: newClock().Now, Runbooks: rb}
	if sb != nil {
		opts.Demo = sb
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &fixture{t: t, s: s, store: st, clock: newClock()}
}

// TestDemoPagesOnlyInDemoMode: outside vigil demo the sandbox's pages and
// actions do not exist, even for an admin, and no page mentions them.
func TestDemoPagesOnlyInDemoMode(t *testing.T) {
	f := newDemoFixture(t, nil)
	alice := f.loggedIn("alice")
	tok := alice.csrf("/")
	tests := []struct {
		name, method, path string
	}{
		{name: "sandbox page", method: http.MethodGet, path: "/demo"},
		{name: "signals panel", method: http.MethodGet, path: "/demo/signals"},
		{name: "inject", method: http.MethodPost, path: "/demo/scenarios/slow-api/inject"},
		{name: "clear", method: http.MethodPost, path: "/demo/scenarios/slow-api/clear"},
		{name: "reset", method: http.MethodPost, path: "/demo/reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			if tt.method == http.MethodPost {
				form = url.Values{"_csrf": {tok}}
			}
			if r := alice.do(tt.method, tt.path, form); r.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s = %d, want 404", tt.method, tt.path, r.StatusCode)
			}
		})
	}
	for _, page := range []string{"/", "/login"} {
		body := alice.get(page).body
		if page == "/login" {
			body = f.client().get(page).body
		}
		if strings.Contains(body, "Training sandbox") || strings.Contains(body, `href="/demo`) {
			t.Errorf("%s mentions the sandbox outside demo mode", page)
		}
	}
}

// scenarioButtons are the scenario forms a /demo page offers, as
// "<scenario>/<inject|clear>".
var scenarioButtonRE = regexp.MustCompile(`action="/demo/scenarios/([a-z0-9-]+)/(inject|clear)"`)

func scenarioButtons(body string) []string {
	var out []string
	for _, m := range scenarioButtonRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+"/"+m[2])
	}
	return out
}

// TestDemoRoles: everyone sees the scenarios, what they break and which
// check should fail; only the trainer (admin) is offered Inject, Clear and
// Reset, and only the trainer's requests to them are obeyed.
func TestDemoRoles(t *testing.T) {
	sb := startSandbox(t)
	f := newDemoFixture(t, sb)
	var allInject []string
	for _, n := range demo.CatalogNames() {
		allInject = append(allInject, n+"/inject")
	}
	tests := []struct {
		name, user  string
		wantButtons []string
		wantPost    int // inject and clear
	}{
		{name: "viewer (trainee)", user: "vic", wantPost: http.StatusForbidden},
		{name: "operator (on-call)", user: "oscar", wantPost: http.StatusForbidden},
		{name: "admin (trainer)", user: "alice", wantButtons: allInject, wantPost: http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.loggedIn(tt.user)
			r := c.get("/demo")
			if r.StatusCode != http.StatusOK {
				t.Fatalf("GET /demo = %d", r.StatusCode)
			}
			for _, sc := range demo.Catalog() {
				for _, w := range []string{sc.Name, sc.Description, `href="/checks/` + sc.Check + `"`, "runbook " + sc.Runbook} {
					if !containsText(r.body, w) {
						t.Errorf("/demo lacks %q", w)
					}
				}
			}
			if got := scenarioButtons(r.body); !slices.Equal(got, tt.wantButtons) {
				t.Errorf("buttons = %q, want %q", got, tt.wantButtons)
			}
			if got, want := strings.Contains(r.body, `action="/demo/reset"`), tt.wantButtons != nil; got != want {
				t.Errorf("reset offered = %v, want %v", got, want)
			}
			tok := csrfInput.FindStringSubmatch(r.body)[1]
			for _, action := range []string{"inject", "clear"} {
				r := c.post("/demo/scenarios/slow-api/"+action, url.Values{"_csrf": {tok}})
				if r.StatusCode != tt.wantPost {
					t.Errorf("POST %s = %d, want %d", action, r.StatusCode, tt.wantPost)
				}
				if r.StatusCode == http.StatusSeeOther && r.Header.Get("Location") != "/demo?notice="+action+"ed" {
					t.Errorf("POST %s redirects to %q", action, r.Header.Get("Location"))
				}
				if action == "inject" {
					if got, want := slices.Contains(sb.Active(), "slow-api"), tt.wantPost == http.StatusSeeOther; got != want {
						t.Errorf("after POST inject slow-api is active: %v, want %v", got, want)
					}
				}
			}
			if r := c.post("/demo/reset", url.Values{"_csrf": {tok}}); r.StatusCode != tt.wantPost {
				t.Errorf("POST reset = %d, want %d", r.StatusCode, tt.wantPost)
			}
		})
	}
	var actions []string
	for _, e := range f.audit() {
		if strings.HasPrefix(e.Action, "demo-") {
			actions = append(actions, e.Actor+" "+e.Action+" "+e.Target)
		}
	}
	if want := []string{"alice demo-inject slow-api", "alice demo-clear slow-api", "alice demo-reset sandbox"}; !slices.Equal(actions, want) {
		t.Errorf("audit = %q, want %q", actions, want)
	}
}

// containsText reports whether body holds want as markup, or as text
// escaped the way html/template escapes it.
func containsText(body, want string) bool {
	esc := strings.NewReplacer("&", "&amp;", "'", "&#39;", `"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(want)
	return strings.Contains(body, want) || strings.Contains(body, esc)
}

// TestDemoActions drives the trainer's actions as the page's htmx does:
// the partial comes back with the scenario's state and its exercise;
// requests without the CSRF token, or for an unknown scenario, change
// nothing.
func TestDemoActions(t *testing.T) {
	sb := startSandbox(t)
	f := newDemoFixture(t, sb)
	alice := f.loggedIn("alice")
	tok := alice.csrf("/demo")
	hx := []string{"HX-Request", "true"}

	tests := []struct {
		name       string
		path       string
		form       url.Values
		headers    []string
		wantStatus int
		wantActive []string
		want       []string // in the body
	}{
		{name: "no CSRF token", path: "/demo/scenarios/double-write/inject", headers: hx, wantStatus: http.StatusForbidden},
		{name: "wrong CSRF token", path: "/demo/scenarios/double-write/inject", headers: []string{"HX-Request", "true", "X-CSRF-Token", "forged"}, wantStatus: http.StatusForbidden},
		{name: "unknown scenario", path: "/demo/scenarios/flood/inject", form: url.Values{"_csrf": {tok}}, wantStatus: http.StatusNotFound},
		{name: "inject with htmx", path: "/demo/scenarios/double-write/inject", headers: []string{"HX-Request", "true", "X-CSRF-Token", tok},
			wantStatus: http.StatusOK, wantActive: []string{"double-write"},
			want: []string{`<div id="demo-body"`, demoNotices["injected"], `id="exercise-double-write"`, "0 of 7 steps done",
				`action="/demo/scenarios/double-write/clear"`, `data-step="find-rows"`, "Open the failing check duplicate-documents"}},
		{name: "inject again changes nothing", path: "/demo/scenarios/double-write/inject", headers: []string{"HX-Request", "true", "X-CSRF-Token", tok},
			wantStatus: http.StatusOK, wantActive: []string{"double-write"}},
		{name: "inject a second", path: "/demo/scenarios/stale-warehouse/inject", form: url.Values{"_csrf": {tok}},
			wantStatus: http.StatusSeeOther, wantActive: []string{"double-write", "stale-warehouse"}},
		{name: "clear with htmx", path: "/demo/scenarios/double-write/clear", headers: []string{"HX-Request", "true", "X-CSRF-Token", tok},
			wantStatus: http.StatusOK, wantActive: []string{"stale-warehouse"},
			want: []string{demoNotices["cleared"], `action="/demo/scenarios/double-write/inject"`, `<span class="mark mark-fixed">cleared`}},
		{name: "reset", path: "/demo/reset", headers: []string{"HX-Request", "true", "X-CSRF-Token", tok},
			wantStatus: http.StatusOK, want: []string{demoNotices["reset"], "No scenario injected since the last reset."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := alice.post(tt.path, tt.form, tt.headers...)
			if r.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d\n%s", r.StatusCode, tt.wantStatus, r.body)
			}
			if got := sb.Active(); !slices.Equal(got, tt.wantActive) {
				t.Errorf("active scenarios %q, want %q", got, tt.wantActive)
			}
			for _, w := range tt.want {
				if !containsText(r.body, w) {
					t.Errorf("answer lacks %q\n%s", w, r.body)
				}
			}
			if tt.wantStatus == http.StatusOK && strings.Contains(r.body, "<html") {
				t.Errorf("htmx got a whole page, want the demo_exercises partial")
			}
		})
	}
}

// TestDemoViewed: the pages a user opens complete the exercise's steps;
// htmx refreshes, failed requests and anonymous visits do not count.
func TestDemoViewed(t *testing.T) {
	sb := startSandbox(t)
	f := newDemoFixture(t, sb)
	if err := sb.Inject(t.Context(), "slow-api"); err != nil {
		t.Fatal(err)
	}
	openRunbook := func() demo.Step {
		t.Helper()
		ex, err := sb.Exercises(t.Context())
		if err != nil || len(ex) != 1 {
			t.Fatalf("exercises %+v, %v", ex, err)
		}
		for _, s := range ex[0].Steps {
			if s.ID == demo.StepOpenRunbook {
				return s
			}
		}
		t.Fatalf("no %s step in %+v", demo.StepOpenRunbook, ex[0])
		return demo.Step{}
	}
	anonymous, vic := f.client(), f.loggedIn("vic")
	tests := []struct {
		name     string
		c        *client
		path     string
		headers  []string
		wantCode int
		wantBy   string // "" not done
	}{
		{name: "anonymous", c: anonymous, path: "/runbooks/api-latency", wantCode: http.StatusSeeOther},
		{name: "htmx refresh", c: vic, path: "/runbooks/api-latency", headers: []string{"HX-Request", "true"}, wantCode: http.StatusOK},
		{name: "not found", c: vic, path: "/runbooks/api-latency-nope", wantCode: http.StatusNotFound},
		{name: "another runbook", c: vic, path: "/runbooks/dlq-depth", wantCode: http.StatusOK},
		{name: "the runbook", c: vic, path: "/runbooks/api-latency?from=alert", wantCode: http.StatusOK, wantBy: "vic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := tt.c.get(tt.path, tt.headers...); r.StatusCode != tt.wantCode {
				t.Fatalf("GET %s = %d, want %d", tt.path, r.StatusCode, tt.wantCode)
			}
			s := openRunbook()
			if s.Done != (tt.wantBy != "") || s.By != tt.wantBy {
				t.Errorf("step %+v, want done by %q", s, tt.wantBy)
			}
			if s.Done && s.Evidence != "viewed /runbooks/api-latency" {
				t.Errorf("evidence %q, want the path without its query", s.Evidence)
			}
		})
	}
}

// TestDemoBanner: in demo mode every page, the login page and error pages
// included, says it is a training sandbox and links to it.
func TestDemoBanner(t *testing.T) {
	f := newDemoFixture(t, startSandbox(t))
	vic := f.loggedIn("vic")
	tests := []struct {
		name     string
		c        *client
		path     string
		wantCode int
		wantNav  bool
	}{
		{name: "login page", c: f.client(), path: "/login", wantCode: http.StatusOK},
		{name: "overview", c: vic, path: "/", wantCode: http.StatusOK, wantNav: true},
		{name: "runbook", c: vic, path: "/runbooks/api-latency", wantCode: http.StatusOK, wantNav: true},
		{name: "sandbox page", c: vic, path: "/demo", wantCode: http.StatusOK, wantNav: true},
		{name: "not found", c: vic, path: "/checks/nope", wantCode: http.StatusNotFound, wantNav: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.get(tt.path)
			if r.StatusCode != tt.wantCode {
				t.Fatalf("GET %s = %d, want %d", tt.path, r.StatusCode, tt.wantCode)
			}
			if !strings.Contains(r.body, `<p class="sandbox-banner" role="note"><strong>`+banner+`</strong>`) {
				t.Errorf("%s has no sandbox banner", tt.path)
			}
			if got := strings.Contains(r.body, `<a href="/demo"`); got != tt.wantNav {
				t.Errorf("nav link to /demo shown: %v, want %v", got, tt.wantNav)
			}
		})
	}
}

// TestDemoSignals: the panel shows what the real capture received, Slack
// messages laid out as Slack does, and an htmx poll is answered 204 until
// a new signal arrives.
func TestDemoSignals(t *testing.T) {
	sb := startSandbox(t)
	f := newDemoFixture(t, sb)
	vic := f.loggedIn("vic")
	sig := sb.Signals()
	if r := vic.get("/demo/signals"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "No Slack message yet") {
		t.Fatalf("empty panel: %d\n%s", r.StatusCode, r.body)
	}

	// What the sinks send, through the capture's real listeners.
	since := time.Date(2025, 3, 9, 11, 40, 0, 0, time.UTC)
	msg := slack.Render(engine.Message{
		Kind: store.OutboxOpened, IncidentID: 7, Check: "quote-api", CheckKind: "http", Status: "fail", Violations: 1,
		SampleKeys: []string{"http://127.0.0.1:9/quote"}, Since: since, Owner: "contact-center", Runbook: "api-latency",
	}, slack.Links{Base: "http://127.0.0.1:8080"})
	body, err := msg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sig.SlackWebhookURL(), "application/json", strings.NewReader(string(body)))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("post to the capture's webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	sb.SentryTransport().SendEvent(&sentry.Event{Level: sentry.LevelError, Message: "Incident opened: quote-api is failing",
		Fingerprint: []string{"quote-api"}, Tags: map[string]string{"check": "quote-api"}})
	sb.SentryTransport().SendEvent(&sentry.Event{Type: "check_in", CheckIn: &sentry.CheckIn{MonitorSlug: "quote-api", Status: sentry.CheckInStatusError}})
	udp, err := net.Dial("udp", sig.DatadogAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	if _, err := udp.Write([]byte("vigil.check.up:0|g|#env:demo,check:quote-api,kind:http")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(sig.Metrics(0)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the DogStatsD line did not arrive")
		}
	}

	version := strconv.FormatUint(sig.Version(), 10)
	r := vic.get("/demo/signals")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /demo/signals = %d", r.StatusCode)
	}
	for _, w := range []string{
		`<p class="slack-header">🔴 Failing: quote-api</p>`,
		`<p class="slack-text"><strong>quote-api</strong> (http) is failing.</p>`,
		`<p class="slack-field"><strong>Status</strong><br>fail</p>`,
		`<p class="slack-field"><strong>Since</strong><br><time class="slack-date">2025-03-09 11:40 UTC</time></p>`,
		`<p class="slack-text"><strong>Sample</strong><br><code class="slack-code">http://127.0.0.1:9/quote</code></p>`,
		`<a class="slack-button" href="http://127.0.0.1:8080/checks/quote-api">Open in vigil</a>`,
		`<a class="slack-button" href="http://127.0.0.1:8080/runbooks/api-latency#mitigation">Runbook</a>`,
		`<p class="slack-context"><span>vigil · incident #7</span></p>`,
		"Incident opened: quote-api is failing", "fingerprint [quote-api]",
		`<code>quote-api</code></td><td data-label="Status"><span class="checkin checkin-error">error</span>`,
		"vigil.check.up:0|g|#env:demo,check:quote-api,kind:http",
		`hx-get="/demo/signals?since=` + version + `"`,
	} {
		if !strings.Contains(r.body, w) {
			t.Errorf("panel lacks %q", w)
		}
	}

	hx := []string{"HX-Request", "true"}
	if r := vic.get("/demo/signals?since="+version, hx...); r.StatusCode != http.StatusNoContent || r.body != "" {
		t.Errorf("poll with the current version = %d %q, want 204 and nothing", r.StatusCode, r.body)
	}
	if _, err := udp.Write([]byte("vigil.check.up:1|g|#env:demo,check:quote-api,kind:http")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); strconv.FormatUint(sig.Version(), 10) == version; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second DogStatsD line did not arrive")
		}
	}
	r = vic.get("/demo/signals?since="+version, hx...)
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="signal-feed"`) ||
		!strings.Contains(r.body, "vigil.check.up:1|g") || strings.Contains(r.body, `hx-get="/demo/signals?since=`+version+`"`) {
		t.Errorf("poll after a new signal = %d, want the feed with the new line and version\n%s", r.StatusCode, r.body)
	}
}

// TestDemoExercisesErrors: when the exercises cannot be read (the store
// is gone) the page is a 500 that says nothing of why.
func TestDemoExercisesErrors(t *testing.T) {
	sb := startSandbox(t)
	f := newDemoFixture(t, sb)
	records, err := store.Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	records.Close()
	sb.Attach(records, nil)
	if err := sb.Inject(t.Context(), "slow-api"); err != nil {
		t.Fatal(err)
	}
	r := f.loggedIn("vic").get("/demo")
	if r.StatusCode != http.StatusInternalServerError || strings.Contains(r.body, "closed") {
		t.Errorf("GET /demo = %d\n%s", r.StatusCode, r.body)
	}
}

// TestSandboxTraineesAct: issue 14's trainee can finish an exercise: in the
// training sandbox a viewer may run, ack, silence and redrive the
// sandbox's checks from the dashboard (and is told that production needs
// an operator for it), while the JSON API and every production server keep
// the operator role (TestEveryActionNeedsOperator).
func TestSandboxTraineesAct(t *testing.T) {
	f := newDemoFixture(t, startSandbox(t))
	vic := f.loggedIn("vic")
	page := vic.get("/checks/orders-dup")
	for _, w := range []string{`action="/checks/orders-dup/ack"`, `action="/checks/orders-dup/run"`, `action="/silences"`,
		"In production acknowledging needs the operator role"} {
		if !strings.Contains(page.body, w) {
			t.Errorf("the trainee's check page lacks %q", w)
		}
	}
	tok := csrfInput.FindStringSubmatch(page.body)[1]
	for _, path := range []string{"/checks/orders-dup/run", "/checks/orders-dup/ack", "/silences", "/incidents/bulk"} {
		if r := vic.post(path, url.Values{"_csrf": {tok}, "matcher": {"orders-dup"}, "for": {"1h"}, "reason": {"practice"}}); r.StatusCode == http.StatusForbidden {
			t.Errorf("trainee POST %s = 403, want the sandbox to let trainees act", path)
		}
	}
	for _, path := range []string{"/api/v1/silences", "/api/v1/checks/orders-dup/run", "/api/v1/incidents/1/ack"} {
		if r := vic.post(path, url.Values{"_csrf": {tok}}, "X-CSRF-Token", tok); r.StatusCode != http.StatusForbidden {
			t.Errorf("trainee POST %s = %d, want 403: the API keeps the operator role", path, r.StatusCode)
		}
	}
	// The exercise says which steps need an operator in production.
	if r := vic.get("/demo"); r.StatusCode != 200 {
		t.Fatalf("GET /demo = %d", r.StatusCode)
	}
}
