package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/runbook"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
)

// testRunbook covers orders-dup. Its raw HTML and javascript: link must
// never reach a page.
const testRunbook = `---
title: Duplicate orders
checks: [orders-dup]
---
# Meaning
An order was written twice.

# Impact
Customers are billed twice.

# Diagnosis
Look at the rows: <script>alert("raw")</script>

# Mitigation
Run the **dedupe** job. [unsafe](javascript:alert(1))

# Escalation
Page the orders team.
`

// dash is a dashboard over a real store, engine and scheduler, with three
// configured checks: orders-dup (team:orders, owner orders-team, runbook
// above), api-up (team:web, owner web-team) and never-ran (no runs).
type dash struct {
	*fixture
	eng   *engine.Engine
	sched *scheduler.Scheduler
	runs  chan string // a check id each time a scheduled job records a run

	mu   sync.Mutex
	gate chan struct{} // when set, jobs block on it before recording
}

func dashChecks() []config.Check {
	return []config.Check{
		{ID: "orders-dup", Kind: "duplicates", Owner: "orders-team", Tags: []string{"team:orders"}, Schedule: "@every 1h", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1},
		{ID: "api-up", Kind: "http", Owner: "web-team", Tags: []string{"team:web"}, Schedule: "@every 1h", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1},
		{ID: "never-ran", Kind: "sql", Owner: "orders-team", Tags: []string{"team:orders"}, Schedule: "@every 1h", Timeout: time.Minute, FailAfter: 1, ResolveAfter: 1},
	}
}

// newDash starts a dashboard with auth (the test users and tokens), or in
// local mode when local is true; opts, when given, change its Options
// before it is made.
func newDash(t *testing.T, local bool, opts ...func(*Options)) *dash {
	t.Helper()
	var cfg *config.Config
	if local {
		cfg = &config.Config{}
	} else {
		cfg = authConfig(t, "http://127.0.0.1:8080")
	}
	cfg.Checks = dashChecks()
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	d := &dash{runs: make(chan string, 10)}
	d.eng = engine.New(st, nil, engine.Options{Now: clk.Now})
	d.sched = scheduler.New(scheduler.Options{Now: clk.Now})
	for _, c := range cfg.Checks {
		info := engine.CheckInfo{ID: c.ID, Kind: c.Kind, Owner: c.Owner, Tags: c.Tags, FailAfter: 1, ResolveAfter: 1}
		err := d.sched.Add(scheduler.Job{ID: c.ID, Schedule: c.Schedule, Timeout: c.Timeout, Run: func(ctx context.Context) {
			d.mu.Lock()
			gate := d.gate
			d.mu.Unlock()
			if gate != nil {
				<-gate
			}
			if _, err := d.eng.Record(ctx, info, checks.Result{Status: checks.Pass}); err != nil {
				t.Errorf("record %s: %v", c.ID, err)
			}
			d.runs <- c.ID
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { d.sched.Stop(context.Background()) })
	rb, problems := runbook.Parse("orders-dup", "runbooks/orders-dup.md", []byte(testRunbook))
	if len(problems) > 0 {
		t.Fatalf("test runbook: %v", problems)
	}
	o := Options{
		Store: st, Config: cfg, Now: clk.Now, LocalUser: "tester", Engine: d.eng, Scheduler: d.sched,
		Runbooks: runbook.Set{Runbooks: map[string]runbook.Runbook{"orders-dup": rb}},
	}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d.fixture = &fixture{t: t, s: s, store: st, clock: clk}
	return d
}

// record records a run of check id through the engine, one minute after
// the previous one; keys become violations "<key>" with detail "bad <key>".
func (d *dash) record(id string, status checks.Status, keys ...string) engine.Event {
	d.t.Helper()
	d.clock.Add(time.Minute)
	var c config.Check
	for _, ch := range dashChecks() {
		if ch.ID == id {
			c = ch
		}
	}
	keys = slices.Sorted(slices.Values(keys))
	r := checks.Result{Status: status, Violations: len(keys), Keys: keys, Duration: 12 * time.Millisecond}
	for _, k := range keys {
		r.Sample = append(r.Sample, checks.Violation{Key: k, Detail: "bad " + k})
	}
	if status == checks.Error {
		r.Error = "connection refused"
	}
	ev, err := d.eng.Record(context.Background(), engine.CheckInfo{ID: id, Kind: c.Kind, Owner: c.Owner, Tags: c.Tags, FailAfter: 1, ResolveAfter: 1}, r)
	if err != nil {
		d.t.Fatalf("record %s: %v", id, err)
	}
	return ev
}

// waitRun waits for a scheduled job to record a run of id.
func (d *dash) waitRun(id string) {
	d.t.Helper()
	select {
	case got := <-d.runs:
		if got != id {
			d.t.Fatalf("ran %s, want %s", got, id)
		}
	case <-time.After(5 * time.Second):
		d.t.Fatalf("%s did not run", id)
	}
}

// api sends a JSON API request with a bearer token (none when token is
// "") and body (marshalled when not nil).
func (d *dash) api(method, target, token string, body any) response {
	d.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			d.t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req := httptest.NewRequest(method, target, r)
	req.Host = "127.0.0.1:8080"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.s.Test(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return response{Response: resp, body: string(b)}
}

// decode unmarshals r's JSON body into v, failing on a wrong status.
func dashJSON[T any](t *testing.T, r response, wantStatus int) T {
	t.Helper()
	var v T
	if r.StatusCode != wantStatus {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, wantStatus, r.body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

// Raw bearer tokens of the test config (see testTokens).
const (
	dashViewerToken   = "viewer-token-0123456789abcdef0123456789"
	dashOperatorToken = "operator-token-0123456789abcdef012345678"
)

// lastAudit returns the newest audit entry with action, failing when none.
func (d *dash) lastAudit(action string) store.AuditEntry {
	d.t.Helper()
	es := d.audit()
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Action == action {
			return es[i]
		}
	}
	d.t.Fatalf("no %q in the audit log: %+v", action, es)
	return store.AuditEntry{}
}
